//! `--format github`: GitHub Actions workflow commands, one annotation per finding.

use std::io::{self, Write};

use crate::finding::Severity;
use crate::Outcome;

/// Escapes the message of a workflow command.
fn data(s: &str) -> String {
    // Line breaks as the runner decodes them; other control characters, the line and paragraph
    // separators and the legacy command marker `##[` as the sanitiser shows them.
    let encoded = s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A");
    super::sanitize::field(&encoded).into_owned()
}

/// Escapes a property value of a workflow command.
fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

/// One annotation: a finding or an input error.
enum Annotation<'a> {
    Finding(&'a crate::finding::Finding),
    Problem(&'a crate::error::Problem),
}

/// Annotations up to `style.max_annotations` (0: no limit), after one notice counting what is
/// left out: input errors, then findings by severity (errors first), those in files the pull
/// request changed (`changed`) before the others, each group in report order.
pub(super) fn write(
    outcome: &Outcome,
    style: super::Style,
    changed: Option<&std::collections::HashSet<String>>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let unchanged = |file: &str| changed.is_some_and(|c| !c.contains(file));
    let mut order: Vec<(u8, bool, usize, Annotation<'_>)> = outcome
        .problems
        .iter()
        .enumerate()
        .map(|(i, p)| (0, unchanged(&p.file), i, Annotation::Problem(p)))
        .collect();
    order.extend(outcome.findings.iter().enumerate().map(|(i, f)| {
        let rank = match f.severity {
            Severity::Error => 1,
            Severity::Warning => 2,
            Severity::Info => 3,
        };
        (rank, unchanged(&f.source.display), i, Annotation::Finding(f))
    }));
    order.sort_by_key(|(rank, unchanged, i, _)| (*rank, *unchanged, *i));
    let cap = if style.max_annotations == 0 { usize::MAX } else { style.max_annotations };
    // The notice first: GitHub shows ten annotations of a type per step, so after fifty notices
    // of findings it would not be seen.
    if order.len() > cap {
        let left = &order[cap..];
        let count = |rank: u8| left.iter().filter(|a| a.0 == rank).count();
        let mut parts = Vec::new();
        for (rank, word) in [(0, "input errors"), (1, "errors"), (2, "warnings"), (3, "notices")] {
            match count(rank) {
                0 => {}
                n => parts.push(format!("{n} {word}")),
            }
        }
        writeln!(
            out,
            "::notice title=mtk-lint::{}",
            data(&format!(
                "{} more not annotated ({}): every finding is in the job summary and the SARIF \
                 report (at most {cap} annotations: --max-annotations)",
                left.len(),
                parts.join(", ")
            ))
        )?;
    }
    for (_, _, _, annotation) in order.iter().take(cap) {
        match annotation {
            Annotation::Finding(f) => finding(f, out)?,
            Annotation::Problem(p) => problem(p, out)?,
        }
    }
    Ok(())
}

fn finding(f: &crate::finding::Finding, out: &mut dyn Write) -> io::Result<()> {
    let command = match f.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "notice",
    };
    let (start, end) = (f.span.start(), f.span.end().max(f.span.start()));
    let end_col =
        if end.line == start.line { (end.col + 1).max(start.col + 2) } else { end.col + 1 };
    writeln!(
        out,
        "::{command} file={},line={},col={},endLine={},endColumn={end_col},title={}::{}",
        property(&f.source.display),
        start.line.max(1),
        start.col + 1,
        end.line.max(start.line.max(1)),
        property(&f.title()),
        data(&format!("{} ({})", f.message, f.resource)),
    )
}

fn problem(p: &crate::error::Problem, out: &mut dyn Write) -> io::Result<()> {
    let mut props = Vec::new();
    if !p.file.is_empty() {
        props.push(format!("file={}", property(&p.file)));
    }
    if let Some(l) = p.line {
        props.push(format!("line={l}"));
    }
    if let Some(c) = p.column {
        props.push(format!("col={c}"));
    }
    props.push("title=mtk-lint error".into());
    writeln!(out, "::error {}::{}", props.join(","), data(&p.message))
}
