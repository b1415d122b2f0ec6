//! Stage 1 — load: inputs → source files → YAML documents with spans.
//!
//! Entry point: [`load`]. Files are read and parsed in parallel; output order is by path.

pub mod de;
pub mod discover;
pub mod floor;
pub mod locate;
pub mod skip;
pub mod source;
pub mod yaml;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::error::Problem;
use crate::progress::{Progress, Stage};
pub use discover::{Excludes, Input};
use source::{Pos, SourceFile};
pub use yaml::{Document, Limits, Node, Value};

/// A file and the documents it holds.
#[derive(Debug)]
pub struct LoadedFile {
    pub source: Arc<SourceFile>,
    pub documents: Vec<Document>,
    /// Reading it met a problem (the documents are those before it): never counted as skipped.
    pub broken: bool,
    /// Why the loader already knows it holds no object (a template that is not YAML yet).
    pub skip: Option<skip::SkipReason>,
}

/// Everything read: files in path order (stdin last), and the problems met.
#[derive(Debug, Default)]
pub struct Sources {
    pub files: Vec<LoadedFile>,
    pub problems: Vec<Problem>,
    /// Absolute paths of the directories given as inputs (kustomize and Flux paths resolve
    /// against them).
    pub roots: Vec<PathBuf>,
    /// Files found but not read: the sources of Helm charts.
    pub skipped: Vec<skip::SkippedFile>,
    /// Directories holding a `Chart.yaml` (shown as the user sees them).
    pub charts: Vec<String>,
    /// The same directories, absolute.
    pub chart_dirs: Vec<PathBuf>,
    /// The directory paths are shown from.
    pub cwd: PathBuf,
    /// The limits files were read with (rendering reads more files with them).
    pub limits: Limits,
}

/// What to read and how.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub inputs: Vec<Input>,
    /// Exclusion globs with the directory they are relative to.
    pub excludes: Vec<(PathBuf, Excludes)>,
    /// Files never read as manifests (the config file).
    pub skip_files: Vec<PathBuf>,
    /// Follow symbolic links that leave an input's tree.
    pub follow_links: bool,
    pub limits: Limits,
}

/// Reads and parses every input. Never fails as a whole: problems are collected per file.
#[must_use]
pub fn load(options: &LoadOptions, cwd: &Path) -> Sources {
    load_with(options, cwd, &crate::progress::Silent)
}

/// How many files one thread works through before the others may take what is left of its
/// share. Rayon splits a list in halves and then works through each half at once: the last
/// thread to finish held up the rest (80 ms of one busy core at the end of loading 39,000
/// files). Each file is tens of microseconds of work; a piece of 32 is a millisecond.
pub const PARALLEL_FILES: usize = 32;

/// [`load`], telling `progress` about every file read.
pub fn load_with(options: &LoadOptions, cwd: &Path, progress: &dyn Progress) -> Sources {
    let (mut candidates, mut problems) =
        discover::discover(&options.inputs, cwd, &options.excludes, options.follow_links);
    candidates.retain(|c| !options.skip_files.contains(&c.path));
    let (candidates, chart_sources, chart_dirs) = skip::split_charts(candidates);
    let skipped = chart_sources
        .into_iter()
        .map(|c| skip::SkippedFile {
            display: c.display,
            path: Some(c.path),
            reason: skip::SkipReason::HelmChart,
        })
        .collect();
    let charts = chart_dirs.iter().map(|d| discover::display_path(d, cwd)).collect();
    progress.start(Stage::Load, candidates.len() as u64);
    let results: Vec<(Option<LoadedFile>, Vec<Problem>)> = candidates
        .par_iter()
        .with_max_len(PARALLEL_FILES)
        .map(|c| {
            let read =
                contained(&c.display, || read_path(&c.path, &c.display, &options.limits, c.walked));
            progress.advance(1);
            read
        })
        .collect();
    progress.finish();
    let mut files = Vec::with_capacity(results.len());
    for (file, mut file_problems) in results {
        files.extend(file);
        problems.append(&mut file_problems);
    }
    if options.inputs.contains(&Input::Stdin) {
        let mut bytes = Vec::new();
        match std::io::stdin().lock().take(options.limits.max_file_size + 1).read_to_end(&mut bytes)
        {
            // An empty stream is a failed producer (`kustomize build` that printed nothing),
            // never a clean tree.
            Ok(_) if bytes.iter().all(u8::is_ascii_whitespace) => problems.push(Problem::new(
                "<stdin>",
                None,
                "standard input is empty: nothing to lint",
            )),
            Ok(_) => {
                let (file, mut p) = contained("<stdin>", || {
                    parse_bytes(bytes, "<stdin>".into(), None, &options.limits)
                });
                files.extend(file);
                problems.append(&mut p);
            }
            Err(e) => problems.push(Problem::new("<stdin>", None, format!("cannot read: {e}"))),
        }
    }
    let roots = options
        .inputs
        .iter()
        .filter_map(|i| match i {
            Input::Path(p) => Some(discover::normalize(&cwd.join(p))),
            Input::Stdin => None,
        })
        .filter(|p| p.is_dir())
        .collect();
    Sources {
        files,
        problems,
        roots,
        skipped,
        charts,
        chart_dirs,
        cwd: cwd.to_path_buf(),
        limits: options.limits,
    }
}

/// Runs `read` for one file; a panic in it (a bug) becomes an error naming the file.
fn contained(
    display: &str,
    read: impl FnOnce() -> (Option<LoadedFile>, Vec<Problem>),
) -> (Option<LoadedFile>, Vec<Problem>) {
    crate::panic::catch(read).unwrap_or_else(|message| {
        let message = crate::panic::internal_error("reading the file", &message);
        (None, vec![Problem::new(display, None, message)])
    })
}

/// Parses text that is already in memory (used by tests and the harness).
#[must_use]
pub fn parse_text(
    display: &str,
    text: &str,
    limits: &Limits,
) -> (Option<LoadedFile>, Vec<Problem>) {
    parse_bytes(text.as_bytes().to_vec(), display.into(), None, limits)
}

/// Reads and parses one file (a regular file within the size limit).
#[must_use]
pub fn read_file(
    path: &Path,
    display: &str,
    limits: &Limits,
) -> (Option<LoadedFile>, Vec<Problem>) {
    read_path(path, display, limits, false)
}

/// The buffer a file is first read into: most manifests fit (the text is then moved into one
/// of its own size).
const FIRST_READ: usize = 16 * 1024;

/// [`read_file`]; `regular` says the walk already saw a regular file there, which saves a
/// `stat` of the path per file.
fn read_path(
    path: &Path,
    display: &str,
    limits: &Limits,
    regular: bool,
) -> (Option<LoadedFile>, Vec<Problem>) {
    let fail = |message: String| (None, vec![Problem::new(display, None, message)]);
    // Checked before opening: opening a pipe would wait for a writer.
    if !regular {
        match std::fs::metadata(path) {
            Ok(m) if m.is_file() => {}
            Ok(_) => return fail("not a regular file (not read)".into()),
            Err(e) => return fail(format!("cannot read: {e}")),
        }
    }
    // Read without asking the size first: a manifest is a few KiB, and the `statx` a size hint
    // costs is a fifth of the system calls per file. The size is asked only of a file that
    // turns out larger than the limit, to name it.
    let read = std::fs::File::open(path).and_then(|mut file| {
        let mut bytes = Vec::with_capacity(FIRST_READ);
        (&mut file).take(limits.max_file_size + 1).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > limits.max_file_size {
            let len = file.metadata().map_or(bytes.len() as u64, |m| m.len());
            return Ok(Err(len.max(bytes.len() as u64)));
        }
        Ok(Ok(bytes))
    });
    match read {
        Ok(Ok(bytes)) => parse_bytes(bytes, display.into(), Some(path.to_path_buf()), limits),
        Ok(Err(len)) => fail(format!(
            "file is {len} bytes, more than the limit of {} ({})",
            limits.max_file_size,
            crate::limits::hint("file-size")
        )),
        Err(e) => fail(format!("cannot read: {e}")),
    }
}

fn parse_bytes(
    bytes: Vec<u8>,
    display: String,
    path: Option<PathBuf>,
    limits: &Limits,
) -> (Option<LoadedFile>, Vec<Problem>) {
    if bytes.len() as u64 > limits.max_file_size {
        let message = format!(
            "input is larger than the limit of {} bytes ({})",
            limits.max_file_size,
            crate::limits::hint("file-size")
        );
        return (None, vec![Problem::new(display, None, message)]);
    }
    if let Some(at) = memchr::memchr(0, &bytes) {
        let pos = position_of(&bytes, at);
        return (None, vec![Problem::new(display, Some(pos), "binary file (NUL byte), not YAML")]);
    }
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let pos = position_of(e.as_bytes(), at);
            return (None, vec![Problem::new(display, Some(pos), "invalid UTF-8")]);
        }
    };
    // A byte-order mark is invisible in editors; drop it so columns on line 1 stay right.
    let text: Box<str> = match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.into(),
        None => text.into_boxed_str(),
    };
    let source = SourceFile::new(display, path, text);
    if let Some((line, len)) = source.line_longer_than(limits.max_line_length) {
        let message = format!(
            "line {line} is {len} bytes long, more than the limit of {} ({})",
            limits.max_line_length,
            crate::limits::hint("line-length")
        );
        return (None, vec![Problem::new(source.display, Some(Pos { line, col: 0 }), message)]);
    }
    let parsed = yaml::parse_stream(&source.text, limits);
    // Only a syntax error at a template line: duplicate keys and limits are never templates.
    let syntax_error_at = parsed.problems.first().filter(|p| {
        !p.message.starts_with("duplicate key") && !p.message.contains("(raise it with")
    });
    if syntax_error_at.is_some_and(|p| skip::is_template(&source.text, p.pos.line)) {
        // A Jinja or Go template with a YAML name (Ansible roles, chart-like folders): not YAML
        // until something renders it.
        let file = LoadedFile {
            source: Arc::new(source),
            documents: Vec::new(),
            broken: false,
            skip: Some(skip::SkipReason::Template),
        };
        return (Some(file), Vec::new());
    }
    let problems: Vec<Problem> = parsed
        .problems
        .iter()
        .map(|p| Problem::new(source.display.clone(), Some(p.pos), p.message.clone()))
        .collect();
    let broken = !problems.is_empty();
    let file =
        LoadedFile { source: Arc::new(source), documents: parsed.documents, broken, skip: None };
    (Some(file), problems)
}

/// Line and character column of a byte offset in possibly invalid UTF-8.
fn position_of(bytes: &[u8], at: usize) -> Pos {
    let before = &bytes[..at];
    let line = before.split(|&b| b == b'\n').count() as u32;
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let col = String::from_utf8_lossy(&before[line_start..]).chars().count() as u32;
    Pos { line, col }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A template is skipped; a duplicate key on a line with a template expression is broken
    /// YAML all the same.
    #[test]
    fn only_syntax_errors_at_template_lines_make_a_template() {
        let limits = Limits::default();
        let (file, problems) =
            parse_text("t.yaml", "metadata:\n  name: {{ .Release.Name }}\n", &limits);
        assert!(problems.is_empty());
        assert_eq!(file.unwrap().skip, Some(skip::SkipReason::Template));
        let duplicate = "metadata:\n  name: \"{{ a }}\"\n  name: \"{{ b }}\"\n";
        let (file, problems) = parse_text("d.yaml", duplicate, &limits);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].message.starts_with("duplicate key"), "{}", problems[0].message);
        assert_eq!(file.unwrap().skip, None);
    }

    /// Files are read without asking their size first: one larger than the first buffer is
    /// read whole, one at the limit is read, and one above it is refused with its size.
    #[test]
    fn files_of_any_size_up_to_the_limit_are_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let line = "- item-with-some-text-to-fill-the-line\n";
        let text = format!("items:\n{}", line.repeat(3 * FIRST_READ / line.len()));
        assert!(text.len() > 2 * FIRST_READ);
        let path = dir.path().join("big.yaml");
        std::fs::write(&path, &text).unwrap();
        let exact = Limits { max_file_size: text.len() as u64, ..Limits::default() };
        let (file, problems) = read_file(&path, "big.yaml", &exact);
        assert!(problems.is_empty(), "{problems:?}");
        let file = file.unwrap();
        assert_eq!(&*file.source.text, text);
        let items = file.documents[0].root.get("items").and_then(|i| i.as_seq()).unwrap();
        assert_eq!(items.len(), 3 * FIRST_READ / line.len());
        let below = Limits { max_file_size: text.len() as u64 - 1, ..Limits::default() };
        let (file, problems) = read_file(&path, "big.yaml", &below);
        assert!(file.is_none());
        assert_eq!(
            problems[0].message,
            format!(
                "file is {} bytes, more than the limit of {} ({})",
                text.len(),
                text.len() - 1,
                crate::limits::hint("file-size")
            )
        );
    }

    #[test]
    fn a_panic_while_reading_a_file_is_an_error_naming_it() {
        let (file, problems) = contained("tenants/a.yaml", || panic!("parser bug"));
        assert!(file.is_none());
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].file, "tenants/a.yaml");
        assert!(
            problems[0].message.starts_with("internal error while reading the file: parser bug"),
            "{}",
            problems[0].message
        );
    }
}
