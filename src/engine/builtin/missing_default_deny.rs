//! Template `missing-default-deny`: a tenant namespace with no NetworkPolicy that denies all
//! ingress (and, when asked, all egress) by default.

use std::collections::HashMap;

use serde::Deserialize;

use crate::engine::{Context, Sink};
use crate::inventory::denies_by_default;
use crate::load::Node;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Params {
    /// Require the default deny to cover egress too.
    #[serde(default)]
    require_egress: bool,
}

super::tree_template!(MissingDefaultDeny);

fn check(params: &Params, cx: &Context<'_>, sink: &mut Sink) {
    let inv = cx.inventory;
    let propagated = inv.tenants.propagates("networking.k8s.io", "networkpolicies");
    // What the NetworkPolicies of each namespace deny by default, read once: (ingress, egress)
    // of all of them, and of those HNC copies into child namespaces.
    let mut denies: HashMap<&str, [(bool, bool); 2]> = HashMap::new();
    for policy in inv.of_kind("NetworkPolicy") {
        let (i, e) = policy.root.get("spec").map_or((false, false), denies_by_default);
        let entry = denies.entry(policy.namespace_or_empty()).or_default();
        let copied = propagates(&policy.root);
        for (slot, counts) in entry.iter_mut().zip([true, copied]) {
            if counts {
                slot.0 |= i;
                slot.1 |= e;
            }
        }
    }
    for (namespace, tenant) in inv.tenants.tenant_namespaces() {
        let declarations = inv.namespace_declarations(namespace);
        if declarations.is_empty() {
            continue;
        }
        // A Capsule Tenant's own networkPolicies are created in every namespace of the tenant.
        let (mut ingress, mut egress) = (tenant.provides.deny_ingress, tenant.provides.deny_egress);
        let ancestors = inv.tenants.ancestors(namespace).filter(|_| propagated);
        let own = std::iter::once((namespace, 0));
        for (scope, which) in own.chain(ancestors.map(|a| (a, 1))) {
            let (i, e) = denies.get(scope).map_or((false, false), |d| d[which]);
            ingress |= i;
            egress |= e;
        }
        let missing = match (ingress, egress || !params.require_egress) {
            (true, true) => continue,
            (true, false) => "egress",
            (false, false) if params.require_egress => "ingress and egress",
            (false, _) => "ingress",
        };
        let message = format!(
            "namespace `{namespace}` of tenant `{}` has no NetworkPolicy that denies {missing} traffic by default",
            tenant.name
        );
        for at in declarations {
            sink.report(at, "/metadata", message.clone());
        }
    }
}

/// Whether HNC copies an object of a propagated kind into the children of its namespace
/// (`propagate.hnc.x-k8s.io/none: "true"` keeps it in place).
pub(super) fn propagates(object: &Node) -> bool {
    object
        .at(&["metadata", "annotations"])
        .and_then(|a| a.get("propagate.hnc.x-k8s.io/none"))
        .and_then(Node::as_str)
        != Some("true")
}
