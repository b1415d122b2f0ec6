//! What the build units render, as the inventory takes it (docs/RENDER.md): objects with the
//! file of every field, the unit that built them and the way there. The units are found and
//! built in [`super::units`]. A file a unit that built reached is linted as the unit renders
//! it; the files of a unit that failed are linted as they are written (and the failure is an
//! error).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
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
            cluster: Arc::clone(&self.unit.cluster),
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

/// An object a unit's patch deleted (`$patch: delete`): the cluster does not receive it.
#[derive(Debug)]
pub struct Removed {
    pub root: Node,
    pub unit: Arc<Unit>,
    /// The patch line that deletes it (inventory file index, span).
    pub cause: (usize, Span),
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
    pub units: Vec<Arc<Unit>>,
}

/// The inventory number of a file a build read (a file the loader did not read is added).
pub(super) fn file_number(
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

pub(super) fn object(
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
