//! Template `flux-cross-namespace-ref`: a tenant's Flux Kustomization or HelmRelease that reaches
//! outside the tenant — a source, a dependency or a target namespace of someone else, or a
//! remote cluster through `kubeConfig`.

use serde::Deserialize;

use crate::engine::{Context, Sink};
use crate::inventory::{Object, Tenant};
use crate::load::Node;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Params {}

const KINDS: &[&str] = &["Kustomization", "HelmRelease"];

super::object_template!(FluxCrossNamespaceRef);

fn check(_params: &Params, cx: &Context<'_>, object: &Object, sink: &mut Sink) {
    let flux = object.api_version.starts_with("kustomize.toolkit.fluxcd.io/")
        || object.api_version.starts_with("helm.toolkit.fluxcd.io/");
    if !flux {
        return;
    }
    let Some(tenant) = cx.tenant_of(object) else { return };
    let own_ns = object.namespace_or_empty();
    let outside = |ns: &str| ns != own_ns && !tenant.namespaces.contains(ns);
    let spec = object.root.get("spec");
    let mut report = |pointer: String, what: String| {
        sink.report(
            object,
            pointer,
            format!("{} `{}` of tenant `{}` {what}", object.kind, object.name, tenant.name),
        );
    };
    for (pointer, path) in [
        ("/spec/sourceRef/namespace", &["sourceRef", "namespace"][..]),
        ("/spec/chart/spec/sourceRef/namespace", &["chart", "spec", "sourceRef", "namespace"]),
    ] {
        if let Some(ns) = spec.and_then(|s| s.at(path)).and_then(Node::as_str) {
            if outside(ns) {
                report(
                    pointer.into(),
                    format!("uses a source in namespace `{ns}`{}", owner(cx, ns, tenant)),
                );
            }
        }
    }
    for (i, dep) in spec
        .and_then(|s| s.get("dependsOn"))
        .and_then(Node::as_seq)
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        if let Some(ns) = dep.get("namespace").and_then(Node::as_str) {
            if outside(ns) {
                report(
                    format!("/spec/dependsOn/{i}/namespace"),
                    format!("depends on an object in namespace `{ns}`{}", owner(cx, ns, tenant)),
                );
            }
        }
    }
    if let Some(ns) = spec.and_then(|s| s.get("targetNamespace")).and_then(Node::as_str) {
        if outside(ns) {
            report(
                "/spec/targetNamespace".into(),
                format!("deploys into namespace `{ns}`{}", owner(cx, ns, tenant)),
            );
        }
    }
    if spec.and_then(|s| s.get("kubeConfig")).is_some_and(|k| !k.is_null()) {
        report(
            "/spec/kubeConfig".into(),
            "deploys to another cluster through spec.kubeConfig".into(),
        );
    }
}

/// `, which belongs to tenant x` / `, a platform namespace`, when known.
fn owner(cx: &Context<'_>, ns: &str, _own: &Tenant) -> String {
    if let Some(t) = cx.inventory.tenants.tenant_of(ns) {
        format!(", which belongs to tenant `{}`", t.name)
    } else if cx.is_platform_namespace(ns) {
        ", a platform namespace".into()
    } else {
        String::new()
    }
}
