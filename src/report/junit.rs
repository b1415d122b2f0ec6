//! `--format junit`: one testsuite per file, one testcase per object checked; a finding is a
//! failure of its object's testcase.

use std::collections::BTreeMap;
use std::io::{self, Write};

use crate::finding::Finding;
use crate::Outcome;

/// Escapes text for XML attributes and content (also used by `mtk-lint test --format junit`).
pub(crate) fn xml(s: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Attribute values are normalised by XML parsers: keep line breaks and tabs as
            // character references.
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            // XML 1.0 forbids the other control characters and U+FFFE/U+FFFF, even escaped.
            c if (c as u32) < 0x20 || matches!(c, '\u{fffe}' | '\u{ffff}') => out.push('\u{fffd}'),
            // Allowed, but not raw in a CI log or a terminal: character references.
            c if matches!(c, '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}') => {
                let _ = write!(out, "&#x{:x};", u32::from(c));
            }
            c => out.push(c),
        }
    }
    // `##[` is a command marker for GitHub runners wherever it appears in a line.
    if out.contains("##[") {
        out = out.replace("##[", "##&#91;");
    }
    out
}

pub(super) fn write(outcome: &Outcome, out: &mut dyn Write) -> io::Result<()> {
    // file → [(resource, findings)]
    let mut files: BTreeMap<&str, Vec<(String, Vec<&Finding>)>> = BTreeMap::new();
    for (file, resource) in &outcome.objects {
        files.entry(file).or_default().push((resource.to_string(), Vec::new()));
    }
    for f in &outcome.findings {
        let cases = files.entry(&f.source.display).or_default();
        let name = f.resource.to_string();
        match cases.iter_mut().find(|(r, _)| *r == name) {
            Some((_, list)) => list.push(f),
            None => cases.push((name, vec![f])),
        }
    }
    let tests: usize = files.values().map(Vec::len).sum();
    let failures: usize = files.values().flatten().filter(|(_, f)| !f.is_empty()).count();
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="mtk-lint" tests="{tests}" failures="{failures}" errors="{}">"#,
        outcome.problems.len()
    )?;
    for (file, cases) in &files {
        let failed = cases.iter().filter(|(_, f)| !f.is_empty()).count();
        writeln!(
            out,
            r#"  <testsuite name="{}" tests="{}" failures="{failed}">"#,
            xml(file),
            cases.len()
        )?;
        for (resource, findings) in cases {
            write!(out, r#"    <testcase name="{}" classname="{}""#, xml(resource), xml(file))?;
            if findings.is_empty() {
                writeln!(out, "/>")?;
                continue;
            }
            writeln!(out, ">")?;
            for f in findings {
                writeln!(
                    out,
                    r#"      <failure type="{}" message="{}">{}:{}:{}: {} {}</failure>"#,
                    xml(&f.rule),
                    xml(&f.message),
                    xml(file),
                    f.span.start().line,
                    f.span.start().col + 1,
                    xml(&f.rule),
                    xml(&f.message)
                )?;
            }
            writeln!(out, "    </testcase>")?;
        }
        writeln!(out, "  </testsuite>")?;
    }
    if !outcome.problems.is_empty() {
        writeln!(
            out,
            r#"  <testsuite name="input" tests="{0}" failures="0" errors="{0}">"#,
            outcome.problems.len()
        )?;
        for p in &outcome.problems {
            writeln!(
                out,
                r#"    <testcase name="{}" classname="input"><error message="{}"/></testcase>"#,
                xml(&p.file),
                xml(&p.to_string())
            )?;
        }
        writeln!(out, "  </testsuite>")?;
    }
    writeln!(out, "</testsuites>")
}
