//! Stage 5 — report: one file per output format.
//!
//! Entry point: [`write`].

pub mod catalog;
mod github;
mod human;
mod json;
pub(crate) mod junit;
mod markdown;
mod policy_report;
pub mod sanitize;
mod sarif;

use std::io::{self, Write};

use crate::Outcome;

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Compiler-style diagnostics with source excerpts.
    Human,
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
    /// Also show the findings a suppression accepts.
    pub show_suppressed: bool,
    /// Human output without the closing summary line (`--quiet`).
    pub quiet: bool,
}

/// Where reports point back to: the `file://` URI of the directory paths are relative to
/// (SARIF), and a web base for links to files (Markdown).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Links {
    pub root_uri: Option<String>,
    pub web_base: Option<String>,
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
        Format::Json => json::write(outcome, style, out),
        Format::Sarif => sarif::write(outcome, links.root_uri.as_deref(), out),
        Format::Github => github::write(outcome, out),
        Format::Markdown => markdown::write(outcome, links.web_base.as_deref(), out),
        Format::Junit => junit::write(outcome, out),
        Format::PolicyReport => policy_report::write(outcome, out),
    }
}
