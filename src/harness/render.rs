//! Output of `mtk-lint test`: a table per test, JSON, or JUnit XML.

use std::io::{self, Write};

use serde::Serialize;

use super::{Row, TestOutcome, Unlisted, Verdict};
use crate::error::Problem;
use crate::report::junit::xml;
use crate::report::sanitize;

/// Formats of `mtk-lint test`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TestFormat {
    Table,
    Json,
    Junit,
}

/// What the table shows.
#[derive(Clone, Copy, Debug, Default)]
pub struct TableOptions {
    pub detailed: bool,
    pub fail_only: bool,
}

pub fn write(
    format: TestFormat,
    outcome: &TestOutcome,
    table: TableOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        TestFormat::Table => write_table(outcome, table, out),
        TestFormat::Json => write_json(outcome, out),
        TestFormat::Junit => write_junit(outcome, out),
    }
}

/// The closing line: `N passed, M failed` (and errors, when any).
#[must_use]
pub fn summary_line(outcome: &TestOutcome) -> String {
    let line = format!("{} passed, {} failed", outcome.passed(), outcome.failed());
    match outcome.errors() {
        0 => line,
        errors => format!("{line}, {errors} errors"),
    }
}

fn write_problem(p: &Problem, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "error: {}", sanitize::field(&p.to_string()))
}

/// The table, rendered whole and then made safe line by line: test files, names, resources and
/// messages come from the tested tree.
fn write_table(
    outcome: &TestOutcome,
    options: TableOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut buf = Vec::new();
    render_table(outcome, options, &mut buf)?;
    out.write_all(sanitize::lines(&String::from_utf8_lossy(&buf), false).as_bytes())
}

fn render_table(
    outcome: &TestOutcome,
    options: TableOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    for p in &outcome.problems {
        write_problem(p, out)?;
    }
    for suite in &outcome.suites {
        let rows: Vec<(usize, &Row)> = suite
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| !options.fail_only || r.verdict == Verdict::Fail)
            .map(|(i, r)| (i + 1, r))
            .collect();
        if options.fail_only && rows.is_empty() && suite.problems.is_empty() {
            continue;
        }
        let name = if suite.name.is_empty() {
            String::new()
        } else {
            format!(" ({})", sanitize::field(&suite.name))
        };
        writeln!(out, "Test {}{name}", sanitize::field(&suite.file))?;
        for p in &suite.problems {
            write_problem(p, out)?;
        }
        if !rows.is_empty() {
            let mut header = vec!["ID", "POLICY", "RULE", "RESOURCE", "RESULT", "REASON"];
            if options.detailed {
                header.push("MESSAGE");
            }
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|(id, r)| {
                    let resource = match (r.kind.as_str(), r.namespace.as_str()) {
                        ("LintTest", _) => r.resource.clone(),
                        (k, "") => format!("{k}/{}", r.resource.rsplit('/').next().unwrap_or("")),
                        (k, ns) => {
                            format!("{k}/{ns}/{}", r.resource.rsplit('/').next().unwrap_or(""))
                        }
                    };
                    let mut row = vec![
                        id.to_string(),
                        r.policy.clone(),
                        r.rule.clone(),
                        resource,
                        if r.verdict == Verdict::Pass { "Pass".into() } else { "Fail".into() },
                        r.reason.clone(),
                    ];
                    if options.detailed {
                        row.push(r.message.replace('\n', " "));
                    }
                    row.iter().map(|c| sanitize::field(c).into_owned()).collect::<Vec<_>>()
                })
                .collect();
            let widths: Vec<usize> = (0..header.len())
                .map(|c| {
                    cells
                        .iter()
                        .map(|r| r[c].chars().count())
                        .chain([header[c].len()])
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            let line = |cols: Vec<&str>| {
                let parts: Vec<String> =
                    cols.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
                format!("│ {} │", parts.join(" │ "))
            };
            writeln!(out, "{}", line(header.clone()))?;
            for r in &cells {
                writeln!(out, "{}", line(r.iter().map(String::as_str).collect()))?;
            }
        }
        let unlisted = suite.unlisted;
        if !unlisted.is_empty() {
            writeln!(
                out,
                "… and {} more rows not listed ({} passed, {} failed): a test lists at most {} rows",
                unlisted.total(),
                unlisted.passed,
                unlisted.failed,
                super::MAX_ROWS
            )?;
        }
        writeln!(out)?;
    }
    writeln!(out, "{}", summary_line(outcome))
}

#[derive(Serialize)]
struct JsonReport<'a> {
    tests: Vec<JsonTest<'a>>,
    summary: JsonSummary,
}

#[derive(Serialize)]
struct JsonTest<'a> {
    file: &'a str,
    name: &'a str,
    rows: &'a [Row],
    /// Rows counted but not listed (past the limit of rows a test lists).
    #[serde(skip_serializing_if = "Unlisted::is_empty")]
    unlisted: Unlisted,
    #[serde(skip_serializing_if = "<[Problem]>::is_empty")]
    errors: &'a [Problem],
}

#[derive(Serialize)]
struct JsonSummary {
    passed: usize,
    failed: usize,
    errors: usize,
}

fn write_json(outcome: &TestOutcome, out: &mut dyn Write) -> io::Result<()> {
    let report = JsonReport {
        tests: outcome
            .suites
            .iter()
            .map(|s| JsonTest {
                file: &s.file,
                name: &s.name,
                rows: &s.rows,
                unlisted: s.unlisted,
                errors: &s.problems,
            })
            .collect(),
        summary: JsonSummary {
            passed: outcome.passed(),
            failed: outcome.failed(),
            errors: outcome.errors(),
        },
    };
    sanitize::write_json(&report, out)?;
    writeln!(out)
}

fn write_junit(outcome: &TestOutcome, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="mtk-lint test" tests="{}" failures="{}" errors="{}">"#,
        outcome.passed() + outcome.failed(),
        outcome.failed(),
        outcome.errors()
    )?;
    for suite in &outcome.suites {
        let failures = suite.rows.iter().filter(|r| r.verdict == Verdict::Fail).count()
            + suite.unlisted.failed;
        let name = if suite.name.is_empty() {
            suite.file.clone()
        } else {
            format!("{} ({})", suite.file, suite.name)
        };
        writeln!(
            out,
            r#"  <testsuite name="{}" tests="{}" failures="{failures}" errors="{}">"#,
            xml(&name),
            suite.rows.len() + suite.unlisted.total(),
            suite.problems.len()
        )?;
        for p in &suite.problems {
            writeln!(out, r#"    <testcase name="load" classname="{}">"#, xml(&suite.file))?;
            writeln!(out, r#"      <error message="{}"/>"#, xml(&p.to_string()))?;
            writeln!(out, "    </testcase>")?;
        }
        for r in &suite.rows {
            let case = format!("{}/{}/{}", r.policy, r.rule, r.resource);
            write!(out, r#"    <testcase name="{}" classname="{}""#, xml(&case), xml(&suite.file))?;
            if r.verdict == Verdict::Pass {
                writeln!(out, "/>")?;
            } else {
                writeln!(out, ">")?;
                writeln!(
                    out,
                    r#"      <failure message="{}">{}</failure>"#,
                    xml(&r.reason),
                    xml(&r.message)
                )?;
                writeln!(out, "    </testcase>")?;
            }
        }
        let unlisted = suite.unlisted;
        if !unlisted.is_empty() {
            // The rows past the limit, as one case that fails when any of them failed.
            let case = format!("{} more rows not listed", unlisted.total());
            write!(out, r#"    <testcase name="{case}" classname="{}""#, xml(&suite.file))?;
            if unlisted.failed == 0 {
                writeln!(out, "/>")?;
            } else {
                let message = format!("{} of them failed", unlisted.failed);
                writeln!(out, ">\n      <failure message=\"{message}\"/>\n    </testcase>")?;
            }
        }
        writeln!(out, "  </testsuite>")?;
    }
    writeln!(out, "</testsuites>")
}
