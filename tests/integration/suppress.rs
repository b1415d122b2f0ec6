//! Suppressions: the ignore annotation and config exceptions, always with a reason.

use crate::support::{locations, mtk_in};

const POD: &str = "apiVersion: v1
kind: Pod
metadata:
  name: exporter
  namespace: monitoring
  annotations:
    mtk-lint.dev/ignore: \"MTK-SEC-001: node exporter needs the host\"
spec:
  containers:
  - name: c
    image: quay.io/prometheus/node-exporter:v1.8.0
    resources:
      limits: {cpu: 100m, memory: 64Mi}
    securityContext:
      privileged: true
---
apiVersion: v1
kind: Pod
metadata:
  name: debug
  namespace: monitoring
spec:
  containers:
  - name: c
    image: busybox:1.36
    resources:
      limits: {cpu: 100m, memory: 64Mi}
    securityContext:
      privileged: true
";

#[test]
fn annotations_and_exceptions_suppress_with_their_reasons() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pods.yaml"), POD).unwrap();
    let run = mtk_in(dir.path(), &["--format", "json", "."], None);
    assert_eq!(run.code, 1);
    let report = run.json();
    assert_eq!(locations(&report), vec![crate::support::loc("MTK-SEC-001", "pods.yaml", 29, 7)]);
    assert_eq!(report["summary"]["suppressed"], 1);
    assert!(report.get("suppressed").is_none(), "listed only with --show-suppressed");

    let run = mtk_in(dir.path(), &["--format", "json", "--show-suppressed", "."], None);
    let shown = &run.json()["suppressed"][0];
    assert_eq!(
        (shown["resource"]["name"].as_str(), shown["reason"].as_str()),
        (Some("exporter"), Some("node exporter needs the host"))
    );
    let run = mtk_in(dir.path(), &["--show-suppressed", "--color", "never", "."], None);
    assert!(run.stdout.contains("suppressed: node exporter needs the host"), "{}", run.stdout);
    assert!(run.stdout.contains("1 finding (1 error), 1 suppressed"), "{}", run.stdout);

    std::fs::write(
        dir.path().join(".mtk-lint.yaml"),
        "exceptions:\n- rule: privileged-container\n  resource: Pod/monitoring/deb*\n  reason: debugging session, removed on Friday\n",
    )
    .unwrap();
    let run = mtk_in(dir.path(), &["--format", "json", "."], None);
    assert_eq!((run.code, run.json()["summary"]["suppressed"].as_u64()), (0, Some(2)));
    std::fs::write(
        dir.path().join(".mtk-lint.yaml"),
        "exceptions:\n- rule: MTK-SEC-001\n  path: \"other/**\"\n  reason: not these\n",
    )
    .unwrap();
    let run = mtk_in(dir.path(), &["--format", "json", "."], None);
    assert_eq!(run.json()["summary"]["suppressed"], 1, "the path glob does not match pods.yaml");
}

/// Writes `files` into `dir`, lints it, and returns the one error (file, line, message); the
/// run must exit 2.
fn the_error(dir: &std::path::Path, files: &[(&str, &str)]) -> (String, u64, String) {
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let run = mtk_in(dir, &["--format", "json", "."], None);
    assert_eq!(run.code, 2, "{}", run.stdout);
    let errors = run.json()["errors"].clone();
    assert_eq!(errors.as_array().unwrap().len(), 1, "{errors}");
    let e = &errors[0];
    let text = |k: &str| e[k].as_str().unwrap().to_string();
    (text("file"), e["line"].as_u64().unwrap(), text("message"))
}

#[test]
fn a_suppression_without_a_reason_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let pod = POD.replace("MTK-SEC-001: node exporter needs the host", "MTK-SEC-001");
    let (file, line, message) = the_error(dir.path(), &[("pods.yaml", &pod)]);
    assert_eq!((file.as_str(), line), ("pods.yaml", 7));
    assert!(message.contains("needs a reason"), "{message}");

    let config = "exceptions:\n- rule: MTK-SEC-001\n  path: pods.yaml\n";
    let (_, line, message) =
        the_error(dir.path(), &[("pods.yaml", POD), (".mtk-lint.yaml", config)]);
    assert_eq!(line, 2);
    assert!(message.contains("missing field `reason`"), "{message}");
}

/// A suppression naming a rule that does not exist would silently suppress nothing: an error at
/// its line, in an annotation and in the config's exceptions. Policy rules are known by
/// `policy/rule` (autogen names included).
#[test]
fn a_suppression_of_an_unknown_rule_is_an_error_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let pod = POD.replace("MTK-SEC-001: node exporter", "MTK-SEC-01: node exporter");
    let (file, line, message) = the_error(dir.path(), &[("pods.yaml", &pod)]);
    assert_eq!((file.as_str(), line), ("pods.yaml", 7));
    assert!(message.contains("unknown rule `MTK-SEC-01`"), "{message}");

    let config = "exceptions:\n- rule: MTK-SEC-001\n  path: pods.yaml\n  reason: ok\n- rule: \
                  privileged-containers\n  path: pods.yaml\n  reason: typo\n";
    let (file, line, message) =
        the_error(dir.path(), &[("pods.yaml", POD), (".mtk-lint.yaml", config)]);
    assert_eq!((file.as_str(), line), (".mtk-lint.yaml", 5));
    assert!(message.contains("unknown rule `privileged-containers`"), "{message}");

    // Policies found in the tree are known, by name and by `policy/rule`.
    let policy = std::fs::read_to_string(
        crate::support::repo().join("examples/policies/disallow-privileged.yaml"),
    )
    .unwrap();
    let config = "exceptions:\n- rule: disallow-privileged/autogen-privileged-containers\n  \
                  path: pods.yaml\n  reason: ok\n- rule: disallow-privileged/no-such-rule\n  \
                  path: pods.yaml\n  reason: typo\n";
    let (_, line, message) =
        the_error(dir.path(), &[("policy.yaml", &policy), (".mtk-lint.yaml", config)]);
    assert_eq!(line, 5);
    assert!(message.contains("`disallow-privileged/no-such-rule`"), "{message}");
}

/// A suppression that accepted nothing although its rule ran is a warning of its own rule
/// (MTK-GEN-002), so `--fail-on warning` catches stale ones; one whose rule did not run is not
/// judged.
#[test]
fn an_unused_suppression_is_reported_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pods.yaml"),
        POD.replace("privileged: true", "privileged: false"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join(".mtk-lint.yaml"),
        "exceptions:\n- rule: MTK-SEC-001\n  path: \"pods.yaml\"\n  reason: debugging\n",
    )
    .unwrap();
    let run = mtk_in(dir.path(), &["--format", "json", "."], None);
    assert_eq!(run.code, 0, "warnings do not fail by default: {}", run.stdout);
    let report = run.json();
    let unused: Vec<_> =
        crate::support::locations(&report).into_iter().filter(|l| l.0 == "MTK-GEN-002").collect();
    assert_eq!(
        unused,
        [
            crate::support::loc("MTK-GEN-002", ".mtk-lint.yaml", 2, 9),
            crate::support::loc("MTK-GEN-002", "pods.yaml", 7, 26)
        ]
    );
    let run = mtk_in(dir.path(), &["--format", "json", "--fail-on", "warning", "."], None);
    assert_eq!(run.code, 1);
    // An exception for files or objects this run did not lint (a config shared by runs over
    // other paths) is not judged.
    std::fs::write(
        dir.path().join(".mtk-lint.yaml"),
        "exceptions:\n- rule: MTK-SEC-001\n  path: \"infrastructure/**\"\n  reason: node agents\n- rule: MTK-SEC-001\n  resource: DaemonSet/*/*\n  reason: node agents\n",
    )
    .unwrap();
    let run = mtk_in(dir.path(), &["--format", "json", "."], None);
    let unused: Vec<_> = crate::support::locations(&run.json())
        .into_iter()
        .filter(|l| l.0 == "MTK-GEN-002")
        .collect();
    assert_eq!(
        unused,
        [crate::support::loc("MTK-GEN-002", "pods.yaml", 7, 26)],
        "only the annotation"
    );
    // With MTK-SEC-001 left out, nothing can tell whether the suppressions are stale.
    let run = mtk_in(dir.path(), &["--format", "json", "--select", "MTK-GEN-002", "."], None);
    assert_eq!(run.json()["findings"], serde_json::json!([]));
}

/// Regression (review): `policy/rule` must suppress the rule's autogen findings on pod
/// controllers (`policy/autogen-rule`) too, and the suppression then counts as used.
#[test]
fn a_policy_rule_suppression_covers_its_autogen_rules() {
    let dir = tempfile::tempdir().unwrap();
    let policy = std::fs::read_to_string(
        crate::support::repo().join("examples/policies/disallow-privileged.yaml"),
    )
    .unwrap();
    std::fs::write(dir.path().join("policy.yaml"), policy).unwrap();
    let deployment = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: agent
  namespace: monitoring
  annotations:
    mtk-lint.dev/ignore: \"disallow-privileged/privileged-containers: node agent\"
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers:
      - name: agent
        image: registry.example.com/agent:1.0.0
        securityContext: {privileged: true}
";
    std::fs::write(dir.path().join("deploy.yaml"), deployment).unwrap();
    let run = mtk_in(dir.path(), &["--format", "json", "--select", "MTK-GEN-002", "."], None);
    let report = run.json();
    assert_eq!(report["errors"], serde_json::json!([]));
    assert_eq!(report["findings"], serde_json::json!([]), "suppressed, and not unused");
    assert_eq!(report["summary"]["suppressed"], 1);
    // Without the policy loaded the entry cannot be judged: neither an error nor stale.
    let args = ["--format", "json", "--select", "MTK-GEN-002", "--no-tree-policies", "."];
    let run = mtk_in(dir.path(), &args, None);
    assert_eq!((run.code, run.json()["errors"].clone()), (0, serde_json::json!([])));
    assert_eq!(run.json()["findings"], serde_json::json!([]));
}

#[test]
fn a_policy_exception_in_the_tree_suppresses_exactly_what_it_names() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("policy.yaml"),
        "apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: require-team}
spec:
  rules:
  - name: team-label
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      message: a team label please
      pattern: {metadata: {labels: {team: \"?*\"}}}
  - name: team-data
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      deny: {conditions: {any: [{key: \"{{ request.object.data.team }}\", operator: Equals, value: x}]}}
",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("config.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: legacy, namespace: delta}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: other, namespace: delta}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: legacy, namespace: gamma}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("exception.yaml"),
        "apiVersion: kyverno.io/v2
kind: PolicyException
metadata: {name: legacy-config, namespace: delta}
spec:
  exceptions:
  - policyName: require-team
    ruleNames: [team-*]
  match:
    any:
    - resources: {kinds: [ConfigMap], namespaces: [delta], names: [legacy]}
",
    )
    .unwrap();
    let run = mtk_in(dir.path(), &["--format", "json", "--show-suppressed", "."], None);
    let report = run.json();
    let findings = report["findings"].as_array().unwrap();
    let shown = |f: &serde_json::Value| {
        format!(
            "{}/{}",
            f["resource"]["namespace"].as_str().unwrap(),
            f["resource"]["name"].as_str().unwrap()
        )
    };
    let reported: Vec<String> =
        findings.iter().filter(|f| f["rule"] == "require-team/team-label").map(shown).collect();
    assert_eq!(reported, ["delta/other", "gamma/legacy"], "{report}");
    // A rule that cannot be evaluated on an excepted object is not an error there either (the
    // cluster never evaluates it).
    let errors: Vec<String> =
        findings.iter().filter(|f| f["rule"] == "require-team/team-data").map(shown).collect();
    assert_eq!(errors, ["delta/other", "gamma/legacy"], "{report}");
    let suppressed: Vec<&serde_json::Value> = report["suppressed"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "require-team/team-label")
        .collect();
    assert_eq!(suppressed.len(), 1, "{report}");
    assert_eq!(shown(suppressed[0]), "delta/legacy");
    assert_eq!(suppressed[0]["reason"], "excepted by PolicyException `delta/legacy-config`");
    // In SARIF, a result with its suppression.
    let run = mtk_in(dir.path(), &["--format", "sarif", "."], None);
    let sarif: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let justifications: Vec<&str> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["suppressions"][0]["justification"].as_str())
        .collect();
    assert_eq!(justifications, ["excepted by PolicyException `delta/legacy-config`"; 2]);
    // An exception that cannot be compiled is an error at its line.
    std::fs::write(
        dir.path().join("exception.yaml"),
        "apiVersion: kyverno.io/v2\nkind: PolicyException\nmetadata: {name: broken, namespace: delta}\nspec:\n  exceptions: nope\n  match: {any: []}\n",
    )
    .unwrap();
    let run = mtk_in(dir.path(), &["."], None);
    assert_eq!(run.code, 2);
    let out = format!("{}{}", run.stdout, run.stderr);
    let want =
        "exception.yaml:5:3: invalid PolicyException `broken`: spec.exceptions must be a list";
    assert!(out.contains(want), "{out}");
}
