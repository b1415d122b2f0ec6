//! A Flux `HelmRelease` (helm.toolkit.fluxcd.io/v2) as helm-controller installs it: the release
//! name and namespace it computes, the values it passes — the chart's `valuesFiles`, then
//! `valuesFrom` in order, then `spec.values`, each merged over the last — CRDs and hooks
//! included (test hooks left out, as `helm test` alone runs them), and every namespaced object
//! that names no namespace put in the release's namespace, as Helm applies it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::rc::Rc;

use sha2::Digest as _;
use std::path::Path;

use super::build::{Places, ValueOrigins};
use super::chart::{merge_values, set_value_to, values_from_yaml};
use super::engine::Chart;
use super::template::Options;
use crate::render::disk::{BuildError, Disk, Result};
use crate::render::flux::Sources;
use crate::render::gotemplate::Value;
use crate::render::tree::{entry_place, set_placed, Placed, TValue, Tree};

/// The longest release name Helm accepts; helm-controller shortens longer ones.
const MAX_NAME: usize = 53;

/// The Kubernetes version `.Capabilities` reports when nothing says which: that of the client
/// libraries Helm 3.17 is built with (Helm's own tests report v1.20.0).
pub const DEFAULT_KUBE_VERSION: &str = "v1.32.0";

/// The release name helm-controller gives a HelmRelease (`GetReleaseName`, then
/// `ShortenName`): `spec.releaseName`, else `<targetNamespace>-<name>` when a target namespace
/// is set, else the name; past 53 characters, the first 40 and 12 hex digits of its SHA-256.
#[must_use]
pub fn release_name(release: &Tree<'_>) -> String {
    let text = |p: &[&str]| release.at(p).and_then(Tree::as_str).filter(|s| !s.is_empty());
    let name = text(&["metadata", "name"]).unwrap_or("");
    let full = match (text(&["spec", "releaseName"]), text(&["spec", "targetNamespace"])) {
        (Some(r), _) => r.to_string(),
        (None, Some(ns)) => format!("{ns}-{name}"),
        (None, None) => name.to_string(),
    };
    if full.len() <= MAX_NAME {
        return full;
    }
    let digest: String =
        sha2::Sha256::digest(full.as_bytes()).iter().fold(String::new(), |mut acc, b| {
            let _ = write!(acc, "{b:02x}");
            acc
        });
    let cut = (0..=MAX_NAME - 13).rev().find(|&i| full.is_char_boundary(i)).unwrap_or(0);
    format!("{}-{}", &full[..cut], &digest[..12])
}

/// The namespace the release installs into: `spec.targetNamespace`, else the HelmRelease's.
#[must_use]
pub fn namespace(release: &Tree<'_>) -> String {
    let text = |p: &[&str]| release.at(p).and_then(Tree::as_str).filter(|s| !s.is_empty());
    text(&["spec", "targetNamespace"])
        .or_else(|| text(&["metadata", "namespace"]))
        .unwrap_or("default")
        .to_string()
}

/// An error at a field of the HelmRelease.
fn error_at(disk: &Disk<'_>, at: &Tree<'_>, message: String) -> BuildError {
    BuildError {
        file: disk.shown(at.file).trim_start_matches('/').to_string(),
        line: Some(at.span.start().line),
        message,
    }
}

fn seq<'t, 'a>(t: &'t Tree<'a>) -> &'t [Tree<'a>] {
    match &t.value {
        TValue::Seq(items) => items,
        _ => &[],
    }
}

/// The values helm-controller passes to Helm (`chartutil.ChartValuesFromReferences`, then
/// `spec.values`): each `valuesFrom` ConfigMap or Secret of the tree (`valuesKey`, default
/// `values.yaml`) merged in order — or, with `targetPath`, its text set at that path — then
/// `spec.values` over them. `chart_values` are the chart's `valuesFiles`, read before all.
/// Each layer's lines go into `origins` (a ConfigMap's values at its key's line).
pub fn values(
    disk: &Disk<'_>,
    release: &Tree<'_>,
    sources: &Sources,
    (chart_values, origins): (Value, &mut ValueOrigins),
) -> Result<Value> {
    let own_ns = release.at(&["metadata", "namespace"]).and_then(Tree::as_str).unwrap_or("");
    let mut values = chart_values;
    for from in release.at(&["spec", "valuesFrom"]).map_or(&[][..], seq) {
        let text = |k: &str| from.get(k).and_then(Tree::as_str).unwrap_or("");
        let (kind, name) = (text("kind"), text("name"));
        if kind != "ConfigMap" && kind != "Secret" {
            let message = format!("valuesFrom kind `{kind}` must be ConfigMap or Secret");
            return Err(error_at(disk, from, message));
        }
        let key = Some(text("valuesKey")).filter(|k| !k.is_empty()).unwrap_or("values.yaml");
        let optional = matches!(from.get("optional").map(|o| &o.value), Some(TValue::Bool(true)));
        let Some((path, document)) =
            sources.get(&(own_ns.to_string(), kind.to_string(), name.to_string()))
        else {
            if optional {
                continue;
            }
            let message = format!(
                "valuesFrom {kind} `{own_ns}/{name}` is not in the tree (mark it `optional: true` if the cluster provides it)"
            );
            return Err(error_at(disk, from, message));
        };
        let data = crate::render::flux::data(disk, path, *document, kind == "Secret")
            .map_err(|m| error_at(disk, from, m))?;
        let Some((_, value)) = data.into_iter().find(|(k, _)| k == key) else {
            if optional {
                continue;
            }
            let message = format!("{kind} `{own_ns}/{name}` has no key `{key}`");
            return Err(error_at(disk, from, message));
        };
        let raw = value.scalar_text().unwrap_or_default();
        let target = text("targetPath");
        let layer = if target.is_empty() {
            let shown = format!("{kind} {own_ns}/{name} key {key}");
            values_from_yaml(&raw, &shown).map_err(|m| error_at(disk, from, m))?
        } else {
            set_value_to(&Value::map(BTreeMap::new()), target, Value::string(&raw))
                .map_err(|m| error_at(disk, from, format!("targetPath: {m}")))?
        };
        match in_place(disk, &value, &raw).filter(|_| target.is_empty()) {
            Some(tree) => origins.add_tree(&tree, ""),
            None => origins.add_whole(&layer, "", (value.file, value.span)),
        }
        values = merge_values(&values, &layer);
    }
    if let Some(inline) = release.at(&["spec", "values"]) {
        values = origins.merge_tree(&values, inline);
    }
    Ok(values)
}

/// Values held in a ConfigMap's or Secret's block of text (`values.yaml: |`), as a tree whose
/// lines are the file's: when every line of the text is the file's line at the block's
/// indentation (a literal block; not base64 `data`, not a quoted string).
pub(crate) fn in_place<'a>(disk: &Disk<'a>, value: &Tree<'a>, raw: &str) -> Option<Tree<'a>> {
    let file = disk.text_of(value.file)?;
    let start = value.span.start();
    let lines: Vec<&str> = file.lines().skip(start.line.checked_sub(1)? as usize).collect();
    for (i, line) in raw.lines().enumerate() {
        let written = lines.get(i)?;
        let at = written.char_indices().nth(start.col as usize).map_or(written.len(), |(b, _)| b);
        if !line.is_empty() && written.get(at..)? != line {
            return None;
        }
    }
    let parsed = crate::load::yaml::parse_stream(raw, &disk.limits);
    let doc = parsed.documents.into_iter().next()?;
    let mut tree = Tree::owned(&doc.root, value.file);
    shift(&mut tree, start.line - 1, start.col, 0);
    Some(tree)
}

/// Moves a tree's spans `lines` down and `cols` right.
fn shift(t: &mut Tree<'_>, lines: u32, cols: u32, depth: usize) {
    let by = |span: &mut crate::load::source::Span| {
        let by = |p: crate::load::source::Pos| crate::load::source::Pos {
            line: p.line + lines,
            col: p.col + cols,
        };
        *span = crate::load::source::Span::new(by(span.start()), by(span.end()));
    };
    by(&mut t.span);
    if depth > 100 {
        return;
    }
    match &mut t.value {
        TValue::Seq(items) => items.iter_mut().for_each(|i| shift(i, lines, cols, depth + 1)),
        TValue::Map(fields) => {
            for f in fields {
                by(&mut f.key_span);
                shift(&mut f.value, lines, cols, depth + 1);
            }
        }
        _ => {}
    }
}

/// The chart's `valuesFiles` (paths in the chart's source), merged in order.
pub fn values_files(disk: &Disk<'_>, release: &Tree<'_>, source_root: &Path) -> Result<Value> {
    let mut values = Value::map(BTreeMap::new());
    let files = release.at(&["spec", "chart", "spec", "valuesFiles"]).map_or(&[][..], seq);
    for file in files {
        let rel = file.as_str().unwrap_or("").trim_start_matches("./");
        let path = source_root.join(rel);
        let text = disk.contents(&path).map_err(|e| error_at(disk, file, e.message))?;
        let layer = values_from_yaml(&text, rel).map_err(|m| error_at(disk, file, m))?;
        values = merge_values(&values, &layer);
    }
    Ok(values)
}

/// What a HelmRelease asks of helm-controller that is not rendered here: an error naming it.
pub fn unsupported(disk: &Disk<'_>, release: &Tree<'_>) -> Option<BuildError> {
    let spec = release.get("spec")?;
    let post = spec.get("postRenderers").filter(|p| !seq(p).is_empty())?;
    Some(error_at(
        disk,
        post,
        "HelmRelease `spec.postRenderers` are not supported yet: the release is not rendered"
            .into(),
    ))
}

/// The chart's default values as a layer of origins (a chart of the tree: its `values.yaml`).
pub fn chart_defaults(disk: &Disk, chart_dir: &Path, origins: &mut ValueOrigins) {
    /// Most values files a thread keeps read.
    const MAX_KEPT: usize = 16;
    thread_local! {
        /// The places of values files read on this thread, by their text: the releases of a
        /// chart read its defaults once.
        static KEPT: std::cell::RefCell<Vec<(String, Rc<Places>)>> = std::cell::RefCell::default();
    }
    let path = chart_dir.join("values.yaml");
    if !disk.is_file(&path) {
        return;
    }
    let Ok(text) = disk.contents(&path) else { return };
    let kept =
        KEPT.with_borrow(|kept| kept.iter().find(|(t, _)| *t == text).map(|(_, p)| Rc::clone(p)));
    let places = if let Some(places) = kept {
        places
    } else {
        let parsed = crate::load::yaml::parse_stream(&text, &disk.limits);
        let Some(doc) = parsed.documents.first().filter(|_| parsed.problems.is_empty()) else {
            return;
        };
        let mut places = Places::default();
        super::build::tree_places(&Tree::from_node(&doc.root, 0), "", &mut places, 0);
        let places = Rc::new(places);
        KEPT.with_borrow_mut(|kept| {
            if kept.len() >= MAX_KEPT {
                kept.remove(0);
            }
            kept.push((text.clone(), Rc::clone(&places)));
        });
        places
    };
    let file = disk.number(crate::render::disk::Read {
        real: disk.real(&path),
        path,
        loaded: None,
        text: Some(text.as_str().into()),
        via: Vec::new(),
        built: false,
    });
    origins.add_shared(places, file);
}

/// Renders `chart` for `release` with `values`: its objects, each namespaced one that names no
/// namespace put in the release namespace (from the HelmRelease line that decides it), each
/// scalar a template wrote from the values at the line `origins` give for it.
pub fn build(
    disk: &Disk<'_>,
    release: &Tree<'_>,
    (chart, chart_dir): (Chart, &Path),
    (values, origins): (Value, &ValueOrigins),
    kube_version: &str,
) -> Result<Vec<Placed>> {
    if let Some(e) = unsupported(disk, release) {
        return Err(e);
    }
    let namespace = namespace(release);
    let options = Options {
        release_name: release_name(release),
        namespace: namespace.clone(),
        kube_version: kube_version.to_string(),
        include_crds: true,
        values,
        record_reads: true,
        ..Options::default()
    };
    let mut objects =
        super::build::build_placed(disk, chart, chart_dir, (&options, Some(origins)))?;
    let decided = release
        .at(&["spec", "targetNamespace"])
        .or_else(|| release.at(&["metadata", "namespace"]))
        .unwrap_or(release);
    for object in &mut objects {
        place_one(object, &namespace, decided);
    }
    // What a switch left out would have been in the release's namespace too.
    for d in disk.deleted.borrow_mut().iter_mut().filter(|d| d.switch) {
        place(std::slice::from_mut(&mut d.object), &namespace, decided);
    }
    Ok(objects)
}

/// Whether Helm puts an object of this kind in the release's namespace (a namespaced kind).
fn namespaced(api: &str, kind: &str) -> bool {
    let no_crds: std::collections::HashMap<(String, String), bool> =
        std::collections::HashMap::new();
    !crate::kinds::is_cluster_scoped(api, kind, &no_crds)
}

/// [`place`] for an object placed without a tree.
fn place_one(object: &mut Placed, namespace: &str, decided: &Tree<'_>) {
    use crate::load::{Node, Value};
    let text = |k: &str| object.node.get(k).and_then(Node::as_str).unwrap_or("");
    if !namespaced(text("apiVersion"), text("kind")) {
        return;
    }
    let (file, span) = (decided.file, decided.span);
    let Placed { node, files } = object;
    let meta = match entry_place(node, 0, "metadata") {
        Some((i, at)) if node.as_map().is_some_and(|m| m[i].value.as_map().is_some()) => (i, at),
        _ => {
            let empty = Node { span, value: Value::Map(std::sync::Arc::default()) };
            let Some(made) = set_placed(node, files, 0, ("metadata", empty), file) else { return };
            made
        }
    };
    let Value::Map(entries) = &mut node.value else { return };
    let meta_node = &mut std::sync::Arc::make_mut(entries)[meta.0].value;
    if meta_node.get("namespace").and_then(Node::as_str).is_none_or(str::is_empty) {
        let value = Node { span, value: Value::Str(namespace.into()) };
        set_placed(meta_node, files, meta.1, ("namespace", value), file);
    }
}

/// Puts every namespaced object that names no namespace in `namespace`, as Helm applies it,
/// from the line (`decided`) that decides it.
pub(crate) fn place(objects: &mut [Tree<'_>], namespace: &str, decided: &Tree<'_>) {
    for object in objects {
        let api = object.get("apiVersion").and_then(Tree::as_str).unwrap_or("");
        let kind = object.get("kind").and_then(Tree::as_str).unwrap_or("");
        if !namespaced(api, kind) {
            continue;
        }
        let (file, span) = (decided.file, decided.span);
        let Some(meta) = object.map_at("metadata", file, span) else { continue };
        if meta.get("namespace").and_then(Tree::as_str).is_none_or(str::is_empty) {
            meta.set("namespace", Tree::string(namespace, file, span));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::load::source::{Pos, Span};
    use crate::render::tree::{places, Placed, Tree};

    /// A release's objects placed without trees get the release namespace as their trees do:
    /// with no metadata, metadata of another kind, no namespace, an empty or null one, one of
    /// their own, a cluster-scoped kind, and a document that is no mapping.
    #[test]
    fn placed_objects_get_the_release_namespace_as_trees_do() {
        let span = Span::new(Pos { line: 4, col: 19 }, Pos { line: 4, col: 24 });
        let decided = Tree::string("tenant-a", 2, span);
        let objects = [
            "kind: ConfigMap\ndata: {a: b}\n",
            "kind: ConfigMap\nmetadata: null\ndata: {a: b}\n",
            "kind: ConfigMap\nmetadata: [x]\n",
            "kind: Service\nmetadata:\n  name: web\n  labels: {a: b}\nspec: {}\n",
            "kind: Service\nmetadata:\n  name: web\n  namespace: \"\"\n",
            "kind: Service\nmetadata:\n  namespace: null\n  name: web\n",
            "kind: Service\nmetadata:\n  namespace: own\n  name: web\n",
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n",
            "- just\n- a list\n",
        ];
        for text in objects {
            let docs = crate::load::yaml::parse_stream(text, &crate::load::Limits::default());
            let node = docs.documents[0].root.clone();
            let files = (0..places(&node)).map(|i| u32::from(i % 4 == 3) + 5).collect();
            let mut placed = Placed { node, files };
            let mut trees = [placed.to_tree()];
            super::place(&mut trees, "tenant-a", &decided);
            super::place_one(&mut placed, "tenant-a", &decided);
            assert_eq!(placed.files.len(), places(&placed.node), "{text}");
            assert_eq!(placed.to_tree(), trees[0], "{text}");
        }
    }
}
