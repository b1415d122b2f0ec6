//! An app of apps: a Helm chart of Argo CD Applications that nothing in the tree deploys (it is
//! applied by hand, or by a bootstrap Application of another repository). The Applications it
//! renders are units: what each deploys is built as the Application builds it, not again as a
//! kustomization or chart of its own.

use serde_json::Value;

use crate::support::{errors, mtk_in, write};

const CHART: &str = "apiVersion: v2\nname: apps\nversion: 0.1.0\n";

/// The chart's values: one Application per entry, its path the entry's name unless given.
const VALUES: &str = "\
repoURL: https://git.example.com/fleet
applications:
  - name: shop
    tool:
      kustomize:
        namePrefix: prod-
  - name: web
    tool:
      helm:
        releaseName: storefront
  - name: plain
  - name: generated
    tool:
      plugin:
        name: kasane
  - name: jsonnet
  - name: deps
";

const APPLICATIONS: &str = r#"{{- range .Values.applications }}
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {{ .name }}
  namespace: argocd
spec:
  project: default
  destination:
    server: https://kubernetes.default.svc
    namespace: {{ .namespace | default (printf "team-%s" .name) }}
  source:
    repoURL: {{ $.Values.repoURL }}
    path: {{ .path | default .name }}
    {{- with .tool }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
---
{{ end -}}
"#;

/// An empty repository (a `.git` directory marks its root).
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    dir
}

fn privileged(name: &str) -> String {
    format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n  - name: c\n    image: nginx:1.27\n    securityContext:\n      privileged: true\n")
}

const WEB_CHART: &str = "apiVersion: v2\nname: web\nversion: 1.0.0\n";
const WEB_TEMPLATE: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}-web\nspec:\n  containers:\n  - name: c\n    image: nginx:1.27\n    securityContext:\n      privileged: {{ .Values.privileged }}\n";

const DEPS_CHART: &str = "apiVersion: v2\nname: deps\nversion: 1.0.0\ndependencies:\n- name: redis\n  version: 1.0.0\n  repository: https://charts.example.com\n";

fn tree() -> tempfile::TempDir {
    let dir = repo();
    let (shop, plain) = (privileged("shop"), privileged("plain"));
    write(
        dir.path(),
        &[
            ("apps/Chart.yaml", CHART),
            ("apps/values.yaml", VALUES),
            ("apps/templates/applications.yaml", APPLICATIONS),
            ("shop/kustomization.yaml", "resources: [pod.yaml]\n"),
            ("shop/pod.yaml", &shop),
            ("web/Chart.yaml", WEB_CHART),
            ("web/values.yaml", "privileged: true\n"),
            ("web/templates/pod.yaml", WEB_TEMPLATE),
            ("plain/pod.yaml", &plain),
            ("generated/Kasanefile", "layers: []\n"),
            ("jsonnet/app.jsonnet", "{ apiVersion: 'v1', kind: 'ConfigMap' }\n"),
            // A chart whose dependency was not fetched (`helm dependency build`).
            ("deps/Chart.yaml", DEPS_CHART),
            ("deps/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"),
        ],
    );
    dir
}

/// (name, namespace, file, line, units) of each MTK-SEC-001 finding.
fn privileged_pods(report: &Value) -> Vec<(String, String, String, u64, Vec<String>)> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "MTK-SEC-001")
        .map(|f| {
            let units = f["units"].as_array().map_or_else(Vec::new, |u| {
                u.iter().map(|u| text(&u["name"])).collect::<Vec<String>>()
            });
            let (name, ns) = (text(&f["resource"]["name"]), text(&f["resource"]["namespace"]));
            (name, ns, text(&f["file"]), f["line"].as_u64().unwrap(), units)
        })
        .collect()
}

/// (name, namespace) of each MTK-SEC-001 finding, sorted.
fn pod_names(report: &Value) -> Vec<(String, String)> {
    let mut pods: Vec<(String, String)> =
        privileged_pods(report).into_iter().map(|(name, ns, ..)| (name, ns)).collect();
    pods.sort();
    pods
}

#[test]
fn the_applications_of_a_chart_nothing_deploys_are_built_with_their_own_options() {
    let dir = tree();
    let run = mtk_in(dir.path(), &["--format", "json", "--stats", "."], None);
    let report = run.json();
    let by = |app: &str| {
        format!("Argo CD Application `argocd/{app}` (rendered by Helm chart apps (default values))")
    };
    let mut pods = privileged_pods(&report);
    pods.sort();
    // Each pod once, in its Application's destination namespace, with its options (the
    // kustomize `namePrefix`, the Helm `releaseName`): not again as the kustomization `shop`
    // or the chart `web` (default values) nothing else deploys, and `plain` not as written.
    assert_eq!(
        pods,
        [
            ("plain".into(), "team-plain".into(), "plain/pod.yaml".into(), 10, vec![by("plain")]),
            ("prod-shop".into(), "team-shop".into(), "shop/pod.yaml".into(), 10, vec![by("shop")]),
            (
                "storefront-web".into(),
                "team-web".into(),
                "web/values.yaml".into(),
                1,
                vec![by("web")]
            ),
        ],
        "{report}"
    );
    // What cannot be built is an error at the line that asks for it, never a silent pass: the
    // plugin (at the chart's values line that names it) and the Jsonnet Argo CD would evaluate.
    assert_eq!(run.code, 2, "{report}");
    let found = errors(&report);
    let plugin = found.iter().find(|e| e.3.contains("plugin `kasane` is not run"));
    let plugin = plugin.unwrap_or_else(|| panic!("no plugin error: {found:?}"));
    assert_eq!((plugin.0.as_str(), plugin.1), ("apps/values.yaml", Some(14)), "{found:?}");
    let jsonnet = found.iter().find(|e| e.3.contains("`app.jsonnet`"));
    let jsonnet = jsonnet.unwrap_or_else(|| panic!("no Jsonnet error: {found:?}"));
    assert!(jsonnet.3.contains("Jsonnet is not supported yet"), "{found:?}");
    // The Application's path came from the entry's name (`default .name`).
    assert_eq!((jsonnet.0.as_str(), jsonnet.1), ("apps/values.yaml", Some(16)), "{found:?}");
    assert_eq!(found.len(), 2, "{found:?}");
    // A chart without its dependencies is not rendered, and not an error: listed once, by the
    // Application that deploys it (not again as a chart of the tree).
    assert_eq!(report["summary"]["charts_not_rendered"], 1, "{report}");
    let listed: Vec<&str> = run
        .stderr
        .lines()
        .skip_while(|l| !l.starts_with("  charts not rendered"))
        .skip(1)
        .take_while(|l| l.starts_with("    "))
        .collect();
    assert_eq!(listed.len(), 1, "{}", run.stderr);
    assert!(listed[0].contains(&by("deps")), "{}", run.stderr);
    assert!(listed[0].contains("dependencies were not fetched"), "{}", run.stderr);
    // The rendered Applications are objects of the chart's own unit (in the `default`
    // project, each reported at the template line that writes it).
    let in_default: Vec<(&str, &str)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "MTK-ARGO-001")
        .map(|f| (f["resource"]["name"].as_str().unwrap(), f["file"].as_str().unwrap()))
        .collect();
    assert_eq!(in_default.len(), 6, "{report}");
    assert!(in_default.iter().all(|(_, f)| *f == "apps/templates/applications.yaml"), "{report}");
}

/// Without the chart, the same directories are units of their own (the kustomization and the
/// chart nothing deploys) and the plain files are linted as written: the Applications are what
/// changes how they are built.
#[test]
fn without_the_app_of_apps_each_directory_is_built_on_its_own() {
    let dir = tree();
    std::fs::remove_dir_all(dir.path().join("apps")).unwrap();
    let run = mtk_in(dir.path(), &["--format", "json", "--select", "MTK-SEC-001", "."], None);
    let report = run.json();
    let pods = pod_names(&report);
    assert_eq!(
        pods,
        [
            ("plain".into(), String::new()),
            ("release-name-web".into(), String::new()),
            ("shop".into(), String::new()),
        ],
        "{report}"
    );
    assert_eq!(run.code, 1, "{report}");
}

/// A chart of one Application whose source is a chart of Applications in turn: a chart nothing
/// deploys applies `platform`, whose Helm source renders `team` (and `platform` itself
/// again, as charts that manage their own Application do). `team` is a unit too, built into
/// its destination namespace, and `platform` is built once.
#[test]
fn applications_an_applications_chart_renders_are_units_in_turn() {
    let dir = repo();
    let app = |name: &str, path: &str, namespace: &str| {
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\n  namespace: argocd\nspec:\n  project: platform\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: {namespace}\n  source:\n    repoURL: https://git.example.com/fleet\n    path: {path}\n"
        )
    };
    let platform = app("platform", "platform", "argocd");
    let team = format!("{}---\n{platform}", app("team", "team", "{{ .Values.namespace }}"));
    write(
        dir.path(),
        &[
            ("bootstrap/Chart.yaml", "apiVersion: v2\nname: bootstrap\nversion: 0.1.0\n"),
            ("bootstrap/templates/platform.yaml", &platform),
            ("platform/Chart.yaml", "apiVersion: v2\nname: platform\nversion: 0.1.0\n"),
            ("platform/values.yaml", "namespace: team-ns\n"),
            ("platform/templates/apps.yaml", &team),
            ("team/pod.yaml", &privileged("team")),
        ],
    );
    let run = mtk_in(dir.path(), &["--format", "json", "."], None);
    let report = run.json();
    let platform_unit =
        "Argo CD Application `argocd/platform` (rendered by Helm chart bootstrap (default values))";
    let team_unit = format!("Argo CD Application `argocd/team` (rendered by {platform_unit})");
    assert_eq!(
        privileged_pods(&report),
        [("team".into(), "team-ns".into(), "team/pod.yaml".into(), 10, vec![team_unit.clone()])],
        "{report}"
    );
    assert_eq!(run.code, 1, "{report}");
    // `platform` renders itself (it manages its own Application): built once, not again from
    // its own rendering; the two definitions in the one cluster are a duplicate.
    let units: Vec<Vec<&str>> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            f["units"].as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap()).collect()
        })
        .collect();
    assert!(units.iter().flatten().all(|u| *u == platform_unit || *u == team_unit), "{report}");
    let duplicates: Vec<(&str, &str)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "MTK-GEN-001")
        .map(|f| (f["resource"]["name"].as_str().unwrap(), f["file"].as_str().unwrap()))
        .collect();
    assert_eq!(duplicates, [("platform", "platform/templates/apps.yaml")], "{report}");
}

/// Applications nested deeper than the rounds there are: the first one not built is an error at
/// the line that wrote it (exit 2), never a silent skip; those above it are built.
#[test]
fn applications_nested_deeper_than_the_rounds_are_an_error_not_a_silent_skip() {
    let dir = repo();
    // Chart `c0` (nothing deploys it) renders Application `a1` of chart `c1`, which renders
    // `a2` of `c2`, … down to `c11`, which holds a privileged pod.
    let depth = 12;
    let mut files: Vec<(String, String)> = Vec::new();
    for i in 0..depth {
        files.push((
            format!("c{i}/Chart.yaml"),
            format!("apiVersion: v2\nname: c{i}\nversion: 0.1.0\n"),
        ));
        let next = i + 1;
        let app = application(&format!("a{next}"), &format!("c{next}"), &format!("ns{next}"));
        files.push((format!("c{i}/templates/app.yaml"), app));
    }
    files.push((
        format!("c{depth}/Chart.yaml"),
        format!("apiVersion: v2\nname: c{depth}\nversion: 0.1.0\n"),
    ));
    files.push((format!("c{depth}/templates/pod.yaml"), privileged("deep")));
    write(dir.path(), &files);
    let run = mtk_in(dir.path(), &["--format", "json", "."], None);
    let report = run.json();
    assert_eq!(run.code, 2, "{report}");
    let found = errors(&report);
    let deep: Vec<_> = found.iter().filter(|e| e.3.contains("nest at most")).collect();
    assert_eq!(deep.len(), 1, "{found:?}");
    assert!(deep[0].3.starts_with("Argo CD Application not built"), "{found:?}");
    assert!(deep[0].0.starts_with('c') && deep[0].0.ends_with("/templates/app.yaml"), "{found:?}");
    assert_eq!(deep[0].1, Some(1), "{found:?}");
}

/// An Application manifest for these tests: `name` deploys directory `path` into `namespace`.
fn application(name: &str, path: &str, namespace: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\n  namespace: argocd\nspec:\n  project: default\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: {namespace}\n  source:\n    repoURL: https://git.example.com/fleet\n    path: {path}\n"
    )
}

/// An app of apps that manages itself, with nothing to bootstrap it in the tree: the chart
/// `platform` renders `team` and `platform` (its own Application). `team` is built once, as
/// `platform` renders it, into its destination namespace; nothing is dropped.
#[test]
fn an_app_of_apps_that_manages_itself_builds_its_applications() {
    let dir = repo();
    let apps = format!(
        "{}---\n{}",
        application("team", "team", "team-ns"),
        application("platform", "platform", "argocd")
    );
    write(
        dir.path(),
        &[
            ("platform/Chart.yaml", "apiVersion: v2\nname: platform\nversion: 0.1.0\n"),
            ("platform/templates/apps.yaml", &apps),
            ("team/pod.yaml", &privileged("team")),
        ],
    );
    let run = mtk_in(dir.path(), &["--format", "json", "."], None);
    let report = run.json();
    let pods = privileged_pods(&report);
    assert_eq!(pods.len(), 1, "{report}");
    let (name, namespace, file, _, units) = &pods[0];
    assert_eq!(
        (name.as_str(), namespace.as_str(), file.as_str()),
        ("team", "team-ns", "team/pod.yaml")
    );
    assert_eq!(units.len(), 1, "{report}");
    assert!(units[0].starts_with("Argo CD Application `argocd/team` (rendered by "), "{units:?}");
    assert_eq!(run.code, 1, "{report}");
}

/// Two charts nothing else deploys whose Applications deploy each other: both are built (in
/// one cluster), each pod once — never both dropped.
#[test]
fn two_charts_that_deploy_each_other_are_both_built() {
    let dir = repo();
    let (app_x, app_y) = (application("x", "x", "ns-x"), application("y", "y", "ns-y"));
    write(
        dir.path(),
        &[
            ("x/Chart.yaml", "apiVersion: v2\nname: x\nversion: 0.1.0\n"),
            ("x/templates/app.yaml", &app_y),
            ("x/templates/pod.yaml", &privileged("pod-x")),
            ("y/Chart.yaml", "apiVersion: v2\nname: y\nversion: 0.1.0\n"),
            ("y/templates/app.yaml", &app_x),
            ("y/templates/pod.yaml", &privileged("pod-y")),
        ],
    );
    let run = mtk_in(dir.path(), &["--format", "json", "."], None);
    let report = run.json();
    let pods = pod_names(&report);
    assert_eq!(
        pods,
        [("pod-x".to_string(), "ns-x".to_string()), ("pod-y".to_string(), "ns-y".to_string())],
        "{report}"
    );
    assert_eq!(run.code, 1, "{report}");
}

/// An app of apps that manages itself with values of its own: the chart's defaults render the
/// Application, whose values render it anew (a different annotation). The renewal replaces
/// the first: one pod, rendered with the Application's values, and nothing applied twice.
#[test]
fn an_application_that_renders_itself_anew_replaces_the_first_rendering() {
    let dir = repo();
    let app = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: platform\n  namespace: argocd\n  annotations:\n    env: {{ .Values.env }}\nspec:\n  project: default\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: platform\n  source:\n    repoURL: https://git.example.com/fleet\n    path: platform\n    helm:\n      valuesObject:\n        env: prod\n        privileged: true\n";
    write(
        dir.path(),
        &[
            ("platform/Chart.yaml", "apiVersion: v2\nname: platform\nversion: 0.1.0\n"),
            ("platform/values.yaml", "privileged: false\nenv: default\n"),
            ("platform/templates/apps.yaml", app),
            ("platform/templates/pod.yaml", WEB_TEMPLATE),
        ],
    );
    let run = mtk_in(dir.path(), &["--format", "json", "."], None);
    let report = run.json();
    let pods = privileged_pods(&report);
    assert_eq!(pods.len(), 1, "{report}");
    assert_eq!((pods[0].0.as_str(), pods[0].1.as_str()), ("platform-web", "platform"), "{report}");
    assert_eq!(pods[0].4.len(), 1, "{report}");
    let twice = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "MTK-GEN-001")
        .count();
    assert_eq!(twice, 0, "{report}");
    assert_eq!(run.code, 1, "{report}");
}
