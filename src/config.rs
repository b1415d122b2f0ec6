//! The project config file, `.mtk-lint.yaml`: tenancy model, rule settings, excludes.
//!
//! Read through the span-keeping loader, so an unknown key or a wrong type names its line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::Problem;
use crate::finding::Severity;
use crate::load::source::Pos;
use crate::load::{de, Limits, Node};

/// Name of the config file looked up at the root of the first path.
pub const CONFIG_FILE_NAME: &str = ".mtk-lint.yaml";

/// The config as written in the file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    #[serde(default)]
    pub tenancy: Tenancy,
    /// Per-tenant settings, by tenant name.
    #[serde(default)]
    pub tenants: BTreeMap<String, TenantConfig>,
    /// Rule settings by code or name.
    #[serde(default)]
    pub rules: BTreeMap<String, RuleSetting>,
    /// Globs of files to skip, relative to the config file's directory.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// How Kyverno policies are applied.
    #[serde(default)]
    pub policies: PolicySettings,
    /// Findings accepted on purpose, each with its reason.
    #[serde(default)]
    pub exceptions: Vec<Exception>,
    /// Limits by key (`file-size: 32M`), as `--limit KEY=VALUE` sets them; the flag wins.
    #[serde(default)]
    pub limits: BTreeMap<String, String>,
    /// How build units are rendered.
    #[serde(default)]
    pub render: RenderSettings,
    /// Value sets of charts: each chart directory (relative to the config file) is rendered
    /// once more for each list of values files given (`charts: {charts/tenant:
    /// [values/prod.yaml]}`), besides its default values.
    #[serde(default)]
    pub charts: BTreeMap<PathBuf, Vec<PathBuf>>,
}

/// How build units are rendered (docs/RENDER.md).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RenderSettings {
    /// The `kustomize.buildOptions` of the Argo CD that deploys the tree (its `argocd-cm`), when
    /// the tree does not hold that ConfigMap: `--load-restrictor LoadRestrictionsNone`.
    pub argocd_kustomize_build_options: Option<String>,
    /// The options the kustomizations that nothing deploys are built with (as the repository's
    /// own `kustomize build` runs them): `--load-restrictor LoadRestrictionsNone`.
    pub kustomize_build_options: Option<String>,
    /// Where the charts of HelmReleases from chart repositories are: a directory of the `.tgz`
    /// files `helm pull` writes (relative to the config file).
    pub chart_cache: Option<std::path::PathBuf>,
}

/// A finding accepted on purpose: a rule, where (a path glob and/or a resource), and why.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exception {
    /// Rule code or name (or `policy/rule` for a Kyverno policy).
    pub rule: String,
    /// Glob of files, relative to the config file's directory.
    pub path: Option<String>,
    /// `Kind/namespace/name` or `Kind/name`; `*` and `?` allowed.
    pub resource: Option<String>,
    pub reason: String,
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PolicySettings {
    /// Where a policy finding's severity comes from: `action` (default) or `annotation`.
    #[serde(default)]
    pub severity: SeverityFrom,
}

/// Where a Kyverno policy finding's severity comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeverityFrom {
    /// `Enforce` → error, `Audit` → warning (per rule `failureAction`, else the policy's).
    #[default]
    Action,
    /// The `policies.kyverno.io/severity` annotation: critical/high → error, medium → warning,
    /// low/info → info; without it, as `action`.
    Annotation,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Tenancy {
    /// Namespace label naming its tenant. When unset, `toolkit.fluxcd.io/tenant`, then
    /// `mtk.io/tenant`, are tried.
    pub tenant_label: Option<String>,
    /// Namespace label naming the tenant's node pool.
    #[serde(default = "default_node_pool_label")]
    pub node_pool_label: String,
    /// nodeSelector / toleration key that pins pods to a pool.
    #[serde(default = "default_node_pool_key")]
    pub node_pool_key: String,
    /// Hosts a tenant may use; `{tenant}` expands to the tenant name.
    #[serde(default)]
    pub domains: Vec<String>,
    /// Source URLs (Git, OCI, Helm, buckets) a tenant may use; `{tenant}` expands; `*` globs.
    #[serde(default)]
    pub sources: Vec<String>,
    /// Container images a tenant may run (`registry.example.com/{tenant}/*`); `*` globs.
    #[serde(default)]
    pub registries: Vec<String>,
    /// Namespaces run by the platform team: never tenant namespaces.
    #[serde(default = "default_platform_namespaces")]
    pub platform_namespaces: Vec<String>,
    /// Each Argo CD AppProject (but `default`) is a tenant owning its destination namespaces.
    #[serde(default)]
    pub argo_projects: bool,
}

impl Default for Tenancy {
    fn default() -> Self {
        Tenancy {
            tenant_label: None,
            node_pool_label: default_node_pool_label(),
            node_pool_key: default_node_pool_key(),
            domains: Vec::new(),
            sources: Vec::new(),
            registries: Vec::new(),
            platform_namespaces: default_platform_namespaces(),
            argo_projects: false,
        }
    }
}

fn default_node_pool_label() -> String {
    "mtk.io/node-pool".into()
}

fn default_node_pool_key() -> String {
    "mtk.io/pool".into()
}

fn default_platform_namespaces() -> Vec<String> {
    ["flux-system", "kyverno", "ingress-nginx", "kube-system", "kube-public", "kube-node-lease"]
        .map(String::from)
        .to_vec()
}

/// Default namespace labels that name a tenant, tried in order (Flux's, mtk-lint's, Capsule's).
pub const DEFAULT_TENANT_LABELS: [&str; 3] =
    ["toolkit.fluxcd.io/tenant", "mtk.io/tenant", "capsule.clastix.io/tenant"];

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TenantConfig {
    #[serde(default)]
    pub namespaces: Vec<String>,
    pub node_pool: Option<String>,
    #[serde(default)]
    pub domains: Vec<String>,
    #[serde(default)]
    pub sources: Vec<String>,
    #[serde(default)]
    pub registries: Vec<String>,
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSetting {
    pub severity: Option<Severity>,
    pub enabled: Option<bool>,
}

/// `charts:`: every key a chart directory (with a `Chart.yaml`) and every value a list of
/// files, relative to the config file; an error at the line of the first that is not.
fn check_charts(root: &Node, display: &str, base_dir: &Path) -> Result<(), Problem> {
    let error = |at: Pos, message: String| Problem::new(display, Some(at), message);
    let Some(entries) = root.get("charts").and_then(Node::as_map) else { return Ok(()) };
    for entry in entries {
        if !base_dir.join(&*entry.key).join("Chart.yaml").is_file() {
            let message = format!("config: charts: `{}` is not a chart directory", entry.key);
            return Err(error(entry.key_span.start(), message));
        }
        let files = entry.value.as_seq().unwrap_or(&[]);
        if files.is_empty() {
            let message = format!("config: charts: `{}` names no values files", entry.key);
            return Err(error(entry.key_span.start(), message));
        }
        for file in files {
            let name = file.as_str().unwrap_or("");
            if !base_dir.join(name).is_file() {
                let message = format!("config: charts: values file `{name}` is not a file");
                return Err(error(file.span.start(), message));
            }
        }
    }
    Ok(())
}

/// A config together with where it came from.
#[derive(Debug, Default, Clone)]
pub struct LoadedConfig {
    pub config: Config,
    /// Directory that relative paths in the config resolve against.
    pub base_dir: PathBuf,
    /// Absolute path of the file, when one was read.
    pub path: Option<PathBuf>,
    /// Display path of the file, when one was read.
    pub file: Option<String>,
    /// Position of each key under `rules:`, to point at unknown rule names.
    pub rule_positions: BTreeMap<String, Pos>,
    /// Where each exception's `rule` is written (in the order of `config.exceptions`).
    pub exception_spans: Vec<crate::load::source::Span>,
    /// The file's text, for findings about the config itself (an exception that matched
    /// nothing).
    pub source: Option<std::sync::Arc<crate::load::source::SourceFile>>,
}

/// Reads a config file. Errors carry the file and line.
pub fn load_file(path: &Path, display: &str) -> Result<LoadedConfig, Problem> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Problem::new(display, None, format!("cannot read config: {e}")))?;
    let mut loaded = parse(&text, display, path.parent().unwrap_or(Path::new(".")))?;
    loaded.path = Some(path.to_path_buf());
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    loaded.source = Some(std::sync::Arc::new(crate::load::source::SourceFile::new(
        display.to_string(),
        Some(path.to_path_buf()),
        text.into(),
    )));
    Ok(loaded)
}

/// Parses config text.
pub fn parse(text: &str, display: &str, base_dir: &Path) -> Result<LoadedConfig, Problem> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut parsed = crate::load::yaml::parse_stream(text, &Limits::default());
    if let Some(p) = parsed.problems.first() {
        return Err(Problem::new(display, Some(p.pos), format!("config: {}", p.message)));
    }
    if parsed.documents.len() > 1 {
        return Err(Problem::new(display, None, "config: expected one YAML document"));
    }
    let root = parsed.documents.pop().map_or(
        Node { span: crate::load::source::Span::default(), value: crate::load::Value::Null },
        |d| d.root,
    );
    let config: Config = if root.is_null() {
        Config::default()
    } else {
        de::from_node(&root)
            .map_err(|e| Problem::new(display, e.pos, format!("config: {}", e.message)))?
    };
    if let Some(list) = root.get("exceptions").and_then(Node::as_seq) {
        for (entry, exception) in list.iter().zip(&config.exceptions) {
            if exception.reason.trim().is_empty() {
                return Err(Problem::new(
                    display,
                    Some(entry.span.start()),
                    "config: an exception needs a non-empty `reason`",
                ));
            }
            if exception.path.is_none() && exception.resource.is_none() {
                return Err(Problem::new(
                    display,
                    Some(entry.span.start()),
                    "config: an exception needs a `path` or a `resource`",
                ));
            }
        }
    }
    if let Some(entries) = root.get("limits").and_then(Node::as_map) {
        let mut limits = Limits::default();
        for entry in entries {
            let value = config.limits.get(&*entry.key).map_or("", String::as_str);
            if let Err(message) = limits.set(&entry.key, value) {
                return Err(Problem::new(
                    display,
                    Some(entry.key_span.start()),
                    format!("config: {message}"),
                ));
            }
        }
    }
    let render = &config.render;
    for (key, value) in [
        ("argocdKustomizeBuildOptions", &render.argocd_kustomize_build_options),
        ("kustomizeBuildOptions", &render.kustomize_build_options),
    ] {
        let (Some(node), Some(text)) = (root.at(&["render", key]), value) else { continue };
        if let Err(message) = crate::render::argo::BuildOptions::parse(text) {
            return Err(Problem::new(
                display,
                Some(node.span.start()),
                format!("config: render.{key}: {message}"),
            ));
        }
    }
    check_charts(&root, display, base_dir)?;
    let exception_spans = root
        .get("exceptions")
        .and_then(Node::as_seq)
        .unwrap_or(&[])
        .iter()
        .map(|e| e.get("rule").map_or(e.span, |r| r.span))
        .collect();
    let rule_positions = root
        .get("rules")
        .and_then(Node::as_map)
        .map(|entries| {
            entries.iter().map(|e| (e.key.as_str().to_owned(), e.key_span.start())).collect()
        })
        .unwrap_or_default();
    Ok(LoadedConfig {
        config,
        base_dir: base_dir.to_path_buf(),
        file: Some(display.to_string()),
        path: None,
        rule_positions,
        exception_spans,
        source: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_example_parses() {
        let text = r#"
tenancy:
  tenantLabel: mtk.io/tenant
  nodePoolLabel: mtk.io/node-pool
  nodePoolKey: mtk.io/pool
  domains: ["*.{tenant}.apps.example.com"]
  platformNamespaces: [flux-system, kyverno, ingress-nginx, kube-system]
rules:
  MTK-SEC-004: {severity: warning}
  MTK-NET-002: {enabled: false}
exclude: ["clusters/**/flux-system/gotk-components.yaml"]
"#;
        let c = parse(text, ".mtk-lint.yaml", Path::new("/repo")).unwrap();
        assert_eq!(c.config.tenancy.tenant_label.as_deref(), Some("mtk.io/tenant"));
        assert_eq!(c.config.rules["MTK-SEC-004"].severity, Some(Severity::Warning));
        assert_eq!(c.config.rules["MTK-NET-002"].enabled, Some(false));
        assert_eq!(c.config.exclude.len(), 1);
        assert_eq!(c.rule_positions["MTK-NET-002"], Pos { line: 10, col: 2 });
    }

    #[test]
    fn unknown_keys_are_errors_with_lines() {
        let err = parse("tenancy:\n  tenantLabels: x\n", "c.yaml", Path::new(".")).unwrap_err();
        assert_eq!((err.line, err.column), (Some(2), Some(3)));
        assert!(err.message.contains("unknown field `tenantLabels`"), "{}", err.message);
    }

    #[test]
    fn wrong_types_are_errors_with_lines() {
        let err = parse("rules:\n  MTK-SEC-001: {severity: fatal}\n", "c.yaml", Path::new("."))
            .unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(err.message.contains("unknown variant `fatal`"), "{}", err.message);
        let err = parse("exclude: nope\n", "c.yaml", Path::new(".")).unwrap_err();
        assert_eq!(err.line, Some(1));
    }
}
