//! Report formats: SARIF against the official schema, GitHub workflow commands, JUnit,
//! PolicyReports, Markdown; several reports from one run; snapshots of each on one fixture.

use std::path::Path;

use serde_json::Value;

use crate::support::{mtk, mtk_in, repo};

/// The report fixture exercises these two rules (as in report.rs).
const SELECT: &str = "MTK-SEC-001,MTK-NET-002";

/// Why `sarif` does not validate against the official SARIF 2.1.0 schema (testdata/sarif), or
/// `None` when it does.
fn sarif_errors(sarif: &Value) -> Option<String> {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("testdata/sarif/sarif-schema-2.1.0.json"))
            .expect("testdata/sarif/sarif-schema-2.1.0.json"),
    )
    .unwrap();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.add_resource("sarif-schema-2.1.0.json", schema).expect("the SARIF schema loads");
    let index = compiler
        .compile("sarif-schema-2.1.0.json", &mut schemas)
        .expect("the SARIF schema compiles");
    schemas.validate(sarif, index).err().map(|e| format!("{e:#}"))
}

#[test]
fn sarif_from_a_fleet_is_valid_with_regions_and_relative_uris() {
    let dir = tempfile::tempdir().unwrap();
    // Seed 5 seeds 54 violations, 9 of them privileged containers (for disallow-privileged).
    crate::fleetgen::generate(dir.path(), 5, 8, 0.2);
    let run = mtk_in(dir.path(), &["--format", "sarif", "."], None);
    assert_eq!(run.code, 1);
    let sarif = run.json();
    assert_eq!(sarif_errors(&sarif), None);
    let run0 = &sarif["runs"][0];
    let results = run0["results"].as_array().unwrap();
    assert!(results.len() > 10);
    for r in results {
        let loc = &r["locations"][0]["physicalLocation"];
        assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1, "{r}");
        assert_eq!(loc["artifactLocation"]["uriBaseId"], "SRCROOT");
        assert!(!loc["artifactLocation"]["uri"].as_str().unwrap().starts_with('/'));
        let id = r["ruleId"].as_str().unwrap();
        let index = usize::try_from(r["ruleIndex"].as_u64().unwrap()).unwrap();
        assert_eq!(run0["tool"]["driver"]["rules"][index]["id"], id);
    }
    let rules = run0["tool"]["driver"]["rules"].as_array().unwrap();
    let sec001 = rules.iter().find(|r| r["id"] == "MTK-SEC-001").unwrap();
    assert!(sec001["help"]["markdown"]
        .as_str()
        .unwrap()
        .starts_with("# MTK-SEC-001 privileged-container"));
    assert!(sec001["helpUri"].as_str().unwrap().ends_with("/rules/privileged-container/README.md"));
    // The fleet's own Kyverno policies are described from their annotations.
    let policy = rules
        .iter()
        .find(|r| r["id"].as_str().unwrap().starts_with("disallow-privileged/"))
        .unwrap();
    assert_eq!(policy["shortDescription"]["text"], "Disallow privileged containers");
}

/// Findings of CEL policies (a ValidatingPolicy, named after the policy; a `validate.cel`
/// autogen rule) are valid SARIF results with their rules described.
#[test]
fn sarif_with_cel_policy_findings_is_valid() {
    let run = mtk(&["--format", "sarif", "--policy", "examples/policies", "examples/flux-fleet"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let sarif = run.json();
    assert_eq!(sarif_errors(&sarif), None);
    // The validator does reject what the schema forbids.
    let mut broken = sarif.clone();
    broken["runs"][0]["results"][0]["level"] = serde_json::json!("fatal");
    let errors = sarif_errors(&broken).expect("`fatal` is not a SARIF level");
    assert!(errors.contains("/runs/0/results/0/level"), "{errors}");
    let run0 = &sarif["runs"][0];
    let rules = run0["tool"]["driver"]["rules"].as_array().unwrap();
    for id in ["require-default-deny", "disallow-privileged/autogen-privileged-containers"] {
        let result = run0["results"].as_array().unwrap().iter().find(|r| r["ruleId"] == id);
        let result = result.unwrap_or_else(|| panic!("no result for {id}"));
        let index = usize::try_from(result["ruleIndex"].as_u64().unwrap()).unwrap();
        assert_eq!(rules[index]["id"], id);
        assert_eq!(result["level"], "error", "Deny / Enforce");
    }
    let vpol = rules.iter().find(|r| r["id"] == "require-default-deny").unwrap();
    assert_eq!(vpol["shortDescription"]["text"], "Require a default-deny NetworkPolicy");
}

#[test]
fn fingerprints_survive_line_shifts_and_suppressions_carry_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let pod = std::fs::read_to_string(repo().join("rules/privileged-container/fail.yaml")).unwrap();
    std::fs::write(dir.path().join("pods.yaml"), &pod).unwrap();
    let prints = |dir: &Path| -> Vec<String> {
        let sarif =
            mtk_in(dir, &["--format", "sarif", "--select", "MTK-SEC-001", "."], None).json();
        sarif["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["partialFingerprints"]["mtkLintFinding/v1"].as_str().unwrap().to_string())
            .collect()
    };
    let before = prints(dir.path());
    std::fs::write(dir.path().join("pods.yaml"), format!("# a comment moves every line\n\n{pod}"))
        .unwrap();
    assert_eq!(prints(dir.path()), before);
    assert_eq!(before.len(), 4);

    std::fs::write(
        dir.path().join(".mtk-lint.yaml"),
        "exceptions:\n- {rule: MTK-SEC-001, resource: Pod/team-a/debug, reason: debugging until Friday}\n",
    )
    .unwrap();
    let sarif =
        mtk_in(dir.path(), &["--format", "sarif", "--select", "MTK-SEC-001", "."], None).json();
    let suppressed: Vec<&Value> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r.get("suppressions").is_some())
        .collect();
    assert_eq!(suppressed.len(), 1);
    assert_eq!(suppressed[0]["suppressions"][0]["justification"], "debugging until Friday");
    assert_eq!(sarif_errors(&sarif), None);
}

#[test]
fn github_annotations_follow_the_workflow_command_syntax() {
    let run = mtk(&["--format", "github", "--select", SELECT, "testdata/report"]);
    assert_eq!(run.code, 2);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", run.stdout);
    let finding = regex::Regex::new(
        r"^::(error|warning|notice) file=[^,:]+,line=\d+,col=\d+,endLine=\d+,endColumn=\d+,title=[^:,]+::[^\r\n]+$",
    )
    .unwrap();
    // Input errors first, then findings by severity.
    assert!(lines[0].starts_with("::error file=testdata/report/tenants/team-a/broken.yaml,line=5,col=1,title=mtk-lint error::"));
    for l in &lines[1..] {
        assert!(finding.is_match(l), "{l}");
    }
    assert!(lines[1]
        .starts_with("::error file=testdata/report/tenants/team-a/deploy.yaml,line=13,col=27,"));
}

#[test]
fn junit_policy_reports_and_several_outputs_from_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let run = mtk(&[
        "--format",
        "json",
        "--output",
        &format!("junit={}", out("r.xml")),
        "--output",
        &format!("policy-report={}", out("reports.yaml")),
        "--output",
        &format!("markdown={}", out("summary.md")),
        "rules/privileged-container/fail.yaml",
    ]);
    assert_eq!(run.code, 1);
    assert_eq!(run.json()["summary"]["findings"], 4, "the JSON report still goes to stdout");

    let xml = std::fs::read_to_string(out("r.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("well-formed JUnit");
    let cases: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("testcase")).collect();
    assert_eq!(cases.len(), 3, "one testcase per object");
    assert_eq!(doc.descendants().filter(|n| n.has_tag_name("failure")).count(), 4);

    let yaml = std::fs::read_to_string(out("reports.yaml")).unwrap();
    let (file, problems) =
        mtk_lint::load::parse_text("reports.yaml", &yaml, &mtk_lint::load::Limits::default());
    assert!(problems.is_empty());
    let docs: Vec<Value> = file.unwrap().documents.iter().map(|d| d.root.to_json()).collect();
    assert_eq!(docs.len(), 1);
    assert_eq!(
        (docs[0]["apiVersion"].as_str(), docs[0]["kind"].as_str()),
        (Some("wgpolicyk8s.io/v1alpha2"), Some("PolicyReport"))
    );
    assert_eq!(docs[0]["metadata"]["namespace"], "team-a");
    assert_eq!(docs[0]["summary"]["fail"], 4);
    assert!(docs[0]["results"].as_array().unwrap().iter().all(|r| r["result"] == "fail"));

    let md = std::fs::read_to_string(out("summary.md")).unwrap();
    assert!(md.starts_with("## mtk-lint\n"));
    assert!(md.contains("| MTK-SEC-001 privileged-container | error | 4 |"), "{md}");

    let run =
        mtk(&["--format", "json", "--format", "sarif", "rules/privileged-container/fail.yaml"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("only one report can go to stdout"), "{}", run.stderr);
}

/// What each format prints for the report fixture.
#[test]
fn every_format_on_one_set_of_findings() {
    for format in ["concise", "sarif", "github", "markdown", "junit", "policy-report"] {
        let run = mtk(&["--format", format, "--select", SELECT, "testdata/report"]);
        assert_eq!(run.code, 2, "{format}");
        let cwd = repo().display().to_string();
        let text =
            run.stdout.replace(&cwd, "[CWD]").replace(env!("CARGO_PKG_VERSION"), "[VERSION]");
        insta::assert_snapshot!(format!("format_{format}"), text);
    }
}

/// Regression (issue 14): the markdown summary and the annotations named a policy's rule twice
/// (`verify-flux-sa/serviceAccountName serviceAccountName`); every report names it once.
#[test]
fn a_policy_rule_is_named_once_in_every_report() {
    let args =
        |format| ["--format", format, "--policy", "examples/policies", "examples/flux-fleet"];
    let markdown = mtk(&args("markdown")).stdout;
    assert!(
        markdown.contains("\n| disallow-privileged/autogen-privileged-containers | error | 1 |\n"),
        "{markdown}"
    );
    assert!(markdown.contains("\n| MTK-SEC-001 privileged-container | "), "{markdown}");
    let github = mtk(&args("github")).stdout;
    assert!(
        github.contains(",title=disallow-privileged/autogen-privileged-containers::"),
        "{github}"
    );
    let human =
        mtk(&["--color", "never", "--policy", "examples/policies", "examples/flux-fleet"]).stdout;
    for text in [&markdown, &github, &human] {
        assert!(!text.contains("autogen-privileged-containers autogen-privileged-containers"));
        assert!(!text.contains("require-default-deny require-default-deny"));
    }
}
