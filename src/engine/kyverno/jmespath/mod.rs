//! JMESPath as Kyverno evaluates it: the standard language over `serde_json::Value`, plus
//! Kyverno's functions, with one difference from the standard — reading a key that a map does
//! not have is an error ("Unknown key"), swallowed only where Kyverno's fork swallows it
//! (kyverno-compat.md, 7.4). No crate implements that, hence this module.

mod arithmetic;
mod extra;
mod functions;
mod parser;

use std::borrow::Cow;

use serde_json::Value;

use crate::limits::Limits;

pub use parser::{parse, Ast};

/// What one evaluation has spent and may spend (`jmespath-steps`, `regex-size`).
pub(super) struct Steps {
    taken: usize,
    /// Largest number of nodes one evaluation may visit (bounds hostile expressions and data).
    budget: usize,
    /// Largest compiled size of a regular expression.
    pub(super) regex_size: usize,
}

impl Steps {
    fn new(limits: &Limits) -> Steps {
        Steps { taken: 0, budget: limits.jmespath_steps, regex_size: limits.regex_size }
    }

    /// An error once the steps taken are past the budget.
    fn check(&self) -> Result<(), EvalError> {
        if self.taken > self.budget {
            return Err(EvalError::Limit(format!(
                "evaluation exceeded {} steps ({})",
                self.budget,
                crate::limits::hint("jmespath-steps")
            )));
        }
        Ok(())
    }
}

/// Why an evaluation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EvalError {
    /// A map has no such key (Kyverno's missing-key error).
    UnknownKey(String),
    /// Anything else: a type error, an unknown function, a bad regex.
    Other(String),
    /// A limit was reached (`jmespath-steps`, `regex-size`): never swallowed, so that a rule
    /// cut short is an error rather than a silent pass.
    Limit(String),
}

impl std::fmt::Display for EvalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EvalError::UnknownKey(k) => write!(f, "Unknown key \"{k}\" in path"),
            EvalError::Other(m) | EvalError::Limit(m) => f.write_str(m),
        }
    }
}

pub type EvalResult = Result<Value, EvalError>;

/// Most parsed expressions kept per thread (the cache starts over when full).
const PARSED: usize = 4096;

thread_local! {
    /// Parsed expressions by their text: a policy asks the same ones for object after object.
    static ASTS: std::cell::RefCell<std::collections::HashMap<Box<str>, std::rc::Rc<Ast>>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// Parses and evaluates an expression against `data`, within `limits`.
pub fn search(expression: &str, data: &Value, limits: &Limits) -> EvalResult {
    let cached = ASTS.with_borrow(|asts| asts.get(expression).cloned());
    let ast = if let Some(ast) = cached {
        ast
    } else {
        let ast = std::rc::Rc::new(parse(expression).map_err(EvalError::Other)?);
        ASTS.with_borrow_mut(|asts| {
            if asts.len() >= PARSED {
                asts.clear();
            }
            asts.insert(expression.into(), std::rc::Rc::clone(&ast));
        });
        ast
    };
    evaluate(&ast, data, limits)
}

/// The parts of its data an expression reads from the top: for each, the fields named from
/// the top on, as far as they are plain fields (`a.b` of `a.b[0] | length(@)`), where all that
/// is below may be read too. `None` when it reads the data itself (`@`, or an index or a
/// projection of it). What is evaluated on another value (the right side of `.`, `|` or a
/// projection, a filter's condition, an `&` expression) reads nothing from the top.
#[must_use]
pub fn top_paths(ast: &Ast) -> Option<Vec<Vec<String>>> {
    fn chain(ast: &Ast) -> Option<Vec<String>> {
        match ast {
            Ast::Field(name) => Some(vec![name.clone()]),
            Ast::Subexpr(left, right) => {
                let Ast::Field(name) = &**right else { return None };
                let mut fields = chain(left)?;
                fields.push(name.clone());
                Some(fields)
            }
            _ => None,
        }
    }
    fn walk(ast: &Ast, out: &mut Vec<Vec<String>>) -> Option<()> {
        if let Some(fields) = chain(ast) {
            out.push(fields);
            return Some(());
        }
        match ast {
            Ast::Literal(_) | Ast::ExpRef(_) => Some(()),
            Ast::Identity | Ast::Index(_) | Ast::Slice(..) => None,
            Ast::Field(_) => unreachable!("a field is a chain"),
            Ast::Subexpr(left, _)
            | Ast::Projection(left, _)
            | Ast::ValueProjection(left, _)
            | Ast::Flatten(left)
            | Ast::Filter(left, _, _)
            | Ast::Pipe(left, _)
            | Ast::Not(left) => walk(left, out),
            Ast::Or(a, b) | Ast::And(a, b) | Ast::Compare(_, a, b) => {
                walk(a, out)?;
                walk(b, out)
            }
            Ast::MultiList(items) | Ast::Function(_, items) => {
                items.iter().try_for_each(|i| walk(i, out))
            }
            Ast::MultiHash(items) => items.iter().try_for_each(|(_, i)| walk(i, out)),
        }
    }
    let mut out = Vec::new();
    walk(ast, &mut out).map(|()| out)
}

/// Evaluates a parsed expression within `limits`.
pub fn evaluate(ast: &Ast, data: &Value, limits: &Limits) -> EvalResult {
    let mut steps = Steps::new(limits);
    let result = eval(ast, data, &mut steps);
    crate::limits::spend(steps.taken);
    result
}

/// JMESPath truthiness: false, null, and empty strings, arrays and objects are false.
#[must_use]
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Number(_) => true,
    }
}

/// Evaluates, turning a missing key into null (the contexts where Kyverno swallows it).
fn lenient(ast: &Ast, data: &Value, steps: &mut Steps) -> EvalResult {
    match eval(ast, data, steps) {
        Err(EvalError::UnknownKey(_)) => Ok(Value::Null),
        other => other,
    }
}

static NULL: Value = Value::Null;

/// Whether an expression only walks fields and indexes (`request.object.spec.x[0]`): those are
/// evaluated by reference, so that reading one leaf does not copy every map on the way.
fn is_path(ast: &Ast) -> bool {
    match ast {
        Ast::Identity | Ast::Field(_) | Ast::Index(_) => true,
        Ast::Subexpr(left, right) => is_path(left) && is_path(right),
        _ => false,
    }
}

/// Evaluates an expression for which [`is_path`] holds, by reference.
fn path<'a>(ast: &Ast, data: &'a Value, steps: &mut Steps) -> Result<&'a Value, EvalError> {
    steps.taken += 1;
    match ast {
        Ast::Field(name) => match data {
            Value::Object(map) => map.get(name).ok_or_else(|| EvalError::UnknownKey(name.clone())),
            _ => Ok(&NULL),
        },
        Ast::Index(i) => Ok(match data {
            Value::Array(items) => {
                let len = items.len() as i64;
                let idx = if *i < 0 { len + i } else { *i };
                usize::try_from(idx).ok().and_then(|i| items.get(i)).unwrap_or(&NULL)
            }
            _ => &NULL,
        }),
        Ast::Subexpr(left, right) => {
            let base = path(left, data, steps)?;
            if base.is_null() {
                return Ok(&NULL);
            }
            path(right, base, steps)
        }
        _ => Ok(data),
    }
}

/// [`eval`], borrowing from `data` when the expression is a path.
fn eval_cow<'a>(
    ast: &Ast,
    data: &'a Value,
    steps: &mut Steps,
) -> Result<Cow<'a, Value>, EvalError> {
    if is_path(ast) {
        path(ast, data, steps).map(Cow::Borrowed)
    } else {
        eval(ast, data, steps).map(Cow::Owned)
    }
}

/// [`lenient`], borrowing from `data` when the expression is a path.
fn lenient_cow<'a>(
    ast: &Ast,
    data: &'a Value,
    steps: &mut Steps,
) -> Result<Cow<'a, Value>, EvalError> {
    match eval_cow(ast, data, steps) {
        Err(EvalError::UnknownKey(_)) => Ok(Cow::Borrowed(&NULL)),
        other => other,
    }
}

#[allow(clippy::too_many_lines, reason = "one arm per AST node reads best as one match")]
fn eval(ast: &Ast, data: &Value, steps: &mut Steps) -> EvalResult {
    steps.taken += 1;
    steps.check()?;
    match ast {
        _ if is_path(ast) => copy(path(ast, data, steps)?, steps),
        Ast::Identity => copy(data, steps),
        Ast::Literal(v) => copy(v, steps),
        Ast::Field(name) => match data {
            Value::Object(map) => {
                copy(map.get(name).ok_or_else(|| EvalError::UnknownKey(name.clone()))?, steps)
            }
            _ => Ok(Value::Null),
        },
        Ast::Subexpr(left, right) => {
            let base = eval_cow(left, data, steps)?;
            if base.is_null() {
                return Ok(Value::Null);
            }
            eval(right, &base, steps)
        }
        Ast::Index(i) => Ok(match data {
            Value::Array(items) => {
                let len = items.len() as i64;
                let idx = if *i < 0 { len + i } else { *i };
                match usize::try_from(idx).ok().and_then(|i| items.get(i)) {
                    Some(v) => copy(v, steps)?,
                    None => Value::Null,
                }
            }
            _ => Value::Null,
        }),
        Ast::Slice(from, to, stride) => slice(data, *from, *to, *stride, steps),
        // Missing keys inside what a projection or pipe works on become null, as in Kyverno.
        // `a[].b`: the flattened elements are projected where they are, never copied first.
        Ast::Projection(left, right) if matches!(&**left, Ast::Flatten(_)) => {
            let Ast::Flatten(inner) = &**left else { unreachable!("matched above") };
            let base = lenient_cow(inner, data, steps)?;
            let Value::Array(items) = &*base else { return Ok(Value::Null) };
            project(items.iter().flat_map(flatten_one), right, steps)
        }
        Ast::Projection(left, right) => {
            let base = lenient_cow(left, data, steps)?;
            let Value::Array(items) = &*base else { return Ok(Value::Null) };
            project(items, right, steps)
        }
        Ast::ValueProjection(left, right) => {
            let base = lenient(left, data, steps)?;
            let Value::Object(map) = base else { return Ok(Value::Null) };
            let items: Vec<Value> = map.into_iter().map(|(_, v)| v).collect();
            project(&items, right, steps)
        }
        Ast::Flatten(inner) => {
            let base = lenient_cow(inner, data, steps)?;
            let Value::Array(items) = &*base else { return Ok(Value::Null) };
            let mut out = Vec::with_capacity(items.len());
            for item in items.iter().flat_map(flatten_one) {
                out.push(copy(item, steps)?);
            }
            Ok(Value::Array(out))
        }
        Ast::Filter(left, condition, right) => {
            let base = lenient_cow(left, data, steps)?;
            let Value::Array(items) = &*base else { return Ok(Value::Null) };
            let mut kept = Vec::new();
            for item in items {
                if truthy(&*lenient_cow(condition, item, steps)?) {
                    kept.push(item);
                }
            }
            project(kept, right, steps)
        }
        Ast::MultiList(items) => {
            if data.is_null() {
                return Ok(Value::Null);
            }
            items
                .iter()
                .map(|a| lenient(a, data, steps))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        Ast::MultiHash(pairs) => {
            if data.is_null() {
                return Ok(Value::Null);
            }
            let mut map = serde_json::Map::new();
            for (k, a) in pairs {
                map.insert(k.clone(), lenient(a, data, steps)?);
            }
            Ok(Value::Object(map))
        }
        Ast::Or(left, right) => {
            let l = lenient(left, data, steps)?;
            if truthy(&l) {
                Ok(l)
            } else {
                lenient(right, data, steps)
            }
        }
        Ast::And(left, right) => {
            let l = lenient(left, data, steps)?;
            if truthy(&l) {
                lenient(right, data, steps)
            } else {
                Ok(l)
            }
        }
        Ast::Not(inner) => Ok(Value::Bool(!truthy(&lenient(inner, data, steps)?))),
        Ast::Compare(op, left, right) => {
            let l = lenient(left, data, steps)?;
            let r = lenient(right, data, steps)?;
            Ok(compare(*op, &l, &r))
        }
        Ast::Pipe(left, right) => {
            let l = lenient_cow(left, data, steps)?;
            eval(right, &l, steps)
        }
        // What a function builds is charged like a copy (`join`, `replace_all` and `merge` can
        // return more than they were given).
        Ast::Function(name, args) => {
            let v = functions::call(name, args, data, steps)?;
            charge(&v, steps)?;
            Ok(v)
        }
        Ast::ExpRef(_) => Err(EvalError::Other(
            "an expression reference (&) is only valid as a function argument".into(),
        )),
    }
}

/// The elements one array element contributes to a flatten: its own, or itself.
fn flatten_one(item: &Value) -> std::slice::Iter<'_, Value> {
    match item {
        Value::Array(inner) => inner.iter(),
        other => std::slice::from_ref(other).iter(),
    }
}

/// Copies a value out of the data, charging for its size (see [`charge`]).
pub(super) fn copy(value: &Value, steps: &mut Steps) -> EvalResult {
    charge(value, steps)?;
    Ok(value.clone())
}

/// Bytes of a string that cost one step to copy or build.
const STRING_BYTES_PER_STEP: usize = 64;

/// Charges for a value made or copied, one step per node beyond the first and one per 64 bytes
/// of string (as CEL charges by size): without this, `[@, @]` chained doubles memory per step
/// and stays within any step count. The count stops at the budget, so a value that would pass
/// it costs no more than the budget to refuse.
pub(super) fn charge(value: &Value, steps: &mut Steps) -> Result<(), EvalError> {
    fn count(v: &Value, steps: &mut usize, budget: usize) -> bool {
        let mut child = |c: &Value| {
            *steps += 1;
            *steps <= budget && count(c, steps, budget)
        };
        match v {
            Value::Array(a) => a.iter().all(&mut child),
            Value::Object(m) => m.values().all(&mut child),
            Value::String(s) if s.len() >= STRING_BYTES_PER_STEP => {
                *steps += s.len() / STRING_BYTES_PER_STEP;
                *steps <= budget
            }
            _ => true,
        }
    }
    if !matches!(value, Value::Null | Value::Bool(_) | Value::Number(_))
        && !count(value, &mut steps.taken, steps.budget)
    {
        steps.check()?;
    }
    Ok(())
}

fn project<'a>(
    items: impl IntoIterator<Item = &'a Value>,
    right: &Ast,
    steps: &mut Steps,
) -> EvalResult {
    let items = items.into_iter();
    let mut out = Vec::with_capacity(items.size_hint().0);
    for item in items {
        let v = lenient(right, item, steps)?;
        if !v.is_null() {
            out.push(v);
        }
    }
    Ok(Value::Array(out))
}

fn slice(
    data: &Value,
    from: Option<i64>,
    to: Option<i64>,
    stride: Option<i64>,
    steps: &mut Steps,
) -> EvalResult {
    let Value::Array(items) = data else { return Ok(Value::Null) };
    let step = stride.unwrap_or(1);
    if step == 0 {
        return Err(EvalError::Other("slice step cannot be 0".into()));
    }
    let len = items.len() as i64;
    let adjust = |v: i64| -> i64 {
        if v < 0 {
            let v = v + len;
            if v < 0 {
                if step < 0 {
                    -1
                } else {
                    0
                }
            } else {
                v
            }
        } else if v >= len {
            if step < 0 {
                len - 1
            } else {
                len
            }
        } else {
            v
        }
    };
    let start = from.map_or(if step > 0 { 0 } else { len - 1 }, adjust);
    let end = to.map_or(if step > 0 { len } else { -1 }, adjust);
    let mut out = Vec::new();
    let mut i = start;
    while (step > 0 && i < end) || (step < 0 && i > end) {
        if let Some(v) = usize::try_from(i).ok().and_then(|i| items.get(i)) {
            out.push(copy(v, steps)?);
        }
        i += step;
    }
    Ok(Value::Array(out))
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Deep equality with numbers compared by value (`1 == 1.0`).
#[must_use]
pub fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

fn compare(op: CmpOp, l: &Value, r: &Value) -> Value {
    match op {
        CmpOp::Eq => Value::Bool(json_equal(l, r)),
        CmpOp::Ne => Value::Bool(!json_equal(l, r)),
        _ => {
            let (Some(a), Some(b)) = (l.as_f64(), r.as_f64()) else { return Value::Null };
            Value::Bool(match op {
                CmpOp::Lt => a < b,
                CmpOp::Le => a <= b,
                CmpOp::Gt => a > b,
                _ => a >= b,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({
            "request": {
                "operation": "CREATE",
                "object": {
                    "metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "web", "team": "a"}},
                    "spec": {
                        "containers": [
                            {"name": "a", "image": "nginx:1.2", "ports": [{"containerPort": 80}]},
                            {"name": "b", "image": "busybox:latest", "securityContext": {"privileged": true}}
                        ],
                        "tolerations": [{"key": "mtk.io/pool", "value": "pool-1"}]
                    }
                }
            }
        })
    }

    fn s(e: &str) -> EvalResult {
        search(e, &doc(), &Limits::default())
    }

    #[test]
    fn copies_and_built_values_are_charged_by_size() {
        let data = json!({"a": (0..100).collect::<Vec<_>>(), "s": "x".repeat(6400)});
        let with = |steps: usize, e: &str| {
            let limits = Limits { jmespath_steps: steps, ..Limits::default() };
            search(e, &data, &limits)
        };
        // Copying 100 elements costs 100 steps; reading one costs a few.
        assert!(matches!(with(50, "a"), Err(EvalError::Limit(_))));
        assert_eq!(with(110, "a").map(|v| v.as_array().map(Vec::len)), Ok(Some(100)));
        assert_eq!(with(50, "a[3]"), Ok(json!(3)));
        // A 6,400-byte string costs 100 steps to copy, and as much again to build.
        assert!(matches!(with(50, "s"), Err(EvalError::Limit(_))));
        assert!(matches!(with(150, "join('', [s, s])"), Err(EvalError::Limit(_))));
        assert!(with(600, "join('', [s, s])").is_ok());
        // Doubling 64 times ends at the budget, not in memory.
        let doubling = format!("a{}", " | [@, @]".repeat(64));
        assert!(matches!(with(5_000_000, &doubling), Err(EvalError::Limit(_))));
        // A flatten projects the elements where they are, and flattens one level.
        assert_eq!(with(1_000, "a[].to_string(@) | length(@)"), Ok(json!(100)));
        assert_eq!(with(1_000, "[[a[0], [a[1]]], a[2]][]"), Ok(json!([0, [1], 2])));
        assert_eq!(with(1_000, "[[a[0], [a[1]]], a[2]][][]"), Ok(json!([0, 1, 2])));
    }

    #[test]
    fn fields_projections_filters() {
        assert_eq!(s("request.object.metadata.name"), Ok(json!("web")));
        assert_eq!(s("request.object.spec.containers[].name"), Ok(json!(["a", "b"])));
        assert_eq!(
            s("request.object.spec.containers[*].image"),
            Ok(json!(["nginx:1.2", "busybox:latest"]))
        );
        assert_eq!(
            s("request.object.spec.containers[?name=='b'].image | [0]"),
            Ok(json!("busybox:latest"))
        );
        assert_eq!(
            s("request.object.spec.containers[].securityContext.privileged"),
            Ok(json!([true]))
        );
        assert_eq!(s("request.object.spec.containers[].ports[].containerPort"), Ok(json!([80])));
        assert_eq!(
            s("request.object.metadata.labels.\"app.kubernetes.io/name\""),
            Ok(json!("web"))
        );
        assert_eq!(s("request.object.spec.containers[-1].name"), Ok(json!("b")));
        assert_eq!(s("request.object.spec.containers[0:1].name"), Ok(json!(["a"])));
        assert_eq!(s("request.object.metadata.labels.*"), Ok(json!(["web", "a"])));
        assert_eq!(
            s("{n: request.object.metadata.name, c: length(request.object.spec.containers)}"),
            Ok(json!({"n": "web", "c": 2}))
        );
        assert_eq!(s("[request.operation, 'x']"), Ok(json!(["CREATE", "x"])));
        assert_eq!(
            s("request.object.spec.tolerations[?key=='mtk.io/pool'].value | [0] || ''"),
            Ok(json!("pool-1"))
        );
    }

    #[test]
    fn missing_keys_are_errors_unless_swallowed() {
        assert_eq!(
            s("request.object.spec.priority"),
            Err(EvalError::UnknownKey("priority".into()))
        );
        assert_eq!(s("request.object.spec.priority || `0`"), Ok(json!(0)));
        assert_eq!(s("request.object.spec.priority == `1`"), Ok(json!(false)));
        assert_eq!(s("!(request.object.spec.priority)"), Ok(json!(true)));
        assert_eq!(s("request.object.spec.containers[].securityContext.runAsUser"), Ok(json!([])));
        assert_eq!(s("request.object.spec.volumes[].name"), Ok(Value::Null));
        assert_eq!(s("request.object.metadata.annotations.keys(@)[]"), Ok(Value::Null));
        // A field of an existing null is null.
        assert_eq!(search("a.b", &json!({"a": null}), &Limits::default()), Ok(Value::Null));
        assert_eq!(s("to_string(request.object.spec.nope)"), Ok(json!("null")));
    }

    #[test]
    fn literals_logic_and_comparisons() {
        assert_eq!(s("`true`"), Ok(json!(true)));
        assert_eq!(s("`[1, 2]`"), Ok(json!([1, 2])));
        assert_eq!(s("'raw \\'quoted\\''"), Ok(json!("raw 'quoted'")));
        assert_eq!(s("`1` < `2` && `3` >= `3`"), Ok(json!(true)));
        assert_eq!(s("request.operation == 'CREATE' || `false`"), Ok(json!(true)));
        assert_eq!(s("length(request.object.spec.containers) > `1`"), Ok(json!(true)));
        assert_eq!(search("@", &json!(3), &Limits::default()), Ok(json!(3)));
        assert!(parse("a.[").is_err());
        assert!(parse("foo(").is_err());
    }

    #[test]
    fn multiselect_hashes_take_pairs_with_or_without_commas() {
        let data = json!({"a": 1, "b": 2});
        let limits = Limits::default();
        let want = json!({"x": 1, "y": 2});
        assert_eq!(search("{x: a, y: b}", &data, &limits), Ok(want.clone()));
        assert_eq!(search("{x: a y: b}", &data, &limits), Ok(want), "as go-jmespath reads it");
        assert!(search("{x: a", &data, &limits).is_err());
        assert!(search("{x: a y}", &data, &limits).is_err());
    }
}
