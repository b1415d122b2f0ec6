//! YAML (and JSON) into a tree of nodes that keep their source positions.
//!
//! `saphyr-parser` produces events with spans; this module builds our own compact tree from them
//! so that it can bound alias expansion and nesting depth, resolve scalars the way Kubernetes'
//! YAML decoder does, and keep the span of every key and value.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use ecow::EcoString;
use saphyr_parser::{Event, Parser, ScalarStyle, Span as YamlSpan, Tag};

use super::source::{Pos, Span};

pub use crate::limits::Limits;

/// A value with the span it was read from.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub span: Span,
    pub value: Value,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// Short strings (up to 15 bytes: most keys, names and labels) are stored inline.
    Str(EcoString),
    Seq(Arc<[Node]>),
    Map(Arc<[Entry]>),
}

/// Dropping a tree needs the same stack whatever its depth. The derived drop would recurse once
/// per level, and a raised depth limit lets a document nest deep enough to overflow a thread's
/// stack: the first [`DROP_DEPTH`] levels below a node are dropped by recursion (fast, without
/// allocating), deeper collections from a stack on the heap.
impl Drop for Node {
    #[inline]
    fn drop(&mut self) {
        if matches!(self.value, Value::Seq(_) | Value::Map(_)) {
            let mut deeper = Vec::new();
            dismantle(self.take_value(), 0, &mut deeper);
            while let Some(value) = deeper.pop() {
                dismantle(value, 0, &mut deeper);
            }
        }
    }
}

/// Levels dropped by recursion before collections wait on the heap (a few KiB of stack).
const DROP_DEPTH: u32 = 64;

/// Drops `value` after taking the collections out of its nodes and dropping them first
/// (recursively, or from `deeper` once [`DROP_DEPTH`] levels down), so that no node's own drop
/// recurses.
fn dismantle(mut value: Value, depth: u32, deeper: &mut Vec<Value>) {
    let mut each = |node: &mut Node| {
        if matches!(node.value, Value::Seq(_) | Value::Map(_)) {
            let child = node.take_value();
            if depth < DROP_DEPTH {
                dismantle(child, depth + 1, deeper);
            } else {
                deeper.push(child);
            }
        }
    };
    // A collection another node shares is only let go of: its last holder dismantles it.
    match &mut value {
        Value::Seq(items) => Arc::get_mut(items).into_iter().flatten().for_each(&mut each),
        Value::Map(entries) => {
            Arc::get_mut(entries).into_iter().flatten().for_each(|e| each(&mut e.value));
        }
        _ => {}
    }
}

/// One mapping entry. Keys are text, as in JSON and Kubernetes objects.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: EcoString,
    pub key_span: Span,
    pub value: Node,
}

impl Node {
    /// The value under `key` when this node is a mapping.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    #[must_use]
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|e| &*e.key == key),
            _ => None,
        }
    }

    /// Takes the value out, leaving null (a node cannot be taken apart: it has a `Drop`).
    #[must_use]
    pub fn take_value(&mut self) -> Value {
        std::mem::replace(&mut self.value, Value::Null)
    }

    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    #[must_use]
    pub fn as_bool(&self) -> Option<bool> {
        match self.value {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    #[must_use]
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    #[must_use]
    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// Null, or an empty sequence or mapping (what Kubernetes treats as "not set").
    #[must_use]
    pub fn is_empty(&self) -> bool {
        match &self.value {
            Value::Null => true,
            Value::Seq(items) => items.is_empty(),
            Value::Map(entries) => entries.is_empty(),
            _ => false,
        }
    }

    #[must_use]
    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// Follows a path of mapping keys.
    #[must_use]
    pub fn at(&self, keys: &[&str]) -> Option<&Node> {
        keys.iter().try_fold(self, |node, key| node.get(key))
    }

    /// Converts to JSON, the form Kubernetes (and Kyverno) see. Text is copied as `str` (an
    /// `EcoString`'s `to_string` goes through the formatter: most of a conversion's work).
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.as_str().to_owned()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            // Inserted one by one: collecting sorts a vector of the entries first and then
            // builds the map from it (a mapping's keys are few; the last of a key wins either
            // way).
            Value::Map(entries) => {
                let mut map = serde_json::Map::new();
                for e in entries.iter() {
                    map.insert(e.key.as_str().to_owned(), e.value.to_json());
                }
                J::Object(map)
            }
        }
    }

    /// Nodes in the tree (without recursion, like dropping it).
    fn count(&self) -> usize {
        let mut total = 0;
        let mut pending = vec![self];
        while let Some(node) = pending.pop() {
            total += 1;
            match &node.value {
                Value::Seq(items) => pending.extend(items.iter()),
                Value::Map(entries) => pending.extend(entries.iter().map(|e| &e.value)),
                _ => {}
            }
        }
        total
    }
}

/// One document of a (multi-document) YAML stream.
#[derive(Debug)]
pub struct Document {
    /// 0-based index of the document in its file.
    pub index: usize,
    pub root: Node,
}

/// A problem found while parsing; positions are 1-based lines and 0-based character columns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseProblem {
    pub pos: Pos,
    pub message: String,
}

/// How a duplicate key's problem begins.
const DUPLICATE_KEY: &str = "duplicate key `";

/// What one file yields: every document that parsed, and every problem met.
#[derive(Debug, Default)]
pub struct ParsedStream {
    pub documents: Vec<Document>,
    pub problems: Vec<ParseProblem>,
}

impl ParsedStream {
    /// The first problem that go-yaml, where it is not strict (Helm's templates and
    /// `fromYaml`), also has: a key written twice is none to it (the last value stands, as the
    /// documents here already hold).
    #[must_use]
    pub fn first_problem_but_duplicate_keys(&self) -> Option<&ParseProblem> {
        self.problems.iter().find(|p| !p.message.starts_with(DUPLICATE_KEY))
    }
}

/// Parses a YAML stream. A syntax error ends the stream; documents completed before it are kept.
#[must_use]
pub fn parse_stream(text: &str, limits: &Limits) -> ParsedStream {
    if let Some((prefixed, line)) = explicit_start(text) {
        let (out, root_end) = parse_fixing_brackets(&prefixed, limits, line);
        // After `---` a collection cannot be a mapping key (`{a: 1}: b`), which Kubernetes
        // rejects anyway; such a line is read as written, for the error it gets as written.
        let as_key = root_end.is_some_and(|end| {
            end.line == line && out.problems.first().is_some_and(|p| p.pos >= end)
        });
        if !as_key {
            return out;
        }
    }
    parse_fixing_brackets(text, limits, 0).0
}

/// For a stream whose first document starts with a flow collection (a JSON file): the text with
/// `--- ` put before that collection, and the number of the line it went on.
///
/// saphyr-parser 0.3 keeps every token of a flow collection that starts a line of the block
/// context until it has seen what follows the closing bracket, in case it is a mapping key
/// (`{a: 1}: b`): a JSON document is held whole as tokens (about 50 bytes of memory per byte of
/// input, against 5 for the same data in block style, and twice the time). After `---` on the
/// same line a key cannot start, so tokens stream. Only that line's columns change, by the 4
/// columns of `--- `, which the builder takes off again.
fn explicit_start(text: &str) -> Option<(String, u32)> {
    let mut start = 0;
    for (index, line) in text.split('\n').enumerate() {
        let body = line.trim_start_matches(' ');
        if body.starts_with(['{', '[']) {
            // Line numbers count `\n` only: a lone CR before would end a line for the parser.
            if text[..start].matches('\r').count() != text[..start].matches("\r\n").count() {
                return None;
            }
            let mut prefixed = String::with_capacity(text.len() + EXPLICIT_START.len());
            prefixed.push_str(&text[..start]);
            prefixed.push_str(EXPLICIT_START);
            prefixed.push_str(&text[start..]);
            return Some((prefixed, u32::try_from(index + 1).ok()?));
        }
        // Blank lines and comments may come first; anything else is not a flow document.
        if !(body.trim().is_empty() || body.starts_with('#')) {
            return None;
        }
        start += line.len() + 1;
    }
    None
}

const EXPLICIT_START: &str = "--- ";

/// Parses `text`, working around a parser bug with closing brackets. `shifted`: see
/// [`Builder::shifted`]. Also returns where the first document's root collection ended.
fn parse_fixing_brackets(text: &str, limits: &Limits, shifted: u32) -> (ParsedStream, Option<Pos>) {
    let (mut out, mut root_end) = parse_once(text, limits, shifted);
    // saphyr-parser rejects a flow collection's closing bracket written at its parent's
    // indentation after a quoted scalar (`command: [` / `"sh", "-c"` / `]`), which YAML allows:
    // indentation does not matter inside a flow collection (upstream saphyr-rs/saphyr#108).
    // Such a bracket line is indented like the line before it and the text parsed again; only
    // that line's columns change, and it holds nothing but the bracket.
    let mut patched: Option<String> = None;
    let mut moved: Vec<(u32, u32)> = Vec::new();
    for _ in 0..MAX_BRACKET_FIXES {
        let Some(problem) = out.problems.first() else { break };
        if problem.message != "invalid YAML: invalid indentation" {
            break;
        }
        let current = patched.as_deref().unwrap_or(text);
        let Some((fixed, added)) = indent_closing_bracket(current, problem.pos.line) else { break };
        moved.push((problem.pos.line, added));
        (out, root_end) = parse_once(&fixed, limits, shifted);
        patched = Some(fixed);
    }
    if !moved.is_empty() {
        // Positions on a re-indented line go back to where the text has them.
        let back = |pos: &mut Pos| {
            let added: u32 = moved.iter().filter(|(l, _)| *l == pos.line).map(|(_, a)| a).sum();
            pos.col = pos.col.saturating_sub(added);
        };
        let back_span = |span: &mut Span| {
            let (mut start, mut end) = (span.start(), span.end());
            back(&mut start);
            back(&mut end);
            *span = Span::new(start, end);
        };
        for doc in &mut out.documents {
            let mut pending = vec![&mut doc.root];
            while let Some(node) = pending.pop() {
                back_span(&mut node.span);
                match &mut node.value {
                    Value::Seq(items) => pending.extend(Arc::make_mut(items).iter_mut()),
                    Value::Map(entries) => {
                        for e in Arc::make_mut(entries).iter_mut() {
                            back_span(&mut e.key_span);
                            pending.push(&mut e.value);
                        }
                    }
                    _ => {}
                }
            }
        }
        out.problems.iter_mut().for_each(|p| back(&mut p.pos));
        if let Some(end) = root_end.as_mut() {
            back(end);
        }
    }
    (out, root_end)
}

/// Bracket lines re-indented at most per file (each fix parses the file again).
const MAX_BRACKET_FIXES: usize = 16;

/// `text` with line `line` (1-based), when it starts with `]` or `}`, indented like the
/// nearest non-blank line before it, and the columns added; `None` when it is not such a line
/// or is already as deep.
fn indent_closing_bracket(text: &str, line: u32) -> Option<(String, u32)> {
    let index = usize::try_from(line).ok()?.checked_sub(1)?;
    let starts: Vec<usize> =
        std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
    let start = *starts.get(index)?;
    let body = &text[start..];
    let indent = body.len() - body.trim_start_matches(' ').len();
    if !body[indent..].starts_with([']', '}']) {
        return None;
    }
    let previous = (0..index).rev().find_map(|i| {
        let l = &text[starts[i]..starts[i + 1] - 1];
        let trimmed = l.trim_start_matches(' ');
        (!trimmed.trim().is_empty()).then_some(l.len() - trimmed.len())
    })?;
    if previous <= indent {
        return None;
    }
    let mut fixed = String::with_capacity(text.len() + previous - indent);
    fixed.push_str(&text[..start]);
    fixed.extend(std::iter::repeat_n(' ', previous - indent));
    fixed.push_str(body);
    Some((fixed, u32::try_from(previous - indent).ok()?))
}

fn parse_once(text: &str, limits: &Limits, shifted: u32) -> (ParsedStream, Option<Pos>) {
    let mut builder = Builder::new(limits, shifted);
    builder.unterminated = Unterminated::of(text);
    let mut out = ParsedStream::default();
    for event in Parser::new_from_str(text) {
        match event {
            Ok((event, span)) => {
                if let Err(problem) = builder.event(event, span, &mut out) {
                    out.problems.push(problem);
                    break;
                }
            }
            Err(err) => {
                let m = err.marker();
                let mut pos = Pos { line: m.line() as u32, col: m.col() as u32 };
                if err.info().contains("tab") {
                    pos = first_tab_from(text, pos).unwrap_or(pos);
                }
                let pos = builder.unshift(pos);
                out.problems
                    .push(ParseProblem { pos, message: format!("invalid YAML: {}", err.info()) });
                break;
            }
        }
    }
    (out, builder.root_end)
}

/// The parser reports a tab at the start of the token it was scanning; point at the tab itself.
fn first_tab_from(text: &str, from: Pos) -> Option<Pos> {
    text.lines().enumerate().skip(from.line.saturating_sub(1) as usize).find_map(|(i, line)| {
        let col = line.chars().position(|c| c == '\t')?;
        Some(Pos { line: i as u32 + 1, col: col as u32 })
    })
}

fn pos(m: saphyr_parser::Marker) -> Pos {
    Pos { line: m.line() as u32, col: m.col() as u32 }
}

/// An open collection. Its children wait on the builder's scratch stacks from index `first`,
/// so that a finished collection is allocated once, at its exact size.
enum Frame {
    Seq { start: Span, anchor: usize, first: usize },
    Map(MapFrame),
}

/// An open mapping.
struct MapFrame {
    start: Span,
    anchor: usize,
    first: usize,
    /// The key read, waiting for its value: (text, span, plain).
    key: Option<(EcoString, Span, bool)>,
    /// Line each key was first defined on, once the mapping has [`SCAN_LIMIT`] entries
    /// (smaller mappings are scanned: no allocation for the common case). Boxed: a frame is
    /// copied on every push and pop, and a bigger one slowed reading by 2%.
    #[allow(clippy::box_collection)]
    index: Option<Box<HashMap<EcoString, u32>>>,
    /// Whether a key was repeated, and whether there is a merge key (`<<`): the work done
    /// when the mapping ends.
    duplicates: bool,
    merges: bool,
}

/// Mappings with fewer entries are searched for a key by scanning; larger ones are indexed,
/// so that reading a mapping (duplicate checks, merge keys) stays linear in its size.
const SCAN_LIMIT: usize = 16;

impl MapFrame {
    /// Line on which `key` was first defined among `own` (the mapping's entries so far), and
    /// records it as defined now, on `line`.
    fn first_definition(&mut self, own: &[Entry], key: &EcoString, line: u32) -> Option<u32> {
        if self.index.is_none() && own.len() < SCAN_LIMIT {
            return own
                .iter()
                .find(|e| count_comparison(&e.key == key))
                .map(|e| e.key_span.start().line);
        }
        let index = self.index.get_or_insert_with(|| {
            let mut index = HashMap::with_capacity(own.len() * 2);
            for e in own {
                index.entry(e.key.clone()).or_insert(e.key_span.start().line);
            }
            Box::new(index)
        });
        match index.entry(key.clone()) {
            std::collections::hash_map::Entry::Occupied(first) => Some(*first.get()),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(line);
                None
            }
        }
    }
}

struct Builder<'l> {
    limits: &'l Limits,
    stack: Vec<Frame>,
    /// Children of the open sequences and mappings, innermost last.
    items: Vec<Node>,
    entries: Vec<Entry>,
    anchors: HashMap<usize, (Node, usize)>,
    alias_budget: usize,
    doc_index: usize,
    root: Option<Node>,
    /// The line whose columns the parser counts [`EXPLICIT_START`] too far (0: none).
    shifted: u32,
    /// Where the first document's root ended, when it is a collection.
    root_end: Option<Pos>,
    /// The end of a text that ends without a line break.
    unterminated: Option<Unterminated>,
}

/// The end of a text with no line break at its end: where a block scalar that runs to it ends.
#[derive(Clone, Copy, Debug)]
struct Unterminated {
    /// The text's length in characters (the parser's positions count characters).
    chars: usize,
    /// The length of its last line, in characters.
    last_line: usize,
}

impl Unterminated {
    fn of(text: &str) -> Option<Unterminated> {
        if text.is_empty() || text.ends_with(['\n', '\r']) {
            return None;
        }
        let last_line = text.rfind(['\n', '\r']).map_or(text, |at| &text[at + 1..]);
        Some(Unterminated { chars: text.chars().count(), last_line: last_line.chars().count() })
    }
}

impl<'l> Builder<'l> {
    fn new(limits: &'l Limits, shifted: u32) -> Self {
        Builder {
            limits,
            stack: Vec::new(),
            items: Vec::new(),
            entries: Vec::new(),
            anchors: HashMap::new(),
            alias_budget: limits.max_alias_nodes,
            doc_index: 0,
            root: None,
            shifted,
            root_end: None,
            unterminated: None,
        }
    }

    /// A block scalar's text without the line feed the parser adds when the scalar runs to the
    /// end of a text that has no line break there (and its last line reaches the scalar's
    /// indentation, where its content starts). YAML ends the last line with a line break or
    /// the end of input (`b-chomped-last`), and the parsers that read manifests on their way to
    /// a cluster (go-yaml, libyaml) add nothing: `|` over `a` at the end of a file is `a`.
    fn unterminated_block<'t>(
        &self,
        text: Cow<'t, str>,
        style: ScalarStyle,
        sp: YamlSpan,
    ) -> Cow<'t, str> {
        let Some(end) = self.unterminated else { return text };
        let block = matches!(style, ScalarStyle::Literal | ScalarStyle::Folded);
        if !block
            || sp.end.index() != end.chars
            || end.last_line < sp.start.col().max(1)
            || !text.ends_with('\n')
        {
            return text;
        }
        match text {
            Cow::Borrowed(t) => Cow::Borrowed(&t[..t.len() - 1]),
            Cow::Owned(mut t) => {
                t.pop();
                Cow::Owned(t)
            }
        }
    }

    /// A position in the text as written (see [`explicit_start`]).
    fn unshift(&self, mut pos: Pos) -> Pos {
        if pos.line == self.shifted {
            pos.col = pos.col.saturating_sub(EXPLICIT_START.len() as u32);
        }
        pos
    }

    fn span(&self, s: YamlSpan) -> Span {
        Span::new(self.unshift(pos(s.start)), self.unshift(pos(s.end)))
    }

    fn event(
        &mut self,
        event: Event<'_>,
        sp: YamlSpan,
        out: &mut ParsedStream,
    ) -> Result<(), ParseProblem> {
        let here = self.span(sp);
        match event {
            Event::DocumentStart(_) => {
                self.stack.clear();
                self.items.clear();
                self.entries.clear();
                self.anchors.clear();
                self.alias_budget = self.limits.max_alias_nodes;
                self.root = None;
            }
            Event::DocumentEnd => {
                if out.documents.len() >= self.limits.max_documents {
                    return Err(ParseProblem {
                        pos: here.start(),
                        message: format!(
                            "more than {} documents in one file ({})",
                            self.limits.max_documents,
                            crate::limits::hint("documents")
                        ),
                    });
                }
                let root = self.root.take().unwrap_or(Node { span: here, value: Value::Null });
                out.documents.push(Document { index: self.doc_index, root });
                self.doc_index += 1;
            }
            Event::Scalar(text, style, anchor, tag) => {
                let text = self.unterminated_block(text, style, sp);
                let value = resolve_scalar(text, style, tag.as_deref());
                let node = Node { span: here, value };
                self.finish(node, anchor, style == ScalarStyle::Plain, out)?;
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if self.stack.len() >= self.limits.max_depth {
                    return Err(ParseProblem {
                        pos: here.start(),
                        message: format!(
                            "nesting deeper than {} levels ({})",
                            self.limits.max_depth,
                            crate::limits::hint("depth")
                        ),
                    });
                }
                self.stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq { start: here, anchor, first: self.items.len() }
                } else {
                    Frame::Map(MapFrame {
                        start: here,
                        anchor,
                        first: self.entries.len(),
                        key: None,
                        index: None,
                        duplicates: false,
                        merges: false,
                    })
                });
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq { start, anchor, first }) = self.stack.pop() {
                    // Collected into its one allocation (the drain knows its length).
                    let items: Arc<[Node]> = self.items.drain(first..).collect();
                    let node = Node { span: start.to(here), value: Value::Seq(items) };
                    self.finish(node, anchor, false, out)?;
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map(MapFrame {
                    start, anchor, first, duplicates, merges, ..
                })) = self.stack.pop()
                {
                    let entries: Arc<[Entry]> = if merges || duplicates {
                        let entries: Vec<Entry> = self.entries.drain(first..).collect();
                        if merges {
                            merge_keys(entries, duplicates)
                        } else {
                            dedup_last_wins(entries)
                        }
                        .into()
                    } else {
                        self.entries.drain(first..).collect()
                    };
                    let node = Node { span: start.to(here), value: Value::Map(entries) };
                    self.finish(node, anchor, false, out)?;
                }
            }
            Event::Alias(id) => self.alias(id, here, out)?,
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
        }
        Ok(())
    }

    /// Copies an anchored node, within the alias budget of the document.
    fn alias(&mut self, id: usize, here: Span, out: &mut ParsedStream) -> Result<(), ParseProblem> {
        let Some((node, size)) = self.anchors.get(&id) else {
            return Err(ParseProblem {
                pos: here.start(),
                message: "alias to an unknown anchor".into(),
            });
        };
        if *size > self.alias_budget {
            return Err(ParseProblem {
                pos: here.start(),
                message: format!(
                    "aliases expand to more than {} nodes in one document ({})",
                    self.limits.max_alias_nodes,
                    crate::limits::hint("alias-nodes")
                ),
            });
        }
        self.alias_budget -= *size;
        let mut node = node.clone();
        node.span = here;
        self.finish(node, 0, false, out)
    }

    /// Attaches a completed node to its parent (or makes it the document root).
    fn finish(
        &mut self,
        node: Node,
        anchor: usize,
        plain: bool,
        out: &mut ParsedStream,
    ) -> Result<(), ParseProblem> {
        if anchor != 0 {
            let size = node.count();
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => {
                if self.doc_index == 0 && matches!(node.value, Value::Seq(_) | Value::Map(_)) {
                    self.root_end.get_or_insert(node.span.end());
                }
                self.root = Some(node);
            }
            Some(Frame::Seq { .. }) => self.items.push(node),
            Some(Frame::Map(map)) => match map.key.take() {
                None => {
                    // Kubernetes reads only scalar keys (sigs.k8s.io/yaml rejects the rest);
                    // a collection as a key would also have to be spelled out as text, which
                    // nested `? ? ?` keys make exponentially long.
                    if matches!(node.value, Value::Seq(_) | Value::Map(_)) {
                        return Err(ParseProblem {
                            pos: node.span.start(),
                            message: "a list or mapping used as a mapping key (`? …`): \
                                      Kubernetes objects have only scalar keys"
                                .into(),
                        });
                    }
                    let key_span = node.span;
                    map.key = Some((key_text(node), key_span, plain));
                }
                Some((text, key_span, key_plain)) => {
                    // A merge key is stored under a reserved name and expanded when the mapping ends.
                    let merge = key_plain && &*text == "<<";
                    let key = if merge { MERGE_KEY.into() } else { text };
                    let own = &self.entries[map.first..];
                    let first = map.first_definition(own, &key, key_span.start().line);
                    if merge {
                        map.merges = true;
                    } else if let Some(line) = first {
                        map.duplicates = true;
                        out.problems.push(ParseProblem {
                            pos: key_span.start(),
                            message: format!(
                                "{DUPLICATE_KEY}{key}` (first defined on line {line})"
                            ),
                        });
                    }
                    self.entries.push(Entry { key, key_span, value: node });
                }
            },
        }
        Ok(())
    }
}

const MERGE_KEY: &str = "\u{0}<<";

/// Expands YAML merge keys (`<<: *defaults`): explicit keys win over merged ones, and earlier
/// merged mappings over later ones. `duplicates`: whether an explicit key was repeated.
fn merge_keys(entries: Vec<Entry>, duplicates: bool) -> Vec<Entry> {
    let (merges, mut own): (Vec<Entry>, Vec<Entry>) =
        entries.into_iter().partition(|e| &*e.key == MERGE_KEY);
    if duplicates {
        own = dedup_last_wins(own);
    }
    // The keys of `own`, once it is too large to scan.
    let mut seen: Option<HashSet<EcoString>> = None;
    for mut merge in merges {
        let sources: Vec<Node> = match merge.value.take_value() {
            Value::Seq(items) => items.to_vec(),
            other => vec![Node { span: merge.value.span, value: other }],
        };
        for mut source in sources {
            let Value::Map(inherited) = source.take_value() else { continue };
            for entry in inherited.iter().cloned() {
                if seen.is_none() && own.len() >= SCAN_LIMIT {
                    seen = Some(own.iter().map(|e| e.key.clone()).collect());
                }
                let present = match &mut seen {
                    Some(keys) => !keys.insert(entry.key.clone()),
                    None => own.iter().any(|e| count_comparison(e.key == entry.key)),
                };
                if !present {
                    own.push(entry);
                }
            }
        }
    }
    own
}

/// Duplicate keys were reported already; keep the last value, as JSON decoders do (at the
/// position of the last).
fn dedup_last_wins(entries: Vec<Entry>) -> Vec<Entry> {
    let keep: Vec<bool> = {
        let mut last: HashMap<&str, usize> = HashMap::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            last.insert(&e.key, i);
        }
        entries.iter().enumerate().map(|(i, e)| last[&*e.key] == i).collect()
    };
    entries.into_iter().zip(keep).filter_map(|(e, keep)| keep.then_some(e)).collect()
}

/// Counts key comparisons made by scanning, so that a test can check that reading a mapping
/// stays linear in its size; `same` is passed through.
#[cfg(test)]
fn count_comparison(same: bool) -> bool {
    tests::COMPARISONS.with(|c| c.set(c.get() + 1));
    same
}

#[cfg(not(test))]
#[inline]
fn count_comparison(same: bool) -> bool {
    same
}

fn key_text(mut node: Node) -> EcoString {
    match node.take_value() {
        Value::Str(s) => s,
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string().into(),
        Value::Int(i) => i.to_string().into(),
        Value::Float(f) => f.to_string().into(),
        // Rejected in `Builder::finish` before a key's text is taken.
        Value::Seq(_) | Value::Map(_) => EcoString::new(),
    }
}

/// Resolves a scalar as Kubernetes' YAML decoder (go-yaml v2, YAML 1.1 flavour) does.
pub(crate) fn resolve_scalar(text: Cow<'_, str>, style: ScalarStyle, tag: Option<&Tag>) -> Value {
    if let Some(tag) = tag {
        if tag.handle == "tag:yaml.org,2002:" || tag.handle == "!!" {
            match tag.suffix.as_str() {
                "str" | "binary" | "timestamp" => return Value::Str(text.into()),
                "null" => return Value::Null,
                "bool" | "int" | "float" => return resolve_plain(&text),
                _ => {}
            }
        }
    }
    if style != ScalarStyle::Plain {
        return Value::Str(text.into());
    }
    resolve_plain(&text)
}

fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => {
            return Value::Bool(true)
        }
        "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => {
            return Value::Bool(false)
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    let first = text.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return Value::Str(text.into());
    }
    if let Some(i) = parse_int(text) {
        return Value::Int(i);
    }
    if is_float(text) {
        if let Ok(f) = text.replace('_', "").parse::<f64>() {
            return Value::Float(f);
        }
    }
    Value::Str(text.into())
}

fn parse_int(text: &str) -> Option<i64> {
    let (neg, body) = match text.as_bytes()[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if body.is_empty() {
        return None;
    }
    let cleaned: String;
    let body = if body.contains('_') {
        cleaned = body.replace('_', "");
        cleaned.as_str()
    } else {
        body
    };
    let (radix, digits) = if let Some(h) = body.strip_prefix("0x") {
        (16, h)
    } else if let Some(b) = body.strip_prefix("0b") {
        (2, b)
    } else if let Some(o) = body.strip_prefix("0o") {
        (8, o)
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..])
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i128::from_str_radix(digits, radix).ok()?;
    i64::try_from(if neg { -magnitude } else { magnitude }).ok()
}

fn is_float(text: &str) -> bool {
    let body = text.trim_start_matches(['-', '+']);
    let mut seen_digit = false;
    let mut seen_dot = false;
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '0'..='9' | '_' => seen_digit = true,
            '.' if !seen_dot => seen_dot = true,
            'e' | 'E' if seen_digit => {
                if matches!(chars.peek(), Some('-' | '+')) {
                    chars.next();
                }
                return chars.peek().is_some() && chars.all(|c| c.is_ascii_digit());
            }
            _ => return false,
        }
    }
    seen_digit
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::fmt::Write as _;

    use super::*;

    thread_local! {
        /// Key comparisons made by scanning (see `count_comparison`).
        pub(super) static COMPARISONS: Cell<u64> = const { Cell::new(0) };
    }

    fn one(text: &str) -> Node {
        let parsed = parse_stream(text, &Limits::default());
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        parsed.documents.into_iter().next().unwrap().root
    }

    #[test]
    fn scalars_resolve_like_kubernetes() {
        let n = one("a: yes\nb: 'yes'\nc: 0755\nd: 1_000\ne: 1.5e3\nf: ~\ng: 0x1F\nh: 1.2.3\ni: -7\nj: !!str 12\nk: .5\n");
        assert_eq!(n.get("a").unwrap().value, Value::Bool(true));
        assert_eq!(n.get("b").unwrap().value, Value::Str("yes".into()));
        assert_eq!(n.get("c").unwrap().value, Value::Int(0o755));
        assert_eq!(n.get("d").unwrap().value, Value::Int(1000));
        assert_eq!(n.get("e").unwrap().value, Value::Float(1500.0));
        assert_eq!(n.get("f").unwrap().value, Value::Null);
        assert_eq!(n.get("g").unwrap().value, Value::Int(31));
        assert_eq!(n.get("h").unwrap().value, Value::Str("1.2.3".into()));
        assert_eq!(n.get("i").unwrap().value, Value::Int(-7));
        assert_eq!(n.get("j").unwrap().value, Value::Str("12".into()));
        assert_eq!(n.get("k").unwrap().value, Value::Float(0.5));
    }

    /// What go-yaml (kustomize, kubectl) and libyaml read, measured with both: a block scalar
    /// that runs to the end of a file with no line break there has no line feed of its own at
    /// the end; one whose file ends with a line break keeps it, as its chomping says.
    #[test]
    fn a_block_scalar_at_the_end_of_a_file_ends_where_the_file_does() {
        let cases = [
            ("a: |\n  hello\n  world", "hello\nworld"),
            ("a: |\n  hello\n  world\n", "hello\nworld\n"),
            ("a: |+\n  hello\n  world", "hello\nworld"),
            ("a: |+\n  hello\n\n", "hello\n\n"),
            ("a: |-\n  hello\n  world", "hello\nworld"),
            ("a: >\n  hello\n  world", "hello world"),
            ("a: >+\n  hello\n  world", "hello world"),
            // The last line holds only spaces, as deep as the content, or less deep.
            ("a: |\n  hello\n  ", "hello\n"),
            ("a: |+\n  hello\n  ", "hello\n"),
            ("a: |+\n  hello\n\n  ", "hello\n\n"),
            ("a: |\n    hello\n  ", "hello\n"),
            ("a: |\n  hello\n\n  world", "hello\n\nworld"),
            ("a: |\n  hello\n# a comment", "hello\n"),
            ("a: |2\n     hello\n     world", "   hello\n   world"),
            ("a: |\r\n  hello\r\n  world", "hello\nworld"),
            ("a: |\n  é\n  ü", "é\nü"),
        ];
        for (text, want) in cases {
            assert_eq!(one(text).get("a").and_then(Node::as_str), Some(want), "{text:?}");
        }
        // In a list, and only the last scalar of the file.
        let n = one("a: |\n  x\nb:\n- |\n  y\n  z");
        assert_eq!(n.get("a").and_then(Node::as_str), Some("x\n"));
        let b = n.get("b").and_then(Node::as_seq).unwrap();
        assert_eq!(b[0].as_str(), Some("y\nz"));
        // In the last document of several.
        let parsed = parse_stream("a: |\n  x\n---\na: |\n  y", &Limits::default());
        let last = |i: usize| parsed.documents[i].root.get("a").and_then(Node::as_str);
        assert_eq!((last(0), last(1)), (Some("x\n"), Some("y")));
    }

    #[test]
    fn keys_and_values_keep_positions() {
        let n = one(
            "spec:\n  containers:\n  - name: x\n    securityContext:\n      privileged: true\n",
        );
        let sc = n.at(&["spec", "containers"]).unwrap().as_seq().unwrap()[0]
            .get("securityContext")
            .unwrap();
        let e = sc.entry("privileged").unwrap();
        assert_eq!(e.key_span.start(), Pos { line: 5, col: 6 });
        assert_eq!(e.value.span.start(), Pos { line: 5, col: 18 });
        assert_eq!(e.value.span.end(), Pos { line: 5, col: 22 });
    }

    #[test]
    fn multi_document_indexes_and_anchors() {
        let parsed = parse_stream("---\na: &x {k: v}\nb: *x\n---\n---\nc: 1\n", &Limits::default());
        assert_eq!(parsed.documents.len(), 3);
        assert_eq!(parsed.documents[2].index, 2);
        let d0 = &parsed.documents[0].root;
        assert_eq!(d0.get("b").unwrap().get("k").unwrap().as_str(), Some("v"));
        assert!(parsed.documents[1].root.is_null());
    }

    #[test]
    fn merge_keys_expand_and_explicit_keys_win() {
        let n = one("base: &b {a: 1, b: 2}\nx:\n  <<: *b\n  b: 3\n");
        let x = n.get("x").unwrap();
        assert_eq!(x.get("a").unwrap().value, Value::Int(1));
        assert_eq!(x.get("b").unwrap().value, Value::Int(3));
        assert_eq!(x.as_map().unwrap().len(), 2);
    }

    /// Issue 15: duplicate checks and merge keys scanned the mapping for every key, so a
    /// mapping of 200,000 keys took 47 s to read. Past a few keys they are indexed: the scans
    /// left are bounded whatever the size of the mapping.
    #[test]
    fn large_mappings_and_merges_take_linear_work() {
        let n = 200_000;
        let mut text = String::from("base: &b\n");
        for i in 0..n / 2 {
            writeln!(text, "  m{i}: {i}").unwrap();
        }
        text += "big:\n  <<: *b\n";
        for i in 0..n {
            writeln!(text, "  k{i}: {i}").unwrap();
        }
        text += "  m7: own\n  k5: again\n";
        COMPARISONS.with(|c| c.set(0));
        let parsed = parse_stream(&text, &Limits::default());
        let comparisons = COMPARISONS.with(Cell::get);
        assert!(comparisons < 3 * (SCAN_LIMIT * SCAN_LIMIT) as u64, "{comparisons} comparisons");
        let k5_line = 2 + n / 2 + 2 + 5;
        assert_eq!(
            parsed.problems,
            [ParseProblem {
                pos: Pos { line: (k5_line + n - 4) as u32, col: 2 },
                message: format!("duplicate key `k5` (first defined on line {k5_line})"),
            }]
        );
        let big = parsed.documents[0].root.get("big").unwrap();
        assert_eq!(big.as_map().unwrap().len(), n + n / 2);
        assert_eq!(big.get("m7").unwrap().as_str(), Some("own"), "explicit keys win");
        assert_eq!(big.get("m8").unwrap().value, Value::Int(8));
        assert_eq!(big.get("k5").unwrap().as_str(), Some("again"), "the last duplicate wins");
        assert_eq!(big.get("k6").unwrap().value, Value::Int(6));
    }

    /// The indexed path gives what scanning gave, for mappings on both sides of `SCAN_LIMIT`:
    /// the same duplicates reported (against the first definition), the same entries in the
    /// same order (explicit keys first, the last of duplicates at its own place, then merged
    /// keys in merge order, earlier merges winning).
    #[test]
    fn indexed_mappings_read_like_scanned_ones() {
        /// The former quadratic reading: (entries, duplicate lines (line, first line)).
        fn reference(
            own: &[(String, u32)],
            merged: &[Vec<String>],
        ) -> (Vec<String>, Vec<(u32, u32)>) {
            let mut dups = Vec::new();
            for (i, (k, line)) in own.iter().enumerate() {
                if let Some((_, first)) = own[..i].iter().find(|(o, _)| o == k) {
                    dups.push((*line, *first));
                }
            }
            let mut keys: Vec<String> = Vec::new();
            for (i, (k, _)) in own.iter().enumerate() {
                if !own[i + 1..].iter().any(|(o, _)| o == k) {
                    keys.push(k.clone());
                }
            }
            for source in merged {
                for k in source {
                    if !keys.contains(k) {
                        keys.push(k.clone());
                    }
                }
            }
            (keys, dups)
        }
        let mut seed = 7_u64;
        let mut next = |bound: u64| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % bound
        };
        for size in [0, 1, 3, SCAN_LIMIT - 1, SCAN_LIMIT, SCAN_LIMIT + 1, 3 * SCAN_LIMIT, 200] {
            for merges in [0, 1, 2] {
                let alphabet = (size as u64 * 3 / 2).max(1);
                let merged: Vec<Vec<String>> = (0..merges)
                    .map(|_| {
                        let mut keys: Vec<String> = (0..next(2 * SCAN_LIMIT as u64 + 2))
                            .map(|_| format!("k{}", next(alphabet)))
                            .collect();
                        keys.dedup();
                        keys.sort();
                        keys.dedup();
                        keys
                    })
                    .collect();
                let mut text = String::new();
                for (m, keys) in merged.iter().enumerate() {
                    writeln!(text, "base{m}: &b{m}").unwrap();
                    for k in keys {
                        writeln!(text, "  {k}: from-{m}").unwrap();
                    }
                    if keys.is_empty() {
                        text += "  {}\n";
                    }
                }
                text += "x:\n";
                let first_line = text.lines().count() as u32 + 1;
                let mut own = Vec::new();
                for i in 0..size {
                    let k = format!("k{}", next(alphabet));
                    writeln!(text, "  {k}: {i}").unwrap();
                    own.push((k, first_line + i as u32));
                }
                if merges > 0 {
                    let refs: Vec<String> = (0..merges).map(|m| format!("*b{m}")).collect();
                    writeln!(text, "  <<: [{}]", refs.join(", ")).unwrap();
                } else if size == 0 {
                    text.pop();
                    text += " {}\n";
                }
                let (keys, dups) = reference(&own, &merged);
                let parsed = parse_stream(&text, &Limits::default());
                let x = parsed.documents[0].root.get("x").unwrap();
                let read: Vec<&str> = x.as_map().unwrap().iter().map(|e| &*e.key).collect();
                assert_eq!(read, keys, "size {size}, merges {merges}:\n{text}");
                let reported: Vec<(u32, u32)> = parsed
                    .problems
                    .iter()
                    .map(|p| {
                        let first = p.message.rsplit(' ').next().unwrap().trim_end_matches(')');
                        (p.pos.line, first.parse().unwrap())
                    })
                    .collect();
                assert_eq!(reported, dups, "size {size}, merges {merges}:\n{text}");
            }
        }
    }

    /// Dropping a tree nested deeper than the default depth limit needs no stack per level.
    #[test]
    fn deep_trees_drop_on_a_small_stack() {
        let depth = 100_000;
        // Far past the highest depth limit allowed (`limits::MAX_DEPTH`): dropping does not
        // depend on it.
        let limits = Limits { max_depth: depth + 1, ..Limits::default() };
        let text = "- ".repeat(depth) + "x\n";
        let parsed = parse_stream(&text, &limits);
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        let mut root = parsed.documents.into_iter().next().unwrap().root;
        // Mappings too, and a tree built by hand.
        for i in 0..depth {
            let key = if i % 2 == 0 { "k" } else { "v" };
            root = Node {
                span: Span::default(),
                value: Value::Map(Arc::new([Entry {
                    key: key.into(),
                    key_span: Span::default(),
                    value: root,
                }])),
            };
        }
        assert_eq!(root.count(), 2 * depth + 1);
        let dropper =
            std::thread::Builder::new().stack_size(256 * 1024).spawn(move || drop(root)).unwrap();
        dropper.join().expect("dropped without overflowing the stack");
    }

    /// A node's lists and mappings are shared by its copies (an alias's too): a copy costs no
    /// copying, and changing one copy leaves the others as they were.
    #[test]
    fn copies_share_lists_and_mappings_until_one_is_changed() {
        let parsed = parse_stream("a: &x {b: [1, 2]}\nc: *x\n", &Limits::default());
        let root = &parsed.documents[0].root;
        let map = |n: &Node| match &n.value {
            Value::Map(entries) => Arc::clone(entries),
            _ => panic!("a mapping: {n:?}"),
        };
        let (a, c) = (root.get("a").unwrap(), root.get("c").unwrap());
        assert!(Arc::ptr_eq(&map(a), &map(c)));
        let mut copy = c.clone();
        assert!(Arc::ptr_eq(&map(&copy), &map(a)));
        if let Value::Map(entries) = &mut copy.value {
            Arc::make_mut(entries)[0].value = Node { span: Span::default(), value: Value::Null };
        }
        assert!(!Arc::ptr_eq(&map(&copy), &map(a)));
        assert_eq!(copy.get("b"), Some(&Node { span: Span::default(), value: Value::Null }));
        assert_eq!(a.get("b").and_then(Node::as_seq).map(<[Node]>::len), Some(2));
        // Dropping a copy leaves the others whole.
        drop(copy);
        drop(parsed.documents[0].root.clone());
        assert_eq!(c.get("b").and_then(Node::as_seq).map(<[Node]>::len), Some(2));
    }

    /// Issue 15: a stream that starts with a flow collection (JSON) is read with `--- ` before
    /// it, so that the parser streams its tokens; what it reads is what the text as written
    /// reads to, positions included.
    #[test]
    fn flow_documents_read_as_written() {
        let samples = [
            "{\"a\": 1, \"b\": [1, 2, {\"c\": \"d\"}], \"e\": {}}",
            "{\n  \"kind\": \"Pod\",\n  \"spec\": {\n    \"containers\": [\n      {\"name\": \"a\"}\n    ]\n  }\n}\n",
            "# generated\n\n  {\"a\": \"x\", \"b\": [\n\"y\"\n]}\n",
            "{\r\n  \"a\": 1\r\n}\r\n",
            "[\n\"a\",\n\"b\"\n]\n",
            "{\"spec\": {\"command\": [\n  \"sh\", \"-c\"\n]}}",
            "{\"a\": 1, \"a\": 2}",
            "{\"a\": 1 \"b\": 2}",
            "{\"a\": 1}\n---\n{\"b\": [2]}\n",
            "[1, 2]\n# done\n",
            "{\"a\": [1, 2}",
            "{\"é\": \"ü\", \"b\": true}",
            // A collection as a key: an error, the one it gets as written.
            "{a: 1}: x\n",
            "[a, b]: x\n",
            "[a, b] : x\n",
            "{a: 1}\n: x\n",
        ];
        for text in samples {
            assert!(explicit_start(text).is_some(), "{text:?}");
            let read = parse_stream(text, &Limits::default());
            let written = parse_fixing_brackets(text, &Limits::default(), 0).0;
            let docs = |p: &ParsedStream| -> Vec<Node> {
                p.documents.iter().map(|d| d.root.clone()).collect()
            };
            assert_eq!(docs(&read), docs(&written), "{text:?}");
            assert_eq!(read.problems, written.problems, "{text:?}");
        }
        for text in ["a: {}\n", "--- {}\n", "\t{}\n", "\r{}\n", "x\r\r\n{}\n", "&a {}\n", ""] {
            assert_eq!(explicit_start(text), None, "{text:?}");
        }
        let one_line = parse_stream("{\"a\": {\"b\": 1}}", &Limits::default());
        let b = one_line.documents[0].root.at(&["a", "b"]).unwrap();
        assert_eq!(b.span, Span::new(Pos { line: 1, col: 12 }, Pos { line: 1, col: 13 }));
        let dup = &parse_stream("{\"a\": 1, \"a\": 2}", &Limits::default()).problems[0];
        assert_eq!(dup.pos, Pos { line: 1, col: 9 });
    }

    /// The parser holds every token of a flow collection that starts a document until it has
    /// seen what follows it (in case it is a key); after `---` it hands them over at once.
    #[test]
    fn flow_documents_stream_after_an_explicit_start() {
        /// Characters the parser has read when it hands over its first scalar.
        fn read_ahead(text: &str) -> usize {
            let read = Cell::new(0);
            let chars = text.chars().inspect(|_| read.set(read.get() + 1));
            for event in Parser::new(saphyr_parser::BufferedInput::new(chars)) {
                if let Ok((Event::Scalar(..), _)) = event {
                    break;
                }
            }
            read.get()
        }
        let items: Vec<String> =
            (0..10_000).map(|i| format!("{{\"name\": \"item-{i}\"}}")).collect();
        let json = format!("{{\"items\": [\n{}\n]}}\n", items.join(",\n"));
        assert!(read_ahead(&json) >= json.chars().count() - 2, "as written, read whole");
        let (prefixed, line) = explicit_start(&json).unwrap();
        assert_eq!(line, 1);
        assert!(read_ahead(&prefixed) < 100, "{}", read_ahead(&prefixed));
    }

    #[test]
    fn alias_bombs_are_bounded() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            let refs = vec![format!("*a{p}"); 10].join(", ");
            text += &[
                "a",
                &i.to_string(),
                ": &a",
                &i.to_string(),
                " [",
                &refs,
                "]
",
            ]
            .concat();
        }
        let parsed = parse_stream(&text, &Limits::default());
        assert_eq!(parsed.problems.len(), 1);
        assert!(parsed.problems[0].message.contains("aliases expand"), "{:?}", parsed.problems);
    }

    #[test]
    fn depth_is_bounded() {
        let block: String = (0..300).map(|i| " ".repeat(i) + "k:\n").collect();
        let parsed = parse_stream(&block, &Limits::default());
        let message = &parsed.problems[0].message;
        assert!(message.contains("nesting deeper than 256"), "{message}");
        // Flow collections are bounded by the parser itself (255 levels).
        let flow = "[".repeat(300) + &"]".repeat(300);
        assert_eq!(parse_stream(&flow, &Limits::default()).problems.len(), 1);
    }

    #[test]
    fn duplicate_keys_are_reported_with_both_lines() {
        let parsed = parse_stream("a: 1\nb: 2\na: 3\n", &Limits::default());
        assert_eq!(parsed.problems.len(), 1);
        assert_eq!(parsed.problems[0].pos.line, 3);
        assert!(parsed.problems[0].message.contains("first defined on line 1"));
        assert_eq!(parsed.documents[0].root.get("a").unwrap().value, Value::Int(3));
    }

    /// Regression (field trial, kubebuilder's workflows): valid YAML the parser rejected.
    #[test]
    fn a_closing_bracket_at_the_parent_indentation_after_quoted_scalars_parses() {
        let text = "spec:\n  command: [\n    \"sh\", \"-c\",\n    \"sleep 1\"\n  ]\n  other: {\n    \"a\": 1\n  }\n";
        let parsed = parse_stream(text, &Limits::default());
        assert_eq!(parsed.problems.len(), 0, "{:?}", parsed.problems.first().map(|p| &p.message));
        let spec = parsed.documents[0].root.get("spec").unwrap();
        let command: Vec<&str> = spec
            .get("command")
            .unwrap()
            .as_seq()
            .unwrap()
            .iter()
            .filter_map(Node::as_str)
            .collect();
        assert_eq!(command, ["sh", "-c", "sleep 1"]);
        assert_eq!(spec.at(&["other", "a"]).map(|n| n.span.start().line), Some(7));
        // Wrong indentation outside a flow collection is still an error.
        let bad = parse_stream("a:\n  b: 1\n c: 2\n", &Limits::default());
        assert_eq!(bad.problems.len(), 1);
    }

    #[test]
    fn syntax_errors_keep_earlier_documents() {
        let parsed = parse_stream("a: 1\n---\nb: [1, 2\n", &Limits::default());
        assert_eq!(parsed.documents.len(), 1);
        assert_eq!(parsed.problems.len(), 1);
        assert!(parsed.problems[0].pos.line >= 3);
    }
}
