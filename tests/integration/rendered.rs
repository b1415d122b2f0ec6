//! `mtk-lint DIR` lints what the tree's build units render (docs/RENDER.md): findings point at
//! the file and line that supplied the field, name the units that render it, and one cause is
//! one finding.

use serde_json::Value;

use crate::support::{errors, loc, locations, mtk, mtk_in, write};

/// The unit names of a finding, each cut to its file.
fn units(finding: &Value) -> Vec<String> {
    finding["units"]
        .as_array()
        .map(|units| {
            units
                .iter()
                .map(|u| {
                    let name = u["name"].as_str().unwrap();
                    name.rsplit_once(" (")
                        .map_or(name, |(_, file)| file)
                        .trim_end_matches(')')
                        .to_string()
                })
                .collect()
        })
        .unwrap_or_default()
}

fn finding<'a>(report: &'a Value, rule: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == rule)
        .unwrap_or_else(|| panic!("no {rule} in {report}"))
}

#[test]
fn a_violation_only_production_builds_points_at_its_patch_and_names_only_production() {
    let run = mtk(&["--format", "json", "examples/overlays/bad"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    let p = "examples/overlays/bad/";
    let production = format!("{p}clusters/production/apps.yaml");
    let staging = format!("{p}clusters/staging/apps.yaml");
    // The patch line, not the base; the overlay's `newTag`, not the base's image.
    let privileged = finding(&report, "MTK-SEC-001");
    assert_eq!(privileged["file"], format!("{p}apps/production/debug-patch.yaml"));
    assert_eq!((privileged["line"].as_u64(), privileged["column"].as_u64()), (Some(11), Some(11)));
    assert_eq!(units(privileged), std::slice::from_ref(&production));
    let tag = finding(&report, "MTK-SEC-004");
    assert_eq!(tag["file"], format!("{p}apps/production/kustomization.yaml"));
    assert_eq!(tag["line"], 9);
    assert_eq!(units(tag), std::slice::from_ref(&production));
    // The base's cause is one finding, built by both clusters.
    let quota = finding(&report, "MTK-ISO-005");
    assert_eq!(quota["file"], format!("{p}apps/base/shop/namespace.yaml"));
    assert_eq!(units(quota), [production.clone(), staging]);
    assert_eq!(report["findings"].as_array().unwrap().len(), 3, "{report}");
    // Objects: the two Flux Kustomizations as written; the Namespace and NetworkPolicy, which
    // both clusters receive alike, once each; the Deployment per cluster (tags differ).
    assert_eq!(report["summary"]["resources"], 6);
    // The way there: the Flux Kustomization's spec.path, the overlay's and the base's entries.
    let via: Vec<(String, u64)> = privileged["units"][0]["via"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["file"].as_str().unwrap().to_string(), v["line"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        via,
        [
            (production, 8),
            (format!("{p}apps/production/kustomization.yaml"), 4),
            (format!("{p}apps/base/shop/kustomization.yaml"), 7),
        ]
    );
    // SARIF carries the same way as related locations.
    let sarif = mtk(&["--format", "sarif", "examples/overlays/bad"]).json();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let result = results.iter().find(|r| r["ruleId"] == "MTK-SEC-001").unwrap();
    assert_eq!(result["relatedLocations"].as_array().unwrap().len(), 3);
    assert_eq!(result["properties"]["units"].as_array().unwrap().len(), 1);
}

#[test]
fn a_base_violation_an_overlay_fixes_is_reported_only_for_the_overlay_that_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n        securityContext:\n          privileged: true\n";
    write(
        dir.path(),
        &[
            ("base/kustomization.yaml", "resources: [deploy.yaml]\n"),
            ("base/deploy.yaml", deploy),
            ("fixed/kustomization.yaml", "resources: [../base]\npatches:\n- path: fix.yaml\n"),
            (
                "fixed/fix.yaml",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        securityContext:\n          privileged: false\n",
            ),
            ("kept/kustomization.yaml", "resources: [../base]\n"),
        ],
    );
    let run = mtk_in(dir.path(), &["--format", "json", "--select", "MTK-SEC-001", "."], None);
    let report = run.json();
    assert_eq!(locations(&report), [loc("MTK-SEC-001", "base/deploy.yaml", 13, 11)]);
    assert_eq!(units(&report["findings"][0]), ["kustomization kept"]);
    // Read as files (no directory, no build units), the base alone is what is linted.
    let files = mtk_in(
        dir.path(),
        &["--format", "json", "--select", "MTK-SEC-001", "base/deploy.yaml"],
        None,
    );
    let findings = files.json()["findings"].clone();
    assert_eq!(findings.as_array().map(Vec::len), Some(1), "{findings}");
    assert!(findings[0]["units"].is_null(), "{findings}");
}

#[test]
fn flux_options_and_substitutions_point_at_the_flux_kustomization() {
    let dir = tempfile::tempdir().unwrap();
    let flux = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\n  namespace: flux-system\nspec:\n  path: ./apps\n  sourceRef: {kind: GitRepository, name: flux-system}\n  targetNamespace: shop\n  images:\n  - name: nginx\n    newTag: latest\n  postBuild:\n    substitute:\n      SIDECAR_TAG: latest\n    substituteFrom:\n    - kind: ConfigMap\n      name: vars\n";
    write(
        dir.path(),
        &[
            ("clusters/prod/apps.yaml", flux),
            (
                "clusters/prod/vars.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: vars\n  namespace: flux-system\ndata:\n  REPLICAS: \"3\"\n",
            ),
            // No kustomization: Flux generates one of the directory's manifests.
            (
                "apps/web.yaml",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: ${REPLICAS}\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n      - name: sidecar\n        image: busybox:${SIDECAR_TAG}\n",
            ),
        ],
    );
    let run = mtk_in(dir.path(), &["--format", "json", "--select", "MTK-SEC-004", "."], None);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert_eq!(
        locations(&report),
        [
            loc("MTK-SEC-004", "clusters/prod/apps.yaml", 12, 13),
            loc("MTK-SEC-004", "clusters/prod/apps.yaml", 15, 20),
        ]
    );
    for f in report["findings"].as_array().unwrap() {
        assert_eq!(f["resource"]["namespace"], "shop", "targetNamespace applies");
    }
    // A variable nothing defines stops that unit (strict substitution, as kustomize-controller
    // does by default); its files are then linted as written, and the run says why.
    let undefined = flux.replace("SIDECAR_TAG: latest", "OTHER: x");
    write(dir.path(), &[("clusters/prod/apps.yaml", undefined.as_str())]);
    let run = mtk_in(dir.path(), &["--format", "json", "--select", "MTK-SEC-004", "."], None);
    assert_eq!(run.code, 2);
    let errors = run.json()["errors"].clone();
    let message = errors[0]["message"].as_str().unwrap();
    assert_eq!(errors[0]["file"], "clusters/prod/apps.yaml");
    assert!(message.contains("variable `SIDECAR_TAG` is not set"), "{message}");
    assert!(message.contains("Deployment/web"), "{message}");
}

#[test]
fn a_unit_that_cannot_be_built_is_an_error_at_its_line_and_its_files_are_still_linted() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "app/kustomization.yaml",
                "resources: [pod.yaml]\nhelmCharts:\n- name: x\n",
            ),
            (
                "app/pod.yaml",
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: a\nspec:\n  containers:\n  - name: c\n    image: nginx:1.27\n    securityContext:\n      privileged: true\n",
            ),
            ("other/kustomization.yaml", "resources: [missing.yaml]\n"),
        ],
    );
    let run = mtk_in(dir.path(), &["--format", "json", "--select", "MTK-SEC-001", "."], None);
    assert_eq!(run.code, 2);
    let report = run.json();
    assert_eq!(locations(&report), [loc("MTK-SEC-001", "app/pod.yaml", 11, 7)]);
    let errors = errors(&report);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!((errors[0].0.as_str(), errors[0].1), ("app/kustomization.yaml", Some(2)));
    assert!(errors[0].3.contains("`helmCharts` is not supported yet"), "{}", errors[0].3);
    assert_eq!((errors[1].0.as_str(), errors[1].1), ("other/kustomization.yaml", Some(1)));
    assert!(errors[1].3.contains("missing.yaml' does not exist"), "{}", errors[1].3);
}

#[test]
fn copies_collide_only_when_one_cluster_receives_both() {
    let dir = tempfile::tempdir().unwrap();
    let flux = |name: &str, path: &str| {
        format!("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: {name}\n  namespace: flux-system\nspec:\n  path: {path}\n  sourceRef: {{kind: GitRepository, name: flux-system}}\n")
    };
    let (a, b, c) = (flux("a", "./common"), flux("b", "./common"), flux("c", "./common"));
    write(
        dir.path(),
        &[
            // Staging and production each deploy ./common once: no collision.
            ("clusters/staging/a.yaml", a.as_str()),
            ("clusters/production/a.yaml", a.as_str()),
            // Two entries of one cluster deploy it twice: a collision.
            ("clusters/dev/b.yaml", b.as_str()),
            ("clusters/dev/c.yaml", c.as_str()),
            ("clusters/dev/flux-system/sync.yaml", &flux("flux-system", "./clusters/dev")),
            (
                "common/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: shop\n",
            ),
            // Two overlays of one base, with no cluster entry: each is its own unit.
            ("base/kustomization.yaml", "resources: [cm.yaml]\n"),
            (
                "base/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\n  namespace: shop\n",
            ),
            ("one/kustomization.yaml", "resources: [../base]\n"),
            ("two/kustomization.yaml", "resources: [../base]\n"),
        ],
    );
    let run = mtk_in(dir.path(), &["--format", "json", "--select", "MTK-GEN-001", "."], None);
    let report = run.json();
    assert_eq!(locations(&report), [loc("MTK-GEN-001", "common/cm.yaml", 4, 3)], "{report}");
    // One definition that two units of the dev cluster apply: the units are named.
    let message = report["findings"][0]["message"].as_str().unwrap();
    assert!(message.contains("is applied twice by one cluster"), "{message}");
    assert!(
        message.contains("`flux-system/b`") && message.contains("`flux-system/c`"),
        "{message}"
    );
    assert_eq!(units(&report["findings"][0]).len(), 1, "only the dev cluster's later unit");
}

/// A Pod `web` that MTK-SEC-001 reports.
const PRIVILEGED_WEB: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: c\n    image: nginx:1.27\n    securityContext:\n      privileged: true\n";

/// The exit code and JSON report of linting `dir` for MTK-SEC-001.
fn privileged_findings(dir: &std::path::Path) -> (i32, serde_json::Value) {
    let run = mtk_in(dir, &["--format", "json", "--select", "MTK-SEC-001", "."], None);
    (run.code, run.json())
}

/// Argo CD builds kustomizations as its `argocd-cm` says (`kustomize.buildOptions`): with
/// `--load-restrictor LoadRestrictionsNone`, an Application's kustomization may read a file
/// outside its directory. The ConfigMap in the tree says so, or the config does; without
/// either, kustomize's default refuses it. Options that cannot be read are errors at their line.
#[test]
fn argo_cd_kustomize_build_options_decide_which_files_an_application_reads() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let app = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: shop, namespace: argocd}\nspec:\n  source: {repoURL: https://git.example.com/fleet, path: shop}\n  destination: {server: https://kubernetes.default.svc, namespace: shop}\n";
    write(
        dir.path(),
        &[
            ("apps/shop.yaml", app),
            ("shop/kustomization.yaml", "resources: [../common/pod.yaml]\n"),
            ("common/pod.yaml", PRIVILEGED_WEB),
        ],
    );
    let lint = || privileged_findings(dir.path());
    let (code, report) = lint();
    assert_eq!(code, 2, "{report}");
    let refused = errors(&report);
    assert!(refused[0].3.contains("security; file"), "{refused:?}");
    // The tree's argocd-cm lifts the restriction: the pod is what the Application renders.
    let cm = |options: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: argocd-cm, namespace: argocd}}\ndata:\n  kustomize.buildOptions: {options}\n")
    };
    let none = cm("--enable-helm --load-restrictor LoadRestrictionsNone");
    write(dir.path(), &[("argocd/argocd-cm.yaml", none.as_str())]);
    let (code, report) = lint();
    assert_eq!((code, report["errors"].clone()), (1, serde_json::json!([])), "{report}");
    assert_eq!(units(&report["findings"][0]), ["apps/shop.yaml"], "{report}");
    // An option it cannot read is an error at its line, and kustomize's defaults apply.
    let odd = cm("--reorder none");
    write(dir.path(), &[("argocd/argocd-cm.yaml", odd.as_str())]);
    let (code, report) = lint();
    assert_eq!(code, 2);
    let odd_errors = errors(&report);
    let odd_error = odd_errors
        .iter()
        .find(|e| e.0 == "argocd/argocd-cm.yaml")
        .expect("an error at the ConfigMap");
    assert_eq!(odd_error.1, Some(5));
    assert!(odd_error.3.contains("`--reorder` is not supported yet"), "{odd_errors:?}");
    let not_text = cm("[--load-restrictor, LoadRestrictionsNone]");
    write(dir.path(), &[("argocd/argocd-cm.yaml", not_text.as_str())]);
    let (code, report) = lint();
    assert_eq!(code, 2);
    assert!(
        errors(&report)
            .iter()
            .any(|e| e.0 == "argocd/argocd-cm.yaml" && e.3.contains("must be text")),
        "{report}"
    );
    // Without the ConfigMap, the config says how its Argo CD builds.
    std::fs::remove_file(dir.path().join("argocd/argocd-cm.yaml")).unwrap();
    write(
        dir.path(),
        &[(
            ".mtk-lint.yaml",
            "render:\n  argocdKustomizeBuildOptions: --load-restrictor=LoadRestrictionsNone\n",
        )],
    );
    let (code, report) = lint();
    assert_eq!((code, report["errors"].clone()), (1, serde_json::json!([])), "{report}");
    write(
        dir.path(),
        &[(
            ".mtk-lint.yaml",
            "render:\n  argocdKustomizeBuildOptions: --load-restrictor sometimes\n",
        )],
    );
    let (code, report) = lint();
    assert_eq!(code, 2);
    let config_errors = errors(&report);
    assert_eq!((config_errors[0].0.as_str(), config_errors[0].1), (".mtk-lint.yaml", Some(2)));
    assert!(config_errors[0].3.contains("expected LoadRestrictionsNone"), "{config_errors:?}");
}

/// A kustomization nothing deploys is built as `kustomize build` builds it, or with the options
/// the config gives for it (the repository's own build runs `--load-restrictor
/// LoadRestrictionsNone`).
#[test]
fn kustomize_build_options_in_the_config_apply_to_kustomizations_nothing_deploys() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "overlays/dev/kustomization.yaml",
                "resources: [../../common/pod.yaml]\nnamespace: dev\n",
            ),
            ("common/pod.yaml", PRIVILEGED_WEB),
        ],
    );
    let lint = || privileged_findings(dir.path());
    let (code, report) = lint();
    assert_eq!(code, 2, "{report}");
    assert!(errors(&report)[0].3.contains("security; file"), "{report}");
    write(
        dir.path(),
        &[(
            ".mtk-lint.yaml",
            "render: {kustomizeBuildOptions: --load-restrictor LoadRestrictionsNone}\n",
        )],
    );
    let (code, report) = lint();
    assert_eq!((code, report["errors"].clone()), (1, serde_json::json!([])), "{report}");
    assert_eq!(report["findings"][0]["resource"]["namespace"], "dev", "{report}");
}

#[test]
fn an_argo_cd_directory_application_builds_only_its_own_directory_unless_recursive() {
    let dir = tempfile::tempdir().unwrap();
    let app = |recurse: bool| {
        format!("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: shop, namespace: argocd}}\nspec:\n  source:\n    repoURL: https://git.example.com/fleet\n    path: shop\n    directory: {{recurse: {recurse}}}\n  destination: {{server: https://kubernetes.default.svc, namespace: shop}}\n")
    };
    let pod = |name: &str| {
        format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n  - name: c\n    image: nginx:1.27\n    securityContext:\n      privileged: true\n")
    };
    let (top, nested) = (pod("top"), pod("nested"));
    let flat = app(false);
    write(
        dir.path(),
        &[
            ("apps/shop.yaml", flat.as_str()),
            ("shop/pod.yaml", &top),
            ("shop/sub/pod.yaml", &nested),
        ],
    );
    let run = mtk_in(dir.path(), &["--format", "json", "--select", "MTK-SEC-001", "."], None);
    let report = run.json();
    let found: Vec<(&str, &str)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (f["resource"]["name"].as_str().unwrap(), f["resource"]["namespace"].as_str().unwrap())
        })
        .collect();
    // `shop/sub` is not part of the application: linted as written.
    assert_eq!(found, [("top", "shop"), ("nested", "shop")], "{report}");
    assert_eq!(units(&report["findings"][0]), ["apps/shop.yaml"]);
    assert!(report["findings"][1]["units"].is_null());
    let recursive = app(true);
    write(dir.path(), &[("apps/shop.yaml", recursive.as_str())]);
    let report =
        mtk_in(dir.path(), &["--format", "json", "--select", "MTK-SEC-001", "."], None).json();
    let namespaces: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["resource"]["namespace"].as_str().unwrap())
        .collect();
    assert_eq!(namespaces, ["shop", "shop"], "{report}");
}

/// The layout of flux2-multi-tenancy with the tenant's own apps in the fleet repository: each
/// cluster's `tenants` overlay patches the tenant's Flux Kustomization to its environment's
/// apps overlay; staging deletes the tenant's default deny.
const TENANT_FLEET: &[(&str, &str)] = &[
    ("clusters/staging/tenants.yaml", "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: tenants\n  namespace: flux-system\nspec:\n  path: ./tenants/staging\n  sourceRef: {kind: GitRepository, name: flux-system}\n"),
    ("clusters/production/tenants.yaml", "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: tenants\n  namespace: flux-system\nspec:\n  path: ./tenants/production\n  sourceRef: {kind: GitRepository, name: flux-system}\n"),
    ("tenants/base/team/kustomization.yaml", "resources: [namespace.yaml, deny.yaml, sync.yaml]\n"),
    ("tenants/base/team/namespace.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n  labels: {mtk.io/tenant: team}\n"),
    ("tenants/base/team/deny.yaml", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: default-deny\n  namespace: team\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n"),
    ("tenants/base/team/sync.yaml", "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: team\n  namespace: team\nspec:\n  serviceAccountName: team\n  targetNamespace: team\n  sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}\n"),
    ("tenants/staging/kustomization.yaml", "resources: [../base/team]\npatches:\n- path: team-patch.yaml\n- path: no-deny.yaml\n"),
    ("tenants/staging/team-patch.yaml", "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: team\n  namespace: team\nspec:\n  path: ./team/apps/staging\n"),
    ("tenants/staging/no-deny.yaml", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: default-deny\n  namespace: team\n$patch: delete\n"),
    ("tenants/production/kustomization.yaml", "resources: [../base/team]\npatches:\n- path: team-patch.yaml\n"),
    ("tenants/production/team-patch.yaml", "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: team\n  namespace: team\nspec:\n  path: ./team/apps/production\n"),
    ("team/apps/base/kustomization.yaml", "resources: [web.yaml]\n"),
    ("team/apps/base/web.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports: [{port: 80}]\n"),
    ("team/apps/staging/kustomization.yaml", "resources: [../base]\npatches:\n- patch: |\n    apiVersion: v1\n    kind: Service\n    metadata:\n      name: web\n    spec:\n      type: NodePort\n"),
    ("team/apps/production/kustomization.yaml", "resources: [../base]\nreplicas:\n- name: web\n  count: 3\nimages:\n- name: nginx\n  newTag: latest\n"),
];

#[test]
fn entries_that_units_render_are_built_as_rendered_in_their_cluster() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), TENANT_FLEET);
    let select = "MTK-NET-001,MTK-NET-002,MTK-SEC-004";
    let run = mtk_in(dir.path(), &["--format", "json", "--select", select, "."], None);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["errors"], serde_json::json!([]));
    // Each finding where its cause is written: the staging patch that deletes the default
    // deny, the line of the inline patch that makes the Service a NodePort, production's tag.
    assert_eq!(
        locations(&report),
        [
            loc("MTK-SEC-004", "team/apps/production/kustomization.yaml", 7, 11),
            loc("MTK-NET-001", "team/apps/staging/kustomization.yaml", 9, 7),
            loc("MTK-NET-002", "tenants/staging/no-deny.yaml", 6, 1),
        ]
    );
    let clusters = clusters_of;
    let staging = "Flux Kustomization `flux-system/tenants` (clusters/staging/tenants.yaml)";
    let production = "Flux Kustomization `flux-system/tenants` (clusters/production/tenants.yaml)";
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(clusters(&findings[0]), [production]);
    assert_eq!(clusters(&findings[1]), [staging]);
    assert_eq!(clusters(&findings[2]), [staging]);
    // The tenant's entry is a unit per cluster, built from its rendered path.
    assert_eq!(
        findings[0]["units"][0]["name"],
        "Flux Kustomization `team/team` (tenants/base/team/sync.yaml → team/apps/production)"
    );
    assert!(findings[2]["message"]
        .as_str()
        .unwrap()
        .contains("this patch deletes NetworkPolicy `default-deny`"));
    // `replicas` sets the count, from its line.
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let render = mtk_in(dir.path(), &["render", "--format", "json", "team/apps/production"], None);
    let objects = render.json()["objects"].clone();
    let deployment =
        objects.as_array().unwrap().iter().find(|o| o["object"]["kind"] == "Deployment").unwrap();
    assert_eq!(deployment["object"]["spec"]["replicas"], 3);
    let field = deployment["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "/spec/replicas")
        .unwrap();
    assert_eq!(
        (field["file"].as_str(), field["line"].as_u64()),
        (Some("team/apps/production/kustomization.yaml"), Some(4))
    );
}

#[test]
fn only_sources_that_are_this_tree_at_this_revision_are_built() {
    let dir = tempfile::tempdir().unwrap();
    let flux = |name: &str, source: &str| {
        format!("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: {name}\n  namespace: flux-system\nspec:\n  path: ./apps\n  sourceRef: {{{source}}}\n")
    };
    let sync = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  path: ./clusters/prod\n  sourceRef: {kind: GitRepository, name: flux-system}\n";
    let git = |name: &str, branch: &str| {
        format!("apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: {name}\n  namespace: flux-system\nspec:\n  url: https://git.example.com/fleet\n  ref: {{branch: {branch}}}\n")
    };
    let (oci, other) = (
        flux("from-oci", "kind: OCIRepository, name: artifact"),
        flux("from-branch", "kind: GitRepository, name: other"),
    );
    let (own, branch) = (git("flux-system", "main"), git("other", "release"));
    write(
        dir.path(),
        &[
            ("clusters/prod/oci.yaml", oci.as_str()),
            ("clusters/prod/branch.yaml", other.as_str()),
            ("clusters/prod/sources.yaml", &format!("{own}---\n{branch}")),
            ("clusters/prod/flux-system/gotk-sync.yaml", sync),
            ("apps/kustomization.yaml", "namePrefix: built-\nresources: [cm.yaml]\n"),
            (
                "apps/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: shop\n",
            ),
        ],
    );
    // The cluster's flux-system syncs both entries, but neither is built (an artifact,
    // another branch: their files may differ from these): `apps` is a unit of its own, and its
    // ConfigMap is not two copies in one cluster.
    let run = mtk_in(dir.path(), &["--format", "json", "--select", "MTK-GEN-001", "."], None);
    let report = run.json();
    assert_eq!(report["findings"], serde_json::json!([]), "{report}");
    assert_eq!(report["errors"], serde_json::json!([]), "{report}");
    // Without the tree's own GitRepository to compare with, a source other than `flux-system`
    // may be any repository (flux2-multi-tenancy's tenants pull their own): not built either.
    let both = flux("from-other", "kind: GitRepository, name: other");
    write(
        dir.path(),
        &[
            ("clusters/prod/sources.yaml", branch.as_str()),
            ("clusters/prod/oci.yaml", both.as_str()),
        ],
    );
    let run = mtk_in(dir.path(), &["--format", "json", "--select", "MTK-GEN-001", "."], None);
    assert_eq!(run.json()["findings"], serde_json::json!([]), "{}", run.stdout);
}

#[test]
fn a_build_error_many_units_meet_is_one_error_and_remote_files_say_so() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "base/kustomization.yaml",
                "configMapGenerator:\n- name: settings\n  files:\n  - https://example.com/settings.env\n",
            ),
            ("one/kustomization.yaml", "resources: [../base]\n"),
            ("two/kustomization.yaml", "resources: [../base]\n"),
            ("three/kustomization.yaml", "resources: [../base]\n"),
        ],
    );
    let run = mtk_in(dir.path(), &["--format", "json", "."], None);
    assert_eq!(run.code, 2);
    let errors = run.json()["errors"].as_array().unwrap().clone();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        (errors[0]["file"].as_str(), errors[0]["line"].as_u64()),
        (Some("base/kustomization.yaml"), Some(4))
    );
    let message = errors[0]["message"].as_str().unwrap();
    assert!(message.contains("is remote: remote files are not fetched"), "{message}");
    assert!(message.ends_with("(and 2 more units)"), "{message}");
}

#[test]
fn a_host_two_tenants_claim_is_found_in_the_cluster_that_receives_both() {
    let dir = tempfile::tempdir().unwrap();
    let ns = |t: &str| {
        format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {t}\n  labels: {{mtk.io/tenant: {t}}}\n")
    };
    let ingress = |t: &str, host: &str| {
        format!("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\n  namespace: {t}\nspec:\n  rules:\n  - host: {host}\n")
    };
    let (ns_a, ns_b) = (ns("a"), ns("b"));
    let (in_a, in_b) = (ingress("a", "shop.example.com"), ingress("b", "b.example.com"));
    write(
        dir.path(),
        &[
            ("base-a/kustomization.yaml", "resources: [ns.yaml, ingress.yaml]\n"),
            ("base-a/ns.yaml", ns_a.as_str()),
            ("base-a/ingress.yaml", in_a.as_str()),
            ("base-b/kustomization.yaml", "resources: [ns.yaml, ingress.yaml]\n"),
            ("base-b/ns.yaml", ns_b.as_str()),
            ("base-b/ingress.yaml", in_b.as_str()),
            // Staging points tenant b's Ingress at the host tenant a has in production: two
            // clusters, no conflict. Dev deploys both tenants and points b at a's host.
            (
                "staging/kustomization.yaml",
                "resources: [../base-b]\npatches:\n- target: {kind: Ingress, namespace: b}\n  patch: |\n    - op: replace\n      path: /spec/rules/0/host\n      value: shop.example.com\n",
            ),
            ("production/kustomization.yaml", "resources: [../base-a]\n"),
            (
                "dev/kustomization.yaml",
                "resources: [../base-a, ../base-b]\npatches:\n- target: {kind: Ingress, namespace: b}\n  patch: |\n    - op: replace\n      path: /spec/rules/0/host\n      value: shop.example.com\n",
            ),
        ],
    );
    let run = mtk_in(dir.path(), &["--format", "json", "--select", "MTK-ISO-006", "."], None);
    let report = run.json();
    assert_eq!(
        locations(&report),
        [loc("MTK-ISO-006", "dev/kustomization.yaml", 7, 14)],
        "{report}"
    );
    // At the JSON 6902 value inside the inline patch, for dev only.
    assert_eq!(units(&report["findings"][0]), ["kustomization dev"]);
}

#[test]
fn entry_options_this_build_cannot_apply_are_errors_at_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: shop\n";
    let flux = |name: &str, extra: &str| {
        format!("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: {name}\n  namespace: flux-system\nspec:\n  path: ./apps\n  sourceRef: {{kind: GitRepository, name: flux-system}}\n{extra}")
    };
    let argo = |name: &str, extra: &str| {
        format!("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: {name}, namespace: argocd}}\nspec:\n  source:\n    repoURL: https://git.example.com/fleet\n    path: plain\n{extra}  destination: {{server: https://kubernetes.default.svc, namespace: shop}}\n")
    };
    let (missing, optional, component, bad_name) = (
        flux("missing", "  postBuild:\n    substituteFrom:\n    - kind: ConfigMap\n      name: absent\n"),
        flux("optional", "  postBuild:\n    substituteFrom:\n    - kind: ConfigMap\n      name: absent\n      optional: true\n"),
        flux("component", "  components:\n  - /etc/component\n"),
        flux("bad-name", "  postBuild:\n    substitute:\n      9lives: x\n"),
    );
    let (option, jsonnet) = (
        argo("option", "    kustomize:\n      forceCommonLabels: true\n"),
        argo("jsonnet", "    directory:\n      jsonnet: {}\n"),
    );
    write(
        dir.path(),
        &[
            ("clusters/a/missing.yaml", missing.as_str()),
            ("clusters/b/optional.yaml", optional.as_str()),
            ("clusters/c/component.yaml", component.as_str()),
            ("clusters/d/bad-name.yaml", bad_name.as_str()),
            ("apps/cm.yaml", cm),
            ("argo/option.yaml", option.as_str()),
            ("argo/jsonnet.yaml", jsonnet.as_str()),
            ("plain/cm.yaml", cm),
            // A file of a unit that does not parse: reported as such, and the unit too.
            ("broken/kustomization.yaml", "resources: [bad.yaml]\n"),
            ("broken/bad.yaml", "a: [\n"),
        ],
    );
    let run = mtk_in(dir.path(), &["--format", "json", "--select", "MTK-GEN-001", "."], None);
    assert_eq!(run.code, 2);
    let errors = errors(&run.json());
    let has = |file: &str, line: u64, text: &str| {
        errors.iter().any(|(f, l, _, m)| f == file && l.unwrap_or(0) == line && m.contains(text))
    };
    assert!(
        has("clusters/a/missing.yaml", 11, "ConfigMap `flux-system/absent` is not in the tree"),
        "{errors:#?}"
    );
    assert!(
        has("clusters/c/component.yaml", 10, "component paths must be local and relative"),
        "{errors:#?}"
    );
    assert!(
        has("clusters/d/bad-name.yaml", 11, "`9lives` is not a valid variable name"),
        "{errors:#?}"
    );
    assert!(
        has("argo/option.yaml", 9, "Argo CD `kustomize.forceCommonLabels` is not supported yet"),
        "{errors:#?}"
    );
    assert!(
        has("argo/jsonnet.yaml", 9, "Argo CD `directory.jsonnet` is not supported yet"),
        "{errors:#?}"
    );
    assert!(
        has("broken/bad.yaml", 0, "the file has errors (reported for it): not built"),
        "{errors:#?}"
    );
    // `optional` lets the build go on without the ConfigMap: no error for it.
    assert!(!errors.iter().any(|(f, _, _, _)| f.starts_with("clusters/b/")), "{errors:#?}");
}

/// A component nothing uses is not a unit (it is not deployed alone): its files are linted as
/// written, and what it could not do alone (a replacement whose source a kustomization using it
/// would supply) is no error.
#[test]
fn a_component_nothing_uses_is_linted_as_written() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "comp/kustomization.yaml",
                "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: [pod.yaml]\nreplacements:\n- source: {kind: ConfigMap, name: settings}\n  targets:\n  - select: {kind: Pod}\n    fieldPaths: [metadata.annotations.x]\n",
            ),
            (
                "comp/pod.yaml",
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: a\nspec:\n  containers:\n  - name: c\n    image: nginx:1.27\n    securityContext:\n      privileged: true\n",
            ),
        ],
    );
    let run = mtk_in(dir.path(), &["--format", "json", "--select", "MTK-SEC-001", "."], None);
    let report = run.json();
    assert_eq!(report["errors"], serde_json::json!([]), "{}", run.stdout);
    assert_eq!(locations(&report), [loc("MTK-SEC-001", "comp/pod.yaml", 11, 7)]);
}

/// A Flux Kustomization `flux-system/tenants` deploying `./tenants/{env}`.
fn flux_tenants(env: &str) -> String {
    format!("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: tenants\n  namespace: flux-system\nspec:\n  path: ./tenants/{env}\n  sourceRef: {{kind: GitRepository, name: flux-system}}\n")
}

/// The clusters of a finding's units.
fn clusters_of(finding: &Value) -> Vec<String> {
    let units = finding["units"].as_array().map_or(&[][..], Vec::as_slice);
    units.iter().map(|u| u["cluster"].as_str().unwrap().to_string()).collect()
}

/// Quotas are looked for in the namespace's cluster (MTK-ISO-005): production deletes the base's
/// ResourceQuota, so production's namespace has none — a finding at the deleting patch, naming
/// only production — while staging keeps it.
#[test]
fn a_quota_counts_only_in_the_clusters_that_receive_it() {
    let dir = tempfile::tempdir().unwrap();
    let (staging, production) = (flux_tenants("staging"), flux_tenants("production"));
    write(
        dir.path(),
        &[
            ("clusters/staging/tenants.yaml", staging.as_str()),
            ("clusters/production/tenants.yaml", production.as_str()),
            ("tenants/base/kustomization.yaml", "resources: [team.yaml]\n"),
            (
                "tenants/base/team.yaml",
                "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n  labels: {mtk.io/tenant: team}\n---\napiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: quota\n  namespace: team\nspec:\n  hard: {pods: '10'}\n---\napiVersion: v1\nkind: LimitRange\nmetadata:\n  name: limits\n  namespace: team\nspec:\n  limits: [{type: Container, default: {cpu: 100m}}]\n",
            ),
            ("tenants/staging/kustomization.yaml", "resources: [../base]\n"),
            ("tenants/production/kustomization.yaml", "resources: [../base]\npatches:\n- path: no-quota.yaml\n"),
            (
                "tenants/production/no-quota.yaml",
                "apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: quota\n  namespace: team\n$patch: delete\n",
            ),
        ],
    );
    let run = mtk_in(dir.path(), &["--format", "json", "--select", "MTK-ISO-005", "."], None);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert_eq!(locations(&report), [loc("MTK-ISO-005", "tenants/production/no-quota.yaml", 6, 1)]);
    let finding = &report["findings"][0];
    assert!(finding["message"].as_str().unwrap().contains("has no ResourceQuota"), "{finding}");
    assert_eq!(
        clusters_of(finding),
        ["Flux Kustomization `flux-system/tenants` (clusters/production/tenants.yaml)"]
    );
}

/// A NetworkPolicy admits the namespaces of its own cluster (MTK-NET-003): tenant `a`'s policy
/// (in both clusters) selects `env: shared` namespaces, and only production deploys tenant `b`'s
/// namespace with that label — a finding for production only.
#[test]
fn a_policy_admits_other_tenants_only_where_their_namespaces_are() {
    let dir = tempfile::tempdir().unwrap();
    let (staging, production) = (flux_tenants("staging"), flux_tenants("production"));
    write(
        dir.path(),
        &[
            ("clusters/staging/tenants.yaml", staging.as_str()),
            ("clusters/production/tenants.yaml", production.as_str()),
            ("tenants/a/kustomization.yaml", "resources: [a.yaml]\n"),
            (
                "tenants/a/a.yaml",
                "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  labels: {mtk.io/tenant: a}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: from-shared\n  namespace: a\nspec:\n  podSelector: {}\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchLabels: {env: shared}\n",
            ),
            ("tenants/b/kustomization.yaml", "resources: [b.yaml]\n"),
            ("tenants/b/b.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n  labels: {mtk.io/tenant: b, env: shared}\n"),
            ("tenants/staging/kustomization.yaml", "resources: [../a]\n"),
            ("tenants/production/kustomization.yaml", "resources: [../a, ../b]\n"),
        ],
    );
    let code = "MTK-NET-003";
    let run = mtk_in(dir.path(), &["--format", "json", "--select", code, "."], None);
    let report = run.json();
    assert_eq!(report["errors"], serde_json::json!([]), "{}", run.stdout);
    assert_eq!(locations(&report), [loc(code, "tenants/a/a.yaml", 16, 7)]);
    assert_eq!(
        clusters_of(&report["findings"][0]),
        ["Flux Kustomization `flux-system/tenants` (clusters/production/tenants.yaml)"]
    );
}

/// An Argo CD Application with several `sources` builds each one whose path is in the tree, in
/// the Application's destination namespace; a Helm chart source is another repository's.
#[test]
fn an_argo_cd_application_with_several_sources_builds_each_path() {
    let dir = tempfile::tempdir().unwrap();
    let app = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: shop, namespace: argocd}\nspec:\n  sources:\n  - {repoURL: https://charts.example.com, chart: redis, targetRevision: 1.0.0}\n  - {repoURL: https://git.example.com/fleet, path: shop/web}\n  - {repoURL: https://git.example.com/fleet, path: shop/db, kustomize: {namePrefix: db-}}\n  destination: {server: https://kubernetes.default.svc, namespace: shop}\n";
    let pod = |name: &str| {
        format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n  - name: c\n    image: nginx:1.27\n    securityContext:\n      privileged: true\n")
    };
    let (web, db, other) = (pod("web"), pod("main"), pod("other"));
    write(
        dir.path(),
        &[
            ("apps/shop.yaml", app),
            ("shop/web/pod.yaml", &web),
            ("shop/db/kustomization.yaml", "resources: [pod.yaml]\n"),
            ("shop/db/pod.yaml", &db),
            ("elsewhere/pod.yaml", &other),
        ],
    );
    let run = mtk_in(dir.path(), &["--format", "json", "--select", "MTK-SEC-001", "."], None);
    let report = run.json();
    assert_eq!(report["errors"], serde_json::json!([]), "{}", run.stdout);
    let found: Vec<(&str, &str, Vec<String>)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let ns = f["resource"]["namespace"].as_str().unwrap_or("");
            (f["resource"]["name"].as_str().unwrap(), ns, units(f))
        })
        .collect();
    assert_eq!(
        found,
        [
            ("other", "", vec![]),
            ("db-main", "shop", vec!["apps/shop.yaml".to_string()]),
            ("web", "shop", vec!["apps/shop.yaml".to_string()]),
        ],
        "{report}"
    );
}

/// Each finding's (resource name, namespace, names of the units that render it), sorted.
fn resources_and_units(report: &serde_json::Value) -> Vec<(String, String, Vec<String>)> {
    let mut found: Vec<(String, String, Vec<String>)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let mut names: Vec<String> = f["units"]
                .as_array()
                .map(|u| u.iter().map(|u| u["name"].as_str().unwrap().to_string()).collect())
                .unwrap_or_default();
            names.sort();
            (
                f["resource"]["name"].as_str().unwrap().to_string(),
                f["resource"]["namespace"].as_str().unwrap_or("").to_string(),
                names,
            )
        })
        .collect();
    found.sort();
    found
}

/// An ApplicationSet's Applications are entry points: its git directories generator makes one
/// per directory of `apps/*` (less the excluded one), each built in the namespace its template
/// gives; a list generator's elements fill the template too. `goTemplate` is an error at its
/// line, and that ApplicationSet's directories are linted as written.
#[test]
fn an_application_set_builds_the_applications_its_generators_make() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let appset = |name: &str, generator: &str, path: &str, app: &str| {
        format!("apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {{name: {name}, namespace: argocd}}\nspec:\n  generators:\n{generator}  template:\n    metadata: {{name: '{app}'}}\n    spec:\n      project: default\n      source: {{repoURL: https://git.example.com/fleet, path: '{path}'}}\n      destination: {{server: https://kubernetes.default.svc, namespace: 'team-{app}'}}\n")
    };
    let git = appset("apps", "  - git:\n      repoURL: https://git.example.com/fleet\n      revision: HEAD\n      directories:\n      - path: apps/*\n      - {path: apps/skip, exclude: true}\n", "{{path}}", "{{path.basename}}");
    let list = appset(
        "more",
        "  - list:\n      elements:\n      - {name: extra, dir: extra/site}\n",
        "{{ dir }}",
        "{{name}}",
    );
    let pod = |name: &str| {
        format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n  - name: c\n    image: nginx:1.27\n    securityContext:\n      privileged: true\n")
    };
    let (web, db, skip, extra) = (pod("web"), pod("db"), pod("skip"), pod("extra"));
    write(
        dir.path(),
        &[
            ("argocd/apps.yaml", git.as_str()),
            ("argocd/more.yaml", list.as_str()),
            ("apps/web/pod.yaml", &web),
            ("apps/db/pod.yaml", &db),
            ("apps/skip/pod.yaml", &skip),
            ("extra/site/pod.yaml", &extra),
        ],
    );
    let run = mtk_in(dir.path(), &["--format", "json", "--select", "MTK-SEC-001", "."], None);
    let report = run.json();
    assert_eq!(report["errors"], serde_json::json!([]), "{}", run.stdout);
    let found = resources_and_units(&report);
    let unit = |set: &str, app: &str| {
        vec![format!(
            "Argo CD ApplicationSet `argocd/{set}` Application `{app}` (argocd/{set}.yaml)"
        )]
    };
    assert_eq!(
        found,
        [
            ("db".to_string(), "team-db".to_string(), unit("apps", "db")),
            ("extra".to_string(), "team-extra".to_string(), unit("more", "extra")),
            ("skip".to_string(), String::new(), vec![]),
            ("web".to_string(), "team-web".to_string(), unit("apps", "web")),
        ],
        "{report}"
    );
    let go = git.replace("spec:\n  generators:", "spec:\n  goTemplate: true\n  generators:");
    write(dir.path(), &[("argocd/apps.yaml", go.as_str())]);
    let run = mtk_in(dir.path(), &["--format", "json", "--select", "MTK-SEC-001", "."], None);
    let report = run.json();
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{report}");
    assert_eq!(errors[0]["file"], "argocd/apps.yaml");
    assert_eq!(errors[0]["line"], 5);
    assert!(errors[0]["message"].as_str().unwrap().contains("`goTemplate` is not supported yet"));
}

/// The git files generator reads the files its globs match (less the excluded ones): a mapping
/// gives one Application, a list of mappings one each, from their flattened fields, the path
/// parameters and the generator's `values`.
#[test]
fn application_set_git_files_generator_fills_the_template_from_the_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let appset = "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {name: cfg, namespace: argocd}\nspec:\n  generators:\n  - git:\n      repoURL: https://git.example.com/fleet\n      revision: HEAD\n      files:\n      - path: 'clusters/**/config.*'\n      - {path: clusters/old/config.json, exclude: true}\n      values: {ns: 'team-{{team}}'}\n  template:\n    metadata: {name: '{{cluster.name}}-{{path.basename}}'}\n    spec:\n      project: default\n      source: {repoURL: https://git.example.com/fleet, path: 'apps/{{team}}'}\n      destination: {server: https://kubernetes.default.svc, namespace: '{{values.ns}}'}\n";
    let pod = |name: &str| {
        format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n  - name: c\n    image: nginx:1.27\n    securityContext:\n      privileged: true\n")
    };
    let (payments, search, legacy) = (pod("payments"), pod("search"), pod("legacy"));
    write(
        dir.path(),
        &[
            ("argocd/cfg.yaml", appset),
            ("clusters/east/config.json", r#"{"cluster": {"name": "east"}, "team": "payments"}"#),
            (
                "clusters/eu/west/config.yaml",
                "- {cluster: {name: west}, team: payments}\n- {cluster: {name: west}, team: search}\n",
            ),
            ("clusters/old/config.json", r#"{"cluster": {"name": "old"}, "team": "legacy"}"#),
            ("apps/payments/pod.yaml", &payments),
            ("apps/search/pod.yaml", &search),
            ("apps/legacy/pod.yaml", &legacy),
        ],
    );
    let run = mtk_in(dir.path(), &["--format", "json", "--select", "MTK-SEC-001", "."], None);
    let report = run.json();
    assert_eq!(report["errors"], serde_json::json!([]), "{}", run.stdout);
    let found = resources_and_units(&report);
    let unit = |app: &str| {
        format!("Argo CD ApplicationSet `argocd/cfg` Application `{app}` (argocd/cfg.yaml)")
    };
    assert_eq!(
        found,
        [
            // The excluded file's Application is not made: its directory is linted as written.
            ("legacy".to_string(), String::new(), vec![]),
            (
                "payments".to_string(),
                "team-payments".to_string(),
                vec![unit("east-east"), unit("west-west")]
            ),
            ("search".to_string(), "team-search".to_string(), vec![unit("west-west")]),
        ],
        "{report}"
    );
}

/// The clusters generator reads the tree's cluster Secrets (the local cluster only without a
/// selector), and a matrix pairs two generators: one Application per (app, selected cluster).
#[test]
fn application_set_clusters_and_matrix_generators() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let appset = "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {name: edge, namespace: argocd}\nspec:\n  generators:\n  - matrix:\n      generators:\n      - list:\n          elements: [{app: web}]\n      - clusters:\n          selector:\n            matchLabels: {env: prod}\n  template:\n    metadata: {name: '{{app}}-{{name}}'}\n    spec:\n      project: default\n      source: {repoURL: https://git.example.com/fleet, path: 'apps/{{app}}'}\n      destination: {server: '{{server}}', namespace: '{{metadata.labels.env}}-{{app}}'}\n";
    let cluster = |name: &str, env: &str| {
        format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: argocd\n  labels: {{argocd.argoproj.io/secret-type: cluster, env: {env}}}\nstringData:\n  name: {name}\n  server: https://{name}.example.com\n")
    };
    let (east, west) = (cluster("east", "prod"), cluster("west", "dev"));
    write(
        dir.path(),
        &[
            ("argocd/edge.yaml", appset),
            ("argocd/east.yaml", east.as_str()),
            ("argocd/west.yaml", west.as_str()),
            ("apps/web/pod.yaml", PRIVILEGED_WEB),
        ],
    );
    let run = mtk_in(dir.path(), &["--format", "json", "--select", "MTK-SEC-001", "."], None);
    let report = run.json();
    assert_eq!(report["errors"], serde_json::json!([]), "{}", run.stdout);
    let finding = &report["findings"][0];
    assert_eq!(report["findings"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(finding["resource"]["namespace"], "prod-web");
    assert_eq!(
        finding["units"][0]["name"],
        "Argo CD ApplicationSet `argocd/edge` Application `web-east` (argocd/edge.yaml)"
    );
}

/// What the ApplicationSet generators cannot expand is an error at the generator, naming what
/// is missing, and that ApplicationSet's directories are linted as written: a matrix of one
/// generator, a clusters selector with `matchExpressions`, a git `files` generator of files the
/// linter does not read and a generator kind mtk-lint does not know.
#[test]
fn application_set_generators_it_cannot_expand_are_errors_at_their_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let appset = |name: &str, generator: &str| {
        format!("apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {{name: {name}, namespace: argocd}}\nspec:\n  generators:\n{generator}  template:\n    metadata: {{name: '{{{{app}}}}'}}\n    spec:\n      project: default\n      source: {{repoURL: https://git.example.com/fleet, path: 'apps/{{{{app}}}}'}}\n      destination: {{server: https://kubernetes.default.svc, namespace: team}}\n")
    };
    let sets = [
        ("one", "  - matrix:\n      generators:\n      - list:\n          elements: [{app: web}]\n"),
        ("expr", "  - clusters:\n      selector:\n        matchExpressions: [{key: env, operator: In, values: [prod]}]\n"),
        ("files", "  - git:\n      repoURL: https://git.example.com/fleet\n      revision: HEAD\n      files: [{path: 'apps/*/config.txt'}]\n"),
        ("scm", "  - scmProvider:\n      github: {organization: acme}\n"),
    ];
    let files: Vec<(String, String)> =
        sets.iter().map(|(name, g)| (format!("argocd/{name}.yaml"), appset(name, g))).collect();
    let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    write(dir.path(), &files);
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: team\nspec:\n  containers:\n  - name: c\n    image: nginx:1.27\n    securityContext:\n      privileged: true\n";
    write(dir.path(), &[("apps/web/pod.yaml", pod)]);
    let run = mtk_in(dir.path(), &["--format", "json", "--select", "MTK-SEC-001", "."], None);
    assert_eq!(run.code, 2, "{}", run.stdout);
    let report = run.json();
    let errors = errors(&report);
    let has = |file: &str, line: u64, text: &str| {
        errors.iter().any(|(f, l, _, m)| f == file && l.unwrap_or(0) == line && m.contains(text))
    };
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert!(
        has("argocd/one.yaml", 7, "a matrix generator needs exactly two generators"),
        "{errors:?}"
    );
    assert!(has("argocd/expr.yaml", 7, "`matchExpressions` is not supported yet"), "{errors:?}");
    assert!(
        has("argocd/files.yaml", 7, "evaluated on the files the linter reads (.yaml, .yml, .json)"),
        "{errors:?}"
    );
    assert!(
        has(
            "argocd/scm.yaml",
            7,
            "the ApplicationSet generator `scmProvider` is not supported yet"
        ),
        "{errors:?}"
    );
    // The pod is still linted, where it is written.
    assert_eq!(locations(&report), [loc("MTK-SEC-001", "apps/web/pod.yaml", 11, 7)], "{report}");
}

/// A Helm chart in the tree that nothing deploys is rendered with its default values and its
/// objects linted: a finding points at the template line that wrote the field (the line of the
/// action for a value from `values.yaml`) and names the chart as the unit; a chart that cannot
/// be rendered is an error, and is counted as not rendered.
#[test]
fn a_chart_nothing_deploys_is_linted_as_rendered_with_its_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write("charts/web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\n");
    write("charts/web/values.yaml", "privileged: true\n");
    write(
        "charts/web/templates/deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}-web\n  namespace: shop\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n        securityContext:\n          privileged: {{ .Values.privileged }}\n        resources: {limits: {cpu: 100m, memory: 64Mi}}\n",
    );
    let run = mtk_in(dir.path(), &["--format", "json", "--select", "MTK-SEC-001", "."], None);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report = run.json();
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{report}");
    // The value came from the chart's values: the finding is at that line.
    assert_eq!(findings[0]["file"], "charts/web/values.yaml");
    assert_eq!((findings[0]["line"].as_u64(), findings[0]["column"].as_u64()), (Some(1), Some(1)));
    assert!(
        findings[0]["units"][0]["name"].as_str().unwrap().starts_with("Helm chart charts/web"),
        "{report}"
    );
    assert_eq!(report["summary"]["charts_not_rendered"], 0);
    // A chart Helm refuses: an error, and the chart is counted as not rendered.
    write("charts/web/Chart.yaml", "apiVersion: v2\nname: web\n");
    let run = mtk_in(dir.path(), &["--format", "json", "."], None);
    assert_eq!(run.code, 2, "{}", run.stdout);
    let report = run.json();
    assert!(
        report["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["message"].as_str().unwrap().contains("chart.metadata.version is required")),
        "{report}"
    );
    assert_eq!(report["summary"]["charts_not_rendered"], 1);
    // A chart whose dependencies were not fetched (`helm dependency build`) cannot render
    // offline: counted as not rendered, not an error.
    write("charts/web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\ndependencies:\n- name: redis\n  version: 1.0.0\n  repository: https://charts.example.com\n");
    let run = mtk_in(dir.path(), &["--format", "json", "."], None);
    let report = run.json();
    assert!(report["errors"].as_array().unwrap().is_empty(), "{report}");
    assert_eq!(report["summary"]["charts_not_rendered"], 1);
}

/// A Flux HelmRelease whose chart is in the tree is rendered with the values helm-controller
/// passes (chart defaults, `valuesFrom` in order, `spec.values` last), in the release's
/// namespace, and a finding on a value is at the line that supplied it: `spec.values`, the
/// ConfigMap's key, or the chart's `values.yaml`. A release whose chart comes from a chart
/// repository not in the cache is listed as not rendered (not an error, not a pass).
#[test]
fn helm_releases_render_their_chart_and_findings_point_at_the_values_line() {
    let rules = "MTK-SEC-001,MTK-SEC-006,MTK-SEC-007";
    let (dir, report) = lint_tree(
        &[
            ("charts/app/Chart.yaml", "apiVersion: v2\nname: app\nversion: 1.0.0\n"),
            ("charts/app/values.yaml", "privileged: false\nhostNetwork: true\ncaps: {add: []}\n"),
            ("charts/app/templates/deploy.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  template:\n    spec:\n      hostNetwork: {{ .Values.hostNetwork }}\n      containers:\n      - name: app\n        image: nginx:1.27\n        securityContext:\n          privileged: {{ .Values.privileged }}\n          capabilities:\n            {{- toYaml .Values.caps | nindent 12 }}\n        resources: {limits: {cpu: 100m, memory: 64Mi}}\n"),
            ("flux-system/sync.yaml", "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: flux-system, namespace: flux-system}\nspec: {url: https://example.com/fleet}\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: apps, namespace: flux-system}\nspec:\n  path: ./apps\n  sourceRef: {kind: GitRepository, name: flux-system}\n"),
            ("apps/shop.yaml", "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: web, namespace: shop}\nspec:\n  chart:\n    spec:\n      chart: ./charts/app\n      sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}\n  valuesFrom:\n  - kind: ConfigMap\n    name: web-values\n  values:\n    privileged: true\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-values, namespace: shop}\ndata:\n  values.yaml: |\n    replicas: 2\n    caps:\n      add: [NET_ADMIN]\n---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: cache, namespace: shop}\nspec:\n  chart:\n    spec:\n      chart: redis\n      version: 18.x\n      sourceRef: {kind: HelmRepository, name: bitnami}\n"),
        ],
        rules,
    );
    let found = findings_at(&report);
    assert_eq!(
        found,
        [
            // spec.values wins over the chart's `privileged: false`.
            "MTK-SEC-001 apps/shop.yaml:13 shop/web",
            // The chart's default, which no layer overrides.
            "MTK-SEC-006 charts/app/values.yaml:2 shop/web",
            // From the ConfigMap named in valuesFrom: the line in its block of values.
            "MTK-SEC-007 apps/shop.yaml:22 shop/web",
        ],
        "{report}"
    );
    let units = &report["findings"][0]["units"][0]["name"];
    assert!(units.as_str().unwrap().starts_with("Flux HelmRelease `shop/web`"), "{report}");
    // The chart a release deploys is not rendered again with its defaults alone; the release
    // whose chart is in a chart repository is listed as not rendered, with what to pull.
    assert_eq!(report["summary"]["charts_not_rendered"], 1, "{report}");
    let human = mtk_in(dir.path(), &["--select", rules, "--stats", "."], None);
    assert!(
        human.stderr.contains("chart `redis` 18.x of HelmRepository `shop/bitnami`"),
        "{}",
        human.stderr
    );
}

/// An Argo CD Application whose path source is a chart is rendered with Helm: value files
/// (`$ref/…` from a `ref` source too), `valuesObject`, `parameters`; a finding on a value is at
/// the line that supplied it, and the chart is not rendered again with its defaults alone.
#[test]
fn argo_cd_helm_sources_render_with_their_values() {
    let (_dir, report) = lint_tree(
        &[
            ("charts/app/Chart.yaml", "apiVersion: v2\nname: app\nversion: 1.0.0\n"),
            ("charts/app/values.yaml", "privileged: false\nhostNetwork: false\nhostPID: false\n"),
            ("charts/app/templates/deploy.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  template:\n    spec:\n      hostNetwork: {{ .Values.hostNetwork }}\n      hostPID: {{ .Values.hostPID }}\n      containers:\n      - name: app\n        image: nginx:1.27\n        securityContext:\n          privileged: {{ .Values.privileged }}\n        resources: {limits: {cpu: 100m, memory: 64Mi}}\n"),
            ("envs/prod.yaml", "hostNetwork: true\n"),
            ("apps/web.yaml", "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: web, namespace: argocd}\nspec:\n  project: shop\n  destination: {server: https://kubernetes.default.svc, namespace: shop}\n  sources:\n  - repoURL: https://example.com/fleet\n    path: charts/app\n    helm:\n      valueFiles: [$values/envs/prod.yaml]\n      valuesObject:\n        hostPID: true\n      parameters:\n      - name: privileged\n        value: \"true\"\n  - repoURL: https://example.com/fleet\n    ref: values\n"),
        ],
        "MTK-SEC-001,MTK-SEC-006",
    );
    let found = findings_at(&report);
    assert_eq!(
        found,
        [
            // The parameter.
            "MTK-SEC-001 apps/web.yaml:15 shop/web",
            // valuesObject.
            "MTK-SEC-006 apps/web.yaml:13 shop/web",
            // The value file the `$values` ref names.
            "MTK-SEC-006 envs/prod.yaml:1 shop/web",
        ],
        "{report}"
    );
    assert_eq!(report["summary"]["charts_not_rendered"], 0, "{report}");
}

/// Each finding of a JSON report as `RULE file:line namespace/name`, sorted.
fn findings_at(report: &serde_json::Value) -> Vec<String> {
    let mut found: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let r = &f["resource"];
            format!(
                "{} {}:{} {}/{}",
                f["rule"].as_str().unwrap(),
                f["file"].as_str().unwrap(),
                f["line"],
                r["namespace"].as_str().unwrap(),
                r["name"].as_str().unwrap()
            )
        })
        .collect();
    found.sort();
    found
}

/// Writes `files` into a new directory and lints it with `rules`: the directory and the JSON
/// report, which must have no errors.
fn lint_tree(
    files: &[(impl AsRef<std::path::Path>, impl AsRef<[u8]>)],
    rules: &str,
) -> (tempfile::TempDir, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), files);
    let run = mtk_in(dir.path(), &["--format", "json", "--select", rules, "."], None);
    let report = run.json();
    assert!(report["errors"].as_array().unwrap().is_empty(), "{report}");
    (dir, report)
}

/// Values reach the rendered objects through `with` and `range` (dot), variables, quoted
/// scalars of several actions, `printf` and `toYaml`; a finding is at the values line whatever
/// the way, the line a release set winning over a chart default the same scalar holds, and a
/// map or list whose every entry came from the values at its first entry.
#[test]
fn helm_provenance_follows_values_through_dot_variables_and_quotes() {
    let chart_values = "image:\n  repository: registry.example.com/app\n  tag: \"1.0\"\nsecurity: {}\nvolumes: []\ntoken: \"\"\n";
    let template = r#"{{- $tag := .Values.image.tag }}
apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}
stringData:
  token: {{ .Values.token | quote }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  template:
    spec:
      containers:
      - name: app
        image: "{{ .Values.image.repository }}:{{ $tag }}"
        resources: {limits: {cpu: 100m, memory: 64Mi}}
        {{- with .Values.security }}
        securityContext:
          {{- toYaml . | nindent 10 }}
        {{- end }}
      volumes:
      {{- range .Values.volumes }}
      - name: {{ .name }}
        hostPath:
          path: {{ .path }}
      {{- end }}
"#;
    let release = "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: web, namespace: shop}\nspec:\n  chart:\n    spec:\n      chart: ./charts/app\n      sourceRef: {kind: GitRepository, name: flux-system}\n  values:\n    image:\n      tag: latest\n    security:\n      privileged: true\n    volumes:\n    - name: logs\n      path: /var/log\n    token: hunter2\n";
    let (_dir, report) = lint_tree(
        &[
            ("charts/app/Chart.yaml", "apiVersion: v2\nname: app\nversion: 1.0.0\n"),
            ("charts/app/values.yaml", chart_values),
            ("charts/app/templates/app.yaml", template),
            ("apps/web.yaml", release),
        ],
        "MTK-SEC-001,MTK-SEC-002,MTK-SEC-004,MTK-SEC-005",
    );
    assert_eq!(
        findings_at(&report),
        [
            // `with .Values.security` then `toYaml .`.
            "MTK-SEC-001 apps/web.yaml:13 shop/web",
            // A `range` item's `hostPath`, whose every entry (`path`) came from the values.
            "MTK-SEC-002 apps/web.yaml:16 shop/web",
            // `"{{ .repository }}:{{ $tag }}"`: the tag the release set, through a variable.
            "MTK-SEC-004 apps/web.yaml:11 shop/web",
            // `stringData` whose every entry came from the values.
            "MTK-SEC-005 apps/web.yaml:17 shop/web",
        ],
        "{report}"
    );
}

/// A value a function changed on its way into the output — cut short by `trunc`, its case
/// changed by `lower` — still points at its values line; a short value does not match a longer
/// scalar by chance, and a template's own text stays at the template.
#[test]
fn helm_provenance_follows_values_that_functions_cut_or_recase() {
    let template = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  template:
    spec:
      containers:
      - name: app
        image: {{ printf "%s:%s" .Values.image.repository (.Values.image.tag | lower) }}
        resources: {limits: {cpu: 100m, memory: 64Mi}}
      - name: sidecar
        image: {{ printf "busybox:%stest" (.Values.sidecar | lower) }}
        resources: {limits: {cpu: 100m, memory: 64Mi}}
      volumes:
      - name: logs
        hostPath:
          path: {{ .Values.logs.path | trunc 8 }}
"#;
    let release = "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: web, namespace: shop}\nspec:\n  chart:\n    spec:\n      chart: ./charts/app\n      sourceRef: {kind: GitRepository, name: flux-system}\n  values:\n    image:\n      repository: registry.example.com/app\n      tag: LATEST\n    sidecar: LA\n    logs:\n      path: /var/log/app\n";
    let (_dir, report) = lint_tree(
        &[
            ("charts/app/Chart.yaml", "apiVersion: v2\nname: app\nversion: 1.0.0\n"),
            ("charts/app/values.yaml", "image: {}\nlogs: {}\nsidecar: \"1\"\n"),
            ("charts/app/templates/app.yaml", template),
            ("apps/web.yaml", release),
        ],
        "MTK-SEC-002,MTK-SEC-004",
    );
    assert_eq!(
        findings_at(&report),
        [
            // `trunc 8` of `/var/log/app`: the hostPath whose every entry came from the values.
            "MTK-SEC-002 apps/web.yaml:15 shop/web",
            // `lower` of `LATEST`, joined to the repository by `printf`.
            "MTK-SEC-004 apps/web.yaml:12 shop/web",
            // `busybox:latest` from `LA` and the template's `test`: two letters are too few
            // to say the value made the tag.
            "MTK-SEC-004 charts/app/templates/app.yaml:13 shop/web",
        ],
        "{report}"
    );
}

/// A Flux Kustomization a chart renders (a tenant chart's sync) is a unit of the release's
/// cluster: what it deploys is linted as built, in that cluster, deployed by the tenant's
/// Kustomization; the kustomization it reads is not also a unit of its own.
#[test]
fn a_flux_kustomization_a_chart_renders_deploys_its_path() {
    let (_dir, report) = lint_tree(
        &[
            ("charts/tenant/Chart.yaml", "apiVersion: v2\nname: tenant\nversion: 1.0.0\n"),
            (
                "charts/tenant/templates/sync.yaml",
                "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: {{ .Release.Name }}\n  namespace: {{ .Release.Namespace }}\nspec:\n  path: ./apps/{{ .Release.Name }}\n  targetNamespace: {{ .Release.Namespace }}\n  serviceAccountName: reconciler\n  sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}\n",
            ),
            ("clusters/prod/sync.yaml", "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: flux-system, namespace: flux-system}\nspec: {url: https://example.com/fleet}\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: tenants, namespace: flux-system}\nspec:\n  path: ./tenants\n  sourceRef: {kind: GitRepository, name: flux-system}\n"),
            ("tenants/shop.yaml", "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: shop, namespace: flux-system}\nspec:\n  targetNamespace: shop\n  releaseName: shop\n  chart:\n    spec:\n      chart: ./charts/tenant\n      sourceRef: {kind: GitRepository, name: flux-system}\n"),
            ("apps/shop/kustomization.yaml", "resources: [deploy.yaml]\n"),
            ("apps/shop/deploy.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n        securityContext: {privileged: true}\n        resources: {limits: {cpu: 100m, memory: 64Mi}}\n"),
        ],
        "MTK-SEC-001",
    );
    assert_eq!(findings_at(&report), ["MTK-SEC-001 apps/shop/deploy.yaml:10 shop/web"], "{report}");
    let units = report["findings"][0]["units"].as_array().unwrap();
    assert_eq!(units.len(), 1, "{report}");
    let name = units[0]["name"].as_str().unwrap();
    assert!(
        name.starts_with(
            "Flux Kustomization `shop/shop` (rendered by Flux HelmRelease `flux-system/shop`"
        ),
        "{name}"
    );
    assert!(units[0]["cluster"].as_str().unwrap().contains("clusters/prod/sync.yaml"), "{report}");
}

/// A release whose values do not meet the chart's `values.schema.json` is an error naming the
/// value (as Helm refuses it), and its files are linted as written; values that meet it render.
#[test]
fn values_that_fail_the_charts_schema_are_an_error_naming_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write("charts/app/Chart.yaml", "apiVersion: v2\nname: app\nversion: 1.0.0\n");
    write("charts/app/values.yaml", "replicas: 1\n");
    write(
        "charts/app/values.schema.json",
        r#"{"type": "object", "properties": {"replicas": {"type": "integer", "minimum": 1}}}"#,
    );
    write("charts/app/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {replicas: \"{{ .Values.replicas }}\"}\n");
    let release = |replicas: &str| {
        format!("apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {{name: app, namespace: shop}}\nspec:\n  chart:\n    spec:\n      chart: ./charts/app\n      sourceRef: {{kind: GitRepository, name: flux-system}}\n  values:\n    replicas: {replicas}\n")
    };
    write("apps/app.yaml", &release("many"));
    let run = mtk_in(dir.path(), &["--format", "json", "."], None);
    assert_eq!(run.code, 2, "{}", run.stdout);
    let report = run.json();
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{report}");
    let message = errors[0]["message"].as_str().unwrap();
    assert!(message.contains("values don't meet the specifications of the schema(s)"), "{message}");
    assert!(message.contains("app:\n- replicas: "), "{message}");
    write("apps/app.yaml", &release("3"));
    let run = mtk_in(dir.path(), &["--format", "json", "."], None);
    let report = run.json();
    assert!(report["errors"].as_array().unwrap().is_empty(), "{report}");
    // `render` refuses the same values as Helm does.
    let render = mtk_in(dir.path(), &["render", "charts/app", "--set", "replicas=0"], None);
    assert_eq!(render.code, 2, "{}", render.stdout);
    assert!(render.stderr.contains("- replicas: "), "{}", render.stderr);
}

/// A finding about something absent from a map, where a values switch turned `false` left it
/// out (`if .Values.sync.impersonate` around `serviceAccountName`), is at the line of that
/// `false`, also when the `if` trims the line before it into a deeper map's last value.
#[test]
fn a_switch_turned_off_is_where_an_absence_is_reported() {
    let template = r"apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
spec:
  interval: 10m
  decryption:
    provider: sops
  {{- if .Values.impersonate }}
  serviceAccountName: reconciler
  {{- end }}
  path: ./x
  sourceRef: {kind: GitRepository, name: other}
";
    let (_dir, report) = lint_tree(
        &[
            ("charts/c/Chart.yaml", "apiVersion: v2\nname: c\nversion: 1.0.0\n"),
            ("charts/c/values.yaml", "impersonate: true\n"),
            ("charts/c/templates/sync.yaml", template),
            ("apps/ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: t1, labels: {t: t1}}\n"),
            ("apps/release.yaml", "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: t1, namespace: t1}\nspec:\n  chart:\n    spec:\n      chart: ./charts/c\n      sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}\n  serviceAccountName: x\n  values:\n    impersonate: false\n"),
            (".mtk-lint.yaml", "tenancy:\n  tenantLabel: t\n"),
        ],
        "MTK-FLUX-001",
    );
    assert_eq!(findings_at(&report), ["MTK-FLUX-001 apps/release.yaml:11 t1/t1"], "{report}");
}

/// A release of a chart from a chart repository renders from `--chart-cache` (the newest
/// `<chart>-<version>.tgz` its version range accepts), findings at its values lines.
#[test]
fn a_chart_repository_release_renders_from_the_chart_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    for (version, image) in
        [("1.2.0", "nginx:1.25"), ("1.4.1", "{{ .Values.image }}"), ("2.0.0", "x")]
    {
        let chart = format!("apiVersion: v2\nname: web\nversion: {version}\n");
        let deploy = format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: {image}\n        resources: {{limits: {{cpu: 100m, memory: 64Mi}}}}\n");
        let tgz = crate::support::pack_tgz(&[
            ("web/Chart.yaml", &chart),
            ("web/values.yaml", "image: nginx:1.27\n"),
            ("web/templates/deploy.yaml", &deploy),
        ]);
        std::fs::write(cache.join(format!("web-{version}.tgz")), tgz).unwrap();
    }
    std::fs::create_dir_all(dir.path().join("apps")).unwrap();
    std::fs::write(
        dir.path().join("apps/web.yaml"),
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {name: charts, namespace: shop}\nspec: {url: https://charts.example.com}\n---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: web, namespace: shop}\nspec:\n  chart:\n    spec:\n      chart: web\n      version: 1.x\n      sourceRef: {kind: HelmRepository, name: charts}\n  values:\n    image: nginx:latest\n",
    )
    .unwrap();
    let args = ["--format", "json", "--select", "MTK-SEC-004", "--chart-cache", "cache", "."];
    let report = mtk_in(dir.path(), &args, None).json();
    assert!(report["errors"].as_array().unwrap().is_empty(), "{report}");
    assert_eq!(findings_at(&report), ["MTK-SEC-004 apps/web.yaml:16 shop/web"], "{report}");
    assert_eq!(report["summary"]["charts_not_rendered"], 0, "{report}");
    // Without the cache: listed as not rendered, with what to pull.
    let report =
        mtk_in(dir.path(), &["--format", "json", "--select", "MTK-SEC-004", "."], None).json();
    assert_eq!(report["findings"].as_array().unwrap().len(), 0, "{report}");
    assert_eq!(report["summary"]["charts_not_rendered"], 1, "{report}");
}

/// An Argo CD Application whose source is a chart of a chart repository renders from
/// `--chart-cache`, with value files of a `ref` source of this repository; without the cache
/// it is listed as not rendered.
#[test]
fn an_argo_cd_chart_repository_source_renders_from_the_chart_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    let tgz = crate::support::pack_tgz(&[
        ("redis/Chart.yaml", "apiVersion: v2\nname: redis\nversion: 18.2.0\n"),
        ("redis/values.yaml", "privileged: false\n"),
        ("redis/templates/sts.yaml", "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  template:\n    spec:\n      containers:\n      - name: redis\n        image: redis:7.2\n        securityContext: {privileged: {{ .Values.privileged }}}\n        resources: {limits: {cpu: 100m, memory: 64Mi}}\n"),
    ]);
    std::fs::write(cache.join("redis-18.2.0.tgz"), tgz).unwrap();
    std::fs::create_dir_all(dir.path().join("apps")).unwrap();
    std::fs::write(dir.path().join("apps/redis-values.yaml"), "privileged: true\n").unwrap();
    std::fs::write(
        dir.path().join("apps/redis.yaml"),
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: cache, namespace: argocd}\nspec:\n  project: shop\n  destination: {server: https://kubernetes.default.svc, namespace: shop}\n  sources:\n  - repoURL: https://charts.example.com\n    chart: redis\n    targetRevision: 18.x\n    helm:\n      valueFiles: [$values/apps/redis-values.yaml]\n  - repoURL: https://example.com/fleet\n    ref: values\n",
    )
    .unwrap();
    let args = ["--format", "json", "--select", "MTK-SEC-001", "--chart-cache", "cache", "."];
    let report = mtk_in(dir.path(), &args, None).json();
    assert!(report["errors"].as_array().unwrap().is_empty(), "{report}");
    assert_eq!(
        findings_at(&report),
        ["MTK-SEC-001 apps/redis-values.yaml:1 shop/cache"],
        "{report}"
    );
    let report =
        mtk_in(dir.path(), &["--format", "json", "--select", "MTK-SEC-001", "."], None).json();
    assert_eq!(report["findings"].as_array().unwrap().len(), 0, "{report}");
    assert_eq!(report["summary"]["charts_not_rendered"], 1, "{report}");
}

/// What a release's values leave out is reported at the value that does it: the `false` of a
/// switch around the chart's default deny (the namespace then has none: MTK-NET-002), and the
/// `null` that deletes the chart's default limits (MTK-SEC-003). Without them, both are there.
#[test]
fn a_switch_turned_off_or_a_null_in_a_release_is_where_what_it_leaves_out_is_reported() {
    let files = |values: &str| -> Vec<(String, String)> {
        [
            (".mtk-lint.yaml", "tenants:\n  shop:\n    namespaces: [shop]\n".to_string()),
            ("charts/tenant/Chart.yaml", "apiVersion: v2\nname: tenant\nversion: 1.0.0\n".into()),
            ("charts/tenant/values.yaml", "defaultDeny: true\nresources:\n  requests: {cpu: 50m}\n  limits: {cpu: 100m, memory: 64Mi}\n".into()),
            ("charts/tenant/templates/namespace.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {{ .Release.Namespace }}\n".into()),
            ("charts/tenant/templates/deny.yaml", "{{- if .Values.defaultDeny }}\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: default-deny\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n{{- end }}\n".into()),
            ("charts/tenant/templates/deploy.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: nginx:1.27\n          {{- with .Values.resources }}\n          resources:\n            {{- toYaml . | nindent 12 }}\n          {{- end }}\n".into()),
            ("tenants/shop.yaml", format!("apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {{name: shop, namespace: flux-system}}\nspec:\n  targetNamespace: shop\n  chart:\n    spec:\n      chart: ./charts/tenant\n      sourceRef: {{kind: GitRepository, name: flux-system}}\n  values:\n{values}")),
        ]
        .map(|(p, t)| (p.to_string(), t))
        .into()
    };
    let lint = |values: &str| {
        let files = files(values);
        let files: Vec<(&str, &str)> =
            files.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
        lint_tree(&files, "MTK-NET-002,MTK-SEC-003")
    };
    let (_dir, report) = lint("    defaultDeny: false\n    resources:\n      limits: null\n");
    assert_eq!(
        findings_at(&report),
        ["MTK-NET-002 tenants/shop.yaml:11 /shop", "MTK-SEC-003 tenants/shop.yaml:13 shop/web"],
        "{report}"
    );
    let messages: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert!(
        messages[0].contains("this value leaves the chart's NetworkPolicy `default-deny` out"),
        "{messages:?}"
    );
    let (_dir, report) = lint("    defaultDeny: true\n");
    assert_eq!(findings_at(&report), Vec::<String>::new(), "{report}");
    // Nulls that take every key of the map away: `with` skips the empty map, and the
    // container without limits is reported at the (latest) null.
    let (_dir, report) =
        lint("    defaultDeny: true\n    resources:\n      requests: null\n      limits: null\n");
    assert_eq!(findings_at(&report), ["MTK-SEC-003 tenants/shop.yaml:14 shop/web"], "{report}");
}

/// A cycle of charts: a HelmRelease whose chart renders the Flux Kustomization that applies the
/// directory holding the HelmRelease. The cluster receives each object once; so is each built
/// once (before, every round built the cycle again: eight copies, reported as duplicates).
#[test]
fn a_release_whose_chart_applies_the_release_again_is_built_once() {
    let release = "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: loop, namespace: flux-system}\nspec:\n  chart:\n    spec:\n      chart: ./charts/loop\n      sourceRef: {kind: GitRepository, name: flux-system}\n";
    let sync = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: apps, namespace: flux-system}\nspec:\n  path: ./apps\n  sourceRef: {kind: GitRepository, name: flux-system}\n";
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: team\nspec:\n  containers:\n  - name: c\n    image: nginx:1.27\n    securityContext:\n      privileged: true\n";
    let (_dir, report) = lint_tree(
        &[
            ("apps/release.yaml", release),
            ("charts/loop/Chart.yaml", "apiVersion: v2\nname: loop\nversion: 0.1.0\n"),
            ("charts/loop/templates/ks.yaml", sync),
            ("charts/loop/templates/pod.yaml", pod),
        ],
        "MTK-SEC-001,MTK-GEN-001",
    );
    assert_eq!(
        findings_at(&report),
        ["MTK-SEC-001 charts/loop/templates/pod.yaml:11 team/p"],
        "{report}"
    );
    // The release, its Kustomization and its pod.
    assert_eq!(report["summary"]["resources"], 3, "{report}");
}

/// A chart nothing deploys is rendered with its default values, and once more for each value
/// set the config names (`charts:`): a finding a set causes is at that set's values line, in a
/// unit named by it. A set naming a file that is not there stops the run at the config line.
#[test]
fn value_sets_the_config_names_render_a_chart_again() {
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  containers:\n  - name: c\n    image: nginx:1.27\n    securityContext:\n      privileged: {{ .Values.privileged }}\n";
    let files = |config: &str| {
        [
            (".mtk-lint.yaml", config.to_string()),
            ("charts/web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 1.0.0\n".into()),
            ("charts/web/values.yaml", "privileged: false\n".into()),
            ("charts/web/templates/pod.yaml", pod.into()),
            ("values/prod.yaml", "# production\nprivileged: true\n".into()),
        ]
    };
    let (_dir, report) =
        lint_tree(&files("charts:\n  charts/web: [values/prod.yaml]\n"), "MTK-SEC-001");
    assert_eq!(findings_at(&report), ["MTK-SEC-001 values/prod.yaml:2 shop/web"], "{report}");
    let unit = &report["findings"][0]["units"][0]["name"];
    assert_eq!(unit, "Helm chart charts/web (values values/prod.yaml)", "{report}");
    // Without the set: the defaults alone, which are fine.
    let (_dir, report) = lint_tree(&files("{}\n"), "MTK-SEC-001");
    assert_eq!(findings_at(&report), Vec::<String>::new(), "{report}");
    // A values file that is not there: the config is an error at its line.
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &files("charts:\n  charts/web:\n    - values/nope.yaml\n"));
    let run = mtk_in(dir.path(), &["--format", "json", "."], None);
    assert_eq!(run.code, 2, "{}", run.stdout);
    let errors = run.json()["errors"].clone();
    assert_eq!(errors[0]["file"], ".mtk-lint.yaml", "{errors}");
    assert_eq!(errors[0]["line"], 3, "{errors}");
    let message = errors[0]["message"].as_str().unwrap();
    assert!(message.contains("values file `values/nope.yaml` is not a file"), "{message}");
    // The other mistakes of the config, each at its line; and a chart the run does not hold
    // (excluded), an error of the run.
    // The tree in `repo/` of a directory that also holds `outside.yaml`.
    let run_with = |config: &str| {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        write(&repo, &files(config));
        std::fs::write(dir.path().join("outside.yaml"), "privileged: true\n").unwrap();
        let run = mtk_in(&repo, &["--format", "json", "."], None);
        (run.code, run.json()["errors"].clone())
    };
    for (config, line, wanted) in [
        ("charts:\n  values: [values/prod.yaml]\n", 2, "`values` is not a chart directory"),
        ("charts:\n  charts/web: []\n", 2, "`charts/web` names no values files"),
    ] {
        let (code, errors) = run_with(config);
        assert_eq!((code, &errors[0]["line"]), (2, &serde_json::json!(line)), "{errors}");
        assert!(errors[0]["message"].as_str().unwrap().contains(wanted), "{errors}");
    }
    let (code, errors) =
        run_with("exclude: [\"charts/**\"]\ncharts:\n  charts/web: [values/prod.yaml]\n");
    assert_eq!(code, 2, "{errors}");
    let message = errors[0]["message"].as_str().unwrap();
    assert!(message.contains("chart charts/web is not a chart of the linted tree"), "{message}");
    // A values file outside the linted tree is not read.
    let (code, errors) = run_with("charts:\n  charts/web: [../outside.yaml]\n");
    assert_eq!(code, 2, "{errors}");
    let message = errors[0]["message"].as_str().unwrap();
    assert!(message.contains("outside.yaml is outside the chart's tree"), "{message}");
}

/// A chain of ten releases, each chart rendering the HelmRelease of the next, deployed by a
/// Flux Kustomization: deeper than one pass's 8 rounds, finished by the next pass — every
/// release built, no error, the pod of the last chart found in its release.
#[test]
fn a_chain_of_releases_deeper_than_one_pass_is_built_to_its_end() {
    let release = |i: usize| {
        format!("apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {{name: r{i}, namespace: flux-system}}\nspec:\n  targetNamespace: team\n  chart:\n    spec:\n      chart: ./charts/c{i}\n      sourceRef: {{kind: GitRepository, name: flux-system}}\n")
    };
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: deep\nspec:\n  containers:\n  - name: c\n    image: nginx:1.27\n    securityContext:\n      privileged: true\n";
    let mut files: Vec<(String, String)> = vec![
        ("clusters/apps.yaml".into(), "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: apps, namespace: flux-system}\nspec:\n  path: ./apps\n  sourceRef: {kind: GitRepository, name: flux-system}\n".into()),
        ("apps/r1.yaml".into(), release(1)),
    ];
    for i in 1..=10 {
        files.push((
            format!("charts/c{i}/Chart.yaml"),
            format!("apiVersion: v2\nname: c{i}\nversion: 0.1.0\n"),
        ));
        let template = if i < 10 { release(i + 1) } else { pod.to_string() };
        files.push((format!("charts/c{i}/templates/t.yaml"), template));
    }
    let (_dir, report) = lint_tree(&files, "MTK-SEC-001");
    assert_eq!(
        findings_at(&report),
        ["MTK-SEC-001 charts/c10/templates/t.yaml:10 team/deep"],
        "{report}"
    );
    let unit = report["findings"][0]["units"][0]["name"].as_str().unwrap();
    assert!(unit.starts_with("Flux HelmRelease `flux-system/r10`"), "{unit}");
}
