//! Pod templates inside the pod-bearing kinds, and the containers in them.

use crate::inventory::Object;
use crate::load::Node;

/// Kinds that carry a pod spec.
pub const POD_KINDS: &[&str] = &[
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
    "CronJob",
    "PodTemplate",
];

pub use crate::kinds::pod_spec_pointer;

/// The pod spec of an object and its JSON pointer.
#[must_use]
pub fn pod_spec(object: &Object) -> Option<(&Node, &'static str)> {
    let pointer = pod_spec_pointer(&object.kind)?;
    let mut node = &object.root;
    for key in crate::pointer::slash_parts(pointer.trim_start_matches('/')) {
        node = node.get(key)?;
    }
    Some((node, pointer))
}

/// A container in a pod spec.
pub struct Container<'a> {
    pub node: &'a Node,
    /// JSON pointer of the container.
    pub pointer: String,
    pub name: &'a str,
}

/// Every container of a pod spec: `initContainers`, `containers`, then `ephemeralContainers`.
pub fn containers<'a>(
    spec: &'a Node,
    spec_pointer: &'a str,
) -> impl Iterator<Item = Container<'a>> + 'a {
    ["initContainers", "containers", "ephemeralContainers"].into_iter().flat_map(move |list| {
        spec.get(list).and_then(Node::as_seq).unwrap_or(&[]).iter().enumerate().map(
            move |(i, node)| Container {
                node,
                pointer: format!("{spec_pointer}/{list}/{i}"),
                name: node.get("name").and_then(Node::as_str).unwrap_or(""),
            },
        )
    })
}
