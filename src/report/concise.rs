//! `--format concise`: one line per finding, `file:line:col: severity RULE message`, as
//! compilers and ruff print them (editors and `grep` read it); input errors the same way, then
//! the counts per rule and the summary line.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::{sanitize, stats, Style};
use crate::Outcome;

/// `file:line:col: WHAT RULE NAME message (resource)`.
fn finding_line(f: &crate::finding::Finding, what: &str) -> String {
    format!(
        "{}:{}:{}: {what} {} {} ({})",
        f.source.display,
        f.span.start().line.max(1),
        f.span.start().col + 1,
        f.title(),
        f.message,
        f.resource
    )
}

pub(super) fn write(outcome: &Outcome, style: Style, out: &mut dyn Write) -> io::Result<()> {
    let mut line = String::new();
    let emit = |line: &str, out: &mut dyn Write| {
        // A whole line: a file named `::error …` must not reach the runner as a command.
        writeln!(out, "{}", sanitize::lines(&sanitize::field(line), false))
    };
    if !style.statistics {
        for f in &outcome.findings {
            emit(&finding_line(f, f.severity.as_str()), out)?;
        }
        if style.show_suppressed {
            for f in &outcome.suppressed {
                let reason = f.suppressed.as_deref().unwrap_or("");
                emit(&format!("{}: {reason}", finding_line(f, "suppressed")), out)?;
            }
        }
    }
    for p in &outcome.problems {
        line.clear();
        let file = if p.file.is_empty() { "mtk-lint" } else { &p.file };
        let _ = write!(line, "{file}:");
        if let Some(l) = p.line {
            let _ = write!(line, "{l}:{}:", p.column.unwrap_or(1));
        }
        let _ = write!(line, " error input {}", p.message);
        emit(&line, out)?;
    }
    if style.statistics {
        stats::write(&outcome.findings, out)?;
    }
    if style.quiet {
        return Ok(());
    }
    if !outcome.findings.is_empty() && !style.statistics {
        writeln!(out)?;
        stats::write_rules(&stats::counts(&outcome.findings), out)?;
    }
    writeln!(out, "{}", sanitize::lines(&super::human::summary_line(outcome), false))
}
