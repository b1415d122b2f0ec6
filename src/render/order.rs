//! The order a build's objects come out in: as the kustomization lists them (`fifo`), or
//! kustomize's legacy order (Namespaces first, webhooks last: `kyaml/resid/gvk.go`'s lists),
//! which the `kustomize build` command uses unless the top kustomization's `sortOptions` says
//! otherwise.

use super::kustomize::BuildError;
use super::tree::{TValue, Tree};

/// How to order the objects of a build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Order {
    /// As the kustomizations list them.
    Input,
    /// By kind (`first` kinds first, `last` kinds last, the others between), then by
    /// group, version and kind, namespace and name.
    Legacy { first: Vec<String>, last: Vec<String> },
}

const FIRST: &[&str] = &[
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];
const LAST: &[&str] = &["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"];

/// A kind's place in kustomize's default legacy order (`Gvk.IsLessThan`): the first kinds
/// before all others (negative), the last after (positive), every other kind 0.
pub(super) fn kind_rank(kind: &str) -> i64 {
    if let Some(i) = FIRST.iter().position(|k| *k == kind) {
        return i as i64 - FIRST.len() as i64;
    }
    LAST.iter().position(|k| *k == kind).map_or(0, |i| i as i64 + 1)
}

impl Order {
    /// kustomize's legacy order with its default lists.
    #[must_use]
    pub fn legacy() -> Order {
        let owned = |l: &[&str]| l.iter().map(ToString::to_string).collect();
        Order::Legacy { first: owned(FIRST), last: owned(LAST) }
    }

    /// The order a kustomization's `sortOptions` asks for (`None` when it has none).
    pub(super) fn from_kustomization<'a>(
        k: &Tree<'a>,
        error: &dyn Fn(&Tree<'a>, String) -> BuildError,
    ) -> Result<Option<Order>, BuildError> {
        let Some(options) = k.get("sortOptions") else { return Ok(None) };
        let legacy = options.get("legacySortOptions");
        match options.get("order").and_then(Tree::as_str) {
            Some("fifo") if legacy.is_some() => Err(error(
                options,
                "the field 'sortOptions.legacySortOptions' must be empty when 'sortOptions.order' is 'fifo'"
                    .into(),
            )),
            Some("fifo") => Ok(Some(Order::Input)),
            Some("legacy") => {
                let list = |key: &str, default: &[&str]| -> Vec<String> {
                    match legacy.and_then(|l| l.get(key)).map(|n| &n.value) {
                        Some(TValue::Seq(items)) => {
                            items.iter().filter_map(Tree::as_str).map(str::to_string).collect()
                        }
                        _ => default.iter().map(ToString::to_string).collect(),
                    }
                };
                Ok(Some(Order::Legacy { first: list("orderFirst", FIRST), last: list("orderLast", LAST) }))
            }
            _ => Err(error(options, "the field 'sortOptions.order' must be one of [fifo, legacy]".into())),
        }
    }

    /// Puts `objects` in this order (a stable sort: equal keys keep their input order).
    pub fn apply(&self, objects: &mut [Tree]) {
        let Order::Legacy { first, last } = self else { return };
        let rank = |kind: &str| -> i64 {
            let len = i64::try_from(first.len()).unwrap_or(i64::MAX);
            if let Some(i) = first.iter().position(|k| k == kind) {
                return i64::try_from(i).unwrap_or(0) - len;
            }
            last.iter().position(|k| k == kind).map_or(0, |i| i64::try_from(i).unwrap_or(0) + 1)
        };
        let key = |t: &Tree| {
            let s = |path: &[&str]| t.at(path).and_then(Tree::as_str).unwrap_or("").to_string();
            let kind = s(&["kind"]);
            let api = s(&["apiVersion"]);
            let (group, version) = crate::kinds::split_api_version(&api);
            let or =
                |v: &str, none: &str| if v.is_empty() { none.to_string() } else { v.to_string() };
            let gvk = format!("{}_{}_{}", or(group, "~G"), or(version, "~V"), or(&kind, "~K"));
            // kustomize's legacy ids: no namespace sorts after any (`~X`), no name too (`~N`),
            // compared as one text `namespace|name` (`a-b|c` before `a|x`: `-` sorts before
            // `|`).
            let (ns, name) = (s(&["metadata", "namespace"]), s(&["metadata", "name"]));
            (rank(&kind), gvk, format!("{}|{}", or(&ns, "~X"), or(&name, "~N")))
        };
        objects.sort_by_cached_key(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::tree::parse_trees;

    fn kinds(objects: &[Tree]) -> Vec<String> {
        objects
            .iter()
            .map(|t| t.get("kind").and_then(Tree::as_str).unwrap_or("").to_string())
            .collect()
    }

    #[test]
    fn legacy_order_puts_namespaces_first_and_webhooks_last() {
        let mut objects = parse_trees(
            "kind: ValidatingWebhookConfiguration\n---\nkind: Deployment\nmetadata: {name: b}\n---\nkind: Widget\n---\nkind: Deployment\nmetadata: {name: a}\n---\nkind: Namespace\n",
        );
        Order::legacy().apply(&mut objects);
        assert_eq!(
            kinds(&objects),
            ["Namespace", "Deployment", "Deployment", "Widget", "ValidatingWebhookConfiguration"]
        );
        assert_eq!(objects[1].at(&["metadata", "name"]).and_then(Tree::as_str), Some("a"));
        // Within a kind, an object with a namespace comes before one without (kustomize's `~X`).
        let mut roles = parse_trees(
            "kind: Role\nmetadata: {name: a}\n---\nkind: Role\nmetadata: {name: b, namespace: ns}\n",
        );
        Order::legacy().apply(&mut roles);
        assert_eq!(roles[0].at(&["metadata", "name"]).and_then(Tree::as_str), Some("b"));
        // Namespace and name are one text: `a-b|c` sorts before `a|x` (as kustomize 5.5 sorts
        // Kubeflow's NetworkPolicies of `kubeflow-system` before those of `kubeflow`).
        let mut policies = parse_trees(
            "kind: NetworkPolicy\nmetadata: {name: x, namespace: a}\n---\nkind: NetworkPolicy\nmetadata: {name: x-y, namespace: a}\n---\nkind: NetworkPolicy\nmetadata: {name: c, namespace: a-b}\n---\nkind: NetworkPolicy\nmetadata: {name: n}\n",
        );
        Order::legacy().apply(&mut policies);
        let names: Vec<&str> = policies
            .iter()
            .filter_map(|t| t.at(&["metadata", "name"]).and_then(Tree::as_str))
            .collect();
        assert_eq!(names, ["c", "x", "x-y", "n"]);
        let before = kinds(&objects);
        Order::Input.apply(&mut objects);
        assert_eq!(kinds(&objects), before);
        let error =
            |_: &Tree, m: String| BuildError { file: String::new(), line: None, message: m };
        let k = parse_trees("sortOptions: {order: random}\n").remove(0);
        assert!(Order::from_kustomization(&k, &error).is_err());
        let k = parse_trees("sortOptions: {order: legacy, legacySortOptions: {orderFirst: [Widget], orderLast: [Namespace]}}\n").remove(0);
        let custom = Order::from_kustomization(&k, &error).unwrap().unwrap();
        custom.apply(&mut objects);
        assert_eq!(kinds(&objects)[0], "Widget");
        assert_eq!(kinds(&objects)[4], "Namespace");
    }
}
