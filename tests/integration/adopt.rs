//! Adopting mtk-lint on a tree that already has findings, and running it at GitHub's scale:
//! baselines, `--changed-from`, capped annotations ordered by the pull request's files,
//! `--statistics`, and `--shard`.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::{copy_dir, mtk_in, repo};

/// `(rule, file, line)` of a JSON report's findings, sorted.
fn places(report: &Value) -> Vec<(String, String, u64)> {
    let mut out: Vec<(String, String, u64)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap().to_string();
            (s("rule"), s("file"), f["line"].as_u64().unwrap())
        })
        .collect();
    out.sort();
    out
}

/// A copy of examples/node-pools/bad (7 findings of tenant team-red) in a temporary directory.
fn node_pools() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("examples/node-pools/bad"), dir.path());
    dir
}

const PRIVILEGED_POD: &str = "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: intruder\n  \
    namespace: team-red\nspec:\n  containers:\n    - name: c\n      image: busybox:1.36\n      \
    securityContext:\n        privileged: true\n";

fn find_yaml(dir: &Path) -> std::path::PathBuf {
    let mut files: Vec<_> =
        walk(dir).into_iter().filter(|p| p.extension().is_some_and(|e| e == "yaml")).collect();
    files.sort();
    files.into_iter().next().expect("a YAML file")
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_baseline_reports_only_new_findings_and_survives_moved_lines() {
    let dir = node_pools();
    let cwd = dir.path();
    let first = mtk_in(cwd, &["--format", "json", "--write-baseline", "baseline.json", "."], None);
    assert_eq!(first.code, 1);
    let all = places(&first.json());
    assert_eq!(all.len(), 7, "{}", first.stdout);
    let baseline = std::fs::read_to_string(cwd.join("baseline.json")).unwrap();
    let parsed: Value = serde_json::from_str(&baseline).unwrap();
    assert_eq!(parsed["version"], 1);
    let counted: u64 =
        parsed["findings"].as_array().unwrap().iter().map(|e| e["count"].as_u64().unwrap()).sum();
    assert_eq!(counted, 7);
    assert!(!baseline.contains("\"line\""), "entries are not matched by line: {baseline}");

    // Everything is in the baseline: nothing to report, exit 0, and the report says so.
    let run = mtk_in(cwd, &["--baseline", "baseline.json", "."], None);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("no findings, 7 suppressed"), "{}", run.stdout);
    assert!(
        run.stdout.contains("baseline baseline.json: 7 findings accepted, none stale"),
        "{}",
        run.stdout
    );

    // Lines move (a comment block at the top of every file): still nothing new.
    for file in walk(cwd).into_iter().filter(|p| p.extension().is_some_and(|e| e == "yaml")) {
        let text = std::fs::read_to_string(&file).unwrap();
        std::fs::write(&file, format!("# moved\n# down\n# by three lines\n{text}")).unwrap();
    }
    let run = mtk_in(cwd, &["--format", "json", "--baseline", "baseline.json", "."], None);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.json()["summary"]["findings"], 0);
    assert_eq!(run.json()["summary"]["baseline_stale"], 0);

    // A new violation: only it is reported.
    let file = find_yaml(&cwd.join("tenants"));
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, format!("{text}{PRIVILEGED_POD}")).unwrap();
    let run = mtk_in(cwd, &["--format", "json", "--baseline", "baseline.json", "."], None);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let new = places(&run.json());
    assert!(new.iter().any(|(rule, _, _)| rule == "MTK-SEC-001"), "{new:?}");
    assert!(
        new.iter().all(|(_, f, _)| *f == file.strip_prefix(cwd).unwrap().display().to_string()),
        "{new:?}"
    );
    assert_eq!(run.json()["summary"]["suppressed"], 7);

    // A fixed finding leaves a stale entry, counted.
    let policy = walk(cwd)
        .into_iter()
        .find(|p| std::fs::read_to_string(p).unwrap().contains("kind: Deployment"))
        .unwrap();
    std::fs::remove_file(&policy).unwrap();
    let run = mtk_in(cwd, &["--format", "json", "--baseline", "baseline.json", "."], None);
    let stale = run.json()["summary"]["baseline_stale"].as_u64().unwrap();
    assert!(stale >= 1, "{}", run.stdout);
    let human = mtk_in(cwd, &["--baseline", "baseline.json", "."], None);
    assert!(human.stdout.contains(&format!("{stale} stale (fixed or gone")), "{}", human.stdout);

    // A baseline that is not one: exit 2 naming its line, every finding still reported.
    std::fs::write(cwd.join("bad.json"), "{\"version\": 1,\n \"findings\": [oops]}").unwrap();
    let run = mtk_in(cwd, &["--format", "json", "--baseline", "bad.json", "."], None);
    assert_eq!(run.code, 2);
    let errors = crate::support::error_lines(&run.json());
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("bad.json:2:") && e.contains("not a mtk-lint baseline")),
        "{errors:?}"
    );
    assert!(run.json()["summary"]["findings"].as_u64().unwrap() > 0);
    let run = mtk_in(cwd, &["--baseline", "missing.json", "."], None);
    assert_eq!(run.code, 2);
    assert!(run.stdout.contains("cannot read the baseline"), "{}", run.stdout);
    std::fs::write(cwd.join("v2.json"), "{\"version\": 2, \"findings\": []}").unwrap();
    let run = mtk_in(cwd, &["--baseline", "v2.json", "."], None);
    assert_eq!(run.code, 2);
    assert!(
        run.stdout.contains("baseline version 2 is not one this mtk-lint reads"),
        "{}",
        run.stdout
    );
    // A baseline that cannot be written is an error too; the report still comes.
    let run =
        mtk_in(cwd, &["--format", "json", "--write-baseline", "no/such/dir/b.json", "."], None);
    assert_eq!(run.code, 2);
    let errors = crate::support::error_lines(&run.json());
    assert!(errors.iter().any(|e| e.contains("cannot write the baseline")), "{errors:?}");
    assert!(run.json()["summary"]["findings"].as_u64().unwrap() > 0);
}

fn git(cwd: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(cwd)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A git repository of the node-pools example with `origin/main` at its first commit.
fn repository() -> tempfile::TempDir {
    let dir = node_pools();
    git(dir.path(), &["init", "-q", "-b", "feature"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "base"]);
    git(dir.path(), &["update-ref", "refs/remotes/origin/main", "HEAD"]);
    dir
}

#[test]
fn changed_from_reports_only_findings_in_changed_files() {
    let dir = repository();
    let cwd = dir.path();
    let all = places(&mtk_in(cwd, &["--format", "json", "."], None).json());
    // Nothing changed since origin/main: nothing reported, the whole tree still linted.
    let run = mtk_in(cwd, &["--format", "json", "--changed-from", "origin/main", "."], None);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.json()["summary"]["findings"], 0);
    assert!(run.json()["summary"]["resources"].as_u64().unwrap() > 0);

    // A new file with a violation (untracked), and a committed change to another.
    std::fs::write(cwd.join("intruder.yaml"), PRIVILEGED_POD).unwrap();
    let (file, line) = (&all[0].1, all[0].2);
    let text = std::fs::read_to_string(cwd.join(file)).unwrap();
    std::fs::write(cwd.join(file), format!("{text}\n# reviewed\n")).unwrap();
    git(cwd, &["commit", "-q", "-am", "touch"]);
    let run = mtk_in(cwd, &["--format", "json", "--changed-from", "origin/main", "."], None);
    let got = places(&run.json());
    let files: std::collections::BTreeSet<&str> = got.iter().map(|(_, f, _)| f.as_str()).collect();
    assert_eq!(files, [file.as_str(), "intruder.yaml"].into_iter().collect(), "{got:?}");
    assert!(got.contains(&(all[0].0.clone(), file.clone(), line)), "{got:?}");
    assert!(got.len() < all.len() + 1);

    // A ref that does not exist: exit 2 saying so, every finding reported.
    let run = mtk_in(cwd, &["--format", "json", "--changed-from", "origin/nope", "."], None);
    assert_eq!(run.code, 2);
    let errors = crate::support::error_lines(&run.json());
    assert!(
        errors
            .iter()
            .any(|e| e.contains("--changed-from origin/nope") && e.contains("fetch-depth")),
        "{errors:?}"
    );
    let unfiltered = mtk_in(cwd, &["--format", "json", "."], None).json();
    assert_eq!(run.json()["summary"]["findings"], unfiltered["summary"]["findings"]);
    assert!(places(&unfiltered).len() > all.len());
}

#[test]
fn annotations_are_capped_errors_and_changed_files_first_then_one_notice() {
    let dir = repository();
    let cwd = dir.path();
    let all = places(&mtk_in(cwd, &["--format", "json", "."], None).json());
    assert_eq!(all.len(), 7);
    // The pull request changes the file of the last finding.
    let last = &all.last().unwrap().1;
    let text = std::fs::read_to_string(cwd.join(last)).unwrap();
    std::fs::write(cwd.join(last), format!("{text}\n# changed\n")).unwrap();

    // As a pull request's job runs it: the base branch named by GitHub.
    let github = |args: &[&str], base: &str| {
        let mut all = vec!["--format", "github"];
        all.extend_from_slice(args);
        Command::new(env!("CARGO_BIN_EXE_mtk-lint"))
            .current_dir(cwd)
            .args(all)
            .env("GITHUB_BASE_REF", base)
            .output()
            .unwrap()
    };
    let run = github(&["--max-annotations", "2", "."], "main");
    assert_eq!(run.status.code(), Some(1));
    let stdout = String::from_utf8(run.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "one notice and two annotations: {stdout}");
    assert!(
        lines[0].starts_with("::notice title=mtk-lint::5 more not annotated (5 errors): every finding is in the job summary and the SARIF report"),
        "the notice first (GitHub shows ten of a type): {stdout}"
    );
    assert!(lines[1].starts_with(&format!("::error file={last},")), "changed file first: {stdout}");

    // Without the base branch (a shallow clone), annotations keep report order and the run
    // says why.
    let run = github(&["--output", "json=report.json", "."], "nope");
    assert_eq!(run.status.code(), Some(1));
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(cwd.join("report.json")).unwrap()).unwrap();
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains("annotations not ordered by the pull request's files (origin/nope)"),
        "{warnings}"
    );

    // No cap with 0; the default is 50.
    let run = mtk_in(cwd, &["--format", "github", "--max-annotations", "0", "."], None);
    assert_eq!(run.stdout.lines().count(), 7);
    let run = mtk_in(cwd, &["--format", "github", "."], None);
    assert_eq!(run.stdout.lines().count(), 7);
    assert!(!run.stdout.contains("::notice"));
}

#[test]
fn statistics_and_concise_output() {
    let run = mtk_in(&repo(), &["--statistics", "examples/node-pools/bad"], None);
    assert_eq!(run.code, 1);
    let text = &run.stdout;
    let by_rule = text.find("Findings by rule:\n").expect(text);
    let by_tenant = text.find("Findings by tenant:\n").expect(text);
    assert!(by_rule < by_tenant, "{text}");
    assert!(text[by_tenant..].contains("\n7  team-red\n"), "{text}");
    // Largest first.
    let counts: Vec<u64> = text[by_rule..by_tenant]
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    assert_eq!(counts.iter().sum::<u64>(), 7, "{text}");
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
    assert!(!text.contains(" × "), "no findings listed: {text}");

    let run = mtk_in(&repo(), &["--format", "concise", "examples/node-pools/bad"], None);
    let line = regex::Regex::new(r"^examples/node-pools/bad/\S+\.yaml:\d+:\d+: (error|warning|info) MTK-[A-Z]+-\d{3} \S+ .+ \(\S+\)$").unwrap();
    let findings: Vec<&str> = run.stdout.lines().take_while(|l| !l.is_empty()).collect();
    assert_eq!(findings.len(), 7, "{}", run.stdout);
    assert!(findings.iter().all(|l| line.is_match(l)), "{}", run.stdout);
}

/// The findings of a JSON report as comparable rows: rule, place, message, resource and the
/// units, sorted.
fn rows(report: &Value) -> Vec<String> {
    let mut out: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let units: Vec<&str> = f["units"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["name"].as_str().unwrap())
                .collect();
            format!(
                "{} {}:{}:{} {} {} {:?}",
                f["rule"], f["file"], f["line"], f["column"], f["message"], f["resource"], units
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn three_shards_together_report_exactly_the_findings_of_one_run() {
    let dir = tempfile::tempdir().unwrap();
    crate::fleetgen::generate(dir.path(), 11, 24, 0.3);
    let policies = repo().join("testdata/kyverno-policies/best-practices");
    let policies = policies.to_str().unwrap();
    let args = |extra: &[&str]| {
        let mut a = vec!["--format", "json", "--policy", policies];
        a.extend_from_slice(extra);
        a.push(".");
        a.into_iter().map(String::from).collect::<Vec<String>>()
    };
    let run = |extra: &[&str]| {
        let a = args(extra);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        mtk_in(dir.path(), &a, None)
    };
    let whole = run(&[]);
    assert_eq!(whole.code, 1, "{}", whole.stderr);
    let whole = rows(&whole.json());
    assert!(whole.len() > 100, "a fleet with findings of many tenants: {}", whole.len());
    let mut union = Vec::new();
    let mut sizes = Vec::new();
    for k in 1..=3 {
        let shard = run(&["--shard", &format!("{k}/3")]);
        assert_ne!(shard.code, 2, "{}", shard.stdout);
        let part = rows(&shard.json());
        sizes.push(part.len());
        union.extend(part);
    }
    union.sort();
    assert!(sizes.iter().all(|&n| n > 0 && n < whole.len()), "each shard has a share: {sizes:?}");
    assert_eq!(union, whole, "the shards' findings are one run's, none twice");

    // Each shard's SARIF has its own category.
    let sarif = mtk_in(dir.path(), &["--format", "sarif", "--shard", "2/3", "."], None);
    let sarif: Value = serde_json::from_str(&sarif.stdout).unwrap();
    assert_eq!(sarif["runs"][0]["automationDetails"]["id"], "mtk-lint/shard-2-of-3/");
    let bad = mtk_in(dir.path(), &["--shard", "4/3", "."], None);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("is not K/N with 1 <= K <= N"), "{}", bad.stderr);
}

/// A base two tenants' overlays include: its violation is one finding per tenant (each names
/// its tenant and object), so that a shard of either tenant reports exactly its own.
#[test]
fn a_base_shared_by_two_tenants_is_a_finding_per_tenant_in_every_shard() {
    let dir = tempfile::tempdir().unwrap();
    let overlay =
        |t: &str| format!("namespace: {t}\nresources:\n  - ../base\n  - namespace.yaml\n");
    let namespace = |t: &str| format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {t}\n");
    let (a_k, b_k, a_ns, b_ns) =
        (overlay("team-a"), overlay("team-b"), namespace("team-a"), namespace("team-b"));
    crate::support::write(
        dir.path(),
        &[
            (".mtk-lint.yaml", "tenants:\n  team-a:\n    namespaces: [team-a]\n  team-b:\n    namespaces: [team-b]\n"),
            ("kustomization.yaml", "resources:\n  - team-a\n  - team-b\n"),
            ("base/kustomization.yaml", "resources:\n  - deployment.yaml\n"),
            (
                "base/deployment.yaml",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: nginx:1.27\n          securityContext:\n            privileged: true\n",
            ),
            ("team-a/kustomization.yaml", &a_k),
            ("team-a/namespace.yaml", &a_ns),
            ("team-b/kustomization.yaml", &b_k),
            ("team-b/namespace.yaml", &b_ns),
        ],
    );
    let privileged = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["--format", "json", "--select", "MTK-SEC-001"];
        args.extend_from_slice(extra);
        args.push(".");
        let report = mtk_in(dir.path(), &args, None).json();
        let mut out: Vec<String> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                format!(
                    "{} {}:{} {}",
                    f["tenant"], f["file"], f["line"], f["resource"]["namespace"]
                )
            })
            .collect();
        out.sort();
        out
    };
    let whole = privileged(&[]);
    assert_eq!(
        whole,
        [
            "\"team-a\" \"base/deployment.yaml\":12 \"team-a\"",
            "\"team-b\" \"base/deployment.yaml\":12 \"team-b\""
        ],
        "one finding per tenant at the base's line"
    );
    for n in [2, 3] {
        let mut union: Vec<String> =
            (1..=n).flat_map(|k| privileged(&["--shard", &format!("{k}/{n}")])).collect();
        union.sort();
        assert_eq!(union, whole, "{n} shards");
    }
}
