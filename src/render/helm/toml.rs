//! Helm's TOML functions: `toToml` and `mustToToml` write a value as BurntSushi/toml's encoder
//! writes it (the library Helm uses: keys sorted, plain values before tables, a table's keys
//! indented two spaces per level, a blank line before each top-level table); `fromToml` reads
//! TOML (with the `toml` crate) into a map, or a map whose `Error` says why not.

use std::collections::BTreeMap;

use crate::render::gotemplate::format;
use crate::render::gotemplate::Value;

/// `fromToml`: the document as a map; integers stay integers, floats floats, dates and times
/// their text. A document that is not TOML gives `{Error: "toml: line N: …"}`, as Helm does.
pub(super) fn from_toml(text: &str) -> Value {
    match ::toml::from_str::<::toml::Table>(text) {
        Ok(table) => table_value(&table),
        Err(e) => {
            let line = e
                .span()
                .map_or(1, |s| 1 + text.bytes().take(s.start).filter(|&b| b == b'\n').count());
            let message = format!("toml: line {line}: {}", e.message().trim_end());
            Value::map(std::iter::once(("Error".to_string(), Value::string(&message))).collect())
        }
    }
}

fn table_value(table: &::toml::Table) -> Value {
    Value::map(table.iter().map(|(k, v)| (k.clone(), toml_value(v))).collect())
}

fn toml_value(v: &::toml::Value) -> Value {
    match v {
        ::toml::Value::String(s) => Value::string(s),
        ::toml::Value::Integer(i) => Value::Int(*i),
        ::toml::Value::Float(f) => Value::Float(*f),
        ::toml::Value::Boolean(b) => Value::Bool(*b),
        ::toml::Value::Datetime(d) => Value::string(&d.to_string()),
        ::toml::Value::Array(items) => Value::list(items.iter().map(toml_value).collect()),
        ::toml::Value::Table(t) => table_value(t),
    }
}

/// `toToml`: the value as TOML, or the encoder's error.
pub(super) fn to_toml(v: &Value) -> Result<String, String> {
    let mut enc = Encoder { out: String::new(), written: false, depth: 0 };
    enc.encode(&[], v)?;
    Ok(enc.out)
}

struct Encoder {
    out: String,
    /// Whether anything was written (a newline is written only after something).
    written: bool,
    depth: usize,
}

/// Deeper values are an error rather than a stack overflow.
const MAX_DEPTH: usize = 100;

fn bare(key: &str) -> bool {
    !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A string in double quotes with TOML's escapes (the encoder's replacer).
fn quoted(s: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::from("\"");
    for c in s.chars() {
        let short = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\u{8}' => "\\b",
            '\t' => "\\t",
            '\n' => "\\n",
            '\u{c}' => "\\f",
            '\r' => "\\r",
            _ => "",
        };
        if !short.is_empty() {
            out.push_str(short);
        } else if (c as u32) < 0x20 || c == '\u{7f}' {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    out.push('"');
    out
}

fn key_part(key: &str) -> String {
    if bare(key) {
        key.to_string()
    } else {
        quoted(key)
    }
}

/// A dotted key as a table header writes it.
fn dotted(key: &[String]) -> String {
    key.iter().map(|k| key_part(k)).collect::<Vec<_>>().join(".")
}

/// Whether a value is a table, or a list of them (written as a section, after the plain
/// values).
fn is_table(v: &Value) -> Result<bool, String> {
    match v {
        Value::Map(_) => Ok(true),
        Value::List(items) => table_array(items),
        _ => Ok(false),
    }
}

/// Whether every item of a non-empty list is a table; a `nil` item is an error.
fn table_array(items: &[Value]) -> Result<bool, String> {
    let mut all = !items.is_empty();
    for item in items {
        match item {
            Value::Nil => return Err("toml: cannot encode array with nil element".into()),
            Value::Map(_) => {}
            _ => all = false,
        }
    }
    Ok(all)
}

impl Encoder {
    fn write(&mut self, s: &str) {
        self.out.push_str(s);
        self.written = true;
    }

    fn newline(&mut self) {
        if self.written {
            self.write("\n");
        }
    }

    fn indent(key: &[String]) -> String {
        "  ".repeat(key.len().saturating_sub(1))
    }

    fn encode(&mut self, key: &[String], v: &Value) -> Result<(), String> {
        match v {
            Value::Nil => Ok(()),
            Value::Map(m) => self.table(key, &m.borrow()),
            Value::List(items) if table_array(items)? => self.tables(key, items),
            Value::Object(_) => Err(format!("unsupported type for key '{}'", dotted(key))),
            _ => self.key_value(key, v, false),
        }
    }

    fn table(&mut self, key: &[String], m: &BTreeMap<String, Value>) -> Result<(), String> {
        if key.len() == 1 {
            // A blank line between top-level tables (none before the first thing written).
            self.newline();
        }
        if !key.is_empty() {
            let header = format!("{}[{}]", Self::indent(key), dotted(key));
            self.write(&header);
            self.newline();
        }
        self.map(key, m, false)
    }

    fn tables(&mut self, key: &[String], items: &[Value]) -> Result<(), String> {
        if key.is_empty() {
            return Err("toml: top-level values must be Go maps or structs".into());
        }
        for item in items {
            let Value::Map(m) = item else { continue };
            self.newline();
            let header = format!("{}[[{}]]", Self::indent(key), dotted(key));
            self.write(&header);
            self.newline();
            self.map(key, &m.borrow(), false)?;
        }
        Ok(())
    }

    fn map(
        &mut self,
        key: &[String],
        m: &BTreeMap<String, Value>,
        inline: bool,
    ) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("toml: values nest deeper than {MAX_DEPTH} levels"));
        }
        // Plain values first, then tables, each in key order (Go's string order: bytes).
        let mut direct = Vec::new();
        let mut sub = Vec::new();
        for (k, v) in m {
            if is_table(v)? {
                sub.push((k, v));
            } else {
                direct.push((k, v));
            }
        }
        if inline {
            self.write("{");
        }
        let trailing = !sub.is_empty();
        for (group, trail) in [(direct, trailing), (sub, false)] {
            let last = group.len().saturating_sub(1);
            for (i, (k, v)) in group.into_iter().enumerate() {
                if matches!(v, Value::Nil) {
                    continue;
                }
                if inline {
                    self.key_value(std::slice::from_ref(k), v, true)?;
                    if trail || i != last {
                        self.write(", ");
                    }
                } else {
                    let mut child = key.to_vec();
                    child.push(k.clone());
                    self.encode(&child, v)?;
                }
            }
        }
        if inline {
            self.write("}");
        }
        self.depth -= 1;
        Ok(())
    }

    fn key_value(&mut self, key: &[String], v: &Value, inline: bool) -> Result<(), String> {
        if let Some(last) = key.last() {
            let head = format!("{}{} = ", Self::indent(key), key_part(last));
            self.write(&head);
        }
        self.element(v)?;
        if !inline && !key.is_empty() {
            self.newline();
        }
        Ok(())
    }

    fn element(&mut self, v: &Value) -> Result<(), String> {
        match v {
            Value::Str(s) => self.write(&quoted(s)),
            Value::Bool(b) => self.write(if *b { "true" } else { "false" }),
            Value::Int(i) => self.write(&i.to_string()),
            Value::Float(f) if f.is_nan() => {
                self.write(if f.is_sign_negative() { "-nan" } else { "nan" });
            }
            Value::Float(f) if f.is_infinite() => self.write(if *f < 0.0 { "-inf" } else { "inf" }),
            Value::Float(f) => {
                let text = format::float_g(*f, None, false);
                let text = if text.contains(['.', 'e']) { text } else { format!("{text}.0") };
                self.write(&text);
            }
            Value::List(items) => {
                table_array(items)?;
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(format!("toml: values nest deeper than {MAX_DEPTH} levels"));
                }
                self.write("[");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.write(", ");
                    }
                    self.element(item)?;
                }
                self.write("]");
                self.depth -= 1;
            }
            Value::Map(m) => self.map(&[], &m.borrow(), true)?,
            Value::Nil | Value::Object(_) => {
                return Err("toml: cannot encode a nil or unsupported value".into());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(j: &serde_json::Value) -> Value {
        Value::from_json(j)
    }

    #[test]
    fn values_are_written_as_helms_encoder_writes_them() {
        use serde_json::json;
        assert_eq!(to_toml(&v(&json!({"foo": "bar"}))).unwrap(), "foo = \"bar\"\n");
        let doc = json!({
            "name": "x", "n": 3, "ratio": 1.0, "big": 1e21, "on": true, "list": [1, 2],
            "a b": "q\"t",
            "table": {"k": "v", "sub": {"deep": 1}},
            "items": [{"i": 1}, {"i": 2}],
            "zero": {},
        });
        let want = "\"a b\" = \"q\\\"t\"\nbig = 1e+21\nlist = [1, 2]\nn = 3\nname = \"x\"\non = true\nratio = 1.0\n\n[[items]]\n  i = 1\n\n[[items]]\n  i = 2\n\n[table]\n  k = \"v\"\n  [table.sub]\n    deep = 1\n\n[zero]\n";
        assert_eq!(to_toml(&v(&doc)).unwrap(), want);
        assert_eq!(
            to_toml(&v(&json!({"inline": [{"a": 1}, 2]}))).unwrap(),
            "inline = [{a = 1}, 2]\n"
        );
        assert!(to_toml(&v(&json!({"x": [1, null]}))).unwrap_err().contains("nil element"));
    }

    #[test]
    fn toml_is_read_into_maps_or_an_error_map() {
        let m = from_toml("[table]\nkey = \"v\"\n[[arr]]\nn = 1\n[[arr]]\nf = 1.5\n");
        let Value::Map(m) = m else { panic!("a map") };
        let m = m.borrow();
        let Value::Map(table) = &m["table"] else { panic!("a table") };
        assert_eq!(table.borrow()["key"], Value::string("v"));
        let Value::List(arr) = &m["arr"] else { panic!("a list") };
        assert_eq!(arr.len(), 2);
        let Value::Map(bad) = from_toml("\n\none") else { panic!("a map") };
        let error = bad.borrow()["Error"].clone();
        let Value::Str(error) = error else { panic!("a string") };
        assert!(error.starts_with("toml: line 3: "), "{error}");
    }
}
