//! The conformance ratchet: agreement with the Kyverno policy library's suites never drops
//! below the figures recorded in docs/CONFORMANCE.md.
//!
//! It needs the full library (492 suites), which lives outside the repository, so it is its own
//! test target that `cargo test` leaves out: `scripts/ratchet.sh`, which `.ci/run` calls, points
//! `$MTK_LINT_CORPUS` at the library and runs `cargo test --test ratchet`. Without the variable,
//! or with a folder that is not there, it fails, never passes.

use std::path::PathBuf;

use mtk_lint::harness::{self, Agreement, TestOptions};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn corpus() -> PathBuf {
    let dir = std::env::var_os("MTK_LINT_CORPUS")
        .map(PathBuf::from)
        .expect("MTK_LINT_CORPUS names the Kyverno policy library: run scripts/ratchet.sh");
    assert!(
        dir.is_dir(),
        "{} is missing: the ratchet needs the Kyverno policy library",
        dir.display()
    );
    dir
}

fn recorded() -> Vec<(String, f64)> {
    let doc = std::fs::read_to_string(repo().join("docs/CONFORMANCE.md")).unwrap();
    let line = doc
        .lines()
        .find(|l| l.starts_with("<!-- ratchet:"))
        .expect("ratchet line in docs/CONFORMANCE.md");
    line.trim_start_matches("<!-- ratchet:")
        .trim_end_matches("-->")
        .split_whitespace()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect()
}

#[test]
fn conformance_does_not_drop_below_the_recorded_figures() {
    let corpus = corpus();
    let options = TestOptions { paths: vec![corpus], ..TestOptions::default() };
    let outcome = harness::run(&options, &repo());
    assert_eq!(outcome.errors(), 0, "the corpus loads without errors");
    let (all, validate_only) = harness::conformance(&outcome);
    assert_eq!(all.suites, 492);
    let by_kind = harness::conformance_by_kind(&outcome);
    let kind = |k: &str| {
        let a = by_kind.iter().find(|(name, _)| name == k).map(|(_, a)| *a).unwrap_or_default();
        Agreement::percent(a.exact, a.rows)
    };
    let current = |name: &str| match name {
        "all-verdict" => Agreement::percent(all.verdict_pass, all.rows),
        "all-exact" => Agreement::percent(all.exact, all.rows),
        "validate-verdict" => Agreement::percent(validate_only.verdict_pass, validate_only.rows),
        "validate-exact" => Agreement::percent(validate_only.exact, validate_only.rows),
        "cel-exact" => kind("ClusterPolicy, validate.cel"),
        "vpol-exact" => kind("ValidatingPolicy"),
        "mutate-exact" => kind("ClusterPolicy, mutate"),
        "generate-exact" => kind("ClusterPolicy, generate"),
        "mpol-exact" => kind("MutatingPolicy"),
        "gpol-exact" => kind("GeneratingPolicy"),
        other => panic!("unknown ratchet figure {other}"),
    };
    let recorded = recorded();
    assert_eq!(recorded.len(), 10);
    for (name, floor) in recorded {
        let now = current(&name);
        assert!(now >= floor, "{name} dropped to {now}% (recorded {floor}%)");
    }
}

/// Every CEL expression of the policy library (`expression`, `messageExpression` and
/// `valueExpression` in every policy kind) parses.
#[test]
fn every_cel_expression_of_the_corpus_parses() {
    use mtk_lint::load::{self, Limits, Node, Value};
    fn walk(node: &Node, out: &mut Vec<(u32, String)>) {
        match &node.value {
            Value::Map(entries) => {
                for e in entries.iter() {
                    let is_cel =
                        matches!(&*e.key, "expression" | "messageExpression" | "valueExpression");
                    match e.value.as_str() {
                        Some(text) if is_cel => {
                            out.push((e.value.span.start().line, text.to_string()));
                        }
                        _ => walk(&e.value, out),
                    }
                }
            }
            Value::Seq(items) => items.iter().for_each(|n| walk(n, out)),
            _ => {}
        }
    }
    let corpus = corpus();
    let mut files = Vec::new();
    let mut dirs = vec![corpus.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path);
            }
        }
    }
    let (mut parsed, mut failed) = (0, Vec::new());
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let (Some(file), _) = load::parse_text("f.yaml", &text, &Limits::default()) else {
            continue;
        };
        for doc in &file.documents {
            let kind = doc.root.get("kind").and_then(Node::as_str).unwrap_or("");
            if !kind.ends_with("Policy") {
                continue;
            }
            let mut exprs = Vec::new();
            walk(&doc.root, &mut exprs);
            for (line, expr) in exprs {
                match mtk_lint::engine::cel::parse(&expr) {
                    Ok(_) => parsed += 1,
                    Err(e) => failed.push(format!("{}:{line}: {e}: {expr}", path.display())),
                }
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} do not parse:\n{}",
        failed.len(),
        parsed + failed.len(),
        failed.join("\n")
    );
    assert!(parsed > 500, "only {parsed} expressions found");
}

/// Kustomize's own build tests (`$MTK_LINT_KUSTOMIZE_CORPUS`, 294 cases, 278 a plain build can
/// run): the cases the renderer builds exactly (documents in order, as data) or, for an
/// expected error, refuses with an error that is not "not supported yet", never drop below
/// the count recorded in docs/CONFORMANCE.md. Prints the pass rate by kustomization feature
/// (`scripts/ratchet.sh -- --nocapture` shows it).
#[test]
fn kustomize_builds_do_not_drop_below_the_recorded_count() {
    use mtk_lint::render::kustomize::{build_ordered, Disk, Restrictor};
    use mtk_lint::render::order::Order;
    use std::collections::BTreeMap;
    let dir = std::env::var_os("MTK_LINT_KUSTOMIZE_CORPUS")
        .map(PathBuf::from)
        .expect("MTK_LINT_KUSTOMIZE_CORPUS names kustomize's cases: run scripts/ratchet.sh");
    let index = std::fs::read_to_string(dir.join("INDEX.tsv")).expect("INDEX.tsv of the corpus");
    let (mut passed, mut supported) = (0, 0);
    let mut by_feature: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut unsupported: BTreeMap<String, usize> = BTreeMap::new();
    for line in index.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let [case, build_dir, expect, is_supported, _, features] = cols[..] else { continue };
        if is_supported != "true" {
            continue;
        }
        supported += 1;
        let root = dir.join("cases").join(case);
        let disk = Disk::new(&root.join("files"));
        let case_file = std::fs::read_to_string(root.join("case.yaml")).unwrap_or_default();
        let restrictor = if case_file.contains("loadRestrictions: LoadRestrictionsNone") {
            Restrictor::None
        } else {
            Restrictor::RootOnly
        };
        let built = build_ordered(
            &disk,
            std::path::Path::new(build_dir.trim_matches('"')),
            &Order::Input,
            restrictor,
        );
        let ok = match (expect, built) {
            ("output", Ok(objects)) => {
                let text = std::fs::read_to_string(root.join("expected.yaml")).unwrap_or_default();
                let parsed =
                    mtk_lint::load::yaml::parse_stream(&text, &mtk_lint::load::Limits::default());
                let want: Vec<serde_json::Value> = parsed
                    .documents
                    .iter()
                    .map(|d| d.root.to_json())
                    .filter(|v| !v.is_null())
                    .collect();
                let got: Vec<serde_json::Value> = objects.iter().map(|t| t.to_json()).collect();
                if std::env::var("MTK_LINT_KUSTOMIZE_CASE").is_ok_and(|c| c == case) {
                    eprintln!("want {}\ngot  {}", serde_json::json!(want), serde_json::json!(got));
                }
                want == got
            }
            ("error", Err(e)) => {
                let not_built = e.message.contains("not supported yet")
                    || e.message.contains("remote resources are not fetched");
                if not_built {
                    *unsupported.entry(e.message.clone()).or_default() += 1;
                }
                !not_built
            }
            (_, Err(e)) => {
                if std::env::var("MTK_LINT_KUSTOMIZE_CASE").is_ok_and(|c| c == case) {
                    eprintln!("error {e}");
                }
                *unsupported.entry(e.message).or_default() += 1;
                false
            }
            _ => false,
        };
        passed += usize::from(ok);
        if !ok && std::env::var_os("MTK_LINT_KUSTOMIZE_VERBOSE").is_some() {
            eprintln!("FAILED {case} ({features})");
        }
        for f in features.split(',').map(str::trim).filter(|f| !f.is_empty()) {
            let entry = by_feature.entry(f.to_string()).or_default();
            entry.0 += usize::from(ok);
            entry.1 += 1;
        }
    }
    eprintln!("kustomize cases built exactly: {passed} of {supported}");
    for (feature, (ok, all)) in &by_feature {
        eprintln!("  {feature:<24} {ok:>4} / {all:<4}");
    }
    let mut reasons: Vec<(usize, String)> = unsupported.into_iter().map(|(m, n)| (n, m)).collect();
    reasons.sort_by(|a, b| b.cmp(a));
    for (n, message) in reasons.iter().take(15) {
        eprintln!("  {n:>4} x {message}");
    }
    assert_eq!(supported, 278, "the corpus has 278 cases a plain build can run");
    let doc = std::fs::read_to_string(repo().join("docs/CONFORMANCE.md")).unwrap();
    let floor: usize = doc
        .lines()
        .find_map(|l| l.strip_prefix("<!-- ratchet-kustomize: pass="))
        .and_then(|rest| rest.trim_end_matches("-->").trim().parse().ok())
        .expect("a `<!-- ratchet-kustomize: pass=N -->` line in docs/CONFORMANCE.md");
    assert!(
        passed >= floor,
        "kustomize cases built exactly dropped to {passed} (recorded {floor})"
    );
}

/// Runs the deterministic cases of a template case file with `funcs`, skipping those that
/// need a helper `funcs` lacks: (cases executed exactly, cases run). A case passes with the
/// same output, or with an error where upstream fails.
fn template_cases(file: &str, funcs: &mtk_lint::render::gotemplate::Funcs) -> (usize, usize) {
    use mtk_lint::render::gotemplate::{render, Value};
    let dir = std::env::var_os("MTK_LINT_HELM_CORPUS")
        .map(PathBuf::from)
        .expect("MTK_LINT_HELM_CORPUS names the Helm corpus: run scripts/ratchet.sh");
    let cases = std::fs::read_to_string(dir.join("templates").join(file))
        .unwrap_or_else(|e| panic!("templates/{file} of the Helm corpus: {e}"));
    let (mut passed, mut run) = (0, 0);
    for line in cases.lines() {
        let case: serde_json::Value = serde_json::from_str(line).expect("a JSON case");
        if case["deterministic"] == false {
            continue;
        }
        let needs = case["test_funcs"].as_array().map(Vec::as_slice).unwrap_or_default();
        if needs.iter().any(|f| f.as_str().is_some_and(|f| !funcs.has(f))) {
            continue;
        }
        run += 1;
        let template = case["template"].as_str().unwrap_or_default();
        let data = Value::from_json(&case["data"]);
        let got = render("t", template, &data, funcs);
        // Where upstream checked only parts of the output (map order), those parts.
        let parts = case["expect_contains"].as_array();
        let ok = match (&got, case["error"].as_bool().unwrap_or(false), parts) {
            (Err(_), true, _) => true,
            (Ok(out), false, Some(parts)) => {
                parts.iter().all(|p| p.as_str().is_some_and(|p| out.contains(p)))
            }
            (Ok(out), false, None) => case["expect"].as_str() == Some(out.as_str()),
            _ => false,
        };
        passed += usize::from(ok);
        if !ok && std::env::var_os("MTK_LINT_GOTEMPLATE_VERBOSE").is_some() {
            eprintln!("FAILED {}: {template:?} -> {got:?} want {}", case["id"], case["expect"]);
        }
    }
    eprintln!("{file}: {passed} of {run} executed exactly");
    (passed, run)
}

/// The floor recorded in docs/CONFORMANCE.md as `<!-- ratchet-NAME: pass=N -->`.
fn recorded_floor(name: &str) -> usize {
    let doc = std::fs::read_to_string(repo().join("docs/CONFORMANCE.md")).unwrap();
    let marker = format!("<!-- ratchet-{name}: pass=");
    doc.lines()
        .find_map(|l| l.strip_prefix(marker.as_str()))
        .and_then(|rest| rest.trim_end_matches("-->").trim().parse().ok())
        .unwrap_or_else(|| panic!("a `{marker}N -->` line in docs/CONFORMANCE.md"))
}

/// Go's own `text/template` tests (`$MTK_LINT_HELM_CORPUS/templates/go-text-template.jsonl`,
/// the deterministic cases, with the helpers Go's tests define where a case uses them), and
/// sprig's own tests (`sprig.jsonl`, Go's builtins and sprig's functions): the cases executed
/// exactly never drop below the counts recorded in docs/CONFORMANCE.md.
#[test]
fn go_template_cases_do_not_drop_below_the_recorded_count() {
    use mtk_lint::render::gotemplate::{sprig, Funcs, Value};
    let mut funcs = Funcs::builtins();
    // The helpers of Go's exec_test.go the cases call, typed as Go's are: a string parameter
    // refuses anything else.
    fn text(v: &Value) -> Result<&str, String> {
        v.as_str()
            .ok_or_else(|| format!("wrong type for value; expected string; got {}", v.type_name()))
    }
    funcs.insert("echo", |_, a| Ok(a.first().cloned().unwrap_or(Value::Nil)));
    funcs.insert("zeroArgs", |_, _| Ok(Value::string("zeroArgs")));
    funcs.insert("oneArg", |_, a| Ok(Value::string(&format!("oneArg={}", text(&a[0])?))));
    funcs.insert("twoArgs", |_, a| {
        Ok(Value::string(&format!("twoArgs={}{}", text(&a[0])?, text(&a[1])?)))
    });
    funcs.insert("returnInt", |_, _| Ok(Value::Int(7)));
    funcs.insert("typeOf", |_, a| Ok(Value::string(a[0].type_name())));
    funcs.insert("add", |_, a| {
        Ok(Value::Int(a.iter().map(|v| if let Value::Int(i) = v { *i } else { 0 }).sum()))
    });
    funcs.insert("die", |_, _| Err("die".into()));
    funcs.insert("valueString", |_, a| text(&a[0]).map(|_| Value::string("value is ignored")));
    let (passed, _) = template_cases("go-text-template.jsonl", &funcs);
    let floor = recorded_floor("gotemplate");
    assert!(passed >= floor, "Go template cases dropped to {passed} (recorded {floor})");

    // Sprig's functions, with the fixed stand-ins of its random ones (`encryptAES`).
    let mut funcs = Funcs::builtins();
    sprig::register(&mut funcs);
    mtk_lint::render::helm::funcs::register_random(&mut funcs);
    let (passed, _) = template_cases("sprig.jsonl", &funcs);
    let floor = recorded_floor("sprig");
    assert!(passed >= floor, "sprig cases dropped to {passed} (recorded {floor})");

    let funcs = mtk_lint::render::helm::funcs::funcs();
    let (passed, _) = template_cases("helm-funcs.jsonl", &funcs);
    let floor = recorded_floor("helm-funcs");
    assert!(passed >= floor, "Helm function cases dropped to {passed} (recorded {floor})");
}

/// Helm's engine tests (`$MTK_LINT_HELM_CORPUS/templates/helm-engine.jsonl`): charts in
/// memory rendered by `render::helm::engine` (or, for `engine-internal` cases, templates of one
/// set each executed with its own data); every expected output the case lists, or an error
/// where Helm fails. The count never drops below docs/CONFORMANCE.md's.
#[test]
fn helm_engine_cases_do_not_drop_below_the_recorded_count() {
    use mtk_lint::render::helm::funcs::funcs;
    let dir = std::env::var_os("MTK_LINT_HELM_CORPUS")
        .map(PathBuf::from)
        .expect("MTK_LINT_HELM_CORPUS names the Helm corpus: run scripts/ratchet.sh");
    let cases = std::fs::read_to_string(dir.join("templates/helm-engine.jsonl"))
        .expect("helm-engine.jsonl");
    let funcs = funcs();
    let (mut passed, mut run) = (0, 0);
    for line in cases.lines() {
        let case: serde_json::Value = serde_json::from_str(line).expect("a JSON case");
        if case["deterministic"] == false {
            continue;
        }
        run += 1;
        let got = if case["kind"] == "engine" {
            engine_case(&case, &funcs)
        } else {
            internal_case(&case, &funcs)
        };
        let ok = match (&got, case["error"].as_bool().unwrap_or(false)) {
            (Err(_), true) => true,
            (Ok(out), false) => case["expect"].as_object().is_some_and(|want| {
                want.iter().all(|(k, v)| out.get(k).map(String::as_str) == v.as_str())
            }),
            _ => false,
        };
        passed += usize::from(ok);
        if !ok && std::env::var_os("MTK_LINT_GOTEMPLATE_VERBOSE").is_some() {
            eprintln!("FAILED {}: {got:?} want {}", case["id"], case["expect"]);
        }
    }
    eprintln!("helm-engine.jsonl: {passed} of {run} rendered exactly");
    let floor = recorded_floor("helm-engine");
    assert!(passed >= floor, "Helm engine cases dropped to {passed} (recorded {floor})");
}

type Rendered = Result<std::collections::BTreeMap<String, String>, String>;

/// A chart case: the chart (`{metadata, templates, files, values, dependencies}`) rendered
/// with the case's values (`$coalesceValues` merged over the chart's defaults).
fn engine_case(case: &serde_json::Value, funcs: &mtk_lint::render::gotemplate::Funcs) -> Rendered {
    use mtk_lint::render::gotemplate::Value;
    use mtk_lint::render::helm::engine::{coalesce, render, Chart, Options};
    fn chart(j: &serde_json::Value) -> Chart {
        let pairs = |key: &str| -> Vec<(String, String)> {
            j[key]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|t| {
                    (
                        t["name"].as_str().unwrap_or("").to_string(),
                        t["data"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        };
        Chart {
            metadata: j["metadata"].as_object().cloned().unwrap_or_default().into_iter().collect(),
            templates: pairs("templates"),
            files: pairs("files"),
            values: Value::from_json(&j["values"]),
            dependencies: j["dependencies"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(chart)
                .collect(),
            ..Chart::default()
        }
    }
    let strict = case["engine"]["Strict"].as_bool().unwrap_or(false);
    let chart = chart(&case["chart"]);
    let mut top = case["values"].clone();
    if !top.is_object() {
        top = serde_json::json!({});
    }
    let user = top["Values"].get("$coalesceValues").cloned();
    if !top["Values"].is_object() {
        top["Values"] = serde_json::json!({});
    }
    let scope = Value::from_json(&top);
    if let (Some(user), Value::Map(m)) = (user, &scope) {
        m.borrow_mut().insert("Values".into(), coalesce(&chart, &Value::from_json(&user)));
    }
    render(&chart, &scope, funcs, Options { strict, ..Options::default() })
}

/// An `engine-internal` case: templates of one set, each executed with its own data.
fn internal_case(
    case: &serde_json::Value,
    funcs: &mtk_lint::render::gotemplate::Funcs,
) -> Rendered {
    use mtk_lint::render::gotemplate::{Templates, Value};
    let strict = case["engine"]["Strict"].as_bool().unwrap_or(false);
    let mut set = Templates::default();
    set.missing_zero = !strict;
    set.missing_error = strict;
    let templates = case["templates"].as_array().map(Vec::as_slice).unwrap_or_default();
    for t in templates {
        set.parse(t["name"].as_str().unwrap_or(""), t["data"].as_str().unwrap_or(""), funcs)
            .map_err(|e| e.message)?;
    }
    templates
        .iter()
        .map(|t| {
            let name = t["name"].as_str().unwrap_or("").to_string();
            set.execute(&name, &Value::from_json(&t["values"]), funcs)
                .map(|out| (name, out.replace("<no value>", "")))
                .map_err(|e| e.message)
        })
        .collect()
}

/// Helm's own `helm template` cases (`$MTK_LINT_HELM_CORPUS/charts/`: charts on disk, flags,
/// Helm 3's and Helm 4's golden output): the same documents in the same order, each with the
/// same `# Source:` and the same YAML data (or an error where Helm fails). The count never drops
/// below docs/CONFORMANCE.md's.
#[test]
fn helm_chart_cases_do_not_drop_below_the_recorded_count() {
    use mtk_lint::render::gotemplate::Value;
    use mtk_lint::render::helm::chart::{load, set_value, values_from_yaml};
    use mtk_lint::render::helm::template::{template, Options};
    let dir = std::env::var_os("MTK_LINT_HELM_CORPUS")
        .map(PathBuf::from)
        .expect("MTK_LINT_HELM_CORPUS names the Helm corpus: run scripts/ratchet.sh");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir.join("charts"))
        .expect("charts/ of the Helm corpus")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("case.yaml").is_file())
        .collect();
    cases.sort();
    let (mut passed, mut run) = (0, 0);
    for case_dir in cases {
        let text = std::fs::read_to_string(case_dir.join("case.yaml")).expect("case.yaml");
        let parsed = mtk_lint::load::yaml::parse_stream(&text, &mtk_lint::load::Limits::default());
        let case = parsed.documents[0].root.to_json();
        run += 1;
        let s = |k: &str| case[k].as_str().unwrap_or("").to_string();
        let list = |k: &str| -> Vec<String> {
            case[k]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        };
        let result = (|| -> Result<String, String> {
            let chart = load(&case_dir.join(s("chart")))?;
            let mut values = Value::map(std::collections::BTreeMap::new());
            for f in list("values_files") {
                let text = std::fs::read_to_string(case_dir.join(&f)).map_err(|e| e.to_string())?;
                values = mtk_lint::render::helm::chart::merge_values(
                    &values,
                    &values_from_yaml(&text, &f)?,
                );
            }
            for (key, string) in [("set", false), ("set_string", true)] {
                for (k, v) in case[key].as_object().cloned().unwrap_or_default() {
                    values = set_value(&values, &k, v.as_str().unwrap_or(""), string)?;
                }
            }
            let options = Options {
                release_name: s("release_name"),
                namespace: s("namespace"),
                kube_version: case["kube_version"].as_str().unwrap_or("v1.20.0").to_string(),
                api_versions: list("api_versions")
                    .iter()
                    .flat_map(|v| v.split(',').map(str::to_string).collect::<Vec<_>>())
                    .collect(),
                include_crds: case["include_crds"].as_bool().unwrap_or(false),
                skip_tests: case["skip_tests"].as_bool().unwrap_or(false),
                no_hooks: case["no_hooks"].as_bool().unwrap_or(false),
                is_upgrade: case["is_upgrade"].as_bool().unwrap_or(false),
                show_only: list("show_only"),
                name_template: case["name_template"].as_str().map(str::to_string),
                values,
                ..Options::default()
            };
            template(chart, &options)
        })();
        let expected = std::fs::read_to_string(case_dir.join("expected.txt")).unwrap_or_default();
        let documents = |text: &str| -> Vec<(String, serde_json::Value)> {
            text.split("---\n# Source: ")
                .skip(1)
                .map(|d| {
                    let (source, body) = d.split_once('\n').unwrap_or((d, ""));
                    let parsed = mtk_lint::load::yaml::parse_stream(
                        body,
                        &mtk_lint::load::Limits::default(),
                    );
                    (
                        source.to_string(),
                        parsed.documents.first().map(|x| x.root.to_json()).unwrap_or_default(),
                    )
                })
                .collect()
        };
        let ok = match (&result, s("expect").as_str()) {
            (Err(_), "error") => true,
            (Ok(out), "output") => documents(out) == documents(&expected),
            _ => false,
        };
        passed += usize::from(ok);
        if !ok && std::env::var_os("MTK_LINT_GOTEMPLATE_VERBOSE").is_some() {
            eprintln!(
                "FAILED {}: {}",
                case_dir.display(),
                match &result {
                    Ok(o) => o.chars().take(3000).collect::<String>(),
                    Err(e) => e.clone(),
                }
            );
        }
    }
    eprintln!("helm template cases: {passed} of {run} rendered alike");
    let floor = recorded_floor("helm-charts");
    assert!(passed >= floor, "helm template cases dropped to {passed} (recorded {floor})");
}
