//! The JSON context a rule's variables read (kyverno-compat.md, 7.4 and 8): the admission
//! request, image details, values a test supplies, and `context` entries — `configMap` and
//! `apiCall` answered from the objects of the tree.

use crate::pointer::Pointer as _;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::jmespath::{self, EvalError};
use super::matching::Admission;
use super::variables;
use super::Request;
use crate::limits::Limits;

/// Objects of the linted tree, served as the cluster would serve them.
pub trait ClusterData: Sync {
    /// A ConfigMap by namespace and name.
    fn config_map(&self, namespace: &str, name: &str) -> Option<Value>;
    /// The response to a GET of an API path (`/api/v1/namespaces/a/pods`).
    /// Shared, as policies ask the same paths for object after object.
    fn api_get(&self, path: &str) -> Option<Arc<Value>>;
    /// An apiCall's `jmesPath` applied to the response to a GET. The same query comes back for
    /// object after object (`items[].spec.rules[].host`), so a tree remembers the results.
    fn api_search(
        &self,
        path: &str,
        query: &str,
        limits: &Limits,
    ) -> Option<Result<Arc<Value>, EvalError>> {
        let response = self.api_get(path)?;
        Some(jmespath::search(query, &response, limits).map(Arc::new))
    }
    /// An image's metadata (config, manifest) for CEL's `image.GetMetadata`.
    fn image_metadata(&self, _image: &str) -> Option<Value> {
        None
    }
}

/// Values a test supplies through its values file.
#[derive(Debug, Clone, Default)]
pub struct Values {
    /// `globalValues` (dotted keys), applied to every context.
    pub global: Map<String, Value>,
    /// `policies[].rules[].values` by (policy, rule).
    pub rules: BTreeMap<(String, String), Map<String, Value>>,
    /// `policies[].resources[].values` by (policy, resource name).
    pub resources: BTreeMap<(String, String), Map<String, Value>>,
}

impl Values {
    /// Injects the values for one rule and resource into a context; an error names a key that
    /// cannot be read.
    pub fn inject(&self, policy: &str, rule: &str, ctx: &mut Value) -> Result<(), String> {
        let resource = ctx
            .at("/request/object/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let sets = [
            Some(&self.global),
            self.resources.get(&(policy.to_string(), resource)),
            self.rule_values(policy, rule),
        ];
        for set in sets.into_iter().flatten() {
            for (k, v) in set {
                let path = key_path(k).map_err(|e| format!("values: key `{k}`: {e}"))?;
                set_path(ctx, &path, v.clone());
            }
        }
        Ok(())
    }

    /// The resource with the global and per-resource values for `request.object.…` set in it,
    /// when there are any (a key that cannot be read is reported by [`Values::inject`]).
    pub fn object_with_values(&self, policy: &str, resource: &Value) -> Option<Value> {
        let name = resource.at("/metadata/name").and_then(Value::as_str).unwrap_or("");
        let per_resource = self.resources.get(&(policy.to_string(), name.to_string()));
        let keys: Vec<(Vec<String>, &Value)> = [Some(&self.global), per_resource]
            .into_iter()
            .flatten()
            .flatten()
            .filter(|(k, _)| k.starts_with("request.object."))
            .filter_map(|(k, v)| Some((key_path(k).ok()?, v)))
            .collect();
        if keys.is_empty() {
            return None;
        }
        let mut ctx = serde_json::json!({"request": {"object": resource}});
        for (path, value) in keys {
            set_path(&mut ctx, &path, value.clone());
        }
        ctx.pointer_mut("/request/object").map(Value::take)
    }

    /// The values of a rule: those given for its name, or, for a rule autogen made, for the
    /// rule it was made from (Kyverno's CLI matches `R`, `autogen-R` and `autogen-cronjob-R`).
    fn rule_values(&self, policy: &str, rule: &str) -> Option<&Map<String, Value>> {
        let made_from =
            ["autogen-cronjob-", "autogen-"].iter().filter_map(|p| rule.strip_prefix(p));
        std::iter::once(rule)
            .chain(made_from)
            .find_map(|name| self.rules.get(&(policy.to_string(), name.to_string())))
    }

    /// Whether a value was given for a name (a context entry then is not loaded).
    fn provides(&self, ctx_name: &str, ctx: &Value) -> bool {
        ctx.get(ctx_name).is_some() && (!self.rules.is_empty() || !self.global.is_empty())
    }
}

/// Sets `a.b.c` in a JSON object, creating maps on the way.
fn set_dotted(ctx: &mut Value, key: &str, value: Value) {
    let parts: Vec<&str> = key.split('.').collect();
    set_path(ctx, &parts, value);
}

/// The fields of a values key, as Kyverno reads one (a CSV record whose separator is `.`): split
/// on dots outside double quotes, so `"team.example.com/role"` is one field (`""` inside quotes
/// is a quote).
fn key_path(key: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut rest = key;
    loop {
        let (field, after) = if let Some(quoted) = rest.strip_prefix('"') {
            let mut field = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                match chars.next() {
                    Some((i, '"')) if quoted[i + 1..].starts_with('"') => {
                        field.push('"');
                        chars.next();
                    }
                    Some((i, '"')) => break i + 1,
                    Some((_, c)) => field.push(c),
                    None => return Err("a quote is not closed".into()),
                }
            };
            let after = &quoted[end..];
            if !(after.is_empty() || after.starts_with('.')) {
                return Err("text after a closing quote".into());
            }
            (field, after)
        } else {
            let end = rest.find('.').unwrap_or(rest.len());
            if rest[..end].contains('"') {
                return Err("a quote inside a field that does not start with one".into());
            }
            (rest[..end].to_string(), &rest[end..])
        };
        fields.push(field);
        match after.strip_prefix('.') {
            Some(next) => rest = next,
            None => return Ok(fields),
        }
    }
}

/// Sets the value at `path` in a JSON object, creating maps on the way.
fn set_path<S: AsRef<str>>(ctx: &mut Value, parts: &[S], value: Value) {
    let mut cur = ctx;
    for (i, part) in parts.iter().map(AsRef::as_ref).enumerate() {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let Some(obj) = cur.as_object_mut() else { return };
        if i == parts.len() - 1 {
            obj.insert(part.to_string(), value);
            return;
        }
        cur = obj.entry(part.to_string()).or_insert_with(|| Value::Object(Map::new()));
    }
}

/// The variables of [`base`].
pub(super) const BASE_KEYS: [&str; 4] =
    ["request", "serviceAccountName", "serviceAccountNamespace", "images"];

/// Whether every `context` entry in a rule (its own and those of its foreach entries, at any
/// depth) sets a variable outside [`BASE_KEYS`]: such a rule only adds to the base context.
/// Conservative: a field named `context` anywhere counts, and an entry without a name does not
/// qualify.
pub(super) fn adds_only(rule: &Value) -> bool {
    match rule {
        Value::Object(map) => map.iter().all(|(key, value)| {
            let entries_ok = key != "context"
                || value.as_array().is_some_and(|entries| {
                    entries.iter().all(|entry| {
                        entry.get("name").and_then(Value::as_str).is_some_and(|name| {
                            let first = name.split('.').next().unwrap_or(name);
                            !BASE_KEYS.contains(&first)
                        })
                    })
                });
            entries_ok && adds_only(value)
        }),
        Value::Array(items) => items.iter().all(adds_only),
        _ => true,
    }
}

/// The base context for a resource under an admission request.
pub(super) fn base(resource: &Value, request: &Request<'_>, adm: &Admission<'_>) -> Value {
    let (object, old) = match adm.operation {
        "DELETE" => (Value::Null, resource.clone()),
        "UPDATE" => (resource.clone(), resource.clone()),
        _ => (resource.clone(), Value::Null),
    };
    around(object, old, request, adm, images(resource))
}

/// The base context of a created resource for a rule that reads only `reads` of it: the
/// object holds those parts alone (see [`Reads`]), and `images` is made only if read.
pub(super) fn part(
    resource: &Value,
    (object, images_read): (&[Vec<String>], bool),
    request: &Request<'_>,
    adm: &Admission<'_>,
) -> Value {
    let images = if images_read { images(resource) } else { Value::Object(Map::new()) };
    around(parts_of(resource, object), Value::Null, request, adm, images)
}

/// The base context around an object (and old object) under an admission request.
fn around(
    object: Value,
    old: Value,
    request: &Request<'_>,
    adm: &Admission<'_>,
    images: Value,
) -> Value {
    let user = request.user;
    let username = user.map_or("", |u| u.username.as_str());
    let (sa_ns, sa_name) = username
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.split_once(':'))
        .unwrap_or(("", ""));
    // Empty user fields are left out, as Kubernetes' JSON encoding of UserInfo omits them.
    let mut user_info = Map::new();
    if !username.is_empty() {
        user_info.insert("username".into(), Value::String(username.to_string()));
    }
    // Built by moving values in: `json!` would copy `object` through serde twice more.
    let mut request_obj = Map::new();
    request_obj.insert("operation".into(), Value::String(adm.operation.to_string()));
    request_obj.insert("object".into(), object);
    request_obj.insert("oldObject".into(), old);
    request_obj.insert("namespace".into(), Value::String(adm.namespace.to_string()));
    request_obj.insert("name".into(), Value::String(adm.name.to_string()));
    request_obj.insert(
        "kind".into(),
        json!({"group": adm.group, "version": adm.version, "kind": adm.kind}),
    );
    if let Some(u) = user {
        if !u.groups.is_empty() {
            user_info.insert("groups".into(), json!(u.groups));
        }
        if !u.roles.is_empty() {
            request_obj.insert("roles".into(), json!(u.roles));
        }
        if !u.cluster_roles.is_empty() {
            request_obj.insert("clusterRoles".into(), json!(u.cluster_roles));
        }
    }
    request_obj.insert("userInfo".into(), Value::Object(user_info));
    let mut ctx = Map::new();
    ctx.insert("request".into(), Value::Object(request_obj));
    ctx.insert("serviceAccountName".into(), Value::String(sa_name.to_string()));
    ctx.insert("serviceAccountNamespace".into(), Value::String(sa_ns.to_string()));
    ctx.insert("images".into(), images);
    Value::Object(ctx)
}

/// What a rule reads of the object in its context, as far as its expressions tell before it
/// runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Reads {
    /// Possibly all of it: the context holds a copy of the whole object.
    Whole,
    /// Only what is at these field paths of `request.object` (each with all below it), and
    /// `images` when `images` is set: the context holds just that (a fleet's policies read a
    /// field or two of each workload, and copying every object was most of their cost).
    Parts { object: Vec<Vec<String>>, images: bool },
}

impl Reads {
    /// What a validate rule (its JSON) reads: every variable of it (in any string or key,
    /// its context entries, preconditions and match blocks included) and every `variable`
    /// context entry's `jmesPath` is an expression whose reads from the top are plain field
    /// paths ([`jmespath::top_paths`]). `Whole` for any other rule, a `foreach` (its elements
    /// are bound in the context), a variable inside a variable or `{{@}}`, and an expression
    /// that does not parse or reads the object or the request as a whole.
    pub(super) fn of(rule: &Value) -> Reads {
        let Some(validate) = rule.get("validate") else { return Reads::Whole };
        if validate.get("foreach").is_some() {
            return Reads::Whole;
        }
        let mut expressions = Vec::new();
        if !variables::all_expressions(rule, &mut expressions) {
            return Reads::Whole;
        }
        let queries = rule.get("context").and_then(Value::as_array).into_iter().flatten();
        for entry in queries {
            if let Some(q) = entry.at("/variable/jmesPath") {
                let Some(q) = q.as_str() else { return Reads::Whole };
                expressions.push(q);
            }
        }
        let mut object = Vec::new();
        let mut images = false;
        for expression in expressions {
            let Some(paths) =
                jmespath::parse(expression).ok().as_ref().and_then(jmespath::top_paths)
            else {
                return Reads::Whole;
            };
            for path in paths {
                match path.iter().map(String::as_str).collect::<Vec<_>>()[..] {
                    ["request"] | ["request", "object"] => return Reads::Whole,
                    ["request", "object", ..] => object.push(path[2..].to_vec()),
                    ["images", ..] => images = true,
                    _ => {}
                }
            }
        }
        // A path below another one is copied with it.
        object.sort();
        object.dedup_by(|longer, shorter| longer.starts_with(shorter));
        Reads::Parts { object, images }
    }
}

/// Whether a string or key of `v` holds `{{`: what substituting a value re-expands (see
/// [`variables::substitute_str`]).
pub(super) fn holds_braces(v: &Value) -> bool {
    // Keys and values are short: each `{` found (a searcher's set-up costs more than the
    // search), then the byte after it.
    fn braces(s: &str) -> bool {
        let bytes = s.as_bytes();
        memchr::memchr_iter(b'{', bytes).any(|i| bytes.get(i + 1) == Some(&b'{'))
    }
    match v {
        Value::String(s) => braces(s),
        Value::Array(items) => items.iter().any(holds_braces),
        Value::Object(m) => m.iter().any(|(k, v)| braces(k) || holds_braces(v)),
        _ => false,
    }
}

/// The parts of `resource` at `paths` (sorted, none below another), in the same places: the
/// mappings on the way hold only the fields that lead to them, so that reading a path finds
/// what it finds in the whole resource, a missing field included.
fn parts_of(resource: &Value, paths: &[Vec<String>]) -> Value {
    fn copy(from: &Value, to: &mut Value, path: &[String]) {
        let (Value::Object(from), Value::Object(to), Some((field, rest))) =
            (from, to, path.split_first())
        else {
            return;
        };
        let Some(value) = from.get(field) else { return };
        if rest.is_empty() || !value.is_object() {
            to.insert(field.clone(), value.clone());
        } else {
            let below = to.entry(field.clone()).or_insert_with(|| Value::Object(Map::new()));
            copy(value, below, rest);
        }
    }
    if !resource.is_object() {
        return resource.clone();
    }
    let mut out = Value::Object(Map::new());
    for path in paths {
        copy(resource, &mut out, path);
    }
    out
}

/// `images`: every container image of a pod (or pod template) parsed into its parts.
fn images(resource: &Value) -> Value {
    let spec = ["/spec/template/spec", "/spec/jobTemplate/spec/template/spec", "/spec"]
        .iter()
        .find_map(|p| resource.at(p).filter(|s| s.get("containers").is_some()));
    let Some(spec) = spec else { return Value::Object(Map::new()) };
    let mut out = Map::new();
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        let Some(items) = spec.get(list).and_then(Value::as_array) else { continue };
        let mut by_name = Map::new();
        for c in items {
            let (Some(name), Some(image)) =
                (c.get("name").and_then(Value::as_str), c.get("image").and_then(Value::as_str))
            else {
                continue;
            };
            by_name.insert(name.to_string(), image_info(image));
        }
        out.insert(list.to_string(), Value::Object(by_name));
    }
    Value::Object(out)
}

/// Splits an image reference the way Kyverno's `images` variable does.
fn image_info(image: &str) -> Value {
    let r = crate::image::ImageRef::split(image);
    let tag = if r.tag.is_empty() && r.digest.is_empty() { "latest" } else { &r.tag };
    let mut reference = format!("{}/{}", r.registry, r.path);
    if !tag.is_empty() {
        reference.push(':');
        reference.push_str(tag);
    }
    let reference_with_tag = reference.clone();
    if !r.digest.is_empty() {
        reference.push('@');
        reference.push_str(&r.digest);
    }
    json!({
        "registry": r.registry, "path": r.path, "name": r.name(), "tag": tag, "digest": r.digest,
        "reference": reference, "referenceWithTag": reference_with_tag,
    })
}

/// Loads a rule's (or foreach entry's) `context` entries into the context, in order.
pub(super) fn load(
    entries: &[Value],
    ctx: &mut Value,
    request: &Request<'_>,
) -> Result<(), EvalError> {
    for entry in entries {
        let name = entry.get("name").and_then(Value::as_str).unwrap_or("");
        if name.is_empty() {
            return Err(EvalError::Other("a context entry needs a name".into()));
        }
        if let Some(var) = entry.get("variable") {
            let v = variable(var, ctx, &request.limits)?;
            set_dotted(ctx, name, v);
        } else if let Some(cm) = entry.get("configMap") {
            if request.values.is_some_and(|v| v.provides(name, ctx)) {
                continue;
            }
            let cm = variables::substitute(cm, ctx, &request.limits)?;
            let ns = cm.get("namespace").and_then(Value::as_str).unwrap_or("default");
            let cm_name = cm.get("name").and_then(Value::as_str).unwrap_or("");
            if let Some(found) = request.cluster.and_then(|c| c.config_map(ns, cm_name)) {
                set_dotted(ctx, name, found);
            } else if request.cluster.is_some() {
                return Err(EvalError::Other(format!(
                    "ConfigMap {ns}/{cm_name} is not in the tree"
                )));
            }
        } else if let Some(call) = entry.get("apiCall") {
            if request.values.is_some_and(|v| v.provides(name, ctx)) {
                continue;
            }
            let Some(cluster) = request.cluster else { continue };
            if call.get("service").is_some() {
                return Err(EvalError::Other(format!(
                    "apiCall `{name}` calls a service, which cannot be answered offline"
                )));
            }
            let call = variables::substitute(call, ctx, &request.limits)?;
            let path = call.get("urlPath").and_then(Value::as_str).unwrap_or("");
            let response = match call.get("jmesPath").and_then(Value::as_str) {
                Some(q) if !q.is_empty() => {
                    cluster.api_search(path, q, &request.limits).transpose()?
                }
                _ => cluster.api_get(path),
            };
            let v = Arc::unwrap_or_clone(response.ok_or_else(|| {
                EvalError::Other(format!("apiCall `{path}` cannot be answered from the tree"))
            })?);
            set_dotted(ctx, name, v);
        } else if entry.get("imageRegistry").is_some() || entry.get("globalReference").is_some() {
            if ctx.get(name).is_none() {
                return Err(EvalError::Other(format!("context entry `{name}` needs a registry or global context, which cannot be reached offline")));
            }
        } else {
            return Err(EvalError::Other(format!("context entry `{name}` has no known source")));
        }
    }
    Ok(())
}

/// A `variable` context entry (kyverno-compat.md, section 8).
fn variable(var: &Value, ctx: &Value, limits: &Limits) -> Result<Value, EvalError> {
    let default = match var.get("default") {
        Some(d) => Some(variables::substitute(d, ctx, limits)?),
        None => None,
    };
    let query = match var.get("jmesPath") {
        Some(q) => match variables::substitute(q, ctx, limits)? {
            Value::String(s) => Some(s),
            _ => return Err(EvalError::Other("a variable's jmesPath must be a string".into())),
        },
        None => None,
    };
    let result = if let Some(value) = var.get("value") {
        let value = variables::substitute(value, ctx, limits)?;
        match &query {
            Some(q) => match jmespath::search(q, &value, limits) {
                Ok(v) => v,
                Err(e) => default.clone().ok_or(e)?,
            },
            None => value,
        }
    } else if let Some(q) = &query {
        match jmespath::search(q, ctx, limits) {
            Ok(Value::Null) => default.clone().unwrap_or(Value::Null),
            Ok(v) => v,
            Err(e) => default.clone().ok_or(e)?,
        }
    } else {
        default.clone().unwrap_or(Value::Null)
    };
    if result.is_null() {
        return default.ok_or_else(|| EvalError::Other("variable evaluated to nil".into()));
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `{{` anywhere in a string or key, however it is surrounded; a lone `{` or `{ {` is not.
    #[test]
    fn braces_are_found_in_strings_and_keys() {
        let holds = |v: serde_json::Value| holds_braces(&v);
        assert!(holds(serde_json::json!("{{request.object}}")));
        assert!(holds(serde_json::json!({"a": ["x", "tail {{"]})));
        assert!(holds(serde_json::json!({"k{{x}}": 1})));
        assert!(holds(serde_json::json!("{{{")));
        assert!(!holds(serde_json::json!({"a": "{ {", "b": ["{", "}}"], "{": null})));
        assert!(!holds(serde_json::json!("trailing {")));
    }

    #[test]
    fn image_references_split_into_parts() {
        let i = image_info("nginx");
        assert_eq!(
            (i["registry"].as_str(), i["path"].as_str(), i["tag"].as_str()),
            (Some("docker.io"), Some("nginx"), Some("latest"))
        );
        let i = image_info("ghcr.io/org/app:v1.2@sha256:abc");
        assert_eq!(
            (i["registry"].as_str(), i["path"].as_str(), i["name"].as_str()),
            (Some("ghcr.io"), Some("org/app"), Some("app"))
        );
        assert_eq!((i["tag"].as_str(), i["digest"].as_str()), (Some("v1.2"), Some("sha256:abc")));
        let i = image_info("localhost:5000/app:1");
        assert_eq!(
            (i["registry"].as_str(), i["tag"].as_str()),
            (Some("localhost:5000"), Some("1"))
        );
    }

    #[test]
    fn variable_entries_use_defaults() {
        let ctx = json!({"request": {"object": {"metadata": {"labels": {}}}}});
        let v = json!({"jmesPath": "request.object.metadata.labels.team", "default": "unassigned"});
        assert_eq!(variable(&v, &ctx, &Limits::default()), Ok(json!("unassigned")));
        let v = json!({"value": {"a": [1, 2]}, "jmesPath": "a[1]"});
        assert_eq!(variable(&v, &ctx, &Limits::default()), Ok(json!(2)));
        assert!(variable(&json!({"jmesPath": "request.object.nope"}), &ctx, &Limits::default())
            .is_err());
    }

    #[test]
    fn values_keys_split_on_dots_outside_quotes() {
        assert_eq!(key_path("a.b.c"), Ok(vec!["a".into(), "b".into(), "c".into()]));
        assert_eq!(
            key_path(r#"request.object.metadata.labels."team.example.com/role""#),
            Ok(["request", "object", "metadata", "labels", "team.example.com/role"]
                .map(String::from)
                .to_vec())
        );
        assert_eq!(key_path(r#""a""b".c"#), Ok(vec![r#"a"b"#.into(), "c".into()]));
        assert!(key_path(r#"a."b"#).is_err(), "an open quote");
        assert!(key_path(r#"a."b"c"#).is_err(), "text after a closing quote");
        assert!(key_path(r#"a.b"c"#).is_err(), "a bare quote");
        let mut values = Values::default();
        values.global.insert(r#"labels."team.example.com/role""#.into(), json!("admin"));
        let mut ctx = json!({});
        assert_eq!(values.inject("p", "r", &mut ctx), Ok(()));
        assert_eq!(ctx, json!({"labels": {"team.example.com/role": "admin"}}));
        values.global.insert(r#"bad."key"#.into(), json!(1));
        let e = values.inject("p", "r", &mut json!({})).unwrap_err();
        assert!(e.starts_with(r#"values: key `bad."key`"#), "{e}");
    }

    #[test]
    fn rule_values_reach_the_rules_autogen_made() {
        let mut values = Values::default();
        let mut set = Map::new();
        set.insert("team".into(), json!("payments"));
        values.rules.insert(("p".into(), "check".into()), set);
        for rule in ["check", "autogen-check", "autogen-cronjob-check"] {
            let mut ctx = json!({});
            assert_eq!(values.inject("p", rule, &mut ctx), Ok(()));
            assert_eq!(ctx, json!({"team": "payments"}), "{rule}");
        }
        let mut ctx = json!({});
        assert_eq!(values.inject("p", "other", &mut ctx), Ok(()));
        assert_eq!(ctx, json!({}));
    }
}
