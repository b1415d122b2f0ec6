//! Template `missing-quota`: a tenant namespace without a ResourceQuota or without a LimitRange.

use std::collections::HashMap;

use serde::Deserialize;

use crate::engine::{Context, Sink};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Params {}

super::tree_template!(MissingQuota);

fn check(_params: &Params, cx: &Context<'_>, sink: &mut Sink) {
    let inv = cx.inventory;
    let propagated = |kind: &str| {
        let resource = if kind == "ResourceQuota" { "resourcequotas" } else { "limitranges" };
        inv.tenants.propagates("", resource)
    };
    // Namespaces with a v1 ResourceQuota / LimitRange, read once: (kind, namespace, cluster) →
    // whether one of them is copied into child namespaces by HNC. A rendered one counts in its
    // clusters, one as written (`None`) in every cluster; `any` counts each wherever it is, for
    // namespaces as written.
    let mut present: HashMap<(&str, &str, Option<&str>), bool> = HashMap::new();
    let mut any: HashMap<(&str, &str), bool> = HashMap::new();
    for kind in ["ResourceQuota", "LimitRange"] {
        for o in inv.of_kind(kind).filter(|o| o.api_version == "v1") {
            let copied = super::missing_default_deny::propagates(&o.root);
            let namespace = o.namespace_or_empty();
            *any.entry((kind, namespace)).or_default() |= copied;
            if o.as_written() {
                *present.entry((kind, namespace, None)).or_default() |= copied;
            }
            for cluster in o.clusters() {
                *present.entry((kind, namespace, Some(cluster))).or_default() |= copied;
            }
        }
    }
    // Quotas and limit ranges a unit's patch deleted, by (kind, namespace, cluster).
    let mut deleted: HashMap<(&str, &str, &str), &crate::inventory::rendered::Removed> =
        HashMap::new();
    for d in inv.deleted.iter().filter(|d| matches!(d.kind(), "ResourceQuota" | "LimitRange")) {
        deleted.entry((d.kind(), d.namespace(), &d.unit.cluster)).or_insert(d);
    }
    for (namespace, tenant) in inv.tenants.tenant_namespaces() {
        // A Capsule Tenant's own resourceQuotas and limitRanges are created in every namespace.
        let provided = |kind: &str| match kind {
            "ResourceQuota" => tenant.provides.quota,
            _ => tenant.provides.limit_range,
        };
        for at in inv.namespace_declarations(namespace) {
            // Judged for each cluster that receives the declaration (once for one as written).
            let clusters: Vec<Option<&str>> =
                if at.as_written() { vec![None] } else { at.clusters().map(Some).collect() };
            for cluster in clusters {
                let found = |kind: &str, scope: &str| match cluster {
                    None => any.get(&(kind, scope)).copied(),
                    Some(c) => [None, Some(c)]
                        .into_iter()
                        .filter_map(|k| present.get(&(kind, scope, k)).copied())
                        .reduce(|a, b| a || b),
                };
                let has = |kind: &str| {
                    let mut ancestors =
                        inv.tenants.ancestors(namespace).filter(|_| propagated(kind));
                    provided(kind)
                        || found(kind, namespace).is_some()
                        || ancestors.any(|scope| found(kind, scope) == Some(true))
                };
                let missing: Vec<&str> =
                    ["ResourceQuota", "LimitRange"].into_iter().filter(|k| !has(k)).collect();
                if missing.is_empty() {
                    continue;
                }
                let message = format!(
                    "namespace `{namespace}` of tenant `{}` has no {}: one tenant can use up the cluster's capacity",
                    tenant.name,
                    missing.join(" and no ")
                );
                // A patch that deleted one in this cluster (or a values switch that left a
                // chart's out) is what to change.
                let cause = cluster.and_then(|c| {
                    missing.iter().find_map(|kind| deleted.get(&(*kind, namespace, c)))
                });
                match cause {
                    Some(d) => sink.report_in(
                        at,
                        cluster,
                        Some(d.cause),
                        "/metadata",
                        if d.switch {
                            format!(
                                "{message}: this value leaves the chart's {} out ({})",
                                d.kind(),
                                d.unit.name
                            )
                        } else {
                            format!("{message}: this patch deletes it ({})", d.unit.name)
                        },
                    ),
                    None => sink.report_in(at, cluster, None, "/metadata", message),
                }
            }
        }
    }
}
