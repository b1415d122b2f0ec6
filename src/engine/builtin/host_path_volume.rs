//! Template `host-path-volume`: a pod outside the platform namespaces that mounts a hostPath.

use serde::Deserialize;

use super::pod::{pod_spec, POD_KINDS};
use crate::engine::{Context, Sink};
use crate::inventory::Object;
use crate::load::Node;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Params {
    /// Host paths that may be mounted (exact paths), e.g. a node agent's socket.
    #[serde(default)]
    allowed_paths: Vec<String>,
}

const KINDS: &[&str] = POD_KINDS;

super::object_template!(HostPathVolume);

fn check(params: &Params, cx: &Context<'_>, object: &Object, sink: &mut Sink) {
    if cx.is_platform_namespace(object.namespace_or_empty()) {
        return;
    }
    let Some((spec, pointer)) = pod_spec(object) else { return };
    for (i, volume) in spec.get("volumes").and_then(Node::as_seq).unwrap_or(&[]).iter().enumerate()
    {
        let Some(host_path) = volume.get("hostPath") else { continue };
        let path = host_path.get("path").and_then(Node::as_str).unwrap_or("");
        if params.allowed_paths.iter().any(|p| p == path) {
            continue;
        }
        let name = volume.get("name").and_then(Node::as_str).unwrap_or("");
        sink.report(
            object,
            format!("{pointer}/volumes/{i}/hostPath"),
            format!(
                "volume `{name}` mounts the node's `{path}`: the pod can read or change the host"
            ),
        );
    }
}
