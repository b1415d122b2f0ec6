//! Gatekeeper's mutators (`mutations.gatekeeper.sh`): `Assign`, `AssignMetadata`, `ModifySet`
//! and `AssignImage`, with their `applyTo`, `match` and `location` semantics as Gatekeeper's
//! mutation documentation gives them:
//!
//! - `location` is a dotted path; `field[key: value]` selects the element of a list whose `key`
//!   is `value` (made when missing, for an Assign), `field[key: *]` every element that has the
//!   key; `"quoted.keys"` hold dots;
//! - `Assign` sets the value (or the object's `name`/`namespace`, `fromMetadata`), making the
//!   mappings on the way, unless `pathTests` (`MustExist`/`MustNotExist` on a sub-path) or
//!   `assignIf` (`in`/`notIn` the current value) say not to;
//! - `AssignMetadata` adds a label or annotation the object does not have yet (never changes
//!   one);
//! - `ModifySet` merges values into a list (appended when missing) or prunes them;
//! - `AssignImage` replaces the domain, path or tag of an image.
//!
//! Mutators are applied in order of kind and name, as Gatekeeper sorts them, repeatedly until
//! the object stops changing (at most [`MAX_PASSES`] passes). External data is not reached
//! offline: a mutator that uses it is an error naming it.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::engine::kyverno::matching::selector_matches;
use crate::load::source::Span;
use crate::load::Node;

/// Most passes over the mutators (Gatekeeper applies them until the object converges).
pub const MAX_PASSES: usize = 3;

/// Whether a document is a Gatekeeper mutator.
#[must_use]
pub fn is_mutator(root: &Node) -> bool {
    let api = root.get("apiVersion").and_then(Node::as_str).unwrap_or("");
    let kind = root.get("kind").and_then(Node::as_str).unwrap_or("");
    api.starts_with("mutations.gatekeeper.sh/")
        && matches!(kind, "Assign" | "AssignMetadata" | "ModifySet" | "AssignImage")
}

/// One segment of a location.
#[derive(Clone, Debug, PartialEq)]
enum Segment {
    Field(String),
    /// `field[key: value]`; `None` for `*`.
    List {
        field: String,
        key: String,
        value: Option<String>,
    },
}

/// What a mutator does at its location.
#[derive(Clone, Debug)]
enum Action {
    Assign { value: Assigned, path_tests: Vec<(Vec<Segment>, bool)>, assign_if: AssignIf },
    AssignMetadata { value: Assigned },
    ModifySet { merge: bool, values: Vec<Value> },
    AssignImage { domain: Option<String>, path: Option<String>, tag: Option<String> },
}

#[derive(Clone, Debug)]
enum Assigned {
    Value(Value),
    /// `fromMetadata.field`: `name` or `namespace`.
    FromMetadata(String),
}

#[derive(Clone, Debug, Default)]
struct AssignIf {
    within: Option<Vec<Value>>,
    not_within: Option<Vec<Value>>,
}

/// A compiled mutator.
#[derive(Clone, Debug)]
pub struct Mutator {
    pub kind: String,
    pub name: String,
    /// Where it points: its `location`.
    pub span: Span,
    apply_to: Vec<(Vec<String>, Vec<String>, Vec<String>)>,
    matcher: Match,
    location: Vec<Segment>,
    action: Action,
}

/// `spec.match`.
#[derive(Clone, Debug, Default)]
struct Match {
    /// (apiGroups, kinds).
    kinds: Vec<(Vec<String>, Vec<String>)>,
    scope: Option<String>,
    namespaces: Vec<String>,
    excluded: Vec<String>,
    label_selector: Option<Value>,
    namespace_selector: Option<Value>,
    name: Option<String>,
}

/// What a mutator sees of an object.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub api_version: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
    /// Effective namespace; `None` for a cluster-scoped object.
    pub namespace: Option<&'a str>,
    /// The labels of its Namespace, read when a `namespaceSelector` asks.
    pub namespace_labels: &'a NamespaceLabels<'a>,
}

/// The labels of an object's Namespace, looked up the first time they are needed.
pub struct NamespaceLabels<'a> {
    cell: std::cell::OnceCell<BTreeMap<String, String>>,
    lookup: &'a dyn Fn() -> BTreeMap<String, String>,
}

impl<'a> NamespaceLabels<'a> {
    pub fn new(lookup: &'a dyn Fn() -> BTreeMap<String, String>) -> Self {
        NamespaceLabels { cell: std::cell::OnceCell::new(), lookup }
    }

    /// The labels (looked up now if not yet).
    pub fn get(&self) -> &BTreeMap<String, String> {
        self.cell.get_or_init(self.lookup)
    }
}

fn strings(n: Option<&Node>) -> Vec<String> {
    n.and_then(Node::as_seq)
        .map(|items| items.iter().filter_map(Node::as_str).map(String::from).collect())
        .unwrap_or_default()
}

impl Match {
    fn from_node(m: Option<&Node>) -> Match {
        Match {
            kinds: m
                .and_then(|m| m.get("kinds"))
                .and_then(Node::as_seq)
                .into_iter()
                .flatten()
                .map(|k| (strings(k.get("apiGroups")), strings(k.get("kinds"))))
                .collect(),
            scope: m.and_then(|m| m.get("scope")).and_then(Node::as_str).map(String::from),
            namespaces: strings(m.and_then(|m| m.get("namespaces"))),
            excluded: strings(m.and_then(|m| m.get("excludedNamespaces"))),
            label_selector: m.and_then(|m| m.get("labelSelector")).map(Node::to_json),
            namespace_selector: m.and_then(|m| m.get("namespaceSelector")).map(Node::to_json),
            name: m.and_then(|m| m.get("name")).and_then(Node::as_str).map(String::from),
        }
    }
}

/// A mutator that cannot be compiled: where and why.
#[derive(Debug)]
pub struct Invalid {
    pub span: Span,
    pub message: String,
}

impl Mutator {
    /// Compiles a mutator document.
    pub fn from_node(root: &Node) -> Result<Mutator, Invalid> {
        let bad = |n: &Node, m: String| Invalid { span: n.span, message: m };
        let kind = root.get("kind").and_then(Node::as_str).unwrap_or("").to_string();
        let name = root.at(&["metadata", "name"]).and_then(Node::as_str).unwrap_or("").to_string();
        let spec =
            root.get("spec").ok_or_else(|| bad(root, format!("{kind} `{name}` has no spec")))?;
        let loc_node =
            spec.get("location").ok_or_else(|| bad(spec, "spec.location is missing".into()))?;
        let location = parse_location(loc_node.as_str().unwrap_or(""))
            .map_err(|e| bad(loc_node, format!("spec.location: {e}")))?;
        let apply_to: Vec<_> = spec
            .get("applyTo")
            .and_then(Node::as_seq)
            .into_iter()
            .flatten()
            .map(|a| {
                (strings(a.get("groups")), strings(a.get("kinds")), strings(a.get("versions")))
            })
            .collect();
        if kind != "AssignMetadata" && apply_to.is_empty() {
            return Err(bad(spec, format!("{kind} `{name}` needs spec.applyTo")));
        }
        let matcher = Match::from_node(spec.get("match"));
        let action = action(&kind, spec, loc_node, &location)?;
        Ok(Mutator { kind, name, span: loc_node.span, apply_to, matcher, location, action })
    }

    /// How reports name the mutator: `Assign pin-pool`.
    #[must_use]
    pub fn label(&self) -> String {
        format!("{} {}", self.kind, self.name)
    }

    /// Whether the mutator applies to an object (`applyTo`, then `match`).
    pub fn applies(
        &self,
        t: &Target<'_>,
        labels: &BTreeMap<String, String>,
    ) -> Result<bool, String> {
        let (group, version) = t.api_version.rsplit_once('/').unwrap_or(("", t.api_version));
        if !self.apply_to.is_empty()
            && !self.apply_to.iter().any(|(groups, kinds, versions)| {
                groups.iter().any(|g| g == group)
                    && kinds.iter().any(|k| k == t.kind)
                    && versions.iter().any(|v| v == version)
            })
        {
            return Ok(false);
        }
        let m = &self.matcher;
        let star = |list: &[String], v: &str| list.iter().any(|x| x == "*" || x == v);
        if !m.kinds.is_empty()
            && !m
                .kinds
                .iter()
                .any(|(g, k)| (g.is_empty() || star(g, group)) && (k.is_empty() || star(k, t.kind)))
        {
            return Ok(false);
        }
        match (m.scope.as_deref(), t.namespace) {
            (Some("Namespaced"), None) | (Some("Cluster"), Some(_)) => return Ok(false),
            _ => {}
        }
        let ns = t.namespace.unwrap_or("");
        if !m.namespaces.is_empty()
            && (t.namespace.is_none() || !m.namespaces.iter().any(|p| glob(p, ns)))
        {
            return Ok(false);
        }
        if t.namespace.is_some() && m.excluded.iter().any(|p| glob(p, ns)) {
            return Ok(false);
        }
        if let Some(name) = &m.name {
            if !glob(name, t.name) {
                return Ok(false);
            }
        }
        if let Some(sel) = &m.label_selector {
            if !selector_matches(sel, labels, false)? {
                return Ok(false);
            }
        }
        if let Some(sel) = &m.namespace_selector {
            // A Namespace is selected by its own labels; a cluster-scoped object by none.
            let ns_labels = if t.kind == "Namespace" { labels } else { t.namespace_labels.get() };
            if t.namespace.is_none() && t.kind != "Namespace" {
                return Ok(false);
            }
            if !selector_matches(sel, ns_labels, false)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Mutates an object (its JSON); whether it changed.
    pub fn mutate(&self, object: &mut Value, t: &Target<'_>) -> Result<bool, String> {
        let before = object.clone();
        match &self.action {
            Action::Assign { value, path_tests, assign_if } => {
                for (path, must_exist) in path_tests {
                    if exists(object, path) != *must_exist {
                        return Ok(false);
                    }
                }
                let value = resolve(value, t);
                assign(object, &self.location, &value, assign_if, true)?;
            }
            Action::AssignMetadata { value } => {
                if exists(object, &self.location) {
                    return Ok(false);
                }
                let value = resolve(value, t);
                if !value.is_string() {
                    return Err(format!(
                        "{}: a label or annotation must be a string",
                        self.label()
                    ));
                }
                assign(object, &self.location, &value, &AssignIf::default(), true)?;
            }
            Action::ModifySet { merge, values } => {
                visit(
                    object,
                    &self.location,
                    &mut |v| {
                        if v.is_null() && *merge {
                            *v = Value::Array(Vec::new());
                        }
                        let Value::Array(items) = v else { return };
                        if *merge {
                            for x in values {
                                if !items.contains(x) {
                                    items.push(x.clone());
                                }
                            }
                        } else {
                            items.retain(|x| !values.contains(x));
                        }
                    },
                    *merge,
                );
            }
            Action::AssignImage { domain, path, tag } => {
                visit(
                    object,
                    &self.location,
                    &mut |v| {
                        if let Value::String(image) = v {
                            *image = assign_image(
                                image,
                                domain.as_deref(),
                                path.as_deref(),
                                tag.as_deref(),
                            );
                        }
                    },
                    false,
                );
            }
        }
        Ok(*object != before)
    }
}

/// What a mutator of `kind` does, from its `spec.parameters`.
fn action(
    kind: &str,
    spec: &Node,
    loc_node: &Node,
    location: &[Segment],
) -> Result<Action, Invalid> {
    let bad = |n: &Node, m: String| Invalid { span: n.span, message: m };
    let params = spec.get("parameters");
    let assigned = || -> Result<Assigned, Invalid> {
        let assign = params.and_then(|p| p.get("assign"));
        if let Some(ext) = assign.and_then(|a| a.get("externalData")) {
            return Err(bad(
                ext,
                "externalData is not supported: external data providers are not reached offline"
                    .into(),
            ));
        }
        if let Some(field) = assign.and_then(|a| a.at(&["fromMetadata", "field"])) {
            let f = field.as_str().unwrap_or("");
            if !matches!(f, "name" | "namespace") {
                return Err(bad(
                    field,
                    format!("fromMetadata.field must be `name` or `namespace`, not `{f}`"),
                ));
            }
            return Ok(Assigned::FromMetadata(f.into()));
        }
        let value = assign
            .and_then(|a| a.get("value"))
            .ok_or_else(|| bad(spec, "parameters.assign.value is missing".into()))?;
        Ok(Assigned::Value(value.to_json()))
    };
    let action = match kind {
        "Assign" => {
            let path_tests = params
                .and_then(|p| p.get("pathTests"))
                .and_then(Node::as_seq)
                .into_iter()
                .flatten()
                .map(|t| {
                    let sub = t.get("subPath").and_then(Node::as_str).unwrap_or("");
                    let path =
                        parse_location(sub).map_err(|e| bad(t, format!("pathTests: {e}")))?;
                    let exist = t.get("condition").and_then(Node::as_str) != Some("MustNotExist");
                    Ok((path, exist))
                })
                .collect::<Result<Vec<_>, Invalid>>()?;
            let list = |k: &str| {
                params.and_then(|p| p.at(&["assignIf", k])).map(|n| match n.to_json() {
                    Value::Array(items) => items,
                    other => vec![other],
                })
            };
            Action::Assign {
                value: assigned()?,
                path_tests,
                assign_if: AssignIf { within: list("in"), not_within: list("notIn") },
            }
        }
        "AssignMetadata" => {
            let ok = matches!(location,
                    [Segment::Field(m), Segment::Field(l), Segment::Field(_)]
                        if m == "metadata" && (l == "labels" || l == "annotations"));
            if !ok {
                return Err(bad(loc_node, "an AssignMetadata location must be metadata.labels.<key> or metadata.annotations.<key>".into()));
            }
            Action::AssignMetadata { value: assigned()? }
        }
        "ModifySet" => {
            let op =
                params.and_then(|p| p.get("operation")).and_then(Node::as_str).unwrap_or("merge");
            if !matches!(op, "merge" | "prune") {
                return Err(bad(
                    spec,
                    format!("parameters.operation must be merge or prune, not `{op}`"),
                ));
            }
            let values = params
                .and_then(|p| p.at(&["values", "fromList"]))
                .map(|n| match n.to_json() {
                    Value::Array(items) => items,
                    other => vec![other],
                })
                .unwrap_or_default();
            Action::ModifySet { merge: op == "merge", values }
        }
        _ => {
            let s =
                |k: &str| params.and_then(|p| p.get(k)).and_then(Node::as_str).map(String::from);
            let (domain, path, tag) = (s("assignDomain"), s("assignPath"), s("assignTag"));
            if domain.is_none() && path.is_none() && tag.is_none() {
                return Err(bad(
                    spec,
                    "AssignImage needs assignDomain, assignPath or assignTag".into(),
                ));
            }
            if tag.as_deref().is_some_and(|t| !t.starts_with(':') && !t.starts_with('@')) {
                return Err(bad(spec, "assignTag must start with `:` or `@`".into()));
            }
            Action::AssignImage { domain, path, tag }
        }
    };
    Ok(action)
}

/// A prefix or suffix glob (`team-*`, `*-system`), or the exact text.
fn glob(pattern: &str, value: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    if let Some(prefix) = pattern.strip_suffix('*') {
        return value.starts_with(prefix);
    }
    if let Some(suffix) = pattern.strip_prefix('*') {
        return value.ends_with(suffix);
    }
    pattern == value
}

fn resolve(value: &Assigned, t: &Target<'_>) -> Value {
    match value {
        Assigned::Value(v) => v.clone(),
        Assigned::FromMetadata(f) if f == "name" => Value::String(t.name.into()),
        Assigned::FromMetadata(_) => Value::String(t.namespace.unwrap_or("").into()),
    }
}

/// Parses a location: `spec.containers[name: foo].image`, `metadata.labels."a.b/c"`.
fn parse_location(text: &str) -> Result<Vec<Segment>, String> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err("the location is empty".into());
    }
    while !rest.is_empty() {
        let (field, after) = if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').ok_or("an unterminated quote")?;
            (quoted[..end].to_string(), &quoted[end + 1..])
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            (rest[..end].trim().to_string(), &rest[end..])
        };
        if field.is_empty() {
            return Err(format!("an empty field in `{text}`"));
        }
        let mut after = after;
        if let Some(inner) = after.strip_prefix('[') {
            let end = inner.find(']').ok_or("an unterminated `[`")?;
            let (key, value) =
                inner[..end].split_once(':').ok_or("a list selector needs `key: value`")?;
            let unquote = |s: &str| s.trim().trim_matches('"').to_string();
            let value = unquote(value);
            out.push(Segment::List {
                field,
                key: unquote(key),
                value: (value != "*").then_some(value),
            });
            after = &inner[end + 1..];
        } else {
            out.push(Segment::Field(field));
        }
        rest = match after.strip_prefix('.') {
            Some(r) => r,
            None if after.is_empty() => after,
            None => return Err(format!("unexpected `{after}` in `{text}`")),
        };
    }
    Ok(out)
}

/// Whether something is at `path`.
fn exists(v: &Value, path: &[Segment]) -> bool {
    let Some((first, rest)) = path.split_first() else { return true };
    match first {
        Segment::Field(f) => v.get(f).is_some_and(|c| exists(c, rest)),
        Segment::List { field, key, value } => {
            let Some(Value::Array(items)) = v.get(field) else { return false };
            items.iter().any(|e| {
                e.get(key).is_some_and(|k| value.as_deref().is_none_or(|want| text(k) == want))
                    && exists(e, rest)
            })
        }
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Sets `value` at `path`, making the mappings (and keyed list elements) on the way.
fn assign(
    v: &mut Value,
    path: &[Segment],
    value: &Value,
    cond: &AssignIf,
    make: bool,
) -> Result<(), String> {
    let Some((first, rest)) = path.split_first() else {
        if cond.within.as_ref().is_some_and(|list| !list.contains(v)) {
            return Ok(());
        }
        if cond.not_within.as_ref().is_some_and(|list| list.contains(v)) {
            return Ok(());
        }
        *v = value.clone();
        return Ok(());
    };
    if v.is_null() {
        *v = json!({});
    }
    let Value::Object(map) = v else {
        return Err("the location goes through a value that is not a mapping".into());
    };
    match first {
        Segment::Field(f) => {
            if rest.is_empty() {
                let current = map.get(f).cloned().unwrap_or(Value::Null);
                let mut slot = current;
                assign(&mut slot, rest, value, cond, make)?;
                if slot.is_null() && !map.contains_key(f) {
                    return Ok(());
                }
                map.insert(f.clone(), slot);
                return Ok(());
            }
            let child = map.entry(f.clone()).or_insert(Value::Null);
            assign(child, rest, value, cond, make)
        }
        Segment::List { field, key, value: wanted } => {
            let list = map.entry(field.clone()).or_insert_with(|| Value::Array(Vec::new()));
            if list.is_null() {
                *list = Value::Array(Vec::new());
            }
            let Value::Array(items) = list else {
                return Err(format!("`{field}` is not a list"));
            };
            let selected: Vec<usize> = items
                .iter()
                .enumerate()
                .filter(|(_, e)| {
                    e.get(key).is_some_and(|k| wanted.as_deref().is_none_or(|w| text(k) == w))
                })
                .map(|(i, _)| i)
                .collect();
            if selected.is_empty() {
                // A named element that is missing is made (a glob selects only what exists).
                if let (Some(w), true) = (wanted, make) {
                    let mut element = Map::new();
                    element.insert(key.clone(), Value::String(w.clone()));
                    let mut element = Value::Object(element);
                    assign(&mut element, rest, value, cond, make)?;
                    items.push(element);
                }
                return Ok(());
            }
            for i in selected {
                assign(&mut items[i], rest, value, cond, make)?;
            }
            Ok(())
        }
    }
}

/// Calls `f` on every value at `path` (on a missing last field too, as null, when `make`).
fn visit(v: &mut Value, path: &[Segment], f: &mut dyn FnMut(&mut Value), make: bool) {
    let Some((first, rest)) = path.split_first() else {
        f(v);
        return;
    };
    let Value::Object(map) = v else { return };
    match first {
        Segment::Field(name) => {
            if !map.contains_key(name) {
                if !(make && rest.is_empty()) {
                    return;
                }
                let mut slot = Value::Null;
                f(&mut slot);
                if !slot.is_null() {
                    map.insert(name.clone(), slot);
                }
                return;
            }
            if let Some(child) = map.get_mut(name) {
                visit(child, rest, f, make);
            }
        }
        Segment::List { field, key, value } => {
            let Some(Value::Array(items)) = map.get_mut(field) else { return };
            for e in items.iter_mut() {
                if e.get(key).is_some_and(|k| value.as_deref().is_none_or(|w| text(k) == w)) {
                    visit(e, rest, f, make);
                }
            }
        }
    }
}

/// An image with its domain, path or tag replaced (`domain/path:tag` or `…@digest`).
fn assign_image(
    image: &str,
    domain: Option<&str>,
    path: Option<&str>,
    tag: Option<&str>,
) -> String {
    let (name, old_tag) = match image.find('@') {
        Some(at) => (&image[..at], &image[at..]),
        None => match image.rfind(':').filter(|&c| !image[c..].contains('/')) {
            Some(c) => (&image[..c], &image[c..]),
            None => (image, ""),
        },
    };
    let (old_domain, old_path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (first, rest)
        }
        _ => ("", name),
    };
    let domain = domain.unwrap_or(old_domain);
    let path = path.unwrap_or(old_path);
    let tag = tag.unwrap_or(old_tag);
    if domain.is_empty() {
        format!("{path}{tag}")
    } else {
        format!("{domain}/{path}{tag}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{parse_text, Limits};

    fn mutator(yaml: &str) -> Mutator {
        let (file, problems) = parse_text("m.yaml", yaml, &Limits::default());
        assert!(problems.is_empty());
        Mutator::from_node(&file.unwrap().documents[0].root).unwrap()
    }

    fn target<'a>(ns: &'a str, labels: &'a NamespaceLabels<'a>) -> Target<'a> {
        Target {
            api_version: "v1",
            kind: "Pod",
            name: "p",
            namespace: Some(ns),
            namespace_labels: labels,
        }
    }

    #[test]
    fn assign_sets_a_node_selector_for_matched_namespaces() {
        let m = mutator("apiVersion: mutations.gatekeeper.sh/v1\nkind: Assign\nmetadata: {name: pool}\nspec:\n  applyTo: [{groups: [''], kinds: [Pod], versions: [v1]}]\n  match:\n    scope: Namespaced\n    kinds: [{apiGroups: ['*'], kinds: [Pod]}]\n    namespaces: ['team-*']\n    excludedNamespaces: [team-x]\n  location: spec.nodeSelector\n  parameters:\n    assign:\n      value: {pool: tenants}\n");
        let none = BTreeMap::new();
        let lookup = BTreeMap::new;
        let ns = NamespaceLabels::new(&lookup);
        let mut pod = json!({"spec": {"containers": [{"name": "a"}]}});
        assert!(m.applies(&target("team-a", &ns), &none).unwrap());
        assert!(!m.applies(&target("team-x", &ns), &none).unwrap());
        assert!(!m.applies(&target("other", &ns), &none).unwrap());
        assert!(m.mutate(&mut pod, &target("team-a", &ns)).unwrap());
        assert_eq!(pod["spec"]["nodeSelector"], json!({"pool": "tenants"}));
        assert!(!m.mutate(&mut pod, &target("team-a", &ns)).unwrap(), "converged");
    }

    #[test]
    fn list_locations_path_tests_and_the_other_mutators() {
        let lookup = BTreeMap::new;
        let ns = NamespaceLabels::new(&lookup);
        let t = target("a", &ns);
        let m = mutator("apiVersion: mutations.gatekeeper.sh/v1\nkind: Assign\nmetadata: {name: pull}\nspec:\n  applyTo: [{groups: [''], kinds: [Pod], versions: [v1]}]\n  location: 'spec.containers[name: *].imagePullPolicy'\n  parameters:\n    pathTests: [{subPath: 'spec.containers[name: *].imagePullPolicy', condition: MustNotExist}]\n    assign: {value: Always}\n");
        let mut pod = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
        m.mutate(&mut pod, &t).unwrap();
        assert_eq!(pod["spec"]["containers"][1]["imagePullPolicy"], "Always");
        let mut set = json!({"spec": {"containers": [{"name": "a", "imagePullPolicy": "Never"}]}});
        assert!(!m.mutate(&mut set, &t).unwrap(), "the path test holds it back");
        let meta = mutator("apiVersion: mutations.gatekeeper.sh/v1\nkind: AssignMetadata\nmetadata: {name: owner}\nspec:\n  location: metadata.labels.owner\n  parameters: {assign: {fromMetadata: {field: namespace}}}\n");
        let mut obj = json!({"metadata": {"labels": {"x": "y"}}});
        meta.mutate(&mut obj, &t).unwrap();
        assert_eq!(obj["metadata"]["labels"]["owner"], "a");
        let mut owned = json!({"metadata": {"labels": {"owner": "me"}}});
        assert!(!meta.mutate(&mut owned, &t).unwrap(), "an existing label is never changed");
        let set = mutator("apiVersion: mutations.gatekeeper.sh/v1\nkind: ModifySet\nmetadata: {name: args}\nspec:\n  applyTo: [{groups: [''], kinds: [Pod], versions: [v1]}]\n  location: 'spec.containers[name: *].args'\n  parameters: {operation: prune, values: {fromList: [--debug]}}\n");
        let mut pod = json!({"spec": {"containers": [{"name": "a", "args": ["--debug", "--x"]}]}});
        set.mutate(&mut pod, &t).unwrap();
        assert_eq!(pod["spec"]["containers"][0]["args"], json!(["--x"]));
        let image = mutator("apiVersion: mutations.gatekeeper.sh/v1alpha1\nkind: AssignImage\nmetadata: {name: mirror}\nspec:\n  applyTo: [{groups: [''], kinds: [Pod], versions: [v1]}]\n  location: 'spec.containers[name: *].image'\n  parameters: {assignDomain: mirror.example.com}\n");
        let mut pod = json!({"spec": {"containers": [{"name": "a", "image": "docker.io/library/nginx:1.27"}, {"name": "b", "image": "busybox@sha256:ab"}]}});
        image.mutate(&mut pod, &t).unwrap();
        assert_eq!(pod["spec"]["containers"][0]["image"], "mirror.example.com/library/nginx:1.27");
        assert_eq!(pod["spec"]["containers"][1]["image"], "mirror.example.com/busybox@sha256:ab");
        assert_eq!(
            parse_location("metadata.labels.\"a.b/c\"").unwrap()[2],
            Segment::Field("a.b/c".into())
        );
        assert!(parse_location("spec..x").is_err());
    }
}
