//! Command line: exit codes, config, output options.

use crate::support::{locations, mtk, mtk_in, repo};

/// These tests are about loading and reporting: they run the two rules their fixtures exercise.
const SELECT: &str = "MTK-SEC-001,MTK-NET-002";

#[test]
fn check_subcommand_equals_the_default_command() {
    let a = mtk(&["--select", SELECT, "--format", "json", "testdata/load/multi-doc"]);
    let b = mtk(&["check", "--select", SELECT, "--format", "json", "testdata/load/multi-doc"]);
    assert_eq!(locations(&a.json()), locations(&b.json()));
    assert_eq!(a.code, b.code);
}

#[test]
fn fail_on_sets_the_threshold() {
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(config.path(), "rules:\n  privileged-container: {severity: warning}\n").unwrap();
    let cfg = config.path().to_str().unwrap();
    let base = ["--select", SELECT, "--format", "json", "--config", cfg, "testdata/load/multi-doc"];
    let run = mtk(&base);
    assert_eq!(run.code, 0, "warnings do not fail by default");
    assert_eq!(run.json()["findings"][0]["severity"], "warning");
    let run = mtk(&[&base[..], &["--fail-on", "warning"]].concat());
    assert_eq!(run.code, 1);
    let run = mtk(&[&base[..], &["--fail-on", "never"]].concat());
    assert_eq!(run.code, 0);
}

#[test]
fn rules_can_be_disabled_by_code_or_name() {
    for id in ["MTK-SEC-001", "privileged-container"] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".mtk-lint.yaml"),
            format!("rules:\n  {id}: {{enabled: false}}\n"),
        )
        .unwrap();
        let fixture =
            std::fs::read_to_string(repo().join("testdata/load/multi-doc/workloads.yaml")).unwrap();
        std::fs::write(dir.path().join("w.yaml"), fixture).unwrap();
        let run = mtk_in(dir.path(), &["--select", SELECT, "--format", "json"], None);
        assert_eq!(run.code, 0, "{}", run.stdout);
        assert_eq!(run.json()["findings"].as_array().unwrap().len(), 0);
    }
}

#[test]
fn config_errors_name_the_file_and_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".mtk-lint.yaml"),
        "tenancy:\n  nodePoolKey: mtk.io/pool\n  tenantLabels: x\nrules:\n  MTK-NOPE-001: {enabled: false}\n",
    )
    .unwrap();
    let fixture =
        std::fs::read_to_string(repo().join("testdata/load/multi-doc/workloads.yaml")).unwrap();
    std::fs::write(dir.path().join("w.yaml"), fixture).unwrap();
    let run = mtk_in(dir.path(), &["--select", SELECT, "--format", "json", "."], None);
    assert_eq!(run.code, 2);
    let report = run.json();
    let e = &report["errors"][0];
    assert_eq!(e["file"], ".mtk-lint.yaml");
    assert_eq!(e["line"], 3);
    assert!(e["message"].as_str().unwrap().contains("unknown field `tenantLabels`"), "{e}");
    // The run stops before linting (issue 14): linting with the default settings would report
    // what the config was meant to silence.
    assert_eq!(report["errors"].as_array().unwrap().len(), 1, "{}", report["errors"]);
    assert_eq!(report["findings"], serde_json::json!([]));
    assert_eq!(report["summary"]["files"], 0, "nothing was read");

    std::fs::write(dir.path().join(".mtk-lint.yaml"), "rules:\n  MTK-NOPE-001: {enabled: false}\n")
        .unwrap();
    let run = mtk_in(dir.path(), &["--select", SELECT, "--format", "json", "."], None);
    assert_eq!(run.code, 2);
    let e = &run.json()["errors"][0];
    assert_eq!((e["line"].as_u64(), e["column"].as_u64()), (Some(2), Some(3)));
    assert!(e["message"].as_str().unwrap().contains("unknown rule `MTK-NOPE-001`"), "{e}");
    assert_eq!(run.json()["findings"], serde_json::json!([]));
}

#[test]
fn config_excludes_are_relative_to_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".mtk-lint.yaml"), "exclude: [\"generated/**\"]\n").unwrap();
    std::fs::create_dir(dir.path().join("generated")).unwrap();
    let fixture =
        std::fs::read_to_string(repo().join("testdata/load/multi-doc/workloads.yaml")).unwrap();
    std::fs::write(dir.path().join("generated/w.yaml"), &fixture).unwrap();
    let run = mtk_in(dir.path(), &["--select", SELECT, "--format", "json", "."], None);
    assert_eq!((run.code, run.json()["summary"]["files"].as_u64()), (0, Some(0)));
}

#[test]
fn missing_paths_and_usage_errors_exit_2() {
    let run = mtk(&["--select", SELECT, "--format", "json", "testdata/does-not-exist"]);
    assert_eq!(run.code, 2);
    assert!(run.json()["errors"][0]["message"].as_str().unwrap().contains("cannot read"));
    let run = mtk(&["--format", "yaml", "."]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("invalid value 'yaml'"), "{}", run.stderr);
}

#[test]
fn output_writes_the_report_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.json");
    let run = mtk(&[
        "--select",
        SELECT,
        "--format",
        "json",
        "--output",
        out.to_str().unwrap(),
        "testdata/load/multi-doc",
    ]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.is_empty());
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap();
    assert_eq!(report["summary"]["findings"], 1);
}

#[test]
fn human_output_has_no_colour_when_piped_and_names_file_line_column() {
    let run = mtk(&["--select", SELECT, "testdata/load/multi-doc"]);
    assert_eq!(run.code, 1);
    assert!(!run.stdout.contains('\u{1b}'), "escape codes in piped output");
    assert!(run.stdout.contains("testdata/load/multi-doc/workloads.yaml:32:7"), "{}", run.stdout);
    let run = mtk(&["--select", SELECT, "--color", "always", "testdata/load/multi-doc"]);
    assert!(run.stdout.contains('\u{1b}'));
}

#[test]
fn the_flux_fleet_example_gives_the_findings_its_readme_lists() {
    let run = mtk(&["--format", "json", "examples/flux-fleet"]);
    assert_eq!(run.code, 1);
    let report = run.json();
    assert_eq!(
        locations(&report),
        vec![
            crate::support::loc(
                "MTK-NET-002",
                "examples/flux-fleet/tenants/base/team-b/namespace.yaml",
                3,
                1
            ),
            crate::support::loc(
                "MTK-SEC-001",
                "examples/flux-fleet/tenants/team-b/apps/worker/deployment.yaml",
                29,
                11
            ),
        ]
    );
    assert_eq!(report["findings"][1]["resource"]["namespace"], "team-b");
    let readme = std::fs::read_to_string(repo().join("examples/flux-fleet/README.md")).unwrap();
    for f in report["findings"].as_array().unwrap() {
        let file = f["file"].as_str().unwrap().trim_start_matches("examples/flux-fleet/");
        let cited = format!("`{file}:{}:{}`", f["line"], f["column"]);
        assert!(readme.contains(&cited), "README does not list {cited}");
    }
}

#[test]
fn several_paths_and_absolute_paths_below_the_cwd_display_relative() {
    let abs = repo().join("testdata/load/crlf-bom");
    let run = mtk(&[
        "--select",
        SELECT,
        "--format",
        "json",
        "testdata/load/multi-doc",
        abs.to_str().unwrap(),
    ]);
    assert_eq!(
        locations(&run.json()),
        vec![
            crate::support::loc("MTK-SEC-001", "testdata/load/crlf-bom/pod.yaml", 11, 7),
            crate::support::loc("MTK-SEC-001", "testdata/load/multi-doc/workloads.yaml", 32, 7),
        ]
    );
}

#[test]
fn tenants_from_the_config_own_their_namespaces() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".mtk-lint.yaml"),
        "tenants:\n  team-x:\n    namespaces: [x-prod]\n",
    )
    .unwrap();
    // No tenant label: only the config makes these tenant namespaces.
    std::fs::write(
        dir.path().join("ns.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x-prod\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: unowned\n",
    )
    .unwrap();
    let run = mtk_in(dir.path(), &["--select", SELECT, "--format", "json"], None);
    let report = run.json();
    assert_eq!(locations(&report), vec![crate::support::loc("MTK-NET-002", "ns.yaml", 3, 1)]);
    assert!(report["findings"][0]["message"].as_str().unwrap().contains("tenant `team-x`"));
}

#[test]
fn select_runs_only_the_named_rules_and_rejects_unknown_ones() {
    let run = mtk(&[
        "--format",
        "json",
        "--select",
        "missing-default-deny",
        "rules/privileged-container/fail.yaml",
    ]);
    assert_eq!((run.code, run.json()["findings"].as_array().unwrap().len()), (0, 0));
    let run = mtk(&[
        "--format",
        "json",
        "--select",
        "MTK-NOPE-404",
        "rules/privileged-container/fail.yaml",
    ]);
    assert_eq!(run.code, 2);
    assert!(run.json()["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("--select: unknown rule `MTK-NOPE-404`"));
}

/// Every `examples/<name>/` with `good/` and `bad/`: the good tree is clean, the bad one gives
/// exactly the findings its README lists.
#[test]
fn example_repos_good_is_clean_and_bad_gives_the_listed_findings() {
    let mut seen = 0;
    for entry in std::fs::read_dir(repo().join("examples")).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.join("good").is_dir() {
            continue;
        }
        seen += 1;
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let good = mtk(&["--format", "json", &format!("examples/{name}/good")]);
        assert_eq!(
            (good.code, good.json()["findings"].as_array().unwrap().len()),
            (0, 0),
            "{name}/good: {}",
            good.stdout
        );
        let bad = mtk(&["--format", "json", &format!("examples/{name}/bad")]);
        assert_eq!(bad.code, 1, "{name}/bad");
        let prefix = format!("examples/{name}/bad/");
        let mut found: Vec<String> = bad.json()["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                format!(
                    "{} `{}:{}:{}`",
                    f["rule"].as_str().unwrap(),
                    f["file"].as_str().unwrap().trim_start_matches(&prefix),
                    f["line"],
                    f["column"]
                )
            })
            .collect();
        let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
        let mut listed: Vec<String> = readme
            .lines()
            .filter(|l| l.starts_with("| MTK-"))
            .map(|l| {
                let cols: Vec<&str> = l.split(" | ").collect();
                format!(
                    "{} {}",
                    cols[0].trim_start_matches("| ").split(' ').next().unwrap(),
                    cols[1]
                )
            })
            .collect();
        found.sort();
        listed.sort();
        assert_eq!(found, listed, "examples/{name}/README.md lists other findings than bad/ gives");
    }
    assert_eq!(seen, 10, "ten example platforms");
}

/// Admission decides what the seed platforms' examples report: Gatekeeper's mutators pin the
/// pools and Kyverno generates the default-deny; with `--no-admission` the objects are checked
/// as written and the findings come back.
#[test]
fn admission_mutates_and_generates_before_the_rules_run() {
    for (example, rule) in
        [("gatekeeper-pools", "MTK-SCHED-001"), ("generate-default-deny", "MTK-NET-002")]
    {
        let path = format!("examples/{example}/good");
        let admitted = mtk(&["--format", "json", &path]);
        assert_eq!(admitted.json()["findings"].as_array().unwrap().len(), 0, "{}", admitted.stdout);
        let written = mtk(&["--format", "json", "--no-admission", &path]);
        let rules: Vec<String> = written.json()["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["rule"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(rules, [rule, rule], "{example}: {}", written.stdout);
    }
    // A finding on a field a mutator set points at the mutator and names it.
    let bad = mtk(&["--format", "json", "examples/gatekeeper-pools/bad"]);
    let findings = bad.json()["findings"].as_array().unwrap().clone();
    let set = findings.iter().find(|f| f["rule"] == "MTK-SCHED-002").unwrap();
    assert_eq!(set["file"], "examples/gatekeeper-pools/bad/platform/pools.yaml");
    assert!(
        set["message"]
            .as_str()
            .unwrap()
            .ends_with("(set at admission by Assign pool-red-selector)"),
        "{set}"
    );
}
