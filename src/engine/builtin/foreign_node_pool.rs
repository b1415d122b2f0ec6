//! Template `foreign-node-pool`: a tenant pod that selects or tolerates another tenant's node
//! pool.

use serde::Deserialize;

use super::pod::{pod_spec, POD_KINDS};
use crate::engine::{Context, Sink};
use crate::inventory::Object;
use crate::load::Node;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Params {}

const KINDS: &[&str] = POD_KINDS;

super::object_template!(ForeignNodePool);

fn check(_params: &Params, cx: &Context<'_>, object: &Object, sink: &mut Sink) {
    let Some(tenant) = cx.tenant_of(object) else { return };
    let key = cx.config.tenancy.node_pool_key.as_str();
    let Some((spec, pointer)) = pod_spec(object) else { return };
    // A pool is foreign when another tenant has it and this tenant does not.
    let foreign = |pool: &str| -> Option<String> {
        if tenant.node_pool.as_deref() == Some(pool) {
            return None;
        }
        cx.inventory
            .tenants
            .tenants
            .values()
            .find(|t| t.node_pool.as_deref() == Some(pool))
            .map(|t| t.name.clone())
    };
    if let Some(pool) = spec.at(&["nodeSelector", key]).and_then(Node::as_str) {
        if let Some(owner) = foreign(pool) {
            sink.report(
                object,
                crate::load::locate::push(&format!("{pointer}/nodeSelector"), key),
                format!(
                    "pod of tenant `{}` selects node pool `{pool}` of tenant `{owner}`",
                    tenant.name
                ),
            );
        }
    }
    for (i, t) in spec.get("tolerations").and_then(Node::as_seq).unwrap_or(&[]).iter().enumerate() {
        if t.get("key").and_then(Node::as_str) != Some(key) {
            continue;
        }
        if let Some(pool) = t.get("value").and_then(Node::as_str) {
            if let Some(owner) = foreign(pool) {
                sink.report(
                    object,
                    format!("{pointer}/tolerations/{i}"),
                    format!(
                        "pod of tenant `{}` tolerates node pool `{pool}` of tenant `{owner}`",
                        tenant.name
                    ),
                );
            }
        }
    }
}
