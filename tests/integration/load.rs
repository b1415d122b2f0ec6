//! Loader and inventory behaviour over `testdata/load`.

use std::collections::BTreeMap;

use mtk_lint::config::Config;
use mtk_lint::load::{self, Input, LoadOptions};

use crate::support::{errors, loc, locations, mtk, mtk_in, repo};

/// These tests are about loading and reporting: they run the two rules their fixtures exercise.
const SELECT: &str = "MTK-SEC-001,MTK-NET-002";

#[test]
fn multi_document_files_report_the_field_line_and_document_index() {
    let run = mtk(&["--select", SELECT, "--format", "json", "testdata/load/multi-doc"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert_eq!(
        locations(&report),
        vec![loc("MTK-SEC-001", "testdata/load/multi-doc/workloads.yaml", 32, 7)]
    );
    let f = &report["findings"][0];
    // Namespace, empty document, values document, NetworkPolicy, then the Pod.
    assert_eq!(f["document"], 4);
    assert_eq!(f["path"], "/spec/containers/0/securityContext/privileged");
    assert_eq!(f["resource"]["name"], "debug");
    assert_eq!(report["summary"]["documents"], 5);
    assert_eq!(report["summary"]["resources"], 3);
    assert_eq!(report["errors"].as_array().unwrap().len(), 0);
}

#[test]
fn anchors_aliases_and_merge_keys_resolve() {
    let run = mtk(&["--select", SELECT, "--format", "json", "testdata/load/anchors"]);
    let report = run.json();
    // The first container is privileged through an anchor; the merged sidecar overrides it.
    assert_eq!(
        locations(&report),
        vec![loc("MTK-SEC-001", "testdata/load/anchors/deploy.yaml", 21, 11)]
    );
    assert_eq!(
        report["findings"][0]["path"],
        "/spec/template/spec/containers/0/securityContext/privileged"
    );
}

#[test]
fn crlf_line_endings_and_a_byte_order_mark_lint_normally() {
    let bytes = std::fs::read(repo().join("testdata/load/crlf-bom/pod.yaml")).unwrap();
    assert!(bytes.starts_with(b"\xef\xbb\xbf"), "fixture lost its BOM");
    assert!(bytes.windows(2).any(|w| w == b"\r\n"), "fixture lost its CRLF line endings");
    let run = mtk(&["--select", SELECT, "--format", "json", "testdata/load/crlf-bom"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        locations(&run.json()),
        vec![loc("MTK-SEC-001", "testdata/load/crlf-bom/pod.yaml", 11, 7)]
    );
}

/// Effective namespace of every object below `dir`, by kind/name.
fn namespaces_of(dir: &str) -> BTreeMap<String, Option<String>> {
    let options = LoadOptions { inputs: vec![Input::Path(dir.into())], ..LoadOptions::default() };
    let sources = load::load(&options, &repo());
    // testdata/load as a whole holds the broken-file fixtures.
    assert!(dir == "testdata/load" || sources.problems.is_empty(), "{:?}", sources.problems);
    let inventory = mtk_lint::inventory::build(sources, &Config::default());
    inventory
        .objects
        .iter()
        .map(|o| (format!("{}/{}", o.kind, o.name), o.namespace.clone()))
        .collect()
}

#[test]
fn kustomize_namespace_overrides_and_the_outermost_wins() {
    let ns = namespaces_of("testdata/load/kustomize");
    assert_eq!(ns["Deployment/no-namespace"].as_deref(), Some("outer"));
    // metadata.namespace and the inner kustomization's namespace are both overridden.
    assert_eq!(ns["Pod/declared"].as_deref(), Some("outer"));
    assert_eq!(ns["ClusterRole/cluster-scoped"], None);
    assert_eq!(ns.len(), 3, "kustomization.yaml files and patches are not objects: {ns:?}");
    let run = mtk(&["--select", SELECT, "--format", "json", "testdata/load/kustomize"]);
    let files: Vec<String> = locations(&run.json()).into_iter().map(|l| l.1).collect();
    assert!(!files.iter().any(|f| f.ends_with("patch.yaml")), "{files:?}");
}

#[test]
fn kustomize_cycles_end_and_deep_chains_keep_the_outermost_namespace() {
    let dir = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    // A cycle: a includes b, b includes a; only a sets a namespace.
    write("cycle/a/kustomization.yaml", "namespace: from-a\nresources: [../b, cm.yaml]\n");
    write("cycle/b/kustomization.yaml", "resources: [../a, cm.yaml]\n");
    let cm = |name: &str| format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n");
    write("cycle/a/cm.yaml", &cm("in-a"));
    write("cycle/b/cm.yaml", &cm("in-b"));
    // A chain of 3,000 kustomizations, each including the next: the first one's namespace wins
    // all the way down.
    let depth = 3000;
    for i in 0..depth {
        let ns = if i == 0 { "namespace: top\n" } else { "namespace: inner\n" };
        let next =
            if i + 1 < depth { format!("[../k{}, cm.yaml]", i + 1) } else { "[cm.yaml]".into() };
        write(&format!("chain/k{i}/kustomization.yaml"), &format!("{ns}resources: {next}\n"));
        write(&format!("chain/k{i}/cm.yaml"), &cm(&format!("level-{i}")));
    }
    let options = LoadOptions {
        inputs: vec![Input::Path(dir.path().to_path_buf())],
        ..LoadOptions::default()
    };
    let sources = load::load(&options, dir.path());
    assert!(sources.problems.is_empty(), "{:?}", sources.problems);
    let inventory = mtk_lint::inventory::build(sources, &Config::default());
    let ns: BTreeMap<&str, Option<&str>> =
        inventory.objects.iter().map(|o| (o.name.as_str(), o.namespace.as_deref())).collect();
    assert_eq!(ns["in-a"], Some("from-a"));
    // Both include each other, so neither is a root; a comes first in path order, and b,
    // reached from a, inherits a's namespace.
    assert_eq!(ns["in-b"], Some("from-a"));
    assert_eq!(ns.len(), depth + 2);
    for i in [0, 1, depth / 2, depth - 1] {
        assert_eq!(ns[format!("level-{i}").as_str()], Some("top"), "level {i}");
    }
}

#[test]
fn flux_target_namespace_applies_below_spec_path() {
    let ns = namespaces_of("testdata/load/flux");
    assert_eq!(ns["Deployment/api"].as_deref(), Some("team-b"));
    // Also when the tree is linted from a parent directory.
    let ns = namespaces_of("testdata/load");
    assert_eq!(ns["Deployment/api"].as_deref(), Some("team-b"));
}

#[test]
fn broken_files_are_errors_with_lines_and_the_rest_is_still_linted() {
    let run = mtk(&["--select", SELECT, "--format", "json", "testdata/load/broken"]);
    assert_eq!(run.code, 2);
    let report = run.json();
    let errors: Vec<_> = errors(&report)
        .into_iter()
        .map(|(file, line, _, message)| {
            (file.trim_start_matches("testdata/load/broken/").to_string(), line, message)
        })
        .collect();
    let expect = [
        ("binary.yaml", 2, "binary file (NUL byte)"),
        ("duplicate-key.yaml", 7, "duplicate key `a` (first defined on line 6)"),
        ("latin1.yaml", 4, "invalid UTF-8"),
        ("syntax.yaml", 7, "invalid YAML"),
    ];
    assert_eq!(errors.len(), expect.len(), "{errors:?}");
    for ((file, line, message), (want_file, want_line, want_message)) in errors.iter().zip(expect) {
        assert_eq!((file.as_str(), *line), (want_file, Some(want_line)));
        assert!(message.contains(want_message), "{message}");
    }
    assert_eq!(
        locations(&report),
        vec![loc("MTK-SEC-001", "testdata/load/broken/good.yaml", 11, 7)]
    );
}

#[test]
fn stdin_is_read_with_dash() {
    let stream = std::fs::read(repo().join("testdata/load/stdin/stream.yaml")).unwrap();
    let run = mtk_in(&repo(), &["--select", SELECT, "--format", "json", "-"], Some(&stream));
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        locations(&run.json()),
        vec![loc("MTK-NET-002", "<stdin>", 3, 1), loc("MTK-SEC-001", "<stdin>", 18, 7)]
    );
}

/// Files with findings when testdata/load is linted with these excludes.
fn files_linted_excluding(patterns: &[&str]) -> Vec<String> {
    let mut args = vec!["--format", "json"];
    for p in patterns {
        args.extend(["--exclude", p]);
    }
    args.push("testdata/load");
    let run = mtk(&args);
    assert_eq!(run.code, 1, "{patterns:?}: {}", run.stdout);
    locations(&run.json()).into_iter().map(|l| l.1).collect()
}

#[test]
fn excludes_skip_files_by_path_and_by_name() {
    let files = files_linted_excluding(&["broken", "flux/apps/**"]);
    assert!(files.iter().all(|f| !f.contains("/broken/") && !f.contains("/flux/")), "{files:?}");
    assert!(files.iter().any(|f| f.contains("/multi-doc/")));
    // A directory pattern excludes the directory (gitignore semantics), with or without a
    // leading or trailing `/`.
    assert!(files_linted_excluding(&["broken"]).iter().any(|f| f.contains("/flux/apps/")));
    // A leading `/` anchors a one-segment pattern to the root: `/apps` is not `flux/apps`.
    assert!(files_linted_excluding(&["broken", "/apps"]).iter().any(|f| f.contains("/flux/apps/")));
    assert!(!files_linted_excluding(&["broken", "apps"]).iter().any(|f| f.contains("/flux/apps/")));
    for pattern in ["flux/apps", "/flux/apps/", "flux/app*"] {
        let files = files_linted_excluding(&["broken", pattern]);
        assert!(files.iter().all(|f| !f.contains("/flux/apps/")), "{pattern}: {files:?}");
        assert!(files.iter().any(|f| f.contains("/multi-doc/")), "{pattern}");
    }
}

#[test]
fn gitignored_files_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".gitignore"), "ignored.yaml\n").unwrap();
    let pod = std::fs::read_to_string(repo().join("testdata/load/broken/good.yaml")).unwrap();
    std::fs::write(dir.path().join("ignored.yaml"), &pod).unwrap();
    std::fs::write(dir.path().join("kept.yml"), &pod).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "kind: not yaml").unwrap();
    let run = mtk_in(dir.path(), &["--select", SELECT, "--format", "json", "."], None);
    assert_eq!(locations(&run.json()), vec![loc("MTK-SEC-001", "kept.yml", 11, 7)]);
}

#[cfg(unix)]
#[test]
fn symlink_loops_are_reported_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("tenants");
    std::fs::create_dir(&sub).unwrap();
    std::os::unix::fs::symlink("..", sub.join("loop")).unwrap();
    let pod = std::fs::read_to_string(repo().join("testdata/load/broken/good.yaml")).unwrap();
    std::fs::write(sub.join("pod.yaml"), pod).unwrap();
    let run = mtk_in(dir.path(), &["--select", SELECT, "--format", "json", "."], None);
    assert_eq!(run.code, 2);
    let report = run.json();
    let message = report["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("symbolic link loop"), "{message}");
    assert_eq!(locations(&report), vec![loc("MTK-SEC-001", "tenants/pod.yaml", 11, 7)]);
}

#[test]
fn oversized_files_are_errors() {
    let run = mtk(&[
        "--select",
        SELECT,
        "--format",
        "json",
        "--max-file-size",
        "100",
        "testdata/load/multi-doc",
    ]);
    assert_eq!(run.code, 2);
    let message = run.json()["errors"][0]["message"].as_str().unwrap().to_string();
    assert!(message.contains("more than the limit of 100"), "{message}");
}

#[test]
fn argo_applications_own_their_paths_and_set_the_default_namespace() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("apps")).unwrap();
    std::fs::create_dir_all(dir.path().join("tenant-a")).unwrap();
    std::fs::write(
        dir.path().join("apps/team-a.yaml"),
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: team-a, namespace: argocd}\nspec:\n  project: team-a\n  source: {repoURL: \"https://git.example.com/fleet\", path: tenant-a}\n  destination: {server: \"https://kubernetes.default.svc\", namespace: team-a}\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n  labels: {mtk.io/tenant: team-a}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("tenant-a/objects.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: team-a-admin}\n",
    )
    .unwrap();
    let run = mtk_in(dir.path(), &["--format", "json", "--select", "MTK-ISO-003", "."], None);
    let report = run.json();
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{report}");
    assert_eq!(findings[0]["resource"]["kind"], "ClusterRole");
    assert!(findings[0]["message"]
        .as_str()
        .unwrap()
        .contains("Argo CD Application `argocd/team-a` of tenant `team-a`"));

    let options = LoadOptions {
        inputs: vec![Input::Path(dir.path().to_path_buf())],
        ..LoadOptions::default()
    };
    let inventory =
        mtk_lint::inventory::build(load::load(&options, dir.path()), &Config::default());
    let cm = inventory.objects.iter().find(|o| o.kind == "ConfigMap").unwrap();
    assert_eq!(cm.namespace.as_deref(), Some("team-a"), "the destination namespace is the default");
}

/// Normal repository content that is not a manifest (testdata/skipped/README.md) is skipped and
/// counted by reason, listed by `--stats`, and never an error; the chart's CRD is still read.
#[test]
fn repository_content_that_is_not_objects_is_skipped_and_listed() {
    let run = crate::support::mtk(&[
        "--format",
        "json",
        "--stats",
        "--select",
        "MTK-SEC-001",
        "testdata/skipped",
    ]);
    // The kustomization names a patch the old way, which kustomize 5 rejects: an error at that
    // line, and its files are linted as written (patches still skipped as patches).
    assert_eq!(run.code, 2, "{}", run.stderr);
    let report = run.json();
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["file"], "testdata/skipped/apps/kustomization.yaml");
    assert_eq!(errors[0]["line"], 6);
    assert!(errors[0]["message"].as_str().unwrap().contains("write `- path: legacy-patch.yaml`"));
    assert_eq!(
        report["summary"]["skipped_files"],
        serde_json::json!({
            "empty": 3, "not-kubernetes": 3, "kustomize": 4, "helm-chart": 3, "template": 1
        })
    );
    // The chart's sources are skipped as files, and the chart, which nothing deploys, is
    // rendered with its default values: its Deployment is linted too.
    assert_eq!(report["summary"]["charts_not_rendered"], 0);
    assert_eq!(
        report["summary"]["resources"], 3,
        "the Deployment, the chart's CRD and the Deployment the chart renders"
    );
    assert_eq!(
        crate::support::locations(&report),
        [crate::support::loc("MTK-SEC-001", "testdata/skipped/apps/deploy.yaml", 14, 13)]
    );
    let listed = run.stderr.split_once("  skipped files (not linted as objects)\n").unwrap().1;
    let want = "    empty (3):
      testdata/skipped/clusters/prod/flux-system/gotk-components.yaml
      testdata/skipped/clusters/prod/flux-system/gotk-sync.yaml
      testdata/skipped/config/values.yaml
    without Kubernetes objects (3):
      testdata/skipped/.github/labels.yaml
      testdata/skipped/ansible/roles/cilium/tasks/main.yaml
      testdata/skipped/renovate.json
    kustomize configs or patches (4):
      testdata/skipped/apps/image-patch.json
      testdata/skipped/apps/kustomization.yaml
      testdata/skipped/apps/legacy-patch.yaml
      testdata/skipped/apps/replicas-patch.yaml
    Helm chart sources (3):
      testdata/skipped/charts/app/Chart.yaml
      testdata/skipped/charts/app/templates/deploy.yaml
      testdata/skipped/charts/app/values.yaml
    templates (Jinja or Go) (1):
      testdata/skipped/ansible/roles/cilium/templates/ip-pool.yaml
";
    assert_eq!(listed, want);
}

/// A directory whose files are all skipped lints nothing: a warning says so. A path that does
/// not exist, a directory with no file to read and an empty standard input are errors.
#[test]
fn nothing_to_lint_is_never_a_silent_pass() {
    let run = crate::support::mtk(&["--format", "json", "testdata/skipped/.github"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let warnings = run.json()["warnings"].clone();
    assert_eq!(
        warnings,
        serde_json::json!([
            "testdata/skipped/.github: nothing to lint, every file was skipped (1 without \
             Kubernetes objects); see --stats"
        ])
    );
    let human = crate::support::mtk(&["--color", "never", "testdata/skipped/.github"]);
    assert!(
        human.stdout.contains("\nwarning: testdata/skipped/.github: nothing to lint"),
        "{}",
        human.stdout
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not yaml").unwrap();
    for (args, stdin, message) in [
        (
            vec!["does-not-exist/"],
            None,
            "\"file\":\"does-not-exist\",\"line\":null,\"message\":\"cannot read: No such file",
        ),
        (vec!["."], None, "no *.yaml, *.yml or *.json file to read in this directory"),
        (vec!["-"], Some(&b"\n"[..]), "standard input is empty: nothing to lint"),
    ] {
        let mut all = vec!["--format", "json"];
        all.extend(args);
        let run = crate::support::mtk_in(dir.path(), &all, stdin);
        assert_eq!(run.code, 2, "{message}: {}", run.stdout);
        let errors = run.json()["errors"].to_string();
        assert!(errors.contains(message), "{message}: {errors}");
    }
}

/// Regression (field trial): a Flux Kustomization's spec.path was read in this tree whatever its
/// source, so a tenant Kustomization of another repository pulled the platform's `apps/` into
/// the tenant's target namespace. Only a source that can be this tree maps (the flux-system
/// GitRepository, one with its URL, or one the tree does not define); an ExternalArtifact or
/// another repository does not.
#[test]
fn flux_paths_map_only_for_sources_that_are_this_tree() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("apps")).unwrap();
    std::fs::write(
        root.join("apps/controller.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: controller, namespace: ingress-nginx}\n",
    )
    .unwrap();
    let sync = |source: &str| {
        format!(
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {{name: flux-system, namespace: flux-system}}\nspec: {{url: ssh://git@example.com/platform/fleet.git}}\n---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {{name: team-a, namespace: team-a}}\nspec: {{url: {source}}}\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: team-a, namespace: team-a}}\nspec: {{path: ./apps, targetNamespace: team-a, serviceAccountName: team-a, sourceRef: {{kind: GitRepository, name: team-a}}}}\n"
        )
    };
    let namespace = |files: &[(&str, String)]| {
        for (name, text) in files {
            std::fs::write(root.join(name), text).unwrap();
        }
        let options =
            LoadOptions { inputs: vec![Input::Path(root.into())], ..LoadOptions::default() };
        let inventory = mtk_lint::inventory::build(load::load(&options, root), &Config::default());
        inventory.objects.iter().find(|o| o.name == "controller").unwrap().namespace.clone()
    };
    // Another repository: its ./apps is not this tree's.
    let other = sync("https://github.com/team-a/apps");
    assert_eq!(namespace(&[("sync.yaml", other)]).as_deref(), Some("ingress-nginx"));
    // The same repository (written with .git or not): targetNamespace applies.
    let same = sync("ssh://git@example.com/platform/fleet");
    assert_eq!(namespace(&[("sync.yaml", same)]).as_deref(), Some("team-a"));
    // A generated artifact is built elsewhere.
    let artifact = sync("ssh://git@example.com/platform/fleet").replace(
        "sourceRef: {kind: GitRepository, name: team-a}",
        "sourceRef: {kind: ExternalArtifact, name: staging}",
    );
    assert_eq!(namespace(&[("sync.yaml", artifact)]).as_deref(), Some("ingress-nginx"));
}
