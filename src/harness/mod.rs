//! Stage 6 — harness: `mtk-lint test`.
//!
//! Finds test files below the given paths and runs them in parallel:
//! - `kyverno-test.yaml` (Kyverno CLI suites, unchanged) — [`kyverno`];
//! - `mtk-lint-test.yaml` (golden tests pinning a tree's findings) — [`golden`].
//!
//! Every test yields rows (one expected result against one resource, or one finding); a row
//! passes or fails. Entry point: [`run`].

mod compare;
pub mod golden;
mod kyverno;
pub mod render;

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::error::Problem;
use crate::load::discover::{display_path, normalize};
use crate::load::{Document, Limits};

/// Name of golden test files.
pub const GOLDEN_FILE_NAME: &str = "mtk-lint-test.yaml";

/// Options of `mtk-lint test`.
#[derive(Debug, Clone)]
#[allow(clippy::struct_excessive_bools, reason = "they mirror command-line switches")]
pub struct TestOptions {
    pub paths: Vec<PathBuf>,
    /// Name of Kyverno test files.
    pub file_name: String,
    pub strict: bool,
    /// Rewrite golden tests' `expect` with the current findings.
    pub update: bool,
    /// Compare golden findings without line numbers.
    pub ignore_lines: bool,
    /// Let tests read files outside the tested paths.
    pub allow_outside: bool,
    pub limits: Limits,
}

impl Default for TestOptions {
    fn default() -> Self {
        TestOptions {
            paths: Vec::new(),
            file_name: "kyverno-test.yaml".into(),
            strict: false,
            update: false,
            ignore_lines: false,
            allow_outside: false,
            limits: Limits::default(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
}

/// One compared expectation.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub policy: String,
    pub rule: String,
    /// The resource as written in the test.
    pub resource: String,
    pub kind: String,
    pub namespace: String,
    pub expected: String,
    /// `pass`, `fail`, `skip`, `error`, `warn`, `excluded` or `not-found`.
    pub actual: String,
    pub verdict: Verdict,
    pub reason: String,
    pub message: String,
}

/// Most rows one test keeps to show. A Kyverno result whose resources are not in the test is
/// checked against every resource (as `kyverno test` does), so results x resources rows can
/// arise: past this many they are counted, not kept.
pub const MAX_ROWS: usize = 10_000;

/// Rows counted but not kept (past [`MAX_ROWS`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Unlisted {
    pub passed: usize,
    pub failed: usize,
}

impl Unlisted {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.passed == 0 && self.failed == 0
    }

    #[must_use]
    pub fn total(&self) -> usize {
        self.passed + self.failed
    }
}

/// The outcome of one test (one document of a test file).
#[derive(Clone, Debug)]
pub struct SuiteReport {
    pub file: String,
    pub name: String,
    pub rows: Vec<Row>,
    /// Rows past [`MAX_ROWS`]: counted in the totals and the exit code, not listed.
    pub unlisted: Unlisted,
    /// Problems loading the test or what it references (exit code 2).
    pub problems: Vec<Problem>,
    /// Whether some policy of the suite is not a non-CEL validate-only ClusterPolicy.
    pub cel_or_other: bool,
    /// The kind of each policy of the suite, by name ([`crate::engine::kyverno::Policy::category`]).
    pub policy_kinds: std::collections::BTreeMap<String, String>,
}

impl SuiteReport {
    fn new(file: String, name: String) -> Self {
        SuiteReport {
            file,
            name,
            rows: Vec::new(),
            unlisted: Unlisted::default(),
            problems: Vec::new(),
            cel_or_other: false,
            policy_kinds: std::collections::BTreeMap::new(),
        }
    }

    fn broken(file: String, name: String, problem: Problem) -> Self {
        let mut r = SuiteReport::new(file, name);
        r.problems.push(problem);
        r
    }
}

/// Everything `mtk-lint test` found.
#[derive(Clone, Debug, Default)]
pub struct TestOutcome {
    pub suites: Vec<SuiteReport>,
    /// Problems outside any one suite (unreadable paths).
    pub problems: Vec<Problem>,
}

impl TestOutcome {
    #[must_use]
    pub fn passed(&self) -> usize {
        let unlisted: usize = self.suites.iter().map(|s| s.unlisted.passed).sum();
        self.rows().filter(|r| r.verdict == Verdict::Pass).count() + unlisted
    }

    #[must_use]
    pub fn failed(&self) -> usize {
        let unlisted: usize = self.suites.iter().map(|s| s.unlisted.failed).sum();
        self.rows().filter(|r| r.verdict == Verdict::Fail).count() + unlisted
    }

    #[must_use]
    pub fn errors(&self) -> usize {
        self.problems.len() + self.suites.iter().map(|s| s.problems.len()).sum::<usize>()
    }

    pub fn rows(&self) -> impl Iterator<Item = &Row> {
        self.suites.iter().flat_map(|s| &s.rows)
    }

    /// 2 when a test or a file it references could not be loaded, else 1 when a row failed.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        if self.errors() > 0 {
            2
        } else {
            u8::from(self.failed() > 0)
        }
    }
}

/// Reads the files tests reference, keeping them inside the tested paths.
pub(crate) struct Files<'a> {
    roots: Vec<PathBuf>,
    cwd: &'a Path,
    allow_outside: bool,
    limits: Limits,
}

/// A parsed file referenced by a test.
pub(crate) struct Parsed {
    pub documents: Vec<Document>,
    pub problems: Vec<Problem>,
}

impl Files<'_> {
    pub(crate) fn display(&self, path: &Path) -> String {
        display_path(path, self.cwd)
    }

    /// A file or directory referenced by a test, as the files to read.
    pub(crate) fn resolve(
        &self,
        dir: &Path,
        reference: &str,
        test: &str,
        pos: Option<crate::load::source::Pos>,
    ) -> Result<Vec<PathBuf>, Problem> {
        let path = self.checked(dir, reference, test, pos)?;
        if path.is_dir() {
            let mut out: Vec<PathBuf> = ignore::WalkBuilder::new(&path)
                .hidden(false)
                .build()
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_some_and(|t| t.is_file()))
                .map(ignore::DirEntry::into_path)
                .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml" || e == "json"))
                .collect();
            out.sort();
            Ok(out)
        } else {
            Ok(vec![path])
        }
    }

    pub(crate) fn resolve_file(
        &self,
        dir: &Path,
        reference: &str,
        test: &str,
        pos: Option<crate::load::source::Pos>,
    ) -> Result<PathBuf, Problem> {
        self.checked(dir, reference, test, pos)
    }

    fn checked(
        &self,
        dir: &Path,
        reference: &str,
        test: &str,
        pos: Option<crate::load::source::Pos>,
    ) -> Result<PathBuf, Problem> {
        let path = normalize(&dir.join(reference));
        let real = std::fs::canonicalize(&path)
            .map_err(|e| Problem::new(test, pos, format!("cannot read `{reference}`: {e}")))?;
        if !self.allow_outside && !self.roots.iter().any(|r| real.starts_with(r)) {
            return Err(Problem::new(
                test,
                pos,
                format!(
                    "`{reference}` is outside the tested paths (use --allow-outside to read it)"
                ),
            ));
        }
        let meta = std::fs::metadata(&real)
            .map_err(|e| Problem::new(test, pos, format!("cannot read `{reference}`: {e}")))?;
        if !meta.is_file() && !meta.is_dir() {
            return Err(Problem::new(
                test,
                pos,
                format!("`{reference}` is not a regular file (not read)"),
            ));
        }
        Ok(path)
    }

    pub(crate) fn read_yaml(&self, path: &Path) -> Result<Parsed, Problem> {
        let display = self.display(path);
        let (file, problems) = crate::load::read_file(path, &display, &self.limits);
        match file {
            Some(f) => Ok(Parsed { documents: f.documents, problems }),
            None => Err(problems
                .into_iter()
                .next()
                .unwrap_or_else(|| Problem::new(display, None, "cannot read"))),
        }
    }
}

/// Runs every test below the paths.
#[must_use]
pub fn run(options: &TestOptions, cwd: &Path) -> TestOutcome {
    let mut outcome = TestOutcome::default();
    let mut roots = Vec::new();
    let mut test_files = Vec::new();
    let paths =
        if options.paths.is_empty() { vec![PathBuf::from(".")] } else { options.paths.clone() };
    for p in &paths {
        let abs = normalize(&cwd.join(p));
        match std::fs::canonicalize(&abs) {
            Ok(real) => roots.push(if real.is_dir() {
                real
            } else {
                real.parent().map_or(real.clone(), Path::to_path_buf)
            }),
            Err(e) => {
                outcome.problems.push(Problem::new(
                    display_path(&abs, cwd),
                    None,
                    format!("cannot read: {e}"),
                ));
                continue;
            }
        }
        if abs.is_file() {
            test_files.push(abs);
            continue;
        }
        for entry in ignore::WalkBuilder::new(&abs).hidden(false).build() {
            match entry {
                Ok(e) if e.file_type().is_some_and(|t| t.is_file()) => {
                    let name = e.file_name().to_string_lossy();
                    if name == options.file_name.as_str() || name == GOLDEN_FILE_NAME {
                        test_files.push(normalize(e.path()));
                    }
                }
                Ok(_) => {}
                Err(err) => outcome.problems.push(Problem::new("", None, err.to_string())),
            }
        }
    }
    test_files.sort();
    test_files.dedup();
    let files = Files { roots, cwd, allow_outside: options.allow_outside, limits: options.limits };
    let suites: Vec<Vec<SuiteReport>> = test_files
        .par_iter()
        .map(|path| {
            crate::panic::catch(|| {
                if path.file_name().is_some_and(|n| n == GOLDEN_FILE_NAME) {
                    golden::run_file(path, &files, options)
                } else {
                    kyverno::run_file(path, &files, options.strict)
                }
            })
            .unwrap_or_else(|message| {
                let display = files.display(path);
                let message = crate::panic::internal_error("running the tests", &message);
                vec![SuiteReport::broken(
                    display.clone(),
                    String::new(),
                    Problem::new(display, None, message),
                )]
            })
        })
        .collect();
    outcome.suites = suites.into_iter().flatten().collect();
    outcome
}

/// Agreement with a corpus's expectations, for one group of suites.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Agreement {
    pub suites: usize,
    pub rows: usize,
    /// Rows `kyverno test` would count as passed.
    pub verdict_pass: usize,
    /// Rows whose actual result equals the expected one exactly (`skip` may be `excluded`).
    pub exact: usize,
}

impl Agreement {
    fn add(&mut self, suite: &SuiteReport) {
        self.suites += 1;
        for r in &suite.rows {
            self.add_row(r);
        }
    }

    fn add_row(&mut self, r: &Row) {
        self.rows += 1;
        self.verdict_pass += usize::from(r.verdict == Verdict::Pass);
        self.exact +=
            usize::from(r.actual == r.expected || (r.expected == "skip" && r.actual == "excluded"));
    }

    /// `N suites, N rows; kyverno-test verdict pass N (P%); exact agreement N (P%)`.
    #[must_use]
    pub fn summary(&self) -> String {
        format!(
            "{} suites, {} rows; kyverno-test verdict pass {} ({}%); exact agreement {} ({}%)",
            self.suites,
            self.rows,
            self.verdict_pass,
            Agreement::percent(self.verdict_pass, self.rows),
            self.exact,
            Agreement::percent(self.exact, self.rows),
        )
    }

    /// A share in percent, rounded down to one decimal.
    #[must_use]
    pub fn percent(part: usize, whole: usize) -> f64 {
        if whole == 0 {
            return 0.0;
        }
        ((part as f64) * 1000.0 / (whole as f64)).floor() / 10.0
    }
}

/// Agreement by the kind of policy a row names (`ClusterPolicy, validate.cel`,
/// `ValidatingPolicy`, …; `unknown policy` when the suite does not load it), in name order.
/// `suites` counts the suites with a row of that kind.
#[must_use]
pub fn conformance_by_kind(outcome: &TestOutcome) -> Vec<(String, Agreement)> {
    let mut by_kind: std::collections::BTreeMap<String, Agreement> =
        std::collections::BTreeMap::new();
    for suite in &outcome.suites {
        let mut seen = std::collections::BTreeSet::new();
        for r in &suite.rows {
            let name = r.policy.rsplit('/').next().unwrap_or("");
            let kind = suite.policy_kinds.get(name).map_or("unknown policy", String::as_str);
            let a = by_kind.entry(kind.to_string()).or_default();
            a.add_row(r);
            if seen.insert(kind) {
                a.suites += 1;
            }
        }
    }
    by_kind.into_iter().collect()
}

/// Agreement over all suites, and over the suites whose policies are all non-CEL
/// validate-only ClusterPolicies.
#[must_use]
pub fn conformance(outcome: &TestOutcome) -> (Agreement, Agreement) {
    let mut all = Agreement::default();
    let mut validate_only = Agreement::default();
    for suite in &outcome.suites {
        all.add(suite);
        if !suite.cel_or_other && !suite.rows.is_empty() {
            validate_only.add(suite);
        }
    }
    (all, validate_only)
}
