//! CEL evaluation, first slice: values, variables, field and index selection (with
//! optionals), operators with CEL's error absorption in `&&` and `||`, the conditional, list
//! and map literals, `has()` and the comprehension macros. Functions and the Kubernetes
//! libraries come next (issue 9).

use std::collections::BTreeMap;
use std::rc::Rc;

use super::parser::{BinaryOp, Expr, UnaryOp};

/// A CEL value.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Double(f64),
    String(Rc<str>),
    Bytes(Rc<[u8]>),
    List(Rc<Vec<Val>>),
    /// Entries in insertion order (keys are compared by value).
    Map(Rc<Vec<(Val, Val)>>),
    /// `optional.of(x)` / `optional.none()`, and what `a.?b` yields.
    Optional(Option<Rc<Val>>),
}

impl Val {
    /// A JSON document as CEL sees it (integers are `int`, other numbers `double`).
    #[must_use]
    pub fn from_json(v: &serde_json::Value) -> Val {
        match v {
            serde_json::Value::Null => Val::Null,
            serde_json::Value::Bool(b) => Val::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Val::Int(i),
                None => n
                    .as_u64()
                    .map_or_else(|| Val::Double(n.as_f64().unwrap_or(f64::NAN)), Val::Uint),
            },
            serde_json::Value::String(s) => Val::String(s.as_str().into()),
            serde_json::Value::Array(items) => {
                Val::List(Rc::new(items.iter().map(Val::from_json).collect()))
            }
            serde_json::Value::Object(map) => Val::Map(Rc::new(
                map.iter()
                    .map(|(k, v)| (Val::String(k.as_str().into()), Val::from_json(v)))
                    .collect(),
            )),
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            Val::Null => "null_type",
            Val::Bool(_) => "bool",
            Val::Int(_) => "int",
            Val::Uint(_) => "uint",
            Val::Double(_) => "double",
            Val::String(_) => "string",
            Val::Bytes(_) => "bytes",
            Val::List(_) => "list",
            Val::Map(_) => "map",
            Val::Optional(_) => "optional_type",
        }
    }
}

/// Why an evaluation failed (CEL errors are values that `&&` and `||` may absorb).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalError(pub String);

type Result<T> = std::result::Result<T, EvalError>;

fn err<T>(message: impl Into<String>) -> Result<T> {
    Err(EvalError(message.into()))
}

/// Variables in scope: the activation, then comprehension variables on top.
pub struct Env<'a> {
    vars: &'a BTreeMap<String, Val>,
    locals: Vec<(String, Val)>,
    steps: usize,
    budget: usize,
}

impl<'a> Env<'a> {
    #[must_use]
    pub fn new(vars: &'a BTreeMap<String, Val>, budget: usize) -> Self {
        Env { vars, locals: Vec::new(), steps: 0, budget }
    }

    fn lookup(&self, name: &str) -> Option<Val> {
        self.locals
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .or_else(|| self.vars.get(name).cloned())
    }
}

/// Evaluates an expression.
#[allow(clippy::many_single_char_names, reason = "one arm per node, each naming its literal")]
pub fn eval(e: &Expr, env: &mut Env<'_>) -> Result<Val> {
    env.steps += 1;
    if env.steps > env.budget {
        return err(format!("evaluation exceeded {} steps", env.budget));
    }
    match e {
        Expr::Null => Ok(Val::Null),
        Expr::Bool(b) => Ok(Val::Bool(*b)),
        Expr::Int(i) => Ok(Val::Int(*i)),
        Expr::Uint(u) => Ok(Val::Uint(*u)),
        Expr::Double(d) => Ok(Val::Double(*d)),
        Expr::String(s) => Ok(Val::String(s.as_str().into())),
        Expr::Bytes(b) => Ok(Val::Bytes(b.as_slice().into())),
        Expr::Ident(name) => {
            env.lookup(name).map_or_else(|| err(format!("undeclared reference to `{name}`")), Ok)
        }
        Expr::Select { operand, field, optional } => {
            let base = eval(operand, env)?;
            select(&base, field, *optional)
        }
        Expr::Index { operand, index, optional } => {
            let base = eval(operand, env)?;
            let key = eval(index, env)?;
            index_into(&base, &key, *optional)
        }
        Expr::List(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (item, optional) in items {
                match (eval(item, env)?, optional) {
                    (Val::Optional(Some(v)), true) => out.push((*v).clone()),
                    (Val::Optional(None), true) => {}
                    (_, true) => return err("an optional list element must be an optional value"),
                    (v, false) => out.push(v),
                }
            }
            Ok(Val::List(Rc::new(out)))
        }
        Expr::Map(entries) => {
            let mut out: Vec<(Val, Val)> = Vec::with_capacity(entries.len());
            for (k, v, optional) in entries {
                let key = eval(k, env)?;
                let value = match (eval(v, env)?, optional) {
                    (Val::Optional(Some(v)), true) => (*v).clone(),
                    (Val::Optional(None), true) => continue,
                    (_, true) => return err("an optional map entry must be an optional value"),
                    (v, false) => v,
                };
                if out.iter().any(|(k2, _)| equal(k2, &key)) {
                    return err("a map literal repeats a key");
                }
                out.push((key, value));
            }
            Ok(Val::Map(Rc::new(out)))
        }
        Expr::Struct { name, .. } => {
            err(format!("message construction `{name}{{…}}` is not supported yet"))
        }
        Expr::Unary(op, inner) => match (op, eval(inner, env)?) {
            (UnaryOp::Not, Val::Bool(b)) => Ok(Val::Bool(!b)),
            (UnaryOp::Negate, Val::Int(i)) => {
                i.checked_neg().map(Val::Int).ok_or_else(|| EvalError("integer overflow".into()))
            }
            (UnaryOp::Negate, Val::Double(d)) => Ok(Val::Double(-d)),
            (op, v) => err(format!("no such overload: {op:?} {}", v.type_name())),
        },
        Expr::Binary(BinaryOp::And, l, r) => logic(l, r, env, false),
        Expr::Binary(BinaryOp::Or, l, r) => logic(l, r, env, true),
        Expr::Binary(op, l, r) => {
            let a = eval(l, env)?;
            let b = eval(r, env)?;
            binary(*op, &a, &b)
        }
        Expr::Conditional(c, then, otherwise) => match eval(c, env)? {
            Val::Bool(true) => eval(then, env),
            Val::Bool(false) => eval(otherwise, env),
            other => err(format!("no such overload: {} ? _ : _", other.type_name())),
        },
        Expr::Call { target, function, args } => call(target.as_deref(), function, args, env),
    }
}

/// `&&` (`short` false) and `||` (`short` true): the short-circuit value wins over an error on
/// either side, as in CEL.
fn logic(l: &Expr, r: &Expr, env: &mut Env<'_>, short: bool) -> Result<Val> {
    let left = eval(l, env);
    if left == Ok(Val::Bool(short)) {
        return Ok(Val::Bool(short));
    }
    let right = eval(r, env);
    if right == Ok(Val::Bool(short)) {
        return Ok(Val::Bool(short));
    }
    match (left?, right?) {
        (Val::Bool(_), Val::Bool(b)) => Ok(Val::Bool(b)),
        (a, b) => err(format!(
            "no such overload: {} {} {}",
            a.type_name(),
            if short { "||" } else { "&&" },
            b.type_name()
        )),
    }
}

fn select(base: &Val, field: &str, optional: bool) -> Result<Val> {
    let base = match base {
        Val::Optional(None) => return Ok(Val::Optional(None)),
        Val::Optional(Some(v)) => (**v).clone(),
        other => other.clone(),
    };
    let Val::Map(entries) = &base else {
        return err(format!("type `{}` has no field `{field}`", base.type_name()));
    };
    let found = entries
        .iter()
        .find(|(k, _)| matches!(k, Val::String(s) if &**s == field))
        .map(|(_, v)| v.clone());
    match (found, optional) {
        (Some(v), true) => Ok(Val::Optional(Some(Rc::new(v)))),
        (None, true) => Ok(Val::Optional(None)),
        (Some(v), false) => Ok(v),
        (None, false) => err(format!("no such key: {field}")),
    }
}

fn index_into(base: &Val, key: &Val, optional: bool) -> Result<Val> {
    let base = match base {
        Val::Optional(None) => return Ok(Val::Optional(None)),
        Val::Optional(Some(v)) => (**v).clone(),
        other => other.clone(),
    };
    let found = match (&base, key) {
        (Val::List(items), Val::Int(_) | Val::Uint(_)) => {
            let i = match key {
                Val::Int(i) => usize::try_from(*i).ok(),
                Val::Uint(u) => usize::try_from(*u).ok(),
                _ => None,
            };
            i.and_then(|i| items.get(i)).cloned()
        }
        (Val::Map(entries), k) => {
            entries.iter().find(|(k2, _)| equal(k2, k)).map(|(_, v)| v.clone())
        }
        (b, k) => return err(format!("no such overload: {}[{}]", b.type_name(), k.type_name())),
    };
    match (found, optional) {
        (Some(v), true) => Ok(Val::Optional(Some(Rc::new(v)))),
        (None, true) => Ok(Val::Optional(None)),
        (Some(v), false) => Ok(v),
        (None, false) => err("index out of range or no such key"),
    }
}

/// CEL equality: numbers compare across int, uint and double; lists and maps deeply.
#[must_use]
pub fn equal(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (
            Val::Int(_) | Val::Uint(_) | Val::Double(_),
            Val::Int(_) | Val::Uint(_) | Val::Double(_),
        ) => compare_numbers(a, b) == Some(std::cmp::Ordering::Equal),
        (Val::List(x), Val::List(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(a, b)| equal(a, b))
        }
        (Val::Map(x), Val::Map(y)) => {
            x.len() == y.len()
                && x.iter().all(|(k, v)| y.iter().any(|(k2, v2)| equal(k, k2) && equal(v, v2)))
        }
        _ => a == b,
    }
}

fn compare_numbers(a: &Val, b: &Val) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Val::Int(x), Val::Int(y)) => Some(x.cmp(y)),
        (Val::Uint(x), Val::Uint(y)) => Some(x.cmp(y)),
        (Val::Int(x), Val::Uint(y)) => Some(i128::from(*x).cmp(&i128::from(*y))),
        (Val::Uint(x), Val::Int(y)) => Some(i128::from(*x).cmp(&i128::from(*y))),
        _ => {
            let f = |v: &Val| match v {
                Val::Int(i) => Some(*i as f64),
                Val::Uint(u) => Some(*u as f64),
                Val::Double(d) => Some(*d),
                _ => None,
            };
            f(a)?.partial_cmp(&f(b)?)
        }
    }
}

#[allow(clippy::many_single_char_names, reason = "operands a, b; their contents x, y")]
fn binary(op: BinaryOp, a: &Val, b: &Val) -> Result<Val> {
    use std::cmp::Ordering;
    let overload = || err(format!("no such overload: {} {op:?} {}", a.type_name(), b.type_name()));
    match op {
        BinaryOp::Eq => Ok(Val::Bool(equal(a, b))),
        BinaryOp::Ne => Ok(Val::Bool(!equal(a, b))),
        BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
            let ord = match (a, b) {
                (Val::String(x), Val::String(y)) => Some(x.cmp(y)),
                (Val::Bool(x), Val::Bool(y)) => Some(x.cmp(y)),
                (Val::Bytes(x), Val::Bytes(y)) => Some(x.cmp(y)),
                _ => compare_numbers(a, b),
            };
            let Some(ord) = ord else { return overload() };
            Ok(Val::Bool(match op {
                BinaryOp::Lt => ord == Ordering::Less,
                BinaryOp::Le => ord != Ordering::Greater,
                BinaryOp::Gt => ord == Ordering::Greater,
                _ => ord != Ordering::Less,
            }))
        }
        BinaryOp::In => match b {
            Val::List(items) => Ok(Val::Bool(items.iter().any(|v| equal(v, a)))),
            Val::Map(entries) => Ok(Val::Bool(entries.iter().any(|(k, _)| equal(k, a)))),
            _ => overload(),
        },
        BinaryOp::Add => match (a, b) {
            (Val::Int(x), Val::Int(y)) => {
                x.checked_add(*y).map(Val::Int).ok_or_else(|| EvalError("integer overflow".into()))
            }
            (Val::Uint(x), Val::Uint(y)) => x
                .checked_add(*y)
                .map(Val::Uint)
                .ok_or_else(|| EvalError("unsigned integer overflow".into())),
            (Val::Double(x), Val::Double(y)) => Ok(Val::Double(x + y)),
            (Val::String(x), Val::String(y)) => Ok(Val::String(format!("{x}{y}").into())),
            (Val::List(x), Val::List(y)) => {
                Ok(Val::List(Rc::new(x.iter().chain(y.iter()).cloned().collect())))
            }
            _ => overload(),
        },
        BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => match (a, b) {
            (Val::Int(x), Val::Int(y)) => {
                let r = match op {
                    BinaryOp::Sub => x.checked_sub(*y),
                    BinaryOp::Mul => x.checked_mul(*y),
                    BinaryOp::Div if *y == 0 => return err("division by zero"),
                    BinaryOp::Div => x.checked_div(*y),
                    _ if *y == 0 => return err("modulus by zero"),
                    _ => x.checked_rem(*y),
                };
                r.map(Val::Int).ok_or_else(|| EvalError("integer overflow".into()))
            }
            (Val::Double(x), Val::Double(y)) => Ok(Val::Double(match op {
                BinaryOp::Sub => x - y,
                BinaryOp::Mul => x * y,
                BinaryOp::Div => x / y,
                _ => return overload(),
            })),
            _ => overload(),
        },
        BinaryOp::And | BinaryOp::Or => overload(),
    }
}

fn call(target: Option<&Expr>, function: &str, args: &[Expr], env: &mut Env<'_>) -> Result<Val> {
    // Macros: their arguments are not evaluated first.
    match (target, function, args) {
        (None, "has", [Expr::Select { operand, field, optional: false }]) => {
            return match eval(operand, env)? {
                Val::Map(entries) => Ok(Val::Bool(
                    entries.iter().any(|(k, _)| matches!(k, Val::String(s) if &**s == field)),
                )),
                other => err(format!("has() on type `{}`", other.type_name())),
            };
        }
        (None, "has", _) => return err("has() needs a field selection, like has(a.b)"),
        (Some(range), "all" | "exists" | "exists_one" | "filter", [Expr::Ident(var), pred]) => {
            return comprehension(range, function, var, None, pred, env);
        }
        (Some(range), "map", [Expr::Ident(var), transform]) => {
            return comprehension(range, "map", var, None, transform, env);
        }
        (Some(range), "map", [Expr::Ident(var), filter, transform]) => {
            return comprehension(range, "map", var, Some(filter), transform, env);
        }
        _ => {}
    }
    let receiver = target.map(|t| eval(t, env)).transpose()?;
    let values = args.iter().map(|a| eval(a, env)).collect::<Result<Vec<_>>>()?;
    match (receiver, function, values.as_slice()) {
        (Some(Val::Optional(o)), "orValue", [default]) => {
            Ok(o.map_or_else(|| default.clone(), |v| (*v).clone()))
        }
        (Some(Val::Optional(o)), "hasValue", []) => Ok(Val::Bool(o.is_some())),
        (Some(Val::Optional(Some(v))), "value", []) => Ok((*v).clone()),
        (None, "size", [v]) => size(v),
        (Some(v), "size", []) => size(&v),
        (Some(Val::String(s)), "startsWith", [Val::String(p)]) => {
            Ok(Val::Bool(s.starts_with(&**p)))
        }
        (Some(Val::String(s)), "endsWith", [Val::String(p)]) => Ok(Val::Bool(s.ends_with(&**p))),
        (Some(Val::String(s)), "contains", [Val::String(p)]) => Ok(Val::Bool(s.contains(&**p))),
        (Some(Val::String(s)), "matches", [Val::String(p)]) => matches(&s, p),
        (None, "matches", [Val::String(s), Val::String(p)]) => matches(s, p),
        (Some(receiver @ Val::String(_)), name, values) => strings(&receiver, name, values),
        (Some(Val::List(items)), "join", sep) => {
            let sep = match sep {
                [] => "",
                [Val::String(s)] => s,
                _ => return err("join() takes an optional string separator"),
            };
            let parts: Vec<&str> = items
                .iter()
                .map(|v| match v {
                    Val::String(s) => Ok(&**s),
                    other => err(format!("join() on a list holding `{}`", other.type_name())),
                })
                .collect::<Result<_>>()?;
            Ok(Val::String(parts.join(sep).into()))
        }
        (None, "dyn", [v]) => Ok(v.clone()),
        (None, "string", [v]) => to_string(v),
        (None, "int", [v]) => to_int(v),
        (receiver, name, values) => err(format!(
            "no such function: {}{name}({})",
            receiver.map(|r| format!("{}.", r.type_name())).unwrap_or_default(),
            values.iter().map(Val::type_name).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// `matches`: RE2 syntax, as CEL specifies (the `regex` crate is RE2-like), size-bounded.
fn matches(text: &str, pattern: &str) -> Result<Val> {
    let re = regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| EvalError(format!("invalid regular expression `{pattern}`: {e}")))?;
    Ok(Val::Bool(re.is_match(text)))
}

/// The string library (cel-go's `ext.Strings`, as Kubernetes enables it).
fn strings(receiver: &Val, name: &str, args: &[Val]) -> Result<Val> {
    let Val::String(text) = receiver else { return err("not a string") };
    let text: &str = text;
    let string = |v: &str| Ok(Val::String(v.into()));
    let index = |i: &Val| match i {
        Val::Int(i) => usize::try_from(*i).ok().filter(|i| *i <= text.chars().count()),
        _ => None,
    };
    // Character offsets, as CEL counts them, to byte offsets.
    let byte_at = |chars: usize| text.char_indices().nth(chars).map_or(text.len(), |(b, _)| b);
    match (name, args) {
        ("lowerAscii", []) => string(&text.to_ascii_lowercase()),
        ("upperAscii", []) => string(&text.to_ascii_uppercase()),
        ("trim", []) => string(text.trim()),
        ("split", [Val::String(sep)]) => {
            Ok(Val::List(Rc::new(text.split(&**sep).map(|p| Val::String(p.into())).collect())))
        }
        ("replace", [Val::String(from), Val::String(to)]) => string(&text.replace(&**from, to)),
        ("indexOf" | "lastIndexOf", [Val::String(needle)]) => {
            let found =
                if name == "indexOf" { text.find(&**needle) } else { text.rfind(&**needle) };
            let chars =
                found.map_or(-1, |b| i64::try_from(text[..b].chars().count()).unwrap_or(-1));
            Ok(Val::Int(chars))
        }
        ("substring", [from]) => {
            let from =
                index(from).ok_or_else(|| EvalError("substring index out of range".into()))?;
            string(&text[byte_at(from)..])
        }
        ("substring", [from, to]) => {
            let (Some(from), Some(to)) = (index(from), index(to)) else {
                return err("substring index out of range");
            };
            if from > to {
                return err("substring: start after end");
            }
            string(&text[byte_at(from)..byte_at(to)])
        }
        _ => err(format!(
            "no such function: string.{name}({})",
            args.iter().map(Val::type_name).collect::<Vec<_>>().join(", ")
        )),
    }
}

fn to_string(v: &Val) -> Result<Val> {
    Ok(Val::String(match v {
        Val::String(s) => return Ok(Val::String(s.clone())),
        Val::Bool(b) => b.to_string().into(),
        Val::Int(i) => i.to_string().into(),
        Val::Uint(u) => u.to_string().into(),
        Val::Double(d) => d.to_string().into(),
        Val::Bytes(b) => String::from_utf8(b.to_vec())
            .map_err(|_| EvalError("string(): invalid UTF-8".into()))?
            .into(),
        other => return err(format!("no such overload: string({})", other.type_name())),
    }))
}

fn to_int(v: &Val) -> Result<Val> {
    match v {
        Val::Int(i) => Ok(Val::Int(*i)),
        Val::Uint(u) => {
            i64::try_from(*u).map(Val::Int).map_err(|_| EvalError("int(): out of range".into()))
        }
        #[allow(clippy::cast_possible_truncation, reason = "range checked before the cast")]
        Val::Double(d)
            if d.is_finite() && *d > -9.223_372_036_854_776e18 && *d < 9.223_372_036_854_776e18 =>
        {
            Ok(Val::Int(d.trunc() as i64))
        }
        Val::String(s) => s
            .parse()
            .map(Val::Int)
            .map_err(|_| EvalError(format!("int(): `{s}` is not an integer"))),
        other => err(format!("no such overload: int({})", other.type_name())),
    }
}

fn size(v: &Val) -> Result<Val> {
    let n = match v {
        Val::String(s) => s.chars().count(),
        Val::Bytes(b) => b.len(),
        Val::List(l) => l.len(),
        Val::Map(m) => m.len(),
        other => return err(format!("no such overload: size({})", other.type_name())),
    };
    Ok(Val::Int(i64::try_from(n).unwrap_or(i64::MAX)))
}

/// `all`, `exists`, `exists_one`, `filter` and `map` over a list (elements) or a map (keys).
fn comprehension(
    range: &Expr,
    kind: &str,
    var: &str,
    filter: Option<&Expr>,
    body: &Expr,
    env: &mut Env<'_>,
) -> Result<Val> {
    let items: Vec<Val> = match eval(range, env)? {
        Val::List(items) => items.to_vec(),
        Val::Map(entries) => entries.iter().map(|(k, _)| k.clone()).collect(),
        other => return err(format!("cannot iterate over `{}`", other.type_name())),
    };
    let run = |item: Val, e: &Expr, env: &mut Env<'_>| {
        env.locals.push((var.to_string(), item));
        let r = eval(e, env);
        env.locals.pop();
        r
    };
    let truth = |r: Result<Val>| match r? {
        Val::Bool(b) => Ok(b),
        other => err(format!("a {kind} predicate gave `{}`, not bool", other.type_name())),
    };
    match kind {
        // An error is absorbed when another element decides the result, as in CEL.
        "all" | "exists" => {
            let decided = kind == "exists";
            let mut first_error = None;
            for item in items {
                match truth(run(item, body, env)) {
                    Ok(b) if b == decided => return Ok(Val::Bool(decided)),
                    Ok(_) => {}
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
            first_error.map_or(Ok(Val::Bool(!decided)), Err)
        }
        "exists_one" => {
            let mut count = 0;
            for item in items {
                count += usize::from(truth(run(item, body, env))?);
            }
            Ok(Val::Bool(count == 1))
        }
        "filter" => {
            let mut out = Vec::new();
            for item in items {
                if truth(run(item.clone(), body, env))? {
                    out.push(item);
                }
            }
            Ok(Val::List(Rc::new(out)))
        }
        _ => {
            let mut out = Vec::new();
            for item in items {
                if let Some(f) = filter {
                    if !truth(run(item.clone(), f, env))? {
                        continue;
                    }
                }
                out.push(run(item, body, env)?);
            }
            Ok(Val::List(Rc::new(out)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str, object: &serde_json::Value) -> Result<Val> {
        let mut vars = BTreeMap::new();
        vars.insert("object".to_string(), Val::from_json(object));
        let expr = super::super::parse(text).unwrap();
        eval(&expr, &mut Env::new(&vars, 100_000))
    }

    #[test]
    fn kubernetes_style_expressions() {
        let pod = serde_json::json!({
            "metadata": {"name": "web", "labels": {"team": "a"}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.25", "securityContext": {"privileged": true}}]}
        });
        let t = |e: &str| run(e, &pod).unwrap_or_else(|err| panic!("{e}: {err:?}"));
        assert_eq!(
            t("object.spec.containers.all(c, c.image.startsWith('nginx'))"),
            Val::Bool(true)
        );
        assert_eq!(
            t("object.spec.containers.exists(c, c.?securityContext.?privileged.orValue(false))"),
            Val::Bool(true)
        );
        assert_eq!(t("object.spec.?initContainers.orValue([]).size() == 0"), Val::Bool(true));
        assert_eq!(
            t("has(object.metadata.labels) && 'team' in object.metadata.labels"),
            Val::Bool(true)
        );
        assert_eq!(t("!has(object.metadata.annotations)"), Val::Bool(true));
        assert_eq!(
            t("object.spec.containers.map(c, c.name)"),
            Val::List(Rc::new(vec![Val::String("c".into())]))
        );
        assert_eq!(t("object.spec.containers.filter(c, c.name == 'x').size()"), Val::Int(0));
        assert_eq!(
            t("[1, 2, 3].exists_one(x, x > 2) ? 'one' : 'not one'"),
            Val::String("one".into())
        );
        assert_eq!(t("1 == 1.0 && 2u < 3 && 'a' + 'b' == 'ab'"), Val::Bool(true));
        assert_eq!(t("{'a': 1}[?'b'].hasValue()"), Val::Bool(false));
        assert_eq!(t("object.spec.containers[0].image.split(':')[1]"), Val::String("1.25".into()));
        assert_eq!(
            t("'a-b-c'.indexOf('-') == 1 && 'zürich'.substring(1, 3) == 'ür'"),
            Val::Bool(true)
        );
        assert_eq!(
            t("['a', 'b'].join(',') + ' ' + ' X '.trim().lowerAscii()"),
            Val::String("a,b x".into())
        );
        assert_eq!(
            t("object.metadata.name.matches('^w[a-z]+$') && string(1) + string(true) == '1true'"),
            Val::Bool(true)
        );
        assert_eq!(t("int('42') + int(2.9) == 44 && dyn(1) == 1"), Val::Bool(true));
    }

    #[test]
    fn errors_are_absorbed_only_where_cel_absorbs_them() {
        let obj = serde_json::json!({"a": 1});
        // `object.missing` is an error; a decided `&&`/`||` absorbs it.
        assert_eq!(run("false && object.missing == 1", &obj), Ok(Val::Bool(false)));
        assert_eq!(run("object.missing == 1 || true", &obj), Ok(Val::Bool(true)));
        assert!(run("true && object.missing == 1", &obj)
            .unwrap_err()
            .0
            .contains("no such key: missing"));
        assert!(run("[0, 1].all(x, 1 / x > 0)", &obj).unwrap_err().0.contains("division by zero"));
        assert_eq!(run("[0, 1].exists(x, 1 / x > 0)", &obj), Ok(Val::Bool(true)));
        assert!(run("9223372036854775807 + 1", &obj).unwrap_err().0.contains("overflow"));
        assert!(run("undeclared", &obj).unwrap_err().0.contains("undeclared reference"));
        assert!(run("has(object)", &obj).unwrap_err().0.contains("field selection"));
        assert!(run("'abc'.substring(2, 1)", &obj).unwrap_err().0.contains("start after end"));
        assert!(run("'abc'.matches('(')", &obj)
            .unwrap_err()
            .0
            .contains("invalid regular expression"));
        assert!(run("'abc'.nope()", &obj)
            .unwrap_err()
            .0
            .contains("no such function: string.nope()"));
    }

    #[test]
    fn evaluation_is_bounded() {
        let mut vars = BTreeMap::new();
        vars.insert("l".to_string(), Val::List(Rc::new((0..1000).map(Val::Int).collect())));
        let expr = super::super::parse("l.all(x, l.all(y, x + y >= 0))").unwrap();
        let e = eval(&expr, &mut Env::new(&vars, 10_000)).unwrap_err();
        assert!(e.0.contains("exceeded 10000 steps"), "{e:?}");
    }
}
