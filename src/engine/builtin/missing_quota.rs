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
    // Namespaces with a v1 ResourceQuota / LimitRange, read once: (kind, namespace) → whether
    // one of them is copied into child namespaces by HNC.
    let mut present: HashMap<(&str, &str), bool> = HashMap::new();
    for kind in ["ResourceQuota", "LimitRange"] {
        for o in inv.of_kind(kind).filter(|o| o.api_version == "v1") {
            let copied = super::missing_default_deny::propagates(&o.root);
            *present.entry((kind, o.namespace_or_empty())).or_default() |= copied;
        }
    }
    for (namespace, tenant) in inv.tenants.tenant_namespaces() {
        let declarations = inv.namespace_declarations(namespace);
        if declarations.is_empty() {
            continue;
        }
        // A Capsule Tenant's own resourceQuotas and limitRanges are created in every namespace.
        let provided = |kind: &str| match kind {
            "ResourceQuota" => tenant.provides.quota,
            _ => tenant.provides.limit_range,
        };
        let has = |kind: &str| {
            let ancestors = inv.tenants.ancestors(namespace).filter(|_| propagated(kind));
            provided(kind)
                || present.contains_key(&(kind, namespace))
                || ancestors.into_iter().any(|scope| present.get(&(kind, scope)) == Some(&true))
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
        for at in declarations {
            sink.report(at, "/metadata", message.clone());
        }
    }
}
