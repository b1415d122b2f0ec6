//! Template `argo-app-scope`: an Argo CD Application or ApplicationSet in the `default` project,
//! or deploying outside its tenant (another tenant's namespace, another cluster).

use serde::Deserialize;

use crate::engine::{Context, Sink};
use crate::inventory::{Object, Tenant};
use crate::load::Node;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Params {
    /// Destination servers and cluster names that count as this cluster.
    #[serde(default = "default_in_cluster")]
    in_cluster: Vec<String>,
}

impl Default for Params {
    fn default() -> Self {
        Params { in_cluster: default_in_cluster() }
    }
}

fn default_in_cluster() -> Vec<String> {
    vec!["https://kubernetes.default.svc".into(), "in-cluster".into()]
}

const KINDS: &[&str] = &["Application", "ApplicationSet"];

super::object_template!(ArgoAppScope);

/// The tenant an Application works for: its own namespace's, else the one its project is named after.
fn tenant_for<'a>(cx: &'a Context<'_>, object: &Object, project: &str) -> Option<&'a Tenant> {
    cx.tenant_of(object).or_else(|| cx.inventory.tenants.tenants.get(project))
}

fn check(params: &Params, cx: &Context<'_>, object: &Object, sink: &mut Sink) {
    if !object.api_version.starts_with("argoproj.io/") {
        return;
    }
    let (spec, base) = if object.kind == "ApplicationSet" {
        (object.root.at(&["spec", "template", "spec"]), "/spec/template/spec")
    } else {
        (object.root.get("spec"), "/spec")
    };
    let Some(spec) = spec else { return };
    let project = spec.get("project").and_then(Node::as_str).unwrap_or("");
    if project.is_empty() || project == "default" {
        let pointer = if project.is_empty() { base.to_string() } else { format!("{base}/project") };
        sink.report(
            object,
            pointer,
            format!(
                "{} `{}` is in the `default` project, which may deploy anything anywhere",
                object.kind, object.name
            ),
        );
    }
    let Some(tenant) = tenant_for(cx, object, project) else { return };
    let Some(dest) = spec.get("destination") else { return };
    if let Some(ns) = dest.get("namespace").and_then(Node::as_str) {
        if !ns.contains("{{") && !tenant.namespaces.contains(ns) {
            sink.report(object, format!("{base}/destination/namespace"), format!("{} `{}` of tenant `{}` deploys into namespace `{ns}`, which the tenant does not own", object.kind, object.name, tenant.name));
        }
    }
    for key in ["server", "name"] {
        if let Some(target) = dest.get(key).and_then(Node::as_str) {
            if !target.contains("{{") && !params.in_cluster.iter().any(|c| c == target) {
                sink.report(
                    object,
                    format!("{base}/destination/{key}"),
                    format!(
                        "{} `{}` of tenant `{}` deploys to cluster `{target}`",
                        object.kind, object.name, tenant.name
                    ),
                );
            }
        }
    }
}
