//! The comforts: `--stats`, `--quiet`, shell completions and the man page.

use std::collections::BTreeMap;

use crate::support::{mtk, mtk_in, repo};

/// `label -> value` for the count lines of `--stats`, and the stage names in order.
fn parse_stats(stderr: &str) -> (BTreeMap<String, String>, Vec<String>) {
    let mut counts = BTreeMap::new();
    let mut stages = Vec::new();
    let mut in_stages = false;
    for line in stderr.lines().skip_while(|l| *l != "mtk-lint statistics").skip(1) {
        // The lists of skipped files and charts follow the counts and times.
        if line.starts_with("  skipped files") || line.starts_with("  charts not rendered") {
            break;
        }
        if line.trim() == "time per stage" {
            in_stages = true;
            continue;
        }
        let (label, value) = line.trim().split_once(' ').expect("label and value");
        if in_stages {
            assert!(value.trim().ends_with(" ms"), "{line}");
            stages.push(label.to_string());
        } else {
            counts.insert(label.to_string(), value.trim().to_string());
        }
    }
    (counts, stages)
}

#[test]
fn stats_count_what_the_run_read_and_time_every_stage() {
    let run = mtk(&["--format", "json", "--stats", "examples/flux-fleet"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let summary = &run.json()["summary"];
    let (counts, stages) = parse_stats(&run.stderr);
    assert_eq!(counts["files"], summary["files"].to_string());
    assert_eq!(counts["documents"], summary["documents"].to_string());
    assert_eq!(counts["objects"], summary["resources"].to_string());
    assert_eq!(counts["findings"], summary["findings"].to_string());
    let rule_dirs = std::fs::read_dir(repo().join("rules")).unwrap();
    let rule_dirs = rule_dirs.filter(|e| e.as_ref().unwrap().path().is_dir()).count();
    assert_eq!(counts["rules"], rule_dirs.to_string(), "every built-in rule runs by default");
    assert_eq!(counts["errors"], "0");
    assert_eq!(
        stages,
        ["config", "load", "inventory", "policies", "admission", "rules", "report", "total"]
    );
    // Every manifest is read; the config file is not a manifest.
    let bytes: u64 = walk_bytes(&repo().join("examples/flux-fleet"));
    assert_eq!(counts["bytes"], bytes.to_string());
}

fn walk_bytes(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            total += walk_bytes(&path);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml")
            && path.file_name().is_some_and(|n| n != ".mtk-lint.yaml")
        {
            total += std::fs::metadata(&path).unwrap().len();
        }
    }
    total
}

#[test]
fn stats_count_policies_and_their_rules_and_selected_rules() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("policy.yaml"),
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: labels\nspec:\n  rules:\n\
         \x20 - name: team\n    match: {any: [{resources: {kinds: [ConfigMap]}}]}\n\
         \x20   validate: {message: team, pattern: {metadata: {labels: {team: '?*'}}}}\n\
         \x20 - name: app\n    match: {any: [{resources: {kinds: [ConfigMap]}}]}\n\
         \x20   validate: {message: app, pattern: {metadata: {labels: {app: '?*'}}}}\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("tree")).unwrap();
    std::fs::write(
        dir.path().join("tree/pod.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: p\n  namespace: a\n  labels: {team: a}\n",
    )
    .unwrap();
    let run = mtk_in(
        dir.path(),
        &[
            "--quiet",
            "--stats",
            "--select",
            "MTK-SEC-001,MTK-NET-002",
            "--policy",
            "policy.yaml",
            "tree",
        ],
        None,
    );
    let (counts, _) = parse_stats(&run.stderr);
    assert_eq!(counts["rules"], "2", "{}", run.stderr);
    // Rules on ConfigMaps: Kyverno generates no pod-controller rules from them.
    assert_eq!(counts["policies"], "1 (2 rules)", "{}", run.stderr);
    assert_eq!(counts["files"], "1", "the policy file is not linted as a manifest");
    assert!(run.stdout.contains("labels/app"), "{}", run.stdout);
}

#[test]
fn quiet_prints_findings_without_the_summary_line_or_anything_on_stderr() {
    let loud = mtk(&["examples/flux-fleet"]);
    let quiet = mtk(&["--quiet", "examples/flux-fleet"]);
    assert_eq!(quiet.code, loud.code);
    let summary = loud.stdout.lines().last().unwrap();
    assert!(summary.contains("2 errors") || summary.contains("finding"), "{summary}");
    assert!(!quiet.stdout.contains(summary), "{}", quiet.stdout);
    assert!(quiet.stdout.contains("MTK-SEC-001 privileged-container"));
    // The loud output closes with the findings per rule (`COUNT  SEVERITY  RULE NAME`), then
    // the summary line; the quiet output has neither.
    let findings = loud.stdout.trim_end().strip_suffix(summary).unwrap().trim_end();
    let per_rule =
        regex::Regex::new(r"(?m)(\n\s*\d+  (error|warning|info)\s+MTK-\S+ \S+)+\z").unwrap();
    let counts = per_rule.find(findings).expect("the per-rule counts close the findings");
    assert!(
        counts.as_str().contains("  error    MTK-SEC-001 privileged-container"),
        "{}",
        counts.as_str()
    );
    assert_eq!(quiet.stdout.trim_end(), findings[..counts.start()].trim_end());
    assert!(quiet.stderr.is_empty(), "{}", quiet.stderr);
    assert!(
        loud.stderr.is_empty(),
        "no progress bar when stderr is not a terminal: {}",
        loud.stderr
    );
}

#[test]
fn completions_cover_commands_options_and_values_and_bash_parses_them() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let run = mtk(&["completions", shell]);
        assert_eq!(run.code, 0, "{shell}: {}", run.stderr);
        for word in ["completions", "explain", "fail-on", "no-tree-policies", "policy-report"] {
            assert!(run.stdout.contains(word), "{shell} completion lacks {word}");
        }
    }
    let script = mtk(&["completions", "bash"]).stdout;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mtk-lint.bash");
    std::fs::write(&file, &script).unwrap();
    // Source it and ask for completions of `mtk-lint --fail-on w`, as bash would.
    let probe = format!(
        "source {}; COMP_WORDS=(mtk-lint --fail-on w); COMP_CWORD=2; COMP_LINE='mtk-lint --fail-on w'; \
         COMP_POINT=${{#COMP_LINE}}; _mtk__lint mtk-lint w --fail-on; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        file.display()
    );
    let out = std::process::Command::new("bash").args(["-c", &probe]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "warning");

    let bad = mtk(&["completions", "tcsh"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("tcsh"), "{}", bad.stderr);
}

#[test]
fn the_man_page_documents_every_option_and_pages_go_to_a_directory() {
    let run = mtk(&["man"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains(".TH mtk-lint 1"), "{}", &run.stdout[..200.min(run.stdout.len())]);
    let help = mtk(&["--help"]).stdout;
    let flags: Vec<&str> = help
        .split_whitespace()
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(|w| w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric()))
        .collect();
    assert!(flags.len() >= 15, "{flags:?}");
    for flag in flags {
        let roff = flag.replace('-', "\\-");
        assert!(run.stdout.contains(&roff), "man page lacks {flag}");
    }

    let dir = tempfile::tempdir().unwrap();
    let pages = dir.path().join("man1");
    let run = mtk(&["man", "--dir", pages.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut names: Vec<String> = std::fs::read_dir(&pages)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for command in ["check", "completions", "explain", "man", "rules", "test"] {
        assert!(names.contains(&format!("mtk-lint-{command}.1")), "{names:?}");
    }
    let test_page = std::fs::read_to_string(pages.join("mtk-lint-test.1")).unwrap();
    assert!(test_page.contains("\\-\\-detailed\\-results"));

    // A directory that cannot be made is an error naming it (exit 2).
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "").unwrap();
    let target = blocker.join("man1");
    let run = mtk(&["man", "--dir", target.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("cannot write man pages to"), "{}", run.stderr);
    assert!(run.stderr.contains("man1"), "{}", run.stderr);
}

/// Records every progress call.
#[derive(Default)]
struct Recorder {
    calls: std::sync::Mutex<Vec<(Option<mtk_lint::progress::Stage>, u64)>>,
    advanced: std::sync::atomic::AtomicU64,
}

impl mtk_lint::progress::Progress for Recorder {
    fn start(&self, stage: mtk_lint::progress::Stage, total: u64) {
        let done = self.advanced.swap(0, std::sync::atomic::Ordering::SeqCst);
        let mut calls = self.calls.lock().unwrap();
        calls.push((None, done));
        calls.push((Some(stage), total));
    }
    fn advance(&self, n: u64) {
        self.advanced.fetch_add(n, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn progress_hears_of_every_file_read_and_every_object_checked() {
    use mtk_lint::progress::Stage;
    let options = mtk_lint::CheckOptions {
        inputs: vec![mtk_lint::load::Input::Path("examples/flux-fleet".into())],
        ..Default::default()
    };
    let recorder = Recorder::default();
    let outcome = mtk_lint::check_with(&options, &repo(), &recorder);
    let done = recorder.advanced.load(std::sync::atomic::Ordering::SeqCst);
    let calls = recorder.calls.into_inner().unwrap();
    let files = outcome.summary.files as u64;
    let objects = outcome.summary.resources as u64;
    assert_eq!(
        calls,
        [(None, 0), (Some(Stage::Load), files), (None, files), (Some(Stage::Check), objects)]
    );
    assert_eq!(done, objects);
    assert_eq!(outcome.findings.len(), mtk_lint::check(&options, &repo()).findings.len());
}

#[test]
fn parse_only_floor_reads_what_the_linter_reads() {
    let floor = mtk(&["--parse-only", "testdata/load/multi-doc"]);
    assert_eq!(floor.code, 0, "{}", floor.stderr);
    let lint = mtk(&["--format", "json", "testdata/load/multi-doc"]).json();
    let s = &lint["summary"];
    assert_eq!(
        floor.stdout.trim(),
        format!(
            "files {} bytes {} documents {} errors 0",
            s["files"],
            walk_bytes(&repo().join("testdata/load/multi-doc")),
            s["documents"]
        )
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.yaml"), "a: [1\n").unwrap();
    std::fs::write(dir.path().join("good.yaml"), "a: 1\n---\nb: 2\n").unwrap();
    let run = mtk_in(dir.path(), &["--parse-only", "."], None);
    assert_eq!(run.code, 2);
    assert_eq!(run.stdout.trim(), "files 2 bytes 20 documents 2 errors 1");
}
