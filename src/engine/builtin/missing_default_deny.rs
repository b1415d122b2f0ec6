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

/// Default-deny found for a scope: ingress and egress, counting every policy and counting
/// only those HNC copies to descendants.
type Denies = [(bool, bool); 2];

fn check(params: &Params, cx: &Context<'_>, sink: &mut Sink) {
    let inv = cx.inventory;
    let propagated = inv.tenants.propagates("networking.k8s.io", "networkpolicies");
    // By (namespace, cluster): a rendered policy counts in its cluster, one as written
    // (`None`) in every cluster; `any` counts every policy, for namespaces as written.
    let mut denies: HashMap<(&str, Option<&str>), Denies> = HashMap::new();
    let mut any: HashMap<&str, Denies> = HashMap::new();
    for policy in inv.of_kind("NetworkPolicy") {
        let (i, e) = policy.root.get("spec").map_or((false, false), denies_by_default);
        let copied = propagates(&policy.root);
        let scope = policy.namespace_or_empty();
        let add = |entry: &mut Denies| {
            for (slot, counts) in entry.iter_mut().zip([true, copied]) {
                if counts {
                    slot.0 |= i;
                    slot.1 |= e;
                }
            }
        };
        add(any.entry(scope).or_default());
        if policy.as_written() {
            add(denies.entry((scope, None)).or_default());
        }
        for cluster in policy.clusters() {
            add(denies.entry((scope, Some(cluster))).or_default());
        }
    }
    // Default-deny policies a unit's patch deleted, by (namespace, cluster).
    let mut deleted: HashMap<(&str, &str), Vec<&crate::inventory::rendered::Removed>> =
        HashMap::new();
    for d in inv.deleted.iter().filter(|d| d.kind() == "NetworkPolicy") {
        deleted.entry((d.namespace(), &d.unit.cluster)).or_default().push(d);
    }
    for (namespace, tenant) in inv.tenants.tenant_namespaces() {
        for at in inv.namespace_declarations(namespace) {
            // Judged for each cluster that receives the declaration (once for one as written).
            let clusters: Vec<Option<&str>> =
                if at.as_written() { vec![None] } else { at.clusters().map(Some).collect() };
            for cluster in clusters {
                let found = Found { denies: &denies, any: &any, propagated, cluster };
                let (ingress, egress) = found.denies(inv, namespace, tenant);
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
                // A patch that deleted one in this cluster is what to change.
                let cause = cluster.and_then(|c| deleted.get(&(namespace, c))).and_then(|list| {
                    list.iter().find(|d| {
                        let (i, e) = d.root.get("spec").map_or((false, false), denies_by_default);
                        (!ingress && i) || (!egress && e)
                    })
                });
                match cause {
                    Some(d) => {
                        let name =
                            d.root.at(&["metadata", "name"]).and_then(Node::as_str).unwrap_or("");
                        sink.report_in(
                            at,
                            cluster,
                            Some(d.cause),
                            "/metadata",
                            if d.switch {
                                format!(
                                    "{message}: this value leaves the chart's NetworkPolicy \
                                     `{name}` out ({})",
                                    d.unit.name
                                )
                            } else {
                                format!(
                                    "{message}: this patch deletes NetworkPolicy `{name}` ({})",
                                    d.unit.name
                                )
                            },
                        );
                    }
                    None => sink.report_in(at, cluster, None, "/metadata", message),
                }
            }
        }
    }
}

/// The default-deny policies one cluster has (`cluster`, or every policy for `None`).
struct Found<'a> {
    denies: &'a HashMap<(&'a str, Option<&'a str>), Denies>,
    any: &'a HashMap<&'a str, Denies>,
    propagated: bool,
    cluster: Option<&'a str>,
}

impl Found<'_> {
    /// Whether ingress and egress are denied by default in `namespace`: by the tenant's
    /// platform, its own policies or (with HNC) its ancestors' copied ones.
    fn denies(
        &self,
        inv: &crate::inventory::Inventory,
        namespace: &str,
        tenant: &crate::inventory::Tenant,
    ) -> (bool, bool) {
        let (mut ingress, mut egress) = (tenant.provides.deny_ingress, tenant.provides.deny_egress);
        let ancestors = inv.tenants.ancestors(namespace).filter(|_| self.propagated);
        let own = std::iter::once((namespace, 0));
        for (scope, which) in own.chain(ancestors.map(|a| (a, 1))) {
            let found = match self.cluster {
                Some(c) => [self.denies.get(&(scope, None)), self.denies.get(&(scope, Some(c)))],
                None => [self.any.get(scope), None],
            };
            for d in found.into_iter().flatten() {
                ingress |= d[which].0;
                egress |= d[which].1;
            }
        }
        (ingress, egress)
    }
}

pub(super) fn propagates(object: &Node) -> bool {
    object
        .at(&["metadata", "annotations"])
        .and_then(|a| a.get("propagate.hnc.x-k8s.io/none"))
        .and_then(Node::as_str)
        != Some("true")
}
