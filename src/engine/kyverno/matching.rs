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

/// A `match` or `exclude` block read once, when its rule is compiled: what [`matches`] and
/// [`excludes`] look up in the block's JSON on every evaluation (every rule on every object of
/// its kinds). Only blocks whose filters select by operations, kinds, names and namespaces are
/// read ahead; any other (user filters, selectors, annotations, a malformed block, whose errors
/// the evaluation reports) is evaluated from its JSON.
#[derive(Clone, Debug)]
pub struct Block {
    filters: Vec<Filter>,
    /// `any` (one filter must hold), `all` (each must), or the block is its own filter.
    all: bool,
}

#[derive(Clone, Debug)]
enum Filter {
    /// "match cannot be empty": never holds.
    Empty,
    /// The strings of each of [`NAMED_FIELDS`] (`None`: the field asks for nothing, as
    /// [`any_string`] says).
    Resources([Option<Vec<String>>; 5]),
}

impl Block {
    /// The block read ahead, when it can be (see [`Block`]).
    #[must_use]
    pub fn compile(block: &Value) -> Option<Block> {
        let obj = block.as_object()?;
        let listed = |key: &str| obj.get(key).and_then(Value::as_array).filter(|a| !a.is_empty());
        let (filters, all) = match (listed("any"), listed("all")) {
            (Some(filters), _) => (filters.iter().map(Filter::compile).collect(), false),
            (None, Some(filters)) => (filters.iter().map(Filter::compile).collect(), true),
            (None, None) => (Some(vec![Filter::compile(block)?]), true),
        };
        Some(Block { filters: filters?, all })
    }

    /// Whether the block selects the resource, as [`evaluate`] says of its JSON.
    #[must_use]
    pub fn holds(&self, adm: &Admission<'_>) -> bool {
        if self.all {
            self.filters.iter().all(|f| f.holds(adm))
        } else {
            self.filters.iter().any(|f| f.holds(adm))
        }
    }
}

impl Filter {
    fn compile(filter: &Value) -> Option<Filter> {
        let f = filter.as_object()?;
        if has_user_fields(f) {
            return None;
        }
        let Some(r) = f.get("resources").and_then(Value::as_object).filter(|r| !r.is_empty())
        else {
            return Some(Filter::Empty);
        };
        if ["annotations", "selector", "namespaceSelector"].iter().any(|k| r.contains_key(*k)) {
            return None;
        }
        Some(Filter::Resources(NAMED_FIELDS.map(|key| {
            let found: Vec<String> = strings(r.get(key)).into_iter().map(String::from).collect();
            (!found.is_empty()).then_some(found)
        })))
    }

    /// [`resource_filter`] of the fields read ahead.
    fn holds(&self, adm: &Admission<'_>) -> bool {
        let Filter::Resources(fields) = self else { return false };
        selects(adm, |i, test| fields[i].as_ref().map(|l| l.iter().any(|s| test(s))))
    }
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
    let has_user = has_user_fields(f);
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

/// Whether a filter selects by who makes the request (`subjects`, `roles`, `clusterRoles`).
fn has_user_fields(f: &serde_json::Map<String, Value>) -> bool {
    ["subjects", "roles", "clusterRoles"].iter().any(|k| f.contains_key(*k))
}

/// The fields of a filter's `resources` that select by the resource's own names: what
/// [`selects`] reads, in this order.
const NAMED_FIELDS: [&str; 5] = ["operations", "kinds", "names", "name", "namespaces"];

/// Whether the resource passes a filter's [`NAMED_FIELDS`]; `field(i, test)` tells whether one
/// of the strings of field `i` passes `test` (`None`: the field asks for nothing).
fn selects(
    adm: &Admission<'_>,
    field: impl Fn(usize, &dyn Fn(&str) -> bool) -> Option<bool>,
) -> bool {
    if field(0, &|o| o.eq_ignore_ascii_case(adm.operation)) == Some(false)
        || field(1, &|k| kind_matches(k, adm)) == Some(false)
    {
        return false;
    }
    // `names` and `name` together: one of them must match when either names any.
    let name = if adm.name.is_empty() { adm.generate_name } else { adm.name };
    let named = |n: &str| wildcard::matches(n, name);
    match (field(2, &named), field(3, &named)) {
        (None, None) | (Some(true), _) | (_, Some(true)) => {}
        _ => return false,
    }
    let ns = if adm.kind == "Namespace" { adm.name } else { adm.namespace };
    field(4, &|n| wildcard::matches(n, ns)) != Some(false)
}

fn resource_filter(
    r: &serde_json::Map<String, Value>,
    adm: &Admission<'_>,
) -> Result<bool, String> {
    if !selects(adm, |i, test| any_string(r.get(NAMED_FIELDS[i]), test)) {
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
    for part in crate::pointer::slash_parts(selector) {
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

    /// A block read ahead selects what its JSON selects, for every admission tried; blocks with
    /// user filters, selectors or annotations, and malformed ones, are not read ahead (their
    /// evaluation reads them, errors included).
    #[test]
    fn blocks_read_ahead_select_what_their_json_selects() {
        let blocks = [
            json!({"any": [{"resources": {"kinds": ["Pod"]}}]}),
            json!({"any": [{"resources": {"kinds": ["Deployment"]}}, {"resources": {"names": ["w*"]}}]}),
            json!({"all": [{"resources": {"kinds": ["v1/Pod"]}}, {"resources": {"namespaces": ["shop"]}}]}),
            json!({"all": [{"resources": {"kinds": ["Pod"]}}, {"resources": {"namespaces": "other"}}]}),
            json!({"resources": {"kinds": ["apps/v1/Deployment", "Pod"], "name": "web"}}),
            json!({"resources": {"names": ["x"], "name": "w?b"}}),
            json!({"resources": {"names": [1, 2], "namespaces": []}}),
            json!({"resources": {"operations": ["create"], "kinds": ["*"]}}),
            json!({"resources": {"operations": "DELETE"}}),
            json!({"resources": {}}),
            json!({"any": [], "resources": {"kinds": ["Pod"]}}),
            json!({"any": [{"resources": {}}], "all": [{"resources": {"kinds": ["Pod"]}}]}),
            json!({"resources": {"kinds": ["Namespace"], "names": ["shop"], "namespaces": ["sh*"]}}),
        ];
        let namespace = Admission { kind: "Namespace", name: "shop", namespace: "", ..pod() };
        let unnamed = Admission { name: "", generate_name: "web-", ..pod() };
        let update = Admission { operation: "UPDATE", ..pod() };
        for block in &blocks {
            let read = Block::compile(block).unwrap_or_else(|| panic!("not read ahead: {block}"));
            for adm in [pod(), namespace.clone(), unnamed.clone(), update.clone()] {
                // Without user filters, a block selects alike as `match` and as `exclude`.
                let held = read.holds(&adm);
                let (m, x) = (matches(block, &adm).unwrap(), excludes(block, &adm).unwrap());
                assert_eq!((held, held), (m, x), "{block} on {adm:?}");
            }
        }
        for block in [
            json!({"any": [{"resources": {"kinds": ["Pod"], "selector": {"matchLabels": {"app": "web"}}}}]}),
            json!({"resources": {"annotations": {"a": "b"}}}),
            json!({"resources": {"namespaceSelector": {}}}),
            json!({"any": [{"subjects": [{"kind": "User", "name": "x"}]}]}),
            json!({"any": ["Pod"]}),
            json!(["Pod"]),
        ] {
            assert!(Block::compile(&block).is_none(), "{block}");
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
