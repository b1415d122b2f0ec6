//! Template `argo-project-wildcards`: an Argo CD AppProject that lets its applications deploy
//! anywhere (`*` destinations), from anything (`*` source repositories), or any cluster-scoped
//! resource.

use serde::Deserialize;

use crate::engine::{Context, Sink};
use crate::inventory::Object;
use crate::load::Node;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Params {
    /// Projects run by the platform team, which may use wildcards.
    #[serde(default)]
    platform_projects: Vec<String>,
}

const KINDS: &[&str] = &["AppProject"];

super::object_template!(ArgoProjectWildcards);

/// A project works for a tenant when it is named after one, or sends to one of its namespaces.
fn is_tenant_project(cx: &Context<'_>, object: &Object, spec: &Node) -> bool {
    cx.inventory.tenants.tenants.contains_key(&object.name)
        || spec.get("destinations").and_then(Node::as_seq).unwrap_or(&[]).iter().any(|d| {
            d.get("namespace")
                .and_then(Node::as_str)
                .is_some_and(|ns| cx.inventory.tenants.is_tenant_namespace(ns))
        })
}

fn check(params: &Params, cx: &Context<'_>, object: &Object, sink: &mut Sink) {
    if !object.api_version.starts_with("argoproj.io/")
        || params.platform_projects.contains(&object.name)
    {
        return;
    }
    let Some(spec) = object.root.get("spec") else { return };
    if !is_tenant_project(cx, object, spec) {
        return;
    }
    let name = &object.name;
    for (i, d) in spec.get("destinations").and_then(Node::as_seq).unwrap_or(&[]).iter().enumerate()
    {
        for key in ["namespace", "server", "name"] {
            if d.get(key).and_then(Node::as_str) == Some("*") {
                sink.report(
                    object,
                    format!("/spec/destinations/{i}/{key}"),
                    format!("AppProject `{name}` allows every destination {key} (`*`)"),
                );
            }
        }
    }
    for (i, r) in spec.get("sourceRepos").and_then(Node::as_seq).unwrap_or(&[]).iter().enumerate() {
        if r.as_str() == Some("*") {
            sink.report(
                object,
                format!("/spec/sourceRepos/{i}"),
                format!("AppProject `{name}` allows every source repository (`*`)"),
            );
        }
    }
    for (i, r) in spec
        .get("clusterResourceWhitelist")
        .and_then(Node::as_seq)
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        let wild = |k: &str| r.get(k).and_then(Node::as_str) == Some("*");
        if wild("kind") {
            sink.report(object, format!("/spec/clusterResourceWhitelist/{i}"), format!("AppProject `{name}` allows its applications to create cluster-scoped resources of every kind"));
        }
    }
}
