//! Template `duplicate-host`: one host claimed by Ingresses or routes of two tenants in one
//! cluster (objects as written are in every cluster; rendered ones in their units' clusters).

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
        // Judged per cluster: the claims it receives (rendered for it, or as written).
        let mut clusters: Vec<Option<&str>> = vec![None];
        for (_, object, _) in &claims {
            for c in object.clusters() {
                if !clusters.contains(&Some(c)) {
                    clusters.push(Some(c));
                }
            }
        }
        let mut reported: Vec<(usize, &str, Option<&str>)> = Vec::new();
        for cluster in clusters {
            let visible: Vec<&(&str, &Object, String)> = claims
                .iter()
                .filter(|(_, o, _)| {
                    o.as_written() || cluster.is_some_and(|c| o.clusters().any(|x| x == c))
                })
                .collect();
            let Some(&&(first_tenant, first, ref first_pointer)) = visible.first() else {
                continue;
            };
            for (tenant, object, pointer) in visible.iter().filter(|(t, _, _)| *t != first_tenant) {
                // A claim as written is one finding; a rendered one, one per cluster (merged
                // into one that names the clusters' units when alike).
                let about = if object.as_written() { None } else { cluster };
                if reported.contains(&(object.index, pointer.as_str(), about)) {
                    continue;
                }
                reported.push((object.index, pointer.as_str(), about));
                sink.report_in(
                    object,
                    about,
                    None,
                    pointer.clone(),
                    format!(
                        "host `{host}` of tenant `{tenant}` is also claimed by tenant `{first_tenant}` ({} `{}` in {}): the ingress controller sends one tenant's traffic to the other",
                        first.kind,
                        first.name,
                        inv.files[first.file_at(first_pointer)].display
                    ),
                );
            }
        }
    }
}
