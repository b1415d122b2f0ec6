//! `mtk-lint test`: Kyverno suites, golden tests, formats, exit codes.

use std::path::Path;

use crate::support::{mtk, mtk_in, repo};

/// The suites of the Kyverno policy library these tests use (testdata/kyverno-policies/SOURCE.md).
fn corpus() -> std::path::PathBuf {
    repo().join("testdata/kyverno-policies")
}

/// Copies a library policy folder (policy file plus its `.kyverno-test/`) into `to`.
fn copy_suite(category: &str, policy: &str, to: &Path) -> std::path::PathBuf {
    let from = corpus().join(category).join(policy);
    let dest = to.join(policy);
    std::fs::create_dir_all(dest.join(".kyverno-test")).unwrap();
    for dir in [from.clone(), from.join(".kyverno-test")] {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_file() {
                let rel = e.path().strip_prefix(&from).unwrap().to_path_buf();
                std::fs::copy(e.path(), dest.join(rel)).unwrap();
            }
        }
    }
    dest
}

fn last_line(s: &str) -> &str {
    s.trim_end().lines().last().unwrap_or("")
}

#[test]
fn the_built_in_rules_test_themselves() {
    let run = mtk(&["test", "rules/"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let last = last_line(&run.stdout);
    let (passed, failed) = last.split_once(", ").unwrap();
    assert_eq!(failed, "0 failed", "{last}");
    assert!(passed.strip_suffix(" passed").unwrap().parse::<u32>().unwrap() > 0);
}

#[test]
fn a_corpus_suite_passes_and_a_flipped_expectation_fails_naming_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let suite = copy_suite("best-practices", "require-labels", dir.path());
    let run = mtk_in(dir.path(), &["test", "."], None);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(last_line(&run.stdout), "4 passed, 0 failed");

    let test_file = suite.join(".kyverno-test/kyverno-test.yaml");
    let text = std::fs::read_to_string(&test_file).unwrap();
    let flipped = text.replacen("result: fail", "result: pass", 1);
    assert_ne!(text, flipped);
    std::fs::write(&test_file, flipped).unwrap();
    let run = mtk_in(dir.path(), &["test", "."], None);
    assert_eq!(run.code, 1);
    let failing: Vec<&str> =
        run.stdout.lines().filter(|l| l.contains("Want pass, got fail")).collect();
    assert_eq!(failing.len(), 2, "{}", run.stdout);
    assert!(
        failing[0].contains("Pod/default/badpod01") && failing[1].contains("Pod/default/badpod02"),
        "{failing:?}"
    );
    assert_eq!(last_line(&run.stdout), "2 passed, 2 failed");
}

#[test]
fn json_output_has_the_documented_fields() {
    let dir = tempfile::tempdir().unwrap();
    copy_suite("best-practices", "require-labels", dir.path());
    let run = mtk_in(dir.path(), &["test", "--format", "json", "."], None);
    assert_eq!(run.code, 0);
    let report = run.json();
    let test = &report["tests"][0];
    assert_eq!(test["file"], "require-labels/.kyverno-test/kyverno-test.yaml");
    assert_eq!(test["name"], "require-labels");
    let row = &test["rows"][0];
    let mut keys: Vec<&str> = row.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "actual",
            "expected",
            "kind",
            "message",
            "namespace",
            "policy",
            "reason",
            "resource",
            "rule",
            "verdict"
        ]
    );
    assert_eq!(
        (row["resource"].as_str(), row["expected"].as_str(), row["actual"].as_str()),
        (Some("badpod01"), Some("fail"), Some("fail"))
    );
    assert_eq!(report["summary"], serde_json::json!({"passed": 4, "failed": 0, "errors": 0}));
}

#[test]
fn junit_is_well_formed_with_one_testcase_per_row() {
    let dir = tempfile::tempdir().unwrap();
    copy_suite("best-practices", "disallow-latest-tag", dir.path());
    copy_suite("best-practices", "require-labels", dir.path());
    let json = mtk_in(dir.path(), &["test", "--format", "json", "."], None).json();
    let rows: usize =
        json["tests"].as_array().unwrap().iter().map(|t| t["rows"].as_array().unwrap().len()).sum();
    let failed = json["summary"]["failed"].as_u64().unwrap();
    let run = mtk_in(dir.path(), &["test", "--format", "junit", "."], None);
    let doc = roxmltree::Document::parse(&run.stdout).expect("well-formed XML");
    let cases: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("testcase")).collect();
    assert_eq!(cases.len(), rows);
    let failures = doc.descendants().filter(|n| n.has_tag_name("failure")).count();
    assert_eq!(failures as u64, failed);
    assert_eq!(doc.root_element().attribute("tests").unwrap(), rows.to_string());
}

#[test]
fn references_outside_the_tested_tree_are_errors_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let tests = dir.path().join("tests");
    std::fs::create_dir(&tests).unwrap();
    std::fs::write(
        dir.path().join("outside.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    )
    .unwrap();
    std::fs::write(
        tests.join("kyverno-test.yaml"),
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata: {name: t}\npolicies: []\nresources:\n- ../outside.yaml\nresults: []\n",
    )
    .unwrap();
    let run = mtk_in(dir.path(), &["test", "tests"], None);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("tests/kyverno-test.yaml:6:3: `../outside.yaml` is outside the tested paths"),
        "{}",
        run.stdout
    );
    let run = mtk_in(dir.path(), &["test", "--allow-outside", "tests"], None);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let run = mtk_in(dir.path(), &["test", "."], None);
    assert_eq!(run.code, 0, "inside the tested tree when testing its parent");
}

#[test]
fn unknown_test_fields_are_errors_and_other_suites_still_run() {
    let dir = tempfile::tempdir().unwrap();
    copy_suite("best-practices", "require-labels", dir.path());
    std::fs::create_dir(dir.path().join("broken")).unwrap();
    std::fs::write(
        dir.path().join("broken/kyverno-test.yaml"),
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata: {name: t}\npolicy: []\n",
    )
    .unwrap();
    let run = mtk_in(dir.path(), &["test", "."], None);
    assert_eq!(run.code, 2);
    assert!(
        run.stdout.contains("broken/kyverno-test.yaml:4:1: unknown field `policy` in a Test"),
        "{}",
        run.stdout
    );
    assert_eq!(last_line(&run.stdout), "4 passed, 0 failed, 1 errors");
}

const POD_ONLY_POLICY: &str = "apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: pods-need-labels}
spec:
  rules:
  - name: labels
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      message: labels please
      pattern: {metadata: {labels: {app: \"?*\"}}}
";

const CONFIG_MAPS: &str = "apiVersion: v1
kind: ConfigMap
metadata: {name: a}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: b}
";

#[test]
fn strict_fails_rows_that_pass_only_as_excluded() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("policy.yaml"), POD_ONLY_POLICY).unwrap();
    std::fs::write(dir.path().join("resources.yaml"), CONFIG_MAPS).unwrap();
    std::fs::write(
        dir.path().join("kyverno-test.yaml"),
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata: {name: t}\npolicies: [policy.yaml]\nresources: [resources.yaml]\nresults:\n- {policy: pods-need-labels, rule: labels, resources: [a], kind: ConfigMap, result: fail}\n- {policy: pods-need-labels, rule: labels, resources: [b], kind: ConfigMap, result: skip}\n",
    )
    .unwrap();
    let run = mtk_in(dir.path(), &["test", "."], None);
    assert_eq!(
        (run.code, last_line(&run.stdout)),
        (0, "2 passed, 0 failed"),
        "lenient, as kyverno test"
    );
    let run = mtk_in(dir.path(), &["test", "--strict", "."], None);
    assert_eq!((run.code, last_line(&run.stdout)), (1, "1 passed, 1 failed"), "{}", run.stdout);
    assert!(
        run.stdout.contains("ConfigMap/default/a │ Fail   │ Excluded (strict: expected a result)"),
        "{}",
        run.stdout
    );
}

#[test]
fn strict_makes_an_unknown_rule_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let suite = copy_suite("best-practices", "require-labels", dir.path());
    let test_file = suite.join(".kyverno-test/kyverno-test.yaml");
    let text = std::fs::read_to_string(&test_file).unwrap();
    std::fs::write(&test_file, text.replacen("rule: check-for-labels", "rule: no-such-rule", 1))
        .unwrap();
    let run = mtk_in(dir.path(), &["test", "."], None);
    assert_eq!(run.code, 0, "lenient, as kyverno test: {}", run.stdout);
    let run = mtk_in(dir.path(), &["test", "--strict", "."], None);
    assert_eq!(run.code, 2);
    let want = "require-labels/.kyverno-test/kyverno-test.yaml:10:3: policy `require-labels` has no rule `no-such-rule`";
    assert!(run.stdout.contains(want), "{}", run.stdout);
}

#[test]
fn a_golden_test_pins_a_fleet_and_names_a_new_finding() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = dir.path().join("fleet");
    // Seed 3 seeds 9 privileged containers, so the pinned findings include MTK-SEC-001.
    crate::fleetgen::generate(&fleet, 3, 6, 0.2);
    let golden = dir.path().join("mtk-lint-test.yaml");
    std::fs::write(
        &golden,
        "# Pinned findings of the fleet.\napiVersion: mtk-lint.dev/v1alpha1\nkind: LintTest\nmetadata: {name: fleet-golden}\npaths: [fleet]\nexpect: []\n",
    )
    .unwrap();
    let run = mtk_in(dir.path(), &["test", "--update", "."], None);
    assert_eq!(run.code, 1, "the empty expectation fails before the update is written");
    let updated = std::fs::read_to_string(&golden).unwrap();
    assert!(
        updated.starts_with("# Pinned findings of the fleet.\n"),
        "the rest of the file is kept"
    );
    assert!(updated.contains("- {rule: \"MTK-SEC-001\", file: \"fleet/"), "{updated}");
    let run = mtk_in(dir.path(), &["test", "."], None);
    assert_eq!(run.code, 0, "{}", run.stdout);

    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: intruder\n  namespace: default\nspec:\n  hostNetwork: true\n  containers:\n  - name: c\n    image: busybox:1.36\n    securityContext:\n      privileged: true\n";
    std::fs::write(fleet.join("tenants/intruder.yaml"), pod).unwrap();
    let run = mtk_in(dir.path(), &["test", "."], None);
    assert_eq!(run.code, 1);
    let new: Vec<&str> = run.stdout.lines().filter(|l| l.contains("Unexpected finding")).collect();
    // The built-in rule and the fleet's own Kyverno policies all name the new Pod, nothing else.
    assert!(new.iter().all(|l| l.contains("Pod/default/intruder")), "{}", run.stdout);
    assert_eq!(new.iter().filter(|l| l.contains("MTK-SEC-001")).count(), 1, "{}", run.stdout);
    assert!(
        new.iter().any(|l| l.contains("disallow-privileged/privileged-containers")),
        "{}",
        run.stdout
    );
    let run = mtk_in(dir.path(), &["test", "--detailed-results", "--fail-only", "."], None);
    assert!(run.stdout.contains("fleet/tenants/intruder.yaml:12"), "{}", run.stdout);
}

#[test]
fn the_legacy_test_schema_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let suite = copy_suite("best-practices", "require-labels", dir.path());
    std::fs::write(
        suite.join(".kyverno-test/kyverno-test.yaml"),
        "name: require-labels\npolicies: [../require-labels.yaml]\nresources: [resource.yaml]\nresults:\n- policy: require-labels\n  rule: check-for-labels\n  resource: badpod01\n  kind: Pod\n  status: fail\n- policy: require-labels\n  rule: check-for-labels\n  resource: goodpod01\n  namespace: default\n  kind: Pod\n  status: pass\n",
    )
    .unwrap();
    let run = mtk_in(dir.path(), &["test", "."], None);
    assert_eq!((run.code, last_line(&run.stdout)), (0, "2 passed, 0 failed"), "{}", run.stdout);
    assert!(run.stdout.contains("(require-labels)"));
}

#[test]
fn golden_lines_can_be_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let fixture =
        std::fs::read_to_string(repo().join("rules/privileged-container/fail.yaml")).unwrap();
    std::fs::write(dir.path().join("w.yaml"), format!("# one more line\n{fixture}")).unwrap();
    std::fs::write(
        dir.path().join("mtk-lint-test.yaml"),
        "apiVersion: mtk-lint.dev/v1alpha1\nkind: LintTest\nmetadata: {name: shifted}\npaths: [w.yaml]\nexpect:\n- {rule: MTK-SEC-001, file: w.yaml, line: 11, resource: Pod/team-a/debug}\n- {rule: MTK-SEC-001, file: w.yaml, line: 27, resource: CronJob/team-a/backup}\n- {rule: MTK-SEC-001, file: w.yaml, line: 46, resource: StatefulSet/team-a/db}\n",
    )
    .unwrap();
    let run = mtk_in(dir.path(), &["test", "."], None);
    assert_eq!(run.code, 1, "every line moved by one");
    let run = mtk_in(dir.path(), &["test", "--ignore-lines", "."], None);
    assert_eq!((run.code, last_line(&run.stdout)), (0, "3 passed, 0 failed"), "{}", run.stdout);
}

#[test]
fn cel_context_files_serve_lookups_and_are_needed() {
    let dir = tempfile::tempdir().unwrap();
    let hpa = copy_suite("other-vpol", "check-hpa-exists", dir.path());
    copy_suite("other-vpol", "block-stale-images", dir.path());
    let run = mtk_in(dir.path(), &["test", "."], None);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(last_line(&run.stdout), "4 passed, 0 failed");

    // Without the HorizontalPodAutoscaler in the context, the Deployment it scaled fails.
    let context = hpa.join(".kyverno-test/context.yaml");
    let text = std::fs::read_to_string(&context).unwrap();
    let emptied = text.replace("kind: HorizontalPodAutoscaler", "kind: PodDisruptionBudget");
    assert_ne!(text, emptied);
    std::fs::write(&context, emptied).unwrap();
    let run = mtk_in(dir.path(), &["test", "."], None);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let failing: Vec<&str> =
        run.stdout.lines().filter(|l| l.contains("Want pass, got fail")).collect();
    assert_eq!(failing.len(), 1, "{}", run.stdout);
    assert!(failing[0].contains("Deployment/default/deployment-uses-hpa"), "{failing:?}");

    // An empty context file is an error naming it.
    std::fs::write(&context, "# nothing here\n").unwrap();
    let run = mtk_in(dir.path(), &["test", "."], None);
    assert_eq!(run.code, 2, "{}", run.stdout);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("context.yaml"), "{all}");

    // A context file that is not `kind: Context` is an error naming it.
    std::fs::write(&context, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n").unwrap();
    let run = mtk_in(dir.path(), &["test", "."], None);
    assert_eq!(run.code, 2, "{}", run.stdout);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("context.yaml") && all.contains("must be `kind: Context`"), "{all}");
}

#[test]
fn an_invalid_policys_rows_are_skipped_and_its_error_reported() {
    let dir = tempfile::tempdir().unwrap();
    // A rule with no validate, mutate, generate or verifyImages: not a usable policy.
    std::fs::write(
        dir.path().join("policy.yaml"),
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: broken}\nspec:\n  rules:\n  - name: r\n    match: {any: [{resources: {kinds: [ConfigMap]}}]}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("resources.yaml"), CONFIG_MAPS).unwrap();
    std::fs::write(
        dir.path().join("kyverno-test.yaml"),
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata: {name: t}\npolicies: [policy.yaml]\nresources: [resources.yaml]\nresults:\n- {policy: broken, rule: r, resources: [a], kind: ConfigMap, result: fail}\n- {policy: missing, rule: r, resources: [a], kind: ConfigMap, result: fail}\n",
    )
    .unwrap();
    let run = mtk_in(dir.path(), &["test", "--format", "json", "."], None);
    let out: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let rows = &out["tests"][0]["rows"];
    assert_eq!(rows[0]["actual"], "skip", "{rows}");
    assert_eq!(rows[0]["verdict"], "pass", "{rows}");
    assert_eq!(rows[0]["reason"], "Invalid policy", "{rows}");
    assert!(rows[0]["message"].as_str().unwrap().contains("invalid policy `broken`"), "{rows}");
    // A policy the suite does not have at all is still a failure.
    assert_eq!(
        (rows[1]["verdict"].as_str(), rows[1]["reason"].as_str()),
        (Some("fail"), Some("Not found"))
    );
    // The policy's error is reported, at its line, and makes the run an error.
    assert_eq!(run.code, 2, "{}", run.stderr);
    let error = &out["tests"][0]["errors"][0];
    assert_eq!((error["file"].as_str(), error["line"].as_u64()), (Some("policy.yaml"), Some(6)));
}

#[test]
fn fields_the_harness_does_not_support_yet_are_errors_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("policy.yaml"), POD_ONLY_POLICY).unwrap();
    std::fs::write(dir.path().join("resources.yaml"), CONFIG_MAPS).unwrap();
    let suite = |name: &str, extra: &str, result_extra: &str| {
        let sub = dir.path().join(name);
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(
            sub.join("kyverno-test.yaml"),
            format!("apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata: {{name: t}}\npolicies: [../policy.yaml]\nresources: [../resources.yaml]\n{extra}results:\n- {{policy: pods-need-labels, rule: labels, resources: [a], kind: ConfigMap, result: skip{result_extra}}}\n"),
        )
        .unwrap();
    };
    suite("checks", "checks: []\n", "");
    suite("payload", "jsonPayload: payload.json\n", "");
    suite("values", "variables: values.yaml\n", "");
    std::fs::write(
        dir.path().join("values/values.yaml"),
        "policies:\n- name: pods-need-labels\n  rules:\n  - name: labels\n    foreachValues: {x: [1]}\n",
    )
    .unwrap();
    suite("subresources", "variables: values.yaml\n", "");
    std::fs::write(
        dir.path().join("subresources/values.yaml"),
        "subresources:\n- subresource: {name: pods/scale, kind: Scale}\n",
    )
    .unwrap();
    // The Test kind's older group is accepted.
    suite("old-group", "", "");
    let old = dir.path().join("old-group/kyverno-test.yaml");
    let text =
        std::fs::read_to_string(&old).unwrap().replace("cli.kyverno.io/v1alpha1", "kyverno.io/v1");
    std::fs::write(&old, text).unwrap();
    let run = mtk_in(dir.path(), &["test", "."], None);
    assert_eq!(run.code, 2, "{}", run.stdout);
    for want in [
        "checks/kyverno-test.yaml:6:1: `checks` in a Test is not supported yet: the suite is not run",
        "payload/kyverno-test.yaml:6:1: `jsonPayload` in a Test is not supported yet",
        "values/values.yaml:5:5: `foreachValues` in a values file is not supported yet",
        "subresources/values.yaml:1:1: `subresources` in a values file is not supported yet",
    ] {
        assert!(run.stdout.contains(want), "{want}\n{}", run.stdout);
    }
    assert_eq!(last_line(&run.stdout), "1 passed, 0 failed, 4 errors", "{}", run.stdout);
}

#[test]
fn a_tests_policy_exceptions_skip_the_rules_they_name() {
    let dir = tempfile::tempdir().unwrap();
    let (code, rows) = exception_suite(
        dir.path(),
        (
            "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: require-team}\nspec:\n  rules:\n  - name: team-label\n    match: {any: [{resources: {kinds: [ConfigMap]}}]}\n    validate:\n      pattern: {metadata: {labels: {team: \"?*\"}}}\n",
            "apiVersion: kyverno.io/v2\nkind: PolicyException\nmetadata: {name: a-is-legacy, namespace: default}\nspec:\n  exceptions:\n  - {policyName: require-team, ruleNames: [team-label]}\n  match:\n    any:\n    - resources: {kinds: [ConfigMap], names: [a]}\n",
            "- {policy: require-team, rule: team-label, resources: [a], kind: ConfigMap, result: skip}\n- {policy: require-team, rule: team-label, resources: [b], kind: ConfigMap, result: fail}\n",
        ),
    );
    assert_eq!(code, 0, "{rows}");
    assert_eq!(rows[0]["actual"], "skip", "{rows}");
    assert_eq!(
        rows[0]["message"], "rule is skipped due to policy exceptions default/a-is-legacy",
        "{rows}"
    );
    assert_eq!(rows[1]["actual"], "fail", "{rows}");
    // A file with no exception in it is an error.
    std::fs::write(
        dir.path().join("exception.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    )
    .unwrap();
    let run = mtk_in(dir.path(), &["test", "."], None);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stdout.contains("`exception.yaml` holds no PolicyException"), "{}", run.stdout);
}

#[test]
fn a_cel_policy_exception_exempts_what_its_match_conditions_select() {
    let dir = tempfile::tempdir().unwrap();
    let (code, rows) = exception_suite(
        dir.path(),
        (
            "apiVersion: policies.kyverno.io/v1\nkind: ValidatingPolicy\nmetadata: {name: team-label}\nspec:\n  validationActions: [Audit]\n  matchConstraints:\n    resourceRules:\n    - {apiGroups: [''], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}\n  validations:\n  - expression: \"has(object.metadata.labels) && 'team' in object.metadata.labels\"\n    message: a team label please\n",
            "apiVersion: policies.kyverno.io/v1\nkind: PolicyException\nmetadata: {name: a-is-legacy, namespace: default}\nspec:\n  policyRefs:\n  - {name: team-label, kind: ValidatingPolicy}\n  matchConditions:\n  - {name: only-a, expression: \"object.metadata.name == 'a'\"}\n",
            "- {isValidatingPolicy: true, policy: team-label, resources: [a], kind: ConfigMap, result: skip}\n- {isValidatingPolicy: true, policy: team-label, resources: [b], kind: ConfigMap, result: fail}\n",
        ),
    );
    assert_eq!(code, 0, "{rows}");
    assert_eq!(rows[0]["actual"], "skip", "{rows}");
    assert_eq!(rows[0]["message"], "rule is skipped due to policy exception: default/a-is-legacy");
    assert_eq!(rows[1]["actual"], "fail", "{rows}");
    // `reportResult: pass` reports the exempted resource as passed.
    let text = std::fs::read_to_string(dir.path().join("exception.yaml")).unwrap();
    std::fs::write(dir.path().join("exception.yaml"), format!("{text}  reportResult: pass\n"))
        .unwrap();
    let run = mtk_in(dir.path(), &["test", "--format", "json", "."], None);
    let out: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(out["tests"][0]["rows"][0]["actual"], "pass", "{out}");
    // In a lint, the exempted finding is suppressed, naming the exception.
    let run = mtk_in(
        dir.path(),
        &[
            "--format",
            "json",
            "--show-suppressed",
            "--no-tree-policies",
            "--policy",
            "policy.yaml",
            "resources.yaml",
            "exception.yaml",
        ],
        None,
    );
    let report = run.json();
    let suppressed: Vec<&str> = report["suppressed"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "team-label")
        .filter_map(|f| f["reason"].as_str())
        .collect();
    assert_eq!(suppressed, ["excepted by PolicyException `default/a-is-legacy`"], "{report}");
}

/// Writes a suite of a policy, the two ConfigMaps, an exception and two results, and runs it:
/// the exit code and the rows.
fn exception_suite(
    dir: &Path,
    (policy, exception, results): (&str, &str, &str),
) -> (i32, serde_json::Value) {
    std::fs::write(dir.join("policy.yaml"), policy).unwrap();
    std::fs::write(dir.join("resources.yaml"), CONFIG_MAPS).unwrap();
    std::fs::write(dir.join("exception.yaml"), exception).unwrap();
    std::fs::write(
        dir.join("kyverno-test.yaml"),
        format!("apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata: {{name: t}}\npolicies: [policy.yaml]\nresources: [resources.yaml]\nexceptions: [exception.yaml]\nresults:\n{results}"),
    )
    .unwrap();
    let run = mtk_in(dir, &["test", "--format", "json", "."], None);
    let out: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    (run.code, out["tests"][0]["rows"].clone())
}

#[test]
fn mutate_suites_compare_the_patched_resource() {
    let dir = tempfile::tempdir().unwrap();
    let hostpath = copy_suite("other", "remove-hostpath-volumes", dir.path());
    copy_suite("other", "prepend-image-registry", dir.path());
    let run = mtk_in(dir.path(), &["test", "."], None);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(last_line(&run.stdout), "6 passed, 0 failed", "{}", run.stdout);

    // An expected patched resource that differs from what the policy makes fails the row,
    // saying where.
    let patched = hostpath.join(".kyverno-test/patchedResource.yaml");
    let text = std::fs::read_to_string(&patched).unwrap();
    std::fs::write(&patched, text.replace("mountPath: /bar", "mountPath: /qux")).unwrap();
    let run = mtk_in(dir.path(), &["test", ".", "--detailed-results"], None);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let failing: Vec<&str> = run.stdout.lines().filter(|l| l.contains("Resource diff")).collect();
    assert_eq!(failing.len(), 1, "{}", run.stdout);
    assert!(run.stdout.contains("/spec/containers/0/volumeMounts/0/mountPath"), "{}", run.stdout);

    // A row whose resource the file lacks is dropped, as `kyverno test` drops it, unless
    // `failOnMissingResources` makes it a failure.
    let test_file = hostpath.join(".kyverno-test/kyverno-test.yaml");
    std::fs::write(&patched, text.replace("name: busybox\nspec", "name: other\nspec")).unwrap();
    let run = mtk_in(dir.path(), &["test", "."], None);
    assert_eq!(last_line(&run.stdout), "5 passed, 0 failed", "dropped: {}", run.stdout);
    let t = std::fs::read_to_string(&test_file).unwrap();
    std::fs::write(
        &test_file,
        t.replace("  result: pass", "  result: pass\n  failOnMissingResources: true"),
    )
    .unwrap();
    let run = mtk_in(dir.path(), &["test", "."], None);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("Resource error"), "{}", run.stdout);
}

#[test]
fn mutating_policy_suites_compare_the_patched_resource() {
    let dir = tempfile::tempdir().unwrap();
    let sidecar = copy_suite("other-mpol", "inject-sidecar-deployment", dir.path());
    copy_suite("other-mpol", "always-pull-images", dir.path());
    let run = mtk_in(dir.path(), &["test", "."], None);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(last_line(&run.stdout), "4 passed, 0 failed", "{}", run.stdout);
    // The sidecar goes after the containers the deployment has: another order is a difference.
    let patched = sidecar.join(".kyverno-test/patchedResource1.yaml");
    let text = std::fs::read_to_string(&patched).unwrap();
    let (head, containers) = text.split_once("      containers:\n").unwrap();
    let (list, rest) = containers.split_once("      initContainers:").unwrap();
    let (nginx, vault) = list.split_once("      - image: vault").unwrap();
    let swapped = format!(
        "{head}      containers:\n      - image: vault{vault}{nginx}      initContainers:{rest}"
    );
    std::fs::write(&patched, swapped).unwrap();
    let run = mtk_in(dir.path(), &["test", ".", "--detailed-results"], None);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("/spec/template/spec/containers/0/image"), "{}", run.stdout);
}

#[test]
fn generate_suites_compare_the_generated_objects() {
    let dir = tempfile::tempdir().unwrap();
    let rule = copy_suite("best-practices", "add-network-policy", dir.path());
    let cel = copy_suite("other-gpol", "create-default-pdb", dir.path());
    let run = mtk_in(dir.path(), &["test", "."], None);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(last_line(&run.stdout), "2 passed, 0 failed", "{}", run.stdout);
    // Rows are named by the generated object, and what differs fails them.
    assert!(run.stdout.contains("default-deny"), "{}", run.stdout);
    for (suite, from, to) in
        [(&rule, "  - Egress", "  - Ingress"), (&cel, "minAvailable: 1", "minAvailable: 2")]
    {
        let file = suite.join(".kyverno-test/generatedResource.yaml");
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains(from), "{text}");
        std::fs::write(&file, text.replace(from, to)).unwrap();
    }
    let run = mtk_in(dir.path(), &["test", ".", "--detailed-results"], None);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(last_line(&run.stdout), "0 passed, 2 failed", "{}", run.stdout);
    assert!(run.stdout.contains("/spec/minAvailable is 1, expected 2"), "{}", run.stdout);
}

/// `clusterResources` fill the cluster that `configMap` and `apiCall` context entries read.
#[test]
fn cluster_resources_answer_context_lookups() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("policy.yaml"),
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: allowed-teams}\nspec:\n  rules:\n  - name: team\n    match: {any: [{resources: {kinds: [ConfigMap]}}]}\n    context:\n    - name: teams\n      configMap: {name: teams, namespace: platform}\n    validate:\n      message: unknown team\n      deny:\n        conditions:\n          any:\n          - {key: '{{request.object.metadata.labels.team}}', operator: AnyNotIn, value: '{{teams.data.allowed | split(@, `,`)}}'}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("resources.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: good, namespace: a, labels: {team: web}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad, namespace: a, labels: {team: nobody}}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("cluster.yaml"),
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: ClusterResource\nmetadata: {name: cluster}\nspec:\n  resources:\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: teams, namespace: platform}\n    data: {allowed: 'web,core'}\n",
    )
    .unwrap();
    let test = |cluster: &str| {
        format!("apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata: {{name: t}}\npolicies: [policy.yaml]\nresources: [resources.yaml]\n{cluster}results:\n- {{policy: allowed-teams, rule: team, resources: [good], kind: ConfigMap, result: pass}}\n- {{policy: allowed-teams, rule: team, resources: [bad], kind: ConfigMap, result: fail}}\n")
    };
    std::fs::write(
        dir.path().join("kyverno-test.yaml"),
        test("clusterResources: [cluster.yaml]\n"),
    )
    .unwrap();
    let run = mtk_in(dir.path(), &["test", "."], None);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(last_line(&run.stdout), "2 passed, 0 failed", "{}", run.stdout);
    // Without them, the ConfigMap is not there: the rows are errors, not passes.
    std::fs::write(dir.path().join("kyverno-test.yaml"), test("")).unwrap();
    let run = mtk_in(dir.path(), &["test", "."], None);
    assert_eq!(last_line(&run.stdout), "0 passed, 2 failed", "{}", run.stdout);
    assert!(run.stdout.contains("Want pass, got error"), "{}", run.stdout);
    // A plain object file is not a ClusterResource: an error naming the field, not a pass.
    std::fs::write(
        dir.path().join("plain.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: teams, namespace: platform}\ndata: {allowed: 'web,core'}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("kyverno-test.yaml"), test("clusterResources: [plain.yaml]\n"))
        .unwrap();
    let run = mtk_in(dir.path(), &["test", "."], None);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stdout.contains("unknown field `data` in a ClusterResource"), "{}", run.stdout);
    // One ClusterResource per file; `crds` lists CustomResourceDefinition files.
    std::fs::write(
        dir.path().join("two.yaml"),
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: ClusterResource\nspec: {}\n---\napiVersion: cli.kyverno.io/v1alpha1\nkind: ClusterResource\nspec: {}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("crds.yaml"),
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: ClusterResource\nspec: {crds: [plain.yaml]}\n",
    )
    .unwrap();
    for (file, want) in [
        ("two.yaml", "two.yaml:5:1: a ClusterResource file holds one document"),
        ("crds.yaml", "plain.yaml:1:1: `crds` lists CustomResourceDefinition files"),
    ] {
        let suite = test(&format!("clusterResources: [{file}]\n"));
        std::fs::write(dir.path().join("kyverno-test.yaml"), suite).unwrap();
        let run = mtk_in(dir.path(), &["test", "."], None);
        assert_eq!(run.code, 2, "{}", run.stdout);
        assert!(run.stdout.contains(want), "{want}\n{}", run.stdout);
    }
}

/// A mutate rule with `targets` patches the test's `targetResources` when its trigger is
/// admitted: each patched target is compared with `patchedResources` (named by name or by
/// `resourceSpecs`); a target patched otherwise than expected fails with the difference; as in
/// `kyverno test`, a target nothing patched is not selectable, so a result naming only it
/// checks everything.
#[test]
fn mutate_existing_patches_the_target_resources() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write(
        "policy.yaml",
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: sync-owner}\nspec:\n  rules:\n  - name: owner\n    match: {any: [{resources: {kinds: [ConfigMap], names: [owners]}}]}\n    mutate:\n      targets:\n      - {apiVersion: v1, kind: Secret, name: 'db-*'}\n      patchStrategicMerge:\n        metadata:\n          labels:\n            owner: '{{request.object.data.owner}}'\n",
    );
    write(
        "trigger.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: owners, namespace: apps}\ndata: {owner: team-a}\n",
    );
    write(
        "targets.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db-main, namespace: apps}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: db-main, namespace: stage}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: cache, namespace: apps}\n",
    );
    write(
        "patched.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db-main, namespace: apps, labels: {owner: team-a}}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: db-main, namespace: stage, labels: {owner: team-b}}\n",
    );
    write(
        "kyverno-test.yaml",
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata: {name: t}\npolicies: [policy.yaml]\nresources: [trigger.yaml]\ntargetResources: [targets.yaml]\nresults:\n- {policy: sync-owner, rule: owner, resources: [apps/db-main], kind: Secret, result: pass, patchedResources: patched.yaml}\n- {policy: sync-owner, rule: owner, resources: [stage/db-main], kind: Secret, result: pass, patchedResources: patched.yaml}\n- {policy: sync-owner, rule: owner, resourceSpecs: [{version: v1, kind: Secret, namespace: apps, name: db-main}], kind: Secret, result: pass, patchedResources: patched.yaml}\n- {policy: sync-owner, rule: owner, resources: [cache], kind: Secret, result: pass, patchedResources: patched.yaml}\n",
    );
    let run = mtk_in(dir.path(), &["test", "--format", "json", "."], None);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect(&run.stdout);
    let rows = report["tests"][0]["rows"].as_array().expect(&run.stdout);
    let summary: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["resource"].as_str().unwrap(),
                r["verdict"].as_str().unwrap(),
                r["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("apps/db-main", "pass", "Ok"),
            ("stage/db-main", "fail", "Resource diff"),
            ("db-main", "pass", "Ok"),
            ("db-main", "pass", "Ok"),
            ("db-main", "fail", "Resource diff"),
        ],
        "{}",
        run.stdout
    );
    assert!(rows[1]["message"].as_str().unwrap().contains("team-a"), "{}", rows[1]);
    assert_eq!(run.code, 1);
}

/// `paramResources` are the objects a ValidatingAdmissionPolicy binding's `paramRef` chooses
/// `params` from; without them the binding finds none and denies.
#[test]
fn param_resources_give_admission_policies_their_params() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write(
        "policy.yaml",
        "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\nmetadata: {name: max-replicas}\nspec:\n  paramKind: {apiVersion: v1, kind: ConfigMap}\n  matchConstraints:\n    resourceRules:\n    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}\n  validations:\n  - expression: object.spec.replicas <= int(params.data.max)\n    message: too many replicas\n---\napiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicyBinding\nmetadata: {name: b}\nspec:\n  policyName: max-replicas\n  validationActions: [Deny]\n  paramRef: {name: limits, namespace: platform}\n",
    );
    write(
        "resources.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: small, namespace: a}\nspec: {replicas: 2}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: big, namespace: a}\nspec: {replicas: 9}\n",
    );
    write(
        "params.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: limits, namespace: platform}\ndata: {max: '4'}\n",
    );
    let test = |extra: &str| {
        format!("apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata: {{name: t}}\npolicies: [policy.yaml]\nresources: [resources.yaml]\n{extra}results:\n- {{policy: max-replicas, resources: [small], kind: Deployment, result: pass, isValidatingAdmissionPolicy: true}}\n- {{policy: max-replicas, resources: [big], kind: Deployment, result: fail, isValidatingAdmissionPolicy: true}}\n")
    };
    write("kyverno-test.yaml", &test("paramResources: [params.yaml]\n"));
    let run = mtk_in(dir.path(), &["test", "."], None);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(last_line(&run.stdout), "2 passed, 0 failed", "{}", run.stdout);
    write("kyverno-test.yaml", &test(""));
    let run = mtk_in(dir.path(), &["test", "--detailed-results", "."], None);
    assert_eq!(last_line(&run.stdout), "1 passed, 1 failed", "{}", run.stdout);
    assert!(run.stdout.contains("no params found"), "{}", run.stdout);
}

/// A MutatingPolicy that mutates existing objects is not run yet: its row is an error, even
/// where the patched file lacks the trigger (a row `kyverno test` would drop) — never a suite
/// that passes with no rows.
#[test]
fn mutate_existing_mutating_policies_are_error_rows() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write(
        "policy.yaml",
        "apiVersion: policies.kyverno.io/v1beta1\nkind: MutatingPolicy\nmetadata: {name: label-configmaps}\nspec:\n  evaluation: {mutateExisting: {enabled: true}}\n  matchConstraints:\n    resourceRules:\n    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}\n  targetMatchConstraints:\n    resourceRules:\n    - {apiGroups: [''], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}\n  mutations:\n  - patchType: ApplyConfiguration\n    applyConfiguration:\n      expression: 'Object{metadata: Object.metadata{labels: {\"mutated\": \"true\"}}}'\n",
    );
    write(
        "trigger.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: a}\nspec: {}\n",
    );
    write("target.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: a}\n");
    write(
        "patched.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: a, labels: {mutated: 'true'}}\n",
    );
    write(
        "kyverno-test.yaml",
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata: {name: t}\npolicies: [policy.yaml]\nresources: [trigger.yaml]\ntargetResources: [target.yaml]\nresults:\n- {policy: label-configmaps, resources: [a/cm], kind: ConfigMap, result: pass, patchedResources: patched.yaml, isMutatingPolicy: true}\n",
    );
    let run = mtk_in(dir.path(), &["test", "--detailed-results", "."], None);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(last_line(&run.stdout), "0 passed, 1 failed", "{}", run.stdout);
    assert!(run.stdout.contains("Want pass, got error"), "{}", run.stdout);
    assert!(run.stdout.contains("`mutateExisting`"), "{}", run.stdout);
}

/// ImageValidatingPolicy suites: image metadata from the test's context file, digests and
/// exceptions agree with `kyverno test`; a signature check cannot be made offline, so a row
/// expecting `pass` for it fails with `error` — never a pass.
#[test]
fn image_validating_policy_suites() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    let constraints = "  matchConstraints:\n    resourceRules:\n    - {apiGroups: [''], apiVersions: [v1], operations: [CREATE], resources: [pods]}\n  matchImageReferences:\n  - glob: ghcr.io/acme/*\n";
    write(
        "policy.yaml",
        &format!(
            "apiVersion: policies.kyverno.io/v1beta1\nkind: ImageValidatingPolicy\nmetadata: {{name: non-root-images}}\nspec:\n  validationActions: [Deny]\n  validationConfigurations: {{verifyDigest: false, required: false}}\n{constraints}  validations:\n  - expression: images.containers.all(i, getImageData(i).config.config.User != 'root')\n    message: images must not run as root\n---\napiVersion: policies.kyverno.io/v1beta1\nkind: ImageValidatingPolicy\nmetadata: {{name: signed}}\nspec:\n  validationActions: [Deny]\n{constraints}  attestors:\n  - {{name: notary, notary: {{certs: {{value: CERT}}}}}}\n  validations:\n  - expression: images.containers.all(i, verifyImageSignatures(i, [attestors.notary]) > 0)\n    message: unsigned\n"
        ),
    );
    let pod = |name: &str, image: &str| {
        format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: default}}\nspec:\n  containers:\n  - {{name: c, image: '{image}'}}\n---\n")
    };
    let digest = "@sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945";
    write(
        "resources.yaml",
        &[
            pod("app", "ghcr.io/acme/app:v1"),
            pod("rootful", "ghcr.io/acme/root:v1"),
            pod("other", "docker.io/library/nginx:1.27"),
            pod("legacy", "ghcr.io/acme/legacy:v1"),
            pod("pinned", &format!("ghcr.io/acme/app{digest}")),
        ]
        .concat(),
    );
    write(
        "context.yaml",
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Context\nmetadata: {name: c}\nspec:\n  images:\n  - {image: 'ghcr.io/acme/app:v1', config: {config: {User: app}}}\n  - {image: 'ghcr.io/acme/root:v1', config: {config: {User: root}}}\n",
    );
    write(
        "exception.yaml",
        "apiVersion: policies.kyverno.io/v1beta1\nkind: PolicyException\nmetadata: {name: legacy, namespace: default}\nspec:\n  policyRefs:\n  - {name: non-root-images, kind: ImageValidatingPolicy}\n  matchConditions:\n  - {name: legacy, expression: \"object.metadata.name == 'legacy'\"}\n",
    );
    let row = |policy: &str, pod: &str, result: &str| {
        format!("- {{isImageValidatingPolicy: true, policy: {policy}, resources: [{pod}], kind: Pod, result: {result}}}\n")
    };
    let results = [
        row("non-root-images", "app", "pass"),
        row("non-root-images", "rootful", "fail"),
        row("non-root-images", "other", "pass"),
        row("non-root-images", "legacy", "skip"),
        row("signed", "app", "fail"),
        row("signed", "pinned", "pass"),
    ]
    .concat();
    write(
        "kyverno-test.yaml",
        &format!("apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata: {{name: t}}\npolicies: [policy.yaml]\nresources: [resources.yaml]\nexceptions: [exception.yaml]\ncontext: context.yaml\nresults:\n{results}"),
    );
    let run = mtk_in(dir.path(), &["test", "--format", "json", "."], None);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let out: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let rows = out["tests"][0]["rows"].as_array().unwrap().clone();
    let actual: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["actual"].as_str().unwrap(), r["message"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(actual.len(), 6, "{actual:?}");
    assert_eq!(actual[0].0, "pass", "{actual:?}");
    assert_eq!(actual[1], ("fail", "images must not run as root"), "{actual:?}");
    assert_eq!(actual[2].0, "pass", "{actual:?}");
    assert_eq!(actual[3].0, "skip", "{actual:?}");
    assert_eq!(actual[4], ("fail", "image ghcr.io/acme/app:v1 does not have a digest"));
    assert_eq!(actual[5].0, "error", "{actual:?}");
    assert!(actual[5].1.contains("verifyImageSignatures()"), "{actual:?}");
    let verdicts: Vec<&str> = rows.iter().map(|r| r["verdict"].as_str().unwrap()).collect();
    assert_eq!(verdicts, ["pass", "pass", "pass", "pass", "pass", "fail"], "{rows:?}");
}
