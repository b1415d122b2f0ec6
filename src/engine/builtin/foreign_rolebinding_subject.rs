//! Template `foreign-rolebinding-subject`: a RoleBinding in a tenant namespace that grants a
//! subject of another tenant, and a ClusterRoleBinding that grants tenant subjects cluster-wide.

use serde::Deserialize;

use crate::engine::{Context, Sink};
use crate::inventory::Object;
use crate::load::Node;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Params {}

const KINDS: &[&str] = &["RoleBinding", "ClusterRoleBinding"];

super::object_template!(ForeignRolebindingSubject);

fn check(_params: &Params, cx: &Context<'_>, object: &Object, sink: &mut Sink) {
    if !object.api_version.starts_with("rbac.authorization.k8s.io/") {
        return;
    }
    let role = object.root.at(&["roleRef", "name"]).and_then(Node::as_str).unwrap_or("");
    let own = cx.tenant_of(object);
    if object.kind == "RoleBinding" && own.is_none() {
        return;
    }
    for (i, subject) in
        object.root.get("subjects").and_then(Node::as_seq).unwrap_or(&[]).iter().enumerate()
    {
        if subject.get("kind").and_then(Node::as_str) != Some("ServiceAccount") {
            continue;
        }
        // A ServiceAccount subject without a namespace is in the binding's namespace.
        let ns =
            subject.get("namespace").and_then(Node::as_str).unwrap_or(object.namespace_or_empty());
        let Some(theirs) = cx.inventory.tenants.tenant_of(ns) else { continue };
        let name = subject.get("name").and_then(Node::as_str).unwrap_or("");
        let message = match own {
            Some(own) if own.name == theirs.name => continue,
            Some(own) => format!(
                "binds `{role}` in namespace `{}` of tenant `{}` to ServiceAccount `{ns}/{name}` of tenant `{}`",
                object.namespace_or_empty(),
                own.name,
                theirs.name
            ),
            None => format!("grants `{role}` cluster-wide to ServiceAccount `{ns}/{name}` of tenant `{}`", theirs.name),
        };
        sink.report(object, format!("/subjects/{i}"), message);
    }
}
