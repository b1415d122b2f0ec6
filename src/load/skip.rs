//! Files that are read (or found) but hold no Kubernetes object to lint, and why.
//!
//! Exit code 2 means "something is broken", so normal repository content that is simply not a
//! manifest — an empty placeholder, a CI config, a kustomize patch, a Helm chart's templates —
//! is skipped and counted by reason, never an error.

use std::path::{Path, PathBuf};

use super::discover::Candidate;

/// Why a file was not linted as objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    /// Empty, or only comments and document markers (Flux's bootstrap placeholders).
    Empty,
    /// No document is a Kubernetes object: a values file, a CI config, a top-level list.
    NotKubernetes,
    /// A kustomization file, or a patch a kustomization names.
    Kustomize,
    /// A source file of a Helm chart (templates, values); charts are not rendered yet.
    HelmChart,
    /// A Jinja or Go template outside a chart (an Ansible role's `templates/`) that is not YAML
    /// until rendered.
    Template,
}

impl SkipReason {
    /// Every reason, in the order summaries list them.
    pub const ALL: [SkipReason; 5] = [
        SkipReason::Empty,
        SkipReason::NotKubernetes,
        SkipReason::Kustomize,
        SkipReason::HelmChart,
        SkipReason::Template,
    ];

    /// The key in JSON summaries and `--stats`.
    #[must_use]
    pub fn key(self) -> &'static str {
        match self {
            SkipReason::Empty => "empty",
            SkipReason::NotKubernetes => "not-kubernetes",
            SkipReason::Kustomize => "kustomize",
            SkipReason::HelmChart => "helm-chart",
            SkipReason::Template => "template",
        }
    }

    /// How a person reads it in a summary.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            SkipReason::Empty => "empty",
            SkipReason::NotKubernetes => "without Kubernetes objects",
            SkipReason::Kustomize => "kustomize configs or patches",
            SkipReason::HelmChart => "Helm chart sources",
            SkipReason::Template => "templates (Jinja or Go)",
        }
    }
}

/// A file that was not linted as objects.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SkippedFile {
    /// Path shown to the user.
    pub display: String,
    /// Absolute path (none for stdin).
    pub path: Option<PathBuf>,
    pub reason: SkipReason,
}

/// Whether text that failed to parse as YAML is a template: a line that starts with a Jinja or
/// Go template action (`{% for … %}`, `{{- if … }}`), or a Jinja statement anywhere. Template
/// expressions inside quoted values (`"{{ request.object.metadata.name }}"`) are valid YAML and
/// never get here.
#[must_use]
pub fn is_template(text: &str) -> bool {
    text.contains("{%")
        || text.lines().any(|l| {
            let l = l.trim_start();
            let l = l.strip_prefix("- ").unwrap_or(l).trim_start();
            l.starts_with("{{") || l.starts_with("{#")
        })
}

/// The chart directories among the candidates (those holding a `Chart.yaml`), and the
/// candidates split into files to read and chart sources. A chart's `crds/` directory holds
/// plain CRD manifests that Helm installs as they are: those files are read.
#[must_use]
pub fn split_charts(candidates: Vec<Candidate>) -> (Vec<Candidate>, Vec<Candidate>, Vec<PathBuf>) {
    let mut charts: Vec<PathBuf> = candidates
        .iter()
        .filter(|c| c.path.file_name().is_some_and(|n| n == "Chart.yaml"))
        .filter_map(|c| c.path.parent().map(Path::to_path_buf))
        .collect();
    charts.sort();
    charts.dedup();
    if charts.is_empty() {
        return (candidates, Vec::new(), charts);
    }
    let (sources, read): (Vec<Candidate>, Vec<Candidate>) =
        candidates.into_iter().partition(|c| is_chart_source(&c.path, &charts));
    (read, sources, charts)
}

/// Whether a file belongs to a chart and is not one of its CRDs (the nearest enclosing chart
/// decides: a subchart's `crds/` is read too).
fn is_chart_source(path: &Path, charts: &[PathBuf]) -> bool {
    let nearest =
        charts.iter().filter(|dir| path.starts_with(dir)).max_by_key(|d| d.as_os_str().len());
    nearest.is_some_and(|dir| !path.strip_prefix(dir).is_ok_and(|rel| rel.starts_with("crds")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(path: &str) -> Candidate {
        Candidate {
            path: PathBuf::from(path),
            display: path.trim_start_matches('/').into(),
            walked: true,
        }
    }

    #[test]
    fn templates_are_told_from_yaml_with_template_expressions_in_values() {
        assert!(is_template("spec:\n  blocks:\n    {% for c in pools %}\n    - cidr: x\n"));
        assert!(is_template("metadata:\n{{- include \"labels\" . | nindent 2 }}\n"));
        assert!(is_template("items:\n  - {{ item }}\n"));
        assert!(!is_template("message: \"{{ request.object.metadata.name }}\"\nkey: a: b\n"));
    }

    #[test]
    fn chart_sources_are_split_off_but_crds_are_read() {
        let files = [
            "/r/apps/web.yaml",
            "/r/charts/tenant/Chart.yaml",
            "/r/charts/tenant/values.yaml",
            "/r/charts/tenant/templates/deploy.yaml",
            "/r/charts/tenant/crds/crd.yaml",
            "/r/charts/tenant/charts/sub/Chart.yaml",
            "/r/charts/tenant/charts/sub/crds/sub-crd.yaml",
            "/r/charts/tenant/charts/sub/templates/x.yaml",
            "/r/charts/tenantx/ns.yaml",
        ];
        let (read, sources, charts) = split_charts(files.iter().map(|f| candidate(f)).collect());
        let paths = |c: &[Candidate]| {
            c.iter().map(|c| c.path.to_string_lossy().into_owned()).collect::<Vec<_>>()
        };
        assert_eq!(
            paths(&read),
            [
                "/r/apps/web.yaml",
                "/r/charts/tenant/crds/crd.yaml",
                "/r/charts/tenant/charts/sub/crds/sub-crd.yaml",
                "/r/charts/tenantx/ns.yaml"
            ]
        );
        assert_eq!(sources.len(), 5);
        assert_eq!(
            charts,
            [PathBuf::from("/r/charts/tenant"), PathBuf::from("/r/charts/tenant/charts/sub")]
        );
    }
}
