//! Template `node-port-service`: a Service in a tenant namespace that opens a port on every node
//! (`NodePort`) or asks for its own load balancer (`LoadBalancer`).

use serde::Deserialize;

use crate::engine::{Context, Sink};
use crate::inventory::Object;
use crate::load::Node;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Params {
    /// Service types tenants may not use.
    #[serde(default = "default_types")]
    types: Vec<String>,
}

impl Default for Params {
    fn default() -> Self {
        Params { types: default_types() }
    }
}

fn default_types() -> Vec<String> {
    vec!["NodePort".into(), "LoadBalancer".into()]
}

const KINDS: &[&str] = &["Service"];

super::object_template!(NodePortService);

fn check(params: &Params, cx: &Context<'_>, object: &Object, sink: &mut Sink) {
    let Some(tenant) = cx.tenant_of(object) else { return };
    let Some(kind) = object.root.at(&["spec", "type"]).and_then(Node::as_str) else { return };
    if params.types.iter().any(|t| t == kind) {
        sink.report(
            object,
            "/spec/type",
            format!(
                "Service `{}` of tenant `{}` is of type {kind}: it is reachable from outside the cluster, past the tenant's network policies",
                object.name, tenant.name
            ),
        );
    }
}
