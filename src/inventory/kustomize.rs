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
    pub owner: super::Deployer,
}

/// What the kustomize and Flux configs of the tree say about its files.
#[derive(Debug, Default)]
pub(crate) struct Layout {
    /// Namespace assigned to each file (absolute path), when one is.
    pub namespaces: HashMap<PathBuf, String>,
    /// The deployer (index into the targets) of each file.
    pub deployer: HashMap<PathBuf, usize>,
    /// Files kustomizations use as patches: partial objects, not objects of their own.
    pub patch_files: HashSet<PathBuf>,
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

/// Namespaces, deployers and patch files of the tree.
pub(crate) fn layout(files: &[LoadedFile], roots: &[PathBuf], flux: &[FluxTarget]) -> Layout {
    // Hash lookups: `Path` ordering compares component by component, which dominated this
    // function on large fleets. Sorted vectors keep the walk order deterministic.
    let mut configs: HashMap<PathBuf, KustomizeConfig> = HashMap::new();
    let mut known_files: HashSet<&Path> = HashSet::with_capacity(files.len());
    for file in files {
        let Some(path) = file.source.path.as_deref() else {
            continue;
        };
        known_files.insert(path);
        let Some(dir) = path.parent() else { continue };
        for doc in &file.documents {
            if is_kustomize_config(&doc.root, path)
                && path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| KUSTOMIZATION_FILE_NAMES.contains(&n))
            {
                configs.insert(dir.to_path_buf(), read_config(&doc.root));
            }
        }
    }
    // Sorted by bytes (cheaper than `Path`'s component order): the files below `dir` are the
    // ones starting with `dir/`, one contiguous range.
    let mut sorted_files: Vec<&Path> = known_files.iter().copied().collect();
    sorted_files.sort_unstable_by(|a, b| a.as_os_str().cmp(b.as_os_str()));
    let below = |dir: &Path| -> &[&Path] {
        let mut prefix = dir.as_os_str().to_owned();
        prefix.push("/");
        let from = sorted_files.partition_point(|f| f.as_os_str() < prefix.as_os_str());
        let len = sorted_files[from..]
            .iter()
            .take_while(|f| f.as_os_str().as_encoded_bytes().starts_with(prefix.as_encoded_bytes()))
            .count();
        &sorted_files[from..from + len]
    };
    let mut config_dirs: Vec<&PathBuf> = configs.keys().collect();
    config_dirs.sort_unstable();
    let mut walk = Walk {
        configs: &configs,
        known_files: &known_files,
        assigned: HashMap::new(),
        deployer: HashMap::new(),
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
        let exists = |dir: &Path| configs.contains_key(dir) || !below(dir).is_empty();
        let Some(dir) = bases.map(|b| normalize(&b.join(rel))).find(|d| exists(d)) else {
            continue;
        };
        if configs.contains_key(&dir) {
            walk.visit(&dir, target.target_namespace.as_deref(), &mut HashSet::new());
        } else {
            for file in below(&dir) {
                walk.reach(file, target.target_namespace.as_deref());
            }
        }
    }
    walk.current = None;
    // Then kustomize roots (configs no other config includes), so the outermost namespace wins.
    let included: HashSet<PathBuf> = configs
        .iter()
        .flat_map(|(dir, c)| c.entries.iter().map(move |e| normalize(&dir.join(e))))
        .collect();
    let (roots_first, rest): (Vec<&PathBuf>, Vec<&PathBuf>) =
        config_dirs.iter().copied().partition(|d| !included.contains(*d));
    for dir in roots_first.into_iter().chain(rest) {
        walk.visit(dir, None, &mut HashSet::new());
    }
    let patch_files = configs
        .iter()
        .flat_map(|(dir, c)| c.patches.iter().map(move |p| normalize(&dir.join(p))))
        .collect();
    Layout { namespaces: walk.assigned, deployer: walk.deployer, patch_files }
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
    configs: &'a HashMap<PathBuf, KustomizeConfig>,
    known_files: &'a HashSet<&'a Path>,
    assigned: HashMap<PathBuf, String>,
    deployer: HashMap<PathBuf, usize>,
    /// The Flux Kustomization being walked, if any.
    current: Option<usize>,
}

impl Walk<'_> {
    /// A file is reached: it gets the namespace (when one is set) and the current deployer.
    fn reach(&mut self, file: &Path, namespace: Option<&str>) {
        if let Some(ns) = namespace {
            self.assigned.entry(file.to_path_buf()).or_insert_with(|| ns.to_string());
        }
        if let Some(d) = self.current {
            self.deployer.entry(file.to_path_buf()).or_insert(d);
        }
    }

    fn visit(&mut self, dir: &Path, outer: Option<&str>, seen: &mut HashSet<PathBuf>) {
        if !seen.insert(dir.to_path_buf()) {
            return;
        }
        let Some(config) = self.configs.get(dir) else {
            return;
        };
        let namespace = outer.or(config.namespace.as_deref());
        for entry in &config.entries {
            let target = normalize(&dir.join(entry));
            if self.known_files.contains(target.as_path()) {
                self.reach(&target, namespace);
            } else if self.configs.contains_key(&target) {
                self.visit(&target, namespace, seen);
            }
        }
    }
}
