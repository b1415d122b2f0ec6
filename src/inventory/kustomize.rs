//! Namespaces set by Kustomize and Flux, computed the way the cluster will see them.
//!
//! Kustomize's `namespace:` overrides the namespace of every namespaced resource it includes,
//! and an outer kustomization overrides an inner one. A Flux Kustomization with
//! `spec.targetNamespace` acts as the outermost kustomization over `spec.path` (relative to the
//! root of the linted tree); when that directory has no kustomization.yaml, Flux includes every
//! manifest below it.
//!
//! `spec.path` is relative to the root of the source repository, which the tree does not name:
//! it is resolved against each ancestor of the directory holding the Flux Kustomization (the
//! nearest one where the path exists wins), then against the linted roots.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::load::discover::normalize;
use crate::load::{LoadedFile, Node};

/// A kustomize config (kustomization.yaml) found in the tree.
#[derive(Debug, Default)]
struct KustomizeConfig {
    namespace: Option<String>,
    /// `resources`, `bases` and `components` entries, relative to the file's directory.
    entries: Vec<String>,
    /// `patchesStrategicMerge` entries and `patches[].path`, relative to the file's directory.
    patches: Vec<String>,
}

/// A deployer of a path: a Flux Kustomization, or an Argo CD Application.
#[derive(Debug)]
pub(crate) struct FluxTarget {
    /// The file that defines the deployer.
    pub defined_in: Option<PathBuf>,
    pub path: String,
    /// Namespace forced on every namespaced object (Flux `targetNamespace`).
    pub target_namespace: Option<String>,
    /// Namespace for objects that name none (Argo CD `destination.namespace`).
    pub default_namespace: Option<String>,
    pub owner: std::sync::Arc<super::Deployer>,
}

/// What the kustomize and Flux configs of the tree say about its files, by file index.
#[derive(Debug, Default)]
pub(crate) struct Layout {
    /// Namespace assigned to each file, when one is.
    pub namespaces: Vec<Option<String>>,
    /// The deployer (index into the targets) of each file.
    pub deployer: Vec<Option<usize>>,
    /// Files kustomizations use as patches: partial objects, not objects of their own.
    pub patch_files: Vec<bool>,
}

pub(crate) const KUSTOMIZATION_FILE_NAMES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Whether a document is a kustomize config (rather than a Kubernetes object).
pub(crate) fn is_kustomize_config(root: &Node, file: &Path) -> bool {
    let api = root.get("apiVersion").and_then(Node::as_str).unwrap_or("");
    if api.starts_with("kustomize.config.k8s.io/") {
        return true;
    }
    api.is_empty()
        && file
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| KUSTOMIZATION_FILE_NAMES.contains(&n))
}

/// The key of every table here: a path as an `OsStr`, which hashes and compares as bytes.
/// Paths are normalised, so equal paths have equal bytes; hashing `Path` itself goes component
/// by component, which dominated this stage on large fleets.
fn key(path: &Path) -> &OsStr {
    path.as_os_str()
}

/// Namespaces, deployers and patch files of the tree.
pub(crate) fn layout(files: &[LoadedFile], roots: &[PathBuf], flux: &[FluxTarget]) -> Layout {
    let mut configs: HashMap<&OsStr, KustomizeConfig> = HashMap::new();
    let mut file_index: HashMap<&OsStr, usize> = HashMap::with_capacity(files.len());
    for (index, file) in files.iter().enumerate() {
        let Some(path) = file.source.path.as_deref() else {
            continue;
        };
        file_index.insert(key(path), index);
        let Some(dir) = path.parent() else { continue };
        let is_config_file = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| KUSTOMIZATION_FILE_NAMES.contains(&n));
        if !is_config_file {
            continue;
        }
        for doc in &file.documents {
            if is_kustomize_config(&doc.root, path) {
                configs.insert(key(dir), read_config(&doc.root));
            }
        }
    }
    // Sorted by bytes: the files below `dir` are the ones starting with `dir/`, one range.
    let mut sorted_files: Vec<&OsStr> = file_index.keys().copied().collect();
    sorted_files.sort_unstable();
    let below = |dir: &OsStr| -> &[&OsStr] {
        let mut prefix = dir.to_owned();
        prefix.push("/");
        let from = sorted_files.partition_point(|f| *f < prefix.as_os_str());
        let len = sorted_files[from..]
            .iter()
            .take_while(|f| f.as_encoded_bytes().starts_with(prefix.as_encoded_bytes()))
            .count();
        &sorted_files[from..from + len]
    };
    let mut walk = Walk {
        configs: &configs,
        file_index: &file_index,
        assigned: vec![None; files.len()],
        deployer: vec![None; files.len()],
        current: None,
    };

    // Flux targets first: they are applied last by the cluster, so they win.
    for (index, target) in flux.iter().enumerate() {
        walk.current = Some(index);
        let rel = target.path.trim_start_matches("./");
        let bases = target
            .defined_in
            .iter()
            .flat_map(|f| f.ancestors().skip(1))
            .chain(roots.iter().map(PathBuf::as_path));
        // A directory exists for us when it has a config or holds a loaded file at any depth
        // (the files below a directory are one range of the sorted list).
        let exists = |dir: &OsStr| configs.contains_key(dir) || !below(dir).is_empty();
        let Some(dir) = bases.map(|b| normalize(&b.join(rel))).find(|d| exists(key(d))) else {
            continue;
        };
        let namespace = target.target_namespace.as_deref();
        if configs.contains_key(key(&dir)) {
            walk.visit(key(&dir), namespace, &mut HashSet::new());
        } else {
            for file in below(key(&dir)) {
                walk.reach(file_index[file], namespace);
            }
        }
    }
    walk.current = None;
    // Then kustomize roots (configs no other config includes), so the outermost namespace wins.
    let included: HashSet<PathBuf> = configs
        .iter()
        .flat_map(|(dir, c)| c.entries.iter().map(move |e| normalize(&dir_path(dir).join(e))))
        .collect();
    let mut config_dirs: Vec<&OsStr> = configs.keys().copied().collect();
    config_dirs.sort_unstable();
    let (roots_first, rest): (Vec<&OsStr>, Vec<&OsStr>) =
        config_dirs.into_iter().partition(|d| !included.contains(dir_path(d)));
    for dir in roots_first.into_iter().chain(rest) {
        walk.visit(dir, None, &mut HashSet::new());
    }
    let mut patch_files = vec![false; files.len()];
    for (dir, config) in &configs {
        for patch in &config.patches {
            if let Some(&i) = file_index.get(key(&normalize(&dir_path(dir).join(patch)))) {
                patch_files[i] = true;
            }
        }
    }
    Layout { namespaces: walk.assigned, deployer: walk.deployer, patch_files }
}

/// A table key back as a path.
fn dir_path(key: &OsStr) -> &Path {
    Path::new(key)
}

fn read_config(root: &Node) -> KustomizeConfig {
    let namespace =
        root.get("namespace").and_then(Node::as_str).filter(|s| !s.is_empty()).map(String::from);
    let entries = ["resources", "bases", "components"]
        .iter()
        .filter_map(|k| root.get(k).and_then(Node::as_seq))
        .flatten()
        .filter_map(Node::as_str)
        .filter(|e| !e.contains("://") && !e.starts_with("github.com/"))
        .map(String::from)
        .collect();
    let strategic = root
        .get("patchesStrategicMerge")
        .and_then(Node::as_seq)
        .unwrap_or(&[])
        .iter()
        .filter_map(Node::as_str);
    let paths = ["patches", "patchesJson6902"]
        .iter()
        .filter_map(|k| root.get(k).and_then(Node::as_seq))
        .flatten()
        .filter_map(|p| p.get("path").and_then(Node::as_str));
    let patches = strategic.chain(paths).filter(|p| !p.contains('\n')).map(String::from).collect();
    KustomizeConfig { namespace, entries, patches }
}

struct Walk<'a> {
    configs: &'a HashMap<&'a OsStr, KustomizeConfig>,
    file_index: &'a HashMap<&'a OsStr, usize>,
    assigned: Vec<Option<String>>,
    deployer: Vec<Option<usize>>,
    /// The Flux Kustomization being walked, if any.
    current: Option<usize>,
}

impl<'a> Walk<'a> {
    /// A file is reached: it gets the namespace (when one is set) and the current deployer.
    fn reach(&mut self, file: usize, namespace: Option<&str>) {
        if let (Some(ns), slot @ None) = (namespace, &mut self.assigned[file]) {
            *slot = Some(ns.to_string());
        }
        if let (Some(d), slot @ None) = (self.current, &mut self.deployer[file]) {
            *slot = Some(d);
        }
    }

    fn visit(&mut self, dir: &OsStr, outer: Option<&str>, seen: &mut HashSet<&'a OsStr>) {
        let Some((&dir, config)) = self.configs.get_key_value(dir) else {
            return;
        };
        if !seen.insert(dir) {
            return;
        }
        let namespace = outer.or(config.namespace.as_deref());
        for entry in &config.entries {
            let target = normalize(&dir_path(dir).join(entry));
            if let Some(&file) = self.file_index.get(key(&target)) {
                self.reach(file, namespace);
            } else if self.configs.contains_key(key(&target)) {
                self.visit(key(&target), namespace, seen);
            }
        }
    }
}
