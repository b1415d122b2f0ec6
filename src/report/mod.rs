//! Stage 5 — report: one file per output format.
//!
//! Entry point: [`write`].

pub mod catalog;
mod concise;
mod github;
mod human;
mod json;
pub(crate) mod junit;
mod markdown;
mod policy_report;
pub mod sanitize;
mod sarif;
mod stats;

use std::io::{self, Write};

use crate::Outcome;

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Compiler-style diagnostics with source excerpts.
    Human,
    /// One line per finding: `file:line:col: severity RULE message`.
    Concise,
    /// Machine-readable JSON (schema in README).
    Json,
    /// SARIF 2.1.0, for GitHub code scanning.
    Sarif,
    /// GitHub Actions annotations (workflow commands).
    Github,
    /// A Markdown summary for `$GITHUB_STEP_SUMMARY` or a pull request comment.
    Markdown,
    /// JUnit XML: a testsuite per file, a testcase per object.
    Junit,
    /// wgpolicyk8s.io PolicyReports and a ClusterPolicyReport.
    PolicyReport,
}

/// How human output looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools, reason = "command-line switches are booleans")]
pub struct Style {
    pub color: bool,
    /// Also show the findings a suppression accepts.
    pub show_suppressed: bool,
    /// Human output without the closing summary line (`--quiet`).
    pub quiet: bool,
    /// Human and concise output: counts per rule and per tenant instead of the findings.
    pub statistics: bool,
    /// The most workflow-command annotations `--format github` prints (then one notice).
    pub max_annotations: usize,
}

impl Default for Style {
    fn default() -> Self {
        Style {
            color: false,
            show_suppressed: false,
            quiet: false,
            statistics: false,
            max_annotations: DEFAULT_MAX_ANNOTATIONS,
        }
    }
}

/// GitHub shows ten annotations of a type per step; 50 keeps the errors that matter visible
/// without flooding the pull request.
pub const DEFAULT_MAX_ANNOTATIONS: usize = 50;

/// Where reports point back to: the `file://` URI of the directory paths are relative to
/// (SARIF), and a web base for links to files (Markdown).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Links {
    pub root_uri: Option<String>,
    pub web_base: Option<String>,
    /// The report paths of the files a pull request changed, when known: their annotations
    /// come first.
    pub changed: Option<std::collections::HashSet<String>>,
    /// The SARIF run's category (`automationDetails.id` is `CATEGORY/`): `mtk-lint`, or
    /// `mtk-lint/shard-K-of-N` for a shard, so that code scanning keeps each shard's alerts.
    pub sarif_category: Option<String>,
}

/// A file path as the path of a URI reference: everything but unreserved characters and `/`
/// percent-encoded (a space, `%`, `#`, `?` or `(` in a file name cannot end or redirect it).
#[must_use]
pub fn uri_path(path: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Writes the outcome in a format.
pub fn write(
    format: Format,
    outcome: &Outcome,
    style: Style,
    links: &Links,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Human => human::write(outcome, style, out),
        Format::Concise => concise::write(outcome, style, out),
        Format::Json => json::write(outcome, style, out),
        Format::Sarif => sarif::write(outcome, links, out),
        Format::Github => github::write(outcome, style, links.changed.as_ref(), out),
        Format::Markdown => markdown::write(outcome, links.web_base.as_deref(), out),
        Format::Junit => junit::write(outcome, out),
        Format::PolicyReport => policy_report::write(outcome, out),
    }
}

/// Findings for the writers' tests.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::Arc;

    use crate::finding::{Finding, Severity};
    use crate::load::source::{Pos, SourceFile, Span};

    pub(crate) fn finding(severity: Severity, line: u32, end_line: u32) -> Finding {
        Finding {
            rule: Arc::from("MTK-SEC-001"),
            name: Arc::from("privileged-container"),
            severity,
            message: "m".into(),
            help: None,
            source: Arc::new(SourceFile::new("a.yaml".into(), None, "".into())),
            span: Span::new(Pos { line, col: 4 }, Pos { line: end_line, col: 9 }),
            document: 0,
            path: String::new(),
            resource: Arc::new(crate::finding::ResourceRef {
                api_version: "v1".into(),
                kind: "Pod".into(),
                namespace: "a".into(),
                name: "p".into(),
            }),
            policy: None,
            suppressed: None,
            tenant: None,
            units: Arc::from([]),
        }
    }
}
