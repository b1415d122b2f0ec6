//! Template `cross-tenant-ingress-allowed`: a NetworkPolicy in a tenant namespace that admits
//! traffic from other tenants' namespaces, or from everywhere.

use serde::Deserialize;

use crate::engine::{Context, Sink};
use crate::inventory::Object;
use crate::load::Node;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Params {}

const KINDS: &[&str] = &["NetworkPolicy"];

super::object_template!(CrossTenantIngress);

/// Whether a label selector selects the labels `label` looks up (matchLabels and
/// matchExpressions). Takes a lookup, not a map, so that checking a selector against every
/// namespace of a fleet allocates nothing.
fn selects<'a>(selector: &Node, label: impl Fn(&str) -> Option<&'a str>) -> bool {
    let ok_labels = selector
        .get("matchLabels")
        .and_then(Node::as_map)
        .unwrap_or(&[])
        .iter()
        .all(|e| e.value.as_str().is_some_and(|v| label(&e.key) == Some(v)));
    let ok_exprs =
        selector.get("matchExpressions").and_then(Node::as_seq).unwrap_or(&[]).iter().all(|e| {
            let key = e.get("key").and_then(Node::as_str).unwrap_or("");
            let mut values = e
                .get("values")
                .and_then(Node::as_seq)
                .unwrap_or(&[])
                .iter()
                .filter_map(Node::as_str);
            let have = label(key);
            match e.get("operator").and_then(Node::as_str).unwrap_or("") {
                "In" => have.is_some_and(|h| values.any(|v| v == h)),
                "NotIn" => have.is_none_or(|h| !values.any(|v| v == h)),
                "Exists" => have.is_some(),
                "DoesNotExist" => have.is_none(),
                _ => false,
            }
        });
    ok_labels && ok_exprs
}

/// The labels of a Namespace object as the API server sees them (with the automatic
/// `kubernetes.io/metadata.name`).
fn namespace_label<'a>(ns: &'a Object, key: &str) -> Option<&'a str> {
    if key == "kubernetes.io/metadata.name" {
        return Some(&ns.name);
    }
    ns.root.at(&["metadata", "labels"])?.get(key)?.as_str()
}

fn check(_params: &Params, cx: &Context<'_>, object: &Object, sink: &mut Sink) {
    let Some(tenant) = cx.tenant_of(object) else { return };
    let inv = cx.inventory;
    for (i, rule) in object
        .root
        .at(&["spec", "ingress"])
        .and_then(Node::as_seq)
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        let from = rule.get("from");
        if from.is_none_or(Node::is_empty) {
            sink.report(object, format!("/spec/ingress/{i}"), format!("NetworkPolicy `{}` of tenant `{}` admits traffic from every pod of every namespace (the rule has no `from`)", object.name, tenant.name));
            continue;
        }
        for (j, peer) in from.and_then(Node::as_seq).unwrap_or(&[]).iter().enumerate() {
            let Some(ns_selector) = peer.get("namespaceSelector") else { continue };
            let pointer = format!("/spec/ingress/{i}/from/{j}/namespaceSelector");
            let unconstrained = ["matchLabels", "matchExpressions"]
                .iter()
                .all(|k| ns_selector.get(k).is_none_or(Node::is_empty));
            if unconstrained {
                sink.report(object, pointer, format!("NetworkPolicy `{}` of tenant `{}` admits traffic from every namespace (an empty namespaceSelector)", object.name, tenant.name));
                continue;
            }
            // A selector with matchLabels can only select namespaces carrying its first label:
            // start from those (the label index) rather than from every namespace of the fleet.
            let first_label = ns_selector
                .get("matchLabels")
                .and_then(Node::as_map)
                .and_then(|m| m.first())
                .and_then(|e| Some((&*e.key, e.value.as_str()?)));
            let candidates = || -> Box<dyn Iterator<Item = &Object>> {
                match first_label {
                    Some((k, v)) => Box::new(inv.namespaces_labelled(k, v)),
                    None => Box::new(inv.of_kind("Namespace").filter(|ns| ns.api_version == "v1")),
                }
            };
            // A rendered policy admits the namespaces of its own cluster (each judged on its
            // own); one as written, any namespace of the tree.
            let clusters: Vec<Option<&str>> = if object.as_written() {
                vec![None]
            } else {
                object.clusters().map(Some).collect()
            };
            for cluster in clusters {
                let in_cluster = |ns: &&Object| {
                    cluster.is_none_or(|c| ns.as_written() || ns.clusters().any(|x| x == c))
                };
                let mut foreign: Vec<String> = candidates()
                    .filter(in_cluster)
                    .filter(|ns| {
                        inv.tenants.tenant_of(&ns.name).is_some_and(|t| t.name != tenant.name)
                    })
                    .filter(|ns| selects(ns_selector, |key| namespace_label(ns, key)))
                    .map(|ns| ns.name.clone())
                    .collect();
                let mut seen = std::collections::HashSet::new();
                foreign.retain(|name| seen.insert(name.clone()));
                if !foreign.is_empty() {
                    sink.report_in(object, cluster, None, pointer.clone(), format!("NetworkPolicy `{}` of tenant `{}` admits traffic from namespaces of other tenants: {}", object.name, tenant.name, foreign.join(", ")));
                }
            }
        }
    }
}
