//! Template `missing-default-deny`: a tenant namespace with no NetworkPolicy that denies all
//! ingress (and, when asked, all egress) by default.

use serde::Deserialize;

use crate::engine::{Context, Sink};
use crate::load::{Node, Value};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Params {
    /// Require the default deny to cover egress too.
    #[serde(default)]
    require_egress: bool,
}

/// Directions a NetworkPolicy denies for every pod of its namespace: (ingress, egress).
///
/// A policy denies a direction by default when it selects every pod (`podSelector: {}`), lists
/// the direction in `policyTypes` (Ingress is implied when `policyTypes` is absent), and has no
/// rule for it.
fn denies(policy: &Node) -> (bool, bool) {
    let Some(spec) = policy.get("spec") else {
        return (false, false);
    };
    let selects_all = match spec.get("podSelector") {
        None => false,
        Some(sel) => match &sel.value {
            Value::Null => true,
            Value::Map(_) => ["matchLabels", "matchExpressions"]
                .iter()
                .all(|k| sel.get(k).is_none_or(Node::is_empty)),
            _ => false,
        },
    };
    if !selects_all {
        return (false, false);
    }
    let types: Vec<&str> = match spec.get("policyTypes").and_then(Node::as_seq) {
        Some(items) => items.iter().filter_map(Node::as_str).collect(),
        None if spec.get("egress").is_some() => vec!["Ingress", "Egress"],
        None => vec!["Ingress"],
    };
    let ingress = types.contains(&"Ingress") && spec.get("ingress").is_none_or(Node::is_empty);
    let egress = types.contains(&"Egress") && spec.get("egress").is_none_or(Node::is_empty);
    (ingress, egress)
}

super::tree_template!(MissingDefaultDeny);

fn check(params: &Params, cx: &Context<'_>, sink: &mut Sink) {
    let inv = cx.inventory;
    for ns in inv.of_kind("Namespace").filter(|o| o.api_version == "v1") {
        let Some(tenant) = inv.tenants.tenant_of(&ns.name) else {
            continue;
        };
        let (mut ingress, mut egress) = (false, false);
        for policy in inv.in_namespace(&ns.name).filter(|o| o.kind == "NetworkPolicy") {
            let (i, e) = denies(&policy.root);
            ingress |= i;
            egress |= e;
        }
        let missing = match (ingress, egress || !params.require_egress) {
            (true, true) => continue,
            (true, false) => "egress",
            (false, false) if params.require_egress => "ingress and egress",
            (false, _) => "ingress",
        };
        sink.report(
            ns,
            "/metadata",
            format!(
                "namespace `{}` of tenant `{}` has no NetworkPolicy that denies {missing} traffic by default",
                ns.name, tenant.name
            ),
        );
    }
}
