//! Template `flux-missing-service-account`: a tenant's Flux Kustomization or HelmRelease that
//! does not impersonate a tenant service account, so it applies with the controller's rights.

use serde::Deserialize;

use crate::engine::{Context, Sink};
use crate::inventory::Object;
use crate::load::Node;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Params {}

const KINDS: &[&str] = &["Kustomization", "HelmRelease"];

super::object_template!(FluxMissingServiceAccount);

fn check(_params: &Params, cx: &Context<'_>, object: &Object, sink: &mut Sink) {
    if !object.api_version.starts_with("kustomize.toolkit.fluxcd.io/")
        && !object.api_version.starts_with("helm.toolkit.fluxcd.io/")
    {
        return;
    }
    let Some(tenant) = cx.tenant_of(object) else { return };
    // With a kubeConfig the reconcile runs as the kubeconfig's identity (capsule-proxy, a remote
    // cluster), not with the controller's rights: MTK-FLUX-002 judges the kubeConfig.
    if object.root.at(&["spec", "kubeConfig"]).is_some_and(|k| !k.is_null()) {
        return;
    }
    let sa = object.root.at(&["spec", "serviceAccountName"]).and_then(Node::as_str).unwrap_or("");
    if sa.is_empty() {
        sink.report(
            object,
            "/spec",
            format!(
                "{} `{}` of tenant `{}` has no spec.serviceAccountName: it applies with the Flux controller's cluster-wide rights",
                object.kind, object.name, tenant.name
            ),
        );
    }
}
