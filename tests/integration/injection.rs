//! Untrusted pull requests: text from the linted tree (names, messages, paths, test names) can
//! never forge a workflow command, reach the terminal as a control sequence, or break a report's
//! syntax, in any format.

use std::path::Path;

use crate::support::mtk_in;

/// A pull-request-sized tree with every injection attempt (testdata/hostile/injection), and a
/// broken file whose name is a workflow command (made here: `:` is not portable in a checkout).
fn hostile_tree(dir: &Path) {
    let fixture = crate::support::repo().join("testdata/hostile/injection");
    for entry in std::fs::read_dir(&fixture).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() != "README.md" {
            std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
    }
    std::fs::write(
        dir.join("::error::file.yaml"),
        "apiVersion: v1\nkind: ConfigMap\ndata: {a: 'open\n",
    )
    .unwrap();
}

/// Lines as a GitHub runner reads them (split at LF, CR and CRLF), with what a workflow command
/// check sees (leading whitespace trimmed).
fn runner_lines(text: &str) -> Vec<&str> {
    text.split(['\n', '\r']).map(str::trim_start).collect()
}

fn assert_safe(what: &str, text: &str, own_commands: usize) {
    let commands = runner_lines(text).into_iter().filter(|l| l.starts_with("::")).count();
    assert_eq!(commands, own_commands, "{what}: lines starting a workflow command:\n{text}");
    assert!(!text.contains("##["), "{what}: a legacy command marker:\n{text}");
    for bad in ['\u{7}', '\u{85}', '\u{2028}', '\u{2029}'] {
        assert!(!text.contains(bad), "{what}: {bad:?} reached the output:\n{text}");
    }
}

#[test]
fn no_format_lets_the_tree_forge_a_workflow_command() {
    let dir = tempfile::tempdir().unwrap();
    hostile_tree(dir.path());
    let json = mtk_in(dir.path(), &["--format", "json", "."], None).json();
    let findings = json["findings"].as_array().unwrap().len();
    let errors = json["errors"].as_array().unwrap().len();
    assert!(findings >= 4 && errors >= 1, "the tree exercises findings and errors: {json}");

    for format in ["human", "json", "sarif", "github", "markdown", "junit", "policy-report"] {
        for colour in ["never", "always"] {
            let run =
                mtk_in(dir.path(), &["--format", format, "--color", colour, "--stats", "."], None);
            assert_eq!(run.code, 2, "{format}");
            let own = if format == "github" { findings + errors } else { 0 };
            assert_safe(&format!("{format} stdout"), &run.stdout, own);
            assert_safe(&format!("{format} stderr"), &run.stderr, 0);
            if colour == "never" || format != "human" {
                assert!(!run.stdout.contains('\u{1b}'), "{format}: ESC with colour {colour}");
            } else {
                // Only the writer's own colour codes.
                for (i, _) in run.stdout.match_indices('\u{1b}') {
                    assert!(run.stdout[i + 1..].starts_with('['), "{format}: a bare ESC");
                }
            }
        }
    }
    // Each report still parses.
    let out = |f: &str| mtk_in(dir.path(), &["--format", f, "."], None).stdout;
    roxmltree::Document::parse(&out("junit")).expect("JUnit is well-formed XML");
    let policy_report = out("policy-report");
    let (_, problems) =
        mtk_lint::load::parse_text("r.yaml", &policy_report, &mtk_lint::load::Limits::default());
    assert!(problems.is_empty(), "the policy reports load as YAML: {problems:?}");
    let sarif: serde_json::Value = serde_json::from_str(&out("sarif")).unwrap();
    let uris: Vec<&str> = sarif["runs"][0]["artifacts"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(
            sarif["runs"][0]["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| &r["locations"][0]["physicalLocation"]["artifactLocation"]),
        )
        .filter_map(|a| a["uri"].as_str())
        .collect();
    assert!(!uris.is_empty());
    for uri in uris {
        assert!(!uri.contains([' ', '#', '?', '\r', '\n']), "{uri}");
    }
}

#[test]
fn test_tables_and_reports_are_safe_too() {
    let dir = tempfile::tempdir().unwrap();
    hostile_tree(dir.path());
    for format in ["table", "json", "junit"] {
        let run =
            mtk_in(dir.path(), &["test", "--detailed-results", "--format", format, "."], None);
        assert_safe(&format!("test {format} stdout"), &run.stdout, 0);
        assert_safe(&format!("test {format} stderr"), &run.stderr, 0);
        assert!(!run.stdout.contains('\u{1b}'), "test {format}: ESC");
        if format == "junit" {
            roxmltree::Document::parse(&run.stdout).expect("well-formed XML");
        }
    }
}
