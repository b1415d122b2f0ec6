//! Template `pod-security-baseline`: the Pod Security Standards' baseline checks that the
//! dedicated rules do not cover (capabilities, /proc mount, seccomp, sysctls, AppArmor,
//! SELinux, Windows host process).

use serde::Deserialize;

use crate::engine::kyverno::pss;
use crate::engine::{Context, Sink};
use crate::inventory::Object;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Params {}

const KINDS: &[&str] = super::pod::POD_KINDS;

super::object_template!(PodSecurityBaseline);

/// Controls with rules of their own (MTK-SEC-001, MTK-SEC-002, MTK-SEC-006).
const COVERED: &[&str] =
    &["Privileged Containers", "HostPath Volumes", "Host Namespaces", "Host Ports"];

fn check(_params: &Params, cx: &Context<'_>, object: &Object, sink: &mut Sink) {
    if cx.is_platform_namespace(object.namespace_or_empty()) {
        return;
    }
    let resource = sink.object_json(object);
    for v in
        pss::evaluate("baseline", &resource).into_iter().filter(|v| !COVERED.contains(&v.control))
    {
        let pointer =
            v.path.iter().fold(String::new(), |acc, s| crate::load::locate::push(&acc, s));
        let subject = v
            .image
            .as_deref()
            .map_or_else(|| "the pod".to_string(), |i| format!("the container running `{i}`"));
        sink.report(
            object,
            pointer,
            format!(
                "{subject} fails the baseline Pod Security Standard \"{}\" (`{}`)",
                v.control, v.value
            ),
        );
    }
}
