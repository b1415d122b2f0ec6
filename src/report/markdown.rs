//! `--format markdown`: a summary for `$GITHUB_STEP_SUMMARY` or a pull request comment.

use std::io::{self, Write};

use crate::finding::Severity;
use crate::Outcome;

/// Most findings (and input errors) listed one by one.
const TOP: usize = 50;

/// Most tenants and rules in the count tables (the largest counts).
const TOP_ROWS: usize = 20;

/// Longest message shown in a cell, in characters. With the row limits above, the summary
/// stays far below GitHub's 1 MiB step-summary limit (at most about 120 rows of ~1 KiB).
const MESSAGE_CHARS: usize = 500;

/// A message cut to [`MESSAGE_CHARS`].
fn short(message: &str) -> std::borrow::Cow<'_, str> {
    match message.char_indices().nth(MESSAGE_CHARS) {
        Some((at, _)) => format!("{}…", &message[..at]).into(),
        None => message.into(),
    }
}

/// The line under a table cut at [`TOP_ROWS`]: how many more rows, with how many findings.
fn more(out: &mut dyn Write, rest: impl Iterator<Item = usize>, what: &str) -> io::Result<()> {
    let (rows, findings) = rest.fold((0, 0), |(r, f), n| (r + 1, f + n));
    if rows > 0 {
        writeln!(out, "\n…and {rows} more {what} with {findings} findings.")?;
    }
    Ok(())
}

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
    // What the run says besides findings (a baseline's accepted and stale entries, a shard's
    // limits, annotations not ordered by the pull request's files).
    for warning in outcome.warnings.iter().take(TOP) {
        writeln!(out, "\n- ℹ️ {}", cell(&short(warning)))?;
    }
    if outcome.findings.is_empty() && outcome.problems.is_empty() {
        return Ok(());
    }
    let sarif_left_out = super::sarif::results_left_out(outcome);
    if sarif_left_out > 0 {
        writeln!(
            out,
            "\n⚠️ The SARIF report leaves out at least {sarif_left_out} of {} results, the least \
             severe (GitHub accepts 25,000 per run): they are in the JSON report and the log. \
             `--shard K/N` splits a run.",
            outcome.findings.len() + outcome.suppressed.len()
        )?;
    }
    let counts = super::stats::counts(&outcome.findings);
    writeln!(out)?;
    writeln!(out, "| tenant | findings |\n| --- | --- |")?;
    for (t, n) in counts.tenants.iter().take(TOP_ROWS) {
        writeln!(out, "| {} | {n} |", cell(t))?;
    }
    more(out, counts.tenants.iter().skip(TOP_ROWS).map(|t| t.1), "tenants")?;
    writeln!(out)?;
    writeln!(out, "| rule | severity | findings |\n| --- | --- | --- |")?;
    for r in counts.rules.iter().take(TOP_ROWS) {
        writeln!(out, "| {} | {} | {} |", cell(&r.title), r.severity.as_str(), r.count)?;
    }
    more(out, counts.rules.iter().skip(TOP_ROWS).map(|r| r.count), "rules")?;
    writeln!(out)?;
    // The most severe first, in report order within a severity.
    let mut top: Vec<&crate::finding::Finding> = outcome.findings.iter().collect();
    top.sort_by_key(|f| std::cmp::Reverse(f.severity));
    writeln!(out, "| severity | where | rule | message |\n| --- | --- | --- | --- |")?;
    for f in top.iter().take(TOP) {
        let place = format!("{}:{}", f.source.display, f.span.start().line);
        let where_ = match link_base {
            Some(base) if !f.source.display.starts_with('/') => {
                let target = super::uri_path(&f.source.display);
                format!("[{}]({base}/{target}#L{})", cell(&place), f.span.start().line)
            }
            _ => cell(&place),
        };
        writeln!(
            out,
            "| {} | {where_} | {} | {} |",
            f.severity.as_str(),
            cell(&f.rule),
            cell(&short(&f.message))
        )?;
    }
    if outcome.findings.len() > TOP {
        writeln!(
            out,
            "\n…and {} more: every finding is in the SARIF report and the job's log.",
            outcome.findings.len() - TOP
        )?;
    }
    for p in outcome.problems.iter().take(TOP) {
        writeln!(out, "\n- ❌ {}", cell(&short(&p.to_string())))?;
    }
    if outcome.problems.len() > TOP {
        writeln!(out, "\n…and {} more input errors.", outcome.problems.len() - TOP)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::testing::finding;
    use crate::error::Problem;
    use crate::finding::Severity;
    use crate::Outcome;

    #[test]
    fn a_summary_of_a_huge_run_lists_the_top_tenants_and_rules_and_stays_under_one_mib() {
        let long = "x".repeat(5_000);
        let findings = (0..20_000u32)
            .map(|i| {
                let mut f = finding(Severity::Warning, i + 1, i + 1);
                f.tenant = Some(Arc::from(format!("tenant-{:04}", i % 1000 + i / 1000)));
                f.rule = Arc::from(format!("policy-{}/rule", i % 300));
                f.message = long.clone();
                f
            })
            .collect();
        let problems =
            (0..5_000).map(|i| Problem::new(format!("f{i}.yaml"), None, long.clone())).collect();
        let outcome = Outcome { findings, problems, ..Outcome::default() };
        let mut out = Vec::new();
        super::write(&outcome, None, &mut out).unwrap();
        let md = String::from_utf8(out).unwrap();
        assert!(md.len() < 1 << 20, "{} bytes", md.len());
        // tenant-0019 has the most findings (i % 1000 + i / 1000 peaks in the middle).
        let tenants = md.split("| tenant | findings |").nth(1).unwrap();
        let first = tenants.lines().nth(2).unwrap();
        assert!(first.starts_with("| tenant-0019 | 20 |"), "{first}");
        assert!(md.contains("…and 999 more tenants with "), "{}", &md[..2000]);
        assert!(md.contains("…and 280 more rules with "));
        assert!(md.contains("…and 4950 more input errors."));
        assert!(md.contains(&format!("{}…", "x".repeat(500))));
        assert!(!md.contains(&"x".repeat(501)));
    }
}
