//! Property: whatever Unicode a tree puts into names and messages (control characters, C1,
//! separators, non-characters), every report format stays parseable by a real parser, keeps the
//! data exact where it is data, and prints no line a CI runner would take as a command.

use std::sync::Arc;

use mtk_lint::finding::{Finding, ResourceRef, Severity};
use mtk_lint::load::source::{Pos, SourceFile, Span};
use mtk_lint::report::{self, Format, Links, Style};
use mtk_lint::Outcome;
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..24).prop_map(String::from_iter)
}

fn outcome(name: &str, message: &str, file: &str) -> Outcome {
    let source = Arc::new(SourceFile::new(file.into(), None, "kind: Pod\n".into()));
    let span = Span::new(Pos { line: 1, col: 0 }, Pos { line: 1, col: 4 });
    let finding = Finding {
        rule: format!("policy-{name}/rule").into(),
        name: name.into(),
        severity: Severity::Error,
        message: message.into(),
        help: Some(message.into()),
        source,
        span,
        document: 0,
        path: "/kind".into(),
        resource: Arc::new(ResourceRef {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: name.into(),
            name: name.into(),
        }),
        policy: Some(format!("policy-{name}").into()),
        suppressed: None,
        tenant: Some(name.into()),
        units: std::sync::Arc::from([]),
    };
    let mut outcome = Outcome { findings: vec![finding], ..Outcome::default() };
    outcome.summary.findings = 1;
    outcome
}

fn render(format: Format, outcome: &Outcome, color: bool) -> String {
    let mut out = Vec::new();
    let style = Style { color, ..Style::default() };
    report::write(format, outcome, style, &Links::default(), &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// No line a runner reads (split at CR and LF, leading whitespace trimmed) starts a command but
/// `own`, no legacy marker, no raw control character but line feeds (and the writer's colour).
fn printable(format: Format, text: &str, own: usize) -> Result<(), TestCaseError> {
    let commands = text.split(['\n', '\r']).filter(|l| l.trim_start().starts_with("::")).count();
    prop_assert_eq!(commands, own, "{:?}: {}", format, text);
    prop_assert!(!text.contains("##["), "{:?}: {}", format, text);
    let stray = text.chars().find(|&c| {
        (c.is_control() && c != '\n' && c != '\u{1b}') || matches!(c, '\u{2028}' | '\u{2029}')
    });
    prop_assert!(stray.is_none(), "{:?}: {:?} in {}", format, stray, text);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn every_format_survives_any_text(name in text(), message in text(), file in text()) {
        let file = format!("t/{file}.yaml");
        let outcome = outcome(&name, &message, &file);

        let json: serde_json::Value =
            serde_json::from_str(&render(Format::Json, &outcome, false)).expect("JSON parses");
        prop_assert_eq!(json["findings"][0]["message"].as_str(), Some(message.as_str()));
        prop_assert_eq!(json["findings"][0]["resource"]["name"].as_str(), Some(name.as_str()));
        prop_assert_eq!(json["findings"][0]["file"].as_str(), Some(file.as_str()));

        let sarif: serde_json::Value =
            serde_json::from_str(&render(Format::Sarif, &outcome, false)).expect("SARIF parses");
        let uri = sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
            ["artifactLocation"]["uri"].as_str().unwrap_or_default().to_string();
        prop_assert!(uri.bytes().all(|b| b.is_ascii_graphic() && !b"#? \\\"".contains(&b)), "{}", uri);

        roxmltree::Document::parse(&render(Format::Junit, &outcome, false)).expect("JUnit parses");

        let yaml = render(Format::PolicyReport, &outcome, false);
        let (file_parsed, problems) =
            mtk_lint::load::parse_text("report.yaml", &yaml, &mtk_lint::load::Limits::default());
        prop_assert!(problems.is_empty(), "{:?}\n{}", problems, yaml);
        let doc = &file_parsed.unwrap().documents[0].root;
        let result = &doc.get("results").unwrap().as_seq().unwrap()[0];
        prop_assert_eq!(result.get("message").and_then(|m| m.as_str()), Some(message.as_str()));

        for format in [Format::Json, Format::Sarif, Format::Junit, Format::PolicyReport] {
            printable(format, &render(format, &outcome, false), 0)?;
        }
        for format in [Format::Human, Format::Markdown] {
            printable(format, &render(format, &outcome, false), 0)?;
        }
        printable(Format::Human, &render(Format::Human, &outcome, true), 0)?;
        printable(Format::Github, &render(Format::Github, &outcome, false), 1)?;
    }
}
