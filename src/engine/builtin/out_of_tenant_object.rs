//! Template `out-of-tenant-object`: a tenant's Flux Kustomization or Argo CD Application deploys
//! a cluster-scoped object or an object into a namespace the tenant does not own.

use serde::Deserialize;

use crate::engine::{Context, Rule, RuleMeta, RuleScope, Sink};
use crate::inventory::Object;
use crate::load::{de, Node};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Params {}

struct OutOfTenantObject {
    meta: RuleMeta,
}

pub(super) fn instantiate(
    meta: RuleMeta,
    params: Option<&Node>,
) -> Result<Box<dyn Rule>, de::DeError> {
    let _: Params = super::params(params)?;
    Ok(Box::new(OutOfTenantObject { meta }))
}

impl Rule for OutOfTenantObject {
    fn meta(&self) -> &RuleMeta {
        &self.meta
    }

    fn scope(&self) -> RuleScope {
        RuleScope::Object
    }

    fn wants_kind(&self, _kind: &str) -> bool {
        true
    }

    fn check_object(&self, cx: &Context<'_>, object: &Object, sink: &mut Sink) {
        let Some(deployer) = &object.deployed_by else { return };
        let Some(tenant) = cx.inventory.tenants.tenant_of(&deployer.namespace) else { return };
        // Written only for a finding (the rule runs on every object a tenant deploys).
        let by = || format!("{} of tenant `{}`", deployer.label, tenant.name);
        let flux_ns = &deployer.namespace;
        if object.cluster_scoped {
            sink.report(
                object,
                "/kind",
                format!("{} deploys the cluster-scoped {} `{}`: tenants may only create objects in their namespaces", by(), object.kind, object.name),
            );
            return;
        }
        let Some(ns) = object.namespace.as_deref() else { return };
        if ns != flux_ns && !tenant.namespaces.contains(ns) {
            let pointer = if object.root.at(&["metadata", "namespace"]).is_some() {
                "/metadata/namespace"
            } else {
                "/metadata"
            };
            sink.report(
                object,
                pointer,
                format!(
                    "{} deploys {} `{}` into namespace `{ns}`, which the tenant does not own",
                    by(),
                    object.kind,
                    object.name
                ),
            );
        }
    }
}
