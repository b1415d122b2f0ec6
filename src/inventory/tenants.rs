//! Tenants: who owns which namespace, node pool and domains.
//!
//! A namespace belongs to a tenant when the config lists it under `tenants.<name>.namespaces`,
//! or when its Namespace object carries the tenant label (`tenancy.tenantLabel`, or by default
//! `toolkit.fluxcd.io/tenant`, then `mtk.io/tenant`). Platform namespaces never do.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::config::{Config, DEFAULT_TENANT_LABELS};
use crate::load::Node;

/// One tenant.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub name: String,
    pub namespaces: BTreeSet<String>,
    pub node_pool: Option<String>,
    /// Host patterns the tenant may use, with `{tenant}` already expanded.
    pub domains: Vec<String>,
    /// Source URL patterns the tenant may use, with `{tenant}` already expanded.
    pub sources: Vec<String>,
    /// Image patterns (`registry.example.com/team-a/*`) the tenant's containers may use.
    pub registries: Vec<String>,
}

/// Tenants by name, and the tenant of each namespace.
#[derive(Debug, Default, Clone)]
pub struct TenantIndex {
    pub tenants: BTreeMap<String, Tenant>,
    namespace_tenant: HashMap<String, String>,
}

/// A Namespace object as the tenant index sees it.
pub(crate) struct NamespaceObject<'a> {
    pub name: &'a str,
    pub root: &'a Node,
}

impl TenantIndex {
    pub(crate) fn build<'a>(
        config: &Config,
        namespaces: impl Iterator<Item = NamespaceObject<'a>>,
    ) -> Self {
        let tenancy = &config.tenancy;
        let labels: Vec<&str> = match &tenancy.tenant_label {
            Some(l) => vec![l.as_str()],
            None => DEFAULT_TENANT_LABELS.to_vec(),
        };
        let is_platform = |ns: &str| tenancy.platform_namespaces.iter().any(|p| p == ns);
        let mut index = TenantIndex::default();
        for (name, tc) in &config.tenants {
            let tenant = index.tenant_mut(name);
            tenant.node_pool.clone_from(&tc.node_pool);
            for (own, given) in [
                (&mut tenant.domains, &tc.domains),
                (&mut tenant.sources, &tc.sources),
                (&mut tenant.registries, &tc.registries),
            ] {
                own.extend(given.iter().map(|d| d.replace("{tenant}", name)));
            }
            let owned: Vec<String> =
                tc.namespaces.iter().filter(|ns| !is_platform(ns)).cloned().collect();
            tenant.namespaces.extend(owned.iter().cloned());
            for ns in owned {
                index.namespace_tenant.insert(ns, name.clone());
            }
        }
        for ns in namespaces {
            if is_platform(ns.name) || index.namespace_tenant.contains_key(ns.name) {
                continue;
            }
            let Some(ns_labels) = ns.root.at(&["metadata", "labels"]) else {
                continue;
            };
            let Some(tenant_name) =
                labels.iter().find_map(|l| ns_labels.get(l).and_then(Node::as_str))
            else {
                continue;
            };
            let pool =
                ns_labels.get(&tenancy.node_pool_label).and_then(Node::as_str).map(String::from);
            let tenant = index.tenant_mut(tenant_name);
            tenant.namespaces.insert(ns.name.to_string());
            if tenant.node_pool.is_none() {
                tenant.node_pool = pool;
            }
            index.namespace_tenant.insert(ns.name.to_string(), tenant_name.to_string());
        }
        // Tenants without their own lists take the tenancy-wide ones, `{tenant}` expanded.
        let expand = |list: &[String], name: &str| -> Vec<String> {
            list.iter().map(|d| d.replace("{tenant}", name)).collect()
        };
        for (name, tenant) in &mut index.tenants {
            for (own, shared) in [
                (&mut tenant.domains, &tenancy.domains),
                (&mut tenant.sources, &tenancy.sources),
                (&mut tenant.registries, &tenancy.registries),
            ] {
                if own.is_empty() {
                    *own = expand(shared, name);
                }
            }
        }
        index
    }

    fn tenant_mut(&mut self, name: &str) -> &mut Tenant {
        self.tenants
            .entry(name.to_string())
            .or_insert_with(|| Tenant { name: name.to_string(), ..Tenant::default() })
    }

    /// The tenant that owns a namespace.
    #[must_use]
    pub fn tenant_of(&self, namespace: &str) -> Option<&Tenant> {
        self.namespace_tenant.get(namespace).and_then(|t| self.tenants.get(t))
    }

    #[must_use]
    pub fn is_tenant_namespace(&self, namespace: &str) -> bool {
        self.namespace_tenant.contains_key(namespace)
    }
}
