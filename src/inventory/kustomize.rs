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

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use foldhash::{HashMap, HashMapExt};
use rayon::prelude::*;

use crate::load::discover::normalize;
use crate::load::{LoadedFile, Node};
use crate::render::kustomize::LoadedFiles;

/// A kustomize config (kustomization.yaml) found in the tree.
#[derive(Debug, Default)]
struct KustomizeConfig {
    namespace: Option<String>,
    /// `resources`, `bases` and `components` entries, relative to the file's directory.
    entries: Vec<String>,
    /// `patchesStrategicMerge` entries and `patches[].path`, relative to the file's directory.
    patches: Vec<String>,
    /// `kind: Component`: applied by the kustomizations that name it, never deployed alone.
    component: bool,
}

/// A deployer of a path: a Flux Kustomization, or an Argo CD Application.
#[derive(Clone, Debug)]
pub(crate) struct FluxTarget {
    /// The file that defines the deployer, and the document in it.
    pub defined_in: Option<PathBuf>,
    pub document: usize,
    /// A Flux Kustomization (built with its options), else an Argo CD Application.
    pub flux: bool,
    /// Its source is this tree at this revision: its path is built here (a unit). Others still
    /// decide namespaces and tenancy of the files below their path.
    pub builds: bool,
    pub path: String,
    /// Namespace forced on every namespaced object (Flux `targetNamespace`).
    pub target_namespace: Option<String>,
    /// Namespace for objects that name none (Argo CD `destination.namespace`).
    pub default_namespace: Option<String>,
    pub owner: std::sync::Arc<super::Deployer>,
    /// For an Application an ApplicationSet makes: the generator's parameters that fill its
    /// template (the document is the ApplicationSet).
    pub params: Option<std::sync::Arc<super::appset::Params>>,
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
    /// The directory each target's path resolves to, when it is in the tree.
    pub target_dirs: Vec<Option<PathBuf>>,
    /// Directories with a kustomization that no other kustomization includes, in path order
    /// (components that nothing uses are not among them: they are not deployed alone).
    pub root_configs: Vec<PathBuf>,
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

impl FluxTarget {
    /// An Argo CD Application (of the tree, or one an ApplicationSet makes with `params`) that
    /// deploys `path` into the `destination` namespace.
    pub(super) fn argo(
        (defined_in, document): (Option<PathBuf>, usize),
        path: String,
        destination: String,
        label: String,
        params: Option<std::sync::Arc<super::appset::Params>>,
    ) -> FluxTarget {
        FluxTarget {
            defined_in,
            document,
            flux: false,
            builds: true,
            path,
            target_namespace: None,
            default_namespace: Some(destination.clone()).filter(|d| !d.is_empty()),
            owner: std::sync::Arc::new(super::Deployer { label, namespace: destination }),
            params,
        }
    }

    /// Where its path is written in its document: `spec.path` (Flux), `spec.source.path` or the
    /// first `spec.sources[].path` (Argo CD).
    pub(super) fn path_node<'n>(&self, root: &'n Node) -> Option<&'n Node> {
        if self.flux {
            return root.at(&["spec", "path"]);
        }
        root.at(&["spec", "source", "path"])
            .or_else(|| root.at(&["spec", "sources"])?.as_seq()?.iter().find_map(|s| s.get("path")))
    }

    /// [`FluxTarget::path_node`] in a rendered tree.
    pub(super) fn path_tree<'t, 'a>(
        &self,
        root: &'t crate::render::tree::Tree<'a>,
    ) -> Option<&'t crate::render::tree::Tree<'a>> {
        if self.flux {
            return root.at(&["spec", "path"]);
        }
        let root = if self.params.is_some() { root.at(&["spec", "template"])? } else { root };
        argo_path(root)
    }
}

/// Where an Argo CD Application's path is in a rendered tree: `spec.source.path`, or the first
/// `spec.sources[].path`.
pub(super) fn argo_path<'t, 'a>(
    app: &'t crate::render::tree::Tree<'a>,
) -> Option<&'t crate::render::tree::Tree<'a>> {
    use crate::render::tree::TValue;
    app.at(&["spec", "source", "path"]).or_else(|| match &app.at(&["spec", "sources"])?.value {
        TValue::Seq(sources) => sources.iter().find_map(|s| s.get("path")),
        _ => None,
    })
}

/// What a kustomization entry names, resolved once.
#[derive(Clone, Copy)]
enum Target {
    /// A loaded file (index into the files).
    File(usize),
    /// A directory with a kustomization (index into the configs).
    Config(usize),
}

/// The kustomize configs of the tree by directory.
pub(crate) struct Configs<'a> {
    index: HashMap<&'a OsStr, usize>,
    configs: Vec<(&'a Path, KustomizeConfig)>,
}

/// Reads the kustomize configs of the loaded files (in parallel), indexed in file order.
pub(crate) fn configs(files: &[LoadedFile]) -> Configs<'_> {
    let mut index: HashMap<&OsStr, usize> = HashMap::new();
    let mut configs: Vec<(&Path, KustomizeConfig)> = Vec::new();
    let read: Vec<(&Path, Vec<KustomizeConfig>)> = files
        .par_iter()
        .filter_map(|file| {
            let path = file.source.path.as_deref()?;
            let is_config_file = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| KUSTOMIZATION_FILE_NAMES.contains(&n));
            let dir = path.parent().filter(|_| is_config_file)?;
            let read: Vec<KustomizeConfig> = file
                .documents
                .iter()
                .filter(|d| is_kustomize_config(&d.root, path))
                .map(|d| read_config(&d.root))
                .collect();
            (!read.is_empty()).then_some((dir, read))
        })
        .collect();
    for (dir, read) in read {
        for config in read {
            // Two kustomization files in one directory: the last one read wins.
            if let Some(&i) = index.get(dir.as_os_str()) {
                configs[i].1 = config;
            } else {
                index.insert(dir.as_os_str(), configs.len());
                configs.push((dir, config));
            }
        }
    }
    Configs { index, configs }
}

/// Namespaces, deployers and patch files of the tree.
///
/// Tables are keyed by a path's `OsStr`, which hashes and compares as bytes (paths here are
/// normalised, so equal paths have equal bytes); hashing or comparing `Path` goes component by
/// component, which dominated this stage on large fleets. The loaded files are looked up in
/// the table the builds use (made while the deployers are found).
pub(crate) fn layout(
    (files, loaded): (&[LoadedFile], &LoadedFiles<'_>),
    roots: &[PathBuf],
    flux: &[FluxTarget],
    Configs { index: config_index, configs }: Configs<'_>,
) -> Layout {
    let lookup = |path: &Path| -> Option<Target> {
        let key = path.as_os_str();
        loaded
            .index_of(key)
            .map(Target::File)
            .or_else(|| config_index.get(key).map(|&c| Target::Config(c)))
    };
    let resolved: Vec<Vec<Target>> = configs
        .par_iter()
        .map(|(dir, c)| c.entries.iter().filter_map(|e| lookup(&normalize(&dir.join(e)))).collect())
        .collect();
    // Sorted by bytes: the files below `dir` are the ones starting with `dir/`, one range.
    let mut sorted_files: Vec<(&OsStr, usize)> = loaded.indexes().collect();
    sorted_files.par_sort_unstable();
    let below = |dir: &Path| -> &[(&OsStr, usize)] {
        let mut prefix = dir.as_os_str().to_owned();
        prefix.push("/");
        let from = sorted_files.partition_point(|(f, _)| *f < prefix.as_os_str());
        let len = sorted_files[from..]
            .iter()
            .take_while(|(f, _)| f.as_encoded_bytes().starts_with(prefix.as_encoded_bytes()))
            .count();
        &sorted_files[from..from + len]
    };
    let mut walk = Walk {
        configs: &configs,
        resolved: &resolved,
        assigned: vec![None; files.len()],
        deployer: vec![None; files.len()],
        current: None,
        seen: vec![0; configs.len()],
        round: 0,
    };

    // Flux targets first: they are applied last by the cluster, so they win.
    let mut target_dirs = vec![None; flux.len()];
    for (index, target) in flux.iter().enumerate() {
        walk.current = Some(index);
        let rel = target.path.trim_start_matches("./");
        let bases = target
            .defined_in
            .iter()
            .flat_map(|f| f.ancestors().skip(1))
            .chain(roots.iter().map(PathBuf::as_path));
        // A directory exists for us when it has a config or holds a loaded file at any depth
        // (the files below a directory are one range of the sorted list), or is a Helm chart
        // (whose files the loader leaves to the chart's rendering).
        let exists = |dir: &Path| {
            config_index.contains_key(dir.as_os_str())
                || !below(dir).is_empty()
                || dir.join("Chart.yaml").is_file()
        };
        let Some(dir) = bases.map(|b| normalize(&b.join(rel))).find(|d| exists(d)) else {
            continue;
        };
        let namespace = target.target_namespace.as_deref();
        target_dirs[index] = Some(dir.clone());
        if let Some(&config) = config_index.get(dir.as_os_str()) {
            walk.visit(config, namespace);
        } else {
            for &(_, file) in below(&dir) {
                walk.reach(file, namespace);
            }
        }
    }
    walk.current = None;
    // Then kustomize roots (configs no other config includes), so the outermost namespace
    // wins; each group in path order.
    let mut included = vec![false; configs.len()];
    for target in resolved.iter().flatten() {
        if let Target::Config(c) = *target {
            included[c] = true;
        }
    }
    let mut order: Vec<usize> = (0..configs.len()).collect();
    order.sort_unstable_by_key(|&c| (included[c], configs[c].0.as_os_str()));
    let root_configs = order
        .iter()
        .filter(|&&c| !included[c] && !configs[c].1.component)
        .map(|&c| configs[c].0.to_path_buf())
        .collect();
    for config in order {
        walk.visit(config, None);
    }
    let mut patch_files = vec![false; files.len()];
    let patches: Vec<Vec<usize>> = configs
        .par_iter()
        .map(|(dir, config)| {
            let file = |patch: &String| loaded.index_of(normalize(&dir.join(patch)).as_os_str());
            config.patches.iter().filter_map(file).collect()
        })
        .collect();
    for i in patches.into_iter().flatten() {
        patch_files[i] = true;
    }
    Layout {
        namespaces: walk.assigned,
        deployer: walk.deployer,
        patch_files,
        target_dirs,
        root_configs,
    }
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
        // A bare string is an old-style patch path (kustomize 5 rejects it, but it names a
        // patch, not an object).
        .filter_map(|p| p.as_str().or_else(|| p.get("path").and_then(Node::as_str)));
    let patches = strategic.chain(paths).filter(|p| !p.contains('\n')).map(String::from).collect();
    let component = root.get("kind").and_then(Node::as_str) == Some("Component");
    KustomizeConfig { namespace, entries, patches, component }
}

struct Walk<'a> {
    configs: &'a [(&'a Path, KustomizeConfig)],
    /// The entries of each config, resolved.
    resolved: &'a [Vec<Target>],
    assigned: Vec<Option<String>>,
    deployer: Vec<Option<usize>>,
    /// The Flux Kustomization being walked, if any.
    current: Option<usize>,
    /// The walk (`round`) that last visited each config: a config is visited once per walk.
    seen: Vec<u32>,
    round: u32,
}

impl Walk<'_> {
    /// A file is reached: it gets the namespace (when one is set) and the current deployer.
    fn reach(&mut self, file: usize, namespace: Option<&str>) {
        if let (Some(ns), slot @ None) = (namespace, &mut self.assigned[file]) {
            *slot = Some(ns.to_string());
        }
        if let (Some(d), slot @ None) = (self.current, &mut self.deployer[file]) {
            *slot = Some(d);
        }
    }

    /// Walks a config and what it includes, depth first in entry order, with an explicit stack
    /// (a chain of kustomizations is as deep as the tree makes it).
    fn visit(&mut self, root: usize, outer: Option<&str>) {
        self.round += 1;
        let configs = self.configs;
        let resolved = self.resolved;
        // (config, namespace in force, next entry)
        let mut stack: Vec<(usize, Option<&str>, usize)> = Vec::new();
        if self.first_visit(root) {
            stack.push((root, outer.or(configs[root].1.namespace.as_deref()), 0));
        }
        while let Some(top) = stack.last_mut() {
            let (config, namespace, next) = *top;
            let Some(&target) = resolved[config].get(next) else {
                stack.pop();
                continue;
            };
            top.2 += 1;
            match target {
                Target::File(file) => self.reach(file, namespace),
                Target::Config(inner) => {
                    if self.first_visit(inner) {
                        stack.push((inner, namespace.or(configs[inner].1.namespace.as_deref()), 0));
                    }
                }
            }
        }
    }

    /// Marks a config visited in this walk; false when it already was.
    fn first_visit(&mut self, config: usize) -> bool {
        let first = self.seen[config] != self.round;
        self.seen[config] = self.round;
        first
    }
}
