//! Flux HelmReleases as build units (docs/RENDER.md, "Helm releases"): where each one's chart
//! is — a directory of this tree (`spec.chart.spec.chart` in a GitRepository or Bucket that is
//! this repository, or `spec.chartRef` to a HelmChart of one), or an archive in the chart cache
//! (`--chart-cache`: the `.tgz` files `helm pull` writes) for a HelmRepository or OCIRepository
//! chart — and, when it is nowhere here, what to pull.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::load::{LoadedFile, Node};
use crate::render::tree::Tree;

/// Whether a document is a Flux HelmRelease.
pub(crate) fn is_release(api_version: &str, kind: &str) -> bool {
    kind == "HelmRelease" && api_version.starts_with("helm.toolkit.fluxcd.io/")
}

/// Which source of an Argo CD Application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AppSource {
    /// `spec.source`.
    Single,
    /// `spec.sources[i]`.
    Of(usize),
}

impl AppSource {
    /// The source in the Application `app`.
    pub(crate) fn of(self, app: &Node) -> Option<&Node> {
        match self {
            AppSource::Single => app.at(&["spec", "source"]),
            AppSource::Of(i) => app.at(&["spec", "sources"])?.as_seq()?.get(i),
        }
    }
}

/// The source of an Argo CD Application that is a chart of a chart repository (`chart:`, no
/// `path`).
pub(crate) fn argo_chart_source(app: &Node) -> Option<AppSource> {
    let text = |p: &[&str]| app.at(p).and_then(Node::as_str).unwrap_or("");
    if text(&["kind"]) != "Application" || !text(&["apiVersion"]).starts_with("argoproj.io/") {
        return None;
    }
    let is_chart = |s: &Node| s.get("chart").is_some() && s.get("path").is_none();
    if app.at(&["spec", "source"]).is_some_and(is_chart) {
        return Some(AppSource::Single);
    }
    let sources = app.at(&["spec", "sources"])?.as_seq()?;
    sources.iter().position(is_chart).map(AppSource::Of)
}

/// Where a release's chart is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ChartAt {
    /// A chart directory of the tree (absolute), and the root of the source its paths (such as
    /// `valuesFiles`) are relative to.
    Tree(PathBuf, PathBuf),
    /// A chart archive in the chart cache.
    Cache(PathBuf),
    /// Not here: what to pull, or why it cannot be read.
    Missing(String),
}

/// The Flux sources of the tree a HelmRelease's chart may come from.
#[derive(Debug, Default)]
pub(crate) struct ChartSources {
    /// GitRepositories and Buckets by (namespace, name): their URL.
    git: HashMap<(String, String), String>,
    /// The URL of the tree itself (the GitRepository `flux-system/flux-system`).
    own: Option<String>,
    /// HelmCharts by (namespace, name): their spec.
    helm_charts: HashMap<(String, String), serde_json::Value>,
    /// HelmRepositories and OCIRepositories by (kind, namespace, name): their spec.
    repositories: HashMap<(String, String, String), serde_json::Value>,
    cache: Option<PathBuf>,
}

fn normal(url: &str) -> String {
    url.trim_end_matches('/').trim_end_matches(".git").to_string()
}

impl ChartSources {
    /// The sources of the loaded files; `namespaces` are those kustomizations assign to each
    /// file (a source's namespace is the one the cluster gets it in).
    pub(crate) fn new(
        files: &[LoadedFile],
        namespaces: &[Option<String>],
        cache: Option<PathBuf>,
    ) -> ChartSources {
        let mut s = ChartSources { cache, ..ChartSources::default() };
        for (index, file) in files.iter().enumerate() {
            let assigned = namespaces.get(index).and_then(Option::as_deref);
            for doc in &file.documents {
                s.add(doc, assigned);
            }
        }
        s.own = s.git.get(&("flux-system".into(), "flux-system".into())).cloned();
        s
    }

    fn add(&mut self, doc: &crate::load::Document, assigned: Option<&str>) {
        let s = self;
        {
            let text = |p: &[&str]| doc.root.at(p).and_then(Node::as_str).unwrap_or("");
            if !text(&["apiVersion"]).starts_with("source.toolkit.fluxcd.io/") {
                return;
            }
            let ns = assigned.unwrap_or(text(&["metadata", "namespace"]));
            let key = (ns.to_string(), text(&["metadata", "name"]).to_string());
            let spec = doc.root.get("spec").map(Node::to_json).unwrap_or_default();
            match text(&["kind"]) {
                "GitRepository" => {
                    s.git.insert(key, normal(text(&["spec", "url"])));
                }
                "HelmChart" => {
                    s.helm_charts.insert(key, spec);
                }
                kind @ ("HelmRepository" | "OCIRepository") => {
                    s.repositories.insert((kind.into(), key.0, key.1), spec);
                }
                _ => {}
            }
        }
    }

    /// Whether a GitRepository is this tree: `Some(true)` for `flux-system` or one with the
    /// tree's URL, `Some(false)` for another URL, `None` when the tree does not say.
    pub(crate) fn is_tree(&self, namespace: &str, name: &str) -> Option<bool> {
        if name == "flux-system" {
            return Some(true);
        }
        let url = self.git.get(&(namespace.into(), name.into()))?;
        Some(self.own.as_ref()? == url)
    }

    /// Whether `url` is the tree's (its `flux-system` GitRepository's).
    pub(crate) fn is_own_url(&self, url: &str) -> bool {
        self.own.as_deref() == Some(normal(url).as_str())
    }

    /// Where the chart of `release` (a HelmRelease defined in `defined_in`) is.
    pub(crate) fn locate(&self, release: &Tree, defined_in: &Path, roots: &[PathBuf]) -> ChartAt {
        let text = |t: Option<&Tree>| t.and_then(Tree::as_str).unwrap_or("").to_string();
        let own_ns = text(release.at(&["metadata", "namespace"]));
        if let Some(r) = release.at(&["spec", "chartRef"]) {
            let (kind, name) = (text(r.get("kind")), text(r.get("name")));
            let ns = Some(text(r.get("namespace"))).filter(|n| !n.is_empty()).unwrap_or(own_ns);
            return match kind.as_str() {
                "HelmChart" => match self.helm_charts.get(&(ns.clone(), name.clone())) {
                    Some(spec) => self.chart_of(spec, &ns, defined_in, roots),
                    None => ChartAt::Missing(format!("HelmChart `{ns}/{name}` is not in the tree")),
                },
                "OCIRepository" => self.oci(&ns, &name),
                other => ChartAt::Missing(format!("chartRef kind `{other}` is not a chart source")),
            };
        }
        let spec = release.at(&["spec", "chart", "spec"]).map(Tree::to_json).unwrap_or_default();
        self.chart_of(&spec, &own_ns, defined_in, roots)
    }

    /// A chart template's spec (`chart`, `version`, `sourceRef`).
    fn chart_of(
        &self,
        spec: &serde_json::Value,
        own_ns: &str,
        defined_in: &Path,
        roots: &[PathBuf],
    ) -> ChartAt {
        let text = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
        let chart = text(&spec["chart"]);
        let version = text(&spec["version"]);
        let source = &spec["sourceRef"];
        let (kind, name) = (text(&source["kind"]), text(&source["name"]));
        let ns =
            Some(text(&source["namespace"])).filter(|n| !n.is_empty()).unwrap_or(own_ns.into());
        match kind.as_str() {
            "GitRepository" | "Bucket" => {
                let tree = if kind == "Bucket" { None } else { self.is_tree(&ns, &name) };
                if tree == Some(false) {
                    return ChartAt::Missing(format!(
                        "chart `{chart}` is in GitRepository `{ns}/{name}`, another repository"
                    ));
                }
                match resolve(&chart, defined_in, roots) {
                    Some((dir, root)) => ChartAt::Tree(dir, root),
                    None => ChartAt::Missing(format!(
                        "chart `{chart}` of {kind} `{ns}/{name}` is not a chart directory of the tree"
                    )),
                }
            }
            "HelmRepository" => {
                let url = self
                    .repositories
                    .get(&(kind.clone(), ns.clone(), name.clone()))
                    .map(|s| text(&s["url"]))
                    .unwrap_or_default();
                self.cached(&chart, &version).unwrap_or_else(|| {
                    let at = if url.is_empty() { String::new() } else { format!(" ({url})") };
                    let v = if version.is_empty() { String::new() } else { format!(" {version}") };
                    ChartAt::Missing(format!(
                        "chart `{chart}`{v} of HelmRepository `{ns}/{name}`{at} is not in the chart cache: `helm pull` it into --chart-cache"
                    ))
                })
            }
            other => ChartAt::Missing(format!("chart source kind `{other}` is not supported")),
        }
    }

    /// An OCIRepository's chart: the last part of its URL, at its tag (or semver range).
    fn oci(&self, ns: &str, name: &str) -> ChartAt {
        let key = ("OCIRepository".to_string(), ns.to_string(), name.to_string());
        let Some(spec) = self.repositories.get(&key) else {
            return ChartAt::Missing(format!("OCIRepository `{ns}/{name}` is not in the tree"));
        };
        let url = spec["url"].as_str().unwrap_or("");
        let chart = url.rsplit('/').next().unwrap_or("");
        let reference = &spec["ref"];
        let version =
            reference["tag"].as_str().or_else(|| reference["semver"].as_str()).unwrap_or("");
        self.cached(chart, version).unwrap_or_else(|| {
            ChartAt::Missing(format!(
                "chart `{chart}` {version} of OCIRepository `{ns}/{name}` ({url}) is not in the chart cache: `helm pull` it into --chart-cache"
            ))
        })
    }

    /// The newest `<chart>-<version>.tgz` of the cache whose version satisfies `constraint` (an
    /// exact version, a semver range, or empty for any).
    pub(crate) fn cached(&self, chart: &str, constraint: &str) -> Option<ChartAt> {
        use crate::render::gotemplate::sprig::semver;
        let dir = self.cache.as_ref()?;
        let mut best: Option<(String, PathBuf)> = None;
        for entry in std::fs::read_dir(dir).ok()?.flatten() {
            let file = entry.file_name();
            let Some(version) = file
                .to_str()
                .and_then(|f| f.strip_suffix(".tgz"))
                .and_then(|f| f.strip_prefix(chart))
                .and_then(|f| f.strip_prefix('-'))
            else {
                continue;
            };
            let fits = match constraint.trim() {
                "" | "*" => semver::compare(version, version).is_some(),
                c => {
                    version == c.trim_start_matches('v')
                        || semver::satisfies(c, version) == Ok(true)
                }
            };
            let newer = best.as_ref().is_none_or(|(b, _)| {
                semver::compare(version, b) == Some(std::cmp::Ordering::Greater)
            });
            if fits && newer {
                best = Some((version.to_string(), entry.path()));
            }
        }
        best.map(|(_, path)| ChartAt::Cache(path))
    }
}

/// A chart path of a source (relative to the source's root, which the tree does not name):
/// resolved against each directory above the release's file, then the linted roots; the
/// nearest that holds a `Chart.yaml` wins. Gives the chart and that root.
fn resolve(path: &str, defined_in: &Path, roots: &[PathBuf]) -> Option<(PathBuf, PathBuf)> {
    let rel = path.trim_start_matches("./");
    if rel.is_empty() || path.starts_with('/') {
        return None;
    }
    defined_in
        .ancestors()
        .skip(1)
        .chain(roots.iter().map(PathBuf::as_path))
        .map(|base| (crate::load::discover::normalize(&base.join(rel)), base.to_path_buf()))
        .find(|(d, _)| d.join("Chart.yaml").is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(yaml: &str) -> Tree<'static> {
        crate::render::tree::parse_trees(yaml).remove(0)
    }

    #[test]
    fn charts_are_found_in_the_tree_and_in_the_cache() {
        let dir = std::env::temp_dir().join(format!("mtk-releases-{}", std::process::id()));
        let chart = dir.join("repo/charts/tenant");
        std::fs::create_dir_all(&chart).unwrap();
        std::fs::write(chart.join("Chart.yaml"), "name: tenant\nversion: 1.0.0\n").unwrap();
        let cache = dir.join("cache");
        std::fs::create_dir_all(&cache).unwrap();
        for v in ["6.4.0", "6.5.1", "7.0.0"] {
            std::fs::write(cache.join(format!("podinfo-{v}.tgz")), b"").unwrap();
        }
        let sources = ChartSources { cache: Some(cache.clone()), ..ChartSources::default() };
        let file = dir.join("repo/tenants/alpha/release.yaml");
        let roots = [dir.join("repo")];
        let in_tree = release(
            "metadata: {namespace: alpha}\nspec:\n  chart:\n    spec:\n      chart: ./charts/tenant\n      sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}\n",
        );
        assert_eq!(
            sources.locate(&in_tree, &file, &roots),
            ChartAt::Tree(chart.clone(), dir.join("repo"))
        );
        let remote = |version: &str| {
            release(&format!(
                "metadata: {{namespace: alpha}}\nspec:\n  chart:\n    spec:\n      chart: podinfo\n      version: '{version}'\n      sourceRef: {{kind: HelmRepository, name: podinfo}}\n"
            ))
        };
        let at = |v: &str| sources.locate(&remote(v), &file, &roots);
        assert_eq!(at("6.x"), ChartAt::Cache(cache.join("podinfo-6.5.1.tgz")));
        assert_eq!(at("6.4.0"), ChartAt::Cache(cache.join("podinfo-6.4.0.tgz")));
        assert_eq!(at(""), ChartAt::Cache(cache.join("podinfo-7.0.0.tgz")));
        let ChartAt::Missing(why) = at("8.x") else { panic!("found a chart that is not cached") };
        assert!(why.contains("`podinfo` 8.x of HelmRepository `alpha/podinfo`"), "{why}");
        let elsewhere = release(
            "metadata: {namespace: alpha}\nspec:\n  chart:\n    spec:\n      chart: ./charts/tenant\n      sourceRef: {kind: GitRepository, name: other}\n",
        );
        let mut other = ChartSources::default();
        other.git.insert(("flux-system".into(), "flux-system".into()), "https://a/b".into());
        other.git.insert(("alpha".into(), "other".into()), "https://a/c".into());
        other.own = Some("https://a/b".into());
        assert!(matches!(other.locate(&elsewhere, &file, &roots), ChartAt::Missing(_)));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn release_names_are_computed_as_helm_controller_does() {
        use crate::render::helm::release::{namespace, release_name};
        let r = release("metadata: {name: web, namespace: apps}\nspec: {targetNamespace: prod}\n");
        assert_eq!((release_name(&r), namespace(&r)), ("prod-web".into(), "prod".into()));
        let r = release("metadata: {name: web, namespace: apps}\nspec: {releaseName: site}\n");
        assert_eq!((release_name(&r), namespace(&r)), ("site".into(), "apps".into()));
        let long = "a".repeat(60);
        let r = release(&format!("metadata: {{name: {long}}}\n"));
        let name = release_name(&r);
        assert_eq!(name.len(), 53);
        assert!(name.starts_with(&"a".repeat(40)) && name.as_bytes()[40] == b'-', "{name}");
    }
}
