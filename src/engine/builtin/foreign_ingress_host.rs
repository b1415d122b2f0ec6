//! Template `foreign-ingress-host`: a tenant's Ingress, HTTPRoute or Certificate that claims a
//! host outside the tenant's domains (`tenancy.domains` or `tenants.<t>.domains`).

use serde::Deserialize;

use crate::engine::{Context, Sink};
use crate::inventory::Object;
use crate::load::Node;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Params {}

const KINDS: &[&str] = &["Ingress", "HTTPRoute", "GRPCRoute", "TLSRoute", "Certificate"];

super::object_template!(ForeignIngressHost);

/// (pointer, host) of every host an object claims.
fn hosts(object: &Object) -> Vec<(String, &str)> {
    let list = |path: &[&str], pointer: &str| -> Vec<(String, &str)> {
        object
            .root
            .at(path)
            .and_then(Node::as_seq)
            .unwrap_or(&[])
            .iter()
            .enumerate()
            .filter_map(|(i, n)| Some((format!("{pointer}/{i}"), n.as_str()?)))
            .collect()
    };
    match object.kind.as_str() {
        "Ingress" => object
            .root
            .at(&["spec", "rules"])
            .and_then(Node::as_seq)
            .unwrap_or(&[])
            .iter()
            .enumerate()
            .filter_map(|(i, r)| Some((format!("/spec/rules/{i}/host"), r.get("host")?.as_str()?)))
            .collect(),
        "Certificate" => list(&["spec", "dnsNames"], "/spec/dnsNames"),
        _ => list(&["spec", "hostnames"], "/spec/hostnames"),
    }
}

fn check(_params: &Params, cx: &Context<'_>, object: &Object, sink: &mut Sink) {
    let Some(tenant) = cx.tenant_of(object) else { return };
    if tenant.domains.is_empty()
        || object.kind == "Certificate" && !object.api_version.starts_with("cert-manager.io/")
    {
        return;
    }
    for (pointer, host) in hosts(object) {
        if tenant.domains.matches(host) {
            continue;
        }
        let owner = cx.inventory.tenants.domain_owner(host, &tenant.name);
        let whose =
            owner.map_or_else(String::new, |t| format!(", which belongs to tenant `{}`", t.name));
        sink.report(
            object,
            pointer,
            format!(
                "host `{host}` is outside the domains of tenant `{}` ({}){whose}",
                tenant.name,
                tenant.domains.describe()
            ),
        );
    }
}
