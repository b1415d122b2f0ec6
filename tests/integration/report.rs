//! Snapshots of what a person and a program see, on one fixed set of findings.

use crate::support::mtk;

/// These tests are about loading and reporting: they run the two rules their fixtures exercise.
const SELECT: &str = "MTK-SEC-001,MTK-NET-002";

#[test]
fn human_report() {
    let run = mtk(&["--select", SELECT, "--color", "never", "testdata/report"]);
    assert_eq!(run.code, 2);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn json_report() {
    let run = mtk(&["--select", SELECT, "--format", "json", "testdata/report"]);
    assert_eq!(run.code, 2);
    assert!(run.json()["summary"]["elapsed_ms"].is_u64());
    // The raw text is pinned (field order included); only the timing varies between runs.
    let (head, tail) = run.stdout.split_once("\"elapsed_ms\": ").unwrap();
    let tail = tail.trim_start_matches(|c: char| c.is_ascii_digit());
    insta::assert_snapshot!(format!("{head}\"elapsed_ms\": 0{tail}"));
}
