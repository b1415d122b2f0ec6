//! Where a build reads files: a root directory standing for `/`, or files in memory, with the
//! files the loader already parsed shared by every build. Reads are confined to the root.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::tree::Tree;
use crate::load::discover::normalize;
use crate::load::source::Span;

/// Where a build reads files: the directory that stands for `/` (kustomize's in-memory file
/// system in its tests, a repository root in a tree). Files are numbered as they are read.
///
/// One `Disk` serves one build (it is not shared between threads); the files the loader parsed
/// already ([`Loaded`]) are shared by every build that reads them, so a base that many overlays
/// include is parsed once.
pub struct Disk<'a> {
    /// The root as given (paths of loaded files start with it).
    root: PathBuf,
    /// The root with links resolved: nothing a build reads may resolve outside it.
    resolved_root: PathBuf,
    /// The root is spelled as [`path_key`] leaves a path (paths below it are then too).
    tidy_root: bool,
    /// Files held in memory instead (by path from `/`): tests and fuzzing.
    memory: Option<HashMap<PathBuf, String>>,
    /// Files the loader read, by absolute path.
    loaded: Option<&'a LoadedFiles<'a>>,
    files: std::cell::RefCell<Vec<Read>>,
    /// The kustomization entries that led to the file first read as each number (`via`).
    pub(super) trail: std::cell::RefCell<Vec<(u32, Span)>>,
    /// Objects a `$patch: delete` took out of the build, with where it is written.
    pub(super) deleted: std::cell::RefCell<Vec<Deleted>>,
    pub(super) limits: crate::load::Limits,
}

/// A file the loader read and parsed: a build uses its documents instead of reading it again.
#[derive(Clone, Copy, Debug)]
pub struct Loaded<'a> {
    /// The caller's number for the file (its index in the inventory).
    pub index: usize,
    pub documents: &'a [crate::load::Document],
    /// The file's text (to find lines inside a block scalar).
    pub text: &'a str,
    /// The file has parse errors (reported by the loader).
    pub broken: bool,
}

/// What is at a build path ([`Disk::find`]).
pub(super) enum Found<'a> {
    /// The path leaves the root of the build.
    Outside,
    /// A file the loader read, and where it is on disk.
    Loaded(Loaded<'a>, PathBuf),
    Dir,
    /// A file the loader did not read.
    File,
    Missing,
}

/// The files the loader read, by absolute path. Paths are compared as `Path`s compare them
/// (`a//b` is `a/b`) but hashed as bytes: builds look paths up thousands of times.
#[derive(Default)]
pub struct LoadedFiles<'a> {
    /// Keyed by the loaded files' own paths (a copy only for a path spelled untidily).
    by_path: foldhash::HashMap<std::borrow::Cow<'a, std::ffi::OsStr>, Loaded<'a>>,
    /// Whether a path the loader did not read is a regular file, as asked before (units of
    /// two clusters build the same directories, and each looks for three kustomization names).
    /// Keyed by bytes, as `by_path` (hashing a `Path` walks its components).
    files_seen: std::sync::RwLock<foldhash::HashMap<std::ffi::OsString, bool>>,
    /// Whether a path is a directory, as asked before (the same for directories).
    dirs_seen: std::sync::RwLock<foldhash::HashMap<std::ffi::OsString, bool>>,
}

impl<'a> LoadedFiles<'a> {
    /// The number of the file the loader read at `path`, given as its bytes (a normalised
    /// path: its bytes are its key).
    #[must_use]
    pub fn index_of(&self, path: &std::ffi::OsStr) -> Option<usize> {
        self.by_path.get(path).map(|l| l.index)
    }

    /// Every loaded file's path (as bytes) and number, in no order.
    pub fn indexes(&self) -> impl Iterator<Item = (&std::ffi::OsStr, usize)> {
        self.by_path.iter().map(|(path, l)| (&**path, l.index))
    }

    /// The file the loader read at `path`.
    #[must_use]
    pub fn get(&self, path: &Path) -> Option<&Loaded<'a>> {
        self.by_path.get(&*path_key(path))
    }

    /// Whether `real` (a path on disk, [`Spelled`]) is a file: loaded, or a regular file on
    /// disk.
    fn is_file(&self, real: &Spelled) -> bool {
        let key = real.key();
        self.by_path.contains_key(&*key)
            || remembered(&self.files_seen, &real.path, &key, Path::is_file)
    }

    /// What the file system said of the paths asked, taken out (to be freed elsewhere).
    #[must_use]
    pub fn take_remembered(&mut self) -> impl Send + 'static {
        let take = |seen: &mut std::sync::RwLock<_>| {
            std::mem::take(seen.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner))
        };
        (take(&mut self.files_seen), take(&mut self.dirs_seen))
    }

    /// Whether `real` (a path on disk, not a loaded file; `key` its table key) is a
    /// directory: one holding a loaded kustomization, else as the file system said when first
    /// asked in this run (a fleet's overlays name thousands of directories).
    fn is_unloaded_dir(&self, real: &Spelled, key: &std::ffi::OsStr) -> bool {
        KUSTOMIZATION_FILES.iter().any(|k| self.by_path.contains_key(&*real.join(k).key()))
            || remembered(&self.dirs_seen, &real.path, key, Path::is_dir)
    }

    /// Whether `real` (a path on disk) is a directory: not a loaded file, and one holding a
    /// loaded kustomization or else as the file system said when first asked in this run.
    #[must_use]
    pub fn is_dir(&self, real: &Path) -> bool {
        self.is_spelled_dir(&Spelled { path: real.to_path_buf(), tidy: is_tidy(real) })
    }

    /// [`LoadedFiles::is_dir`] of a path already spelled.
    fn is_spelled_dir(&self, real: &Spelled) -> bool {
        let key = real.key();
        !self.by_path.contains_key(&*key) && self.is_unloaded_dir(real, &key)
    }
}

/// A path on disk, with whether it is spelled as [`path_key`] leaves a path (as those a
/// [`Disk`] makes are: the tables are then read without looking the path over again).
struct Spelled {
    path: PathBuf,
    tidy: bool,
}

impl Spelled {
    fn new(path: PathBuf) -> Spelled {
        Spelled { path, tidy: false }
    }

    /// The key of the path in the tables.
    fn key(&self) -> std::borrow::Cow<'_, std::ffi::OsStr> {
        if self.tidy {
            std::borrow::Cow::Borrowed(self.path.as_os_str())
        } else {
            path_key(&self.path)
        }
    }

    /// The path of `name` (one segment) in this directory, spelled as tidily.
    fn join(&self, name: &str) -> Spelled {
        Spelled { path: self.path.join(name), tidy: self.tidy }
    }
}

/// What `ask` says of `path` (its table key `key`), asked once per run.
fn remembered(
    seen: &std::sync::RwLock<foldhash::HashMap<std::ffi::OsString, bool>>,
    path: &Path,
    key: &std::ffi::OsStr,
    ask: fn(&Path) -> bool,
) -> bool {
    let known = seen.read().ok().and_then(|seen| seen.get(key).copied());
    known.unwrap_or_else(|| {
        let answer = ask(path);
        if let Ok(mut seen) = seen.write() {
            seen.insert(key.to_owned(), answer);
        }
        answer
    })
}

impl<'a> FromIterator<(&'a Path, Loaded<'a>)> for LoadedFiles<'a> {
    fn from_iter<I: IntoIterator<Item = (&'a Path, Loaded<'a>)>>(iter: I) -> Self {
        let by_path = iter.into_iter().map(|(p, l)| (path_key(p), l));
        LoadedFiles { by_path: by_path.collect(), ..LoadedFiles::default() }
    }
}

/// Whether [`path_key`] leaves `path` as it is.
fn is_tidy(path: &Path) -> bool {
    matches!(path_key(path), std::borrow::Cow::Borrowed(_))
}

/// A path spelled as its components spell it: the path itself unless it has an empty or `.`
/// component after the first, or a trailing `/`.
fn path_key(path: &Path) -> std::borrow::Cow<'_, std::ffi::OsStr> {
    let bytes = path.as_os_str().as_encoded_bytes();
    // `//` or `/./` inside: found from each `/` (a substring search per lookup cost more than
    // the hash).
    let inside = memchr::memchr_iter(b'/', bytes).any(|at| match bytes.get(at + 1) {
        Some(b'/') => true,
        Some(b'.') => bytes.get(at + 2) == Some(&b'/'),
        _ => false,
    });
    let untidy = bytes.len() > 1 && bytes.ends_with(b"/") || bytes.ends_with(b"/.") || inside;
    if untidy {
        std::borrow::Cow::Owned(path.components().collect::<PathBuf>().into_os_string())
    } else {
        std::borrow::Cow::Borrowed(path.as_os_str())
    }
}

/// The kinds of objects a chart's values switch leaves out that are kept as [`Deleted`]: those
/// whose absence a rule explains by what removed them (MTK-NET-002, MTK-ISO-005).
pub const LEFT_OUT_KINDS: &[&str] = &["NetworkPolicy", "ResourceQuota", "LimitRange"];

/// An object a `$patch: delete` took out of a build, or a chart's values switch left out: what
/// the cluster does not receive, and the line that is why.
#[derive(Clone, Debug)]
pub struct Deleted {
    /// Made whole (it is kept after the build, with no loaded node of its own).
    pub object: Tree<'static>,
    pub file: u32,
    pub span: Span,
    /// Left out of a chart's output by a values switch turned off (the span is its `false`),
    /// not deleted by a patch.
    pub switch: bool,
}

/// A file a build read, by the number the build gave it.
#[derive(Clone, Debug)]
pub struct Read {
    /// The path as the build names it, from `/`.
    pub path: PathBuf,
    /// Where it is on disk (none in memory).
    pub real: Option<PathBuf>,
    /// The caller's number, for a file the loader read.
    pub loaded: Option<usize>,
    /// The text, for a file the loader did not read (an env file, a file outside the linted
    /// tree): reports quote it.
    pub text: Option<std::sync::Arc<str>>,
    /// The kustomization entries (file, span) that led to the file, outermost first.
    pub via: Vec<(u32, Span)>,
    /// The file is built (a resource, a patch, a kustomization): not the definition of the
    /// cluster entry the build reads its options from.
    pub built: bool,
}

/// A build error, with the kustomization (or file) and line it is about when known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildError {
    pub file: String,
    pub line: Option<u32>,
    pub message: String,
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

pub(super) type Result<T> = std::result::Result<T, BuildError>;

pub(super) const KUSTOMIZATION_FILES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

impl<'a> Disk<'a> {
    #[must_use]
    pub fn new(root: &Path) -> Self {
        // Resolved once: every read checks that it stays below this.
        let resolved = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        Disk {
            tidy_root: is_tidy(&resolved),
            root: resolved.clone(),
            resolved_root: resolved,
            memory: None,
            loaded: None,
            files: std::cell::RefCell::new(Vec::new()),
            trail: std::cell::RefCell::new(Vec::new()),
            deleted: std::cell::RefCell::new(Vec::new()),
            limits: crate::load::Limits::default(),
        }
    }

    /// A disk below `root` (an absolute, normalised path; `resolved_root` is it with links
    /// resolved) that takes the files the loader read from `loaded` (by absolute path) and reads
    /// others with `limits`.
    #[must_use]
    pub fn with_loaded(
        (root, resolved_root): (&Path, &Path),
        loaded: &'a LoadedFiles<'a>,
        limits: crate::load::Limits,
    ) -> Self {
        Disk {
            root: root.to_path_buf(),
            resolved_root: resolved_root.to_path_buf(),
            tidy_root: is_tidy(root),
            memory: None,
            loaded: Some(loaded),
            files: std::cell::RefCell::new(Vec::new()),
            trail: std::cell::RefCell::new(Vec::new()),
            deleted: std::cell::RefCell::new(Vec::new()),
            limits,
        }
    }

    /// A file system of the given files (paths from `/`), with these limits.
    #[must_use]
    pub fn in_memory(files: Vec<(PathBuf, String)>, limits: crate::load::Limits) -> Self {
        let memory = files.into_iter().map(|(p, text)| (normalize(&Path::new("/").join(p)), text));
        Disk {
            root: PathBuf::from("/"),
            resolved_root: PathBuf::from("/"),
            tidy_root: true,
            memory: Some(memory.collect()),
            loaded: None,
            files: std::cell::RefCell::new(Vec::new()),
            trail: std::cell::RefCell::new(Vec::new()),
            deleted: std::cell::RefCell::new(Vec::new()),
            limits,
        }
    }

    /// The path of a file the build numbered, as the build shows it (`/base/deployment.yaml`).
    #[must_use]
    pub fn shown(&self, file: u32) -> String {
        self.files.borrow().get(file as usize).map_or_else(String::new, |r| show(&r.path))
    }

    /// The build path (from `/`) of an absolute path below the root.
    #[must_use]
    pub fn inside(&self, path: &Path) -> Option<PathBuf> {
        path.strip_prefix(&self.root).ok().map(|p| Path::new("/").join(p))
    }

    /// Numbers the files another build read, first and with the same numbers, as files this
    /// build does not build: a tree that build rendered can then be used here as it is.
    pub fn adopt(&self, reads: &[Read]) {
        let mut files = self.files.borrow_mut();
        files.extend(reads.iter().map(|r| Read { via: Vec::new(), built: false, ..r.clone() }));
    }

    /// The text of a file the build numbered.
    pub(crate) fn text_of(&self, file: u32) -> Option<std::borrow::Cow<'a, str>> {
        let read = self.files.borrow().get(file as usize)?.clone();
        if let Some(text) = read.text {
            return Some(std::borrow::Cow::Owned(text.to_string()));
        }
        if let (Some(memory), None) = (&self.memory, read.loaded) {
            return memory.get(&normalize(&read.path)).map(|t| std::borrow::Cow::Owned(t.clone()));
        }
        let loaded = self.loaded?.get(read.real.as_ref()?)?;
        Some(std::borrow::Cow::Borrowed(loaded.text))
    }

    /// The files the build read, by number, and the objects patches deleted.
    #[must_use]
    pub fn into_parts(self) -> (Vec<Read>, Vec<Deleted>) {
        (self.files.into_inner(), self.deleted.into_inner())
    }

    /// Numbers a file read now, with the entries that led to it.
    pub(super) fn number(&self, read: Read) -> u32 {
        let mut files = self.files.borrow_mut();
        files.push(Read { via: self.trail.borrow().clone(), ..read });
        u32::try_from(files.len() - 1).unwrap_or(u32::MAX)
    }

    /// Where a build path is on disk. A path that climbs above the root (`..`) has none.
    pub(crate) fn real(&self, path: &Path) -> Option<PathBuf> {
        self.spelled(path).map(|s| s.path)
    }

    /// [`Disk::real`], with whether the path is spelled tidily: a normal path below a tidy root
    /// is (the root alone ends in `/`).
    fn spelled(&self, path: &Path) -> Option<Spelled> {
        let path = crate::load::discover::normalized(path);
        // A normal path has no `..` (one normalised has those that climb above its start).
        if let std::borrow::Cow::Owned(path) = &path {
            let bytes = path.as_os_str().as_encoded_bytes();
            if bytes.split(|&b| b == b'/').any(|segment| segment == b"..") {
                return None;
            }
        }
        // Joined as text when it is text (`Path::strip_prefix` walks components).
        let Some(text) = path.to_str() else {
            return Some(Spelled::new(self.root.join(path.strip_prefix("/").unwrap_or(&path))));
        };
        let relative = text.trim_start_matches('/');
        let mut real = PathBuf::with_capacity(self.root.as_os_str().len() + 1 + relative.len());
        real.push(&self.root);
        real.push(relative);
        let tidy = self.tidy_root && !relative.is_empty();
        Some(Spelled { path: real, tidy })
    }

    /// The text of a file the build reads. Refused: a path outside the root, a link that leads
    /// outside it, and anything that is not a regular file (a FIFO, a device) — before opening.
    pub(crate) fn contents(&self, path: &Path) -> Result<String> {
        String::from_utf8(self.bytes(path)?).map_err(|_| BuildError {
            file: show(path),
            line: None,
            message: "cannot read: the file is not UTF-8 text".into(),
        })
    }

    /// The bytes of a file the build reads, under the rules of [`Disk::contents`].
    fn bytes(&self, path: &Path) -> Result<Vec<u8>> {
        let fail = |message: String| BuildError { file: show(path), line: None, message };
        if let Some(memory) = &self.memory {
            return memory
                .get(&normalize(path))
                .map(|text| text.as_bytes().to_vec())
                .ok_or_else(|| fail("cannot read: no such file".into()));
        }
        let real =
            self.real(path).ok_or_else(|| fail("the path leaves the root of the build".into()))?;
        let meta = std::fs::metadata(&real).map_err(|e| fail(format!("cannot read: {e}")))?;
        if !meta.is_file() {
            return Err(fail("not a regular file: not read".into()));
        }
        let resolved =
            std::fs::canonicalize(&real).map_err(|e| fail(format!("cannot read: {e}")))?;
        if !resolved.starts_with(&self.resolved_root) {
            return Err(fail(
                "a symbolic link leads outside the root of the build: not read".into(),
            ));
        }
        std::fs::read(&resolved).map_err(|e| fail(format!("cannot read: {e}")))
    }

    pub(super) fn is_dir(&self, path: &Path) -> bool {
        if let Some(memory) = &self.memory {
            let dir = normalize(path);
            return self.real(path).is_some()
                && memory.keys().any(|p| p != &dir && p.starts_with(&dir));
        }
        let Some(real) = self.spelled(path) else { return false };
        // What the loader read answers without asking the file system (a fleet's overlays name
        // thousands of paths).
        match self.loaded {
            Some(loaded) => loaded.is_spelled_dir(&real),
            None => real.path.is_dir(),
        }
    }

    pub(super) fn is_file(&self, path: &Path) -> bool {
        if let Some(memory) = &self.memory {
            return self.real(path).is_some() && memory.contains_key(&normalize(path));
        }
        let Some(real) = self.spelled(path) else { return false };
        match self.loaded {
            Some(loaded) => loaded.is_file(&real),
            None => real.path.is_file(),
        }
    }

    /// What is at a build path, as [`Disk::real`], [`Disk::is_dir`] and [`Disk::is_file`]
    /// (asked in that order) say, with the path spelled and looked up once (a build asks of
    /// every resource it lists).
    pub(super) fn find(&self, path: &Path) -> Found<'a> {
        let (Some(loaded), None) = (self.loaded, &self.memory) else {
            return if self.real(path).is_none() {
                Found::Outside
            } else if self.is_dir(path) {
                Found::Dir
            } else if self.is_file(path) {
                Found::File
            } else {
                Found::Missing
            };
        };
        let Some(real) = self.spelled(path) else { return Found::Outside };
        if let Some(&file) = loaded.by_path.get(&*real.key()) {
            return Found::Loaded(file, real.path);
        }
        let key = real.key();
        if loaded.is_unloaded_dir(&real, &key) {
            Found::Dir
        } else if remembered(&loaded.files_seen, &real.path, &key, Path::is_file) {
            Found::File
        } else {
            Found::Missing
        }
    }

    /// The kustomization files of a directory that are files, in [`KUSTOMIZATION_FILES`]'s
    /// order (the directory spelled once, as [`Disk::is_dir`] spells its names).
    pub(super) fn kustomization_files(&self, dir: &Path) -> Vec<PathBuf> {
        let (Some(loaded), None) = (self.loaded, &self.memory) else {
            let paths = KUSTOMIZATION_FILES.iter().map(|n| dir.join(n));
            return paths.filter(|p| self.is_file(p)).collect();
        };
        let Some(real) = self.spelled(dir) else { return Vec::new() };
        KUSTOMIZATION_FILES
            .iter()
            .filter(|n| loaded.is_file(&real.join(n)))
            .map(|n| dir.join(n))
            .collect()
    }

    /// Whether anything — a file, a directory, a FIFO, a dangling link — is at `path`.
    pub(super) fn exists(&self, path: &Path) -> bool {
        if self.memory.is_some() {
            return self.is_file(path) || self.is_dir(path);
        }
        self.is_file(path) || self.real(path).is_some_and(|r| r.symlink_metadata().is_ok())
    }

    /// The manifests kustomize-controller's generator lists for a directory with no
    /// kustomization, from that directory (`./a.yaml`, `./sub`): `.yaml` and `.yml` files at any
    /// depth, and directories with a kustomization instead of what is in them; depth first, in
    /// name order.
    pub(super) fn manifests_below(&self, dir: &Path) -> Vec<String> {
        let dir = normalize(dir);
        let mut pending = vec![dir.clone()];
        let mut found = Vec::new();
        while let Some(at) = pending.pop() {
            for (path, is_dir) in self.entries(&at) {
                // A kustomization directory is listed and not entered.
                if !is_dir {
                    if matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
                        found.push(path);
                    }
                } else if KUSTOMIZATION_FILES.iter().any(|k| self.is_file(&path.join(k))) {
                    found.push(path);
                } else {
                    pending.push(path);
                }
            }
        }
        // `filepath.Walk`'s order: names in order, each directory's entries where it stands,
        // which is the order of the paths.
        found.sort();
        found
            .iter()
            .filter_map(|p| p.strip_prefix(&dir).ok())
            .map(|rel| format!("./{}", rel.to_string_lossy()))
            .collect()
    }

    /// The files of a directory (and of its subdirectories when `recurse`), in path order.
    pub(super) fn files_in(&self, dir: &Path, recurse: bool) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut pending = vec![normalize(dir)];
        while let Some(at) = pending.pop() {
            for (path, is_dir) in self.entries(&at) {
                match (is_dir, recurse) {
                    (true, true) => pending.push(path),
                    (true, false) => {}
                    (false, _) => out.push(path),
                }
            }
        }
        out.sort();
        out
    }

    /// The entries of a directory: (path from `/`, whether it is a directory). Links are not
    /// followed into directories (as `filepath.Walk`).
    fn entries(&self, dir: &Path) -> Vec<(PathBuf, bool)> {
        if let Some(memory) = &self.memory {
            let mut out: Vec<(PathBuf, bool)> = Vec::new();
            for p in memory.keys() {
                let Ok(rest) = p.strip_prefix(dir) else { continue };
                let Some(first) = rest.components().next() else { continue };
                let child = dir.join(first);
                let is_dir = rest.components().count() > 1;
                if !out.iter().any(|(c, _)| *c == child) {
                    out.push((child, is_dir));
                }
            }
            return out;
        }
        let Some(on_disk) = self.real(dir) else { return Vec::new() };
        let Ok(listing) = std::fs::read_dir(on_disk) else { return Vec::new() };
        listing
            .filter_map(|e| {
                let e = e.ok()?;
                let kind = e.file_type().ok()?;
                Some((dir.join(e.file_name()), kind.is_dir()))
            })
            .collect()
    }

    /// The file the loader read at a build path, if any.
    fn loaded(&self, path: &Path) -> Option<Loaded<'a>> {
        let loaded = self.loaded?;
        loaded.by_path.get(&*self.spelled(path)?.key()).copied()
    }

    /// Document `document` (0-based, empty documents counted) of a file that defines a
    /// cluster entry (a Flux Kustomization, an Argo CD Application) or a value it reads (a
    /// ConfigMap of `substituteFrom`): read for its fields, not part of what the entry builds.
    pub fn definition(&self, path: &Path, document: usize) -> Result<Tree<'a>> {
        let missing = || BuildError {
            file: show(path),
            line: None,
            message: format!("no document {} in the file", document + 1),
        };
        let read = |loaded, text| Read {
            path: path.to_path_buf(),
            real: self.real(path).filter(|_| self.memory.is_none()),
            loaded,
            text,
            via: Vec::new(),
            built: false,
        };
        if let Some(loaded) = self.loaded(path) {
            let doc = loaded.documents.iter().find(|d| d.index == document).ok_or_else(missing)?;
            let number = self.number(read(Some(loaded.index), None));
            return Ok(Tree::from_node(&doc.root, number));
        }
        let text = self.contents(path)?;
        let parsed = crate::load::yaml::parse_stream(&text, &self.limits);
        if let Some(p) = parsed.problems.first() {
            return Err(BuildError {
                file: show(path),
                line: Some(p.pos.line),
                message: p.message.clone(),
            });
        }
        let doc = parsed.documents.iter().find(|d| d.index == document).ok_or_else(missing)?;
        let number = self.number(read(None, Some(text.as_str().into())));
        Ok(Tree::owned(&doc.root, number))
    }

    /// Reads and parses a file: its number and documents (empty documents left out). A
    /// kustomization may repeat a key (kustomize accepts it: its tests write `apiVersion` twice).
    /// A file the loader read is not read again.
    pub(super) fn read(
        &self,
        path: &Path,
    ) -> Result<(u32, Vec<std::borrow::Cow<'a, crate::load::Node>>)> {
        use std::borrow::Cow;
        if let Some(loaded) = self.loaded(path) {
            return self.read_loaded(path, (loaded, self.real(path)));
        }
        let kustomization = path
            .file_name()
            .is_some_and(|n| KUSTOMIZATION_FILES.iter().any(|k| n == std::ffi::OsStr::new(k)));
        let text = self.contents(path)?;
        let parsed = crate::load::yaml::parse_stream(&text, &self.limits);
        let fatal = parsed
            .problems
            .iter()
            .find(|p| !(kustomization && p.message.starts_with("duplicate key")));
        if let Some(p) = fatal {
            return Err(BuildError {
                file: show(path),
                line: Some(p.pos.line),
                message: p.message.clone(),
            });
        }
        let number = self.number(Read {
            path: path.to_path_buf(),
            real: self.real(path).filter(|_| self.memory.is_none()),
            loaded: None,
            text: Some(text.into()),
            via: Vec::new(),
            built: true,
        });
        let docs = parsed.documents.into_iter().map(|d| d.root).filter(not_null);
        Ok((number, docs.map(Cow::Owned).collect()))
    }
}

impl<'a> Disk<'a> {
    /// [`Disk::read`] of a file the loader read (found at `real`).
    pub(super) fn read_loaded(
        &self,
        path: &Path,
        (loaded, real): (Loaded<'a>, Option<PathBuf>),
    ) -> Result<(u32, Vec<std::borrow::Cow<'a, crate::load::Node>>)> {
        if loaded.broken {
            return Err(BuildError {
                file: show(path),
                line: None,
                message: "the file has errors (reported for it): not built".into(),
            });
        }
        let number = self.number(Read {
            path: path.to_path_buf(),
            real,
            loaded: Some(loaded.index),
            text: None,
            via: Vec::new(),
            built: true,
        });
        let docs = loaded.documents.iter().map(|d| &d.root).filter(|r| not_null(r));
        Ok((number, docs.map(std::borrow::Cow::Borrowed).collect()))
    }
}

/// A document a build reads (an empty one, `---` alone, is left out).
fn not_null(root: &crate::load::Node) -> bool {
    !matches!(root.value, crate::load::Value::Null)
}

impl Disk<'_> {
    /// Reads a file a generator names (an env file, a data file): its number and bytes.
    pub(super) fn read_bytes(&self, path: &Path) -> Result<(u32, Vec<u8>)> {
        let bytes = self
            .bytes(path)
            .map_err(|e| BuildError { message: format!("`{}`: {}", show(path), e.message), ..e })?;
        let loaded = self.loaded(path).map(|l| l.index);
        let text = match loaded {
            Some(_) => None,
            None => Some(String::from_utf8_lossy(&bytes).into()),
        };
        let real = self.real(path).filter(|_| self.memory.is_none());
        let number = self.number(Read {
            path: path.to_path_buf(),
            real,
            loaded,
            text,
            via: Vec::new(),
            built: true,
        });
        Ok((number, bytes))
    }
}

pub(super) fn show(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::{is_tidy, path_key, Disk, Found, Loaded, LoadedFiles, KUSTOMIZATION_FILES};
    use std::path::{Path, PathBuf};

    #[test]
    fn build_paths_are_placed_below_the_root_and_never_above_it() {
        let disk = Disk::in_memory(Vec::new(), crate::load::Limits::default());
        let disk = Disk { root: PathBuf::from("/repo"), ..disk };
        assert_eq!(disk.real(Path::new("/a/b.yaml")), Some(PathBuf::from("/repo/a/b.yaml")));
        assert_eq!(disk.real(Path::new("/a/../b/./c")), Some(PathBuf::from("/repo/b/c")));
        assert_eq!(disk.real(Path::new("a//b")), Some(PathBuf::from("/repo/a/b")));
        assert_eq!(disk.real(Path::new("/")), Some(PathBuf::from("/repo/")));
        assert_eq!(disk.real(Path::new("/a/../../b")), None);
        assert_eq!(disk.real(Path::new("/..")), None);
        // A name that is not UTF-8 is joined all the same.
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let odd = Path::new(std::ffi::OsStr::from_bytes(b"/a/\xff.yaml"));
            let want = Path::new(std::ffi::OsStr::from_bytes(b"/repo/a/\xff.yaml"));
            assert_eq!(disk.real(odd).as_deref(), Some(want));
        }
    }

    /// A path a disk makes is said to be tidy only when it is ([`path_key`] leaves it): for
    /// every build path of up to four segments of `a`, `.`, `..` and empty ones, below roots
    /// tidy and not.
    #[test]
    fn paths_said_tidy_are_tidy() {
        let segments = ["a", ".", "..", "", "a."];
        let (mut paths, mut longest) = (vec![String::new()], vec![String::new()]);
        for _ in 0..4 {
            longest = longest.iter().flat_map(|p| segments.map(|s| format!("{p}/{s}"))).collect();
            paths.extend(longest.iter().cloned());
        }
        let memory = || Disk::in_memory(Vec::new(), crate::load::Limits::default());
        let mut said_tidy = 0;
        for root in ["/", "/repo", "/repo/", "/re/./po", "/re//po"] {
            let disk =
                Disk { root: PathBuf::from(root), tidy_root: is_tidy(Path::new(root)), ..memory() };
            for path in paths.iter().map(String::as_str).chain(["a/b", "", "."]) {
                let Some(spelled) = disk.spelled(Path::new(path)) else { continue };
                if spelled.tidy {
                    said_tidy += 1;
                    assert!(is_tidy(&spelled.path), "{root} {path:?}: {:?}", spelled.path);
                }
                assert_eq!(spelled.key(), path_key(&spelled.path), "{root} {path:?}");
            }
        }
        assert!(said_tidy > 100, "{said_tidy}");
    }

    #[test]
    fn loaded_files_are_found_by_any_spelling_of_their_path() {
        let loaded = Loaded { index: 7, documents: &[], text: "", broken: false };
        let files: LoadedFiles<'_> =
            [(Path::new("/repo/base/./app.yaml"), loaded)].into_iter().collect();
        for spelling in ["/repo/base/app.yaml", "/repo//base/app.yaml", "/repo/base/./app.yaml"] {
            assert_eq!(files.get(Path::new(spelling)).map(|l| l.index), Some(7), "{spelling}");
        }
        assert!(files.get(Path::new("/repo/base/app.yml")).is_none());
        assert!(files.get(Path::new("/repo/app.yaml")).is_none());
        assert_eq!(path_key(Path::new("/a/b/")), path_key(Path::new("/a/b")));
        assert_eq!(path_key(Path::new("/a/b/.")), path_key(Path::new("/a/b")));
        assert_eq!(path_key(Path::new("/")), Path::new("/").as_os_str());
    }

    /// A directory holding a loaded kustomization is a directory without asking the file
    /// system (these paths are not on disk), by any spelling; a loaded file is not one.
    #[test]
    fn a_directory_with_a_loaded_kustomization_is_a_directory() {
        let loaded = Loaded { index: 1, documents: &[], text: "", broken: false };
        let files: LoadedFiles<'_> = [
            (Path::new("/no-such-repo/apps/staging/kustomization.yaml"), loaded),
            (Path::new("/no-such-repo/apps/base/Kustomization"), loaded),
        ]
        .into_iter()
        .collect();
        for dir in [
            "/no-such-repo/apps/staging",
            "/no-such-repo/apps//staging/",
            "/no-such-repo/apps/base",
        ] {
            assert!(files.is_dir(Path::new(dir)), "{dir}");
        }
        assert!(!files.is_dir(Path::new("/no-such-repo/apps/staging/kustomization.yaml")));
        assert!(!files.is_dir(Path::new("/no-such-repo/apps/production")));
    }

    /// What [`Disk::find`] says of a path is what asking [`Disk::real`], [`Disk::is_dir`] and
    /// [`Disk::is_file`] in turn says, and [`Disk::kustomization_files`] is what asking each
    /// kustomization name says: over loaded files, files the loader did not read (a
    /// `Kustomization`, a text file), directories with and without a kustomization, missing
    /// paths, paths spelled untidily and paths that climb out of the root.
    #[test]
    fn a_path_is_found_as_asking_each_question_finds_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        for (path, text) in [
            ("base/kustomization.yaml", "resources: [app.yaml]\n"),
            ("base/app.yaml", "kind: ConfigMap\n"),
            ("named/Kustomization", "resources: []\n"),
            ("two/kustomization.yaml", "resources: []\n"),
            ("two/Kustomization", "resources: []\n"),
            ("plain/notes.txt", "text\n"),
        ] {
            let at = root.join(path);
            std::fs::create_dir_all(at.parent().unwrap()).unwrap();
            std::fs::write(at, text).unwrap();
        }
        std::fs::create_dir_all(root.join("empty")).unwrap();
        let documents = Vec::new();
        let loaded_at = ["base/kustomization.yaml", "base/app.yaml", "two/kustomization.yaml"]
            .map(|p| root.join(p));
        let files: LoadedFiles<'_> = loaded_at
            .iter()
            .enumerate()
            .map(|(index, p)| {
                (p.as_path(), Loaded { index, documents: &documents, text: "", broken: false })
            })
            .collect();
        let disk = Disk::with_loaded((&root, &root), &files, crate::load::Limits::default());
        let paths = [
            "/base/app.yaml",
            "/base//app.yaml",
            "/other/../base/app.yaml",
            "/base",
            "/base/",
            "/named",
            "/named/Kustomization",
            "/two",
            "/plain",
            "/plain/notes.txt",
            "/empty",
            "/missing.yaml",
            "/",
            "/../outside",
            "/base/../../outside",
        ];
        let mut seen = std::collections::BTreeSet::new();
        for path in paths.map(Path::new) {
            let asked = if disk.real(path).is_none() {
                "outside"
            } else if disk.is_dir(path) {
                "dir"
            } else if disk.is_file(path) {
                "file"
            } else {
                "missing"
            };
            let found = match disk.find(path) {
                Found::Outside => "outside",
                Found::Dir => "dir",
                Found::Loaded(loaded, real) => {
                    assert_eq!(files.get(&real).map(|l| l.index), Some(loaded.index));
                    assert_eq!(disk.real(path), Some(real), "{path:?}");
                    "file"
                }
                Found::File => {
                    assert!(files.get(&disk.real(path).unwrap()).is_none(), "{path:?}");
                    "file"
                }
                Found::Missing => "missing",
            };
            assert_eq!(found, asked, "{path:?}");
            seen.insert(found);
            let each: Vec<PathBuf> = KUSTOMIZATION_FILES
                .iter()
                .map(|n| path.join(n))
                .filter(|p| disk.is_file(p))
                .collect();
            assert_eq!(disk.kustomization_files(path), each, "{path:?}");
        }
        assert_eq!(seen.len(), 4, "{seen:?}");
        assert_eq!(disk.kustomization_files(Path::new("/two")).len(), 2);
        assert_eq!(disk.kustomization_files(Path::new("/named")).len(), 1);
    }
}
