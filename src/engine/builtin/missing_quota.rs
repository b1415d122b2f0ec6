//! Template `missing-quota`: a tenant namespace without a ResourceQuota or without a LimitRange.

use serde::Deserialize;

use crate::engine::{Context, Sink};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Params {}

super::tree_template!(MissingQuota);

fn check(_params: &Params, cx: &Context<'_>, sink: &mut Sink) {
    let inv = cx.inventory;
    for ns in inv.of_kind("Namespace").filter(|o| o.api_version == "v1") {
        let Some(tenant) = inv.tenants.tenant_of(&ns.name) else { continue };
        let has = |kind: &str| {
            inv.in_namespace(&ns.name).any(|o| o.kind == kind && o.api_version == "v1")
        };
        let missing: Vec<&str> =
            ["ResourceQuota", "LimitRange"].into_iter().filter(|k| !has(k)).collect();
        if missing.is_empty() {
            continue;
        }
        sink.report(
            ns,
            "/metadata",
            format!(
                "namespace `{}` of tenant `{}` has no {}: one tenant can use up the cluster's capacity",
                ns.name,
                tenant.name,
                missing.join(" and no ")
            ),
        );
    }
}
