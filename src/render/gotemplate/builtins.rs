//! Go's template builtins (Go's `text/template/funcs.go`): `not len index slice print printf
//! println html js urlquery call eq ne lt le gt ge` (`and` and `or` are evaluated lazily by
//! the executor).

use std::cmp::Ordering;
use std::fmt::Write as _;

use super::exec::{Exec, Funcs};
use super::format;
use super::value::Value;

type Result<T> = std::result::Result<T, String>;

pub(super) fn register(f: &mut Funcs) {
    // Present for the parser; the executor evaluates them itself.
    f.insert("and", |_, _| Ok(Value::Nil));
    f.insert("or", |_, _| Ok(Value::Nil));
    f.insert("not", |_, a| Ok(Value::Bool(!one(a, "not")?.truth())));
    f.insert("len", |_, a| len(one(a, "len")?));
    f.insert("index", index);
    f.insert("slice", slice);
    f.insert("print", |_, a| Ok(Value::string(&format::sprint(a))));
    f.insert("println", |_, a| Ok(Value::string(&format::sprintln(a))));
    f.insert("printf", |_, a| match a.split_first() {
        Some((Value::Str(fmt), rest)) => Ok(Value::string(&format::sprintf(&fmt[..], rest))),
        Some((other, _)) => {
            Err(format!("wrong type for value; expected string; got {}", other.type_name()))
        }
        None => Err("wrong number of args for printf: want at least 1 got 0".into()),
    });
    f.insert("html", |_, a| Ok(Value::string(&html(&joined(a)))));
    f.insert("js", |_, a| Ok(Value::string(&js(&joined(a)))));
    f.insert("urlquery", |_, a| Ok(Value::string(&urlquery(&joined(a)))));
    f.insert("call", |_, a| match a.first() {
        None => Err("wrong number of args for call: want at least 1 got 0".into()),
        Some(Value::Nil) => Err("call of nil".into()),
        Some(other) => Err(format!("non-function of type {}", other.type_name())),
    });
    f.insert("eq", |_, a| eq(a).map(Value::Bool));
    f.insert("ne", |_, a| {
        let [x, y] = two(a, "ne")?;
        eq(&[x.clone(), y.clone()]).map(|b| Value::Bool(!b))
    });
    f.insert("lt", |_, a| compare(a, "lt").map(|o| Value::Bool(o == Ordering::Less)));
    f.insert("le", |_, a| compare(a, "le").map(|o| Value::Bool(o != Ordering::Greater)));
    f.insert("gt", |_, a| compare(a, "gt").map(|o| Value::Bool(o == Ordering::Greater)));
    f.insert("ge", |_, a| compare(a, "ge").map(|o| Value::Bool(o != Ordering::Less)));
}

fn one<'a>(args: &'a [Value], name: &str) -> Result<&'a Value> {
    match args {
        [a] => Ok(a),
        _ => Err(format!("wrong number of args for {name}: want 1 got {}", args.len())),
    }
}

fn two<'a>(args: &'a [Value], name: &str) -> Result<[&'a Value; 2]> {
    match args {
        [a, b] => Ok([a, b]),
        _ => Err(format!("wrong number of args for {name}: want 2 got {}", args.len())),
    }
}

/// The text the escaping functions work on: a single string as is, else `fmt.Sprint`.
fn joined(args: &[Value]) -> String {
    match args {
        [Value::Str(s)] => s.to_string(),
        _ => format::sprint(args),
    }
}

fn len(v: &Value) -> Result<Value> {
    let n = match v {
        Value::Str(s) => s.len(),
        Value::List(l) => l.len(),
        Value::Map(m) => m.borrow().len(),
        Value::Nil => return Err("len of nil pointer".into()),
        other => return Err(format!("len of type {}", other.type_name())),
    };
    Ok(Value::Int(i64::try_from(n).unwrap_or(i64::MAX)))
}

/// An integer index (Go accepts any integer kind).
fn index_of(v: &Value, what: &str) -> Result<i64> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Nil => Err(format!("cannot index {what} with nil")),
        other => Err(format!("cannot index {what} with type {}", other.type_name())),
    }
}

fn index(_: &mut Exec<'_>, args: &[Value]) -> Result<Value> {
    let Some((item, indexes)) = args.split_first() else {
        return Err("wrong number of args for index: want at least 1 got 0".into());
    };
    let mut current = item.clone();
    for i in indexes {
        current = match &current {
            Value::List(items) => {
                let at = index_of(i, "slice/array")?;
                usize::try_from(at)
                    .ok()
                    .and_then(|at| items.get(at))
                    .cloned()
                    .ok_or_else(|| format!("error calling index: index out of range: {at}"))?
            }
            Value::Str(s) => {
                let at = index_of(i, "slice/array")?;
                let byte = usize::try_from(at)
                    .ok()
                    .and_then(|at| s.as_bytes().get(at))
                    .ok_or_else(|| format!("error calling index: index out of range: {at}"))?;
                Value::Int(i64::from(*byte))
            }
            Value::Map(m) => match i {
                Value::Str(key) => m.borrow().get(&**key).cloned().unwrap_or(Value::Nil),
                Value::Nil => return Err("value is nil; should be of type string".into()),
                other => {
                    return Err(format!("value has type {}; should be string", other.type_name()))
                }
            },
            Value::Nil => return Err("index of untyped nil".into()),
            other => return Err(format!("can't index item of type {}", other.type_name())),
        };
    }
    Ok(current)
}

fn slice(_: &mut Exec<'_>, args: &[Value]) -> Result<Value> {
    let Some((item, bounds)) = args.split_first() else {
        return Err("wrong number of args for slice: want at least 1 got 0".into());
    };
    if bounds.len() > 3 {
        return Err(format!("too many slice indexes: {}", bounds.len()));
    }
    let len = match item {
        Value::Str(s) => {
            if bounds.len() == 3 {
                return Err("cannot 3-index slice a string".into());
            }
            s.len()
        }
        Value::List(l) => l.len(),
        Value::Nil => return Err("slice of untyped nil".into()),
        other => return Err(format!("can't slice item of type {}", other.type_name())),
    };
    let mut idx = [0usize, len, len];
    for (i, b) in bounds.iter().enumerate() {
        let at = index_of(b, "slice/array")?;
        idx[i] = usize::try_from(at)
            .ok()
            .filter(|a| *a <= len)
            .ok_or_else(|| format!("index out of range: {at}"))?;
    }
    if bounds.is_empty() {
        idx[1] = len;
    }
    if idx[0] > idx[1] {
        return Err(format!("invalid slice index: {} > {}", idx[0], idx[1]));
    }
    if bounds.len() == 3 && idx[1] > idx[2] {
        return Err(format!("invalid slice index: {} > {}", idx[1], idx[2]));
    }
    Ok(match item {
        Value::Str(s) => Value::string(s.get(idx[0]..idx[1]).ok_or("slice splits a character")?),
        Value::List(l) => Value::List(std::rc::Rc::new(l[idx[0]..idx[1]].to_vec())),
        _ => unreachable!("checked above"),
    })
}

/// Go's comparison kinds: values of different kinds do not compare.
#[derive(PartialEq, Eq)]
enum Kind {
    Bool,
    Int,
    Float,
    Str,
    Nil,
    Other,
}

fn kind(v: &Value) -> Kind {
    match v {
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) => Kind::Int,
        Value::Float(_) => Kind::Float,
        Value::Str(_) => Kind::Str,
        Value::Nil => Kind::Nil,
        _ => Kind::Other,
    }
}

/// `eq a b c…`: whether `a` equals any of the others.
fn eq(args: &[Value]) -> Result<bool> {
    let Some((first, rest)) = args.split_first() else {
        return Err("wrong number of args for eq: want at least 1 got 0".into());
    };
    if rest.is_empty() {
        return Err("missing argument for comparison".into());
    }
    for other in rest {
        let (k1, k2) = (kind(first), kind(other));
        let equal = if k1 == k2 {
            match (first, other) {
                (Value::List(_) | Value::Map(_), _) => {
                    return Err(format!(
                        "non-comparable type {}: {}",
                        format::v(first),
                        first.type_name()
                    ))
                }
                _ => first == other,
            }
        } else if k1 != Kind::Nil && k2 != Kind::Nil {
            return Err("incompatible types for comparison".into());
        } else {
            false
        };
        if equal {
            return Ok(true);
        }
    }
    Ok(false)
}

fn compare(args: &[Value], name: &str) -> Result<Ordering> {
    let [a, b] = two(args, name)?;
    let (k1, k2) = (kind(a), kind(b));
    if matches!(k1, Kind::Bool | Kind::Nil | Kind::Other)
        || matches!(k2, Kind::Bool | Kind::Nil | Kind::Other)
    {
        return Err("invalid type for comparison".into());
    }
    if k1 != k2 {
        return Err("incompatible types for comparison".into());
    }
    Ok(match (a, b) {
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Value::Str(x), Value::Str(y)) => x.cmp(y),
        _ => Ordering::Equal,
    })
}

/// `template.HTMLEscapeString`.
fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// `template.JSEscapeString`.
fn js(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// `url.QueryEscape`.
fn urlquery(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            b => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}
