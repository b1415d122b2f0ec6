//! Admission-style CEL programs: the `validate.cel` block of a Kyverno rule and the
//! `policies.kyverno.io` ValidatingPolicy both come down to conditions, lazily evaluated
//! variables and validations (expression, message, messageExpression), evaluated over an
//! activation of `object`, `oldObject`, `request`, `namespaceObject` and `params`
//! (Kubernetes' ValidatingAdmissionPolicy semantics).

use std::collections::BTreeMap;

use super::eval::{eval, Env, EvalError, Host, Val, Variables};
use super::parser::{parse, Expr};
use crate::load::source::Pos;
use crate::load::Node;

/// A compiled expression and where it is in the policy file.
#[derive(Clone, Debug)]
pub struct Compiled {
    pub text: String,
    pub expr: Expr,
    pub pos: Pos,
}

/// One validation.
#[derive(Clone, Debug)]
pub struct Validation {
    pub expression: Compiled,
    pub message: Option<String>,
    pub message_expression: Option<Compiled>,
}

/// A compile error: where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileError {
    pub pos: Pos,
    pub message: String,
}

/// Conditions, variables and validations.
#[derive(Clone, Debug, Default)]
pub struct Program {
    /// `celPreconditions` / `matchConditions`, by name: all must be true.
    pub conditions: Vec<(String, Compiled)>,
    pub variables: Vec<(String, Compiled)>,
    pub validations: Vec<Validation>,
}

/// The result of running a program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    /// A condition was false: the program does not apply (its name).
    NotMatched(String),
    /// A validation was false: its message, and where in `object` the failure is (the element
    /// that made an `all` false, else the first field of `object` the expression reads).
    Fail(String, Option<Vec<String>>),
    /// An expression could not be evaluated, or did not give a bool.
    Error(String),
}

/// Compiles the expression of `node` (a string) or says where and why it cannot.
pub fn compile(node: &Node, what: &str) -> Result<Compiled, CompileError> {
    let text = node.as_str().ok_or_else(|| CompileError {
        pos: node.span.start(),
        message: format!("{what} must be a string"),
    })?;
    let expr = parse(text).map_err(|e| CompileError {
        pos: node.span.start(),
        message: format!(
            "{what} is not valid CEL (line {}, column {} of the expression): {}",
            e.line, e.column, e.message
        ),
    })?;
    check_functions(&expr, &mut Vec::new()).map_err(|name| CompileError {
        pos: node.span.start(),
        message: format!("{what} calls `{name}`, which is not a CEL function"),
    })?;
    Ok(Compiled { text: text.to_string(), expr, pos: node.span.start() })
}

/// Every function an expression calls exists (CEL has no user functions: an unknown name is a
/// typo the policy's author should hear of when it is compiled, as Kubernetes' type checker
/// reports it). `bound` holds the comprehension variables in scope, which may shadow a function
/// namespace (`images.all(image, image.startsWith('x'))`).
fn check_functions(e: &Expr, bound: &mut Vec<String>) -> Result<(), String> {
    use super::functions::{is_known, is_namespace, namespaced};
    match e {
        Expr::Call { target, function, args } => {
            if let (None, "has", [arg]) = (target, function.as_str(), args.as_slice()) {
                return check_functions(arg, bound);
            }
            if let (Some(t), Some(n)) = (target, comprehension_vars(function, args)) {
                check_functions(t, bound)?;
                bound.extend(args[..n].iter().filter_map(|a| match a {
                    Expr::Ident(v) => Some(v.clone()),
                    _ => None,
                }));
                let r = args[n..].iter().try_for_each(|a| check_functions(a, bound));
                bound.truncate(bound.len() - n);
                return r;
            }
            let name = match target.as_deref() {
                Some(Expr::Ident(ns)) if is_namespace(ns) && !bound.contains(ns) => {
                    namespaced(ns, function)
                }
                _ => function.clone(),
            };
            if !is_known(&name) {
                return Err(name);
            }
            if let Some(t) = target.as_deref() {
                if !matches!(t, Expr::Ident(ns) if is_namespace(ns) && !bound.contains(ns)) {
                    check_functions(t, bound)?;
                }
            }
            args.iter().try_for_each(|a| check_functions(a, bound))
        }
        Expr::Select { operand, .. } => check_functions(operand, bound),
        Expr::Index { operand, index, .. } => {
            check_functions(operand, bound)?;
            check_functions(index, bound)
        }
        Expr::List(items) => items.iter().try_for_each(|(x, _)| check_functions(x, bound)),
        Expr::Map(entries) => entries.iter().try_for_each(|(k, v, _)| {
            check_functions(k, bound)?;
            check_functions(v, bound)
        }),
        Expr::Struct { fields, .. } => {
            fields.iter().try_for_each(|(_, v, _)| check_functions(v, bound))
        }
        Expr::Unary(_, x) => check_functions(x, bound),
        Expr::Binary(_, a, b) => {
            check_functions(a, bound)?;
            check_functions(b, bound)
        }
        Expr::Conditional(c, a, b) => {
            check_functions(c, bound)?;
            check_functions(a, bound)?;
            check_functions(b, bound)
        }
        _ => Ok(()),
    }
}

fn named_list<'a>(
    parent: Option<&'a Node>,
    key: &str,
) -> Result<impl Iterator<Item = &'a Node> + 'a, CompileError> {
    let items = match parent.and_then(|p| p.get(key)) {
        None => &[][..],
        Some(n) if n.is_null() => &[][..],
        Some(n) => n.as_seq().ok_or_else(|| CompileError {
            pos: n.span.start(),
            message: format!("`{key}` must be a list"),
        })?,
    };
    Ok(items.iter())
}

/// What autogen replaces in an expression written for Pods to serve the pod template at
/// `template`; with `keep_namespace`, `object.metadata.namespace` stays the controller's (as
/// Kyverno 1.16 and later rewrite it).
fn pod_template_replacements(template: &str, keep_namespace: bool) -> Vec<(&'static str, String)> {
    let mut out = Vec::with_capacity(6);
    if keep_namespace {
        out.push(("object.metadata.namespace", "object.metadata.namespace".to_string()));
        out.push(("oldObject.metadata.namespace", "oldObject.metadata.namespace".to_string()));
    }
    out.extend([
        ("object.spec", format!("object.{template}.spec")),
        ("object.metadata", format!("object.{template}.metadata")),
        ("oldObject.spec", format!("oldObject.{template}.spec")),
        ("oldObject.metadata", format!("oldObject.{template}.metadata")),
    ]);
    out
}

impl Compiled {
    /// The expression rewritten for a pod template, as [`Program::for_pod_template`] does.
    pub fn for_pod_template(
        &self,
        template: &str,
        keep_namespace: bool,
    ) -> Result<Compiled, CompileError> {
        let replacements = pod_template_replacements(template, keep_namespace);
        let borrowed: Vec<(&str, &str)> =
            replacements.iter().map(|(a, b)| (*a, b.as_str())).collect();
        self.rewritten(&borrowed)
    }

    /// The expression with text replaced at the start of names (`object.spec` but not
    /// `myobject.spec`), all replacements at once, recompiled; the position is kept.
    pub fn rewritten(&self, replacements: &[(&str, &str)]) -> Result<Compiled, CompileError> {
        self.with_text(replace_all(&self.text, replacements))
    }

    /// Another text for the expression, compiled, at the same position.
    pub fn with_text(&self, text: String) -> Result<Compiled, CompileError> {
        let expr = parse(&text).map_err(|e| CompileError {
            pos: self.pos,
            message: format!("rewritten expression `{text}` is not valid CEL: {}", e.message),
        })?;
        Ok(Compiled { text, expr, pos: self.pos })
    }
}

impl Program {
    /// Evaluates one more expression with the program's variables (a mutation's): its value,
    /// or why it could not be evaluated.
    pub fn evaluate(
        &self,
        c: &Compiled,
        activation: &BTreeMap<String, Val>,
        limits: &crate::limits::Limits,
        host: Option<&dyn Host>,
    ) -> Result<Val, String> {
        let variables = Variables::new(&self.variables);
        let mut env = environment(activation, &variables, limits, host);
        eval(&c.expr, &mut env).map_err(|e| {
            format!(
                "expression `{}` (line {}) could not be evaluated: {e}",
                one_line(&c.text),
                c.pos.line
            )
        })
    }

    /// Reads `expressions` (or `validations`), `variables` and the named conditions under
    /// `conditions_key` from their nodes.
    pub fn from_nodes(
        validations_parent: Option<&Node>,
        validations_key: &str,
        conditions_parent: Option<(&Node, &str)>,
    ) -> Result<Program, CompileError> {
        let mut program = Program::default();
        if let Some((parent, key)) = conditions_parent {
            for (i, c) in named_list(Some(parent), key)?.enumerate() {
                let name = c.get("name").and_then(Node::as_str).unwrap_or("").to_string();
                let node = c.get("expression").ok_or_else(|| CompileError {
                    pos: c.span.start(),
                    message: format!("{key}[{i}] has no expression"),
                })?;
                program.conditions.push((name, compile(node, &format!("{key}[{i}]"))?));
            }
        }
        for (i, v) in named_list(validations_parent, "variables")?.enumerate() {
            let name = v.get("name").and_then(Node::as_str).ok_or_else(|| CompileError {
                pos: v.span.start(),
                message: format!("variables[{i}] has no name"),
            })?;
            let node = v.get("expression").ok_or_else(|| CompileError {
                pos: v.span.start(),
                message: format!("variable `{name}` has no expression"),
            })?;
            program
                .variables
                .push((name.to_string(), compile(node, &format!("variable `{name}`"))?));
        }
        for (i, v) in named_list(validations_parent, validations_key)?.enumerate() {
            let what = format!("{validations_key}[{i}]");
            let node = v.get("expression").ok_or_else(|| CompileError {
                pos: v.span.start(),
                message: format!("{what} has no expression"),
            })?;
            let message_expression = v
                .get("messageExpression")
                .map(|m| compile(m, &format!("{what}.messageExpression")))
                .transpose()?;
            program.validations.push(Validation {
                expression: compile(node, &what)?,
                message: v.get("message").and_then(Node::as_str).map(str::to_string),
                message_expression,
            });
        }
        Ok(program)
    }

    /// The program with text replaced in every expression (autogen rewrites `object.spec`
    /// for pod controllers), recompiled; positions are kept.
    fn rewritten(&self, replacements: &[(&str, &str)]) -> Result<Program, CompileError> {
        let redo = |c: &Compiled| c.rewritten(replacements);
        let named = |list: &[(String, Compiled)]| {
            list.iter().map(|(n, c)| Ok((n.clone(), redo(c)?))).collect::<Result<Vec<_>, _>>()
        };
        Ok(Program {
            conditions: named(&self.conditions)?,
            variables: named(&self.variables)?,
            validations: self
                .validations
                .iter()
                .map(|v| {
                    Ok(Validation {
                        expression: redo(&v.expression)?,
                        message: v.message.clone(),
                        message_expression: v.message_expression.as_ref().map(redo).transpose()?,
                    })
                })
                .collect::<Result<_, CompileError>>()?,
        })
    }

    /// The program for a pod controller, generated from one written for Pods (autogen):
    /// `object.spec` and `object.metadata` (and `oldObject`'s) move to the pod template at
    /// `template` (`spec.template`, or `spec.jobTemplate.spec.template` for CronJobs).
    pub fn for_pod_template(
        &self,
        template: &str,
        keep_namespace: bool,
    ) -> Result<Program, CompileError> {
        let replacements = pod_template_replacements(template, keep_namespace);
        let borrowed: Vec<(&str, &str)> =
            replacements.iter().map(|(a, b)| (*a, b.as_str())).collect();
        self.rewritten(&borrowed)
    }

    /// Runs the conditions, then the validations in order: the first that is false fails the
    /// program with its message. One that cannot be evaluated (or gives no bool) fails it too
    /// when `errors_fail` (a ClusterPolicy's `validate.cel` under failurePolicy `Fail`), else
    /// makes it an error; a limit reached is always an error.
    ///
    /// Conditions are Kubernetes match conditions: all are evaluated, and one that is false
    /// means no match whatever the others gave; otherwise one that cannot be evaluated is an
    /// error, or no match when `ignore_condition_errors` (failurePolicy `Ignore`).
    #[must_use]
    pub fn run(
        &self,
        activation: &BTreeMap<String, Val>,
        limits: &crate::limits::Limits,
        host: Option<&dyn Host>,
        (errors_fail, ignore_condition_errors): (bool, bool),
    ) -> Outcome {
        let variables = Variables::new(&self.variables);
        let mut env = environment(activation, &variables, limits, host);
        match self.conditions_in(&mut env, ignore_condition_errors) {
            Some(outcome) => outcome,
            None => self.validations_in(&mut env, errors_fail),
        }
    }

    /// Runs the conditions only (as [`Program::run`] does): `None` when all hold, else the
    /// outcome (`NotMatched`, or `Error`).
    #[must_use]
    pub fn conditions_hold(
        &self,
        activation: &BTreeMap<String, Val>,
        limits: &crate::limits::Limits,
        host: Option<&dyn Host>,
        ignore_condition_errors: bool,
    ) -> Option<Outcome> {
        let variables = Variables::new(&self.variables);
        let mut env = environment(activation, &variables, limits, host);
        self.conditions_in(&mut env, ignore_condition_errors)
    }

    /// Runs the validations only (as [`Program::run`] does once the conditions hold).
    #[must_use]
    pub fn validate(
        &self,
        activation: &BTreeMap<String, Val>,
        limits: &crate::limits::Limits,
        host: Option<&dyn Host>,
        errors_fail: bool,
    ) -> Outcome {
        let variables = Variables::new(&self.variables);
        let mut env = environment(activation, &variables, limits, host);
        self.validations_in(&mut env, errors_fail)
    }

    fn conditions_in(&self, env: &mut Env<'_>, ignore_errors: bool) -> Option<Outcome> {
        let mut failed = None;
        for (name, condition) in &self.conditions {
            match truth(condition, env) {
                Ok(true) => {}
                Ok(false) => return Some(Outcome::NotMatched(name.clone())),
                Err((e, true)) => return Some(Outcome::Error(format!("condition `{name}`: {e}"))),
                Err((e, false)) => {
                    failed.get_or_insert((name, e));
                }
            }
        }
        let (name, e) = failed?;
        Some(if ignore_errors {
            Outcome::NotMatched(name.clone())
        } else {
            Outcome::Error(format!("condition `{name}`: {e}"))
        })
    }

    fn validations_in(&self, env: &mut Env<'_>, errors_fail: bool) -> Outcome {
        for (i, v) in self.validations.iter().enumerate() {
            let outcome = truth(&v.expression, env);
            let mut path = || env.take_blame().or_else(|| first_object_path(&v.expression.expr));
            match outcome {
                Ok(true) => {}
                Ok(false) => {
                    let path = path();
                    return Outcome::Fail(failure_message(v, env), path);
                }
                Err((e, limit)) => {
                    let message = format!("validation {i}: {e}");
                    return if errors_fail && !limit {
                        Outcome::Fail(message, path())
                    } else {
                        Outcome::Error(message)
                    };
                }
            }
        }
        Outcome::Pass
    }
}

/// The environment a program's expressions run in: the activation, the program's lazily
/// evaluated variables, the limits and the host of cluster lookups.
fn environment<'a>(
    activation: &'a BTreeMap<String, Val>,
    variables: &'a Variables<'a>,
    limits: &crate::limits::Limits,
    host: Option<&'a dyn Host>,
) -> Env<'a> {
    let env = Env::new(activation, limits.cel_steps)
        .with_regex_size(limits.regex_size)
        .with_variables(variables);
    match host {
        Some(host) => env.with_host(host),
        None => env,
    }
}

/// Evaluates a condition or validation: it must give a bool. An error says which expression
/// (and its line in the policy file) and whether a limit caused it.
fn truth(c: &Compiled, env: &mut Env<'_>) -> Result<bool, (String, bool)> {
    env.reset_steps();
    env.clear_blame();
    let describe = |e: &EvalError| {
        let text = one_line(&c.text);
        let text = if text.chars().count() > 120 {
            format!("{}…", text.chars().take(120).collect::<String>())
        } else {
            text
        };
        (
            format!("expression `{text}` (line {}) could not be evaluated: {e}", c.pos.line),
            e.is_limit(),
        )
    };
    match eval(&c.expr, env) {
        Ok(Val::Bool(b)) => Ok(b),
        Ok(other) => Err(describe(&EvalError::Failed(format!(
            "it gave a `{}`, not a bool",
            other.type_name()
        )))),
        Err(e) => Err(describe(&e)),
    }
}

/// The message of a failed validation: its `messageExpression` when that gives a non-empty
/// string, else its `message`, else Kubernetes' default.
fn failure_message(v: &Validation, env: &mut Env<'_>) -> String {
    if let Some(m) = &v.message_expression {
        env.reset_steps();
        if let Ok(Val::String(s)) = eval(&m.expr, env) {
            if !s.trim().is_empty() {
                return s.to_string();
            }
        }
    }
    match &v.message {
        Some(m) if !m.is_empty() => m.clone(),
        _ => format!("failed expression: {}", one_line(&v.expression.text)),
    }
}

/// How many variables a comprehension macro binds (`all(x, p)`: 1; `all(k, v, p)`: 2), or
/// `None` when the call is not one.
fn comprehension_vars(function: &str, args: &[Expr]) -> Option<usize> {
    let ident = |i: usize| matches!(args.get(i), Some(Expr::Ident(_)));
    match (function, args.len()) {
        ("all" | "exists" | "exists_one" | "filter" | "map", 2) | ("map", 3) if ident(0) => Some(1),
        ("all" | "exists" | "exists_one" | "existsOne" | "transformList" | "transformMap", 3)
        | ("transformList" | "transformMap", 4)
            if ident(0) && ident(1) =>
        {
            Some(2)
        }
        _ => None,
    }
}

/// The first field of `object` an expression reads (`object.spec.replicas` in
/// `object.spec.replicas > 1`), as a path.
fn first_object_path(e: &Expr) -> Option<Vec<String>> {
    fn chain(e: &Expr) -> Option<Vec<String>> {
        match e {
            Expr::Ident(n) if n == "object" => Some(Vec::new()),
            Expr::Select { operand, field, .. } => {
                let mut p = chain(operand)?;
                p.push(field.clone());
                Some(p)
            }
            Expr::Index { operand, index, .. } => {
                let mut p = chain(operand)?;
                match &**index {
                    Expr::String(s) => p.push(s.clone()),
                    Expr::Int(i) => p.push(i.to_string()),
                    _ => return None,
                }
                Some(p)
            }
            _ => None,
        }
    }
    if let Some(p) = chain(e).filter(|p| !p.is_empty()) {
        return Some(p);
    }
    match e {
        Expr::Select { operand, .. } => first_object_path(operand),
        Expr::Index { operand, index, .. } => {
            first_object_path(operand).or_else(|| first_object_path(index))
        }
        Expr::Call { target, args, .. } => target
            .as_deref()
            .and_then(first_object_path)
            .or_else(|| args.iter().find_map(first_object_path)),
        Expr::List(items) => items.iter().find_map(|(x, _)| first_object_path(x)),
        Expr::Map(entries) => entries
            .iter()
            .find_map(|(k, v, _)| first_object_path(k).or_else(|| first_object_path(v))),
        Expr::Unary(_, x) => first_object_path(x),
        Expr::Binary(_, a, b) => first_object_path(a).or_else(|| first_object_path(b)),
        Expr::Conditional(c, a, b) => {
            first_object_path(c).or_else(|| first_object_path(a)).or_else(|| first_object_path(b))
        }
        _ => None,
    }
}

/// Replaces each `from` with its `to` in one pass (a replacement is not replaced again).
fn replace_all(text: &str, replacements: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut after_name = false;
    'outer: while !rest.is_empty() {
        // Only at the start of a name: `object.spec`, not `myobject.spec`.
        if !after_name {
            for (from, to) in replacements {
                if let Some(after) = rest.strip_prefix(from) {
                    out.push_str(to);
                    rest = after;
                    continue 'outer;
                }
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
            after_name = c.is_alphanumeric() || c == '_';
        }
        rest = chars.as_str();
    }
    out
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::yaml::{parse_stream, Limits};

    /// A program whose `n` variables each use the one before.
    fn chained(n: usize) -> Program {
        use std::fmt::Write as _;
        let mut text = String::from("variables:\n- {name: v0, expression: '1'}\n");
        for i in 1..n {
            let _ = writeln!(text, "- {{name: v{i}, expression: 'variables.v{} + 1'}}", i - 1);
        }
        let _ = writeln!(text, "validations:\n- expression: variables.v{} > 0", n - 1);
        let doc = parse_stream(&text, &Limits::default());
        Program::from_nodes(Some(&doc.documents[0].root), "validations", None).unwrap()
    }

    #[test]
    fn malformed_programs_are_errors_at_their_line() {
        let cases = [
            ("validations: {a: 1}\n", 1, "`validations` must be a list"),
            ("validations:\n- message: m\n", 2, "validations[0] has no expression"),
            ("validations:\n- expression: [1]\n", 2, "validations[0] must be a string"),
            ("variables:\n- expression: 'true'\n", 2, "variables[0] has no name"),
            ("variables:\n- name: v\n", 2, "variable `v` has no expression"),
            (
                "validations:\n- expression: 'true'\n  messageExpression: \"'a' +\"\n",
                3,
                "validations[0].messageExpression is not valid CEL",
            ),
            ("matchConditions:\n- name: c\n", 2, "matchConditions[0] has no expression"),
        ];
        for (text, line, message) in cases {
            let doc = parse_stream(text, &Limits::default());
            let root = &doc.documents[0].root;
            let e = Program::from_nodes(Some(root), "validations", Some((root, "matchConditions")))
                .expect_err(text);
            assert_eq!(e.pos.line, line, "{text}: {e:?}");
            assert!(e.message.contains(message), "{text}: {e:?}");
        }
    }

    #[test]
    fn chains_of_variables_are_bounded() {
        let limits = crate::limits::Limits::default();
        let vars = BTreeMap::new();
        assert_eq!(chained(60).run(&vars, &limits, None, (false, false)), Outcome::Pass);
        match chained(1000).run(&vars, &limits, None, (false, false)) {
            Outcome::Error(e) => assert!(e.contains("more than 64 variables"), "{e}"),
            other => panic!("{other:?}"),
        }
    }
}
