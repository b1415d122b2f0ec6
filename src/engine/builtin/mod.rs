//! Built-in rules: Rust templates instantiated from the data in `rules/<name>/rule.yaml`.
//!
//! A rule folder holds `rule.yaml` (code, name, severity, template and its parameters),
//! `README.md` (the rule's documentation) and its test fixtures. The folders are embedded in the
//! binary by [`RULE_FOLDERS`]; a consistency test checks it lists every folder of `rules/`.

mod argo_app_scope;
mod argo_project_wildcards;
mod cross_tenant_ingress;
mod duplicate_host;
mod duplicate_object;
mod flux_cross_namespace_ref;
mod flux_missing_service_account;
mod foreign_ingress_host;
mod foreign_node_pool;
mod foreign_rolebinding_subject;
mod host_namespaces;
mod host_path_volume;
mod missing_default_deny;
mod missing_node_pool_pinning;
mod missing_quota;
mod missing_resource_limits;
mod node_port_service;
mod out_of_tenant_object;
mod plaintext_secret;
pub mod pod;
mod pod_security_baseline;
mod privileged_container;
mod rbac_escalation;
mod source_not_allowed;
mod unpinned_image;
mod unused_suppression;

/// Code of the unused-suppression rule, whose findings eval makes after every other rule ran.
pub const UNUSED_SUPPRESSION: &str = "MTK-GEN-002";

use serde::Deserialize;

use super::{Rule, RuleMeta};
use crate::finding::Severity;
use crate::load::{de, Limits, Node};

/// An embedded rule folder.
pub struct RuleFolder {
    pub dir: &'static str,
    pub rule_yaml: &'static str,
    pub readme: &'static str,
}

macro_rules! rule_folders {
    ($($dir:literal),* $(,)?) => {
        /// Every folder of `rules/`, embedded.
        pub const RULE_FOLDERS: &[RuleFolder] = &[$(RuleFolder {
            dir: $dir,
            rule_yaml: include_str!(concat!("../../../rules/", $dir, "/rule.yaml")),
            readme: include_str!(concat!("../../../rules/", $dir, "/README.md")),
        }),*];
    };
}

rule_folders![
    "argo-app-scope",
    "argo-project-wildcards",
    "cross-tenant-ingress-allowed",
    "duplicate-host",
    "duplicate-object",
    "flux-cross-namespace-ref",
    "flux-missing-service-account",
    "foreign-ingress-host",
    "foreign-node-pool",
    "foreign-rolebinding-subject",
    "host-namespaces",
    "host-path-volume",
    "missing-default-deny",
    "missing-node-pool-pinning",
    "missing-quota",
    "missing-resource-limits",
    "node-port-service",
    "out-of-tenant-object",
    "plaintext-secret",
    "pod-security-baseline",
    "privileged-container",
    "rbac-escalation",
    "source-not-allowed",
    "unpinned-image",
    "unused-suppression",
];

type Instantiate = fn(RuleMeta, Option<&Node>) -> Result<Box<dyn Rule>, de::DeError>;

/// The Rust templates a `rule.yaml` can name.
pub const TEMPLATES: &[(&str, Instantiate)] = &[
    ("argo-app-scope", argo_app_scope::instantiate),
    ("argo-project-wildcards", argo_project_wildcards::instantiate),
    ("cross-tenant-ingress-allowed", cross_tenant_ingress::instantiate),
    ("duplicate-host", duplicate_host::instantiate),
    ("duplicate-object", duplicate_object::instantiate),
    ("flux-cross-namespace-ref", flux_cross_namespace_ref::instantiate),
    ("flux-missing-service-account", flux_missing_service_account::instantiate),
    ("foreign-ingress-host", foreign_ingress_host::instantiate),
    ("foreign-node-pool", foreign_node_pool::instantiate),
    ("foreign-rolebinding-subject", foreign_rolebinding_subject::instantiate),
    ("host-namespaces", host_namespaces::instantiate),
    ("host-path-volume", host_path_volume::instantiate),
    ("missing-default-deny", missing_default_deny::instantiate),
    ("missing-node-pool-pinning", missing_node_pool_pinning::instantiate),
    ("missing-quota", missing_quota::instantiate),
    ("missing-resource-limits", missing_resource_limits::instantiate),
    ("node-port-service", node_port_service::instantiate),
    ("out-of-tenant-object", out_of_tenant_object::instantiate),
    ("plaintext-secret", plaintext_secret::instantiate),
    ("pod-security-baseline", pod_security_baseline::instantiate),
    ("privileged-container", privileged_container::instantiate),
    ("rbac-escalation", rbac_escalation::instantiate),
    ("source-not-allowed", source_not_allowed::instantiate),
    ("unpinned-image", unpinned_image::instantiate),
    ("unused-suppression", unused_suppression::instantiate),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RuleFile {
    code: String,
    name: String,
    severity: Severity,
    template: String,
    summary: String,
    help: String,
    #[serde(default = "yes")]
    enabled_by_default: bool,
    #[serde(default)]
    #[allow(dead_code, reason = "read by the template from the node itself")]
    params: Option<serde::de::IgnoredAny>,
}

fn yes() -> bool {
    true
}

/// Instantiates one rule folder.
pub fn instantiate(folder: &RuleFolder) -> Result<Box<dyn Rule>, String> {
    let where_ = format!("rules/{}/rule.yaml", folder.dir);
    let mut parsed = crate::load::yaml::parse_stream(folder.rule_yaml, &Limits::default());
    if let Some(p) = parsed.problems.first() {
        return Err(format!("{where_}:{}: {}", p.pos.line, p.message));
    }
    let root = parsed.documents.pop().ok_or_else(|| format!("{where_}: empty"))?.root;
    let at = |e: de::DeError| format!("{where_}:{}: {}", e.pos.map_or(0, |p| p.line), e.message);
    let file: RuleFile = de::from_node(&root).map_err(at)?;
    let meta = RuleMeta {
        code: file.code,
        name: file.name,
        severity: file.severity,
        summary: file.summary,
        help: file.help,
        enabled_by_default: file.enabled_by_default,
        docs: folder.readme,
    };
    let (_, make) = TEMPLATES
        .iter()
        .find(|(name, _)| *name == file.template)
        .ok_or_else(|| format!("{where_}: unknown template `{}`", file.template))?;
    make(meta, root.get("params")).map_err(at)
}

/// Every built-in rule, in catalogue order (by code).
pub fn all() -> Result<Vec<Box<dyn Rule>>, String> {
    let mut rules = RULE_FOLDERS.iter().map(instantiate).collect::<Result<Vec<_>, _>>()?;
    rules.sort_by(|a, b| a.meta().code.cmp(&b.meta().code));
    Ok(rules)
}

/// The rule struct and `instantiate` function every template shares.
macro_rules! template_rule {
    ($name:ident) => {
        struct $name {
            meta: $crate::engine::RuleMeta,
            params: Params,
        }

        pub(super) fn instantiate(
            meta: $crate::engine::RuleMeta,
            params: Option<&$crate::load::Node>,
        ) -> Result<Box<dyn $crate::engine::Rule>, $crate::load::de::DeError> {
            Ok(Box::new($name { meta, params: super::params(params)? }))
        }
    };
}
pub(crate) use template_rule;

/// Declares a per-object template: `$name` holds the rule's metadata and typed `Params`,
/// `instantiate` reads the parameters, and the `Rule` impl calls `check` for objects of `KINDS`.
/// A rule file then holds only its parameters, its kinds and its check.
macro_rules! object_template {
    ($name:ident) => {
        $crate::engine::builtin::template_rule!($name);

        impl $crate::engine::Rule for $name {
            fn meta(&self) -> &$crate::engine::RuleMeta {
                &self.meta
            }

            fn scope(&self) -> $crate::engine::RuleScope {
                $crate::engine::RuleScope::Object
            }

            fn kinds(&self) -> &[&str] {
                KINDS
            }

            fn check_object(
                &self,
                cx: &$crate::engine::Context<'_>,
                object: &$crate::inventory::Object,
                sink: &mut $crate::engine::Sink,
            ) {
                check(&self.params, cx, object, sink);
            }
        }
    };
}
pub(crate) use object_template;

/// The same for a whole-tree template: the module defines `Params` and
/// `fn check(&Params, &Context, &mut Sink)`, which sees the whole inventory at once.
macro_rules! tree_template {
    ($name:ident) => {
        $crate::engine::builtin::template_rule!($name);

        impl $crate::engine::Rule for $name {
            fn meta(&self) -> &$crate::engine::RuleMeta {
                &self.meta
            }

            fn scope(&self) -> $crate::engine::RuleScope {
                $crate::engine::RuleScope::Tree
            }

            fn check_tree(
                &self,
                cx: &$crate::engine::Context<'_>,
                sink: &mut $crate::engine::Sink,
            ) {
                check(&self.params, cx, sink);
            }
        }
    };
}
pub(crate) use tree_template;

/// Reads a template's parameters (absent parameters take their defaults).
fn params<'a, T: Deserialize<'a> + Default>(node: Option<&'a Node>) -> Result<T, de::DeError> {
    match node {
        Some(n) if !n.is_null() => de::from_node(n),
        _ => Ok(T::default()),
    }
}
