//! Hostile and broken input (testdata/hostile): every case is an error naming the file (and
//! its line and column where it has one), the run exits 2, and the privileged Pod in
//! `known-violation.yaml`, linted in the same run, is still reported.

use serde_json::Value;

use crate::support::{errors, loc, locations, mtk, mtk_in, repo};

const KNOWN: &str = "testdata/hostile/known-violation.yaml";

/// (line, column) of an error; `None` where the error has none (an empty file).
type At = (Option<u64>, Option<u64>);

/// The finding every run must still report.
fn known() -> (String, String, u64, u64) {
    loc("MTK-SEC-001", KNOWN, 11, 9)
}

/// Lints the known violation (with only the rule it violates) and the policies at `path`.
fn lint_with_policies(path: &str) -> crate::support::Run {
    mtk(&["--format", "json", "--select", "MTK-SEC-001", "--policy", path, KNOWN])
}

/// Lints one case with the known violation; asserts exit 2, exactly one error at `at` whose
/// message contains `message`, and the known finding.
fn assert_case(case: &str, extra: &[&str], at: At, message: &str) {
    let path = format!("testdata/hostile/{case}");
    let mut args = vec!["--format", "json", "--select", "MTK-SEC-001"];
    args.extend(extra);
    args.extend([path.as_str(), KNOWN]);
    let run = mtk(&args);
    assert_eq!(run.code, 2, "{case}: {}", run.stderr);
    let report = run.json();
    let errors = errors(&report);
    assert_eq!(errors.len(), 1, "{case}: {errors:?}");
    let (file, line, column, text) = &errors[0];
    assert_eq!(file, &path, "{case}");
    assert_eq!((*line, *column), at, "{case}: {text}");
    assert!(text.contains(message), "{case}: `{text}` does not contain `{message}`");
    assert_eq!(locations(&report), vec![known()], "{case}");
}

#[test]
fn broken_files_are_errors_at_their_line() {
    let cases: &[(&str, At, &str)] = &[
        ("latin1.yaml", (Some(4), Some(12)), "invalid UTF-8"),
        ("nul.yaml", (Some(3), Some(1)), "binary file (NUL byte), not YAML"),
        ("unterminated-string.yaml", (Some(4), Some(9)), "invalid YAML"),
        ("tab-indent.yaml", (Some(4), Some(1)), "invalid YAML: tabs disallowed"),
        (
            "duplicate-key.yaml",
            (Some(5), Some(3)),
            "duplicate key `name` (first defined on line 4)",
        ),
        (
            "complex-keys.yaml",
            (Some(6), Some(81)),
            "a list or mapping used as a mapping key (`? …`): Kubernetes objects have only scalar \
             keys",
        ),
    ];
    for (case, at, message) in cases {
        assert_case(case, &[], *at, message);
    }
}

/// Files that are not broken but hold no Kubernetes object (issue 14 reclassified these three
/// from errors): empty and comment-only files are Flux's bootstrap placeholders and commented
/// values files, and a file holding one scalar is not a manifest at all. Each is skipped and
/// counted by reason; the run's verdict comes from the known violation alone.
#[test]
fn files_without_objects_are_skipped_and_counted_not_errors() {
    for (case, reason) in [
        ("empty.yaml", "empty"),
        ("comments-only.yaml", "empty"),
        ("scalar-document.yaml", "not-kubernetes"),
    ] {
        let path = format!("testdata/hostile/{case}");
        let run = mtk(&["--format", "json", "--select", "MTK-SEC-001", &path, KNOWN]);
        assert_eq!(run.code, 1, "{case}: {}", run.stderr);
        let report = run.json();
        assert_eq!(errors(&report), vec![], "{case}");
        assert_eq!(report["summary"]["skipped_files"], serde_json::json!({ reason: 1 }), "{case}");
        assert_eq!(locations(&report), vec![known()], "{case}");
    }
}

#[test]
fn documents_of_the_wrong_shape_are_errors_at_the_field() {
    let cases: &[(&str, At, &str)] = &[
        // A list of objects is meant as manifests, which kubectl and Flux reject.
        (
            "list-document.yaml",
            (Some(1), Some(1)),
            "document 1 is a list, not a Kubernetes object (a mapping): kubectl and Flux do not \
             read a list of objects; separate them with `---`",
        ),
        ("kind-list.yaml", (Some(2), Some(7)), "`kind` must be a string, not a list"),
        ("missing-kind.yaml", (Some(1), Some(13)), "`kind` is missing: kubectl and Flux reject"),
        ("lists/bad-item.yaml", (Some(4), Some(3)), "item 1 of the List is not an object"),
        ("metadata-string.yaml", (Some(3), Some(11)), "`metadata` must be a mapping, not a string"),
        (
            "containers-mapping.yaml",
            (Some(8), Some(5)),
            "`containers` must be a list, not a mapping",
        ),
    ];
    for (case, at, message) in cases {
        assert_case(case, &[], *at, message);
    }
}

#[test]
fn limits_are_errors_that_say_how_to_raise_them() {
    let cases: &[(&str, &[&str], At, &str)] = &[
        (
            "billion-laughs.yaml",
            &[],
            (Some(6), Some(45)),
            "aliases expand to more than 1000000 nodes in one document (raise it with --limit \
             alias-nodes=N",
        ),
        (
            "deep-nesting.yaml",
            &[],
            (Some(257), Some(257)),
            "nesting deeper than 256 levels (raise it with --limit depth=N",
        ),
        (
            "many-documents.yaml",
            &["--limit", "documents=3"],
            (Some(24), Some(1)),
            "more than 3 documents in one file (raise it with --limit documents=N",
        ),
        (
            "long-line.yaml",
            &["--limit", "line-length=200"],
            (Some(7), Some(1)),
            "line 7 is 307 bytes long, more than the limit of 200 (raise it with --limit \
             line-length=N",
        ),
        (
            "many-documents.yaml",
            &["--limit", "file-size=300"],
            (None, None),
            "file is 390 bytes, more than the limit of 300 (raise it with --limit file-size=N",
        ),
    ];
    for (case, extra, at, message) in cases {
        assert_case(case, extra, *at, message);
    }
    // Raised, the same files lint cleanly.
    let run = mtk(&[
        "--format",
        "json",
        "--select",
        "MTK-SEC-001",
        "--limit",
        "line-length=1K",
        "testdata/hostile/long-line.yaml",
        KNOWN,
    ]);
    assert_eq!((run.code, errors(&run.json()).len()), (1, 0), "{}", run.stdout);
}

#[test]
fn limits_can_be_set_in_the_config_and_bad_ones_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let long = std::fs::read(repo().join("testdata/hostile/long-line.yaml")).unwrap();
    std::fs::write(dir.path().join("long.yaml"), long).unwrap();
    std::fs::write(dir.path().join(".mtk-lint.yaml"), "limits:\n  line-length: 100\n").unwrap();
    let run = mtk_in(dir.path(), &["--format", "json", "."], None);
    assert_eq!(run.code, 2);
    let found = errors(&run.json());
    assert!(found[0].3.contains("more than the limit of 100"), "{found:?}");
    // The command line wins over the config.
    let run = mtk_in(dir.path(), &["--format", "json", "--limit", "line-length=1M", "."], None);
    assert_eq!(run.code, 0, "{}", run.stdout);
    // An unknown key in the config is an error at its line.
    std::fs::write(dir.path().join(".mtk-lint.yaml"), "limits:\n  depth: 9\n  lines: 1\n").unwrap();
    let run = mtk_in(dir.path(), &["--format", "json", "."], None);
    assert_eq!(run.code, 2);
    let found = errors(&run.json());
    assert_eq!(found[0].1, Some(3), "{found:?}");
    assert!(found[0].3.contains("unknown limit `lines`"), "{found:?}");
    // Through the library, a bad setting is an error, not a silent default (the config is
    // valid again, so the error can only come from the setting).
    std::fs::write(dir.path().join(".mtk-lint.yaml"), "limits:\n  depth: 9\n").unwrap();
    let options = mtk_lint::CheckOptions {
        inputs: vec![mtk_lint::load::Input::Path(".".into())],
        limit_settings: vec!["columns=1".into()],
        ..mtk_lint::CheckOptions::default()
    };
    let outcome = mtk_lint::check(&options, dir.path());
    assert!(
        outcome.problems.iter().any(|p| p.message.contains("unknown limit `columns`")),
        "{:?}",
        outcome.problems
    );
    // A bad --limit is a usage error.
    let run = mtk(&["--limit", "depth=lots", "testdata/hostile"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("invalid value `lots` for limit `depth`"), "{}", run.stderr);
}

#[test]
fn bom_crlf_and_lone_cr_files_lint_normally() {
    for (case, name) in
        [("bom.yaml", "with-bom"), ("crlf.yaml", "with-crlf"), ("lone-cr.yaml", "with-lone-cr")]
    {
        let path = format!("testdata/hostile/{case}");
        let run = mtk(&["--format", "json", "--select", "MTK-SEC-001", &path]);
        assert_eq!(run.code, 1, "{case}: {}", run.stdout);
        let report = run.json();
        assert!(errors(&report).is_empty(), "{case}");
        assert_eq!(locations(&report), vec![loc("MTK-SEC-001", &path, 11, 9)], "{case}");
        assert_eq!(report["findings"][0]["resource"]["name"], name);
    }
}

#[test]
fn unusable_policies_are_errors_naming_policy_and_rule_and_the_others_run() {
    let run = lint_with_policies("testdata/hostile/policies");
    assert_eq!(run.code, 2);
    let report = run.json();
    let errors: Vec<(String, Option<u64>, String)> =
        errors(&report).into_iter().map(|(f, l, _, m)| (f, l, m)).collect();
    let p = "testdata/hostile/policies";
    assert_eq!(
        errors,
        vec![
            (
                format!("{p}/invalid-jmespath.yaml"),
                Some(18),
                "invalid policy `invalid-jmespath`: rule `broken-expression`: invalid JMESPath \
                 `request.object.metadata.name | [`: unexpected Eof"
                    .to_string()
            ),
            (
                format!("{p}/rules-not-a-list.yaml"),
                Some(7),
                "invalid policy `rules-not-a-list`: spec.rules must be a list".to_string()
            ),
            (
                format!("{p}/unknown-operator.yaml"),
                Some(19),
                "invalid policy `unknown-operator`: rule `bad-operator`: unknown condition \
                 operator `RoughlyEquals`"
                    .to_string()
            ),
        ]
    );
    let rules = crate::support::rules(&report);
    assert_eq!(rules, ["require-team-label/team", "MTK-SEC-001"], "the usable policy still runs");
}

#[test]
fn evaluation_limits_turn_a_rule_into_an_error_never_a_pass() {
    let args = |extra: &[&'static str]| {
        let mut a = vec!["--format", "json", "--policy", "testdata/hostile/limits-policies"];
        a.extend(extra);
        a.push(KNOWN);
        a
    };
    // Within the default limits both policies pass on the known Pod.
    let run = mtk(&args(&["--select", "MTK-SEC-001"]));
    let report = run.json();
    assert_eq!(locations(&report), vec![known()]);
    let run = mtk(&args(&[
        "--select",
        "MTK-SEC-001",
        "--limit",
        "jmespath-steps=3",
        "--limit",
        "regex-size=2K",
        "--limit",
        "cel-steps=20",
    ]));
    let report = run.json();
    let messages: Vec<(String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (f["rule"].as_str().unwrap().to_string(), f["message"].as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(messages.len(), 4, "{messages:?}");
    let cel = messages.iter().find(|(rule, _)| rule == "expensive-cel").expect("expensive-cel");
    assert!(
        cel.1.starts_with(
            "could not evaluate the rule: validation 0: expression `object.spec.containers.all("
        ) && cel.1.contains("evaluation exceeded its step budget")
            && cel.1.contains("raise it with --limit cel-steps=N"),
        "{cel:?}"
    );
    let messages: Vec<(String, String)> =
        messages.into_iter().filter(|(rule, _)| rule != "expensive-cel").collect();
    assert!(messages[0].0 == "big-regex/large-pattern"
        && messages[0].1.contains("is larger than the limit of 2048 bytes once compiled (raise it with --limit regex-size=N"));
    assert!(
        messages[1].0 == "expensive-jmespath/many-steps"
            && messages[1]
                .1
                .contains("evaluation exceeded 3 steps (raise it with --limit jmespath-steps=N")
    );
    assert_eq!(messages[2].0, "MTK-SEC-001");
}

/// A JMESPath query that doubles its value at every step (`[@, @]` 64 times) reaches the step
/// budget instead of memory: copies are charged by their size.
#[test]
fn values_copied_by_jmespath_are_charged_by_size() {
    let run = lint_with_policies("testdata/hostile/cost-policies/doubling-jmespath.yaml");
    let report = run.json();
    let findings = report["findings"].as_array().unwrap();
    let doubled: Vec<&str> = findings
        .iter()
        .filter(|f| f["rule"] == "doubling-jmespath/doubles")
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert_eq!(doubled.len(), 1, "{}", run.stdout);
    assert!(
        doubled[0].starts_with("could not evaluate the rule: failed to load context:")
            && doubled[0].contains(
                "evaluation exceeded 5000000 steps (raise it with --limit jmespath-steps=N"
            ),
        "{}",
        doubled[0]
    );
    assert!(locations(&report).contains(&known()));
}

/// A run-wide budget: a policy within the per-evaluation budget on each object still cannot
/// make the run as a whole unbounded. Once the run's steps are spent, policies are left out for
/// the objects that remain, which the run reports (exit 2); built-in rules still run.
#[test]
fn a_run_stops_evaluating_policies_once_its_total_budget_is_spent() {
    let pods = 300;
    let dir = tempfile::tempdir().unwrap();
    let pod = std::fs::read_to_string(repo().join(KNOWN)).unwrap();
    let text: Vec<String> =
        (0..pods).map(|i| pod.replace("still-reported", &format!("pod-{i}"))).collect();
    std::fs::write(dir.path().join("pods.yaml"), text.join("---\n")).unwrap();
    let policy = repo().join("testdata/hostile/limits-policies/expensive-jmespath.yaml");
    std::fs::copy(policy, dir.path().join("policy.yaml")).unwrap();
    let args = |total: &str| {
        let limit = format!("eval-steps-total={total}");
        let args = ["--format", "json", "--select", "MTK-SEC-001", "--policy", "policy.yaml"];
        let mut args: Vec<String> = args.iter().map(ToString::to_string).collect();
        args.extend(["--limit".into(), limit, "--no-tree-policies".into(), "pods.yaml".into()]);
        args
    };
    let run = |total: &str| {
        let args = args(total);
        mtk_in(dir.path(), &args.iter().map(String::as_str).collect::<Vec<_>>(), None)
    };
    // Within the default budget every Pod is evaluated: no error.
    let full = run("2000000000");
    assert_eq!(full.code, 1, "{}", full.stdout);
    assert!(full.json()["errors"].as_array().unwrap().is_empty(), "{}", full.stdout);
    // A budget of 50 steps is spent after a few Pods.
    let cut = run("50");
    assert_eq!(cut.code, 2, "{}", cut.stdout);
    let report = cut.json();
    let errors = self::errors(&report);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let message = &errors[0].3;
    let unchecked: usize = message
        .strip_prefix("policies were not evaluated on ")
        .and_then(|rest| rest.split_once(' '))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("{message}"));
    assert!(unchecked > 0 && unchecked < pods, "{message}");
    assert!(message.contains("raise it with --limit eval-steps-total=N"), "{message}");
    // The built-in rule still reports every Pod.
    let privileged = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "MTK-SEC-001")
        .count();
    assert_eq!(privileged, pods);
}

/// A Kyverno result whose resource is not in the test is checked against every resource (as
/// `kyverno test` does): 300 such results on 100 Pods are 30,000 rows. A test keeps at most
/// 10,000 of them and counts the rest, so that the totals and the exit code stay exact while
/// memory stays bounded.
#[test]
fn rows_of_results_naming_missing_resources_are_counted_past_the_limit() {
    use std::fmt::Write as _;
    let (results, pods) = (300, 100);
    let dir = tempfile::tempdir().unwrap();
    let policy = repo().join("testdata/hostile/policies/require-team-label.yaml");
    std::fs::copy(policy, dir.path().join("policy.yaml")).unwrap();
    let mut resources = String::new();
    for i in 0..pods {
        // Every third Pod lacks the label the policy requires.
        let labels = if i % 3 == 0 { "{}" } else { "{team: a}" };
        write!(
            resources,
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}, labels: {labels}}}\n\
             spec: {{containers: [{{name: c, image: nginx:1.25}}]}}\n---\n"
        )
        .unwrap();
    }
    std::fs::write(dir.path().join("resources.yaml"), resources).unwrap();
    let mut test = String::from(
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata: {name: many}\n\
         policies: [policy.yaml]\nresources: [resources.yaml]\nresults:\n",
    );
    for i in 0..results {
        writeln!(
            test,
            "- {{policy: require-team-label, rule: team, resources: [missing-{i}], kind: Pod, result: pass}}"
        )
        .unwrap();
    }
    std::fs::write(dir.path().join("kyverno-test.yaml"), test).unwrap();
    let run = mtk_in(dir.path(), &["test", "--format", "json", "."], None);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    let suite = &report["tests"][0];
    assert_eq!(suite["rows"].as_array().unwrap().len(), 10_000);
    // 34 of the 100 Pods fail `pass` in each of the 300 expansions.
    let (failed, passed) = (results * 34, results * 66);
    assert_eq!(report["summary"]["failed"], failed);
    assert_eq!(report["summary"]["passed"], passed);
    let listed_failed =
        suite["rows"].as_array().unwrap().iter().filter(|r| r["verdict"] == "fail").count();
    assert_eq!(suite["unlisted"]["failed"].as_u64().unwrap() as usize, failed - listed_failed);
    assert_eq!(
        suite["unlisted"]["passed"].as_u64().unwrap() as usize,
        passed - (10_000 - listed_failed)
    );
    let table = mtk_in(dir.path(), &["test", "."], None);
    assert!(
        table.stdout.contains("… and 20000 more rows not listed"),
        "{}",
        &table.stdout[table.stdout.len().saturating_sub(500)..]
    );
}

#[test]
fn test_files_stay_inside_the_tested_tree_and_never_read_special_files() {
    let run = mtk(&["test", "--format", "json", "testdata/hostile/tests/outside"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stdout.contains(
            "`../../policies/require-team-label.yaml` is outside the tested paths (use \
             --allow-outside to read it)"
        ),
        "{}",
        run.stdout
    );
    // Allowed, it runs and passes.
    let run = mtk(&["test", "--allow-outside", "testdata/hostile/tests/outside"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    // `test --limit` applies to what the tests read.
    let run = mtk(&[
        "test",
        "--format",
        "json",
        "--allow-outside",
        "--limit",
        "file-size=100",
        "testdata/hostile/tests/outside",
    ]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stdout.contains("more than the limit of 100"), "{}", run.stdout);
    // /dev/zero is outside, and when outside reads are allowed it is still not read.
    let run =
        mtk(&["test", "--format", "json", "--allow-outside", "testdata/hostile/tests/dev-zero"]);
    assert_eq!(run.code, 2);
    assert!(run.stdout.contains("`/dev/zero` is not a regular file (not read)"), "{}", run.stdout);
}

#[cfg(unix)]
#[test]
fn fifos_and_devices_are_never_read() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.yaml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let known = std::fs::read(repo().join(KNOWN)).unwrap();
    std::fs::write(dir.path().join("known.yaml"), known).unwrap();
    // Named on the command line: an error, not a hang. Found by the walk: not a manifest.
    let run = mtk_in(
        dir.path(),
        &["--format", "json", "--select", "MTK-SEC-001", "pipe.yaml", "/dev/zero", "."],
        None,
    );
    assert_eq!(run.code, 2);
    let report = run.json();
    let errors = errors(&report);
    let messages: Vec<(&str, &str)> = errors.iter().map(|e| (e.0.as_str(), e.3.as_str())).collect();
    assert_eq!(
        messages,
        [
            ("/dev/zero", "a kernel or device file (under /proc, /sys or /dev): not read"),
            ("pipe.yaml", "not a regular file (not read)")
        ]
    );
    assert_eq!(locations(&report).len(), 1);
    // A test file pointing at the FIFO.
    std::fs::write(
        dir.path().join("kyverno-test.yaml"),
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata: {name: t}\npolicies: [pipe.yaml]\nresources: [known.yaml]\nresults: []\n",
    )
    .unwrap();
    let run = mtk_in(dir.path(), &["test", "--format", "json", "."], None);
    assert_eq!(run.code, 2);
    assert!(run.stdout.contains("`pipe.yaml` is not a regular file (not read)"), "{}", run.stdout);
}

#[cfg(unix)]
#[test]
fn broken_symlinks_and_unreadable_directories_are_reported() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let known = std::fs::read(repo().join(KNOWN)).unwrap();
    std::fs::write(dir.path().join("known.yaml"), &known).unwrap();
    std::os::unix::fs::symlink("missing-target.yaml", dir.path().join("dangling.yaml")).unwrap();
    let run = mtk_in(dir.path(), &["--format", "json", "--select", "MTK-SEC-001", "."], None);
    assert_eq!(run.code, 2, "{}", run.stdout);
    let report = run.json();
    let found = errors(&report);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "dangling.yaml");
    assert_eq!(found[0].3, "broken symbolic link: its target does not exist (not read)");
    assert_eq!(locations(&report), vec![loc("MTK-SEC-001", "known.yaml", 11, 9)]);

    // A directory nobody may read. Root reads it anyway, so this half needs an ordinary user.
    std::fs::remove_file(dir.path().join("dangling.yaml")).unwrap();
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::write(locked.join("pod.yaml"), &known).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let privileged = std::fs::read_dir(&locked).is_ok();
    let run = mtk_in(dir.path(), &["--format", "json", "--select", "MTK-SEC-001", "."], None);
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    let report = run.json();
    if privileged {
        // Running as root: the directory is read like any other.
        assert_eq!(locations(&report).len(), 2);
    } else {
        assert_eq!(run.code, 2);
        let found = errors(&report);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].0.as_str(), found[0].3.as_str()),
            ("locked", "cannot read: permission denied")
        );
        assert_eq!(locations(&report), vec![loc("MTK-SEC-001", "known.yaml", 11, 9)]);
    }
}

/// Every input a fuzz target once crashed on (fuzz/regressions/<target>/) still passes that
/// target's checks: for the loader, every span points into its file.
#[test]
fn fuzz_regressions_stay_fixed() {
    use mtk_lint::load::source::{Pos, SourceFile};
    use mtk_lint::load::{self, Limits, Node, Value as Y};
    fn check(source: &SourceFile, node: &Node, file: &str) {
        let within = |pos: Pos| {
            pos.line >= 1
                && pos.line as usize <= source.line_count() + 1
                && pos.col as usize <= source.line_text(pos.line).chars().count()
        };
        assert!(within(node.span.start()), "{file}: {:?}", node.span);
        match &node.value {
            Y::Seq(items) => items.iter().for_each(|n| check(source, n, file)),
            Y::Map(entries) => entries.iter().for_each(|e| {
                assert!(within(e.key_span.start()), "{file}: key {:?}", e.key_span);
                check(source, &e.value, file);
            }),
            _ => {}
        }
    }
    let dir = repo().join("fuzz/regressions/load");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.display().to_string();
        let (file, _) = load::parse_text(&name, &text, &Limits::default());
        let file = file.unwrap();
        for doc in &file.documents {
            check(&file.source, &doc.root, &name);
        }
        // And the whole pipeline neither panics nor loses the file.
        let run = mtk(&["--format", "json", path.to_str().unwrap()]);
        assert!(matches!(run.code, 0..=2), "{name}: exit {}\n{}", run.code, run.stderr);
        seen += 1;
    }
    assert!(seen > 0, "no regression inputs in {}", dir.display());
}

/// Objects hidden in a `kind: List` or a typed list (`PodList`) are applied by kubectl and
/// kustomize one by one: each is linted, at its own line (issue 15).
#[test]
fn objects_inside_lists_are_linted_where_they_are_written() {
    let run =
        mtk(&["--format", "json", "--select", "MTK-SEC-001", "testdata/hostile/lists/list.yaml"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report = run.json();
    assert_eq!(
        locations(&report),
        [
            loc("MTK-SEC-001", "testdata/hostile/lists/list.yaml", 17, 9),
            loc("MTK-SEC-001", "testdata/hostile/lists/list.yaml", 27, 58)
        ]
    );
    let names: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["resource"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["hidden", "also-hidden"]);
    assert_eq!(
        report["summary"]["resources"], 3,
        "the ConfigMap and both Pods; the lists are not objects"
    );
}

/// A pull request must not make the linter read files outside the checkout: a symbolic link that
/// leaves the linted tree is an error naming it and is not followed (its target never shows in
/// the report), unless `--follow-links`; links within the tree are followed; a link into /proc,
/// /sys or /dev is never followed (issue 15).
#[cfg(unix)]
#[test]
fn symbolic_links_that_leave_the_tree_are_not_followed() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let (tree, outside) = (dir.path().join("tree"), dir.path().join("outside"));
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    let known = std::fs::read(repo().join(KNOWN)).unwrap();
    std::fs::write(outside.join("secret.yaml"), &known).unwrap();
    std::fs::write(tree.join("inside.yaml"), &known).unwrap();
    symlink("../outside/secret.yaml", tree.join("link.yaml")).unwrap();
    symlink("../outside", tree.join("linkdir")).unwrap();
    symlink("inside.yaml", tree.join("alias.yaml")).unwrap();
    symlink("/proc/self", tree.join("proc")).unwrap();
    std::fs::write(outside.join("README.md"), "not a manifest").unwrap();
    symlink("../outside/README.md", tree.join("README.md")).unwrap();

    let args = ["--format", "json", "--select", "MTK-SEC-001", "tree"];
    let run = mtk_in(dir.path(), &args, None);
    assert_eq!(run.code, 2, "{}", run.stdout);
    let report = run.json();
    let errors: Vec<(String, String)> = errors(&report).into_iter().map(|e| (e.0, e.3)).collect();
    let leaves = ": it leaves the linted tree: not followed (--follow-links reads it)";
    assert_eq!(
        errors[..2],
        [
            ("tree/link.yaml".to_string(), format!("symbolic link to outside/secret.yaml{leaves}")),
            ("tree/linkdir".to_string(), format!("symbolic link to outside{leaves}")),
        ]
    );
    // /proc/self resolves to the linter's own process.
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert_eq!(errors[2].0, "tree/proc");
    assert!(errors[2].1.starts_with("symbolic link to /proc/"), "{}", errors[2].1);
    assert!(errors[2].1.ends_with(": a kernel or device file: not read"), "{}", errors[2].1);
    let files: Vec<String> = locations(&report).into_iter().map(|l| l.1).collect();
    assert_eq!(
        files,
        ["tree/alias.yaml", "tree/inside.yaml"],
        "links within the tree are followed"
    );

    let args = ["--format", "json", "--select", "MTK-SEC-001", "--follow-links", "tree"];
    let report = mtk_in(dir.path(), &args, None).json();
    let files: Vec<String> = locations(&report).into_iter().map(|l| l.1).collect();
    assert_eq!(
        files.len(),
        4,
        "with --follow-links the outside file is read through both links: {files:?}"
    );
    let unread: Vec<String> = self::errors(&report).into_iter().map(|e| e.0).collect();
    assert_eq!(unread, ["tree/proc"], "/proc stays unread");

    // A golden test's `paths:` through a link to outside is refused as well.
    let golden = "apiVersion: mtk-lint.dev/v1alpha1\nkind: LintTest\nmetadata: {name: t}\npaths: [linkdir]\nexpect: []\n";
    std::fs::write(tree.join("mtk-lint-test.yaml"), golden).unwrap();
    let run = mtk_in(dir.path(), &["test", "tree"], None);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stdout.contains("`linkdir` is outside the tested paths"), "{}", run.stdout);
}

/// Issue 15: whole-tree rules cost no more than n log n. 10,000 tenants that each claim a host
/// of the next one (the owner was found by trying every tenant's domains for every host:
/// 10^8 matches), and 20,000 copies of one ConfigMap (each copy looked back through all the
/// earlier ones: 2 * 10^8 steps). Every finding still names the right owner and first copy.
#[test]
fn whole_tree_rules_stay_linear_on_many_tenants_and_copies() {
    use std::fmt::Write as _;
    let tenants = 10_000;
    let copies = 20_000;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".mtk-lint.yaml"),
        "tenancy:\n  domains: [\"*.{tenant}.example.com\"]\n",
    )
    .unwrap();
    let mut text = String::new();
    for t in 0..tenants {
        let next = (t + 1) % tenants;
        write!(
            text,
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: t{t}, labels: {{mtk.io/tenant: t{t}}}}}\n---\n\
             apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: web, namespace: t{t}}}\n\
             spec: {{rules: [{{host: app.t{next}.example.com}}]}}\n---\n"
        )
        .unwrap();
    }
    std::fs::write(dir.path().join("tenants.yaml"), text).unwrap();
    let copy = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: same, namespace: t0}\n---\n";
    std::fs::write(dir.path().join("copies.yaml"), copy.repeat(copies)).unwrap();
    let run = mtk_in(
        dir.path(),
        &["--format", "json", "--select", "MTK-ISO-001,MTK-GEN-001", "--fail-on", "never", "."],
        None,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    let findings = report["findings"].as_array().unwrap();
    let foreign: Vec<&Value> = findings.iter().filter(|f| f["rule"] == "MTK-ISO-001").collect();
    assert_eq!(foreign.len(), tenants);
    for f in &foreign {
        let t: usize = f["resource"]["namespace"].as_str().unwrap()[1..].parse().unwrap();
        let owner = format!("which belongs to tenant `t{}`", (t + 1) % tenants);
        assert!(f["message"].as_str().unwrap().ends_with(&owner), "{f}");
    }
    let copies_found: Vec<&Value> =
        findings.iter().filter(|f| f["rule"] == "MTK-GEN-001").collect();
    assert_eq!(copies_found.len(), copies - 1);
    assert!(copies_found.iter().all(|f| f["message"]
        .as_str()
        .unwrap()
        .ends_with("also in copies.yaml:3; the cluster keeps whichever is applied last")));
}

/// Issue 15: reading a mapping costs time linear in its size (it was quadratic: 200,000 keys
/// took 47 s). A ConfigMap of 200,000 keys, half of them merged in from an anchor (`<<`), and
/// one key repeated: the repeated key is the one error, and the run goes on as usual.
#[test]
fn huge_mappings_with_merge_keys_load_in_linear_time() {
    use std::fmt::Write as _;
    let keys = 100_000;
    let mut text = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\n");
    text += "x-defaults: &defaults\n";
    for i in 0..keys {
        writeln!(text, "  m{i}: merged").unwrap();
    }
    text += "data:\n  <<: *defaults\n";
    for i in 0..keys {
        writeln!(text, "  k{i}: own").unwrap();
    }
    text += "  k7: again\n";
    let first = 4 + 1 + keys + 2 + 8;
    let repeated = first + keys - 7;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("big.yaml"), text).unwrap();
    std::fs::write(dir.path().join("known.yaml"), std::fs::read(repo().join(KNOWN)).unwrap())
        .unwrap();
    let run = mtk_in(dir.path(), &["--format", "json", "--select", "MTK-SEC-001", "."], None);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let report = run.json();
    assert_eq!(
        errors(&report),
        [(
            "big.yaml".to_string(),
            Some(repeated as u64),
            Some(3),
            format!("duplicate key `k7` (first defined on line {first})")
        )]
    );
    assert_eq!(locations(&report), vec![loc("MTK-SEC-001", "known.yaml", 11, 9)]);
}

/// Issue 15: the depth limit can be raised to 1,024 levels and no further. A document nested
/// that deep (an anchored list of lists, copied once by an alias) is read, checked by the
/// built-in rules and by Kyverno and CEL policies, and dropped, without overflowing a stack.
#[test]
fn the_deepest_documents_allowed_are_checked_without_overflowing_a_stack() {
    let pod = |lists: usize| {
        // Pod > spec > containers > container: four levels, then the lists.
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: deep\n  namespace: a\nspec:\n  \
             containers:\n  - name: c\n    image: nginx:1.27\n    securityContext:\n      \
             privileged: true\n    x-deep: &deep\n      {}x\n    x-copy: *deep\n",
            "- ".repeat(lists)
        )
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("deep.yaml"), pod(1020)).unwrap();
    std::fs::write(dir.path().join("deeper.yaml"), pod(1021)).unwrap();
    let args = |file: &'static str, depth: &'static str| {
        let policies = repo().join("examples/policies");
        let limits_policies = repo().join("testdata/hostile/limits-policies");
        let mut args = vec!["--format", "json", "--limit", depth, file]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>();
        for p in [policies, limits_policies] {
            args.extend(["--policy".to_string(), p.display().to_string()]);
        }
        args
    };
    let run_with = |file, depth| {
        let args = args(file, depth);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        mtk_in(dir.path(), &args, None)
    };
    let run = run_with("deep.yaml", "depth=1024");
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert_eq!(errors(&report), vec![]);
    let rules = crate::support::rules(&report);
    assert!(rules.iter().any(|r| r == "MTK-SEC-001"), "{rules:?}");
    assert!(rules.iter().any(|r| r == "disallow-privileged/privileged-containers"), "{rules:?}");
    // One level more is an error at the list that goes past the limit.
    let run = run_with("deeper.yaml", "depth=1024");
    assert_eq!(run.code, 2, "{}", run.stderr);
    let found = errors(&run.json());
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].1, found[0].2), (Some(13), Some(7 + 2 * 1020)), "{found:?}");
    assert!(found[0].3.contains("nesting deeper than 1024 levels"), "{found:?}");
    // And the limit goes no higher.
    let run = run_with("deeper.yaml", "depth=1025");
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("limit `depth` cannot be raised above 1024"), "{}", run.stderr);
}

/// Issue 15: a JSON document (a flow collection) is read as its tokens stream, at the memory
/// cost of the same data in block style (the parser used to hold all its tokens until the
/// closing bracket: about 50 bytes per byte of input); positions are those of the text as
/// written, on its first line too.
#[test]
fn json_documents_are_read_with_their_positions() {
    use std::fmt::Write as _;
    /// (line, column), 1-based, of the first `"privileged"` in `text`.
    fn privileged(text: &str) -> (u64, u64) {
        let at = text.find("\"privileged\"").unwrap();
        let line = text[..at].matches('\n').count() + 1;
        let column = text[..at].rsplit('\n').next().unwrap().chars().count() + 1;
        (line as u64, column as u64)
    }
    let path = "testdata/hostile/one-line.json";
    let text = std::fs::read_to_string(repo().join(path)).unwrap();
    let (line, column) = privileged(&text);
    let run = mtk(&["--format", "json", "--select", "MTK-SEC-001", path]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(locations(&run.json()), vec![loc("MTK-SEC-001", path, line, column)]);

    let mut text = String::from(
        "{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"big\"},\n \
         \"spec\": {\"containers\": [{\"name\": \"app\", \"image\": \"nginx:1.25\", \"env\": [\n",
    );
    for i in 0..40_000 {
        writeln!(text, "  {{\"name\": \"VAR_{i}\", \"value\": \"{i}\"}},").unwrap();
    }
    text += "  {\"name\": \"LAST\"}\n], \"securityContext\": {\"privileged\": true}}]}}\n";
    let (line, column) = privileged(&text);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("big.json"), &text).unwrap();
    let run =
        mtk_in(dir.path(), &["--format", "json", "--select", "MTK-SEC-001", "big.json"], None);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(locations(&run.json()), vec![loc("MTK-SEC-001", "big.json", line, column)]);
}

/// Hostile charts a HelmRelease deploys — recursion through `include`, `tpl` of itself, a loop
/// past the step bound, an archive that reaches outside itself — are each an error naming the
/// release and the chart's template and line; the other releases of the tree still render.
#[test]
fn hostile_charts_are_bounded_errors_and_the_rest_still_renders() {
    use std::fmt::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &[u8]| {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    let charts = [
        ("recursion", "{{ define \"a\" }}{{ include \"a\" . }}{{ end }}x: {{ include \"a\" . }}\n"),
        ("tpl", "x: {{ tpl .Values.self . }}\n"),
        ("steps", "{{ range until 100000 }}{{ range until 100000 }}{{ end }}{{ end }}x: 1\n"),
        ("fine", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine}\n"),
    ];
    let mut releases = String::new();
    for (name, template) in charts {
        write(
            &format!("charts/{name}/Chart.yaml"),
            format!("apiVersion: v2\nname: {name}\nversion: 1.0.0\n").as_bytes(),
        );
        write(&format!("charts/{name}/values.yaml"), b"self: '{{ tpl .Values.self . }}'\n");
        write(&format!("charts/{name}/templates/t.yaml"), template.as_bytes());
        let _ = write!(releases, "---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {{name: {name}, namespace: apps}}\nspec:\n  chart:\n    spec:\n      chart: ./charts/{name}\n      sourceRef: {{kind: GitRepository, name: flux-system}}\n");
    }
    // A chart archive, in the chart cache, with an entry that leaves it (tar's builder refuses
    // to write one: the header is made by hand).
    let evil_tar = {
        use std::io::Write as _;
        let mut raw = Vec::new();
        let mut header = [0u8; 512];
        let name = b"evil/../../escape.yaml";
        header[..name.len()].copy_from_slice(name);
        header[100..107].copy_from_slice(b"0000644");
        header[124..135].copy_from_slice(b"00000000004");
        header[156] = b'0';
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        header[148..156].copy_from_slice(b"        ");
        let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
        header[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        raw.extend_from_slice(&header);
        raw.extend_from_slice(b"x: 1");
        raw.resize(1024, 0);
        raw.extend_from_slice(&[0u8; 1024]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&raw).unwrap();
        gz.finish().unwrap()
    };
    write("cache/evil-1.0.0.tgz", &evil_tar);
    releases.push_str("---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: evil, namespace: apps}\nspec:\n  chart:\n    spec:\n      chart: evil\n      sourceRef: {kind: HelmRepository, name: repo}\n");
    write("apps/releases.yaml", releases.as_bytes());
    let run = crate::support::mtk_in(
        dir.path(),
        &["--format", "json", "--chart-cache", "cache", "."],
        None,
    );
    assert_eq!(run.code, 2, "{}", run.stdout);
    let report = run.json();
    let errors = crate::support::error_lines(&report);
    let find = |release: &str, what: &str| {
        errors
            .iter()
            .any(|e| e.contains(&format!("HelmRelease `apps/{release}`")) && e.contains(what))
    };
    // At the template file and line, the chain of nested calls cut short.
    assert!(find("recursion", "charts/recursion/templates/t.yaml:1: "), "{errors:#?}");
    assert!(find("recursion", "nested calls"), "{errors:#?}");
    assert!(find("recursion", "exceeded maximum template depth"), "{errors:#?}");
    assert!(find("tpl", "exceeded maximum template depth"), "{errors:#?}");
    assert!(find("steps", "charts/steps/templates/t.yaml:1: "), "{errors:#?}");
    assert!(find("steps", "evaluation exceeded 10000000 steps"), "{errors:#?}");
    assert!(find("evil", "escape.yaml"), "{errors:#?}");
    assert_eq!(errors.len(), 4, "{errors:#?}");
    // The fine release rendered: its ConfigMap is an object of the run.
    assert!(report["summary"]["resources"].as_u64().unwrap() >= 5, "{report}");
}
