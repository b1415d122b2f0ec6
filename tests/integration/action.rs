//! The GitHub Action's shell steps, run locally with the GITHUB_* files in a temp directory.

use std::process::Command;

use crate::support::repo;

#[test]
fn the_action_annotates_summarises_and_writes_sarif() {
    let action = std::fs::read_to_string(repo().join("action.yml")).unwrap();
    assert!(
        action.contains("run: bash \"${{ github.action_path }}/scripts/action-run.sh\""),
        "the action runs the tested script"
    );
    assert!(action.contains("scripts/action-install.sh"));

    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("github_output");
    let summary = dir.path().join("step_summary");
    let sarif = dir.path().join("out.sarif");
    let run = Command::new("bash")
        .arg(repo().join("scripts/action-run.sh"))
        .current_dir(repo())
        .env("MTK_LINT", env!("CARGO_BIN_EXE_mtk-lint"))
        .env("INPUT_PATHS", "examples/node-pools/bad")
        .env("INPUT_SARIF_FILE", &sarif)
        .env("INPUT_FAIL_ON", "error")
        .env("INPUT_SUMMARY", "true")
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env_remove("GITHUB_SHA")
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1), "findings fail the step");
    let stdout = String::from_utf8(run.stdout).unwrap();
    let annotations: Vec<&str> =
        stdout.lines().filter(|l| l.starts_with("::error file=examples/node-pools/bad/")).collect();
    assert_eq!(annotations.len(), 7, "{stdout}");

    let outputs = std::fs::read_to_string(&output).unwrap();
    assert!(outputs.contains("findings=7\n"), "{outputs}");
    assert!(outputs.contains(&format!("sarif-file={}\n", sarif.display())), "{outputs}");
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.starts_with("## mtk-lint") && md.contains("| team-red | 7 |"), "{md}");
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 7);

    // A clean tree passes, and says so.
    let run = Command::new("bash")
        .arg(repo().join("scripts/action-run.sh"))
        .current_dir(repo())
        .env("MTK_LINT", env!("CARGO_BIN_EXE_mtk-lint"))
        .env("INPUT_PATHS", "examples/node-pools/good")
        .env("INPUT_SARIF_FILE", dir.path().join("good.sarif"))
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0));
    assert!(std::fs::read_to_string(&output).unwrap().ends_with(&format!(
        "findings=0\nsarif-file={}\n",
        dir.path().join("good.sarif").display()
    )));
}
