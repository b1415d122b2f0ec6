//! The values a Go template works on: what JSON and YAML data hold, with Go's distinction
//! between integers (`int`) and floats (`float64`), Go's truth, and Go's type names for
//! messages.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// A Go value with fields and methods plain data has not (Helm's `.Files`,
/// `.Capabilities`).
pub trait Object: std::fmt::Debug {
    /// The Go type name (`chartutil.Files`).
    fn type_name(&self) -> &'static str;
    /// A field, or a method called without arguments, by name.
    fn field(&self, name: &str) -> Option<Value>;
    /// A method called with arguments; `None` when there is no such method.
    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>>;
    /// How `%v` prints it.
    fn print(&self) -> String;
}

/// A value in a template.
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// Go's nil: an absent map entry, `nil`, a JSON null.
    #[default]
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    List(Rc<Vec<Value>>),
    /// Keys in byte order, as Go's `range` and printing order them. Shared and mutable, as a
    /// Go map is: sprig's `set`, `unset` and `merge` change it where every holder sees it.
    Map(Rc<RefCell<BTreeMap<String, Value>>>),
    /// A value with methods.
    Object(Rc<dyn Object>),
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Nil, Value::Nil) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::List(a), Value::List(b)) => a == b,
            (Value::Map(a), Value::Map(b)) => Rc::ptr_eq(a, b) || a == b,
            (Value::Object(a), Value::Object(b)) => Rc::ptr_eq(a, b),
            _ => false,
        }
    }
}

/// How deep [`Value::deep_copy`] copies; deeper maps and lists become nil (values come from
/// YAML and JSON whose depth the loader already bounds far below this).
const MAX_COPY_DEPTH: usize = 1000;

impl Value {
    /// A copy whose maps and lists share nothing with this one (Go maps are shared and
    /// mutable: sprig's `set` on the copy leaves the original alone).
    #[must_use]
    pub fn deep_copy(&self) -> Value {
        fn copy(v: &Value, depth: usize) -> Value {
            if depth > MAX_COPY_DEPTH {
                return Value::Nil;
            }
            match v {
                Value::List(l) => Value::list(l.iter().map(|x| copy(x, depth + 1)).collect()),
                Value::Map(m) => Value::map(
                    m.borrow().iter().map(|(k, x)| (k.clone(), copy(x, depth + 1))).collect(),
                ),
                other => other.clone(),
            }
        }
        copy(self, 0)
    }

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

    /// JSON (or YAML) data as Go's `json.Unmarshal` gives it to a template: every number a
    /// float64 (Helm's values, `fromJson`, `fromYaml`).
    #[must_use]
    pub fn from_json_floats(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::Array(a) => {
                Value::list(a.iter().map(Value::from_json_floats).collect())
            }
            serde_json::Value::Object(o) => {
                Value::map(o.iter().map(|(k, v)| (k.clone(), Value::from_json_floats(v))).collect())
            }
            other => Value::from_json(other),
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
            Value::Object(_) => true,
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
            Value::Object(o) => o.type_name(),
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
