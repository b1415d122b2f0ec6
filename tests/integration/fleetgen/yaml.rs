//! The YAML the generator writes: a node model that keeps insertion order, and an emitter with
//! the styles hand-written repositories use.

use std::sync::OnceLock;

use regex::Regex;

/// A YAML node as the generator writes it: maps keep their insertion order.
#[derive(Clone)]
pub(super) enum Y {
    Bool(bool),
    Int(i64),
    Str(String),
    Map(Map),
    List(Vec<Y>),
    /// `key: &name` followed by the map.
    Anchor(&'static str, Map),
    /// `key: *name`.
    Alias(&'static str),
    /// A scalar followed by an inline comment.
    Note(Box<Y>, &'static str),
}

#[derive(Clone, Default)]
pub(super) struct Map(pub(super) Vec<(String, Y)>);

impl Map {
    pub(super) fn get(&self, key: &str) -> Option<&Y> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub(super) fn str(&self, key: &str) -> &str {
        match self.get(key) {
            Some(Y::Str(s)) => s,
            _ => "",
        }
    }

    /// Sets `key`, in place when it exists (as a Python dict does), else at the end.
    pub(super) fn set(&mut self, key: &str, value: impl Into<Y>) {
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => self.0.push((key.to_string(), value)),
        }
    }

    pub(super) fn remove(&mut self, key: &str) {
        self.0.retain(|(k, _)| k != key);
    }

    pub(super) fn map_mut(&mut self, key: &str) -> &mut Map {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some((_, Y::Map(m))) => m,
            _ => panic!("no map at {key}"),
        }
    }

    pub(super) fn list_mut(&mut self, key: &str) -> &mut Vec<Y> {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some((_, Y::List(l))) => l,
            _ => panic!("no list at {key}"),
        }
    }
}

impl From<&str> for Y {
    fn from(s: &str) -> Self {
        Y::Str(s.to_string())
    }
}
impl From<String> for Y {
    fn from(s: String) -> Self {
        Y::Str(s)
    }
}
impl From<&String> for Y {
    fn from(s: &String) -> Self {
        Y::Str(s.clone())
    }
}
impl From<i64> for Y {
    fn from(i: i64) -> Self {
        Y::Int(i)
    }
}
impl From<i32> for Y {
    fn from(i: i32) -> Self {
        Y::Int(i64::from(i))
    }
}
impl From<u32> for Y {
    fn from(i: u32) -> Self {
        Y::Int(i64::from(i))
    }
}
impl From<usize> for Y {
    fn from(i: usize) -> Self {
        Y::Int(i as i64)
    }
}
impl From<bool> for Y {
    fn from(b: bool) -> Self {
        Y::Bool(b)
    }
}
impl From<Map> for Y {
    fn from(m: Map) -> Self {
        Y::Map(m)
    }
}
impl From<Vec<Y>> for Y {
    fn from(l: Vec<Y>) -> Self {
        Y::List(l)
    }
}

macro_rules! map {
    ($($k:expr => $v:expr),* $(,)?) => {
        Map(vec![$((String::from($k), Y::from($v))),*])
    };
}

macro_rules! list {
    ($($v:expr),* $(,)?) => {
        vec![$(Y::from($v)),*]
    };
}

#[derive(Clone, Copy)]
pub(super) struct Style {
    /// Short lists of scalars as `[a, b]`.
    pub(super) flow: bool,
    /// Sequence items at their key's indentation.
    pub(super) indentless: bool,
}

pub(super) fn plain_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^[A-Za-z0-9_/.][A-Za-z0-9_./=@+:-]*(?: [A-Za-z0-9_./=@+-]+)*$").unwrap()
    })
}

pub(super) fn numlike_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"^(?:[-+]?(?:\d[\d_]*(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)|0x[0-9a-fA-F]+|0o[0-7]+|\d+(?::\d+)+|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        )
        .unwrap()
    })
}

/// A string plain when YAML reads it back as the same string, else double-quoted.
pub(super) fn scalar_str(s: &str) -> String {
    const RESERVED: [&str; 11] =
        ["true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", ""];
    if plain_re().is_match(s)
        && !s.ends_with(':')
        && !RESERVED.contains(&s.to_lowercase().as_str())
        && !numlike_re().is_match(s)
    {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap()
    }
}

pub(super) fn scalar(v: &Y) -> String {
    match v {
        Y::Bool(b) => b.to_string(),
        Y::Int(i) => i.to_string(),
        Y::Str(s) => scalar_str(s),
        _ => panic!("not a scalar"),
    }
}

pub(super) fn simple(v: &Y) -> bool {
    match v {
        Y::Bool(_) | Y::Int(_) => true,
        Y::Str(s) => !s.contains('\n'),
        _ => false,
    }
}

/// A literal block scalar: `|` keeps the final newline, `|-` strips it.
pub(super) fn block(prefix: &str, s: &str, ind: usize, out: &mut Vec<String>) {
    let body = s.strip_suffix('\n');
    out.push(format!("{prefix} {}", if body.is_some() { "|" } else { "|-" }));
    let pad = " ".repeat(ind + 2);
    for line in body.unwrap_or(s).split('\n') {
        out.push(if line.is_empty() { String::new() } else { format!("{pad}{line}") });
    }
}

/// `prefix` (the indented key) and its value, the key at indentation `ind`.
pub(super) fn emit_value(prefix: &str, v: &Y, ind: usize, out: &mut Vec<String>, st: Style) {
    match v {
        Y::Map(m) if m.0.is_empty() => out.push(format!("{prefix}: {{}}")),
        Y::Map(m) => {
            out.push(format!("{prefix}:"));
            emit_map(m, ind + 2, out, st);
        }
        Y::List(l) if l.is_empty() => out.push(format!("{prefix}: []")),
        Y::List(l) if st.flow && l.len() <= 6 && l.iter().all(simple) => {
            let items: Vec<String> = l.iter().map(scalar).collect();
            out.push(format!("{prefix}: [{}]", items.join(", ")));
        }
        Y::List(l) => {
            out.push(format!("{prefix}:"));
            emit_list(l, if st.indentless { ind } else { ind + 2 }, out, st);
        }
        Y::Str(s) if s.contains('\n') => block(&format!("{prefix}:"), s, ind, out),
        Y::Anchor(name, m) => {
            out.push(format!("{prefix}: &{name}"));
            emit_map(m, ind + 2, out, st);
        }
        Y::Alias(name) => out.push(format!("{prefix}: *{name}")),
        Y::Note(v, text) => out.push(format!("{prefix}: {}  # {text}", scalar(v))),
        Y::Bool(_) | Y::Int(_) | Y::Str(_) => out.push(format!("{prefix}: {}", scalar(v))),
    }
}

pub(super) fn emit_map(m: &Map, ind: usize, out: &mut Vec<String>, st: Style) {
    let pad = " ".repeat(ind);
    for (k, v) in &m.0 {
        emit_value(&format!("{pad}{}", scalar_str(k)), v, ind, out, st);
    }
}

/// Sequence items at indentation `ind`; a map item starts on the `- ` line.
pub(super) fn emit_list(l: &[Y], ind: usize, out: &mut Vec<String>, st: Style) {
    let pad = " ".repeat(ind);
    for item in l {
        match item {
            Y::Map(m) if !m.0.is_empty() => {
                let start = out.len();
                emit_map(m, ind + 2, out, st);
                out[start] = format!("{pad}- {}", &out[start][ind + 2..]);
            }
            Y::Str(s) if s.contains('\n') => block(&format!("{pad}-"), s, ind, out),
            _ => out.push(format!("{pad}- {}", scalar(item))),
        }
    }
}

pub(super) fn render_doc(doc: &Map, st: Style) -> String {
    let mut out = Vec::new();
    emit_map(doc, 0, &mut out, st);
    out.join("\n") + "\n"
}
