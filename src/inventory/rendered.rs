//! What the build units render, as the inventory takes it (docs/RENDER.md): objects with the
//! file of every field, the unit that built them and the way there. The units are found and
//! built in [`super::units`]. A file a unit that built reached is linted as the unit renders
//! it; the files of a unit that failed are linted as they are written (and the failure is an
//! error).

use std::path::Path;
use std::sync::Arc;

use crate::error::Problem;
use crate::load::source::{SourceFile, Span};
use crate::load::{LoadedFile, Node};
use crate::render::kustomize::{BuildError, Read};
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

/// The kustomization entries (inventory file index, span) that led a unit to a file, outermost
/// first.
pub type Via = Vec<(usize, Span)>;

/// How a rendered object came to be. Units of different clusters that render an object
/// identically (the same fields from the same places: a base that staging and production both
/// deploy unchanged) share it, so that it is checked once.
#[derive(Debug)]
pub struct Rendering {
    /// The units that render it, each with the kustomization entries (file index, span) that
    /// led to the object's file, outermost first. No two are of one cluster.
    pub units: Vec<(Arc<Unit>, Via)>,
    /// What findings on the object carry, per unit: made for the first finding (most objects
    /// have none), from the files as the inventory numbers them.
    traces: std::sync::OnceLock<Arc<[crate::finding::Trace]>>,
    /// Where the source file changes from the root's: JSON pointers with inventory file indexes.
    pub origins: Vec<Origin>,
}

impl Rendering {
    /// The units and the ways to the object, as findings carry them; `files`: the inventory's
    /// (whose numbers the units and ways use).
    #[must_use]
    pub fn traces(&self, files: &[Arc<SourceFile>]) -> &Arc<[crate::finding::Trace]> {
        self.traces.get_or_init(|| {
            let location = |&(file, span): &(usize, Span)| crate::finding::Location {
                source: Arc::clone(&files[file]),
                span,
            };
            self.units
                .iter()
                .map(|(unit, via)| crate::finding::Trace {
                    unit: Arc::clone(&unit.name),
                    cluster: Arc::clone(&unit.cluster),
                    via: unit.entry.iter().chain(via).map(location).collect(),
                })
                .collect()
        })
    }

    /// The clusters that receive the object.
    pub fn clusters(&self) -> impl Iterator<Item = &str> {
        self.units.iter().map(|(u, _)| &*u.cluster)
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
    pub root: Root,
    /// Where its root starts in `file`.
    pub at: crate::load::source::Pos,
    pub rendering: Rendering,
    /// The target (deployer) of the unit, if a cluster entry.
    pub target: Option<usize>,
}

/// A rendered object's root.
#[derive(Debug)]
pub(crate) enum Root {
    /// What the build made of it (changed, or not from a file the loader read).
    Built(Node),
    /// The object as its file has it: every field from that file, nothing changed. The loaded
    /// document stands for it (no copy is kept while the other units build).
    Written,
}

impl PartialEq for Root {
    /// Two written roots at one place (the caller compares places) are the same document.
    fn eq(&self, other: &Root) -> bool {
        match (self, other) {
            (Root::Built(a), Root::Built(b)) => a == b,
            (Root::Written, Root::Written) => true,
            _ => false,
        }
    }
}

/// An object a unit's patch deleted (`$patch: delete`) or a chart's values switch left out: the
/// cluster does not receive it.
#[derive(Debug)]
pub struct Removed {
    pub root: Node,
    pub unit: Arc<Unit>,
    /// The patch line that deletes it (inventory file index, span), or the `false` of the
    /// values switch that left it out of a chart.
    pub cause: (usize, Span),
    /// Left out by a chart's values switch, not deleted by a patch.
    pub switch: bool,
}

impl Removed {
    /// The object's namespace as written (before the deleting patch), or `""`.
    #[must_use]
    pub fn namespace(&self) -> &str {
        self.root.at(&["metadata", "namespace"]).and_then(Node::as_str).unwrap_or("")
    }

    #[must_use]
    pub fn kind(&self) -> &str {
        self.root.get("kind").and_then(Node::as_str).unwrap_or("")
    }
}

/// What rendering gives the inventory.
#[derive(Default)]
pub(crate) struct Rendered {
    pub objects: Vec<RenderedObject>,
    /// Objects the units' patches deleted.
    pub deleted: Vec<Removed>,
    /// Loaded files a unit that built reached (their objects are the rendered ones).
    pub reached: Vec<bool>,
    /// Files a build read that the loader did not (env files, files outside the linted tree):
    /// numbered after the loaded files.
    pub extra_files: Vec<Arc<SourceFile>>,
    pub problems: Vec<Problem>,
    /// Charts a unit rendered (shown as the user sees them).
    pub charts: Vec<String>,
    /// HelmReleases whose chart could not be rendered here, each with what to pull.
    pub unrendered_releases: Vec<String>,
    /// The targets of the cluster entries charts rendered, numbered after the tree's.
    pub extra_targets: Vec<super::kustomize::FluxTarget>,
}

/// The inventory number of a file a build read (a file the loader did not read is added).
pub(super) fn file_number(
    read: &Read,
    loaded_count: usize,
    extra: &mut foldhash::HashMap<std::ffi::OsString, usize>,
    extra_files: &mut Vec<Arc<SourceFile>>,
    show: &dyn Fn(&Path) -> String,
) -> usize {
    if let Some(i) = read.loaded {
        return i;
    }
    // Looked up as bytes, and copied only the first time (a thousand releases of one chart
    // read its templates a thousand times).
    let on_disk = read.real.as_deref().unwrap_or(&read.path);
    if let Some(&number) = extra.get(on_disk.as_os_str()) {
        return number;
    }
    let text: Box<str> = read.text.as_deref().unwrap_or("").into();
    extra_files.push(Arc::new(SourceFile::new(show(on_disk), Some(on_disk.to_path_buf()), text)));
    let number = loaded_count + extra_files.len() - 1;
    extra.insert(on_disk.as_os_str().to_owned(), number);
    number
}

/// An object a build made, in the form rules read: the node (none when the build left the
/// object as its loaded file has it), where its fields' files change (build file numbers), and
/// the build number of its root's file and the root's span there.
pub(crate) struct Built {
    pub node: Option<Node>,
    pub origins: Vec<Origin>,
    pub file: u32,
    pub span: Span,
}

impl Built {
    #[must_use]
    pub(crate) fn new(tree: Tree) -> Built {
        let (file, span) = (tree.file, tree.span);
        let (node, origins) = tree.into_node();
        Built { node: Some(node), origins, file, span }
    }

    /// An object placed without a tree (a release's chart's).
    #[must_use]
    pub(crate) fn placed(placed: crate::render::tree::Placed) -> Built {
        let (file, span) = (placed.file(), placed.node.span);
        let (node, origins) = placed.into_node();
        Built { node: Some(node), origins, file, span }
    }

    /// An object the build left exactly as document `written` of a loaded file has it.
    #[must_use]
    pub(crate) fn written(tree: &Tree) -> Built {
        Built { node: None, origins: Vec::new(), file: tree.file, span: tree.span }
    }
}

/// The document of loaded file `file` that holds position `at` (an object's root).
pub(super) fn document_at(
    files: &[LoadedFile],
    file: usize,
    at: crate::load::source::Pos,
) -> Option<usize> {
    let documents = &files.get(file)?.documents;
    documents.iter().rev().find(|d| d.root.span.start() <= at).map(|d| d.index)
}

pub(super) fn object(
    built: Built,
    reads: &[Read],
    numbers: &[usize],
    files: &[LoadedFile],
    unit: &Arc<Unit>,
    target: Option<usize>,
) -> RenderedObject {
    let number = |n: u32| numbers.get(n as usize).copied().unwrap_or(0);
    let Built { node: root, origins, file: root_file, span } = built;
    let file = number(root_file);
    let via = reads
        .get(root_file as usize)
        .map(|r| r.via.iter().map(|&(f, span)| (number(f), span)).collect())
        .unwrap_or_default();
    let origins = origins
        .into_iter()
        .map(|o| Origin {
            file: u32::try_from(number(o.file)).unwrap_or(u32::MAX),
            pointer: o.pointer,
        })
        .collect();
    let document = document_at(files, file, span.start()).unwrap_or(0);
    RenderedObject {
        file,
        document,
        root: root.map_or(Root::Written, Root::Built),
        at: span.start(),
        rendering: Rendering {
            units: vec![(Arc::clone(unit), via)],
            traces: std::sync::OnceLock::new(),
            origins,
        },
        target,
    }
}

/// Rendered objects, each kept once for all the clusters that receive it identically.
#[derive(Default)]
pub(crate) struct SharedObjects {
    /// By (root file, root position, a hash of the object's kind, namespace and name): the
    /// indexes of the objects there. Objects from one place with one name are few (a chart's
    /// template renders an object for each of a thousand releases, named apart); they are
    /// compared in full.
    index: foldhash::HashMap<(usize, u32, u32, u64), Vec<usize>>,
}

/// A hash of what names an object (kind, namespace, name); 0 for one left as written: what
/// [`SharedObjects::add`] groups by, computed beforehand (on any thread).
pub(super) fn identity(root: &Root) -> u64 {
    use std::hash::BuildHasher as _;
    let Root::Built(node) = root else { return 0 };
    let text = |path: &[&str]| node.at(path).and_then(Node::as_str).unwrap_or("");
    // Fixed-seeded: the same in every run (the index only groups; it is never iterated).
    foldhash::quality::FixedState::default().hash_one((
        text(&["kind"]),
        text(&["metadata", "namespace"]),
        text(&["metadata", "name"]),
    ))
}

impl SharedObjects {
    /// Room for `more` objects of other places.
    pub(crate) fn reserve(&mut self, more: usize) {
        self.index.reserve(more);
    }

    /// Adds an object to `objects`, or, when an object of another cluster is the same (and
    /// deployed alike: `same_deployer` of their targets), the object's unit to it; returns its
    /// index.
    pub(crate) fn add(
        &mut self,
        objects: &mut Vec<RenderedObject>,
        (object, identity): (RenderedObject, u64),
        same_deployer: &dyn Fn(Option<usize>, Option<usize>) -> bool,
    ) -> usize {
        let start = object.at;
        let key = (object.file, start.line, start.col, identity);
        let candidates = self.index.entry(key).or_default();
        let cluster = &object.rendering.units[0].0.cluster;
        for &i in candidates.iter() {
            let other = &mut objects[i];
            if other.rendering.clusters().any(|c| c == &**cluster) {
                continue;
            }
            if other.rendering.origins == object.rendering.origins
                && same_deployer(other.target, object.target)
                && other.root == object.root
            {
                other.rendering.units.extend(object.rendering.units);
                return i;
            }
        }
        candidates.push(objects.len());
        objects.push(object);
        objects.len() - 1
    }
}

/// A unit that failed to build (`unit`, read below `root`), as an error of the run.
pub(super) fn problem(
    e: &BuildError,
    unit: &str,
    root: &Path,
    show: &dyn Fn(&Path) -> String,
) -> Problem {
    // Build paths are from the build's root (`/base/x.yaml`); shown as every other path.
    let file = show(&root.join(e.file.trim_start_matches('/')));
    let pos = e.line.map(|line| crate::load::source::Pos { line, col: 0 });
    Problem::new(file, pos, format!("{unit}: {} (its files are linted as written)", e.message))
}
