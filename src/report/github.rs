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

pub(super) fn write(outcome: &Outcome, out: &mut dyn Write) -> io::Result<()> {
    for f in &outcome.findings {
        let command = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let (start, end) = (f.span.start, f.span.end.max(f.span.start));
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
        )?;
    }
    for p in &outcome.problems {
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
        writeln!(out, "::error {}::{}", props.join(","), data(&p.message))?;
    }
    Ok(())
}
