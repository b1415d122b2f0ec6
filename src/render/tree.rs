//! A tree being rendered: every node carries the file it came from and its span there, so that
//! a rendered object still says which file and line supplied each field (docs/RENDER.md,
//! "Provenance"). Built from loaded nodes, changed by patches and transformers, and turned back
//! into a [`Node`] plus the pointers where the source file changes.

use ecow::EcoString;

use std::sync::Arc;

use crate::load::source::Span;
use crate::load::yaml::Entry;
use crate::load::{Node, Value};

pub use super::children::Children;
use super::children::Thaw;

/// A rendered list's items.
pub type Items<'a> = Children<'a, Tree<'a>>;
/// A rendered mapping's fields.
pub type Fields<'a> = Children<'a, Field<'a>>;

/// One node of a rendered tree.
#[derive(Clone, Debug, PartialEq)]
pub struct Tree<'a> {
    /// Index of the file the node came from (as the caller numbers files).
    pub file: u32,
    pub span: Span,
    pub value: TValue<'a>,
}

/// A node's value; mappings keep their order.
#[derive(Clone, Debug, PartialEq)]
pub enum TValue<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(EcoString),
    Seq(Items<'a>),
    Map(Fields<'a>),
}

/// A mapping entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Field<'a> {
    pub key: EcoString,
    /// The file the key was written in (a value a patch replaced keeps the base's key).
    pub key_file: u32,
    pub key_span: Span,
    pub value: Tree<'a>,
}

/// Where the source file of a rendered object changes: the JSON pointer of the node from which
/// on (unless a deeper entry says otherwise) its fields come from `file`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// Shared between the objects whose fields change file at the same place (a fleet's
    /// overlays give thousands of objects `/metadata/namespace` from their kustomization).
    pub pointer: Arc<str>,
    pub file: u32,
}

impl<'a> Thaw<'a> for Tree<'a> {
    type Source = Node;
    fn thaw(node: &'a Node, file: u32) -> Tree<'a> {
        Tree::from_node(node, file)
    }
}

impl<'a> Thaw<'a> for Field<'a> {
    type Source = Entry;
    fn thaw(entry: &'a Entry, file: u32) -> Field<'a> {
        let value = Tree::from_node(&entry.value, file);
        Field { key: entry.key.clone(), key_file: file, key_span: entry.key_span, value }
    }
}

impl<'a> TValue<'a> {
    /// A loaded value, every node below from `file` (lists and mappings shared).
    fn loaded(value: &'a Value, file: u32) -> TValue<'a> {
        match value {
            Value::Null => TValue::Null,
            Value::Bool(b) => TValue::Bool(*b),
            Value::Int(i) => TValue::Int(*i),
            Value::Float(f) => TValue::Float(*f),
            Value::Str(s) => TValue::Str(s.clone()),
            Value::Seq(items) => TValue::Seq(Children::loaded(items, file)),
            Value::Map(entries) => TValue::Map(Children::loaded(entries, file)),
        }
    }

    /// A plain scalar's value as YAML reads it: a number or boolean when the text is one, else
    /// the text (a null too stays text: the caller had text to place).
    #[must_use]
    pub fn typed(text: &str) -> TValue<'a> {
        if text.is_empty() {
            return TValue::Str(text.into());
        }
        let plain = saphyr_parser::ScalarStyle::Plain;
        match crate::load::yaml::resolve_scalar(std::borrow::Cow::Borrowed(text), plain, None) {
            Value::Int(i) => TValue::Int(i),
            Value::Bool(b) => TValue::Bool(b),
            Value::Float(f) => TValue::Float(f),
            _ => TValue::Str(text.into()),
        }
    }
}

impl<'a> Tree<'a> {
    /// The tree of a loaded node, every node from `file`: its lists and mappings stay the
    /// node's (shared) until the build reads or changes them.
    #[must_use]
    pub fn from_node(node: &'a Node, file: u32) -> Tree<'a> {
        Tree { file, span: node.span, value: TValue::loaded(&node.value, file) }
    }

    /// The tree of a document a build read: the loaded node's, shared with it, or one the
    /// build parsed itself, made whole (it does not outlive the build's read).
    #[must_use]
    pub fn from_read(doc: &std::borrow::Cow<'a, Node>, file: u32) -> Tree<'a> {
        match doc {
            std::borrow::Cow::Borrowed(node) => Tree::from_node(node, file),
            std::borrow::Cow::Owned(node) => Tree::owned(node, file),
        }
    }

    /// The tree of a node, every node from `file`, made whole: it borrows nothing (for nodes
    /// a build parses itself, which do not outlive it).
    #[must_use]
    pub fn owned(node: &Node, file: u32) -> Tree<'a> {
        Tree::with_files(node, &mut || file)
    }

    /// A copy for builds whose loaded nodes live shorter (a tree kept between builds, given to
    /// one): what is still loaded stays shared, as [`Clone`] leaves it.
    #[must_use]
    pub fn shortened<'b>(&self) -> Tree<'b>
    where
        'a: 'b,
    {
        let value = match &self.value {
            TValue::Null => TValue::Null,
            TValue::Bool(b) => TValue::Bool(*b),
            TValue::Int(i) => TValue::Int(*i),
            TValue::Float(f) => TValue::Float(*f),
            TValue::Str(s) => TValue::Str(s.clone()),
            TValue::Seq(items) => TValue::Seq(match items.as_loaded() {
                Some((source, file)) => Children::loaded(source, file),
                None => items.iter().map(Tree::shortened).collect(),
            }),
            TValue::Map(fields) => TValue::Map(match fields.as_loaded() {
                Some((source, file)) => Children::loaded(source, file),
                None => fields
                    .iter()
                    .map(|f| Field {
                        key: f.key.clone(),
                        key_file: f.key_file,
                        key_span: f.key_span,
                        value: f.value.shortened(),
                    })
                    .collect(),
            }),
        };
        Tree { file: self.file, span: self.span, value }
    }

    /// The tree made whole: every level still the loaded node's made into trees, so that it
    /// borrows nothing (an object kept after the build).
    #[must_use]
    pub fn into_owned(self) -> Tree<'static> {
        let value = match self.value {
            TValue::Null => TValue::Null,
            TValue::Bool(b) => TValue::Bool(b),
            TValue::Int(i) => TValue::Int(i),
            TValue::Float(f) => TValue::Float(f),
            TValue::Str(s) => TValue::Str(s),
            TValue::Seq(items) => TValue::Seq(items.into_iter().map(Tree::into_owned).collect()),
            TValue::Map(fields) => TValue::Map(
                fields
                    .into_iter()
                    .map(|f| Field {
                        key: f.key,
                        key_file: f.key_file,
                        key_span: f.key_span,
                        value: f.value.into_owned(),
                    })
                    .collect(),
            ),
        };
        Tree { file: self.file, span: self.span, value }
    }

    /// The tree of a loaded node whose nodes' files `next` gives in pre-order (see
    /// [`Placed::files`]).
    fn with_files(node: &Node, next: &mut impl FnMut() -> u32) -> Tree<'a> {
        let file = next();
        let value = match &node.value {
            Value::Null => TValue::Null,
            Value::Bool(b) => TValue::Bool(*b),
            Value::Int(i) => TValue::Int(*i),
            Value::Float(f) => TValue::Float(*f),
            Value::Str(s) => TValue::Str(s.clone()),
            Value::Seq(items) => {
                TValue::Seq(items.iter().map(|n| Tree::with_files(n, next)).collect())
            }
            Value::Map(entries) => TValue::Map(
                entries
                    .iter()
                    .map(|e| Field {
                        key: e.key.clone(),
                        key_file: next(),
                        key_span: e.key_span,
                        value: Tree::with_files(&e.value, next),
                    })
                    .collect(),
            ),
        };
        Tree { file, span: node.span, value }
    }

    /// A string a kustomization field supplies (`namespace:`, `newTag:`), at that field.
    #[must_use]
    pub fn string(text: &str, file: u32, span: Span) -> Tree<'a> {
        Tree { file, span, value: TValue::Str(text.into()) }
    }

    /// An empty mapping made where a field is needed (`metadata.labels` for a label).
    #[must_use]
    pub fn map(file: u32, span: Span) -> Tree<'a> {
        Tree { file, span, value: TValue::Map(Fields::default()) }
    }

    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            TValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A scalar's text (a number or boolean as Go prints it, null as ``); `None` for lists and
    /// mappings.
    #[must_use]
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            TValue::Str(s) => Some(s.to_string()),
            TValue::Int(i) => Some(i.to_string()),
            TValue::Float(f) => Some(f.to_string()),
            TValue::Bool(b) => Some(b.to_string()),
            TValue::Null => Some(String::new()),
            _ => None,
        }
    }

    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Tree<'a>> {
        match &self.value {
            TValue::Map(fields) => fields.iter().find(|f| f.key == key).map(|f| &f.value),
            _ => None,
        }
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Tree<'a>> {
        match &mut self.value {
            TValue::Map(fields) => fields.iter_mut().find(|f| f.key == key).map(|f| &mut f.value),
            _ => None,
        }
    }

    /// The node at a path of keys.
    #[must_use]
    pub fn at(&self, path: &[&str]) -> Option<&Tree<'a>> {
        path.iter().try_fold(self, |node, key| node.get(key))
    }

    /// A field of a kustomization's entry, as kustomize reads the entry: turned into JSON (its
    /// keys sorted) and then into its types, where a field name matches in any case
    /// (`fieldPath:` is `fieldpath:`). Of two spellings of one field, the one that sorts last
    /// is read last and wins (`fieldpath` over `FieldPath`).
    #[must_use]
    pub fn json_field(&self, key: &str) -> Option<&Tree<'a>> {
        match &self.value {
            TValue::Map(fields) => fields
                .iter()
                .filter(|f| f.key.eq_ignore_ascii_case(key))
                .max_by(|a, b| a.key.cmp(&b.key))
                .map(|f| &f.value),
            _ => None,
        }
    }

    /// [`Tree::json_field`] along a path of keys.
    #[must_use]
    pub fn json_at(&self, path: &[&str]) -> Option<&Tree<'a>> {
        path.iter().try_fold(self, |node, key| node.json_field(key))
    }

    /// Sets `key` in a mapping (keeping its place when it exists), returning the new value.
    pub fn set(&mut self, key: &str, value: Tree<'a>) -> Option<&mut Tree<'a>> {
        let TValue::Map(fields) = &mut self.value else { return None };
        let index = if let Some(i) = fields.iter().position(|f| f.key == key) {
            // A value from elsewhere (a kustomization field) is found with its key there.
            if value.file != fields[i].key_file {
                fields[i].key_file = value.file;
                fields[i].key_span = value.span;
            }
            fields[i].value = value;
            i
        } else {
            let key_span = value.span;
            fields.push(Field { key: key.into(), key_file: value.file, key_span, value });
            fields.len() - 1
        };
        Some(&mut fields[index].value)
    }

    /// The mapping under `key`, made (from `file` at `span`) when missing or not a mapping.
    pub fn map_at(&mut self, key: &str, file: u32, span: Span) -> Option<&mut Tree<'a>> {
        if !matches!(self.get(key).map(|t| &t.value), Some(TValue::Map(_))) {
            self.set(key, Tree::map(file, span));
        }
        self.get_mut(key)
    }

    /// Removes `key` from a mapping; whether it was there.
    pub fn remove(&mut self, key: &str) -> bool {
        let TValue::Map(fields) = &mut self.value else { return false };
        let before = fields.len();
        fields.retain(|f| f.key != key);
        fields.len() != before
    }

    /// The tree of a JSON value, every node from file `file` at no particular place (an object
    /// admission changes, which has no source of its own).
    #[must_use]
    pub fn from_json(v: &serde_json::Value, file: u32) -> Tree<'a> {
        use serde_json::Value as J;
        let value = match v {
            J::Null => TValue::Null,
            J::Bool(b) => TValue::Bool(*b),
            J::Number(n) => {
                n.as_i64().map_or_else(|| TValue::Float(n.as_f64().unwrap_or(0.0)), TValue::Int)
            }
            J::String(s) => TValue::Str(s.as_str().into()),
            J::Array(items) => {
                TValue::Seq(items.iter().map(|i| Tree::from_json(i, file)).collect())
            }
            J::Object(m) => TValue::Map(
                m.iter()
                    .map(|(k, v)| Field {
                        key: k.as_str().into(),
                        key_file: file,
                        key_span: Span::default(),
                        value: Tree::from_json(v, file),
                    })
                    .collect(),
            ),
        };
        Tree { file, span: Span::default(), value }
    }

    /// Converts to JSON, the form Kubernetes (and a build's expected output) has.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            TValue::Null => J::Null,
            TValue::Bool(b) => J::Bool(*b),
            TValue::Int(i) => J::from(*i),
            TValue::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            TValue::Str(s) => J::String(s.as_str().to_owned()),
            TValue::Seq(items) => J::Array(items.iter().map(Tree::to_json).collect()),
            TValue::Map(fields) => J::Object(
                fields.iter().map(|f| (f.key.as_str().to_owned(), f.value.to_json())).collect(),
            ),
        }
    }

    /// Whether the tree is `node` as loaded: every node from the root's file, at the same place,
    /// with the same value (a build that changed nothing).
    #[must_use]
    pub fn is_node(&self, node: &Node) -> bool {
        fn same(t: &Tree, n: &Node, file: u32) -> bool {
            if t.file != file || t.span != n.span {
                return false;
            }
            match (&t.value, &n.value) {
                (TValue::Null, Value::Null) => true,
                (TValue::Bool(a), Value::Bool(b)) => a == b,
                (TValue::Int(a), Value::Int(b)) => a == b,
                (TValue::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
                (TValue::Str(a), Value::Str(b)) => a == b,
                // Still the node's own children, from its file: the same without reading them.
                (TValue::Seq(a), Value::Seq(b))
                    if a.loaded_from(file).is_some_and(|s| Arc::ptr_eq(s, b)) =>
                {
                    true
                }
                (TValue::Map(a), Value::Map(b))
                    if a.loaded_from(file).is_some_and(|s| Arc::ptr_eq(s, b)) =>
                {
                    true
                }
                (TValue::Seq(a), Value::Seq(b)) => {
                    a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| same(x, y, file))
                }
                (TValue::Map(a), Value::Map(b)) => {
                    a.len() == b.len()
                        && a.iter().zip(b.iter()).all(|(f, e)| {
                            f.key == e.key
                                && f.key_file == file
                                && f.key_span == e.key_span
                                && same(&f.value, &e.value, file)
                        })
                }
                _ => false,
            }
        }
        same(self, node, self.file)
    }

    /// The loaded-node form rules read, and where the source file changes from the root's
    /// (pointers as they are in the final tree, so indexes that patches shifted are right).
    #[must_use]
    pub fn into_node(self) -> (Node, Vec<Origin>) {
        let mut origins = Vec::new();
        let file = self.file;
        let mut pointer = String::new();
        let node = convert(self, file, &mut pointer, &mut origins);
        // Kept as long as the object: no spare capacity.
        let mut exact = Vec::with_capacity(origins.len());
        exact.append(&mut origins);
        (node, exact)
    }
}

/// Converts a tree; `pointer` is the node's JSON pointer (restored on return), written out only
/// where the file changes.
fn convert(
    tree: Tree<'_>,
    parent_file: u32,
    pointer: &mut String,
    origins: &mut Vec<Origin>,
) -> Node {
    if tree.file != parent_file {
        origins.push(Origin { pointer: interned(pointer), file: tree.file });
    }
    let file = tree.file;
    // Children the build never changed, from this node's file: shared as they were loaded.
    let shared = match &tree.value {
        TValue::Seq(items) => items.loaded_from(file).map(|s| Value::Seq(Arc::clone(s))),
        TValue::Map(fields) => fields.loaded_from(file).map(|s| Value::Map(Arc::clone(s))),
        _ => None,
    };
    if let Some(value) = shared {
        return Node { span: tree.span, value };
    }
    let value = match tree.value {
        TValue::Null => Value::Null,
        TValue::Bool(b) => Value::Bool(b),
        TValue::Int(i) => Value::Int(i),
        TValue::Float(f) => Value::Float(f),
        TValue::Str(s) => Value::Str(s),
        // Others are collected into one allocation each, of their length (the iterators know
        // it): the tree's vectors and their spare capacity are not kept.
        TValue::Seq(items) => Value::Seq(
            items
                .into_iter()
                .enumerate()
                .map(|(i, t)| {
                    if !needs_pointer(t.file, &t.value, file) {
                        return convert(t, file, pointer, origins);
                    }
                    let len = pointer.len();
                    pointer.push('/');
                    pointer.push_str(itoa(i, &mut [0; 20]));
                    let node = convert(t, file, pointer, origins);
                    pointer.truncate(len);
                    node
                })
                .collect(),
        ),
        TValue::Map(fields) => Value::Map(
            fields
                .into_iter()
                .map(|f| {
                    // A key written in another file than its value (a patch replaced the value)
                    // is located at the value: `key: value` is found in the value's file.
                    let key_span =
                        if f.value.file == f.key_file { f.key_span } else { f.value.span };
                    if !needs_pointer(f.value.file, &f.value.value, file) {
                        let value = convert(f.value, file, pointer, origins);
                        return Entry { key: f.key, key_span, value };
                    }
                    let len = pointer.len();
                    push_key(pointer, &f.key);
                    let value = convert(f.value, file, pointer, origins);
                    pointer.truncate(len);
                    Entry { key: f.key, key_span, value }
                })
                .collect(),
        ),
    };
    Node { span: tree.span, value }
}

/// Whether converting a node (from `file`, with `value`, below a node from `parent_file`) can
/// need its pointer: it starts another file, or it has nodes below that may. A scalar of its
/// parent's file (most nodes) needs none, and its key is not written out.
fn needs_pointer(file: u32, value: &TValue<'_>, parent_file: u32) -> bool {
    file != parent_file || matches!(value, TValue::Seq(_) | TValue::Map(_))
}

/// Adds `/key` to a JSON pointer, escaped.
fn push_key(pointer: &mut String, key: &str) {
    pointer.push('/');
    if key.bytes().any(|b| b == b'~' || b == b'/') {
        for c in key.chars() {
            match c {
                '~' => pointer.push_str("~0"),
                '/' => pointer.push_str("~1"),
                c => pointer.push(c),
            }
        }
    } else {
        pointer.push_str(key);
    }
}

/// A loaded node with the file of each of its nodes beside it, in pre-order: the node's own,
/// then for a list each item's nodes, for a mapping each entry's key and then its value's nodes.
/// What a chart's output becomes once its spans point where each field came from: a tree
/// without building one, or the node rules read without converting one back.
#[derive(Clone, Debug)]
pub struct Placed {
    pub node: Node,
    pub files: Vec<u32>,
}

impl Placed {
    /// The file of the root node.
    #[must_use]
    pub fn file(&self) -> u32 {
        self.files.first().copied().unwrap_or(0)
    }

    /// The tree with these files.
    #[must_use]
    pub fn to_tree<'a>(&self) -> Tree<'a> {
        let mut files = self.files.iter().copied();
        Tree::with_files(&self.node, &mut || files.next().unwrap_or(0))
    }

    /// The node rules read and where its source file changes from the root's, as
    /// [`Tree::into_node`] gives them for [`Placed::to_tree`] (a key from another file than
    /// its value is located at the value), without building either.
    #[must_use]
    pub fn into_node(self) -> (Node, Vec<Origin>) {
        fn walk(
            n: &mut Node,
            (files, at): (&[u32], &mut usize),
            parent_file: u32,
            pointer: &mut String,
            origins: &mut Vec<Origin>,
        ) {
            let file = files.get(*at).copied().unwrap_or(0);
            *at += 1;
            if file != parent_file {
                origins.push(Origin { pointer: interned(pointer), file });
            }
            // Whether a node below (its file at the next place) can need its pointer, as
            // [`needs_pointer`] says of a tree's.
            let needs = |n: &Node, at: usize| {
                files.get(at).is_some_and(|&f| f != file)
                    || matches!(n.value, Value::Seq(_) | Value::Map(_))
            };
            match &mut n.value {
                Value::Seq(items) => {
                    for (i, item) in Arc::make_mut(items).iter_mut().enumerate() {
                        if !needs(item, *at) {
                            *at += 1;
                            continue;
                        }
                        let len = pointer.len();
                        pointer.push('/');
                        pointer.push_str(itoa(i, &mut [0; 20]));
                        walk(item, (files, at), file, pointer, origins);
                        pointer.truncate(len);
                    }
                }
                Value::Map(entries) => {
                    for e in Arc::make_mut(entries).iter_mut() {
                        let key_file = files.get(*at).copied().unwrap_or(0);
                        *at += 1;
                        if files.get(*at).is_some_and(|&value_file| value_file != key_file) {
                            e.key_span = e.value.span;
                        }
                        if !needs(&e.value, *at) {
                            *at += 1;
                            continue;
                        }
                        let len = pointer.len();
                        push_key(pointer, &e.key);
                        walk(&mut e.value, (files, at), file, pointer, origins);
                        pointer.truncate(len);
                    }
                }
                _ => {}
            }
        }
        let Placed { mut node, files } = self;
        debug_assert_eq!(files.len(), places(&node), "a file for each place");
        let mut origins = Vec::new();
        let root = files.first().copied().unwrap_or(0);
        walk(&mut node, (&files, &mut 0), root, &mut String::new(), &mut origins);
        origins.shrink_to_fit();
        (node, origins)
    }
}

/// The index of the first entry called `key` of the mapping `map` (at place `at` of a
/// [`Placed`]'s files), and the place of its value.
#[must_use]
pub fn entry_place(map: &Node, at: usize, key: &str) -> Option<(usize, usize)> {
    let Value::Map(entries) = &map.value else { return None };
    let mut place = at + 1;
    for (i, e) in entries.iter().enumerate() {
        if e.key == key {
            return Some((i, place + 1));
        }
        place += 1 + places(&e.value);
    }
    None
}

/// Sets `key` in the mapping `map` (at place `at` of `files`) to `value`, every node of which
/// is from `file`, as [`Tree::set`] does (a value from another file than its key's moves the key
/// there); the entry's index and the place of its value. `None` when `map` is no mapping.
pub fn set_placed(
    map: &mut Node,
    files: &mut Vec<u32>,
    at: usize,
    (key, value): (&str, Node),
    file: u32,
) -> Option<(usize, usize)> {
    let Value::Map(entries) = &mut map.value else { return None };
    let mut place = at + 1;
    let new = places(&value);
    for (i, e) in Arc::make_mut(entries).iter_mut().enumerate() {
        let old = places(&e.value);
        if e.key == key {
            if files.get(place) != Some(&file) {
                files[place] = file;
                e.key_span = value.span;
            }
            files.splice(place + 1..place + 1 + old, std::iter::repeat_n(file, new));
            e.value = value;
            return Some((i, place + 1));
        }
        place += 1 + old;
    }
    // A new entry, last: its places follow the mapping's.
    files.splice(place..place, std::iter::repeat_n(file, 1 + new));
    let mut list = entries.to_vec();
    list.push(Entry { key: key.into(), key_span: value.span, value });
    let index = list.len() - 1;
    *entries = list.into();
    Some((index, place + 1))
}

/// How many places a node has in [`Placed::files`].
#[must_use]
pub fn places(n: &Node) -> usize {
    1 + match &n.value {
        Value::Seq(items) => items.iter().map(places).sum(),
        Value::Map(entries) => entries.iter().map(|e| 1 + places(&e.value)).sum(),
        _ => 0,
    }
}

/// Most pointers a build thread keeps to share between objects.
const MAX_INTERNED: usize = 1 << 16;

/// `pointer` as an `Arc` shared with every object of the thread's builds that has one alike.
fn interned(pointer: &str) -> Arc<str> {
    use std::cell::RefCell;
    thread_local! {
        static POINTERS: RefCell<foldhash::HashSet<Arc<str>>> = RefCell::default();
    }
    POINTERS.with_borrow_mut(|seen| {
        if let Some(known) = seen.get(pointer) {
            return Arc::clone(known);
        }
        let new: Arc<str> = pointer.into();
        if seen.len() < MAX_INTERNED {
            seen.insert(Arc::clone(&new));
        }
        new
    })
}

/// A list index as text, without allocating.
pub(crate) fn itoa(mut n: usize, buf: &mut [u8; 20]) -> &str {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + u8::try_from(n % 10).unwrap_or(0);
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[at..]).unwrap_or("0")
}

/// The trees of a YAML stream, every node from file 0 (reading back what was written).
#[must_use]
pub fn parse_stream_trees<'a>(text: &str, limits: &crate::load::Limits) -> Vec<Tree<'a>> {
    let parsed = crate::load::yaml::parse_stream(text, limits);
    parsed.documents.iter().map(|d| Tree::owned(&d.root, 0)).collect()
}

/// The documents of a YAML stream, kept for the rest of the process (for tests: the trees made
/// from them share them, as a build's trees share the loaded files).
#[cfg(test)]
pub(crate) fn kept_documents(text: &str) -> &'static [crate::load::Document] {
    let parsed = crate::load::yaml::parse_stream(text, &crate::load::Limits::default());
    Vec::leak(parsed.documents)
}

/// The trees of a YAML stream, every node from file 0, made from loaded nodes as a build makes
/// them (for tests).
#[cfg(test)]
pub(crate) fn parse_trees(text: &str) -> Vec<Tree<'static>> {
    kept_documents(text).iter().map(|d| Tree::from_node(&d.root, 0)).collect()
}

/// The first document of `text` (file 0) as a tree made from the loaded node, sharing it, and
/// as one made node by node (for tests: a transformer must treat both alike).
#[cfg(test)]
pub(crate) fn loaded_and_made(text: &str) -> [Tree<'static>; 2] {
    let node = &kept_documents(text)[0].root;
    let made = Placed { files: vec![0; places(node)], node: node.clone() };
    [Tree::from_node(node, 0), made.to_tree()]
}

/// Whether a tree's list or mapping is still the loaded node's (for tests).
#[cfg(test)]
pub(crate) fn is_loaded(t: &Tree) -> bool {
    match &t.value {
        TValue::Map(fields) => fields.as_loaded().is_some(),
        TValue::Seq(items) => items.as_loaded().is_some(),
        _ => false,
    }
}

/// The file of the field at `pointer` of a rendered object whose root came from `root_file`:
/// that of the deepest origin whose pointer is a prefix of it (at a segment boundary).
#[must_use]
pub fn file_at(root_file: u32, origins: &[Origin], pointer: &str) -> u32 {
    origins
        .iter()
        .filter(|o| {
            pointer.starts_with(&*o.pointer)
                && (pointer.len() == o.pointer.len() || pointer.as_bytes()[o.pointer.len()] == b'/')
        })
        .max_by_key(|o| o.pointer.len())
        .map_or(root_file, |o| o.file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::source::Pos;

    fn tree(text: &str, file: u32) -> Tree<'static> {
        Tree::from_node(&kept_documents(text)[0].root, file)
    }

    fn node(text: &str) -> Node {
        let mut docs = crate::load::yaml::parse_stream(text, &crate::load::Limits::default());
        docs.documents.remove(0).root
    }

    const SHARED: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels: {app: web}\nspec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n      - name: app\n        image: nginx\n        env: [{name: A, value: '1'}]\n        ports: [{containerPort: 80}]\n";

    fn loaded_map<'a>(t: &Tree<'a>) -> Option<(&'a Arc<[Entry]>, u32)> {
        match &t.value {
            TValue::Map(fields) => fields.as_loaded(),
            _ => None,
        }
    }

    fn map_of(n: &Node) -> &Arc<[Entry]> {
        match &n.value {
            Value::Map(entries) => entries,
            _ => panic!("a mapping: {n:?}"),
        }
    }

    /// A tree made from a loaded node reads as the tree made node by node (what a build
    /// made before trees shared loaded nodes), and becomes the same node and origins.
    #[test]
    fn a_tree_of_a_loaded_node_is_the_tree_made_node_by_node() {
        for text in [SHARED, PLACED, "[1, [2, {a: b}], {}]\n", "just text\n"] {
            let n = node(text);
            let made = Placed { node: n.clone(), files: vec![5; places(&n)] }.to_tree();
            let shared = Tree::from_node(&n, 5);
            assert!(loaded_map(&made).is_none(), "made node by node: {text}");
            assert_eq!(shared, made, "{text}");
            assert_eq!(shared.to_json(), made.to_json(), "{text}");
            assert_eq!(shared.clone().into_node(), made.clone().into_node(), "{text}");
            assert!(shared.is_node(&n), "{text}");
            // Trees of one loaded node are equal when their files are.
            assert_eq!(Tree::from_node(&n, 5), shared, "{text}");
            if n.as_map().is_some_and(|m| !m.is_empty()) || n.as_seq().is_some() {
                assert_ne!(Tree::from_node(&n, 6).value, shared.value, "{text}");
            }
            // Under a root from another file, loaded children are not the root file's to share:
            // they are made into nodes, each with its origin, as made children are.
            let (mut moved, mut made_moved) = (shared, made);
            (moved.file, made_moved.file) = (8, 8);
            let (node, origins) = moved.into_node();
            assert_eq!((node.clone(), origins.clone()), made_moved.into_node(), "{text}");
            assert_eq!(node, n, "{text}");
            if n.as_seq().is_some() {
                assert_eq!(origins.first().map(|o| (&*o.pointer, o.file)), Some(("/0", 5)));
            }
        }
    }

    /// Reading a tree leaves it the loaded node's; changing it makes what the change walks
    /// through the build's own, and the loaded node and other trees of it stay as they were. The
    /// rendered node shares what was never changed with the loaded one.
    #[test]
    fn a_tree_shares_the_loaded_node_until_the_build_changes_it() {
        let n = node(SHARED);
        let mut t = Tree::from_node(&n, 3);
        assert_eq!(
            t.at(&["spec", "template", "spec", "containers"]).map(|c| c.span.start().line),
            Some(11)
        );
        let (root, file) = loaded_map(&t).expect("still loaded after reading");
        assert!(Arc::ptr_eq(root, map_of(&n)) && file == 3);
        let metadata = t.get("metadata").expect("metadata");
        assert_eq!((metadata.file, metadata.span.start().line), (3, 4));
        let copy = t.clone();
        assert!(loaded_map(&copy).is_some_and(|(c, _)| Arc::ptr_eq(c, map_of(&n))));

        let span = Span::new(Pos { line: 1, col: 0 }, Pos { line: 1, col: 4 });
        t.get_mut("metadata").and_then(|m| m.set("namespace", Tree::string("team", 4, span)));
        assert!(loaded_map(&t).is_none());
        assert!(loaded_map(t.get("metadata").unwrap()).is_none());
        let spec = t.get("spec").unwrap();
        assert!(loaded_map(spec)
            .is_some_and(|(s, f)| Arc::ptr_eq(s, map_of(n.get("spec").unwrap())) && f == 3));
        assert_eq!(n.at(&["metadata", "namespace"]), None);
        assert_eq!(copy.at(&["metadata", "namespace"]), None);
        assert!(copy.is_node(&n) && !t.is_node(&n));

        let (rendered, origins) = t.into_node();
        assert!(Arc::ptr_eq(map_of(rendered.get("spec").unwrap()), map_of(n.get("spec").unwrap())));
        assert!(!Arc::ptr_eq(
            map_of(rendered.get("metadata").unwrap()),
            map_of(n.get("metadata").unwrap())
        ));
        assert_eq!(rendered.at(&["metadata", "namespace"]).and_then(Node::as_str), Some("team"));
        assert_eq!(origins, vec![Origin { pointer: "/metadata/namespace".into(), file: 4 }],);
        // A subtree loaded from another file (as a patch gives it) is shared too, with its
        // origin where it starts.
        let mut t = Tree::from_node(&n, 3);
        t.set("spec", Tree::from_node(n.get("spec").unwrap(), 7));
        let (rendered, origins) = t.into_node();
        assert_eq!(origins, vec![Origin { pointer: "/spec".into(), file: 7 }]);
        assert!(Arc::ptr_eq(map_of(rendered.get("spec").unwrap()), map_of(n.get("spec").unwrap())));
    }

    /// Whether any list or mapping of a tree is still a loaded node's.
    fn any_loaded(t: &Tree<'_>) -> bool {
        is_loaded(t)
            || match &t.value {
                TValue::Seq(items) => items.iter().any(any_loaded),
                TValue::Map(fields) => fields.iter().any(|f| any_loaded(&f.value)),
                _ => false,
            }
    }

    /// A tree kept after its build (made whole) borrows nothing and is the tree it was made
    /// from; one given to a build (shortened) shares what was still loaded and copies the rest;
    /// a document a build parsed itself is made whole, one the loader read is shared.
    #[test]
    fn trees_are_made_whole_or_shortened_without_changing_them() {
        use std::borrow::Cow;
        let n = node(SHARED);
        let mut t = Tree::from_node(&n, 3);
        let span = Span::new(Pos { line: 1, col: 0 }, Pos { line: 1, col: 4 });
        t.get_mut("metadata").and_then(|m| m.set("namespace", Tree::string("team", 4, span)));
        let whole: Tree<'static> = t.clone().into_owned();
        assert!(any_loaded(&t) && !any_loaded(&whole));
        assert_eq!(whole.shortened(), t);
        assert_eq!(whole.clone().into_node(), t.clone().into_node());

        let short = t.shortened();
        assert_eq!(short, t);
        let spec = short.get("spec").expect("spec");
        assert!(loaded_map(spec)
            .is_some_and(|(s, f)| Arc::ptr_eq(s, map_of(n.get("spec").unwrap())) && f == 3));
        assert!(loaded_map(short.get("metadata").unwrap()).is_none());
        assert_eq!(short.into_node(), t.clone().into_node());

        let read = Tree::from_read(&Cow::Borrowed(&n), 3);
        assert!(loaded_map(&read).is_some_and(|(s, _)| Arc::ptr_eq(s, map_of(&n))));
        let parsed = Tree::from_read(&Cow::Owned(n.clone()), 3);
        assert!(!any_loaded(&parsed));
        assert_eq!(parsed, read);
        assert!(parsed.is_node(&n));
    }

    /// Placed objects with files in several patterns: all one file, a file per place, files
    /// switching every few places (keys and their values apart, whole subtrees alike).
    fn placed_variants(text: &str) -> Vec<Placed> {
        let n = node(text);
        let count = places(&n);
        let patterns: [&dyn Fn(usize) -> u32; 5] = [
            &|_| 0,
            &|i| u32::try_from(i).unwrap_or(0),
            &|i| u32::from(i % 3 == 1),
            &|i| u32::from(i % 5 >= 2) * 7,
            &|i| u32::from(i >= count / 2),
        ];
        patterns
            .iter()
            .map(|f| Placed { node: n.clone(), files: (0..count).map(f).collect() })
            .collect()
    }

    const PLACED: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n  \
        labels: {a/b: x, c~d: y}\ndata:\n  k: v\nlist:\n- 1\n- [2, {e: 3}]\n- {}\nempty: []\n";

    /// A placed object becomes the node and origins its tree would, for files in any pattern:
    /// the walk that skips scalars of their parent's file and their keys' pointers misses no
    /// origin and moves no key.
    #[test]
    fn placed_objects_convert_as_their_trees_do() {
        for placed in placed_variants(PLACED) {
            let tree = placed.to_tree();
            assert_eq!(tree.file, placed.file());
            let (want_node, want_origins) = tree.into_node();
            let (node, origins) = placed.into_node();
            assert_eq!(node, want_node);
            assert_eq!(origins, want_origins);
        }
        // Every place is read: a tree of a node has one file per place.
        let n = node(PLACED);
        let tree = Placed { node: n.clone(), files: vec![3; places(&n)] }.to_tree();
        assert_eq!(tree, Tree::from_node(&n, 3));
    }

    /// Setting an entry of a placed mapping changes its tree as setting it in the tree does:
    /// a new key, a key whose value is replaced (from the same or another file), at the root
    /// and in a nested mapping.
    #[test]
    fn setting_a_placed_entry_is_setting_it_in_the_tree() {
        let span = Span::new(Pos { line: 9, col: 2 }, Pos { line: 9, col: 8 });
        let values = || {
            [
                Node { span, value: Value::Str("ns".into()) },
                Node { span, value: Value::Map(Arc::default()) },
                node("{x: [1, 2], y: z}"),
            ]
        };
        for placed in placed_variants(PLACED) {
            for (key, i) in [("metadata", 0), ("data", 1), ("list", 2), ("new", 0), ("kind", 2)] {
                for file in [0, 1, 9] {
                    let value = values()[i].clone();
                    let mut tree = placed.to_tree();
                    tree.set(
                        key,
                        Placed { files: vec![file; places(&value)], node: value.clone() }.to_tree(),
                    );
                    let mut p = placed.clone();
                    let (index, at) = set_placed(&mut p.node, &mut p.files, 0, (key, value), file)
                        .expect("a mapping");
                    assert_eq!(p.files.len(), places(&p.node));
                    assert_eq!(p.to_tree(), tree, "{key} from {file}");
                    assert_eq!(p.node.as_map().unwrap()[index].key, key);
                    assert_eq!(entry_place(&p.node, 0, key).map(|(_, a)| a), Some(at));
                }
            }
            // In a nested mapping: `metadata` is at its own place.
            let mut p = placed.clone();
            let (i, at) = entry_place(&p.node, 0, "metadata").unwrap();
            let mut tree = p.to_tree();
            let value = Node { span, value: Value::Str("ns".into()) };
            tree.get_mut("metadata").unwrap().set("namespace", Tree::string("ns", 4, span));
            let Value::Map(entries) = &mut p.node.value else { panic!("a mapping") };
            set_placed(
                &mut Arc::make_mut(entries)[i].value,
                &mut p.files,
                at,
                ("namespace", value),
                4,
            )
            .unwrap();
            assert_eq!(p.to_tree(), tree);
        }
        let mut scalar = Placed { node: node("just text"), files: vec![0] };
        let value = Node { span, value: Value::Null };
        assert!(set_placed(&mut scalar.node, &mut scalar.files, 0, ("k", value), 0).is_none());
    }

    #[test]
    fn files_are_kept_per_node_and_found_by_pointer() {
        let mut base = tree("metadata:\n  name: web\nspec:\n  containers:\n  - name: a\n", 0);
        let patch = tree("- name: b\n  image: x\n", 1);
        let TValue::Seq(added) = patch.value else { panic!() };
        let spec = base.get_mut("spec").unwrap();
        let TValue::Seq(list) = &mut spec.get_mut("containers").unwrap().value else { panic!() };
        list.extend(added);
        let span = Span::new(Pos { line: 3, col: 11 }, Pos { line: 3, col: 17 });
        base.map_at("metadata", 2, span).unwrap().set("namespace", Tree::string("prod", 2, span));
        let (node, origins) = base.into_node();
        assert_eq!(
            origins,
            vec![
                Origin { pointer: "/metadata/namespace".into(), file: 2 },
                Origin { pointer: "/spec/containers/1".into(), file: 1 },
            ]
        );
        assert_eq!(file_at(0, &origins, "/spec/containers/1/image"), 1);
        assert_eq!(file_at(0, &origins, "/spec/containers/10"), 0);
        assert_eq!(file_at(0, &origins, "/spec/containers/0/name"), 0);
        assert_eq!(file_at(0, &origins, "/metadata/namespace"), 2);
        assert_eq!(node.at(&["metadata", "namespace"]).unwrap().span, span);
        assert_eq!(node.to_json()["spec"]["containers"][1]["image"], "x");
    }
}
