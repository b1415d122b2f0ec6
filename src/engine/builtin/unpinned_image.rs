//! Template `unpinned-image`: an image with the `latest` tag or no tag at all.

use serde::Deserialize;

use super::pod::{containers, pod_spec, POD_KINDS};
use crate::engine::{Context, Sink};
use crate::inventory::Object;
use crate::load::Node;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Params {
    /// Also report objects in platform namespaces.
    #[serde(default)]
    include_platform_namespaces: bool,
}

const KINDS: &[&str] = POD_KINDS;

super::object_template!(UnpinnedImage);

/// The tag of an image reference, `None` without one; an image pinned by digest counts as tagged.
fn tag(image: &str) -> Option<&str> {
    if image.contains('@') {
        return Some("@digest");
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    last.split_once(':').map(|(_, t)| t)
}

fn check(params: &Params, cx: &Context<'_>, object: &Object, sink: &mut Sink) {
    if !params.include_platform_namespaces && cx.is_platform_namespace(object.namespace_or_empty())
    {
        return;
    }
    let Some((spec, pointer)) = pod_spec(object) else { return };
    for c in containers(spec, pointer) {
        let Some(image) = c.node.get("image").and_then(Node::as_str) else { continue };
        let problem = match tag(image) {
            None => "has no tag, so it runs whatever `latest` is",
            Some("latest") => "uses the mutable `latest` tag",
            Some(_) => continue,
        };
        sink.report(
            object,
            format!("{}/image", c.pointer),
            format!("image `{image}` of container `{}` {problem}", c.name),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::tag;

    #[test]
    fn tags() {
        assert_eq!(tag("nginx"), None);
        assert_eq!(tag("nginx:latest"), Some("latest"));
        assert_eq!(tag("registry.example.com:5000/team/app"), None);
        assert_eq!(tag("registry.example.com:5000/team/app:1.2"), Some("1.2"));
        assert_eq!(tag("nginx@sha256:abc"), Some("@digest"));
    }
}
