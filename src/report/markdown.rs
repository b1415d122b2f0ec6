//! `--format markdown`: a summary for `$GITHUB_STEP_SUMMARY` or a pull request comment.

use std::collections::BTreeMap;
use std::io::{self, Write};

use crate::finding::Severity;
use crate::Outcome;

/// Most findings listed one by one.
const TOP: usize = 50;

/// Text in a table cell: no line break, nothing CommonMark reads as structure (every ASCII
/// punctuation character it could act on is backslash-escaped, which renders as the character).
fn cell(s: &str) -> String {
    let s = super::sanitize::field(s);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '`'
                | '*'
                | '_'
                | '['
                | ']'
                | '<'
                | '>'
                | '|'
                | '~'
                | '#'
                | '&'
                | '!'
                | '('
                | ')'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub(super) fn write(
    outcome: &Outcome,
    link_base: Option<&str>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let count = |s: Severity| outcome.findings.iter().filter(|f| f.severity == s).count();
    writeln!(out, "## mtk-lint")?;
    writeln!(out)?;
    let status = if !outcome.problems.is_empty() || count(Severity::Error) > 0 {
        "❌"
    } else if outcome.findings.is_empty() {
        "✅"
    } else {
        "⚠️"
    };
    writeln!(
        out,
        "{status} **{}** findings ({} errors, {} warnings, {} info), {} suppressed, {} input errors — {} files, {} Kubernetes objects.",
        outcome.findings.len(),
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info),
        outcome.suppressed.len(),
        outcome.problems.len(),
        outcome.summary.files,
        outcome.summary.resources,
    )?;
    if outcome.findings.is_empty() && outcome.problems.is_empty() {
        return Ok(());
    }
    let mut per_tenant: BTreeMap<&str, usize> = BTreeMap::new();
    let mut per_rule: BTreeMap<String, usize> = BTreeMap::new();
    for f in &outcome.findings {
        *per_tenant.entry(f.tenant.as_deref().unwrap_or("(platform / none)")).or_default() += 1;
        *per_rule.entry(f.title()).or_default() += 1;
    }
    writeln!(out)?;
    writeln!(out, "| tenant | findings |\n| --- | --- |")?;
    for (t, n) in &per_tenant {
        writeln!(out, "| {} | {n} |", cell(t))?;
    }
    writeln!(out)?;
    writeln!(out, "| rule | findings |\n| --- | --- |")?;
    for (title, n) in &per_rule {
        writeln!(out, "| {} | {n} |", cell(title))?;
    }
    writeln!(out)?;
    writeln!(out, "| severity | where | rule | message |\n| --- | --- | --- | --- |")?;
    for f in outcome.findings.iter().take(TOP) {
        let place = format!("{}:{}", f.source.display, f.span.start.line);
        let where_ = match link_base {
            Some(base) if !f.source.display.starts_with('/') => {
                let target = super::uri_path(&f.source.display);
                format!("[{}]({base}/{target}#L{})", cell(&place), f.span.start.line)
            }
            _ => cell(&place),
        };
        writeln!(
            out,
            "| {} | {where_} | {} | {} |",
            f.severity.as_str(),
            cell(&f.rule),
            cell(&f.message)
        )?;
    }
    if outcome.findings.len() > TOP {
        writeln!(out, "\n…and {} more.", outcome.findings.len() - TOP)?;
    }
    for p in &outcome.problems {
        writeln!(out, "\n- ❌ {}", cell(&p.to_string()))?;
    }
    Ok(())
}
