//! `match` and `exclude` (kyverno-compat.md, section 3).

use std::collections::BTreeMap;

use serde_json::Value;

use super::wildcard;

/// What a filter is compared with: the resource under admission and the request around it.
#[derive(Debug, Clone, Default)]
pub struct Admission<'a> {
    pub group: &'a str,
    pub version: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
    pub generate_name: &'a str,
    /// Effective namespace; "" for cluster-scoped objects.
    pub namespace: &'a str,
    pub labels: Strings<'a>,
    pub annotations: Strings<'a>,
    /// Labels of the resource's namespace (from the tree or a test's values file).
    pub namespace_labels: std::borrow::Cow<'a, BTreeMap<String, String>>,
    pub operation: &'a str,
    pub user: Option<&'a UserInfo>,
}

/// A resource's labels or annotations, read from its JSON the first time a filter asks (most
/// rules match by kind, name and namespace only).
#[derive(Debug, Clone, Default)]
pub struct Strings<'a> {
    from: Option<&'a Value>,
    read: std::cell::OnceCell<BTreeMap<String, String>>,
}

impl<'a> Strings<'a> {
    /// The string entries of the mapping `from` (none when it is absent or no mapping).
    #[must_use]
    pub fn of(from: Option<&'a Value>) -> Self {
        Strings { from, read: std::cell::OnceCell::new() }
    }

    /// Already read (a test's labels).
    #[cfg(test)]
    #[must_use]
    pub fn given(map: BTreeMap<String, String>) -> Self {
        Strings { from: None, read: std::cell::OnceCell::from(map) }
    }

    #[must_use]
    pub fn get(&self) -> &BTreeMap<String, String> {
        self.read.get_or_init(|| super::policy::string_map(self.from))
    }
}

/// Who makes the request (from a test's `userinfo` file).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserInfo {
    pub username: String,
    pub groups: Vec<String>,
    pub roles: Vec<String>,
    pub cluster_roles: Vec<String>,
}

/// Whether any of the strings of a list field (or a field of one string) passes `test`; `None`
/// when it has none (the field asks for nothing). Nothing is collected: every rule evaluation
/// reads its match block.
fn any_string(v: Option<&Value>, mut test: impl FnMut(&str) -> bool) -> Option<bool> {
    match v {
        Some(Value::Array(items)) => {
            let mut items = items.iter().filter_map(Value::as_str).peekable();
            items.peek()?;
            Some(items.any(test))
        }
        Some(Value::String(s)) => Some(test(s)),
        _ => None,
    }
}

fn strings(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(s)) => vec![s.as_str()],
        _ => Vec::new(),
    }
}

fn str_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), String::from)))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `match` selects the resource. `Err` for a malformed block.
pub fn matches(block: &Value, adm: &Admission<'_>) -> Result<bool, String> {
    evaluate(block, adm, Side::Match)
}

/// Whether `exclude` removes the resource.
pub fn excludes(block: &Value, adm: &Admission<'_>) -> Result<bool, String> {
    evaluate(block, adm, Side::Exclude)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Match,
    Exclude,
}

fn evaluate(block: &Value, adm: &Admission<'_>, side: Side) -> Result<bool, String> {
    let Some(obj) = block.as_object() else {
        return Err("must be a mapping".into());
    };
    let any = obj.get("any").and_then(Value::as_array).filter(|a| !a.is_empty());
    let all = obj.get("all").and_then(Value::as_array).filter(|a| !a.is_empty());
    if let Some(filters) = any {
        for f in filters {
            if filter_matches(f, adm, side)? {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    if let Some(filters) = all {
        for f in filters {
            if !filter_matches(f, adm, side)? {
                return Ok(false);
            }
        }
        return Ok(true);
    }
    filter_matches(block, adm, side)
}

/// One filter: every populated field must match.
fn filter_matches(filter: &Value, adm: &Admission<'_>, side: Side) -> Result<bool, String> {
    let Some(f) = filter.as_object() else { return Err("a filter must be a mapping".into()) };
    let resources = f.get("resources").and_then(Value::as_object);
    let has_user = ["subjects", "roles", "clusterRoles"].iter().any(|k| f.contains_key(*k));
    if resources.is_none_or(serde_json::Map::is_empty) && !has_user {
        // "match cannot be empty": never matches.
        return Ok(false);
    }
    if let Some(r) = resources {
        if !resource_filter(r, adm)? {
            return Ok(false);
        }
    }
    if has_user {
        match adm.user {
            None if side == Side::Match => {}
            None => return Ok(false),
            Some(user) => {
                if !user_filter(f, user) {
                    return Ok(false);
                }
            }
        }
    }
    Ok(true)
}

fn resource_filter(
    r: &serde_json::Map<String, Value>,
    adm: &Admission<'_>,
) -> Result<bool, String> {
    if any_string(r.get("operations"), |o| o.eq_ignore_ascii_case(adm.operation)) == Some(false) {
        return Ok(false);
    }
    if any_string(r.get("kinds"), |k| kind_matches(k, adm)) == Some(false) {
        return Ok(false);
    }
    // `names` and `name` together: one of them must match when either names any.
    let name = if adm.name.is_empty() { adm.generate_name } else { adm.name };
    let named = |n: &str| wildcard::matches(n, name);
    match (any_string(r.get("names"), named), any_string(r.get("name"), named)) {
        (None, None) | (Some(true), _) | (_, Some(true)) => {}
        _ => return Ok(false),
    }
    let ns = if adm.kind == "Namespace" { adm.name } else { adm.namespace };
    if any_string(r.get("namespaces"), |n| wildcard::matches(n, ns)) == Some(false) {
        return Ok(false);
    }
    if let Some(annotations) = r.get("annotations") {
        let want = str_map(annotations);
        let ok = want.iter().all(|(k, v)| {
            adm.annotations
                .get()
                .iter()
                .any(|(rk, rv)| wildcard::matches(k, rk) && wildcard::matches(v, rv))
        });
        if !ok {
            return Ok(false);
        }
    }
    if let Some(selector) = r.get("selector") {
        if !selector_matches(selector, adm.labels.get(), true)? {
            return Ok(false);
        }
    }
    if let Some(selector) = r.get("namespaceSelector") {
        if adm.kind == "Namespace" || !selector_matches(selector, &adm.namespace_labels, false)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Kind selectors: `Pod`, `v1/Pod`, `apps/v1/Deployment`, `Pod/exec`, `*` (section 3.3).
fn kind_matches(selector: &str, adm: &Admission<'_>) -> bool {
    if selector == "*" {
        return true;
    }
    // At most four parts (a selector with more matches nothing), split without allocating:
    // matching runs for every rule on every object.
    let mut split = ["", "", "", ""];
    let mut count = 0;
    for part in selector.split('/') {
        let Some(slot) = split.get_mut(count) else { return false };
        *slot = part;
        count += 1;
    }
    let parts = &split[..count];
    let looks_like_version = |s: &str| {
        s == "*" || {
            let rest = s.strip_prefix('v').unwrap_or("");
            let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
            digits > 0 && {
                let tail = &rest[digits..];
                tail.is_empty()
                    || ["alpha", "beta"].iter().any(|p| {
                        tail.strip_prefix(p).is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()))
                    })
            }
        }
    };
    let (group, version, kind, sub) = match parts {
        [k] => ("*", "*", *k, ""),
        [v, k] if looks_like_version(v) => ("*", *v, *k, ""),
        [k, s] => ("*", "*", *k, *s),
        [g, v, k] if looks_like_version(v) => (*g, *v, *k, ""),
        [v, k, s] => ("*", *v, *k, *s),
        [g, v, k, s] => (*g, *v, *k, *s),
        _ => return false,
    };
    let (kind, sub) = match kind.split_once('.') {
        Some((k, s)) if sub.is_empty() => (k, s),
        _ => (kind, sub),
    };
    wildcard::matches(group, adm.group)
        && wildcard::matches(version, adm.version)
        && wildcard::matches(kind, adm.kind)
        && wildcard::matches(sub, "")
}

/// A Kubernetes LabelSelector. With `wildcards`, matchLabels keys and values may hold
/// wildcards resolved against the labels first (as Kyverno does for `selector`).
pub fn selector_matches(
    selector: &Value,
    labels: &BTreeMap<String, String>,
    wildcards: bool,
) -> Result<bool, String> {
    let Some(sel) = selector.as_object() else { return Err("selector must be a mapping".into()) };
    if let Some(ml) = sel.get("matchLabels") {
        for (k, v) in str_map(ml) {
            let ok = if wildcards && (wildcard::has_wildcard(&k) || wildcard::has_wildcard(&v)) {
                labels.iter().any(|(lk, lv)| wildcard::matches(&k, lk) && wildcard::matches(&v, lv))
            } else {
                labels.get(&k) == Some(&v)
            };
            if !ok {
                return Ok(false);
            }
        }
    }
    if let Some(exprs) = sel.get("matchExpressions").and_then(Value::as_array) {
        for e in exprs {
            let key = e.get("key").and_then(Value::as_str).unwrap_or("");
            let op = e.get("operator").and_then(Value::as_str).unwrap_or("");
            let values = strings(e.get("values"));
            let have = labels.get(key);
            let ok = match op {
                "In" => have.is_some_and(|h| values.contains(&h.as_str())),
                "NotIn" => have.is_none_or(|h| !values.contains(&h.as_str())),
                "Exists" => have.is_some(),
                "DoesNotExist" => have.is_none(),
                other => return Err(format!("unknown selector operator `{other}`")),
            };
            if !ok {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

fn user_filter(f: &serde_json::Map<String, Value>, user: &UserInfo) -> bool {
    let roles = strings(f.get("roles"));
    if !roles.is_empty() && !roles.iter().any(|r| user.roles.iter().any(|u| u == r)) {
        return false;
    }
    let cluster_roles = strings(f.get("clusterRoles"));
    if !cluster_roles.is_empty()
        && !cluster_roles.iter().any(|r| user.cluster_roles.iter().any(|u| u == r))
    {
        return false;
    }
    if let Some(subjects) = f.get("subjects").and_then(Value::as_array) {
        let ok = subjects.iter().any(|s| {
            let kind = s.get("kind").and_then(Value::as_str).unwrap_or("");
            let name = s.get("name").and_then(Value::as_str).unwrap_or("");
            match kind {
                "ServiceAccount" => {
                    let ns = s.get("namespace").and_then(Value::as_str).unwrap_or("");
                    wildcard::matches(&format!("system:serviceaccount:{ns}:{name}"), &user.username)
                }
                "Group" => user.groups.iter().any(|g| wildcard::matches(name, g)),
                _ => wildcard::matches(name, &user.username),
            }
        });
        if !ok {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod<'a>() -> Admission<'a> {
        Admission {
            version: "v1",
            kind: "Pod",
            name: "web",
            namespace: "shop",
            operation: "CREATE",
            labels: Strings::given(BTreeMap::from([("app".into(), "web".into())])),
            ..Admission::default()
        }
    }

    #[test]
    fn kinds_and_namespaces() {
        let m = json!({"any": [{"resources": {"kinds": ["Pod"]}}]});
        assert!(matches(&m, &pod()).unwrap());
        assert!(matches(&json!({"resources": {"kinds": ["v1/Pod"]}}), &pod()).unwrap());
        assert!(!matches(&json!({"resources": {"kinds": ["apps/v1/Deployment"]}}), &pod()).unwrap());
        assert!(!matches(&json!({"resources": {"kinds": ["Pod/exec"]}}), &pod()).unwrap());
        assert!(matches(&json!({"resources": {"kinds": ["*"]}}), &pod()).unwrap());
        // Four parts at most: group, version, kind and subresource.
        assert!(matches(&json!({"resources": {"kinds": ["*/*/Pod/*"]}}), &pod()).unwrap());
        assert!(!matches(&json!({"resources": {"kinds": ["*/*/Pod/*/x"]}}), &pod()).unwrap());
        let ex = json!({"any": [{"resources": {"namespaces": ["sho*"]}}]});
        assert!(excludes(&ex, &pod()).unwrap());
        let all = json!({"all": [{"resources": {"kinds": ["Pod"]}}, {"resources": {"selector": {"matchLabels": {"app": "w*"}}}}]});
        assert!(matches(&all, &pod()).unwrap());
        assert!(!matches(
            &json!({"resources": {"kinds": ["Pod"], "operations": ["DELETE"]}}),
            &pod()
        )
        .unwrap());
        assert!(!matches(&json!({}), &pod()).unwrap(), "an empty match never matches");
    }

    #[test]
    fn names_and_name_match_together_and_a_list_of_no_strings_asks_nothing() {
        let resources = |r: Value| matches(&json!({"resources": r}), &pod()).unwrap();
        assert!(resources(json!({"kinds": ["Pod"], "names": ["w?b"]})));
        assert!(resources(json!({"kinds": ["Pod"], "name": "web"})));
        assert!(!resources(json!({"kinds": ["Pod"], "names": ["api"]})));
        // Either one matching is enough; both naming others is not.
        assert!(resources(json!({"kinds": ["Pod"], "names": ["api"], "name": "we*"})));
        assert!(resources(json!({"kinds": ["Pod"], "names": ["web"], "name": "api"})));
        assert!(!resources(json!({"kinds": ["Pod"], "names": ["api"], "name": "db"})));
        // Lists of no strings ask for nothing; strings among others are read.
        assert!(resources(json!({"kinds": ["Pod"], "names": [1, null], "namespaces": []})));
        assert!(!resources(json!({"kinds": [7, "Service"]})));
        assert!(resources(json!({"kinds": "Pod", "namespaces": "shop", "operations": "create"})));
        assert!(!resources(json!({"kinds": ["Pod"], "namespaces": ["default", "kube-*"]})));
    }

    #[test]
    fn user_info_is_ignored_in_match_without_a_user_but_not_in_exclude() {
        let f =
            json!({"any": [{"resources": {"kinds": ["Pod"]}, "clusterRoles": ["cluster-admin"]}]});
        assert!(matches(&f, &pod()).unwrap());
        assert!(!excludes(&f, &pod()).unwrap());
        let user = UserInfo { cluster_roles: vec!["cluster-admin".into()], ..UserInfo::default() };
        let adm = Admission { user: Some(&user), ..pod() };
        assert!(excludes(&f, &adm).unwrap());
    }
}
