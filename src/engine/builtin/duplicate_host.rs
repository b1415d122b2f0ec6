//! Template `duplicate-host`: one host claimed by Ingresses or routes of two tenants.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::engine::{Context, Sink};
use crate::inventory::Object;
use crate::load::Node;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Params {}

/// (pointer, host) of every host an Ingress or Gateway API route claims.
fn claims(object: &Object) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if object.kind == "Ingress" {
        for (i, r) in object
            .root
            .at(&["spec", "rules"])
            .and_then(Node::as_seq)
            .unwrap_or(&[])
            .iter()
            .enumerate()
        {
            if let Some(h) = r.get("host").and_then(Node::as_str) {
                out.push((format!("/spec/rules/{i}/host"), h.to_string()));
            }
        }
    } else {
        for (i, h) in object
            .root
            .at(&["spec", "hostnames"])
            .and_then(Node::as_seq)
            .unwrap_or(&[])
            .iter()
            .enumerate()
        {
            if let Some(h) = h.as_str() {
                out.push((format!("/spec/hostnames/{i}"), h.to_string()));
            }
        }
    }
    out
}

super::tree_template!(DuplicateHost);

fn check(_params: &Params, cx: &Context<'_>, sink: &mut Sink) {
    let inv = cx.inventory;
    // host → claims in tree order: (tenant, object, pointer)
    let mut hosts: BTreeMap<String, Vec<(&str, &Object, String)>> = BTreeMap::new();
    for kind in ["Ingress", "HTTPRoute", "GRPCRoute", "TLSRoute"] {
        for object in inv.of_kind(kind) {
            let Some(tenant) = cx.tenant_of(object) else { continue };
            for (pointer, host) in claims(object) {
                hosts.entry(host.to_ascii_lowercase()).or_default().push((
                    &tenant.name,
                    object,
                    pointer,
                ));
            }
        }
    }
    for (host, claims) in hosts {
        let Some(&(first_tenant, first, _)) = claims.first() else { continue };
        for (tenant, object, pointer) in claims.iter().filter(|(t, _, _)| *t != first_tenant) {
            sink.report(
                object,
                pointer.clone(),
                format!(
                    "host `{host}` of tenant `{tenant}` is also claimed by tenant `{first_tenant}` ({} `{}` in {}): the ingress controller sends one tenant's traffic to the other",
                    first.kind,
                    first.name,
                    inv.source(first).display
                ),
            );
        }
    }
}
