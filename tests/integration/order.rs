//! Property: linting a tree gives the same findings, errors and objects whatever the order in
//! which its files are named and however many threads do the work.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use mtk_lint::load::Input;
use mtk_lint::{check, CheckOptions};
use proptest::prelude::*;

/// A small generated fleet (with a seeded broken file), shared by every case.
fn fleet() -> &'static (tempfile::TempDir, Vec<PathBuf>) {
    static FLEET: OnceLock<(tempfile::TempDir, Vec<PathBuf>)> = OnceLock::new();
    FLEET.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        // Seed 11 leaves 2 of the 6 tenants without a default deny (MTK-NET-002, asserted below).
        crate::fleet::generate(dir.path(), 11, 6, 0.3);
        std::fs::write(dir.path().join("tenants/broken.yaml"), "a: [\n").unwrap();
        let mut files = Vec::new();
        collect(dir.path(), dir.path(), &mut files);
        files.sort();
        (dir, files)
    })
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path.strip_prefix(root).unwrap().to_path_buf());
        }
    }
}

/// Everything a run reports, as text: findings, suppressed findings, errors, objects.
fn run(files: &[PathBuf], threads: usize) -> String {
    let (dir, _) = fleet();
    let options = CheckOptions {
        inputs: files.iter().cloned().map(Input::Path).collect(),
        // The tree's config, whichever path comes first.
        config: Some(dir.path().join(".mtk-lint.yaml")),
        ..CheckOptions::default()
    };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    let outcome = pool.install(|| check(&options, dir.path()));
    let findings: Vec<String> = outcome
        .findings
        .iter()
        .chain(&outcome.suppressed)
        .map(|f| {
            format!(
                "{} {}:{}:{} {} {}",
                f.rule,
                f.source.display,
                f.span.start().line,
                f.span.start().col,
                f.resource,
                f.message
            )
        })
        .collect();
    let problems: Vec<String> = outcome.problems.iter().map(ToString::to_string).collect();
    let objects: Vec<String> = outcome.objects.iter().map(|(f, r)| format!("{f} {r}")).collect();
    format!("{findings:#?}\n{problems:#?}\n{objects:#?}")
}

fn baseline() -> &'static str {
    static BASELINE: OnceLock<String> = OnceLock::new();
    BASELINE.get_or_init(|| run(&fleet().1, 1))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn findings_do_not_depend_on_file_order_or_threads(
        order in Just(fleet().1.clone()).prop_shuffle(),
        threads in 1usize..=4,
    ) {
        let got = run(&order, threads);
        prop_assert!(got == baseline(), "order {:?} with {} threads differs", &order[..4.min(order.len())], threads);
    }
}

#[test]
fn the_baseline_has_findings_errors_and_objects() {
    // The property above means little on an empty run: the tree must exercise rules,
    // a broken file, and tree-wide rules.
    let text = baseline();
    assert!(text.contains("MTK-NET-002"), "{text}");
    assert!(text.contains("tenants/broken.yaml:2"), "{text}");
    assert!(text.matches("\n    \"").count() > 50, "{text}");
    // Named as a directory, the tree is rendered (its kustomizations and Flux entries are build
    // units), and that run too is the same whatever the number of threads.
    let rendered = run(&[PathBuf::from(".")], 1);
    assert_ne!(rendered, text, "a directory is linted as its build units render it");
    assert_eq!(run(&[PathBuf::from(".")], 3), rendered);
}
