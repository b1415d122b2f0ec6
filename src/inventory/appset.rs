//! Argo CD ApplicationSets as entry points: the Applications their generators make, each built
//! as the Application it is. Generators evaluated here, offline: `list` (its `elements`), the
//! `git` directories generator (directories of this tree matching its `path` globs, relative to
//! the repository root; `exclude` entries taken out), the `git` files generator (the fields of
//! the files its globs match, flattened), `clusters` (the tree's cluster Secrets, and the local
//! cluster without a selector), `matrix` (every pair of two generators' parameters) and `merge`
//! (the first generator's sets overridden by later ones with the same merge keys), with the
//! parameters Argo CD gives them (`path`, `path.basename`, `path.basenameNormalized`,
//! `path.filename`, `path[N]`, a git generator's `pathParamPrefix` and `values`; `name`,
//! `server`, `metadata.labels.*`). The template is filled as Argo CD's default templating does:
//! `{{name}}` in every string, unknown names left as they are. Other generators and
//! `goTemplate` are errors at their line (the ApplicationSet is then linted as written).

use std::collections::HashMap;
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
    let repo_files = || {
        let mut found: Vec<(String, Option<Vec<&Node>>)> = files
            .iter()
            .filter_map(|f| {
                let rel = f.source.path.as_deref()?.strip_prefix(&root).ok()?;
                let roots = (!f.broken).then(|| f.documents.iter().map(|d| &d.root).collect());
                Some((rel.to_string_lossy().into_owned(), roots))
            })
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found
    };
    let sources = Sources { dirs: &dirs, clusters: &clusters, files: &repo_files };
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
    /// The files the linter read (`.yaml`, `.yml`, `.json`), by path from the repository root,
    /// with their documents' roots (`None`: the file has errors).
    pub files: &'a dyn Fn() -> Vec<(String, Option<Vec<&'a Node>>)>,
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
        return Err((go.span.start(), "ApplicationSet `goTemplate` is not supported yet".into()));
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
        let at = entry.value.span.start();
        match &*entry.key {
            "list" => {
                for element in entry.value.get("elements").and_then(Node::as_seq).unwrap_or(&[]) {
                    let mut params = Params::new();
                    flatten(element, "", &mut params);
                    out.push(params);
                }
            }
            "git" if entry.value.get("directories").is_some() => {
                let found = git_directories(&entry.value, sources.dirs).map_err(|m| (at, m))?;
                out.extend(found.into_iter().map(|p| with_values(&entry.value, p)));
            }
            "git" if entry.value.get("files").is_some() => {
                let found = git_files(&entry.value, sources.files).map_err(|m| (at, m))?;
                out.extend(found.into_iter().map(|p| with_values(&entry.value, p)));
            }
            "git" => {
                return Err((at, "a git generator needs `directories` or `files`".into()));
            }
            "clusters" => out.extend(clusters(&entry.value, sources).map_err(|m| (at, m))?),
            "matrix" | "merge" if depth > 1 => {
                return Err((
                    at,
                    format!("a `{}` generator nested in another nested one: Argo CD nests them one level deep", entry.key),
                ))
            }
            "merge" => out.extend(merge(&entry.value, sources, depth).map_err(|(pos, m)| (pos.unwrap_or(at), m))?),
            // Two child generators: every pair of their parameter sets.
            "matrix" => {
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
                    format!("the ApplicationSet generator `{other}` is not supported yet (list, git, clusters, matrix and merge are)"),
                ))
            }
        }
    }
    Ok(out)
}

/// The merge generator: the first generator's parameter sets, each overridden by the set of
/// every later generator that has the same values of the `mergeKeys` (a later generator's sets
/// must differ by them; sets no base set matches are dropped), as Argo CD merges them.
fn merge(
    generator: &Node,
    sources: &Sources<'_>,
    depth: usize,
) -> Result<Vec<Params>, (Option<Pos>, String)> {
    let children = generator.get("generators").and_then(Node::as_seq).unwrap_or(&[]);
    let [first, rest @ ..] = children else {
        return Err((None, "a merge generator needs two or more generators".into()));
    };
    if rest.is_empty() {
        return Err((None, "a merge generator needs two or more generators".into()));
    }
    let keys: Vec<&str> = generator
        .get("mergeKeys")
        .and_then(Node::as_seq)
        .unwrap_or(&[])
        .iter()
        .filter_map(Node::as_str)
        .collect();
    if keys.is_empty() {
        return Err((None, "a merge generator needs `mergeKeys`".into()));
    }
    let key_of = |params: &Params| -> Vec<Option<String>> {
        keys.iter().map(|k| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())).collect()
    };
    let mut base = params_of(first, sources, depth + 1).map_err(|(pos, m)| (Some(pos), m))?;
    for child in rest {
        let sets = params_of(child, sources, depth + 1).map_err(|(pos, m)| (Some(pos), m))?;
        let mut by_key: HashMap<Vec<Option<String>>, &Params> = HashMap::new();
        for set in &sets {
            if by_key.insert(key_of(set), set).is_some() {
                return Err((
                    Some(child.span.start()),
                    format!(
                        "the parameters of this generator are not unique by the merge keys {keys:?}: Argo CD refuses them"
                    ),
                ));
            }
        }
        for set in &mut base {
            let Some(over) = by_key.get(&key_of(set)) else { continue };
            for (name, value) in *over {
                match set.iter_mut().find(|(n, _)| n == name) {
                    Some(existing) => existing.1.clone_from(value),
                    None => set.push((name.clone(), value.clone())),
                }
            }
        }
    }
    Ok(base)
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
        .filter_map(|e| Some((e.key.as_str().to_owned(), scalar(&e.value)?)))
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
            let normalized = sanitize_name(&c.name);
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
            with_values(generator, params)
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
                .filter_map(|e| Some((e.key.as_str().to_owned(), scalar(&e.value)?)))
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
        let key = if prefix.is_empty() {
            e.key.as_str().to_owned()
        } else {
            format!("{prefix}.{}", e.key)
        };
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
    // `path.Match`: `*` stays within a directory.
    let (include, exclude) = path_globs(git, "directories", true, &|_| Ok(()))?;
    Ok(dirs()
        .into_iter()
        .filter(|d| include.is_match(d) && !exclude.is_match(d))
        .map(|d| {
            let mut params = Params::new();
            set_path_params(git, &mut params, &d, None);
            params
        })
        .collect())
}

/// Sets a parameter, replacing one of that name (a later assignment wins, as in Argo CD's
/// parameter maps).
fn set_param(params: &mut Params, name: String, value: String) {
    match params.iter_mut().find(|(n, _)| *n == name) {
        Some(existing) => existing.1 = value,
        None => params.push((name, value)),
    }
}

/// The path parameters of a git generator's directory (and file): `path`, `path.basename`,
/// `path.basenameNormalized`, `path[N]` (and `path.filename`, `path.filenameNormalized`), each
/// after the generator's `pathParamPrefix`; they replace file fields of the same names.
fn set_path_params(git: &Node, params: &mut Params, dir: &str, file: Option<&str>) {
    let prefix = git.get("pathParamPrefix").and_then(Node::as_str).filter(|p| !p.is_empty());
    let name = |key: &str| prefix.map_or_else(|| key.to_string(), |p| format!("{p}.{key}"));
    let base = dir.rsplit('/').next().unwrap_or(dir);
    set_param(params, name("path"), dir.to_string());
    set_param(params, name("path.basename"), base.to_string());
    set_param(params, name("path.basenameNormalized"), sanitize_name(base));
    if let Some(file) = file {
        set_param(params, name("path.filename"), file.to_string());
        set_param(params, name("path.filenameNormalized"), sanitize_name(file));
    }
    for (i, segment) in dir.split('/').enumerate().filter(|(_, s)| !s.is_empty()) {
        set_param(params, name(&format!("path[{i}]")), segment.to_string());
    }
}

/// The git files generator: every file of the repository a `files` glob matches (`*` crosses
/// directories, as Argo CD's default file globbing does), less those an `exclude: true` entry
/// matches, in path order. A file holding a
/// mapping gives one parameter set, a list of mappings one per element: its fields flattened
/// with dots (`cluster.address`, `zones.0`), and `path` (the file's directory), `path.basename`,
/// `path.filename`, their normalized forms and `path[N]`. Only the files the linter reads
/// (`.yaml`, `.yml`, `.json`) are seen: a pattern naming another kind of file is an error.
fn git_files<'a>(
    git: &Node,
    files: &dyn Fn() -> Vec<(String, Option<Vec<&'a Node>>)>,
) -> Result<Vec<Params>, String> {
    let readable = |pattern: &str| {
        if [".yaml", ".yml", ".json", "*"].iter().any(|e| pattern.ends_with(e)) {
            Ok(())
        } else {
            Err(format!(
                "`{pattern}`: the git files generator is evaluated on the files the linter reads (.yaml, .yml, .json)"
            ))
        }
    };
    // Argo CD's default file globbing: `*` crosses directories too.
    let (include, exclude) = path_globs(git, "files", false, &readable)?;
    let mut out = Vec::new();
    for (path, roots) in files() {
        if !include.is_match(&path) || exclude.is_match(&path) {
            continue;
        }
        let Some(roots) = roots else {
            return Err(format!(
                "`{path}` has errors (reported for it): its parameters are not read"
            ));
        };
        // Argo CD reads the first document: a mapping, or a list of them.
        let objects: Vec<Option<&Node>> = match roots.first().map(|r| &r.value) {
            None | Some(crate::load::Value::Null) => vec![None],
            Some(crate::load::Value::Map(_)) => vec![Some(roots[0])],
            Some(crate::load::Value::Seq(items)) if items.iter().all(|i| i.as_map().is_some()) => {
                items.iter().map(Some).collect()
            }
            Some(_) => return Err(format!("`{path}` holds neither a mapping nor a list of them")),
        };
        let dir = path.rsplit_once('/').map_or(".", |(d, _)| d).to_string();
        let filename = path.rsplit('/').next().unwrap_or(&path).to_string();
        for object in objects {
            let mut params = Params::new();
            if let Some(object) = object {
                flatten_all(object, "", &mut params);
            }
            set_path_params(git, &mut params, &dir, Some(&filename));
            out.push(params);
        }
    }
    Ok(out)
}

/// The globs of a git generator's `directories` or `files` entries (`path`, `**` across
/// directories), those to include and those an `exclude: true` entry takes out; `check` may
/// refuse a pattern.
fn path_globs(
    git: &Node,
    key: &str,
    within_directories: bool,
    check: &dyn Fn(&str) -> Result<(), String>,
) -> Result<(globset::GlobSet, globset::GlobSet), String> {
    let mut include = globset::GlobSetBuilder::new();
    let mut exclude = globset::GlobSetBuilder::new();
    for entry in git.get(key).and_then(Node::as_seq).unwrap_or(&[]) {
        let Some(pattern) = entry.get("path").and_then(Node::as_str) else {
            return Err(format!("a git `{key}` entry needs a `path`"));
        };
        check(pattern)?;
        let glob = globset::GlobBuilder::new(pattern.trim_start_matches("./"))
            .literal_separator(within_directories)
            .build()
            .map_err(|e| format!("`{pattern}`: {e}"))?;
        if entry.get("exclude").and_then(Node::as_bool) == Some(true) {
            exclude.add(glob);
        } else {
            include.add(glob);
        }
    }
    Ok((include.build().map_err(|e| e.to_string())?, exclude.build().map_err(|e| e.to_string())?))
}

/// A generator's `values` (git and clusters generators), each filled with the parameters, added
/// as `values.NAME`.
fn with_values(generator: &Node, mut params: Params) -> Params {
    let values: Vec<(String, String)> = generator
        .get("values")
        .and_then(Node::as_map)
        .unwrap_or(&[])
        .iter()
        .filter_map(|e| {
            Some((format!("values.{}", e.key), substitute(&scalar(&e.value)?, &params)))
        })
        .collect();
    for (name, value) in values {
        set_param(&mut params, name, value);
    }
    params
}

/// A file's fields as Argo CD flattens them (nested mappings and lists by dotted keys,
/// `zones.0`), each printed as Go prints it.
fn flatten_all(node: &Node, prefix: &str, out: &mut Params) {
    let key = |k: &str| if prefix.is_empty() { k.to_string() } else { format!("{prefix}.{k}") };
    match &node.value {
        crate::load::Value::Map(entries) => {
            for e in entries.iter() {
                flatten_all(&e.value, &key(&e.key), out);
            }
        }
        crate::load::Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten_all(item, &key(&i.to_string()), out);
            }
        }
        crate::load::Value::Null => out.push((prefix.to_string(), "<nil>".into())),
        _ => {
            if let Some(text) = scalar(node) {
                out.push((prefix.to_string(), text));
            }
        }
    }
}

/// A name as Argo CD makes it fit for Kubernetes (`utils.SanitizeName`): lower case, every
/// character but `a-z`, `0-9`, `-` and `.` a `-`, at most 253 characters, no `-` or `.` at
/// either end.
fn sanitize_name(name: &str) -> String {
    let lowered: String = name
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let cut: String = lowered.chars().take(253).collect();
    cut.trim_matches(['-', '.']).to_string()
}

/// The Application an ApplicationSet's template makes with `params` (its fields keep the
/// template's lines).
pub(crate) fn instantiate<'a>(appset: &Tree<'a>, params: &Params) -> Tree<'a> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn node(text: &str) -> Node {
        let parsed = crate::load::yaml::parse_stream(text, &crate::load::Limits::default());
        parsed.documents[0].root.clone()
    }

    fn generated(appset: &str) -> Result<Vec<Params>, (Pos, String)> {
        let clusters = || {
            ["east", "west"]
                .iter()
                .map(|n| Cluster {
                    name: (*n).to_string(),
                    server: format!("https://{n}"),
                    labels: vec![("tier".into(), "edge".into())],
                    annotations: Vec::new(),
                })
                .collect()
        };
        let (dirs, files) = (|| Vec::new(), || Vec::new());
        let sources = Sources { dirs: &dirs, clusters: &clusters, files: &files };
        generate(&node(appset), &sources)
    }

    #[test]
    fn a_merge_generator_overrides_the_first_generators_sets_by_their_merge_keys() {
        let merged = generated(
            "spec:\n  generators:\n  - merge:\n      mergeKeys: [name]\n      generators:\n      - clusters: {selector: {matchLabels: {tier: edge}}, values: {size: small}}\n      - list: {elements: [{name: west, values: {size: large}}, {name: north, values: {size: huge}}]}\n",
        )
        .unwrap();
        let value = |set: &Params, key: &str| {
            set.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or_default()
        };
        let summary: Vec<(String, String, String)> = merged
            .iter()
            .map(|p| (value(p, "name"), value(p, "server"), value(p, "values.size")))
            .collect();
        assert_eq!(
            summary,
            [
                ("east".into(), "https://east".into(), "small".into()),
                ("west".into(), "https://west".into(), "large".into()),
            ]
        );
        let error = |text: &str| generated(text).unwrap_err().1;
        assert!(error("spec:\n  generators:\n  - merge:\n      mergeKeys: [name]\n      generators:\n      - list: {elements: [{name: a}]}\n").contains("two or more generators"));
        assert!(error("spec:\n  generators:\n  - merge:\n      generators:\n      - list: {elements: [{name: a}]}\n      - list: {elements: [{name: a}]}\n").contains("needs `mergeKeys`"));
        let (pos, message) = generated("spec:\n  generators:\n  - merge:\n      mergeKeys: [name]\n      generators:\n      - list: {elements: [{name: a}]}\n      - list: {elements: [{name: a}, {name: a}]}\n").unwrap_err();
        assert!(message.contains("not unique by the merge keys"), "{message}");
        assert_eq!(pos.line, 7);
        let nested = "spec:\n  generators:\n  - matrix:\n      generators:\n      - merge:\n          mergeKeys: [name]\n          generators:\n          - matrix: {generators: []}\n          - list: {elements: [{name: a}]}\n      - list: {elements: [{x: y}]}\n";
        assert!(error(nested).contains("nests them one level deep"), "{}", error(nested));
    }

    #[test]
    fn a_files_glob_star_crosses_directories_and_a_directories_glob_star_does_not() {
        let git = node("files: [{path: 'apps/*.json'}]\ndirectories: [{path: 'apps/*'}]\n");
        let (files, _) = path_globs(&git, "files", false, &|_| Ok(())).unwrap();
        assert!(files.is_match("apps/east/config.json") && files.is_match("apps/config.json"));
        let (dirs, _) = path_globs(&git, "directories", true, &|_| Ok(())).unwrap();
        assert!(dirs.is_match("apps/web") && !dirs.is_match("apps/web/sub"));
    }

    #[test]
    fn names_are_normalized_as_argo_cd_normalizes_them() {
        assert_eq!(sanitize_name("My_App.v2"), "my-app.v2");
        assert_eq!(sanitize_name("-Edge-"), "edge");
        assert_eq!(sanitize_name(&"a".repeat(300)).len(), 253);
    }

    #[test]
    fn path_parameters_and_values_win_over_file_fields_and_take_the_prefix() {
        let git = node("pathParamPrefix: app\nvalues: {where: '{{app.path.basename}}-{{team}}'}\n");
        // A file's own `path` and `values.where` fields lose to the generated ones.
        let mut params = vec![
            ("team".to_string(), "payments".to_string()),
            ("path".to_string(), "charts/web".to_string()),
            ("values.where".to_string(), "file".to_string()),
        ];
        set_path_params(&git, &mut params, "apps/web", Some("config.json"));
        let params = with_values(&git, params);
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("path"), Some("charts/web"), "the file's field keeps its own name");
        assert_eq!(get("app.path"), Some("apps/web"));
        assert_eq!(get("app.path.basename"), Some("web"));
        assert_eq!(get("app.path.filename"), Some("config.json"));
        assert_eq!(get("app.path[0]"), Some("apps"));
        assert_eq!(get("values.where"), Some("web-payments"));
        assert_eq!(params.iter().filter(|(n, _)| n == "values.where").count(), 1);
    }

    #[test]
    fn file_fields_are_flattened_as_argo_cd_flattens_them() {
        let mut params = Params::new();
        flatten_all(
            &node("cluster: {name: east, zones: [a, b]}\nsize: 3\nempty:\n"),
            "",
            &mut params,
        );
        assert_eq!(
            params,
            [
                ("cluster.name".to_string(), "east".to_string()),
                ("cluster.zones.0".to_string(), "a".to_string()),
                ("cluster.zones.1".to_string(), "b".to_string()),
                ("size".to_string(), "3".to_string()),
                ("empty".to_string(), "<nil>".to_string()),
            ]
        );
    }
}
