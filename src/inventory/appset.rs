//! Argo CD ApplicationSets as entry points: the Applications their generators make, each built
//! as the Application it is. Generators evaluated here, offline: `list` (its `elements`), the
//! `git` directories generator (directories of this tree matching its `path` globs, relative to
//! the repository root; `exclude` entries taken out), `clusters` (the tree's cluster Secrets,
//! and the local cluster without a selector) and `matrix` (every pair of two generators'
//! parameters), with the parameters Argo CD gives them (`path`, `path.basename`,
//! `path.basenameNormalized`, `path[N]`; `name`, `server`, `metadata.labels.*`). The template is filled as
//! Argo CD's default templating does: `{{name}}` in every string, unknown names left as they are.
//! Other generators and `goTemplate` are errors at their line (the ApplicationSet is then linted
//! as written).

use std::sync::Arc;

use crate::load::source::Pos;
use crate::load::Node;
use crate::render::tree::{TValue, Tree};

/// The Applications the tree's ApplicationSets make, as targets, and the problems of those whose
/// generators cannot be evaluated (at their line).
pub(super) fn targets(
    files: &[crate::load::LoadedFile],
    roots: &[std::path::PathBuf],
) -> (Vec<super::kustomize::FluxTarget>, Vec<crate::error::Problem>) {
    let mut targets = Vec::new();
    let mut problems = Vec::new();
    for f in files {
        let Some(file) = f.source.path.as_deref() else { continue };
        for d in &f.documents {
            let is_appset = d.root.get("kind").and_then(Node::as_str) == Some("ApplicationSet")
                && d.root
                    .get("apiVersion")
                    .and_then(Node::as_str)
                    .is_some_and(|a| a.starts_with("argoproj.io/"));
            if !is_appset {
                continue;
            }
            match targets_of(files, roots, file, d) {
                Ok(mut more) => targets.append(&mut more),
                Err((pos, message)) => {
                    problems.push(crate::error::Problem::new(
                        f.source.display.clone(),
                        Some(pos),
                        message,
                    ));
                }
            }
        }
    }
    (targets, problems)
}

/// The Applications an ApplicationSet's generators make, as targets (see `appset.rs`).
fn targets_of(
    files: &[crate::load::LoadedFile],
    roots: &[std::path::PathBuf],
    file: &std::path::Path,
    d: &crate::load::Document,
) -> Result<Vec<super::kustomize::FluxTarget>, (crate::load::source::Pos, String)> {
    // Its paths are relative to the repository: the directory above with `.git`, else the
    // linted root that holds it.
    let root = file
        .ancestors()
        .skip(1)
        .find(|a| a.join(".git").exists())
        .or_else(|| roots.iter().map(std::path::PathBuf::as_path).find(|r| file.starts_with(r)))
        .unwrap_or_else(|| file.parent().unwrap_or(file))
        .to_path_buf();
    let dirs = || {
        let mut dirs: Vec<String> = files
            .iter()
            .filter_map(|f| f.source.path.as_deref())
            .filter_map(|p| p.parent()?.strip_prefix(&root).ok())
            .flat_map(std::path::Path::ancestors)
            .filter(|a| !a.as_os_str().is_empty())
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        dirs.sort_unstable();
        dirs.dedup();
        dirs
    };
    let clusters = || cluster_secrets(files);
    let sources = Sources { dirs: &dirs, clusters: &clusters };
    let appset_ns = d.root.at(&["metadata", "namespace"]).and_then(Node::as_str).unwrap_or("");
    let appset_name = d.root.at(&["metadata", "name"]).and_then(Node::as_str).unwrap_or("");
    let tree = crate::render::tree::Tree::from_node(&d.root, 0);
    let mut targets = Vec::new();
    for params in generate(&d.root, &sources)? {
        let app = instantiate(&tree, &params);
        let text = |path: &[&str]| {
            app.at(path).and_then(crate::render::tree::Tree::as_str).map(String::from)
        };
        let Some(path) = text(&["spec", "source", "path"]) else { continue };
        let dest = text(&["spec", "destination", "namespace"]).unwrap_or_default();
        let name = text(&["metadata", "name"]).unwrap_or_default();
        targets.push(super::kustomize::FluxTarget::argo(
            (Some(file.to_path_buf()), d.index),
            path,
            dest,
            format!("Argo CD ApplicationSet `{appset_ns}/{appset_name}` Application `{name}`"),
            Some(Arc::new(params)),
        ));
    }
    Ok(targets)
}

/// One Application's parameters, by name.
pub(crate) type Params = Vec<(String, String)>;

/// What the generators read from the tree: the repository's directories (relative to its root,
/// `apps/web`) and the clusters Argo CD knows (cluster Secrets of the tree).
pub(super) struct Sources<'a> {
    pub dirs: &'a dyn Fn() -> Vec<String>,
    pub clusters: &'a dyn Fn() -> Vec<Cluster>,
}

/// A cluster a cluster Secret declares (or the local one).
#[derive(Clone, Debug)]
pub(super) struct Cluster {
    pub name: String,
    pub server: String,
    pub labels: Vec<(String, String)>,
    pub annotations: Vec<(String, String)>,
}

/// The parameter sets of an ApplicationSet's generators. An error carries the position to
/// report.
pub(super) fn generate(appset: &Node, sources: &Sources<'_>) -> Result<Vec<Params>, (Pos, String)> {
    if let Some(go) = appset.at(&["spec", "goTemplate"]).filter(|g| g.as_bool() == Some(true)) {
        return Err((go.span.start, "ApplicationSet `goTemplate` is not supported yet".into()));
    }
    let generators = appset.at(&["spec", "generators"]).and_then(Node::as_seq).unwrap_or(&[]);
    let mut out = Vec::new();
    for generator in generators {
        out.extend(params_of(generator, sources, 0)?);
    }
    Ok(out)
}

/// The parameter sets of one generator (`{list: …}`, `{git: …}`, `{clusters: …}`,
/// `{matrix: …}`).
fn params_of(
    generator: &Node,
    sources: &Sources<'_>,
    depth: usize,
) -> Result<Vec<Params>, (Pos, String)> {
    let mut out = Vec::new();
    for entry in generator.as_map().unwrap_or(&[]) {
        let at = entry.value.span.start;
        match &*entry.key {
            "list" => {
                for element in entry.value.get("elements").and_then(Node::as_seq).unwrap_or(&[]) {
                    let mut params = Params::new();
                    flatten(element, "", &mut params);
                    out.push(params);
                }
            }
            "git" if entry.value.get("directories").is_some() => {
                out.extend(git_directories(&entry.value, sources.dirs).map_err(|m| (at, m))?);
            }
            "git" => {
                return Err((
                    at,
                    "an ApplicationSet git `files` generator is not supported yet (git `directories` is)".into(),
                ))
            }
            "clusters" => out.extend(clusters(&entry.value, sources).map_err(|m| (at, m))?),
            // Two child generators: every pair of their parameter sets.
            "matrix" if depth == 0 => {
                let children =
                    entry.value.get("generators").and_then(Node::as_seq).unwrap_or(&[]);
                let [first, second] = children else {
                    return Err((at, "a matrix generator needs exactly two generators".into()));
                };
                let (a, b) =
                    (params_of(first, sources, depth + 1)?, params_of(second, sources, depth + 1)?);
                for x in &a {
                    for y in &b {
                        let mut both = x.clone();
                        both.extend(y.iter().filter(|(k, _)| !x.iter().any(|(xk, _)| xk == k)).cloned());
                        out.push(both);
                    }
                }
            }
            other => {
                return Err((
                    at,
                    format!("the ApplicationSet generator `{other}` is not supported yet (list, git directories, clusters and matrix are)"),
                ))
            }
        }
    }
    Ok(out)
}

/// The clusters generator: every cluster Argo CD knows that its `selector.matchLabels` selects
/// (the local cluster only without a selector), with `name`, `nameNormalized`, `server` and
/// `metadata.labels.*` / `metadata.annotations.*`.
fn clusters(generator: &Node, sources: &Sources<'_>) -> Result<Vec<Params>, String> {
    let selector = generator.get("selector");
    if selector.and_then(|s| s.get("matchExpressions")).is_some() {
        return Err("a clusters generator's `matchExpressions` is not supported yet".into());
    }
    let wanted: Vec<(String, String)> = selector
        .and_then(|s| s.get("matchLabels"))
        .and_then(Node::as_map)
        .unwrap_or(&[])
        .iter()
        .filter_map(|e| Some((e.key.to_string(), scalar(&e.value)?)))
        .collect();
    let mut known = (sources.clusters)();
    if selector.is_none() {
        known.insert(
            0,
            Cluster {
                name: "in-cluster".into(),
                server: "https://kubernetes.default.svc".into(),
                labels: Vec::new(),
                annotations: Vec::new(),
            },
        );
    }
    Ok(known
        .into_iter()
        .filter(|c| wanted.iter().all(|(k, v)| c.labels.iter().any(|(ck, cv)| ck == k && cv == v)))
        .map(|c| {
            let normalized: String = c
                .name
                .chars()
                .map(|ch| {
                    if ch.is_ascii_alphanumeric() || ch == '-' || ch == '.' {
                        ch.to_ascii_lowercase()
                    } else {
                        '-'
                    }
                })
                .collect();
            let mut params = vec![
                ("name".to_string(), c.name.clone()),
                ("nameNormalized".to_string(), normalized),
                ("server".to_string(), c.server.clone()),
            ];
            params
                .extend(c.labels.iter().map(|(k, v)| (format!("metadata.labels.{k}"), v.clone())));
            params.extend(
                c.annotations.iter().map(|(k, v)| (format!("metadata.annotations.{k}"), v.clone())),
            );
            params
        })
        .collect())
}

/// The clusters the tree's cluster Secrets (labelled `argocd.argoproj.io/secret-type: cluster`)
/// declare: `name` and `server` from `stringData` or `data` (base64).
fn cluster_secrets(files: &[crate::load::LoadedFile]) -> Vec<Cluster> {
    let mut out = Vec::new();
    for d in files.iter().flat_map(|f| &f.documents) {
        let root = &d.root;
        let text = |path: &[&str]| root.at(path).and_then(Node::as_str);
        if text(&["kind"]) != Some("Secret")
            || text(&["metadata", "labels", "argocd.argoproj.io/secret-type"]) != Some("cluster")
        {
            continue;
        }
        let field = |key: &str| {
            text(&["stringData", key]).map(str::to_string).or_else(|| {
                let bytes = crate::base64::decode(text(&["data", key])?)?;
                String::from_utf8(bytes).ok()
            })
        };
        let pairs = |key: &str| -> Vec<(String, String)> {
            root.at(&["metadata", key])
                .and_then(Node::as_map)
                .unwrap_or(&[])
                .iter()
                .filter_map(|e| Some((e.key.to_string(), scalar(&e.value)?)))
                .collect()
        };
        let (Some(name), Some(server)) = (field("name"), field("server")) else { continue };
        out.push(Cluster {
            name,
            server,
            labels: pairs("labels"),
            annotations: pairs("annotations"),
        });
    }
    out
}

/// A list element's parameters: strings, numbers and booleans by their key, nested mappings by
/// dotted keys (`values.size`).
fn flatten(node: &Node, prefix: &str, out: &mut Params) {
    let Some(entries) = node.as_map() else { return };
    for e in entries {
        let key = if prefix.is_empty() { e.key.to_string() } else { format!("{prefix}.{}", e.key) };
        if e.value.as_map().is_some() {
            flatten(&e.value, &key, out);
        } else if let Some(text) = scalar(&e.value) {
            out.push((key, text));
        }
    }
}

fn scalar(node: &Node) -> Option<String> {
    match node.to_json() {
        serde_json::Value::String(s) => Some(s),
        v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_)) => Some(v.to_string()),
        _ => None,
    }
}

/// The git directories generator: the repository's directories matching a `path` glob (`*`
/// within one directory), less those an `exclude: true` entry matches.
fn git_directories(git: &Node, dirs: &dyn Fn() -> Vec<String>) -> Result<Vec<Params>, String> {
    let mut include = globset::GlobSetBuilder::new();
    let mut exclude = globset::GlobSetBuilder::new();
    for d in git.get("directories").and_then(Node::as_seq).unwrap_or(&[]) {
        let Some(pattern) = d.get("path").and_then(Node::as_str) else { continue };
        let glob = globset::GlobBuilder::new(pattern.trim_start_matches("./"))
            .literal_separator(true)
            .build()
            .map_err(|e| format!("`{pattern}`: {e}"))?;
        if d.get("exclude").and_then(Node::as_bool) == Some(true) {
            exclude.add(glob);
        } else {
            include.add(glob);
        }
    }
    let (include, exclude) =
        (include.build().map_err(|e| e.to_string())?, exclude.build().map_err(|e| e.to_string())?);
    Ok(dirs()
        .into_iter()
        .filter(|d| include.is_match(d) && !exclude.is_match(d))
        .map(|d| {
            let segments: Vec<&str> = d.split('/').collect();
            let base = segments.last().copied().unwrap_or("");
            let normalized: String = base
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
                .collect();
            let mut params = vec![
                ("path".to_string(), d.clone()),
                ("path.path".to_string(), d.clone()),
                ("path.basename".to_string(), base.to_string()),
                ("path.basenameNormalized".to_string(), normalized),
            ];
            for (i, s) in segments.iter().enumerate() {
                params.push((format!("path[{i}]"), (*s).to_string()));
            }
            params
        })
        .collect())
}

/// The Application an ApplicationSet's template makes with `params` (its fields keep the
/// template's lines).
pub(crate) fn instantiate(appset: &Tree, params: &Params) -> Tree {
    let (file, span) = (appset.file, appset.span);
    let mut app = Tree::map(file, span);
    app.set("apiVersion", Tree::string("argoproj.io/v1alpha1", file, span));
    app.set("kind", Tree::string("Application", file, span));
    for key in ["metadata", "spec"] {
        if let Some(part) = appset.at(&["spec", "template", key]) {
            let mut part = part.clone();
            fill(&mut part, params);
            app.set(key, part);
        }
    }
    app
}

/// Fills `{{name}}` in every string of a tree.
fn fill(t: &mut Tree, params: &Params) {
    match &mut t.value {
        TValue::Str(s) if s.contains("{{") => {
            let filled = substitute(s, params);
            *s = filled.into();
        }
        TValue::Seq(items) => items.iter_mut().for_each(|i| fill(i, params)),
        TValue::Map(fields) => fields.iter_mut().for_each(|f| fill(&mut f.value, params)),
        _ => {}
    }
}

/// `{{name}}` (spaces around the name allowed) replaced by its parameter; unknown names stay.
pub(super) fn substitute(text: &str, params: &Params) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            out.push_str(&rest[open..]);
            return out;
        };
        let name = after[..close].trim();
        match params.iter().find(|(k, _)| k == name) {
            Some((_, value)) => out.push_str(value),
            None => out.push_str(&rest[open..open + 2 + close + 2]),
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    out
}
