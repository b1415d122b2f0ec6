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

/// The action's `baseline` and `max-annotations` inputs reach mtk-lint.
#[test]
fn the_action_takes_a_baseline_and_caps_its_annotations() {
    let dir = tempfile::tempdir().unwrap();
    let baseline = dir.path().join("baseline.json");
    let write = Command::new(env!("CARGO_BIN_EXE_mtk-lint"))
        .current_dir(repo())
        .args(["--quiet", "--write-baseline"])
        .arg(&baseline)
        .arg("examples/node-pools/bad")
        .output()
        .unwrap();
    assert_eq!(write.status.code(), Some(1));
    let run = |extra: &[(&str, &std::ffi::OsStr)]| {
        let mut cmd = Command::new("bash");
        cmd.arg(repo().join("scripts/action-run.sh"))
            .current_dir(repo())
            .env("MTK_LINT", env!("CARGO_BIN_EXE_mtk-lint"))
            .env("INPUT_PATHS", "examples/node-pools/bad")
            .env("INPUT_SARIF_FILE", dir.path().join("out.sarif"))
            .env("GITHUB_OUTPUT", dir.path().join("github_output"))
            .env_remove("GITHUB_BASE_REF");
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let capped = run(&[("INPUT_MAX_ANNOTATIONS", "3".as_ref())]);
    assert_eq!(capped.status.code(), Some(1));
    let stdout = String::from_utf8(capped.stdout).unwrap();
    assert_eq!(stdout.lines().filter(|l| l.starts_with("::error ")).count(), 3, "{stdout}");
    assert!(
        stdout.lines().next().unwrap().starts_with("::notice title=mtk-lint::4 more"),
        "{stdout}"
    );

    let summary = dir.path().join("summary.md");
    let accepted = run(&[
        ("INPUT_BASELINE", baseline.as_os_str()),
        ("GITHUB_STEP_SUMMARY", summary.as_os_str()),
    ]);
    assert_eq!(accepted.status.code(), Some(0), "{}", String::from_utf8_lossy(&accepted.stdout));
    let outputs = std::fs::read_to_string(dir.path().join("github_output")).unwrap();
    assert!(
        outputs.ends_with(&format!(
            "findings=0\nsarif-file={}\n",
            dir.path().join("out.sarif").display()
        )),
        "{outputs}"
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.contains("7 findings accepted, none stale"),
        "the summary counts the baseline: {md}"
    );

    // Paths on several lines (a block input) are all linted.
    let both =
        run(&[("INPUT_PATHS", "examples/node-pools/good\nexamples/node-pools/bad\n".as_ref())]);
    let stdout = String::from_utf8(both.stdout).unwrap();
    assert_eq!(both.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("file=examples/node-pools/bad/"), "{stdout}");
}
