//! Template `host-namespaces`: a pod that shares the node's network, process or IPC namespace,
//! or binds a port on the node.

use serde::Deserialize;

use super::pod::{containers, pod_spec, POD_KINDS};
use crate::engine::{Context, Sink};
use crate::inventory::Object;
use crate::load::{Node, Value};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Params {}

const KINDS: &[&str] = POD_KINDS;

super::object_template!(HostNamespaces);

fn check(_params: &Params, cx: &Context<'_>, object: &Object, sink: &mut Sink) {
    if cx.is_platform_namespace(object.namespace_or_empty()) {
        return;
    }
    let Some((spec, pointer)) = pod_spec(object) else { return };
    for (field, what) in [
        ("hostNetwork", "the node's network"),
        ("hostPID", "the node's processes"),
        ("hostIPC", "the node's IPC"),
    ] {
        if spec.get(field).and_then(Node::as_bool) == Some(true) {
            sink.report(
                object,
                format!("{pointer}/{field}"),
                format!("{field}: true gives the pod {what}, shared with every tenant on the node"),
            );
        }
    }
    for c in containers(spec, pointer) {
        for (j, port) in
            c.node.get("ports").and_then(Node::as_seq).unwrap_or(&[]).iter().enumerate()
        {
            if let Some(Value::Int(p)) = port.get("hostPort").map(|n| &n.value) {
                if *p != 0 {
                    sink.report(
                        object,
                        format!("{}/ports/{j}/hostPort", c.pointer),
                        format!("container `{}` binds port {p} on the node itself", c.name),
                    );
                }
            }
        }
    }
}
