//! Finding the files to read: walk directories (respecting `.gitignore`), apply excludes.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::error::Problem;

/// What the user asked to lint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    Path(PathBuf),
    Stdin,
}

/// A file chosen for reading.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Candidate {
    /// Absolute, lexically normalised path.
    pub path: PathBuf,
    /// Path shown to the user.
    pub display: String,
    /// The walk saw a regular file here (a file named on the command line is checked when
    /// read: it could be a directory or a pipe).
    pub walked: bool,
}

/// Exclusion globs, with gitignore's semantics: a pattern with a `/` (at the start or in the
/// middle) matches the path relative to an input root (or the config file's directory), one
/// without matches any file or directory name at any depth; a pattern that matches a directory excludes
/// everything below it (`tenants/legacy` = `tenants/legacy/**`); `*` stays within one path
/// segment and `**` crosses them; a trailing `/` is dropped.
#[derive(Debug, Clone)]
pub struct Excludes {
    anchored: GlobSet,
    names: GlobSet,
}

impl Excludes {
    pub fn new(patterns: &[String]) -> Result<Self, String> {
        let mut anchored = GlobSetBuilder::new();
        let mut names = GlobSetBuilder::new();
        for p in patterns {
            let relative = p.trim_start_matches("./");
            // A leading `/` anchors the pattern to the root, as in gitignore.
            let rooted = relative.starts_with('/');
            let trimmed = relative.trim_start_matches('/').trim_end_matches('/');
            let glob = GlobBuilder::new(trimmed)
                .literal_separator(true)
                .build()
                .map_err(|e| format!("invalid exclude pattern `{p}`: {e}"))?;
            if rooted || trimmed.contains('/') {
                anchored.add(glob);
            } else {
                names.add(glob);
            }
        }
        Ok(Excludes {
            anchored: anchored.build().map_err(|e| e.to_string())?,
            names: names.build().map_err(|e| e.to_string())?,
        })
    }

    /// No pattern at all (the usual case): nothing to match, for every file of the walk.
    fn is_empty(&self) -> bool {
        self.anchored.is_empty() && self.names.is_empty()
    }

    fn excluded(&self, relative: &Path) -> bool {
        // The path itself or any directory above it (within the root).
        if !self.anchored.is_empty()
            && relative
                .ancestors()
                .take_while(|a| !a.as_os_str().is_empty())
                .any(|a| self.anchored.is_match(a))
        {
            return true;
        }
        !self.names.is_empty() && relative.components().any(|c| self.names.is_match(c.as_os_str()))
    }
}

/// Resolves `.` and `..` without touching the file system (symlinks keep their names). A `..`
/// that climbs above the start stays (`../a`, `/..`), as `PathBuf::pop` leaves it.
#[must_use]
pub fn normalize(path: &Path) -> PathBuf {
    normalized(path).into_owned()
}

/// [`normalize`], borrowing a path that is normal already (builds ask thousands of times).
#[must_use]
pub fn normalized(path: &Path) -> std::borrow::Cow<'_, Path> {
    if is_normal(path) {
        return std::borrow::Cow::Borrowed(path);
    }
    std::borrow::Cow::Owned(normalize_untidy(path))
}

fn normalize_untidy(path: &Path) -> PathBuf {
    #[cfg(unix)]
    {
        normalize_bytes(path)
    }
    #[cfg(not(unix))]
    {
        normalize_components(path)
    }
}

/// [`normalize`] by walking the path's components and popping a `..`'s parent.
#[cfg(any(not(unix), test))]
fn normalize_components(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// [`normalize`] on the path's bytes: what walking its components gives, without the cost of
/// parsing them (build paths such as `/tenants/a/overlay/../base` are normalized by the
/// thousand).
#[cfg(unix)]
fn normalize_bytes(path: &Path) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    let absolute = bytes.first() == Some(&b'/');
    let mut kept: Vec<&[u8]> = Vec::new();
    for segment in bytes.split(|&b| b == b'/') {
        match segment {
            b"" | b"." => {}
            // As `PathBuf::pop`: the last segment goes (even a `..`); with none, `..` stays.
            b".." => {
                if kept.pop().is_none() {
                    kept.push(b"..");
                }
            }
            other => kept.push(other),
        }
    }
    let mut out = Vec::with_capacity(bytes.len());
    if absolute {
        out.push(b'/');
    }
    for (i, segment) in kept.iter().enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        out.extend_from_slice(segment);
    }
    PathBuf::from(std::ffi::OsStr::from_bytes(&out))
}

/// Whether `normalize` would return the path unchanged: on Unix, no `.` or `..` segment, no
/// empty segment (`a//b`, a trailing `/`). Checked on bytes, since walking components is the
/// expensive part of `normalize` and most paths are already normal.
fn is_normal(path: &Path) -> bool {
    if !cfg!(unix) {
        return false;
    }
    let bytes = path.as_os_str().as_encoded_bytes();
    let body = bytes.strip_prefix(b"/").unwrap_or(bytes);
    // An empty segment: none at all, a `/` first or last, or `//` (builds ask thousands of
    // times: byte searches, not a split into segments; a substring search for `//` sets up a
    // searcher per call and cost more than the path's few slashes).
    if body.first().is_none_or(|&b| b == b'/') || body.last() == Some(&b'/') {
        return false;
    }
    if memchr::memchr_iter(b'/', body).any(|at| body.get(at + 1) == Some(&b'/')) {
        return false;
    }
    // A `.` or `..` segment: a dot that starts a segment and ends it, or whose next byte is
    // the last dot of the segment.
    let ends = |at: usize| matches!(body.get(at), None | Some(b'/'));
    memchr::memchr_iter(b'.', body).all(|at| {
        let starts = at == 0 || body[at - 1] == b'/';
        !starts || !(ends(at + 1) || body.get(at + 1) == Some(&b'.') && ends(at + 2))
    })
}

/// Whether `path` is `dir` or below it, as `Path::starts_with` says; compared as bytes when
/// both are normal (`Path::starts_with` walks components, and a fleet has tens of thousands of
/// files to check).
#[must_use]
pub fn is_below(path: &Path, dir: &Path) -> bool {
    if !(is_normal(path) && is_normal(dir)) {
        return path.starts_with(dir);
    }
    let (p, d) = (path.as_os_str().as_encoded_bytes(), dir.as_os_str().as_encoded_bytes());
    p.starts_with(d) && (p.len() == d.len() || p[d.len()] == b'/')
}

/// The candidates in path order (then by display and kind). `Path`'s own comparison parses
/// components at every step, a tenth of the walk's time on a large tree: each path's key is
/// made once, and the keys sorted on all cores.
fn in_path_order(found: Vec<Candidate>) -> Vec<Candidate> {
    let mut keyed: Vec<(Vec<u8>, Candidate)> =
        found.into_iter().map(|c| (order_key(&c.path), c)).collect();
    rayon::slice::ParallelSliceMut::par_sort_by(keyed.as_mut_slice(), |(ka, a), (kb, b)| {
        ka.cmp(kb).then_with(|| a.display.cmp(&b.display)).then(a.walked.cmp(&b.walked))
    });
    keyed.into_iter().map(|(_, c)| c).collect()
}

/// A key whose byte order is `Path`'s order: the path's components with a 0 byte between
/// them (no path holds one), which sorts a component before any longer one it begins.
fn order_key(path: &Path) -> Vec<u8> {
    let parts: Vec<&[u8]> = path.components().map(|c| c.as_os_str().as_encoded_bytes()).collect();
    parts.join(&0)
}

/// The path as the user should see it: relative to `cwd` when below it.
#[must_use]
pub fn display_path(abs: &Path, cwd: &Path) -> String {
    let shown = abs.strip_prefix(cwd).unwrap_or(abs);
    let s = shown.to_string_lossy().replace('\\', "/");
    if s.is_empty() {
        ".".into()
    } else {
        s
    }
}

fn is_manifest_name(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json"))
}

/// Directories of kernel and device files: a read there can block forever (`/proc/kmsg`) or
/// never end (`/dev/zero`), so nothing below them is read.
const SPECIAL_DIRS: [&str; 3] = ["/proc", "/sys", "/dev"];

/// Whether a (canonical) path is under a special directory.
fn is_special(real: &Path) -> bool {
    SPECIAL_DIRS.iter().any(|d| real.starts_with(d))
}

/// The walk's entry filter: skips `.git`, and decides on each symbolic link — followed within
/// the tree, or outside it with `follow_links`; otherwise (and always into a special directory)
/// not followed, and, when the link is a directory or a manifest, reported in `left`.
fn link_guard(
    real_root: PathBuf,
    cwd: PathBuf,
    follow_links: bool,
    left: std::sync::Arc<Mutex<Vec<Problem>>>,
) -> impl Fn(&ignore::DirEntry) -> bool + Send + Sync + 'static {
    move |e| {
        if e.file_name() == ".git" {
            return false;
        }
        if !e.path_is_symlink() {
            return true;
        }
        // A broken link is reported by the walk itself.
        let Ok(real) = std::fs::canonicalize(e.path()) else { return true };
        let inside = real.starts_with(&real_root) || follow_links && !is_special(&real);
        if !inside && (real.is_dir() || is_manifest_name(e.path())) {
            let why = if is_special(&real) {
                "a kernel or device file: not read"
            } else {
                "it leaves the linted tree: not followed (--follow-links reads it)"
            };
            let message = format!("symbolic link to {}: {why}", display_path(&real, &cwd));
            let shown = display_path(&normalize(e.path()), &cwd);
            left.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(Problem::new(shown, None, message));
        }
        inside
    }
}

/// Walks the inputs. Files named directly are always taken; inside directories only `*.yaml`,
/// `*.yml` and `*.json` are. Symbolic links are followed within the input's tree; one that
/// leaves it is an error naming it and is not followed unless `follow_links` (a pull request
/// must not make the linter read, and print excerpts of, files outside the checkout). Nothing
/// under `/proc`, `/sys` or `/dev` is ever read. Returns the candidates sorted by path, and walk
/// problems.
pub fn discover(
    inputs: &[Input],
    cwd: &Path,
    excludes: &[(PathBuf, Excludes)],
    follow_links: bool,
) -> (Vec<Candidate>, Vec<Problem>) {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    let is_excluded = |abs: &Path, root: &Path| {
        excludes.iter().filter(|(_, ex)| !ex.is_empty()).any(|(base, ex)| {
            abs.strip_prefix(base).is_ok_and(|rel| ex.excluded(rel))
                || abs.strip_prefix(root).is_ok_and(|rel| ex.excluded(rel))
        })
    };
    for input in inputs {
        let Input::Path(path) = input else { continue };
        let root = normalize(&cwd.join(path));
        match std::fs::metadata(&root) {
            Err(e) => {
                problems.push(Problem::new(
                    display_path(&root, cwd),
                    None,
                    format!("cannot read: {e}"),
                ));
                continue;
            }
            Ok(_) if std::fs::canonicalize(&root).is_ok_and(|real| is_special(&real)) => {
                problems.push(Problem::new(
                    display_path(&root, cwd),
                    None,
                    "a kernel or device file (under /proc, /sys or /dev): not read",
                ));
                continue;
            }
            Ok(meta) if !meta.is_dir() => {
                found.push(Candidate {
                    display: display_path(&root, cwd),
                    path: root,
                    walked: false,
                });
                continue;
            }
            Ok(_) => {}
        }
        // The walk runs on ignore's own thread pool; order is restored by the sort below.
        let walked = Mutex::new((Vec::new(), Vec::new()));
        let real_root = std::fs::canonicalize(&root).unwrap_or_else(|_| root.clone());
        let left = std::sync::Arc::new(Mutex::new(Vec::new()));
        let (left_in, cwd_in) = (std::sync::Arc::clone(&left), cwd.to_path_buf());
        ignore::WalkBuilder::new(&root)
            .hidden(false)
            .git_global(false)
            .require_git(false)
            .follow_links(true)
            .filter_entry(link_guard(real_root, cwd_in, follow_links, left_in))
            .build_parallel()
            .run(|| {
                Box::new(|entry| {
                    let mut item = None;
                    let mut problem = None;
                    match entry {
                        Ok(entry) => {
                            let abs = normalize(entry.path());
                            if entry.file_type().is_some_and(|t| t.is_file())
                                && is_manifest_name(&abs)
                                && !is_excluded(&abs, &root)
                            {
                                item = Some(Candidate {
                                    display: display_path(&abs, cwd),
                                    path: abs,
                                    walked: true,
                                });
                            }
                        }
                        Err(err) => problem = Some(walk_problem(&err, cwd)),
                    }
                    if item.is_some() || problem.is_some() {
                        let mut guard =
                            walked.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        guard.0.extend(item);
                        guard.1.extend(problem);
                    }
                    ignore::WalkState::Continue
                })
            });
        let (mut items, mut walk_problems) =
            walked.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        walk_problems.append(&mut left.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        if items.is_empty() && walk_problems.is_empty() {
            // A typo in a CI path must never pass green.
            problems.push(Problem::new(
                display_path(&root, cwd),
                None,
                "no *.yaml, *.yml or *.json file to read in this directory (check the path and \
                 the excludes)",
            ));
        }
        found.append(&mut items);
        problems.append(&mut walk_problems);
    }
    let mut found = in_path_order(found);
    found.dedup_by(|a, b| a.path == b.path);
    problems.sort();
    (found, problems)
}

fn walk_problem(err: &ignore::Error, cwd: &Path) -> Problem {
    // Unwrap the context layers the walker adds, keeping the outermost path.
    let mut path: Option<&Path> = None;
    let mut inner = err;
    loop {
        match inner {
            ignore::Error::WithPath { path: p, err } => {
                path.get_or_insert(p);
                inner = err;
            }
            ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
                inner = err;
            }
            _ => break,
        }
    }
    let shown = |p: &Path| display_path(&normalize(p), cwd);
    match inner {
        ignore::Error::Loop { ancestor, child } => Problem::new(
            shown(child),
            None,
            format!("symbolic link loop back to {} (not followed)", shown(ancestor)),
        ),
        ignore::Error::Io(e) => {
            let is_link = path.is_some_and(|p| p.symlink_metadata().is_ok_and(|m| m.is_symlink()));
            let message = match e.kind() {
                std::io::ErrorKind::NotFound if is_link => {
                    "broken symbolic link: its target does not exist (not read)".to_string()
                }
                std::io::ErrorKind::PermissionDenied => {
                    "cannot read: permission denied".to_string()
                }
                _ => format!("cannot read: {e}"),
            };
            Problem::new(path.map(shown).unwrap_or_default(), None, message)
        }
        other => Problem::new(path.map(shown).unwrap_or_default(), None, other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_paths_sort_in_path_order() {
        let names = ["a", "a-b", "a.b", "a b", "ab", "a~", "b", "é", "A", "0", "a--"];
        let mut paths = vec![std::path::PathBuf::from("/")];
        for x in names {
            paths.push(std::path::Path::new("/").join(x));
            for y in names {
                paths.push(std::path::Path::new("/").join(x).join(y));
                paths.push(std::path::Path::new("/").join(x).join(y).join(x));
            }
        }
        let mut by_key = paths.clone();
        by_key.sort_by_key(|p| order_key(p));
        paths.sort();
        assert_eq!(by_key, paths);
    }

    #[test]
    fn below_agrees_with_path_starts_with() {
        let segments = ["a", "ab", "a.b", "b", ".", "..", ""];
        let mut paths = vec![String::new(), "/".to_string()];
        for x in segments {
            for y in segments {
                for lead in ["", "/"] {
                    paths.push(format!("{lead}{x}"));
                    paths.push(format!("{lead}{x}/{y}"));
                    paths.push(format!("{lead}{x}/{y}/{x}"));
                }
            }
        }
        for p in &paths {
            for d in &paths {
                let (p, d) = (Path::new(p), Path::new(d));
                assert_eq!(is_below(p, d), p.starts_with(d), "{p:?} below {d:?}");
            }
        }
    }

    #[test]
    fn normalize_resolves_dots_and_keeps_normal_paths() {
        let cases = [
            ("/a/b/c.yaml", "/a/b/c.yaml"),
            ("/a/./b", "/a/b"),
            ("/a/b/../c", "/a/c"),
            ("/a//b/", "/a/b"),
            ("./a", "a"),
            ("a/../../b", "../b"),
            ("/", "/"),
            ("", ""),
            ("a.b/.c/..d", "a.b/.c/..d"),
            ("/..", "/.."),
            ("/../..", "/"),
            ("/a/../../b", "/../b"),
            ("../..", ""),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(Path::new(input)), Path::new(want), "{input}");
            assert_eq!(normalize(Path::new(input)).as_os_str(), want, "{input}");
        }
    }

    /// Normalizing bytes gives what walking the components and popping gives, for every path
    /// of up to four segments of `a`, `.`, `..`, `` and `b.c`, relative or absolute.
    #[test]
    fn normalize_agrees_with_the_components_of_the_path() {
        let segments = ["a", ".", "..", "", "b.c", ".d", "e.", "..."];
        let mut paths = vec![String::new()];
        for _ in 0..4 {
            let longer: Vec<String> = paths
                .iter()
                .flat_map(|p| segments.iter().map(move |s| format!("{p}/{s}")))
                .collect();
            paths.extend(longer);
        }
        let mut checked = 0;
        for p in &paths {
            for path in [p.clone(), p.trim_start_matches('/').to_string()] {
                let path = Path::new(&path);
                assert_eq!(
                    normalize(path).as_os_str(),
                    normalize_components(path).as_os_str(),
                    "{path:?}"
                );
                checked += 1;
            }
        }
        assert!(checked > 1000, "{checked}");
    }
}
