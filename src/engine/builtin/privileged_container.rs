//! Template `privileged-container`: a container with `securityContext.privileged: true`.

use serde::Deserialize;

use super::pod::{containers, pod_spec, POD_KINDS};
use crate::engine::{Context, Rule, RuleMeta, RuleScope, Sink};
use crate::inventory::Object;
use crate::load::{de, Node};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Params {
    /// Also report objects in platform namespaces.
    #[serde(default)]
    include_platform_namespaces: bool,
}

struct PrivilegedContainer {
    meta: RuleMeta,
    params: Params,
}

pub(super) fn instantiate(
    meta: RuleMeta,
    params: Option<&Node>,
) -> Result<Box<dyn Rule>, de::DeError> {
    Ok(Box::new(PrivilegedContainer { meta, params: super::params(params)? }))
}

impl Rule for PrivilegedContainer {
    fn meta(&self) -> &RuleMeta {
        &self.meta
    }

    fn scope(&self) -> RuleScope {
        RuleScope::Object
    }

    fn kinds(&self) -> &[&str] {
        POD_KINDS
    }

    fn check_object(&self, cx: &Context<'_>, object: &Object, sink: &mut Sink) {
        if !self.params.include_platform_namespaces
            && cx.is_platform_namespace(object.namespace_or_empty())
        {
            return;
        }
        let Some((spec, pointer)) = pod_spec(object) else {
            return;
        };
        for c in containers(spec, pointer) {
            if c.node.at(&["securityContext", "privileged"]).and_then(Node::as_bool) == Some(true) {
                sink.report(
                    object,
                    format!("{}/securityContext/privileged", c.pointer),
                    format!(
                        "container `{}` runs privileged: it has full access to the node",
                        c.name
                    ),
                );
            }
        }
    }
}
