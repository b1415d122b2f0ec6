//! An Argo CD Helm source: a path source whose directory holds a `Chart.yaml` (and no
//! kustomization), rendered as Argo CD's repo server runs `helm template` — release name
//! `helm.releaseName` (else the Application's name), namespace `helm.namespace` (else the
//! destination's), values from `helm.valueFiles` (paths in the source, or `$ref/…` in the
//! source a `ref` names), then `helm.values` (text) or `helm.valuesObject` (which wins when both
//! are given), then `helm.parameters` (`--set`, `--set-string` with `forceString`), CRDs unless
//! `skipCrds`. Findings on a value point at the line that supplied it, as for a HelmRelease.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::build::ValueOrigins;
use super::chart::{merge_values, set_value, values_from_yaml};
use crate::render::disk::{show, BuildError, Disk, Result};
use crate::render::gotemplate::Value;
use crate::render::tree::{TValue, Tree};

/// `helm` options of a source this build applies; any other is an error naming it.
const SUPPORTED: &[&str] = &[
    "releaseName",
    "namespace",
    "valueFiles",
    "values",
    "valuesObject",
    "parameters",
    "ignoreMissingValueFiles",
    "skipCrds",
    "passCredentials",
    "version",
    "kubeVersion",
    "apiVersions",
];

/// Whether Argo CD renders the source at `dir` with Helm: a `Chart.yaml` there and no
/// kustomization (which Argo CD's discovery prefers), unless the source names another type.
pub fn is_helm_source(disk: &Disk<'_>, source: &Tree<'_>, dir: &Path) -> bool {
    let other = ["kustomize", "directory", "plugin"].iter().any(|k| source.get(k).is_some());
    let kustomization =
        crate::render::disk::KUSTOMIZATION_FILES.iter().any(|k| disk.is_file(&dir.join(k)));
    !other && !kustomization && disk.is_file(&dir.join("Chart.yaml"))
}

/// A field's text, when it is some.
fn text<'t>(t: Option<&'t Tree<'_>>) -> Option<&'t str> {
    t.and_then(Tree::as_str).filter(|s| !s.is_empty())
}

fn seq<'t, 'a>(t: &'t Tree<'a>) -> &'t [Tree<'a>] {
    match &t.value {
        TValue::Seq(items) => items,
        _ => &[],
    }
}

/// Renders the Helm source `source` of Application `app` at `dir` (a build path); `refs` are
/// the build paths of the sources named by `ref` (for `$ref/…` value files).
pub fn build<'a>(
    disk: &Disk<'a>,
    app: &Tree<'a>,
    source: &Tree<'a>,
    dir: &Path,
    refs: &BTreeMap<String, PathBuf>,
) -> Result<Vec<Tree<'a>>> {
    build_chart(disk, (app, source), (dir, None), refs)
}

/// [`build`], of `chart` when given (a chart repository's, from the chart cache: `dir` is its
/// archive, and value files of the source itself are not there).
pub fn build_chart<'a>(
    disk: &Disk<'a>,
    (app, source): (&Tree<'a>, &Tree<'a>),
    (dir, chart): (&Path, Option<super::engine::Chart>),
    refs: &BTreeMap<String, PathBuf>,
) -> Result<Vec<Tree<'a>>> {
    let file = PathBuf::from(disk.shown(app.file));
    let error = |node: &Tree, message: String| BuildError {
        file: show(&file),
        line: Some(node.span.start().line),
        message,
    };
    let empty = Tree::map(app.file, source.span);
    let helm = source.get("helm").unwrap_or(&empty);
    if let TValue::Map(fields) = &helm.value {
        if let Some(f) = fields.iter().find(|f| !SUPPORTED.contains(&f.key.as_str())) {
            return Err(error(&f.value, format!("Argo CD `helm.{}` is not supported yet", f.key)));
        }
    }
    let flag = |k: &str| helm.get(k).is_some_and(|v| v.value == TValue::Bool(true));
    let mut origins = ValueOrigins::default();
    super::release::chart_defaults(disk, dir, &mut origins);
    let values = values(disk, (helm, dir, refs), &mut origins, &error)?;
    let namespace = text(helm.get("namespace"))
        .or_else(|| text(app.at(&["spec", "destination", "namespace"])))
        .unwrap_or("default")
        .to_string();
    let name = text(helm.get("releaseName"))
        .or_else(|| text(app.at(&["metadata", "name"])))
        .unwrap_or("release-name")
        .to_string();
    let kube = text(helm.get("kubeVersion")).unwrap_or(super::release::DEFAULT_KUBE_VERSION);
    let options = super::template::Options {
        release_name: name,
        namespace: namespace.clone(),
        kube_version: kube.to_string(),
        api_versions: helm
            .get("apiVersions")
            .map_or(&[][..], seq)
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        include_crds: !flag("skipCrds"),
        values,
        record_reads: true,
        ..super::template::Options::default()
    };
    let chart = if let Some(chart) = chart {
        chart
    } else {
        let real = disk
            .real(dir)
            .ok_or_else(|| error(source, "the chart is outside the root of the build".into()))?;
        super::chart::load(&real).map_err(|m| error(source, m))?
    };
    let mut objects = super::build::build_traced(disk, chart, dir, (&options, Some(&origins)))?;
    let decided = helm
        .get("namespace")
        .or_else(|| app.at(&["spec", "destination", "namespace"]))
        .unwrap_or(app);
    super::release::place(&mut objects, &namespace, decided);
    Ok(objects)
}

/// The values Argo CD passes for the source's `helm` options: `valueFiles` (in the source at
/// `dir`, or `$ref/…`), then `valuesObject` or else `values`, then `parameters`; each layer's
/// lines go into `origins`.
fn values<'a>(
    disk: &Disk<'a>,
    (helm, dir, refs): (&Tree<'a>, &Path, &BTreeMap<String, PathBuf>),
    origins: &mut ValueOrigins,
    error: &dyn Fn(&Tree<'a>, String) -> BuildError,
) -> Result<Value> {
    let flag = |k: &str| helm.get(k).is_some_and(|v| v.value == TValue::Bool(true));
    let mut values = Value::map(BTreeMap::new());
    for f in helm.get("valueFiles").map_or(&[][..], seq) {
        let name = f.as_str().unwrap_or("");
        let path = match name.strip_prefix('$').and_then(|r| r.split_once('/')) {
            Some((reference, rest)) => match refs.get(reference) {
                Some(root) => crate::load::discover::normalize(&root.join(rest)),
                None => {
                    return Err(error(
                        f,
                        format!("value file `{name}`: no source has `ref: {reference}`"),
                    ))
                }
            },
            None => crate::load::discover::normalize(&dir.join(name)),
        };
        if !disk.is_file(&path) {
            if flag("ignoreMissingValueFiles") {
                continue;
            }
            return Err(error(f, format!("value file `{name}` is not in the tree")));
        }
        let tree = disk.definition(&path, 0).map_err(|e| error(f, e.message))?;
        values = origins.merge_tree(&values, &tree);
    }
    // `valuesObject` wins over `values` when both are given (Argo CD takes one of them).
    if let Some(object) = helm.get("valuesObject") {
        values = origins.merge_tree(&values, object);
    } else if let Some(node) = helm.get("values") {
        let raw = node.scalar_text().unwrap_or_default();
        let layer = values_from_yaml(&raw, "helm.values").map_err(|m| error(node, m))?;
        match super::release::in_place(disk, node, &raw) {
            Some(tree) => origins.add_tree(&tree, ""),
            None => origins.add_whole(&layer, "", (node.file, node.span)),
        }
        values = merge_values(&values, &layer);
    }
    for p in helm.get("parameters").map_or(&[][..], seq) {
        let name = text(p.get("name")).unwrap_or("");
        let raw = p.get("value").and_then(Tree::scalar_text).unwrap_or_default();
        let force = p.get("forceString").is_some_and(|v| v.value == TValue::Bool(true));
        values = set_value(&values, name, &raw, force).map_err(|m| error(p, m))?;
        let at = p.get("value").unwrap_or(p);
        origins.add_path(name, (at.file, p.span, at.span));
    }
    Ok(values)
}
