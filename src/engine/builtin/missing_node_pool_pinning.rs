//! Template `missing-node-pool-pinning`: a tenant pod that is not pinned to its tenant's node
//! pool: no nodeSelector on the pool key, or no toleration of the pool's taint.

use serde::Deserialize;

use super::pod::{pod_spec, POD_KINDS};
use crate::engine::{Context, Sink};
use crate::inventory::Object;
use crate::load::Node;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Params {}

const KINDS: &[&str] = POD_KINDS;

super::object_template!(MissingNodePoolPinning);

fn check(_params: &Params, cx: &Context<'_>, object: &Object, sink: &mut Sink) {
    let Some(tenant) = cx.tenant_of(object) else { return };
    let Some(pool) = tenant.node_pool.as_deref() else { return };
    let key = cx.config.tenancy.node_pool_key.as_str();
    let Some((spec, pointer)) = pod_spec(object) else { return };
    // A Capsule Tenant's nodeSelector is added to every pod of the tenant at admission.
    let selected = spec.at(&["nodeSelector", key]).and_then(Node::as_str) == Some(pool)
        || tenant.injected_node_selector.get(key).map(String::as_str) == Some(pool);
    let tolerated = spec.get("tolerations").and_then(Node::as_seq).unwrap_or(&[]).iter().any(|t| {
        t.get("key").and_then(Node::as_str) == Some(key)
            && match t.get("operator").and_then(Node::as_str) {
                Some("Exists") => true,
                _ => t.get("value").and_then(Node::as_str) == Some(pool),
            }
    });
    let missing = match (selected, tolerated) {
        (true, true) => return,
        (false, true) => format!("no nodeSelector `{key}: {pool}`"),
        (true, false) => format!("no toleration of `{key}={pool}`"),
        (false, false) => format!("no nodeSelector `{key}: {pool}` and no toleration of its taint"),
    };
    sink.report(
        object,
        pointer,
        format!("pod of tenant `{}` is not pinned to node pool `{pool}` ({missing}): it can land on other tenants' nodes", tenant.name),
    );
}
