//! Every built-in rule folder is complete, and its fixtures give exactly the findings they mark.
//!
//! `pass.yaml` must give no finding of the rule; every line of `fail.yaml` that carries
//! `# expect: <CODE>` must give one, and no other line may.

use std::collections::BTreeSet;

use mtk_lint::engine::builtin::{self, RULE_FOLDERS, TEMPLATES};

use crate::support::repo;

fn rule_dirs() -> BTreeSet<String> {
    std::fs::read_dir(repo().join("rules"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn every_rule_folder_is_embedded_and_complete() {
    let embedded: BTreeSet<String> = RULE_FOLDERS.iter().map(|f| f.dir.to_string()).collect();
    assert_eq!(
        rule_dirs(),
        embedded,
        "RULE_FOLDERS in src/engine/builtin/mod.rs must list every rules/ folder"
    );
    let mut codes = BTreeSet::new();
    let mut templates_used: BTreeSet<&str> = BTreeSet::new();
    for folder in RULE_FOLDERS {
        let rule = builtin::instantiate(folder).unwrap();
        let meta = rule.meta();
        assert_eq!(meta.name, folder.dir, "a rule's folder is named after the rule");
        assert!(codes.insert(meta.code.clone()), "duplicate code {}", meta.code);
        let heading = format!("# {} {}", meta.code, meta.name);
        assert!(
            folder.readme.starts_with(&heading),
            "rules/{}/README.md must start with `{heading}`",
            folder.dir
        );
        for section in ["## What it checks", "## Why it matters", "## How to fix", "## References"]
        {
            assert!(
                folder.readme.contains(section),
                "rules/{}/README.md lacks `{section}`",
                folder.dir
            );
        }
        for fixture in ["pass.yaml", "fail.yaml", "mtk-lint-test.yaml"] {
            assert!(
                repo().join("rules").join(folder.dir).join(fixture).is_file(),
                "rules/{}/{fixture} is missing",
                folder.dir
            );
        }
        let rule_yaml = folder.rule_yaml;
        templates_used.extend(
            TEMPLATES.iter().map(|t| t.0).filter(|t| rule_yaml.contains(&format!("template: {t}"))),
        );
    }
    let all: BTreeSet<&str> = TEMPLATES.iter().map(|t| t.0).collect();
    assert_eq!(templates_used, all, "every template is used by a rule");
}

/// The expected findings of each LintTest document of a rule's `mtk-lint-test.yaml`:
/// (paths, [(file, line)]).
/// (file, line) of an expected finding.
type Pinned = Vec<(String, u64)>;

fn golden_expectations(dir: &str) -> Vec<(Vec<String>, Pinned)> {
    let text = std::fs::read_to_string(repo().join(dir).join("mtk-lint-test.yaml"))
        .unwrap_or_else(|_| panic!("{dir}/mtk-lint-test.yaml is missing"));
    let (file, problems) =
        mtk_lint::load::parse_text("mtk-lint-test.yaml", &text, &mtk_lint::load::Limits::default());
    assert!(problems.is_empty(), "{problems:?}");
    file.unwrap()
        .documents
        .iter()
        .map(|d| {
            let json = d.root.to_json();
            let paths = json["paths"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap().to_string())
                .collect();
            let expect = json["expect"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| (e["file"].as_str().unwrap().to_string(), e["line"].as_u64().unwrap()))
                .collect();
            (paths, expect)
        })
        .collect()
}

/// Each rule's golden test covers its pass and fail fixtures, and pins exactly the lines that
/// its fail fixtures (files named `fail.yaml`) mark with `# expect: <CODE>` (`mtk-lint test
/// rules/` then checks the findings).
#[test]
fn rule_golden_tests_pin_exactly_the_marked_lines() {
    let is_fixture =
        |paths: &[String], name: &str| paths.iter().any(|p| p.rsplit('/').next() == Some(name));
    for folder in RULE_FOLDERS {
        let code = builtin::instantiate(folder).unwrap().meta().code.clone();
        let dir = format!("rules/{}", folder.dir);
        let golden = golden_expectations(&dir);
        let pass = golden.iter().find(|(paths, _)| is_fixture(paths, "pass.yaml"));
        assert_eq!(
            pass.map(|(_, e)| e.len()),
            Some(0),
            "{dir}: a LintTest of pass.yaml expecting nothing"
        );

        let (fail_paths, pinned) = golden
            .iter()
            .find(|(paths, _)| is_fixture(paths, "fail.yaml"))
            .expect("a LintTest of fail.yaml");
        let marker = format!("# expect: {code}");
        let mut marker_lines: Pinned = Vec::new();
        for path in fail_paths.iter().filter(|p| p.ends_with("fail.yaml")) {
            let text = std::fs::read_to_string(repo().join(&dir).join(path)).unwrap();
            marker_lines.extend(
                (1..)
                    .zip(text.lines())
                    .filter(|(_, l)| l.contains(&marker))
                    .map(|(n, _)| (path.clone(), n)),
            );
        }
        assert!(!marker_lines.is_empty(), "{dir}: the fail fixture has no `{marker}` line");
        assert_eq!(pinned, &marker_lines, "{dir}: golden expectations differ from the markers");
    }
}

#[test]
fn the_catalogue_lists_every_rule_and_rules_readme_is_current() {
    let run = crate::support::mtk(&["rules", "--format", "json"]);
    assert_eq!(run.code, 0);
    let listed = run.json();
    assert_eq!(listed.as_array().unwrap().len(), RULE_FOLDERS.len());
    let markdown = crate::support::mtk(&["rules", "--format", "markdown"]).stdout;
    let readme = std::fs::read_to_string(repo().join("rules/README.md")).unwrap();
    assert!(
        readme.ends_with(&markdown),
        "rules/README.md is stale: regenerate it with `mtk-lint rules --format markdown`"
    );
    for folder in RULE_FOLDERS {
        let run = crate::support::mtk(&["explain", folder.dir]);
        assert_eq!((run.code, run.stdout.as_str()), (0, folder.readme));
    }
    let run = crate::support::mtk(&["explain", "MTK-NOPE-001"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no rule `MTK-NOPE-001`"));
}

/// Regression (field trial: argocd-example-apps, codefresh examples): objects without any
/// effective namespace in separate app directories were compared as if all were in one
/// namespace `""`; within one directory (applied together) they still collide.
#[test]
fn objects_without_a_namespace_collide_only_within_their_directory() {
    let dir = tempfile::tempdir().unwrap();
    let svc = "apiVersion: v1\nkind: Service\nmetadata:\n  name: frontend\nspec:\n  ports: [{port: 80}]\n";
    for app in ["sync-waves", "helm-hooks"] {
        std::fs::create_dir(dir.path().join(app)).unwrap();
        std::fs::write(dir.path().join(app).join("svc.yaml"), svc).unwrap();
    }
    let args = ["--format", "json", "--select", "MTK-GEN-001", "."];
    let run = crate::support::mtk_in(dir.path(), &args, None);
    assert_eq!(crate::support::locations(&run.json()), vec![]);
    std::fs::write(dir.path().join("helm-hooks/again.yaml"), svc).unwrap();
    let run = crate::support::mtk_in(dir.path(), &args, None);
    assert_eq!(
        crate::support::locations(&run.json()),
        [crate::support::loc("MTK-GEN-001", "helm-hooks/svc.yaml", 4, 3)]
    );
}

/// A container without limits takes the node from other tenants only where there are tenants
/// (field trial: home labs with no tenant read "from other tenants").
#[test]
fn missing_limits_name_tenants_only_where_there_are_tenants() {
    let dir = tempfile::tempdir().unwrap();
    let pod = |ns: &str| {
        format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: p, namespace: {ns}}}\nspec:\n  containers: [{{name: c, image: 'busybox:1.36'}}]\n")
    };
    let ns = "apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a, labels: {mtk.io/tenant: team-a}}\n";
    std::fs::write(dir.path().join("ns.yaml"), ns).unwrap();
    std::fs::write(dir.path().join("a.yaml"), pod("team-a")).unwrap();
    std::fs::write(dir.path().join("b.yaml"), pod("media")).unwrap();
    let run = crate::support::mtk_in(
        dir.path(),
        &["--format", "json", "--select", "MTK-SEC-003", "."],
        None,
    );
    let messages: Vec<String> = run.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        messages,
        [
            "container `c` sets no cpu or memory limit: it can take the node from other tenants",
            "container `c` sets no cpu or memory limit: it can take the node from other workloads"
        ]
    );
}
