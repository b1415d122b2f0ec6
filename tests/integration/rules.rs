//! Every built-in rule folder is complete, and its fixtures give exactly the findings they mark.
//!
//! `pass.yaml` must give no finding of the rule; every line of `fail.yaml` that carries
//! `# expect: <CODE>` must give one, and no other line may.

use std::collections::BTreeSet;

use mtk_lint::engine::builtin::{self, RULE_FOLDERS, TEMPLATES};
use mtk_lint::load::Input;
use mtk_lint::CheckOptions;

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
        for fixture in ["pass.yaml", "fail.yaml"] {
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

fn finding_lines(path: &str, code: &str) -> Vec<u32> {
    let options =
        CheckOptions { inputs: vec![Input::Path(path.into())], ..CheckOptions::default() };
    let outcome = mtk_lint::check(&options, &repo());
    assert!(outcome.problems.is_empty(), "{path}: {:?}", outcome.problems);
    outcome.findings.iter().filter(|f| f.rule == code).map(|f| f.span.start.line).collect()
}

#[test]
fn rule_fixtures_give_exactly_the_marked_findings() {
    for folder in RULE_FOLDERS {
        let code = builtin::instantiate(folder).unwrap().meta().code.clone();
        let dir = format!("rules/{}", folder.dir);
        assert_eq!(
            finding_lines(&format!("{dir}/pass.yaml"), &code),
            Vec::<u32>::new(),
            "{dir}/pass.yaml"
        );

        let fail = std::fs::read_to_string(repo().join(&dir).join("fail.yaml")).unwrap();
        let marker = format!("# expect: {code}");
        let expected: Vec<u32> =
            (1..).zip(fail.lines()).filter(|(_, l)| l.contains(&marker)).map(|(n, _)| n).collect();
        assert!(!expected.is_empty(), "{dir}/fail.yaml has no `{marker}` line");
        assert_eq!(finding_lines(&format!("{dir}/fail.yaml"), &code), expected, "{dir}/fail.yaml");
    }
}
