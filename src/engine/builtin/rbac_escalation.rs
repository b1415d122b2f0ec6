//! Template `rbac-escalation`: a Role in a tenant namespace that grants the verbs that lead to
//! more rights (`escalate`, `bind`, `impersonate`) or everything (`*` verbs on `*` resources).

use serde::Deserialize;

use crate::engine::{Context, Sink};
use crate::inventory::Object;
use crate::load::Node;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Params {}

const KINDS: &[&str] = &["Role"];

super::object_template!(RbacEscalation);

const ESCALATING: &[&str] = &["escalate", "bind", "impersonate"];

fn strings(node: Option<&Node>) -> Vec<&str> {
    node.and_then(Node::as_seq).unwrap_or(&[]).iter().filter_map(Node::as_str).collect()
}

fn check(_params: &Params, cx: &Context<'_>, object: &Object, sink: &mut Sink) {
    if !object.api_version.starts_with("rbac.authorization.k8s.io/") {
        return;
    }
    let Some(tenant) = cx.tenant_of(object) else { return };
    for (i, rule) in
        object.root.get("rules").and_then(Node::as_seq).unwrap_or(&[]).iter().enumerate()
    {
        let verbs = strings(rule.get("verbs"));
        let resources = strings(rule.get("resources"));
        let escalating: Vec<&str> =
            verbs.iter().copied().filter(|v| ESCALATING.contains(v)).collect();
        let message = if verbs.contains(&"*") && resources.contains(&"*") {
            "grants every verb on every resource: the tenant's admins can do anything in the namespace, including granting rights".to_string()
        } else if !escalating.is_empty() {
            format!(
                "grants `{}`: whoever holds it can give itself rights it does not have",
                escalating.join("`, `")
            )
        } else {
            continue;
        };
        sink.report(
            object,
            format!("/rules/{i}/verbs"),
            format!("Role `{}` of tenant `{}` {message}", object.name, tenant.name),
        );
    }
}
