//! The conformance ratchet: agreement with the Kyverno policy library's suites never drops
//! below the figures recorded in docs/CONFORMANCE.md.

use mtk_lint::harness::{self, Agreement, TestOptions};

use crate::support::repo;

fn recorded() -> Vec<(String, f64)> {
    let doc = std::fs::read_to_string(repo().join("docs/CONFORMANCE.md")).unwrap();
    let line = doc
        .lines()
        .find(|l| l.starts_with("<!-- ratchet:"))
        .expect("ratchet line in docs/CONFORMANCE.md");
    line.trim_start_matches("<!-- ratchet:")
        .trim_end_matches("-->")
        .split_whitespace()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect()
}

#[test]
fn conformance_does_not_drop_below_the_recorded_figures() {
    let corpus = repo().join("../shared/conformance/kyverno-policies");
    assert!(corpus.is_dir(), "{} is missing", corpus.display());
    let options = TestOptions { paths: vec![corpus], ..TestOptions::default() };
    let outcome = harness::run(&options, &repo());
    assert_eq!(outcome.errors(), 0, "the corpus loads without errors");
    let (all, validate_only) = harness::conformance(&outcome);
    assert_eq!(all.suites, 492);
    let current = |name: &str| match name {
        "all-verdict" => Agreement::percent(all.verdict_pass, all.rows),
        "all-exact" => Agreement::percent(all.exact, all.rows),
        "validate-verdict" => Agreement::percent(validate_only.verdict_pass, validate_only.rows),
        "validate-exact" => Agreement::percent(validate_only.exact, validate_only.rows),
        other => panic!("unknown ratchet figure {other}"),
    };
    let recorded = recorded();
    assert_eq!(recorded.len(), 4);
    for (name, floor) in recorded {
        let now = current(&name);
        assert!(now >= floor, "{name} dropped to {now}% (recorded {floor}%)");
    }
}
