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

#[test]
fn a_suppression_without_a_reason_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pods.yaml"),
        POD.replace("MTK-SEC-001: node exporter needs the host", "MTK-SEC-001"),
    )
    .unwrap();
    let run = mtk_in(dir.path(), &["--format", "json", "."], None);
    assert_eq!(run.code, 2);
    let e = &run.json()["errors"][0];
    assert_eq!((e["file"].as_str(), e["line"].as_u64()), (Some("pods.yaml"), Some(7)));
    assert!(e["message"].as_str().unwrap().contains("needs a reason"), "{e}");

    std::fs::write(dir.path().join("pods.yaml"), POD).unwrap();
    std::fs::write(
        dir.path().join(".mtk-lint.yaml"),
        "exceptions:\n- rule: MTK-SEC-001\n  path: pods.yaml\n",
    )
    .unwrap();
    let run = mtk_in(dir.path(), &["--format", "json", "."], None);
    assert_eq!(run.code, 2);
    let e = &run.json()["errors"][0];
    assert_eq!(e["line"], 2);
    assert!(e["message"].as_str().unwrap().contains("missing field `reason`"), "{e}");
}
