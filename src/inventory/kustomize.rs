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

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::Bound;
use std::path::{Path, PathBuf};

use crate::load::discover::normalize;
use crate::load::{LoadedFile, Node};

/// A kustomize config (kustomization.yaml) found in the tree.
#[derive(Debug, Default)]
struct KustomizeConfig {
    namespace: Option<String>,
    /// `resources`, `bases` and `components` entries, relative to the file's directory.
    entries: Vec<String>,
}

/// A Flux Kustomization that sets a target namespace.
#[derive(Debug)]
pub(crate) struct FluxTarget {
    /// The file that defines the Flux Kustomization.
    pub defined_in: Option<PathBuf>,
    pub path: String,
    pub target_namespace: String,
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

/// Namespace assigned by kustomize or Flux to each file (absolute path), when one is.
pub(crate) fn assigned_namespaces(
    files: &[LoadedFile],
    roots: &[PathBuf],
    flux: &[FluxTarget],
) -> HashMap<PathBuf, String> {
    let mut configs: BTreeMap<PathBuf, KustomizeConfig> = BTreeMap::new();
    let mut known_files: BTreeSet<&Path> = BTreeSet::new();
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
    // Every directory that holds a loaded file, at any depth.
    let dirs_with_files: HashSet<&Path> =
        known_files.iter().flat_map(|f| f.ancestors().skip(1)).collect();
    let mut walk = Walk { configs: &configs, known_files: &known_files, assigned: HashMap::new() };

    // Flux targets first: they are applied last by the cluster, so they win.
    for target in flux {
        let rel = target.path.trim_start_matches("./");
        let bases = target
            .defined_in
            .iter()
            .flat_map(|f| f.ancestors().skip(1))
            .chain(roots.iter().map(PathBuf::as_path));
        let exists = |dir: &Path| configs.contains_key(dir) || dirs_with_files.contains(dir);
        let Some(dir) = bases.map(|b| normalize(&b.join(rel))).find(|d| exists(d)) else {
            continue;
        };
        if configs.contains_key(&dir) {
            walk.visit(&dir, Some(&target.target_namespace), &mut HashSet::new());
        } else {
            // Paths order component by component, so the files below `dir` are one range.
            let below: Vec<&Path> = known_files
                .range::<Path, _>((Bound::Included(dir.as_path()), Bound::Unbounded))
                .copied()
                .take_while(|f| f.starts_with(&dir))
                .collect();
            for file in below {
                walk.assign(file, &target.target_namespace);
            }
        }
    }
    // Then kustomize roots (configs no other config includes), so the outermost namespace wins.
    let included: HashSet<PathBuf> = configs
        .iter()
        .flat_map(|(dir, c)| c.entries.iter().map(move |e| normalize(&dir.join(e))))
        .collect();
    let (roots_first, rest): (Vec<&PathBuf>, Vec<&PathBuf>) =
        configs.keys().partition(|d| !included.contains(*d));
    for dir in roots_first.into_iter().chain(rest) {
        walk.visit(dir, None, &mut HashSet::new());
    }
    walk.assigned
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
    KustomizeConfig { namespace, entries }
}

struct Walk<'a> {
    configs: &'a BTreeMap<PathBuf, KustomizeConfig>,
    known_files: &'a BTreeSet<&'a Path>,
    assigned: HashMap<PathBuf, String>,
}

impl Walk<'_> {
    fn assign(&mut self, file: &Path, namespace: &str) {
        self.assigned.entry(file.to_path_buf()).or_insert_with(|| namespace.to_string());
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
                if let Some(ns) = namespace {
                    self.assign(&target, ns);
                }
            } else if self.configs.contains_key(&target) {
                self.visit(&target, namespace, seen);
            }
        }
    }
}
