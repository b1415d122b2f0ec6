//! Generated fleets (fleetgen.rs) against their ground truth.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::fleetgen;
use crate::support::mtk_in;

/// Every rule code the generator seeds.
const IMPLEMENTED: [&str; 12] = [
    "MTK-SEC-001",
    "MTK-SEC-002",
    "MTK-SEC-003",
    "MTK-SEC-004",
    "MTK-SEC-005",
    "MTK-NET-001",
    "MTK-NET-002",
    "MTK-ISO-001",
    "MTK-ISO-002",
    "MTK-FLUX-001",
    "MTK-FLUX-002",
    "MTK-SCHED-001",
];

/// The tenancy config the generated fleets follow (hosts live under `*.<tenant>.apps.example.com`).
const CONFIG: &str = "tenancy:\n  domains: [\"*.{tenant}.apps.example.com\"]\n";

/// Generates a fleet (see fleetgen.rs) with its tenancy config; returns its ground truth.
pub(crate) fn generate(dir: &Path, seed: u64, tenants: u32, rate: f64) -> Value {
    let truth = fleetgen::generate(dir, seed, tenants, rate);
    std::fs::write(dir.join(".mtk-lint.yaml"), CONFIG).unwrap();
    truth
}

/// JSON pointer → the generator's dotted path (`spec.containers[0].image`).
fn dotted(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.trim_start_matches('/').split('/') {
        if seg.chars().all(|c| c.is_ascii_digit()) {
            out += &["[", seg, "]"].concat();
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(seg);
        }
    }
    out
}

type Row = (String, u64, String, String, String, String, String);

fn expected_rows(truth: &Value) -> BTreeSet<Row> {
    truth["violations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| IMPLEMENTED.contains(&v["violation"].as_str().unwrap()))
        .map(|v| {
            let s = |k: &str| v[k].as_str().unwrap().to_string();
            (
                s("file"),
                v["doc"].as_u64().unwrap(),
                s("kind"),
                s("namespace"),
                s("name"),
                s("violation"),
                s("path"),
            )
        })
        .collect()
}

/// Findings of the built-in rules (the tree's own Kyverno policies are tested in policies.rs).
fn actual_rows(report: &Value) -> BTreeSet<Row> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["policy"].is_null() && IMPLEMENTED.contains(&f["rule"].as_str().unwrap()))
        .map(|f| {
            let s = |v: &Value| v.as_str().unwrap().to_string();
            (
                s(&f["file"]),
                f["document"].as_u64().unwrap(),
                s(&f["resource"]["kind"]),
                s(&f["resource"]["namespace"]),
                s(&f["resource"]["name"]),
                s(&f["rule"]),
                dotted(f["path"].as_str().unwrap()),
            )
        })
        .collect()
}

#[test]
fn findings_equal_the_ground_truth_and_point_at_the_field() {
    let mut seen_net = 0;
    for seed in [1, 2, 3] {
        let dir = tempfile::tempdir().unwrap();
        let truth = generate(dir.path(), seed, 20, 0.15);
        let run = mtk_in(dir.path(), &["--format", "json", "."], None);
        assert_eq!(run.code, 1, "seed {seed}: {}", run.stderr);
        let report = run.json();
        assert_eq!(
            report["errors"].as_array().unwrap().len(),
            0,
            "seed {seed}: {}",
            report["errors"]
        );
        let want = expected_rows(&truth);
        let got = actual_rows(&report);
        assert!(!want.is_empty());
        assert_eq!(
            got.difference(&want).collect::<Vec<_>>(),
            Vec::<&Row>::new(),
            "seed {seed}: extra"
        );
        assert_eq!(
            want.difference(&got).collect::<Vec<_>>(),
            Vec::<&Row>::new(),
            "seed {seed}: missing"
        );
        seen_net += want.iter().filter(|r| r.5 == "MTK-NET-002").count();

        for f in report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| IMPLEMENTED.contains(&f["rule"].as_str().unwrap()))
        {
            let line = f["line"].as_u64().unwrap();
            assert!(line >= 1);
            let text =
                std::fs::read_to_string(dir.path().join(f["file"].as_str().unwrap())).unwrap();
            let line_text = text.lines().nth(usize::try_from(line).unwrap() - 1).unwrap();
            let column = usize::try_from(f["column"].as_u64().unwrap()).unwrap();
            let at_column: String = line_text.chars().skip(column - 1).collect();
            let want_prefix = match f["rule"].as_str().unwrap() {
                "MTK-SEC-001" => "privileged: true",
                "MTK-SEC-002" => "hostPath:",
                "MTK-SEC-003" => "name:",
                "MTK-SEC-004" => "image:",
                "MTK-SEC-005" => "stringData:",
                "MTK-NET-001" => "type: NodePort",
                "MTK-ISO-001" => "host:",
                "MTK-ISO-002" => "kind: ServiceAccount",
                "MTK-FLUX-001" | "MTK-SCHED-001" => "spec:",
                "MTK-FLUX-002" => "namespace: flux-system",
                _ => "metadata:",
            };
            assert!(at_column.starts_with(want_prefix), "{f}: line {line} is `{line_text}`");
        }
    }
    // Seeds 1-3 leave 3, 7 and 3 tenants without a default deny (one opportunity per tenant).
    assert!(seen_net > 0, "the seeds must exercise MTK-NET-002");
}

#[test]
fn a_fleet_without_violations_is_clean() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), 42, 20, 0.0);
    // The built-in rules alone; the fleet's own Kyverno policies are stricter than the fleet
    // (see policies.rs).
    let run = mtk_in(dir.path(), &["--format", "json", "--no-tree-policies", "."], None);
    let report = run.json();
    assert_eq!(report["findings"].as_array().unwrap().len(), 0, "{}", report["findings"]);
    assert_eq!(report["errors"].as_array().unwrap().len(), 0);
    assert_eq!(run.code, 0);
}

#[test]
fn a_broken_file_is_named_and_every_other_finding_is_still_reported() {
    let dir = tempfile::tempdir().unwrap();
    let truth = generate(dir.path(), 3, 20, 0.15);
    std::fs::write(
        dir.path().join("tenants/broken.yaml"),
        "apiVersion: v1\nkind: ConfigMap\ndata:\n  a: 'open\n",
    )
    .unwrap();
    let run = mtk_in(dir.path(), &["--format", "json", "."], None);
    assert_eq!(run.code, 2);
    let report = run.json();
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["file"], "tenants/broken.yaml");
    assert!(errors[0]["line"].as_u64().unwrap() >= 4, "{}", errors[0]);
    assert_eq!(actual_rows(&report), expected_rows(&truth));
}
