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

/// How many files were skipped for each reason, in summary order; reasons with none are left
/// out.
pub fn count_by_reason(reasons: impl IntoIterator<Item = SkipReason>) -> Vec<(SkipReason, usize)> {
    let mut counts = [0; SkipReason::ALL.len()];
    for reason in reasons {
        if let Some(i) = SkipReason::ALL.iter().position(|&r| r == reason) {
            counts[i] += 1;
        }
    }
    SkipReason::ALL.into_iter().zip(counts).filter(|&(_, n)| n > 0).collect()
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

/// Whether a file that failed to parse is a template rather than broken YAML: the line the
/// parser stopped at holds a Jinja or Go template action outside a comment (`{% for … %}`,
/// `{# … #}`, `{{ .Values.x }}`). Template expressions inside quoted values
/// (`"{{ request.object.metadata.name }}"`) are valid YAML and never get here; a marker
/// elsewhere in the file (a comment, a block scalar of alert templates) does not make a broken
/// file a template.
#[must_use]
pub fn is_template(text: &str, problem_line: u32) -> bool {
    let Some(line) = text.lines().nth((problem_line as usize).saturating_sub(1)) else {
        return false;
    };
    let code = line.trim_start();
    if code.starts_with('#') {
        return false;
    }
    let code = code.find(" #").map_or(code, |at| &code[..at]);
    ["{{", "{%", "{#"].iter().any(|marker| code.contains(marker))
}

/// The chart directories among the candidates (those holding a `Chart.yaml`), and the
/// candidates split into files to read and chart sources (what Helm reads: see
/// [`is_chart_source`]). A chart's `crds/` directory holds plain CRD manifests that Helm
/// installs as they are: those files are read.
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

/// Whether a file is a source Helm reads of the nearest enclosing chart: `Chart.yaml`, the
/// values files and schema, and everything under `templates/` and `charts/` (subcharts have
/// their own `Chart.yaml`, so their `crds/` are read too). Other files beside a chart (a
/// `Chart.yaml` at a repository's root, say) are linted as usual.
fn is_chart_source(path: &Path, charts: &[PathBuf]) -> bool {
    let nearest =
        charts.iter().filter(|dir| path.starts_with(dir)).max_by_key(|d| d.as_os_str().len());
    let Some(relative) = nearest.and_then(|dir| path.strip_prefix(dir).ok()) else { return false };
    let mut parts = relative.components().map(|c| c.as_os_str().to_string_lossy());
    match (parts.next(), parts.next()) {
        (Some(dir), Some(_)) => dir == "templates" || dir == "charts",
        (Some(file), None) => {
            matches!(
                &*file,
                "Chart.yaml"
                    | "Chart.lock"
                    | "requirements.yaml"
                    | "requirements.lock"
                    | "values.schema.json"
            ) || (file.starts_with("values")
                && [".yaml", ".yml", ".json"].iter().any(|e| file.ends_with(e)))
        }
        _ => false,
    }
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
        let jinja = "spec:\n  blocks:\n    {% for c in pools %}\n    - cidr: x\n";
        assert!(is_template(jinja, 3));
        assert!(is_template("metadata:\n{{- include \"labels\" . | nindent 2 }}\n", 2));
        assert!(is_template("items:\n  - {{ item }}\n", 2));
        assert!(is_template("metadata:\n  name: {{ .Release.Name }}\n", 2));
        assert!(!is_template("metadata:\n  name: x # {{ y }}\n", 2));
        // The marker must be where the parser stopped, outside a comment.
        assert!(!is_template(jinja, 1));
        assert!(!is_template("# rendered from {% raw %}\nkind: Pod\nkind: Pod\n", 3));
        assert!(!is_template("# {% raw %}\nkey: a: b\n", 2));
        let alert = "spec:\n  rules:\n  - annotations:\n      description: |\n        {{ $labels.instance }} down\n   bad: indent\n";
        assert!(
            !is_template(alert, 6),
            "a template line inside a block scalar, far from the error"
        );
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
            "/r/charts/tenant/values-prod.yaml",
            "/r/charts/tenant/examples/release.yaml",
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
                "/r/charts/tenantx/ns.yaml",
                "/r/charts/tenant/examples/release.yaml",
            ]
        );
        assert_eq!(sources.len(), 6, "Chart.yaml, two values files, three templates");
        assert_eq!(
            charts,
            [PathBuf::from("/r/charts/tenant"), PathBuf::from("/r/charts/tenant/charts/sub")]
        );
    }
}
