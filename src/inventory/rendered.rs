//! The build units of the tree, built (docs/RENDER.md, "Build units"): each cluster entry (a
//! Flux Kustomization or an Argo CD Application whose path is in the tree), then every
//! kustomization that nothing includes and no cluster entry reached. A file a unit that built
//! reached is linted as the unit renders it; the files of a unit that failed are linted as they
//! are written (and the failure is an error).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use super::kustomize::{FluxTarget, Layout};
use crate::error::Problem;
use crate::load::source::{SourceFile, Span};
use crate::load::{LoadedFile, Node};
use crate::render::kustomize::{BuildError, Disk, Loaded, Read};
use crate::render::tree::{Origin, Tree};

/// A build unit.
#[derive(Debug)]
pub struct Unit {
    /// How reports name it: `Flux Kustomization flux-system/apps (clusters/prod/apps.yaml)`, or
    /// `kustomization overlays/prod`.
    pub name: Arc<str>,
    /// The cluster entry's `spec.path` (file index, span), for a unit a cluster entry builds.
    pub entry: Option<(usize, Span)>,
    /// The cluster that receives what it builds: the name of the top unit of its chain of cluster
    /// entries (a unit that no other unit deploys is its own).
    pub cluster: Arc<str>,
}

/// How a rendered object came to be.
#[derive(Debug)]
pub struct Rendering {
    pub unit: Arc<Unit>,
    /// What findings on the object carry (made once the inventory numbered every file).
    pub trace: Option<crate::finding::Trace>,
    /// Where the source file changes from the root's: JSON pointers with inventory file indexes.
    pub origins: Vec<Origin>,
    /// The kustomization entries (file index, span) that led to the object's file, outermost
    /// first.
    pub via: Vec<(usize, Span)>,
}

impl Rendering {
    /// The unit and the way to the object, as findings carry them (files are numbered as the
    /// inventory numbers them).
    #[must_use]
    pub fn trace(&self, files: &[Arc<SourceFile>]) -> crate::finding::Trace {
        let location = |&(file, span): &(usize, Span)| crate::finding::Location {
            source: Arc::clone(&files[file]),
            span,
        };
        crate::finding::Trace {
            unit: Arc::clone(&self.unit.name),
            via: self.unit.entry.iter().chain(&self.via).map(location).collect(),
        }
    }

    /// The inventory file of the field at `pointer` of an object whose root is in `root_file`.
    #[must_use]
    pub fn file_at(&self, root_file: usize, pointer: &str) -> usize {
        let root = u32::try_from(root_file).unwrap_or(u32::MAX);
        crate::render::tree::file_at(root, &self.origins, pointer) as usize
    }
}

/// A rendered object, before the inventory places it.
pub(crate) struct RenderedObject {
    pub file: usize,
    pub document: usize,
    pub root: Node,
    pub rendering: Rendering,
    /// The target (deployer) of the unit, if a cluster entry.
    pub target: Option<usize>,
}

/// What rendering gives the inventory.
#[derive(Default)]
pub(crate) struct Rendered {
    pub objects: Vec<RenderedObject>,
    /// Loaded files a unit that built reached (their objects are the rendered ones).
    pub reached: Vec<bool>,
    /// Files a build read that the loader did not (env files, files outside the linted tree):
    /// numbered after the loaded files.
    pub extra_files: Vec<Arc<SourceFile>>,
    pub problems: Vec<Problem>,
    pub units: Vec<Arc<Unit>>,
}

/// Stack of a build thread (reserved, not used, until a build goes deep).
const BUILD_STACK: usize = 64 << 20;

/// A unit to build.
struct Plan {
    name: String,
    /// Absolute directory to build.
    dir: PathBuf,
    /// The directory that stands for `/`: nothing outside it is read.
    root: PathBuf,
    /// The target (cluster entry) it builds, if any.
    target: Option<usize>,
}

/// What one unit's build gave.
type Outcome = std::result::Result<(Vec<Tree>, Vec<Read>), BuildError>;

/// Builds every unit of the tree.
pub(crate) fn render(
    files: &[LoadedFile],
    roots: &[PathBuf],
    layout: &Layout,
    targets: &[FluxTarget],
    cwd: &Path,
    limits: crate::load::Limits,
) -> Rendered {
    let mut rendered = Rendered { reached: vec![false; files.len()], ..Rendered::default() };
    if layout.root_configs.is_empty() && layout.target_dirs.iter().all(Option::is_none) {
        return rendered;
    }
    let loaded: HashMap<PathBuf, Loaded<'_>> = files
        .iter()
        .enumerate()
        .filter_map(|(index, f)| {
            let path = f.source.path.clone()?;
            Some((path, Loaded { index, documents: &f.documents, broken: f.broken }))
        })
        .collect();
    let show = |p: &Path| crate::load::discover::display_path(p, cwd);
    let sources = substitution_sources(files);
    let mut plans: Vec<Plan> = targets
        .iter()
        .zip(&layout.target_dirs)
        .enumerate()
        .filter_map(|(i, (t, dir))| {
            let dir = dir.as_ref()?;
            let root = build_root(dir, roots)?;
            let defined = t.defined_in.as_deref().map(show).unwrap_or_default();
            Some(Plan {
                name: format!("{} ({defined})", t.owner.label),
                dir: dir.clone(),
                root,
                target: Some(i),
            })
        })
        .collect();
    // Builds recurse through nested kustomizations and through documents (as deep as the
    // depth limit lets them nest): their threads get stacks to match.
    let pool = rayon::ThreadPoolBuilder::new().stack_size(BUILD_STACK).build().ok();
    let in_pool = |job: &(dyn Fn() -> Vec<Outcome> + Sync)| match &pool {
        Some(pool) => pool.install(job),
        None => job(),
    };
    let cluster_outcomes: Vec<Outcome> = in_pool(&|| {
        plans.par_iter().map(|p| build(p, targets, &loaded, &sources, limits)).collect()
    });
    // Kustomizations no cluster entry reached are units of their own.
    let mut reached_by_entries = vec![false; files.len()];
    for (_, reads) in cluster_outcomes.iter().flatten() {
        for i in reads.iter().filter(|r| r.built).filter_map(|r| r.loaded) {
            reached_by_entries[i] = true;
        }
    }
    let kustomization_read = |dir: &Path| {
        crate::inventory::kustomize::KUSTOMIZATION_FILE_NAMES
            .iter()
            .any(|n| loaded.get(&dir.join(n)).is_some_and(|l| reached_by_entries[l.index]))
    };
    let first_root = plans.len();
    for dir in &layout.root_configs {
        // A cluster entry builds it (or failed to, which was reported once).
        if kustomization_read(dir) || plans.iter().any(|p| p.dir == *dir) {
            continue;
        }
        let Some(root) = build_root(dir, roots) else { continue };
        plans.push(Plan {
            name: format!("kustomization {}", show(dir)),
            dir: dir.clone(),
            root,
            target: None,
        });
    }
    let root_outcomes: Vec<Outcome> = in_pool(&|| {
        plans[first_root..]
            .par_iter()
            .map(|p| build(p, targets, &loaded, &sources, limits))
            .collect()
    });
    let outcomes: Vec<Outcome> = cluster_outcomes.into_iter().chain(root_outcomes).collect();
    let mut extra: HashMap<PathBuf, usize> = HashMap::new();
    let units = units_of(&plans, targets, &outcomes, &loaded);
    for ((plan, outcome), unit) in plans.iter().zip(outcomes).zip(&units) {
        match outcome {
            Ok((objects, reads)) => {
                let numbers: Vec<usize> = reads
                    .iter()
                    .map(|r| {
                        file_number(r, files.len(), &mut extra, &mut rendered.extra_files, &show)
                    })
                    .collect();
                for r in reads.iter().filter(|r| r.built) {
                    if let Some(i) = r.loaded {
                        rendered.reached[i] = true;
                    }
                }
                for tree in objects {
                    rendered.objects.push(object(tree, &reads, &numbers, files, unit, plan.target));
                }
            }
            Err(e) => rendered.problems.push(problem(&e, plan, &show)),
        }
    }
    rendered.units = units;
    rendered
}

/// The ConfigMaps and Secrets of the tree, for `postBuild.substituteFrom`.
fn substitution_sources(files: &[LoadedFile]) -> crate::render::flux::Sources {
    let mut sources = crate::render::flux::Sources::new();
    for file in files {
        let Some(path) = &file.source.path else { continue };
        for doc in &file.documents {
            let text = |p: &[&str]| doc.root.at(p).and_then(Node::as_str).unwrap_or("");
            let kind = text(&["kind"]);
            if text(&["apiVersion"]) != "v1" || !(kind == "ConfigMap" || kind == "Secret") {
                continue;
            }
            let key = (
                text(&["metadata", "namespace"]).to_string(),
                kind.to_string(),
                text(&["metadata", "name"]).to_string(),
            );
            sources.entry(key).or_insert_with(|| (path.clone(), doc.index));
        }
    }
    sources
}

/// The directory a unit's build may read: the repository holding it (the nearest directory
/// above with `.git`, within or above the linted root that holds it), else that linted root.
fn build_root(dir: &Path, roots: &[PathBuf]) -> Option<PathBuf> {
    let linted = roots.iter().filter(|r| dir.starts_with(r)).max_by_key(|r| r.as_os_str().len())?;
    Some(linted.ancestors().find(|d| d.join(".git").exists()).unwrap_or(linted).to_path_buf())
}

fn build(
    plan: &Plan,
    targets: &[FluxTarget],
    loaded: &HashMap<PathBuf, Loaded<'_>>,
    sources: &crate::render::flux::Sources,
    limits: crate::load::Limits,
) -> Outcome {
    let disk = Disk::with_loaded(&plan.root, loaded, limits);
    let inside = |p: &Path| Path::new("/").join(p.strip_prefix(&plan.root).unwrap_or(p));
    let dir = inside(&plan.dir);
    let objects = crate::panic::catch(|| match plan.target.map(|t| &targets[t]) {
        Some(t) if t.flux => {
            let file = t.defined_in.as_deref().map(inside).unwrap_or_default();
            crate::render::flux::build(&disk, &file, t.document, &dir, sources)
        }
        Some(t) => {
            let file = t.defined_in.as_deref().map(inside).unwrap_or_default();
            crate::render::argo::build(&disk, &file, t.document, &dir)
        }
        None => crate::render::kustomize::build(&disk, &dir),
    })
    .unwrap_or_else(|message| {
        Err(BuildError {
            file: crate::load::discover::display_path(&plan.dir, &plan.root),
            line: None,
            message: crate::panic::internal_error("building it", &message),
        })
    })?;
    Ok((objects, disk.into_files()))
}

/// The units, with their clusters: a cluster entry defined in a file another unit's build read
/// is deployed by that unit, and belongs to its cluster.
fn units_of(
    plans: &[Plan],
    targets: &[FluxTarget],
    outcomes: &[Outcome],
    loaded: &HashMap<PathBuf, Loaded<'_>>,
) -> Vec<Arc<Unit>> {
    let parent: Vec<Option<usize>> = plans
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let file = targets.get(p.target?)?.defined_in.as_deref()?;
            let index = loaded.get(file)?.index;
            outcomes.iter().enumerate().position(|(j, o)| {
                j != i
                    && plans[j].target.is_some()
                    && o.as_ref().is_ok_and(|(_, reads)| {
                        reads.iter().any(|r| r.built && r.loaded == Some(index))
                    })
            })
        })
        .collect();
    plans
        .iter()
        .enumerate()
        .map(|(i, plan)| {
            let mut top = i;
            let mut seen = vec![i];
            while let Some(up) = parent[top].filter(|u| !seen.contains(u)) {
                seen.push(up);
                top = up;
            }
            let entry = plan.target.and_then(|t| {
                let file = targets[t].defined_in.as_deref()?;
                let loaded = loaded.get(file)?;
                let doc = loaded.documents.iter().find(|d| d.index == targets[t].document)?;
                let span = doc.root.at(&["spec", "path"]).map_or(doc.root.span, |p| p.span);
                Some((loaded.index, span))
            });
            Arc::new(Unit {
                name: plan.name.as_str().into(),
                entry,
                cluster: plans[top].name.as_str().into(),
            })
        })
        .collect()
}

/// The inventory number of a file a build read (a file the loader did not read is added).
fn file_number(
    read: &Read,
    loaded_count: usize,
    extra: &mut HashMap<PathBuf, usize>,
    extra_files: &mut Vec<Arc<SourceFile>>,
    show: &dyn Fn(&Path) -> String,
) -> usize {
    if let Some(i) = read.loaded {
        return i;
    }
    let on_disk = read.real.clone().unwrap_or_else(|| read.path.clone());
    *extra.entry(on_disk.clone()).or_insert_with(|| {
        let text: Box<str> = read.text.as_deref().unwrap_or("").into();
        extra_files.push(Arc::new(SourceFile::new(show(&on_disk), Some(on_disk), text)));
        loaded_count + extra_files.len() - 1
    })
}

fn object(
    tree: Tree,
    reads: &[Read],
    numbers: &[usize],
    files: &[LoadedFile],
    unit: &Arc<Unit>,
    target: Option<usize>,
) -> RenderedObject {
    let number = |n: u32| numbers.get(n as usize).copied().unwrap_or(0);
    let root_read = &reads[tree.file as usize];
    let file = number(tree.file);
    let via = root_read.via.iter().map(|&(f, span)| (number(f), span)).collect();
    let (root, origins) = tree.into_node();
    let origins = origins
        .into_iter()
        .map(|o| Origin {
            file: u32::try_from(number(o.file)).unwrap_or(u32::MAX),
            pointer: o.pointer,
        })
        .collect();
    // The document of the file that holds the object's root.
    let document = files
        .get(file)
        .and_then(|f| f.documents.iter().rev().find(|d| d.root.span.start <= root.span.start))
        .map_or(0, |d| d.index);
    RenderedObject {
        file,
        document,
        root,
        rendering: Rendering { unit: Arc::clone(unit), trace: None, origins, via },
        target,
    }
}

fn problem(e: &BuildError, plan: &Plan, show: &dyn Fn(&Path) -> String) -> Problem {
    // Build paths are from the build's root (`/base/x.yaml`); shown as every other path.
    let file = show(&plan.root.join(e.file.trim_start_matches('/')));
    let pos = e.line.map(|line| crate::load::source::Pos { line, col: 0 });
    Problem::new(
        file,
        pos,
        format!("{}: {} (its files are linted as written)", plan.name, e.message),
    )
}
