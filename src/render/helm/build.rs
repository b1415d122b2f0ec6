//! A chart as a build unit of a tree: what a release renders, each document a tree whose
//! fields point at the template line that wrote them — the line itself for text the template
//! holds as it is, the action's line for what an action printed.

use std::borrow::Cow;
use std::path::Path;
use std::rc::Rc;

use super::chart::load;
use super::engine::Chart;
use super::template::{release, Options};
use crate::load::source::{Pos, Span};
use crate::load::{Node, Value as NodeValue};
use crate::render::gotemplate::exec::{line_starts, Read as ValueRead};
use crate::render::gotemplate::{Mark, Value, Written};
use crate::render::kustomize::{BuildError, Disk, Read};
use crate::render::tree::{places, Placed, TValue, Tree};

/// A position (line from 1, column in characters from 0) as a byte offset of `text`.
fn offset_of(text: &str, starts: &[usize], pos: Pos) -> usize {
    let Some(&start) = starts.get((pos.line as usize).saturating_sub(1)) else { return text.len() };
    let line = &text[start..];
    let col = pos.col as usize;
    // Most lines are ASCII: a column is then a byte count.
    if line.as_bytes().get(..col).is_some_and(<[u8]>::is_ascii) {
        return start + col;
    }
    start + line.char_indices().nth(col).map_or(line.len(), |(i, _)| i)
}

/// A document of a template's output: its text, where its lines start, and where it starts in
/// the output.
#[derive(Clone, Copy)]
struct Piece<'p> {
    text: &'p str,
    starts: &'p [usize],
    base: usize,
    /// The text is ASCII: a column is a byte count (asked once, not per position).
    ascii: bool,
}

impl Piece<'_> {
    /// The output offset of a position of the piece.
    fn offset(&self, pos: Pos) -> usize {
        let at = match self.starts.get((pos.line as usize).saturating_sub(1)) {
            Some(&start) if self.ascii => (start + pos.col as usize).min(self.text.len()),
            _ => offset_of(self.text, self.starts, pos),
        };
        self.base + at
    }

    /// The output offsets a span of the piece covers.
    fn offsets(&self, span: Span) -> (usize, usize) {
        (self.offset(span.start()), self.offset(span.end()))
    }
}

/// A byte offset of `text` as a position; `hint` is the line (from 1) to try first (the one
/// found last: nodes are mapped in output order), and becomes the line found.
fn pos_of(
    (text, ascii): (&str, bool),
    starts: &[usize],
    offset: usize,
    hint: &std::cell::Cell<usize>,
) -> Pos {
    let on = |line: usize| {
        line >= 1
            && starts.get(line - 1).is_some_and(|&s| s <= offset)
            && starts.get(line).is_none_or(|&next| next > offset)
    };
    let line = match hint.get() {
        h if on(h) => h,
        h if on(h + 1) => h + 1,
        _ => starts.partition_point(|&s| s <= offset).max(1),
    };
    hint.set(line);
    let start = starts[line - 1];
    let col = text.get(start..offset.min(text.len())).map_or(0, |s| {
        if ascii || s.is_ascii() {
            s.len()
        } else {
            s.chars().count()
        }
    });
    Pos {
        line: u32::try_from(line).unwrap_or(u32::MAX),
        col: u32::try_from(col).unwrap_or(u32::MAX),
    }
}

/// Where each value of a release came from, by path (keys joined with `\u{1f}`, list items by
/// index): the build file, the key's span and the value's span. Layers are added in the order
/// Helm merges them; a later layer's values win, and are preferred as the cause.
#[derive(Debug, Default)]
pub struct ValueOrigins {
    layers: Vec<Layer>,
}

/// The places of one layer of values, shared (a chart's defaults, alike for its releases),
/// with the build file they are in when one file holds them all.
#[derive(Debug)]
struct Layer {
    file: Option<u32>,
    places: Rc<Places>,
    /// The paths this layer sets to null (Helm deletes them from what earlier layers set).
    nulls: Vec<String>,
}

/// Places of values by path.
pub type Places = foldhash::HashMap<String, Place>;

/// Where a value came from: the build file, the key's span, the value's span, and its layer.
#[derive(Clone, Copy, Debug)]
struct Origin {
    file: u32,
    key_span: Span,
    span: Span,
    layer: usize,
}

/// A place in a build file: the file, the key's span and the value's span.
type Place = (u32, Span, Span);

impl Origin {
    fn place(self) -> Place {
        (self.file, self.key_span, self.span)
    }
}

impl ValueOrigins {
    fn origin(&self, path: &str) -> Option<Origin> {
        self.layers.iter().enumerate().rev().find_map(|(layer, l)| {
            let &(file, key_span, span) = l.places.get(path)?;
            Some(Origin { file: l.file.unwrap_or(file), key_span, span, layer })
        })
    }

    fn get(&self, path: &str) -> Option<Place> {
        self.origin(path).map(Origin::place)
    }

    /// Adds a layer of values written as a tree (a values file, a HelmRelease's
    /// `spec.values`): each field at its line.
    pub fn add_tree(&mut self, t: &Tree, prefix: &str) {
        let mut places = Places::default();
        tree_places(t, prefix, &mut places, 0);
        let mut nulls = Vec::new();
        tree_nulls(t, prefix, &mut nulls, 0);
        self.layers.push(Layer { file: None, places: Rc::new(places), nulls });
    }

    /// Merges the values written as tree `t` (a values file, `spec.values`) over `values`, and
    /// adds them as a layer ([`ValueOrigins::add_tree`]).
    pub fn merge_tree(&mut self, values: &Value, t: &Tree) -> Value {
        self.add_tree(t, "");
        super::chart::merge_values(values, &Value::from_json_floats(&t.to_json()))
    }

    /// Adds a layer of places all in build file `file` (their own file numbers are not used).
    pub fn add_shared(&mut self, places: Rc<Places>, file: u32) {
        self.layers.push(Layer { file: Some(file), places, nulls: Vec::new() });
    }

    /// Adds one value set at a path (`a.b[0].c`, as `--set` writes it).
    pub fn add_path(&mut self, path: &str, at: Place) {
        let key = path.replace('[', ".").replace(']', "").replace('.', "\u{1f}");
        let places = std::iter::once((key, at)).collect();
        self.layers.push(Layer { file: None, places: Rc::new(places), nulls: Vec::new() });
    }

    /// Adds a layer whose every value comes from one place (a ConfigMap key holding values).
    pub fn add_whole(&mut self, v: &Value, prefix: &str, at: (u32, Span)) {
        let mut places = Places::default();
        whole_places(v, prefix, (at.0, at.1, at.1), &mut places, 0);
        self.layers.push(Layer { file: None, places: Rc::new(places), nulls: Vec::new() });
    }

    /// The maps a layer deleted a key of by setting it to null (`resources: {limits: null}`
    /// over a chart's default limits), by the map's path: where the latest such null is.
    fn nulled(&self) -> foldhash::HashMap<String, Origin> {
        let mut out = foldhash::HashMap::default();
        for (i, layer) in self.layers.iter().enumerate() {
            for path in &layer.nulls {
                let Some(origin) = self.origin(path).filter(|o| o.layer == i) else { continue };
                let parent = path.rsplit_once('\u{1f}').map_or("", |(p, _)| p);
                out.insert(parent.to_string(), origin);
            }
        }
        out
    }
}

/// The places of the values of a tree.
pub fn tree_places(t: &Tree<'_>, prefix: &str, out: &mut Places, depth: usize) {
    if depth > 100 {
        return;
    }
    match &t.value {
        TValue::Map(fields) => {
            for f in fields {
                let path = join(prefix, &f.key);
                let key_span = if f.key_file == f.value.file { f.key_span } else { f.value.span };
                out.insert(path.clone(), (f.value.file, key_span, f.value.span));
                tree_places(&f.value, &path, out, depth + 1);
            }
        }
        TValue::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let path = join_index(prefix, i);
                out.insert(path.clone(), (item.file, item.span, item.span));
                tree_places(item, &path, out, depth + 1);
            }
        }
        _ => {}
    }
}

/// The paths of a tree's null values.
fn tree_nulls(t: &Tree<'_>, prefix: &str, out: &mut Vec<String>, depth: usize) {
    if depth > 100 {
        return;
    }
    if let TValue::Map(fields) = &t.value {
        for f in fields {
            let path = join(prefix, &f.key);
            if matches!(f.value.value, TValue::Null) {
                out.push(path);
            } else {
                tree_nulls(&f.value, &path, out, depth + 1);
            }
        }
    }
}

/// Every path of a value, at one place.
fn whole_places(v: &Value, prefix: &str, at: Place, out: &mut Places, depth: usize) {
    if depth > 100 {
        return;
    }
    let mut put = |path: String, v: &Value| {
        out.insert(path.clone(), at);
        whole_places(v, &path, at, out, depth + 1);
    };
    match v {
        Value::Map(m) => {
            for (k, v) in m.borrow().iter() {
                put(join(prefix, k), v);
            }
        }
        Value::List(items) => {
            for (i, v) in items.iter().enumerate() {
                put(join_index(prefix, i), v);
            }
        }
        _ => {}
    }
}

fn join(prefix: &str, key: &str) -> String {
    // Written out by hand: paths are joined for each value of every release (with `format!`,
    // 3% of the instructions of rendering 200 releases of a tenant chart).
    let mut path = String::with_capacity(prefix.len() + 1 + key.len());
    if !prefix.is_empty() {
        path.push_str(prefix);
        path.push('\u{1f}');
    }
    path.push_str(key);
    path
}

/// [`join`] of a list index.
fn join_index(prefix: &str, index: usize) -> String {
    join(prefix, crate::render::tree::itoa(index, &mut [0; 20]))
}

/// The maps and texts of a release's values by the address of their storage: each one's path
/// and the value.
fn value_maps(v: &Value, path: &str, out: &mut ValueMaps, depth: usize) {
    if depth > 100 {
        return;
    }
    match v {
        Value::Str(text) if !text.is_empty() => {
            out.insert(
                std::rc::Rc::as_ptr(text).cast::<u8>().addr(),
                (path.to_string(), v.clone()),
            );
        }
        Value::Map(m) => {
            out.insert(std::rc::Rc::as_ptr(m).addr(), (path.to_string(), v.clone()));
            for (k, v) in m.borrow().iter() {
                value_maps(v, &join(path, k), out, depth + 1);
            }
        }
        Value::List(items) => {
            for (i, v) in items.iter().enumerate() {
                value_maps(v, &join_index(path, i), out, depth + 1);
            }
        }
        _ => {}
    }
}

/// A scalar as text (what the rendered YAML holds, or what a value prints as).
fn scalar_of_node(n: &Node) -> Option<Cow<'_, str>> {
    match &n.value {
        NodeValue::Seq(_) | NodeValue::Map(_) | NodeValue::Null => None,
        NodeValue::Str(s) => Some(Cow::Borrowed(s.as_str())),
        // As Go prints them (what a template's text says).
        NodeValue::Int(i) => Some(Cow::Owned(i.to_string())),
        NodeValue::Float(f) => Some(Cow::Owned(f.to_string())),
        NodeValue::Bool(b) => Some(Cow::Owned(b.to_string())),
    }
}

fn printed(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::Nil | Value::Map(_) | Value::List(_) | Value::Object(_) => None,
        Value::Str(s) => Some(Cow::Borrowed(s)),
        other => Some(Cow::Owned(crate::render::gotemplate::format::v(other))),
    }
}

/// Whether `text` is the value `printed` as a function changed it: cut short (`trunc 63`,
/// `trimSuffix "-"`) or with its case changed (`lower`, `upper`, `title`). Both at least three
/// characters long, so that a short value does not match by chance.
fn changed_by_function(printed: &str, text: &str) -> bool {
    if printed.len() < 3 || text.len() < 3 {
        return false;
    }
    // Compared in place: this runs for each value an action read that the scalar does not hold.
    let (text, printed) = (text.as_bytes(), printed.as_bytes());
    printed.starts_with(text)
        || text.windows(printed.len()).any(|w| w.eq_ignore_ascii_case(printed))
}

/// The maps and strings of the values by address: their path and value.
type ValueMaps = foldhash::HashMap<usize, (String, Value)>;

/// The values a release's templates read: where each came from.
struct Provenance<'a> {
    origins: &'a ValueOrigins,
    maps: ValueMaps,
    /// Maps of the values a null deleted a key of, by path (see [`ValueOrigins::nulled`]).
    nulled: foldhash::HashMap<String, Origin>,
}

impl Provenance<'_> {
    /// Where the `false` that turned a skipped branch off came from (of several values the
    /// condition read, the one of the latest layer); for a map that nulls emptied (`with
    /// .Values.resources` after `limits: null` took its only key), the latest of those nulls.
    fn switch(&self, skip: &crate::render::gotemplate::Skip) -> Option<Origin> {
        let mut best: Option<Origin> = None;
        for (path, value) in skip.read.iter().filter_map(|r| self.read_value(r)) {
            let origin = match &value {
                Value::Bool(false) => self.origins.origin(&path),
                Value::Map(m) if m.borrow().is_empty() => self.nulled.get(&*path).copied(),
                _ => None,
            };
            let Some(origin) = origin else { continue };
            if best.is_none_or(|b| origin.layer >= b.layer) {
                best = Some(origin);
            }
        }
        best
    }

    /// The path and value of what an action read of the values (none: not of the values).
    fn read_value(&self, (address, read): &ValueRead) -> Option<(Cow<'_, str>, Value)> {
        let (path, map) = self.maps.get(address)?;
        match read {
            Some(k) => {
                let Value::Map(m) = map else { return None };
                let v = m.borrow().get(&**k).cloned()?;
                Some((Cow::Owned(join(path, k)), v))
            }
            None => Some((Cow::Borrowed(path.as_str()), map.clone())),
        }
    }

    /// Where the scalar `text` (under `key`) that `mark`'s action wrote came from, if from the
    /// values: a value the action read that prints as the scalar (or begins it, or is in it),
    /// or that a function changed on the way (the scalar begins the value: `trunc`,
    /// `trimSuffix`; it is in the scalar but for case: `lower`, `upper`); or, in a map or list
    /// the action read whole (`toYaml`), the one leaf under that key that prints so.
    ///
    /// Of several such values (`printf "%s:%s" .repository .tag`), one the scalar is exactly
    /// wins, then one of the latest layer (what a release set over the chart's defaults), then
    /// the one read last.
    fn origin(&self, read: &[&ValueRead], key: Option<&str>, text: &str) -> Option<Place> {
        let mut best: Option<((bool, usize), Origin)> = None;
        let mut consider = |exact: bool, path: &str| {
            let Some(origin) = self.origins.origin(path) else { return };
            let rank = (exact, origin.layer);
            if best.as_ref().is_none_or(|(b, _)| rank > *b) {
                best = Some((rank, origin));
            }
        };
        for (path, value) in read.iter().rev().filter_map(|r| self.read_value(r)) {
            if let Some(p) = printed(&value) {
                let within = text.starts_with(&*p) || (p.len() >= 3 && text.contains(&*p));
                if !p.is_empty() && (within || changed_by_function(&p, text)) {
                    consider(text == p, &path);
                }
                continue;
            }
            // A leaf that prints as the text, under the same key (a list item: with none).
            let mut found = Vec::new();
            let wanted = |k: Option<&str>, item: &Value| {
                let same_key = match (key, k) {
                    (None, _) => true,
                    (Some(want), Some(k)) => want == k,
                    (Some(_), None) => false,
                };
                same_key && printed(item).is_some_and(|p| p == text)
            };
            find(&value, &path, &wanted, &mut found, 0);
            if let [only] = &found[..] {
                consider(true, only);
            }
        }
        best.map(|(_, o)| o.place())
    }
}

impl Provenance<'_> {
    /// Where a key that `mark`'s action wrote with a map or list under it came from (`toYaml`
    /// of values that hold it): the one place under what the action read with that key.
    fn key_origin(&self, read: &[ValueRead], key: &str) -> Option<(Place, String)> {
        for (path, value) in read.iter().rev().filter_map(|r| self.read_value(r)) {
            let mut found = Vec::new();
            let wanted = |k: Option<&str>, item: &Value| {
                k == Some(key) && matches!(item, Value::Map(_) | Value::List(_))
            };
            find(&value, &path, &wanted, &mut found, 0);
            if let [only] = &found[..] {
                return self.origins.get(only).map(|place| (place, only.clone()));
            }
        }
        None
    }
}

/// The paths of the entries below `v` (map entries with their key, list items without) that
/// `wanted` takes; the search stops at a second one.
fn find(
    v: &Value,
    path: &str,
    wanted: &dyn Fn(Option<&str>, &Value) -> bool,
    out: &mut Vec<String>,
    depth: usize,
) {
    if depth > 100 || out.len() > 1 {
        return;
    }
    // The path of an entry is made only for one wanted or searched in.
    let mut visit = |key: Option<&str>, sub: &dyn Fn() -> String, item: &Value| {
        let take = wanted(key, item);
        let inside = matches!(item, Value::Map(_) | Value::List(_));
        if !take && !inside {
            return;
        }
        let sub = sub();
        if inside {
            if take {
                out.push(sub.clone());
            }
            find(item, &sub, wanted, out, depth + 1);
        } else {
            out.push(sub);
        }
    };
    match v {
        Value::Map(m) => {
            for (k, item) in m.borrow().iter() {
                visit(Some(k), &|| join(path, k), item);
            }
        }
        Value::List(items) => {
            for (i, item) in items.iter().enumerate() {
                visit(None, &|| join_index(path, i), item);
            }
        }
        _ => {}
    }
}

/// Maps offsets of a template's output to positions in the template (`name`).
struct Mapping<'a> {
    /// The marks of this template (what an included helper wrote belongs to the action that
    /// included it), in output order.
    marks: Vec<&'a Mark>,
    /// What the marks' actions read (see [`Mark::read`]).
    reads: &'a [ValueRead],
    /// The branches of this template a switch turned off left out.
    skips: Vec<&'a crate::render::gotemplate::Skip>,
    template: &'a str,
    starts: &'a [usize],
    provenance: Option<&'a Provenance<'a>>,
    /// The index of the mark [`Mapping::mark`] found last.
    last_mark: std::cell::Cell<usize>,
    /// The template is ASCII (columns are byte counts).
    ascii: bool,
    /// The template line [`Mapping::position`] found last.
    last_line: std::cell::Cell<usize>,
}

impl<'a> Mapping<'a> {
    fn new(
        written: &'a Written,
        source: &'a std::rc::Rc<crate::render::gotemplate::Source>,
        provenance: Option<&'a Provenance<'a>>,
    ) -> Self {
        // One template's marks share its source (compared by address, not by name).
        let ours =
            |t: &std::rc::Rc<crate::render::gotemplate::Source>| std::rc::Rc::ptr_eq(t, source);
        let marks = written.marks.iter().filter(|m| ours(&m.template)).collect();
        let skips = written.skips.iter().filter(|s| ours(&s.template)).collect();
        let template = &*source.text;
        let starts = &source.line_starts;
        let last_mark = std::cell::Cell::new(0);
        let (ascii, last_line) = (source.ascii, std::cell::Cell::new(1));
        let reads = &written.reads[..];
        Mapping { marks, reads, skips, template, starts, provenance, last_mark, ascii, last_line }
    }

    /// What `mark`'s action read.
    fn read_of(&self, mark: &Mark) -> &'a [ValueRead] {
        &self.reads[mark.read.clone()]
    }

    /// The last mark of this template at or before the offset.
    fn mark(&self, offset: usize) -> Option<&Mark> {
        // Nodes are mapped in output order: the mark of the last offset asked is usually the
        // one (or the next), before a search.
        let hint = self.last_mark.get();
        let covers = |i: usize| {
            self.marks.get(i).is_some_and(|m| m.at <= offset)
                && self.marks.get(i + 1).is_none_or(|next| next.at > offset)
        };
        let found = if covers(hint) {
            Some(hint)
        } else if covers(hint + 1) {
            Some(hint + 1)
        } else {
            self.marks.partition_point(|m| m.at <= offset).checked_sub(1)
        };
        let i = found?;
        self.last_mark.set(i);
        Some(self.marks[i])
    }

    fn position(&self, offset: usize) -> Pos {
        let at = match self.mark(offset) {
            Some(m) if m.verbatim => m.pos + (offset - m.at),
            Some(m) => m.pos,
            None => 0,
        };
        let text = (self.template, self.ascii);
        pos_of(text, self.starts, at.min(self.template.len()), &self.last_line)
    }

    /// The template span of the output between two offsets.
    fn span(&self, (start, end): (usize, usize)) -> Span {
        let start = self.position(start);
        let end = self.position(end);
        Span::new(start, if end < start { start } else { end })
    }

    /// Where a scalar written by an action (at the offsets `start..end` of the output) came
    /// from, when from the values.
    fn value_origin(
        &self,
        t: &Node,
        key: Option<&str>,
        (start, end): (usize, usize),
    ) -> Option<Place> {
        let provenance = self.provenance?;
        // What the actions that wrote the scalar read (`"{{ .repository }}:{{ .tag }}"`: two);
        // text the template holds as it is was written by none.
        let marks = &self.marks;
        let from = marks.partition_point(|m| m.at <= start).saturating_sub(1);
        let to = marks.partition_point(|m| m.at < end.max(start + 1)).max(from);
        let writers = || marks[from..to].iter().filter(|m| !m.verbatim && !m.read.is_empty());
        writers().next()?;
        let text = scalar_of_node(t)?;
        let read: Vec<&ValueRead> = writers().flat_map(|m| self.read_of(m)).collect();
        provenance.origin(&read, key, &text)
    }

    /// Where a key written by an action, with a map or list under it, came from, when from
    /// the values.
    fn collection_origin(
        &self,
        f: &crate::load::yaml::Entry,
        piece: Piece<'_>,
    ) -> Option<(Place, String)> {
        let provenance = self.provenance?;
        if !matches!(f.value.value, NodeValue::Map(_) | NodeValue::Seq(_)) {
            return None;
        }
        let mark = self.mark(piece.offset(f.key_span.start()))?;
        if mark.verbatim || mark.read.is_empty() {
            return None;
        }
        provenance.key_origin(self.read_of(mark), &f.key)
    }

    /// Where a map or list an action wrote whole came from (`toYaml .Values.verbs` under a
    /// key the template holds): a map or list of the values it read, alike in kind and size.
    fn whole_origin(&self, t: &Node, piece: Piece<'_>) -> Option<(Place, String)> {
        let provenance = self.provenance?;
        let mark = self.mark(piece.offset(t.span.start()))?;
        if mark.verbatim || mark.read.is_empty() {
            return None;
        }
        let alike = |v: &Value| match (&t.value, v) {
            (NodeValue::Seq(items), Value::List(l)) => items.len() == l.len(),
            (NodeValue::Map(fields), Value::Map(m)) => fields.len() == m.borrow().len(),
            _ => false,
        };
        let (path, _) = self
            .read_of(mark)
            .iter()
            .rev()
            .filter_map(|r| provenance.read_value(r))
            .find(|(_, v)| alike(v))?;
        provenance.origins.get(&path).map(|place| (place, path.into_owned()))
    }

    /// Points a document's spans at where each of its fields came from; its nodes start in the
    /// template's file (`home`). The files of its nodes, as [`Placed::files`] holds them.
    fn remap(&self, n: &mut Node, home: u32, piece: Piece<'_>) -> Vec<u32> {
        let mut files = Vec::with_capacity(places(n));
        self.remap_from(n, None, piece, (None, 0), None, (home, &mut files));
        files
    }

    /// Where a switch turned off left something out of the map whose output is `range` and
    /// whose keys are at column `column`: the values line of that `false`. A skipped branch
    /// belongs to the map its text is indented as (its first line's keys); one whose
    /// indentation is not known, to the innermost map around it (not one of `inner`, its maps
    /// and lists).
    fn switch_origin(
        &self,
        range: (usize, usize),
        inner: &[(usize, usize)],
        column: Option<usize>,
    ) -> Option<Place> {
        let provenance = self.provenance?;
        let mut best: Option<Origin> = None;
        let within = |at: usize, (from, to): (usize, usize)| from <= at && at <= to;
        for skip in self.skips.iter().filter(|s| within(s.at, range)) {
            let here = match skip.indent {
                Some(indent) => column == Some(indent),
                None => !inner.iter().any(|&r| within(skip.at, r)),
            };
            if !here {
                continue;
            }
            let Some(origin) = provenance.switch(skip) else { continue };
            if best.is_none_or(|b| origin.layer >= b.layer) {
                best = Some(origin);
            }
        }
        best.map(Origin::place)
    }

    /// [`Mapping::remap`]; a map's output starts at `from` when given (at its key). With
    /// `offsets` (the node's, in the output) the node is known not to be from the values. The
    /// node's files are pushed onto `files`. Returns, for a map or list whose every entry is
    /// from another file than the template's (values, or maps or lists of them), the first
    /// entry's file and span.
    fn remap_from(
        &self,
        n: &mut Node,
        key: Option<&str>,
        piece: Piece<'_>,
        (from, depth): (Option<usize>, usize),
        offsets: Option<(usize, usize)>,
        (home, files): (u32, &mut Vec<u32>),
    ) -> Option<(u32, Span)> {
        let me = files.len();
        files.push(home);
        let (start, end) = if let Some(known) = offsets {
            known
        } else {
            let at = piece.offsets(n.span);
            // Only a scalar is found in the values: it has no nodes below.
            if let Some((file, _, span)) = self.value_origin(n, key, at) {
                (files[me], n.span) = (file, span);
                return None;
            }
            at
        };
        let range = (from.unwrap_or(start), end);
        n.span = self.span((start, end));
        if depth > 1000 {
            // The nodes below stay as parsed, in the template's file.
            files.resize(me + places(n), home);
            return None;
        }
        // The first entry's place, and whether every entry is from another file.
        let mut first = None;
        let mut all = true;
        let mut switched = None;
        match &mut n.value {
            NodeValue::Seq(items) => {
                for item in std::sync::Arc::make_mut(items).iter_mut() {
                    let at = files.len();
                    let next = (None, depth + 1);
                    if let Some((file, span)) =
                        self.remap_from(item, None, piece, next, None, (home, files))
                    {
                        (files[at], item.span) = (file, span);
                    }
                    first.get_or_insert((files[at], item.span));
                    all &= files[at] != home;
                }
            }
            NodeValue::Map(entries) => {
                let mut inner = Vec::new();
                // The column of its keys in the output (a block map's: where each key starts).
                let column = entries.first().map(|e| e.key_span.start().col as usize);
                for e in std::sync::Arc::make_mut(entries).iter_mut() {
                    let key_at = files.len();
                    files.push(home);
                    let value_at = files.len();
                    let value_offsets = piece.offsets(e.value.span);
                    if let Some((file, key_span, span)) =
                        self.value_origin(&e.value, Some(&e.key), value_offsets)
                    {
                        (files[key_at], e.key_span) = (file, key_span);
                        files.push(file);
                        e.value.span = span;
                        first.get_or_insert((file, span));
                        all &= file != home;
                        continue;
                    }
                    let from_values = self
                        .collection_origin(e, piece)
                        .or_else(|| self.whole_origin(&e.value, piece));
                    let key_offsets = piece.offsets(e.key_span);
                    let key_start = key_offsets.0;
                    if matches!(e.value.value, NodeValue::Map(_) | NodeValue::Seq(_)) {
                        inner.push((key_start, value_offsets.1));
                    }
                    e.key_span = self.span(key_offsets);
                    let next = (Some(key_start), depth + 1);
                    let below = self.remap_from(
                        &mut e.value,
                        Some(&e.key),
                        piece,
                        next,
                        Some(value_offsets),
                        (home, files),
                    );
                    if let Some(((file, key_span, _), path)) = from_values {
                        (files[key_at], e.key_span) = (file, key_span);
                        (files[value_at], e.value.span) = (file, key_span);
                        // A null took a key of it away (`limits: null`): a finding about
                        // the map is at that null.
                        let nulled = self.provenance.and_then(|p| p.nulled.get(&path));
                        if let Some(o) = nulled {
                            (files[value_at], e.value.span) = (o.file, o.key_span);
                        }
                    } else if let Some((file, span)) = below {
                        // A map or list the template holds whose every entry came from the
                        // values (a Secret's `stringData`): at the first of them.
                        (files[value_at], e.value.span) = (file, span);
                    }
                    first.get_or_insert((files[value_at], e.value.span));
                    all &= files[value_at] != home;
                }
                // A switch turned off left something out of this map (a `serviceAccountName`
                // under `if .Values.sync.impersonate`): a finding about the map is at that
                // `false`.
                switched = self.switch_origin(range, &inner, column);
            }
            _ => return None,
        }
        if let Some((file, key_span, _)) = switched {
            (files[me], n.span) = (file, key_span);
        }
        first.filter(|_| all)
    }
}

/// A template's error (`template: chart/templates/x.yaml:12:4: executing …`) as an error at
/// that template file and line of the chart at `dir`; a chain of nested calls (`include` of
/// `include` …) keeps its first and last two links.
fn template_error(message: &str, dir: &Path) -> Option<BuildError> {
    let rest = message.strip_prefix("template: ")?;
    let (name, after) = rest.split_once(':')?;
    let line: u32 = after.split(':').next()?.parse().ok()?;
    let in_chart = name.split_once('/').map_or(name, |(_, p)| p);
    let links: Vec<&str> = message.split(": template: ").collect();
    let message = if links.len() > 3 {
        let hidden = links.len() - 3;
        format!(
            "{}: template: … ({hidden} nested calls) …: template: {}: template: {}",
            links[0],
            links[links.len() - 2],
            links[links.len() - 1]
        )
    } else {
        message.to_string()
    };
    Some(BuildError {
        file: crate::render::disk::show(&dir.join(in_chart)),
        line: Some(line),
        message,
    })
}

/// The build file number of a chart's template (`chart/templates/x.yaml`, in the chart at
/// `dir`), read from disk when it is there.
fn template_file(
    disk: &Disk,
    (dir, chart): (&Path, &str),
    template: &crate::render::gotemplate::Source,
) -> u32 {
    let name = &template.name;
    let file_path = dir.join(name.strip_prefix(&format!("{chart}/")).unwrap_or(name));
    // Asked of the build's file table (every release of a chart asks for the same files).
    let real = disk.real(&file_path).filter(|_| disk.is_file(&file_path));
    disk.number(Read {
        path: file_path,
        real,
        loaded: None,
        text: Some(std::sync::Arc::clone(&template.text)),
        via: Vec::new(),
        built: true,
    })
}

/// Records the objects that branches of `written` a values switch turned off would have
/// written (a NetworkPolicy behind `networkPolicy.enabled: false`) as left out of the build,
/// at the `false` that turned them off: a rule that misses such an object points there.
fn left_out(disk: &Disk, (dir, chart): (&Path, &str), written: &Written, provenance: &Provenance) {
    for skip in &written.skips {
        let Some(would) = &skip.would else { continue };
        let Some(origin) = provenance.switch(skip) else { continue };
        let file = template_file(disk, (dir, chart), &skip.template);
        for (_, piece) in pieces(would) {
            let parsed = crate::load::yaml::parse_stream(piece, &disk.limits);
            for doc in parsed.documents.iter().filter(|d| d.root.get("kind").is_some()) {
                disk.deleted.borrow_mut().push(crate::render::disk::Deleted {
                    object: Tree::owned(&doc.root, file),
                    file: origin.file,
                    span: origin.span,
                    switch: true,
                });
            }
        }
    }
}

/// The documents of a template's output as Helm splits them (`---` lines), with the offset
/// each starts at.
fn pieces(text: &str) -> Vec<(usize, &str)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    // Only lines that start with `---` can be separators: found by search, not line by line.
    let first = bytes.starts_with(b"---").then_some(0);
    for at in first.into_iter().chain(memchr::memmem::find_iter(bytes, b"\n---").map(|i| i + 1)) {
        let end = memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |n| at + n + 1);
        if text[at + 3..end].trim().is_empty() {
            out.push((start, &text[start..at]));
            start = end;
        }
    }
    out.push((start, &text[start..]));
    out.retain(|(_, p)| !p.trim().is_empty());
    out
}

/// Renders a chart nothing deploys (at `dir`, a build path) as `helm template` does, with its
/// default values and, for a value set of the config (`charts:`), the values files `files`
/// (build paths) over them in turn, whose lines are where the values they set came from. The
/// objects are trees of the build's files (each template read numbered in `disk`). Test hooks
/// are left out: the cluster gets them only when someone runs `helm test`.
pub fn build<'a>(
    disk: &Disk<'a>,
    dir: &Path,
    files: &[std::path::PathBuf],
) -> Result<Vec<Tree<'a>>, BuildError> {
    let shown = crate::render::disk::show(dir);
    let fail = |message: String| BuildError { file: shown.clone(), line: None, message };
    let real =
        disk.real(dir).ok_or_else(|| fail("the chart is outside the root of the build".into()))?;
    let chart = load(&real).map_err(fail)?;
    let mut origins = ValueOrigins::default();
    super::release::chart_defaults(disk, dir, &mut origins);
    let mut values = Value::map(std::collections::BTreeMap::new());
    for file in files {
        values = origins.merge_tree(&values, &disk.definition(file, 0)?);
    }
    let options = Options {
        kube_version: super::release::DEFAULT_KUBE_VERSION.into(),
        record_reads: true,
        values,
        ..Options::default()
    };
    build_traced(disk, chart, dir, (&options, Some(&origins)))
}

/// Renders a loaded `chart` (at `dir`, a build path, or where its archive is) for a release.
pub fn build_chart<'a>(
    disk: &Disk<'a>,
    chart: Chart,
    dir: &Path,
    options: &Options,
) -> Result<Vec<Tree<'a>>, BuildError> {
    build_traced(disk, chart, dir, (options, None))
}

/// [`build_chart`]; with `origins` (and [`Options::record_reads`]), a scalar a template action
/// wrote from the values points at the values line that supplied it.
pub fn build_traced<'a>(
    disk: &Disk<'a>,
    chart: Chart,
    dir: &Path,
    traced: (&Options, Option<&ValueOrigins>),
) -> Result<Vec<Tree<'a>>, BuildError> {
    Ok(build_placed(disk, chart, dir, traced)?.iter().map(Placed::to_tree).collect())
}

/// [`build_traced`], each object the node it was parsed as (its spans where its fields came
/// from) with its nodes' files: what a release's objects become without building trees.
pub fn build_placed(
    disk: &Disk,
    chart: Chart,
    dir: &Path,
    (options, origins): (&Options, Option<&ValueOrigins>),
) -> Result<Vec<Placed>, BuildError> {
    let shown = crate::render::disk::show(dir);
    let fail = |message: String| BuildError { file: shown.clone(), line: None, message };
    let name = chart.name().to_string();
    let (_, values, rendered) =
        release(chart, options).map_err(|m| template_error(&m, dir).unwrap_or_else(|| fail(m)))?;
    let provenance = origins.filter(|_| options.record_reads).map(|origins| {
        let mut maps = ValueMaps::default();
        value_maps(&values, "", &mut maps, 0);
        Provenance { origins, maps, nulled: origins.nulled() }
    });
    let mut out = Vec::new();
    for (path, written) in &rendered {
        if let Some(provenance) = &provenance {
            left_out(disk, (dir, &name), written, provenance);
        }
        if path.ends_with("NOTES.txt") || written.text.trim().is_empty() {
            continue;
        }
        let Some(template) =
            written.marks.iter().find(|m| &m.template.name == path).map(|m| &m.template)
        else {
            continue;
        };
        let in_chart = path.strip_prefix(&format!("{name}/")).unwrap_or(path);
        let file = template_file(disk, (dir, &name), template);
        let mapping = Mapping::new(written, template, provenance.as_ref());
        for (base, piece) in pieces(&written.text) {
            let parsed = crate::load::yaml::parse_stream(piece, &disk.limits);
            if let Some(p) = parsed.first_problem_but_duplicate_keys() {
                let at = mapping.position(base + offset_of(piece, &line_starts(piece), p.pos));
                return Err(BuildError {
                    file: crate::render::disk::show(&dir.join(in_chart)),
                    line: Some(at.line),
                    message: format!("YAML parse error on {path}: {}", p.message),
                });
            }
            let starts = line_starts(piece);
            let at = Piece { text: piece, starts: &starts, base, ascii: piece.is_ascii() };
            for doc in parsed.documents {
                let root = doc.root;
                if root.is_null() {
                    continue;
                }
                let hook =
                    root.at(&["metadata", "annotations", "helm.sh/hook"]).and_then(Node::as_str);
                if hook.is_some_and(|h| h.split(',').any(|h| h.trim().starts_with("test"))) {
                    continue;
                }
                let mut node = root;
                let files = mapping.remap(&mut node, file, at);
                out.push(Placed { node, files });
            }
        }
    }
    // In Helm's install order (the order `helm template` prints), templates in path order
    // within a kind.
    out.sort_by_cached_key(|t| {
        super::template::kind_rank(t.node.get("kind").and_then(Node::as_str).unwrap_or(""))
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn output_splits_at_separator_lines_only() {
        let text = "---\na: 1\n--- \nb: 2\n---x\n--- # c\nc: 3\n  ---\n---\r\n\n---\nd: 4";
        let split = super::pieces(text);
        assert_eq!(
            split,
            vec![(4, "a: 1\n"), (14, "b: 2\n---x\n--- # c\nc: 3\n  ---\n"), (53, "d: 4"),]
        );
        for (at, piece) in super::pieces(text) {
            assert_eq!(&text[at..at + piece.len()], piece);
        }
        assert_eq!(super::pieces("a: 1\n"), vec![(0, "a: 1\n")]);
        assert!(super::pieces("---\n---\n").is_empty());
    }

    /// A piece known to be ASCII finds an offset as the character count does, past a line's
    /// end and past the last line too; one that is not counts characters.
    #[test]
    fn ascii_pieces_take_columns_as_bytes() {
        use crate::load::source::Pos;
        for text in ["a: 1\nbb: 22\n\nccc: 333", "é: ü\nname: ñandú\n", ""] {
            let starts = super::line_starts(text);
            let piece = super::Piece { text, starts: &starts, base: 7, ascii: text.is_ascii() };
            for line in 0..6 {
                for col in 0..12 {
                    let pos = Pos { line, col };
                    let want = 7 + super::offset_of(text, &starts, pos);
                    assert_eq!(piece.offset(pos), want, "{text:?} {line}:{col}");
                }
            }
        }
    }

    /// A position is the same whichever line the hint holds: forwards, backwards, at random,
    /// in ASCII text and in text with wider characters.
    #[test]
    fn positions_do_not_depend_on_the_hint() {
        use crate::load::source::Pos;
        use crate::render::gotemplate::exec::line_starts;
        for text in ["a: 1\nbb: 22\n\nccc: 333\n", "é: ü\nname: ñandú\n\n  - x\nz"] {
            let starts = line_starts(text);
            let ascii = text.is_ascii();
            // Counted out, character by character.
            let expected = |offset: usize| {
                let before = &text[..offset];
                let line = before.matches('\n').count() + 1;
                let col = before.rsplit('\n').next().unwrap().chars().count();
                Pos { line: line as u32, col: col as u32 }
            };
            let offsets: Vec<usize> =
                (0..=text.len()).filter(|&o| text.is_char_boundary(o)).collect();
            let mut orders = vec![offsets.clone(), offsets.iter().rev().copied().collect()];
            orders.push(offsets.iter().map(|&o| offsets[(o * 7 + 3) % offsets.len()]).collect());
            for order in orders {
                let hint = std::cell::Cell::new(1);
                for offset in order {
                    let got = super::pos_of((text, ascii), &starts, offset, &hint);
                    assert_eq!(got, expected(offset), "{text:?} at {offset}");
                }
            }
        }
    }
}
