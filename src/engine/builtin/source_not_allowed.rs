//! Template `source-not-allowed`: a tenant's Flux source (GitRepository, OCIRepository,
//! HelmRepository, Bucket) whose URL is outside the tenant's allowed sources.

use serde::Deserialize;

use crate::engine::kyverno::wildcard;
use crate::engine::{Context, Sink};
use crate::inventory::Object;
use crate::load::Node;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Params {}

const KINDS: &[&str] = &["GitRepository", "OCIRepository", "HelmRepository", "Bucket"];

super::object_template!(SourceNotAllowed);

fn check(_params: &Params, cx: &Context<'_>, object: &Object, sink: &mut Sink) {
    if !object.api_version.starts_with("source.toolkit.fluxcd.io/") {
        return;
    }
    let Some(tenant) = cx.tenant_of(object) else { return };
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
