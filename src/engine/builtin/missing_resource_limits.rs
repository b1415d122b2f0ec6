//! Template `missing-resource-limits`: a container without CPU and memory limits.

use serde::Deserialize;

use super::pod::{pod_spec, POD_KINDS};
use crate::engine::{Context, Sink};
use crate::inventory::Object;
use crate::load::Node;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Params {
    /// Limits every container must set.
    #[serde(default = "default_resources")]
    resources: Vec<String>,
}

impl Default for Params {
    fn default() -> Self {
        Params { resources: default_resources() }
    }
}

fn default_resources() -> Vec<String> {
    vec!["cpu".into(), "memory".into()]
}

const KINDS: &[&str] = POD_KINDS;

super::object_template!(MissingResourceLimits);

fn check(params: &Params, cx: &Context<'_>, object: &Object, sink: &mut Sink) {
    if cx.is_platform_namespace(object.namespace_or_empty()) {
        return;
    }
    let Some((spec, pointer)) = pod_spec(object) else { return };
    for (i, c) in spec.get("containers").and_then(Node::as_seq).unwrap_or(&[]).iter().enumerate() {
        let limits = c.at(&["resources", "limits"]);
        let missing: Vec<&str> = params
            .resources
            .iter()
            .map(String::as_str)
            .filter(|r| limits.and_then(|l| l.get(r)).is_none_or(Node::is_null))
            .collect();
        if missing.is_empty() {
            continue;
        }
        let name = c.get("name").and_then(Node::as_str).unwrap_or("");
        let whom = if cx.tenant_of(object).is_some() { "other tenants" } else { "other workloads" };
        let container = format!("{pointer}/containers/{i}");
        // `resources` written somewhere else than the container (a chart's values, a patch) is
        // where the limits are missing from.
        let resources = format!("{container}/resources");
        let at = c
            .get("resources")
            .filter(|_| object.file_at(&resources) != object.file_at(&container))
            .map(|r| (object.file_at(&resources), r.span));
        sink.report_in(
            object,
            None,
            at,
            container,
            format!(
                "container `{name}` sets no {} limit: it can take the node from {whom}",
                missing.join(" or ")
            ),
        );
    }
}
