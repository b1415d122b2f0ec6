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

/// The namespace of the ServiceAccounts a subject names, and how to name them: a
/// `ServiceAccount` (without a namespace: the binding's), the user
/// `system:serviceaccount:<ns>:<name>` it authenticates as, or the group
/// `system:serviceaccounts:<ns>` of every ServiceAccount of a namespace.
fn service_accounts<'a>(subject: &'a Node, binding_ns: &'a str) -> Option<(&'a str, String)> {
    let name = subject.get("name").and_then(Node::as_str).unwrap_or("");
    match subject.get("kind").and_then(Node::as_str)? {
        "ServiceAccount" => {
            let ns = subject.get("namespace").and_then(Node::as_str).unwrap_or(binding_ns);
            Some((ns, format!("ServiceAccount `{ns}/{name}`")))
        }
        "User" => {
            let (ns, sa) = name.strip_prefix("system:serviceaccount:")?.split_once(':')?;
            Some((ns, format!("ServiceAccount `{ns}/{sa}` (user `{name}`)")))
        }
        "Group" => {
            let ns = name.strip_prefix("system:serviceaccounts:")?;
            (!ns.is_empty() && !ns.contains(':'))
                .then(|| (ns, format!("every ServiceAccount of namespace `{ns}` (group `{name}`)")))
        }
        _ => None,
    }
}

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
        let Some((ns, who)) = service_accounts(subject, object.namespace_or_empty()) else {
            continue;
        };
        let Some(theirs) = cx.inventory.tenants.tenant_of(ns) else { continue };
        let message = match own {
            Some(own) if own.name == theirs.name => continue,
            Some(own) => format!(
                "binds `{role}` in namespace `{}` of tenant `{}` to {who} of tenant `{}`",
                object.namespace_or_empty(),
                own.name,
                theirs.name
            ),
            None => format!("grants `{role}` cluster-wide to {who} of tenant `{}`", theirs.name),
        };
        sink.report(object, format!("/subjects/{i}"), message);
    }
}
