//! Tenants: who owns which namespace, node pool and domains, and what isolation the tenancy
//! platform itself provides.
//!
//! A namespace belongs to a tenant, first match wins:
//! - the config lists it under `tenants.<name>.namespaces`;
//! - its Namespace object carries the tenant label (`tenancy.tenantLabel`, or by default
//!   `toolkit.fluxcd.io/tenant`, `mtk.io/tenant`, then Capsule's `capsule.clastix.io/tenant`);
//! - it is a Hierarchical Namespaces (HNC) subnamespace (a `SubnamespaceAnchor`, or a
//!   `HierarchyConfiguration` naming its parent) of a tenant's namespace;
//! - with `tenancy.argoProjects`, an Argo CD AppProject (but `default`) names it as a destination.
//!
//! Platform namespaces never do: those listed in `tenancy.platformNamespaces`, and labelled ones
//! the platform deploys (defined under `infrastructure/`, with no tenant reconciler in them).
//! A Capsule `Tenant` object defines its tenant's node pool, allowed
//! hostnames and registries, and the NetworkPolicies, ResourceQuotas and LimitRanges Capsule
//! creates in every namespace of the tenant.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{Config, DEFAULT_TENANT_LABELS};
use crate::load::{Node, Value};

/// One entry of an allow-list.
#[derive(Debug, Clone)]
enum Allowed {
    /// A glob (`*.team-a.example.com`) over the whole value.
    Glob(String),
    /// Exactly this value (Capsule `allowedHostnames.allowed`).
    Exact(String),
    /// A regular expression, unanchored as Capsule's `allowedRegex` is (Go `MatchString`).
    Regex(regex::Regex),
    /// An image's registry equals this (Capsule `containerRegistries.allowed`).
    Registry(String),
    /// An image's registry matches this (Capsule `containerRegistries.allowedRegex`).
    RegistryRegex(regex::Regex),
}

impl PartialEq for Allowed {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Eq for Allowed {}

impl std::fmt::Display for Allowed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Allowed::Glob(g) | Allowed::Exact(g) => f.write_str(g),
            Allowed::Regex(r) => write!(f, "/{}/", r.as_str()),
            Allowed::Registry(r) => write!(f, "registry {r}"),
            Allowed::RegistryRegex(r) => write!(f, "registry /{}/", r.as_str()),
        }
    }
}

/// Hosts, images or sources a tenant may use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList(Vec<Allowed>);

impl AllowList {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the list allows `value` (a host, or an image reference).
    #[must_use]
    pub fn matches(&self, value: &str) -> bool {
        self.0.iter().any(|a| match a {
            Allowed::Glob(g) => crate::engine::kyverno::wildcard::matches(g, value),
            Allowed::Exact(e) => e == value,
            Allowed::Regex(r) => r.is_match(value),
            Allowed::Registry(r) => crate::image::ImageRef::split(value).registry == *r,
            Allowed::RegistryRegex(r) => r.is_match(&crate::image::ImageRef::split(value).registry),
        })
    }

    /// The entries, for a message.
    #[must_use]
    pub fn describe(&self) -> String {
        self.0.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    }

    /// The keys a host index can find this list's entries by: an exact host, or the literal
    /// text after a leading `*` when it starts at a label (`.team-a.example.com`). `None` when an
    /// entry has no such key (a regex, a wildcard elsewhere): the list must then be tried.
    pub(crate) fn host_keys(&self) -> Option<Vec<HostKey<'_>>> {
        self.0
            .iter()
            .map(|a| match a {
                Allowed::Exact(e) => Some(HostKey::Exact(e)),
                Allowed::Glob(g) if !crate::engine::kyverno::wildcard::has_wildcard(g) => {
                    Some(HostKey::Exact(g))
                }
                Allowed::Glob(g) => g
                    .strip_prefix('*')
                    .filter(|rest| {
                        rest.starts_with('.')
                            && !crate::engine::kyverno::wildcard::has_wildcard(rest)
                    })
                    .map(HostKey::Suffix),
                _ => None,
            })
            .collect()
    }

    fn globs(globs: impl IntoIterator<Item = String>) -> Self {
        AllowList(globs.into_iter().map(Allowed::Glob).collect())
    }
}

/// How a host index finds an allow-list entry (see [`AllowList::host_keys`]).
pub(crate) enum HostKey<'a> {
    Exact(&'a str),
    /// `.team-a.example.com` of `*.team-a.example.com`.
    Suffix(&'a str),
}

/// Isolation the tenancy platform creates in every namespace of a tenant (Capsule's
/// `networkPolicies`, `resourceQuotas`, `limitRanges`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools, reason = "four independent facts, each read by a rule")]
pub struct Provided {
    pub deny_ingress: bool,
    pub deny_egress: bool,
    pub quota: bool,
    pub limit_range: bool,
}

/// One tenant.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub name: String,
    pub namespaces: BTreeSet<String>,
    pub node_pool: Option<String>,
    /// A nodeSelector the platform adds to every pod of the tenant (Capsule's
    /// `spec.nodeSelector`): pods need not carry it themselves.
    pub injected_node_selector: BTreeMap<String, String>,
    /// Hosts the tenant may use, with `{tenant}` already expanded.
    pub domains: AllowList,
    /// Source URL patterns the tenant may use, with `{tenant}` already expanded.
    pub sources: Vec<String>,
    /// Images (`registry.example.com/team-a/*`) the tenant's containers may use.
    pub registries: AllowList,
    pub provides: Provided,
}

/// Tenants by name, and the tenant of each namespace.
#[derive(Debug, Default, Clone)]
pub struct TenantIndex {
    pub tenants: BTreeMap<String, Tenant>,
    namespace_tenant: foldhash::HashMap<String, String>,
    /// HNC: the parent of each subnamespace.
    parents: foldhash::HashMap<String, String>,
    /// HNC: the `SubnamespaceAnchor` (object index) that creates a namespace.
    anchors: foldhash::HashMap<String, usize>,
    /// HNC propagates NetworkPolicies (and ResourceQuotas) from parents to children when its
    /// `HNCConfiguration` says `Propagate` for them; RBAC always propagates.
    propagated: BTreeSet<(String, String)>,
    /// Settings of tenancy objects that cannot be used: (object index, position, message).
    pub(crate) problems: Vec<(usize, crate::load::source::Pos, String)>,
    /// Tenants by the hosts their domains name, built on first use.
    domain_owners: std::sync::OnceLock<super::domains::DomainOwners>,
}

/// The objects of the tree the tenant index reads.
pub(crate) struct TenancyObjects<'a> {
    /// (name, root, whether the platform deploys it) of every `v1` Namespace.
    pub namespaces: Vec<(&'a str, &'a Node, bool)>,
    /// (index, apiVersion, kind, namespace, name, root) of the tenancy kinds (Capsule Tenant,
    /// SubnamespaceAnchor, HierarchyConfiguration, HNCConfiguration, AppProject).
    pub others: Vec<TenancyObject<'a>>,
}

pub(crate) struct TenancyObject<'a> {
    pub index: usize,
    pub api_version: &'a str,
    pub kind: &'a str,
    pub namespace: Option<&'a str>,
    pub name: &'a str,
    pub root: &'a Node,
}

/// Kinds the tenant index reads besides Namespaces.
pub(crate) const TENANCY_KINDS: [&str; 5] =
    ["Tenant", "SubnamespaceAnchor", "HierarchyConfiguration", "HNCConfiguration", "AppProject"];

/// Ancestors followed at most (a cycle of HierarchyConfigurations must end).
const MAX_DEPTH: usize = 64;

fn strings(node: Option<&Node>) -> impl Iterator<Item = &str> {
    node.and_then(Node::as_seq).unwrap_or(&[]).iter().filter_map(Node::as_str)
}

/// Items of a Capsule list field: `spec.x.items` (v1beta2, v1beta1) or `spec.x` (v1alpha1).
fn capsule_items<'a>(spec: &'a Node, field: &str) -> &'a [Node] {
    let Some(node) = spec.get(field) else { return &[] };
    node.as_seq().or_else(|| node.get("items").and_then(Node::as_seq)).unwrap_or(&[])
}

/// Directions a NetworkPolicy spec denies for every pod of its namespace: (ingress, egress).
///
/// It denies a direction by default when it selects every pod (`podSelector: {}`), lists the
/// direction in `policyTypes` (Ingress is implied when `policyTypes` is absent), and has no rule
/// for it.
#[must_use]
pub fn denies_by_default(spec: &Node) -> (bool, bool) {
    let selects_all = match spec.get("podSelector") {
        None => false,
        Some(sel) => match &sel.value {
            Value::Null => true,
            Value::Map(_) => ["matchLabels", "matchExpressions"]
                .iter()
                .all(|k| sel.get(k).is_none_or(Node::is_empty)),
            _ => false,
        },
    };
    if !selects_all {
        return (false, false);
    }
    let types: Vec<&str> = match spec.get("policyTypes").and_then(Node::as_seq) {
        Some(items) => items.iter().filter_map(Node::as_str).collect(),
        None if spec.get("egress").is_some() => vec!["Ingress", "Egress"],
        None => vec!["Ingress"],
    };
    let ingress = types.contains(&"Ingress") && spec.get("ingress").is_none_or(Node::is_empty);
    let egress = types.contains(&"Egress") && spec.get("egress").is_none_or(Node::is_empty);
    (ingress, egress)
}

impl TenantIndex {
    /// The first tenant (in name order) other than `except` whose domains allow `host`.
    #[must_use]
    pub fn domain_owner(&self, host: &str, except: &str) -> Option<&Tenant> {
        self.domain_owners
            .get_or_init(|| super::domains::DomainOwners::new(self))
            .owner(self, host, except)
    }

    pub(crate) fn build(config: &Config, objects: &TenancyObjects<'_>) -> Self {
        let tenancy = &config.tenancy;
        let labels: Vec<&str> = match &tenancy.tenant_label {
            Some(l) => vec![l.as_str()],
            None => DEFAULT_TENANT_LABELS.to_vec(),
        };
        let mut index = TenantIndex::default();
        for (name, tc) in &config.tenants {
            let tenant = index.tenant_mut(name);
            tenant.node_pool.clone_from(&tc.node_pool);
            tenant.domains =
                AllowList::globs(tc.domains.iter().map(|d| d.replace("{tenant}", name)));
            tenant.registries =
                AllowList::globs(tc.registries.iter().map(|d| d.replace("{tenant}", name)));
            tenant.sources.extend(tc.sources.iter().map(|d| d.replace("{tenant}", name)));
            for ns in &tc.namespaces {
                index.assign(config, ns, name);
            }
        }
        let of = |kind: &'static str, group: &'static str| {
            objects
                .others
                .iter()
                .filter(move |o| o.kind == kind && o.api_version.starts_with(group))
        };
        for t in of("Tenant", "capsule.clastix.io/") {
            index.capsule_tenant(config, t);
        }
        for &(name, root, platform) in &objects.namespaces {
            if platform {
                continue;
            }
            let Some(ns_labels) = root.at(&["metadata", "labels"]) else { continue };
            let Some(tenant_name) =
                labels.iter().find_map(|l| ns_labels.get(l).and_then(Node::as_str))
            else {
                continue;
            };
            if !index.assign(config, name, tenant_name) {
                continue;
            }
            let pool =
                ns_labels.get(&tenancy.node_pool_label).and_then(Node::as_str).map(String::from);
            let tenant = index.tenant_mut(tenant_name);
            if tenant.node_pool.is_none() {
                tenant.node_pool = pool;
            }
        }
        index.hierarchy(config, objects);
        if tenancy.argo_projects {
            for project in of("AppProject", "argoproj.io/").filter(|p| p.name != "default") {
                let spec = project.root.get("spec");
                let destinations = spec.and_then(|s| s.get("destinations")).and_then(Node::as_seq);
                for ns in destinations
                    .unwrap_or(&[])
                    .iter()
                    .filter_map(|d| d.get("namespace").and_then(Node::as_str))
                    .filter(|ns| !ns.contains(['*', '?', '!', '[']))
                {
                    index.assign(config, ns, project.name);
                }
                let tenant = index.tenant_mut(project.name);
                if tenant.sources.is_empty() {
                    let repos = strings(spec.and_then(|s| s.get("sourceRepos")));
                    tenant.sources = repos.map(String::from).collect();
                }
            }
        }
        // Tenants without their own lists take the tenancy-wide ones, `{tenant}` expanded.
        let expand = |list: &[String], name: &str| -> Vec<String> {
            list.iter().map(|d| d.replace("{tenant}", name)).collect()
        };
        for (name, tenant) in &mut index.tenants {
            if tenant.domains.is_empty() {
                tenant.domains = AllowList::globs(expand(&tenancy.domains, name));
            }
            if tenant.registries.is_empty() {
                tenant.registries = AllowList::globs(expand(&tenancy.registries, name));
            }
            if tenant.sources.is_empty() {
                tenant.sources = expand(&tenancy.sources, name);
            }
        }
        index
    }

    /// Makes `namespace` a namespace of `tenant`, unless it is a platform namespace or already
    /// has a tenant; whether it did.
    fn assign(&mut self, config: &Config, namespace: &str, tenant: &str) -> bool {
        let platform = config.tenancy.platform_namespaces.iter().any(|p| p == namespace);
        if platform || self.namespace_tenant.contains_key(namespace) {
            return false;
        }
        self.tenant_mut(tenant).namespaces.insert(namespace.to_string());
        self.namespace_tenant.insert(namespace.to_string(), tenant.to_string());
        true
    }

    /// A Capsule `Tenant` (v1beta2 and v1beta1; v1alpha1's bare lists and `ingressHostnames`
    /// too).
    fn capsule_tenant(&mut self, config: &Config, object: &TenancyObject<'_>) {
        let Some(spec) = object.root.get("spec") else {
            self.tenant_mut(object.name);
            return;
        };
        let mut provides = Provided::default();
        for policy in capsule_items(spec, "networkPolicies") {
            let (ingress, egress) = denies_by_default(policy);
            provides.deny_ingress |= ingress;
            provides.deny_egress |= egress;
        }
        provides.quota = !capsule_items(spec, "resourceQuotas").is_empty();
        provides.limit_range = !capsule_items(spec, "limitRanges").is_empty();
        let selector: BTreeMap<String, String> = spec
            .get("nodeSelector")
            .and_then(Node::as_map)
            .unwrap_or(&[])
            .iter()
            .filter_map(|e| Some((e.key.as_str().to_owned(), e.value.as_str()?.to_string())))
            .collect();
        let hostnames = spec
            .at(&["ingressOptions", "allowedHostnames"])
            .or_else(|| spec.get("ingressHostnames"));
        let registries = spec.get("containerRegistries");
        // An expression that does not compile is an error at its line, never a silently
        // shorter allow-list.
        let mut problems = Vec::new();
        let mut regex = |node: Option<&Node>| {
            let node = node.and_then(|n| n.get("allowedRegex"))?;
            let pattern = node.as_str().filter(|r| !r.is_empty())?;
            match regex::RegexBuilder::new(pattern).size_limit(1 << 20).build() {
                Ok(re) => Some(re),
                Err(e) => {
                    let message =
                        format!("Capsule Tenant `{}`: allowedRegex `{pattern}`: {e}", object.name);
                    problems.push((object.index, node.span.start(), message));
                    None
                }
            }
        };
        let mut domains: Vec<Allowed> = strings(hostnames.and_then(|h| h.get("allowed")))
            .map(|h| Allowed::Exact(h.to_string()))
            .collect();
        domains.extend(regex(hostnames).map(Allowed::Regex));
        let mut images: Vec<Allowed> = strings(registries.and_then(|r| r.get("allowed")))
            .map(|r| Allowed::Registry(r.to_string()))
            .collect();
        images.extend(regex(registries).map(Allowed::RegistryRegex));
        self.problems.append(&mut problems);
        let tenant = self.tenant_mut(object.name);
        tenant.provides = provides;
        if let Some(pool) = selector.get(&config.tenancy.node_pool_key) {
            tenant.node_pool = Some(pool.clone());
        }
        tenant.injected_node_selector = selector;
        tenant.domains.0.extend(domains);
        tenant.registries.0.extend(images);
    }

    /// HNC: parents of subnamespaces, their tenants, and what propagates.
    fn hierarchy(&mut self, config: &Config, objects: &TenancyObjects<'_>) {
        let hnc = |o: &&TenancyObject<'_>| o.api_version.starts_with("hnc.x-k8s.io/");
        for o in objects.others.iter().filter(hnc) {
            match o.kind {
                "SubnamespaceAnchor" => {
                    if let Some(parent) = o.namespace {
                        self.parents.insert(o.name.to_string(), parent.to_string());
                        self.anchors.insert(o.name.to_string(), o.index);
                    }
                }
                "HierarchyConfiguration" => {
                    let parent = o.root.at(&["spec", "parent"]).and_then(Node::as_str);
                    if let (Some(child), Some(parent)) = (o.namespace, parent) {
                        self.parents.insert(child.to_string(), parent.to_string());
                    }
                }
                "HNCConfiguration" => {
                    let resources = o.root.at(&["spec", "resources"]).and_then(Node::as_seq);
                    for r in resources.unwrap_or(&[]) {
                        let mode = r.get("mode").and_then(Node::as_str);
                        let resource = r.get("resource").and_then(Node::as_str);
                        if let (Some("Propagate"), Some(resource)) = (mode, resource) {
                            let group = r.get("group").and_then(Node::as_str).unwrap_or("");
                            self.propagated.insert((group.to_string(), resource.to_string()));
                        }
                    }
                }
                _ => {}
            }
        }
        let children: Vec<String> = self.parents.keys().cloned().collect();
        for child in children {
            let tenant = self.ancestors(&child).find_map(|a| self.namespace_tenant.get(a).cloned());
            if let Some(tenant) = tenant {
                self.assign(config, &child, &tenant);
            }
        }
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

    /// HNC ancestors of a namespace, nearest first (not the namespace itself).
    pub fn ancestors<'a>(&'a self, namespace: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let mut current = namespace;
        (0..MAX_DEPTH).map_while(move |_| {
            let parent = self.parents.get(current)?;
            current = parent;
            Some(parent.as_str())
        })
    }

    /// Whether HNC copies objects of this group and resource from parents into children.
    #[must_use]
    pub fn propagates(&self, group: &str, resource: &str) -> bool {
        (group == "rbac.authorization.k8s.io" && matches!(resource, "roles" | "rolebindings"))
            || self.propagated.contains(&(group.to_string(), resource.to_string()))
    }

    /// The `SubnamespaceAnchor` (object index) that creates a namespace, if one does.
    #[must_use]
    pub fn anchor_of(&self, namespace: &str) -> Option<usize> {
        self.anchors.get(namespace).copied()
    }

    /// Every tenant namespace with its tenant, in name order.
    pub fn tenant_namespaces(&self) -> impl Iterator<Item = (&str, &Tenant)> {
        self.tenants.values().flat_map(|t| t.namespaces.iter().map(move |ns| (ns.as_str(), t)))
    }
}
