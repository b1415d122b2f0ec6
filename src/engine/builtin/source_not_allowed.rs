//! Template `source-not-allowed`: a tenant's Flux source (GitRepository, OCIRepository,
//! HelmRepository, Bucket) whose URL is outside the tenant's allowed sources, and a tenant
//! container image from a registry outside the tenant's allowed registries.

use serde::Deserialize;

use crate::engine::kyverno::wildcard;
use crate::engine::{Context, Sink};
use crate::inventory::Object;
use crate::load::Node;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Params {}

const KINDS: &[&str] = &[
    "GitRepository",
    "OCIRepository",
    "HelmRepository",
    "Bucket",
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
    "CronJob",
    "PodTemplate",
];

super::object_template!(SourceNotAllowed);

fn check(_params: &Params, cx: &Context<'_>, object: &Object, sink: &mut Sink) {
    let Some(tenant) = cx.tenant_of(object) else { return };
    if let Some((spec, pointer)) = super::pod::pod_spec(object) {
        if tenant.registries.is_empty() {
            return;
        }
        for c in super::pod::containers(spec, pointer) {
            let Some(image) = c.node.get("image").and_then(Node::as_str) else { continue };
            if !tenant.registries.matches(image) {
                sink.report(
                    object,
                    format!("{}/image", c.pointer),
                    format!(
                        "image `{image}` of tenant `{}` is not from the tenant's registries ({})",
                        tenant.name,
                        tenant.registries.describe()
                    ),
                );
            }
        }
        return;
    }
    if !object.api_version.starts_with("source.toolkit.fluxcd.io/") {
        return;
    }
    if tenant.sources.is_empty() {
        return;
    }
    let field = if object.kind == "Bucket" { "endpoint" } else { "url" };
    let Some(url) = object.root.at(&["spec", field]).and_then(Node::as_str) else { return };
    if tenant.sources.iter().any(|s| wildcard::matches(s, url)) {
        return;
    }
    sink.report(
        object,
        format!("/spec/{field}"),
        format!("{} `{}` of tenant `{}` pulls from `{url}`, which is not among the tenant's sources ({})", object.kind, object.name, tenant.name, tenant.sources.join(", ")),
    );
}
