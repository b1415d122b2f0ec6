//! The values a Go template works on: what JSON and YAML data hold, with Go's distinction
//! between integers (`int`) and floats (`float64`), Go's truth, and Go's type names for
//! messages.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// A value in a template.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Go's nil: an absent map entry, `nil`, a JSON null.
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    List(Rc<Vec<Value>>),
    /// Keys in byte order, as Go's `range` and printing order them. Shared and mutable, as a
    /// Go map is: sprig's `set`, `unset` and `merge` change it where every holder sees it.
    Map(Rc<RefCell<BTreeMap<String, Value>>>),
}

impl Value {
    #[must_use]
    pub fn string(s: &str) -> Value {
        Value::Str(Rc::from(s))
    }

    #[must_use]
    pub fn map(entries: BTreeMap<String, Value>) -> Value {
        Value::Map(Rc::new(RefCell::new(entries)))
    }

    #[must_use]
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Rc::new(items))
    }

    /// A value of JSON data: integers stay integers, other numbers are floats.
    #[must_use]
    pub fn from_json(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::string(s),
            serde_json::Value::Array(a) => {
                Value::List(Rc::new(a.iter().map(Value::from_json).collect()))
            }
            serde_json::Value::Object(o) => {
                Value::map(o.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect())
            }
        }
    }

    /// Go's truth (`if`, `with`, `and`, `or`, `not`): false for nil, `false`, zero numbers,
    /// and empty strings, lists and maps.
    #[must_use]
    pub fn truth(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.borrow().is_empty(),
        }
    }

    /// The Go type name (`string`, `int`, `float64`, `[]interface {}`, …).
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::List(_) => "[]interface {}",
            Value::Map(_) => "map[string]interface {}",
        }
    }

    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}
