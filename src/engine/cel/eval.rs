//! CEL evaluation: values, variables (the activation, comprehension variables and the lazily
//! evaluated `variables.<name>` of admission policies), field and index selection (with
//! optionals), operators with CEL's error absorption in `&&` and `||`, the conditional, list
//! and map literals, `has()` and the comprehension macros. Functions are in
//! [`super::functions`] and the Kubernetes and Kyverno libraries beside it.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use jiff::{SignedDuration, Timestamp};

use super::ext::Ext;
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
    /// `duration('1h')`.
    Duration(SignedDuration),
    /// `timestamp('2024-01-01T00:00:00Z')`.
    Timestamp(Timestamp),
    /// The Kubernetes library types: quantity, URL, IP, CIDR, image reference.
    Ext(Rc<Ext>),
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

    /// The value as JSON (a result that goes into an object: a mutation's patch). Durations,
    /// timestamps and the library types are their string forms; a map key must be a string.
    pub fn to_json(&self) -> std::result::Result<serde_json::Value, String> {
        use serde_json::Value as J;
        Ok(match self {
            Val::Null => J::Null,
            Val::Bool(b) => J::Bool(*b),
            Val::Int(i) => J::from(*i),
            Val::Uint(u) => J::from(*u),
            Val::Double(d) => serde_json::Number::from_f64(*d)
                .map(J::Number)
                .ok_or_else(|| format!("{d} is not a JSON number"))?,
            Val::String(s) => J::String(s.to_string()),
            Val::Bytes(b) => J::String(crate::base64::encode(b)),
            Val::List(items) => {
                J::Array(items.iter().map(Val::to_json).collect::<std::result::Result<_, _>>()?)
            }
            Val::Map(entries) => {
                let mut out = serde_json::Map::new();
                for (k, v) in entries.iter() {
                    let Val::String(k) = k else {
                        return Err(format!(
                            "a map key of type `{}` cannot be a JSON key",
                            k.type_name()
                        ));
                    };
                    out.insert(k.to_string(), v.to_json()?);
                }
                J::Object(out)
            }
            Val::Optional(_) => return Err("an optional value cannot be JSON".into()),
            other => match super::functions::to_string(other) {
                Ok(Val::String(s)) => J::String(s.to_string()),
                _ => return Err(format!("a `{}` cannot be JSON", other.type_name())),
            },
        })
    }

    /// The string inside, if this is a string.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Val::String(s) => Some(s),
            _ => None,
        }
    }

    /// A string value.
    #[must_use]
    pub fn string(s: &str) -> Val {
        Val::String(s.into())
    }

    /// A list value.
    #[must_use]
    pub fn list(items: Vec<Val>) -> Val {
        Val::List(Rc::new(items))
    }

    /// The CEL type name (for errors).
    #[must_use]
    pub fn type_name(&self) -> &'static str {
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
            Val::Duration(_) => "google.protobuf.Duration",
            Val::Timestamp(_) => "google.protobuf.Timestamp",
            Val::Ext(e) => e.type_name(),
        }
    }
}

/// The value of a map entry or message field (`{?k: v}`: only when `v` has one).
fn entry_value(v: Val, optional: bool) -> Result<Option<Val>> {
    match (v, optional) {
        (Val::Optional(Some(v)), true) => Ok(Some((*v).clone())),
        (Val::Optional(None), true) => Ok(None),
        (_, true) => err("an optional entry must be an optional value"),
        (v, false) => Ok(Some(v)),
    }
}

/// Kubernetes' mutation types: `Object{…}` (and `Object.spec.containers{…}`, named by their
/// place in the object) for apply configurations, `JSONPatch{…}` for patches. Both are maps of
/// their fields here; no other message type exists.
fn construct(name: &str, fields: &[(String, Expr, bool)], env: &mut Env<'_>) -> Result<Val> {
    if name != "JSONPatch" && name != "Object" && !name.starts_with("Object.") {
        return err(format!(
            "unknown type `{name}`: only `Object…` and `JSONPatch` can be constructed"
        ));
    }
    let mut out: Vec<(Val, Val)> = Vec::with_capacity(fields.len());
    for (field, v, optional) in fields {
        if let Some(value) = entry_value(eval(v, env)?, *optional)? {
            out.push((Val::string(field), value));
        }
    }
    Ok(Val::Map(Rc::new(out)))
}

/// Why an evaluation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EvalError {
    /// The expression failed: a type error, a missing field, an overflow. CEL errors are
    /// values that `&&` and `||` may absorb.
    Failed(String),
    /// A limit (the `cel-steps` budget) cut the evaluation short: never absorbed into a result.
    Limit(String),
}

impl EvalError {
    /// The `cel-steps` budget cut the evaluation short (`what`: how).
    pub(super) fn limit(what: &str) -> EvalError {
        EvalError::Limit(format!(
            "evaluation exceeded {what}; {}",
            crate::limits::hint("cel-steps")
        ))
    }

    /// Whether a limit (the step budget) cut the evaluation short.
    #[must_use]
    pub fn is_limit(&self) -> bool {
        matches!(self, EvalError::Limit(_))
    }
}

impl std::fmt::Display for EvalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EvalError::Failed(m) | EvalError::Limit(m) => f.write_str(m),
        }
    }
}

type Result<T> = std::result::Result<T, EvalError>;

pub(super) fn err<T>(message: impl Into<String>) -> Result<T> {
    Err(EvalError::Failed(message.into()))
}

/// What the world outside the expression provides: Kyverno's resource and image lookups, and
/// the clock. Served offline from the linted tree (or a test's context file).
pub trait Host {
    /// `resource.Get(apiVersion, resource, namespace, name)`.
    fn resource_get(
        &self,
        api_version: &str,
        resource: &str,
        namespace: &str,
        name: &str,
    ) -> std::result::Result<serde_json::Value, String>;
    /// `resource.List(apiVersion, resource, namespace)`: a list object with `items`.
    fn resource_list(
        &self,
        api_version: &str,
        resource: &str,
        namespace: &str,
    ) -> std::result::Result<serde_json::Value, String>;
    /// `image.GetMetadata(ref)`: the image's metadata (config, manifest).
    fn image_metadata(&self, image: &str) -> std::result::Result<serde_json::Value, String> {
        Err(format!("no metadata for image `{image}`: image registries are not reached offline"))
    }
    /// `generator.Apply(namespace, objects)`: records objects a GeneratingPolicy creates.
    fn generate(
        &self,
        _namespace: &str,
        _objects: Vec<serde_json::Value>,
    ) -> std::result::Result<(), String> {
        Err("generator.Apply is only available in a GeneratingPolicy".into())
    }
    /// The time `now()` returns.
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// Deepest chain of variables evaluated one inside another (`a` uses `b` uses `c` …).
pub const MAX_VARIABLE_DEPTH: usize = 64;

/// The `variables` of an admission policy: evaluated on first use, once, in the activation
/// of the expression that uses them (Kubernetes' composition semantics).
pub struct Variables<'p> {
    entries: &'p [(String, super::admission::Compiled)],
    slots: RefCell<Vec<Slot>>,
}

#[derive(Clone)]
enum Slot {
    Todo,
    Busy,
    Done(Result<Val>),
}

impl<'p> Variables<'p> {
    #[must_use]
    pub fn new(entries: &'p [(String, super::admission::Compiled)]) -> Self {
        let slots = RefCell::new(vec![Slot::Todo; entries.len()]);
        Variables { entries, slots }
    }

    fn get(&self, name: &str, env: &mut Env<'_>) -> Option<Result<Val>> {
        let i = self.entries.iter().position(|(n, _)| n == name)?;
        let slot = self.slots.borrow()[i].clone();
        Some(match slot {
            Slot::Done(r) => r,
            Slot::Busy => err(format!("variable `{name}` refers to itself")),
            // Each variable evaluated inside another adds a parse tree's depth to the stack.
            Slot::Todo if env.variable_depth >= MAX_VARIABLE_DEPTH => err(format!(
                "variable `{name}` is reached through more than {MAX_VARIABLE_DEPTH} variables"
            )),
            Slot::Todo => {
                self.slots.borrow_mut()[i] = Slot::Busy;
                env.variable_depth += 1;
                // A variable sees the activation, not the comprehension variables around its use.
                let locals = std::mem::take(&mut env.locals);
                let r = eval(&self.entries[i].1.expr, env);
                env.locals = locals;
                env.variable_depth -= 1;
                // A limit reached is not the variable's value: a later use may try again.
                self.slots.borrow_mut()[i] = match &r {
                    Err(e) if e.is_limit() => Slot::Todo,
                    r => Slot::Done(r.clone()),
                };
                r
            }
        })
    }

    fn all(&self, env: &mut Env<'_>) -> Result<Val> {
        let mut out = Vec::with_capacity(self.entries.len());
        for (name, _) in self.entries {
            if let Some(v) = self.get(name, env) {
                out.push((Val::string(name), v?));
            }
        }
        Ok(Val::Map(Rc::new(out)))
    }
}

/// Variables in scope (the activation, then comprehension variables on top), and the bounds
/// and services of one evaluation.
pub struct Env<'a> {
    vars: &'a BTreeMap<String, Val>,
    pub(super) locals: Vec<(String, Val)>,
    lazy: Option<&'a Variables<'a>>,
    pub(super) host: Option<&'a dyn Host>,
    steps: usize,
    budget: usize,
    pub(super) regex_size: usize,
    /// Regular expressions compiled so far (`matches` in a loop compiles once).
    pub(super) regexes: RefCell<std::collections::HashMap<String, regex::Regex>>,
    /// Variables being evaluated, one inside another (bounded, as the stack is).
    variable_depth: usize,
    /// The element that made the innermost `all` false, for pointing a failure at the field
    /// it is about (values share their storage with the activation, so it can be found there).
    blame: Option<Val>,
}

impl Drop for Env<'_> {
    fn drop(&mut self) {
        crate::limits::spend(self.steps);
    }
}

impl<'a> Env<'a> {
    /// An environment over an activation, bounded to `budget` steps.
    #[must_use]
    pub fn new(vars: &'a BTreeMap<String, Val>, budget: usize) -> Self {
        Env {
            vars,
            locals: Vec::new(),
            lazy: None,
            host: None,
            steps: 0,
            budget,
            regex_size: crate::limits::Limits::default().regex_size,
            regexes: RefCell::new(std::collections::HashMap::new()),
            blame: None,
            variable_depth: 0,
        }
    }

    /// Largest compiled size of a regular expression (`--limit regex-size`).
    #[must_use]
    pub fn with_regex_size(mut self, bytes: usize) -> Self {
        self.regex_size = bytes;
        self
    }

    /// Serves `variables.<name>`.
    #[must_use]
    pub fn with_variables(mut self, variables: &'a Variables<'a>) -> Self {
        self.lazy = Some(variables);
        self
    }

    /// Serves Kyverno's lookups and the clock.
    #[must_use]
    pub fn with_host(mut self, host: &'a dyn Host) -> Self {
        self.host = Some(host);
        self
    }

    /// Starts a new expression's step count (the budget is per expression); the steps taken
    /// so far count towards the run's total.
    pub fn reset_steps(&mut self) {
        crate::limits::spend(std::mem::take(&mut self.steps));
    }

    /// Forgets what an earlier expression blamed.
    pub fn clear_blame(&mut self) {
        self.blame = None;
    }

    /// Where in `object` the evaluation found what made it false, if it knows (and forgets it):
    /// the path of the element that made an `all` false.
    pub fn take_blame(&mut self) -> Option<Vec<String>> {
        let blamed = self.blame.take()?;
        let object = self.vars.get("object")?;
        let mut path = Vec::new();
        find_shared(object, &blamed, &mut path).then_some(path)
    }

    /// Steps left in the budget: a function about to build a string or list longer than this
    /// refuses to.
    pub(super) fn room(&self) -> usize {
        self.budget.saturating_sub(self.steps)
    }

    /// Charges `n` steps (a value of size `n` was built).
    fn charge(&mut self, n: usize) -> Result<()> {
        self.steps = self.steps.saturating_add(n);
        if self.steps > self.budget {
            return Err(EvalError::limit(&format!("{} steps", self.budget)));
        }
        Ok(())
    }

    pub(super) fn lookup(&self, name: &str) -> Option<Val> {
        self.locals
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .or_else(|| self.vars.get(name).cloned())
    }

    fn is_local(&self, name: &str) -> bool {
        self.locals.iter().any(|(n, _)| n == name)
    }

    /// Whether `name` is a declared variable (rather than a function namespace).
    pub(super) fn declares(&self, name: &str) -> bool {
        self.is_local(name) || self.vars.contains_key(name)
    }
}

/// Evaluates an expression.
#[allow(clippy::many_single_char_names, reason = "one arm per node, each naming its literal")]
pub fn eval(e: &Expr, env: &mut Env<'_>) -> Result<Val> {
    env.charge(1)?;
    match e {
        Expr::Null => Ok(Val::Null),
        Expr::Bool(b) => Ok(Val::Bool(*b)),
        Expr::Int(i) => Ok(Val::Int(*i)),
        Expr::Uint(u) => Ok(Val::Uint(*u)),
        Expr::Double(d) => Ok(Val::Double(*d)),
        Expr::String(s) => Ok(Val::String(s.as_str().into())),
        Expr::Bytes(b) => Ok(Val::Bytes(b.as_slice().into())),
        Expr::Ident(name) => match env.lookup(name) {
            Some(v) => Ok(v),
            None => match env.lazy {
                Some(lazy) if name == "variables" => lazy.all(env),
                _ => err(format!("undeclared reference to `{name}`")),
            },
        },
        Expr::Select { operand, field, optional } => {
            if let (Some(lazy), Expr::Ident(v)) = (env.lazy, &**operand) {
                if v == "variables" && !env.declares(v) {
                    return match lazy.get(field, env) {
                        Some(r) => {
                            r.map(|v| if *optional { Val::Optional(Some(Rc::new(v))) } else { v })
                        }
                        None if *optional => Ok(Val::Optional(None)),
                        None => err(format!("undeclared reference to `variables.{field}`")),
                    };
                }
            }
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
                let Some(value) = entry_value(eval(v, env)?, *optional)? else { continue };
                if out.iter().any(|(k2, _)| equal(k2, &key)) {
                    return err("a map literal repeats a key");
                }
                out.push((key, value));
            }
            Ok(Val::Map(Rc::new(out)))
        }
        Expr::Struct { name, fields } => construct(name, fields, env),
        Expr::Unary(op, inner) => match (op, eval(inner, env)?) {
            (UnaryOp::Not, Val::Bool(b)) => Ok(Val::Bool(!b)),
            (UnaryOp::Negate, Val::Int(i)) => i
                .checked_neg()
                .map(Val::Int)
                .ok_or_else(|| EvalError::Failed("integer overflow".into())),
            (UnaryOp::Negate, Val::Double(d)) => Ok(Val::Double(-d)),
            (op, v) => err(format!("no such overload: {op:?} {}", v.type_name())),
        },
        Expr::Binary(BinaryOp::And, l, r) => logic(l, r, env, false),
        Expr::Binary(BinaryOp::Or, l, r) => logic(l, r, env, true),
        Expr::Binary(op, l, r) => {
            let a = eval(l, env)?;
            let b = eval(r, env)?;
            let v = binary(*op, &a, &b)?;
            env.charge(weight(&v))?;
            Ok(v)
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

/// `base.field`. On an optional value the selection is optional too (`a.?b.c` is none when
/// `b` or `c` is absent), as cel-go qualifies the rest of an optional chain.
fn select(base: &Val, field: &str, optional: bool) -> Result<Val> {
    let (base, optional) = match base {
        Val::Optional(None) => return Ok(Val::Optional(None)),
        Val::Optional(Some(v)) => ((**v).clone(), true),
        other => (other.clone(), optional),
    };
    let Val::Map(entries) = &base else {
        // cel-go's presence test on a value with no fields (null, a scalar) finds nothing.
        if optional {
            return Ok(Val::Optional(None));
        }
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

/// `base[key]`; optional on an optional value, as [`select`].
fn index_into(base: &Val, key: &Val, optional: bool) -> Result<Val> {
    let (base, optional) = match base {
        Val::Optional(None) => return Ok(Val::Optional(None)),
        Val::Optional(Some(v)) => ((**v).clone(), true),
        other => (other.clone(), optional),
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
        // As for `a.?b`: an optional index into what cannot be indexed is none.
        (Val::Null, _) if optional => None,
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
        (Val::Ext(x), Val::Ext(y)) => x.equal(y),
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

/// CEL ordering: numbers across int, uint and double; strings, bools, bytes, durations and
/// timestamps with their own kind. `None` when the two are not comparable.
#[must_use]
pub fn compare(a: &Val, b: &Val) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Val::String(x), Val::String(y)) => Some(x.cmp(y)),
        (Val::Bool(x), Val::Bool(y)) => Some(x.cmp(y)),
        (Val::Bytes(x), Val::Bytes(y)) => Some(x.cmp(y)),
        (Val::Duration(x), Val::Duration(y)) => Some(x.cmp(y)),
        (Val::Timestamp(x), Val::Timestamp(y)) => Some(x.cmp(y)),
        _ => compare_numbers(a, b),
    }
}

fn overflow<T>() -> Result<T> {
    err("integer overflow")
}

/// `a + b`.
pub(super) fn add(a: &Val, b: &Val) -> Result<Val> {
    match (a, b) {
        (Val::Int(x), Val::Int(y)) => x.checked_add(*y).map_or_else(overflow, |v| Ok(Val::Int(v))),
        (Val::Uint(x), Val::Uint(y)) => {
            x.checked_add(*y).map_or_else(overflow, |v| Ok(Val::Uint(v)))
        }
        (Val::Double(x), Val::Double(y)) => Ok(Val::Double(x + y)),
        (Val::String(x), Val::String(y)) => Ok(Val::String(format!("{x}{y}").into())),
        (Val::Bytes(x), Val::Bytes(y)) => {
            Ok(Val::Bytes(x.iter().chain(y.iter()).copied().collect::<Vec<_>>().into()))
        }
        (Val::List(x), Val::List(y)) => {
            Ok(Val::List(Rc::new(x.iter().chain(y.iter()).cloned().collect())))
        }
        (Val::Duration(x), Val::Duration(y)) => {
            x.checked_add(*y).map_or_else(overflow, |v| Ok(Val::Duration(v)))
        }
        (Val::Timestamp(t), Val::Duration(d)) | (Val::Duration(d), Val::Timestamp(t)) => t
            .checked_add(*d)
            .map(Val::Timestamp)
            .map_err(|_| EvalError::Failed("timestamp overflow".into())),
        _ => err(format!("no such overload: {} + {}", a.type_name(), b.type_name())),
    }
}

/// `x op y` for `-`, `*`, `/` and `%` on two integers of one kind, checked.
macro_rules! checked {
    ($op:expr, $x:expr, $y:expr, $wrap:expr) => {{
        let (x, y) = ($x, $y);
        let r = match $op {
            BinaryOp::Sub => x.checked_sub(y),
            BinaryOp::Mul => x.checked_mul(y),
            BinaryOp::Div if y == 0 => return err("division by zero"),
            BinaryOp::Div => x.checked_div(y),
            _ if y == 0 => return err("modulus by zero"),
            _ => x.checked_rem(y),
        };
        r.map_or_else(overflow, |v| Ok($wrap(v)))
    }};
}

#[allow(clippy::many_single_char_names, reason = "operands a, b; their contents x, y")]
fn binary(op: BinaryOp, a: &Val, b: &Val) -> Result<Val> {
    use std::cmp::Ordering;
    let overload = || err(format!("no such overload: {} {op:?} {}", a.type_name(), b.type_name()));
    match op {
        BinaryOp::Eq => Ok(Val::Bool(equal(a, b))),
        BinaryOp::Ne => Ok(Val::Bool(!equal(a, b))),
        BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
            let Some(ord) = compare(a, b) else { return overload() };
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
        BinaryOp::Add => add(a, b),
        BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => match (a, b) {
            (Val::Int(x), Val::Int(y)) => checked!(op, *x, *y, Val::Int),
            (Val::Uint(x), Val::Uint(y)) => checked!(op, *x, *y, Val::Uint),
            (Val::Double(x), Val::Double(y)) => Ok(Val::Double(match op {
                BinaryOp::Sub => x - y,
                BinaryOp::Mul => x * y,
                BinaryOp::Div => x / y,
                _ => return overload(),
            })),
            (Val::Duration(x), Val::Duration(y)) if op == BinaryOp::Sub => {
                x.checked_sub(*y).map_or_else(overflow, |v| Ok(Val::Duration(v)))
            }
            (Val::Timestamp(x), Val::Timestamp(y)) if op == BinaryOp::Sub => {
                Ok(Val::Duration(x.duration_since(*y)))
            }
            (Val::Timestamp(x), Val::Duration(y)) if op == BinaryOp::Sub => x
                .checked_sub(*y)
                .map(Val::Timestamp)
                .map_err(|_| EvalError::Failed("timestamp overflow".into())),
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
                // cel-go's presence test: a value with no fields (null, a scalar) has none.
                other @ (Val::List(_) | Val::Optional(_)) => {
                    err(format!("has() on type `{}`", other.type_name()))
                }
                _ => Ok(Val::Bool(false)),
            };
        }
        (None, "has", _) => return err("has() needs a field selection, like has(a.b)"),
        (Some(range), "all" | "exists" | "exists_one" | "filter", [Expr::Ident(var), pred]) => {
            return comprehension(range, function, &[var], None, pred, env);
        }
        (Some(range), "map", [Expr::Ident(var), transform]) => {
            return comprehension(range, "map", &[var], None, transform, env);
        }
        (Some(range), "map", [Expr::Ident(var), filter, transform]) => {
            return comprehension(range, "map", &[var], Some(filter), transform, env);
        }
        // Two-variable comprehensions (cel-go's ext.TwoVarComprehensions, Kubernetes 1.33):
        // index and element of a list, key and value of a map.
        (
            Some(range),
            "all" | "exists" | "exists_one" | "existsOne" | "transformList" | "transformMap",
            [Expr::Ident(first), Expr::Ident(second), body],
        ) => return comprehension(range, function, &[first, second], None, body, env),
        (
            Some(range),
            "transformList" | "transformMap",
            [Expr::Ident(first), Expr::Ident(second), filter, body],
        ) => return comprehension(range, function, &[first, second], Some(filter), body, env),
        _ => {}
    }
    // `sets.contains(…)`, `optional.of(…)`, `resource.List(…)`: a namespace, not a variable.
    if let Some(Expr::Ident(ns)) = target {
        if !env.declares(ns) && super::functions::is_namespace(ns) {
            let values = args.iter().map(|a| eval(a, env)).collect::<Result<Vec<_>>>()?;
            let name = super::functions::namespaced(ns, function);
            let v = super::functions::call(None, &name, &values, env)?;
            env.charge(weight(&v))?;
            return Ok(v);
        }
    }
    let receiver = target.map(|t| eval(t, env)).transpose()?;
    let values = args.iter().map(|a| eval(a, env)).collect::<Result<Vec<_>>>()?;
    let v = super::functions::call(receiver.as_ref(), function, &values, env)?;
    env.charge(weight(&v))?;
    Ok(v)
}

/// Finds where `target` sits inside `root` by identity (a list, map or string shares its
/// storage with the value it was taken from), pushing the path to it.
fn find_shared(root: &Val, target: &Val, path: &mut Vec<String>) -> bool {
    let same = match (root, target) {
        (Val::Map(a), Val::Map(b)) => Rc::ptr_eq(a, b),
        (Val::List(a), Val::List(b)) => Rc::ptr_eq(a, b),
        (Val::String(a), Val::String(b)) => Rc::ptr_eq(a, b),
        _ => false,
    };
    if same {
        return true;
    }
    match root {
        Val::Map(entries) => entries.iter().any(|(k, v)| {
            path.push(k.as_str().unwrap_or_default().to_string());
            let found = find_shared(v, target, path);
            if !found {
                path.pop();
            }
            found
        }),
        Val::List(items) => items.iter().enumerate().any(|(i, v)| {
            path.push(i.to_string());
            let found = find_shared(v, target, path);
            if !found {
                path.pop();
            }
            found
        }),
        _ => false,
    }
}

/// What building a value costs, in steps: its length for strings, bytes, lists and maps
/// (so that doubling a list sixty times runs into the budget, not out of memory).
fn weight(v: &Val) -> usize {
    match v {
        Val::String(s) => s.len(),
        Val::Bytes(b) => b.len(),
        Val::List(l) => l.len(),
        Val::Map(m) => m.len(),
        _ => 0,
    }
}

/// The comprehension macros over a list or a map: with one variable (`all`, `exists`,
/// `exists_one`, `filter`, `map`; elements of a list, keys of a map) or two (`all`, `exists`,
/// `existsOne`, `transformList`, `transformMap`; index and element, key and value).
fn comprehension(
    range: &Expr,
    kind: &str,
    vars: &[&String],
    filter: Option<&Expr>,
    body: &Expr,
    env: &mut Env<'_>,
) -> Result<Val> {
    // Each iteration: the values bound to `vars`, the last of which is the element.
    let two = vars.len() == 2;
    let iterations: Vec<Vec<Val>> = match eval(range, env)? {
        Val::List(items) if two => items
            .iter()
            .enumerate()
            .map(|(i, v)| vec![Val::Int(i64::try_from(i).unwrap_or(i64::MAX)), v.clone()])
            .collect(),
        Val::List(items) => items.iter().map(|v| vec![v.clone()]).collect(),
        Val::Map(entries) if two => {
            entries.iter().map(|(k, v)| vec![k.clone(), v.clone()]).collect()
        }
        Val::Map(entries) => entries.iter().map(|(k, _)| vec![k.clone()]).collect(),
        other => return err(format!("cannot iterate over `{}`", other.type_name())),
    };
    let run = |values: &[Val], e: &Expr, env: &mut Env<'_>| {
        for (name, value) in vars.iter().zip(values) {
            env.locals.push(((*name).clone(), value.clone()));
        }
        let r = eval(e, env);
        env.locals.truncate(env.locals.len() - vars.len());
        r
    };
    let truth = |r: Result<Val>| match r? {
        Val::Bool(b) => Ok(b),
        other => err(format!("a {kind} predicate gave `{}`, not bool", other.type_name())),
    };
    let element = |values: &[Val]| values.last().cloned().unwrap_or(Val::Null);
    match kind {
        // An error is absorbed when another element decides the result, as in CEL.
        "all" | "exists" => {
            let decided = kind == "exists";
            let mut first_error = None;
            for values in &iterations {
                env.blame = None;
                match truth(run(values, body, env)) {
                    Ok(false) if !decided => {
                        // The element that made `all` false: the one a nested `all` found,
                        // else this one.
                        if env.blame.is_none() {
                            env.blame = Some(element(values));
                        }
                        return Ok(Val::Bool(false));
                    }
                    Ok(b) if b == decided => return Ok(Val::Bool(decided)),
                    Ok(_) => {}
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
            // Nothing to blame: `all` held, or no element made `exists` true.
            env.blame = None;
            first_error.map_or(Ok(Val::Bool(!decided)), Err)
        }
        "exists_one" | "existsOne" => {
            let mut count = 0;
            for values in &iterations {
                count += usize::from(truth(run(values, body, env))?);
            }
            Ok(Val::Bool(count == 1))
        }
        "filter" => {
            let mut out = Vec::new();
            for values in &iterations {
                if truth(run(values, body, env))? {
                    out.push(element(values));
                }
            }
            Ok(Val::List(Rc::new(out)))
        }
        // `map`, `transformList`, `transformMap`.
        _ => {
            let mut out = Vec::new();
            for values in &iterations {
                if let Some(f) = filter {
                    if !truth(run(values, f, env))? {
                        continue;
                    }
                }
                let key = values.first().cloned().unwrap_or(Val::Null);
                out.push((key, run(values, body, env)?));
            }
            Ok(if kind == "transformMap" {
                Val::Map(Rc::new(out))
            } else {
                Val::List(Rc::new(out.into_iter().map(|(_, v)| v).collect()))
            })
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
        let mut env = Env::new(&vars, 100_000);
        eval(&expr, &mut env)
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
    fn presence_tests_on_null_find_nothing() {
        // As cel-go's presence test: a field of null (or of a scalar) is absent, not an error.
        let obj = serde_json::json!({"spec": {"template": null, "replicas": 3}});
        assert_eq!(run("has(object.spec.template.spec)", &obj), Ok(Val::Bool(false)));
        assert_eq!(run("has(object.spec.replicas.x)", &obj), Ok(Val::Bool(false)));
        assert_eq!(
            run("object.spec.template.?spec.orValue('none')", &obj),
            Ok(Val::String("none".into()))
        );
        assert_eq!(run("object.spec.template[?'spec'].hasValue()", &obj), Ok(Val::Bool(false)));
        // Without `has` or `?` it is still an error.
        assert!(run("object.spec.template.spec == 1", &obj).is_err());
    }

    #[test]
    fn errors_are_absorbed_only_where_cel_absorbs_them() {
        let obj = serde_json::json!({"a": 1});
        // `object.missing` is an error; a decided `&&`/`||` absorbs it.
        assert_eq!(run("false && object.missing == 1", &obj), Ok(Val::Bool(false)));
        assert_eq!(run("object.missing == 1 || true", &obj), Ok(Val::Bool(true)));
        assert!(run("true && object.missing == 1", &obj)
            .unwrap_err()
            .to_string()
            .contains("no such key: missing"));
        assert!(run("[0, 1].all(x, 1 / x > 0)", &obj)
            .unwrap_err()
            .to_string()
            .contains("division by zero"));
        assert_eq!(run("[0, 1].exists(x, 1 / x > 0)", &obj), Ok(Val::Bool(true)));
        assert!(run("9223372036854775807 + 1", &obj).unwrap_err().to_string().contains("overflow"));
        assert!(run("undeclared", &obj).unwrap_err().to_string().contains("undeclared reference"));
        assert!(run("has(object)", &obj).unwrap_err().to_string().contains("field selection"));
        assert!(run("'abc'.substring(2, 1)", &obj)
            .unwrap_err()
            .to_string()
            .contains("start after end"));
        assert!(run("'abc'.matches('(')", &obj)
            .unwrap_err()
            .to_string()
            .contains("invalid regular expression"));
        assert!(run("'abc'.nope()", &obj)
            .unwrap_err()
            .to_string()
            .contains("no such function: string.nope()"));
    }

    #[test]
    fn evaluation_is_bounded() {
        let mut vars = BTreeMap::new();
        vars.insert("l".to_string(), Val::List(Rc::new((0..1000).map(Val::Int).collect())));
        let expr = super::super::parse("l.all(x, l.all(y, x + y >= 0))").unwrap();
        let e = eval(&expr, &mut Env::new(&vars, 10_000)).unwrap_err();
        assert!(e.to_string().contains("exceeded 10000 steps"), "{e:?}");
    }
    #[test]
    fn building_large_values_is_bounded() {
        let vars = BTreeMap::new();
        let run = |text: &str| {
            let expr = super::super::parse(text).unwrap();
            eval(&expr, &mut Env::new(&vars, 10_000))
        };
        // Each builder is charged by the size of what it builds, or refuses beforehand.
        let e = run("lists.range(20000)").unwrap_err();
        assert!(e.is_limit(), "{e:?}");
        let e = run("'a'.replace('', 'bbbbbbbbbb').replace('b', 'cccccccccccccccccccc').replace('c', 'dddddddddddddddddddd').replace('d', 'eeeeeeeeeeeeeeeeeeee')").unwrap_err();
        assert!(e.is_limit(), "{e:?}");
        let e = run("lists.range(5000).distinct()").unwrap_err();
        assert!(e.is_limit(), "{e:?}");
        let e = run("[lists.range(100), lists.range(100), lists.range(100)].map(l, l.join('-----------------------'))").unwrap_err();
        assert!(e.to_string().contains("join() on a list holding `int`"), "{e:?}");
        let e = run("lists.range(2000).map(i, string(i)).join('0123456789')").unwrap_err();
        assert!(e.is_limit(), "{e:?}");
        assert_eq!(run("lists.range(3).map(i, string(i)).join('-')"), Ok(Val::string("0-1-2")));
    }
}
