//! Human output: each finding as a compiler-style diagnostic rendered by miette, then problems,
//! then one summary line.

use std::fmt;
use std::io::{self, Write};

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, SourceCode};

use rayon::prelude::*;

use super::{sanitize, Style};
use crate::error::Problem;
use crate::finding::{Finding, Severity};
use crate::Outcome;

/// A finding as miette sees it.
struct FindingDiagnostic<'a> {
    finding: &'a Finding,
    /// The rule's title, message and help as printed: user text goes through
    /// [`sanitize::field`].
    code: String,
    message: String,
    help: Option<String>,
    source: std::sync::Arc<crate::load::source::SourceFile>,
    label: LabeledSpan,
}

impl<'a> FindingDiagnostic<'a> {
    fn new(finding: &'a Finding) -> Self {
        let file = &finding.source;
        let (start, end) = file.byte_range(finding.span);
        // A multi-line span (a key whose value is a block) is cut to its first line.
        let end = file.text[start..end].find('\n').map_or(end, |n| start + n);
        let label = LabeledSpan::new(
            Some(sanitize::field(&finding.resource.to_string()).into_owned()),
            start,
            end.saturating_sub(start).max(1),
        );
        FindingDiagnostic {
            finding,
            code: sanitize::field(&finding.title()).into_owned(),
            message: sanitize::field(&finding.message).into_owned(),
            help: help(finding),
            source: file.clone(),
            label,
        }
    }
}

/// The rule's help, then the build units that render the object (for a rendered object).
fn help(finding: &Finding) -> Option<String> {
    let help = finding.help.as_deref().map(|h| sanitize::field(h).into_owned());
    if finding.units.is_empty() {
        return help;
    }
    let units: Vec<&str> = finding.units.iter().map(|t| &*t.unit).collect();
    let built = sanitize::field(&format!("built by {}", units.join("; "))).into_owned();
    Some(match help {
        Some(help) => format!("{help}\n{built}"),
        None => built,
    })
}

impl fmt::Debug for FindingDiagnostic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for FindingDiagnostic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FindingDiagnostic<'_> {}

impl Diagnostic for FindingDiagnostic<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(&self.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(miette_severity(self.finding.severity))
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(std::iter::once(self.label.clone())))
    }
}

/// A problem (unreadable file, syntax error, bad config) as miette sees it.
#[derive(Debug)]
struct ProblemDiagnostic<'a>(&'a Problem);

impl fmt::Display for ProblemDiagnostic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&sanitize::field(&self.0.to_string()))
    }
}

impl std::error::Error for ProblemDiagnostic<'_> {}

impl Diagnostic for ProblemDiagnostic<'_> {
    fn severity(&self) -> Option<miette::Severity> {
        Some(miette::Severity::Error)
    }
}

fn miette_severity(s: Severity) -> miette::Severity {
    match s {
        Severity::Error => miette::Severity::Error,
        Severity::Warning => miette::Severity::Warning,
        Severity::Info => miette::Severity::Advice,
    }
}

pub(super) fn write(outcome: &Outcome, style: Style, out: &mut dyn Write) -> io::Result<()> {
    if style.statistics {
        // The counts instead of the findings (the input errors and summary still follow).
        return super::concise::write(outcome, style, out);
    }
    let theme =
        if style.color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_links(false)
        .with_width(120)
        .with_context_lines(1);
    // Rendering (snippets, wrapping) and making the lines safe are most of the cost: done in
    // parallel, written in order.
    let rendered: Vec<Result<String, fmt::Error>> = outcome
        .findings
        .par_iter()
        .map(|finding| {
            let mut buf = String::new();
            handler.render_report(&mut buf, &FindingDiagnostic::new(finding))?;
            Ok(sanitize::lines(buf.trim_end(), style.color))
        })
        .collect();
    for buf in rendered {
        let buf = buf.map_err(io::Error::other)?;
        writeln!(out, "{buf}")?;
        writeln!(out)?;
    }
    let mut buf = String::new();
    if style.show_suppressed {
        for finding in &outcome.suppressed {
            buf.clear();
            handler
                .render_report(&mut buf, &FindingDiagnostic::new(finding))
                .map_err(io::Error::other)?;
            writeln!(out, "{}", sanitize::lines(buf.trim_end(), style.color))?;
            let reason = sanitize::field(finding.suppressed.as_deref().unwrap_or(""));
            writeln!(out, "  suppressed: {reason}")?;
            writeln!(out)?;
        }
    }
    for problem in &outcome.problems {
        buf.clear();
        handler.render_report(&mut buf, &ProblemDiagnostic(problem)).map_err(io::Error::other)?;
        writeln!(out, "{}", sanitize::lines(buf.trim_end(), style.color))?;
        writeln!(out)?;
    }
    if style.quiet {
        return Ok(());
    }
    if !outcome.findings.is_empty() {
        super::stats::write_rules(&super::stats::counts(&outcome.findings), out)?;
    }
    writeln!(out, "{}", sanitize::lines(&summary_line(outcome), false))
}

pub(super) fn summary_line(outcome: &Outcome) -> String {
    use std::fmt::Write as _;
    let s = &outcome.summary;
    let count = |sev: Severity| outcome.findings.iter().filter(|f| f.severity == sev).count();
    let plural = |n: usize, word: &str| {
        if n == 1 {
            format!("{n} {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    let mut parts = Vec::new();
    for sev in [Severity::Error, Severity::Warning, Severity::Info] {
        let n = count(sev);
        if n > 0 {
            parts.push(plural(n, sev.as_str()));
        }
    }
    let findings = if parts.is_empty() {
        "no findings".to_string()
    } else {
        format!("{} ({})", plural(s.findings, "finding"), parts.join(", "))
    };
    let suppressed = match outcome.suppressed.len() {
        0 => String::new(),
        n => format!(", {n} suppressed"),
    };
    let errors = if outcome.problems.is_empty() {
        String::new()
    } else {
        format!(", {}", plural(outcome.problems.len(), "input error"))
    };
    let mut line = format!(
        "{findings}{suppressed}{errors}; {}, {} ({} Kubernetes objects, {} skipped)",
        plural(s.files, "file"),
        plural(s.documents, "document"),
        s.resources,
        s.skipped,
    );
    let skipped: Vec<String> = crate::load::skip::SkipReason::ALL
        .iter()
        .filter_map(|r| s.skipped_files.get(r.key()).map(|n| format!("{n} {}", r.label())))
        .collect();
    if !skipped.is_empty() {
        let total = s.skipped_files.values().sum();
        let _ = write!(line, "; {} skipped ({})", plural(total, "file"), skipped.join(", "));
    }
    if s.charts_not_rendered > 0 {
        let _ = write!(line, "; charts not rendered: {}", s.charts_not_rendered);
    }
    for warning in &outcome.warnings {
        let _ = write!(line, "\nwarning: {}", sanitize::field(warning));
    }
    line
}
