//! `mtk-lint render`: what a kustomization builds, and where each field comes from.

use serde_json::json;

use crate::support::{copy_dir, mtk_in, repo, write};

const TREE: &[(&str, &str)] = &[
    ("base/kustomization.yaml", "resources: [deploy.yaml, sa.yaml]\n"),
    (
        "base/deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      serviceAccountName: runner\n      containers:\n      - name: app\n        image: nginx:1.25\n",
    ),
    ("base/sa.yaml", "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: runner\n"),
    (
        "prod/kustomization.yaml",
        "resources: [../base]\nnamespace: prod\nnamePrefix: prod-\npatches:\n- path: privileged.yaml\n",
    ),
    (
        "prod/privileged.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        securityContext:\n          privileged: true\n",
    ),
];

#[test]
fn an_overlay_renders_with_the_source_of_every_field() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    write(dir.path(), TREE);
    // From inside the overlay: the root is the repository, so `../base` is read.
    let args = ["render", "--provenance", "--order", "input", "."];
    let run = mtk_in(&dir.path().join("prod"), &args, None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with(
            "# source: base/deploy.yaml:1\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: prod-web\n  namespace: prod\n"
        ),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("      serviceAccountName: prod-runner\n"), "{}", run.stdout);
    assert!(run.stdout.contains("\n---\n# source: base/sa.yaml:1\n"), "{}", run.stdout);
    // By default, kustomize's legacy order: the ServiceAccount before the Deployment.
    let run = mtk_in(&dir.path().join("prod"), &["render", "--provenance", "."], None);
    assert!(run.stdout.starts_with("# source: base/sa.yaml:1\n"), "{}", run.stdout);

    let run = mtk_in(dir.path(), &["render", "--format", "json", "--order", "input", "prod"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let deploy = &report["objects"][0];
    assert_eq!(deploy["source"], json!({"file": "base/deploy.yaml", "line": 1}));
    let fields = deploy["fields"].as_array().unwrap();
    let at = |path: &str| fields.iter().find(|f| f["path"] == path).cloned();
    assert_eq!(
        at("/metadata/name"),
        Some(json!({"path": "/metadata/name", "file": "prod/kustomization.yaml", "line": 3}))
    );
    assert_eq!(
        at("/spec/template/spec/containers/0/securityContext"),
        Some(json!({
            "path": "/spec/template/spec/containers/0/securityContext",
            "file": "prod/privileged.yaml",
            "line": 10
        }))
    );
}

#[test]
fn builds_that_cannot_be_rendered_are_errors_at_their_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    write(dir.path(), TREE);
    write(
        dir.path(),
        &[
            ("vars/kustomization.yaml", "resources: [../base]\nhelmCharts:\n- name: x\n"),
            ("escape/kustomization.yaml", "resources:\n- ../../outside\n"),
        ],
    );
    let run = mtk_in(dir.path(), &["render", "vars"], None);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "mtk-lint: /vars/kustomization.yaml:2: `helmCharts` is not supported yet\n"
    );
    let run = mtk_in(dir.path(), &["render", "escape"], None);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.starts_with(
            "mtk-lint: /escape/kustomization.yaml:2: `../../outside` leaves the root of the build ("
        ),
        "{}",
        run.stderr
    );
}

/// What kustomize refuses, refused at the line that causes it: an object added twice, a file
/// outside the kustomization's directory (unless `--load-restrictor LoadRestrictionsNone`, as
/// kustomize-controller builds), two kustomization files, a component of the wrong version, an
/// empty `patchesStrategicMerge` file, and a patch that names two objects (one by the name it
/// had before a rename).
#[test]
fn builds_kustomize_refuses_are_refused_at_their_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    write(dir.path(), TREE);
    let patch =
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n";
    write(
        dir.path(),
        &[
            ("twice/kustomization.yaml", "resources:\n- ../base\n- deploy.yaml\n"),
            ("twice/deploy.yaml", TREE[1].1),
            ("common/patch.yaml", patch),
            ("outside/kustomization.yaml", "resources: [../base]\npatches:\n- path: ../common/patch.yaml\n"),
            ("two/kustomization.yaml", "resources: []\n"),
            ("two/kustomization.yml", "resources: []\n"),
            ("comp/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Component\n"),
            ("usescomp/kustomization.yaml", "resources: [../base]\ncomponents: [../comp]\n"),
            ("empty/kustomization.yaml", "resources: [../base]\npatchesStrategicMerge:\n- empty.yaml\n"),
            ("empty/empty.yaml", "# nothing\n"),
            ("renamed/deploy.yaml", TREE[1].1),
            ("renamed/kustomization.yaml", "resources: [deploy.yaml]\npatches:\n- target: {kind: Deployment}\n  patch: '[{\"op\": \"replace\", \"path\": \"/metadata/name\", \"value\": \"web2\"}]'\n"),
            ("ambiguous/kustomization.yaml", "resources: [../base, ../renamed]\nnameSuffix: -x\npatches:\n- path: patch.yaml\n"),
            ("ambiguous/patch.yaml", patch),
        ],
    );
    let render = |args: &[&str]| mtk_in(dir.path(), args, None);
    let refused = |args: &[&str], want: &str| {
        let run = render(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stdout);
        assert_eq!(run.stderr, format!("mtk-lint: {want}\n"), "{args:?}");
    };
    refused(
        &["render", "twice"],
        "/twice/kustomization.yaml:3: may not add resource with an already registered id: Deployment.v1.apps/web.[noNs] (`deploy.yaml` adds it again)",
    );
    refused(
        &["render", "outside"],
        "/outside/kustomization.yaml:3: security; file '/common/patch.yaml' is not in or below '/outside' (kustomize's default load restrictor; kustomize-controller builds without it)",
    );
    let run = render(&["render", "--load-restrictor", "LoadRestrictionsNone", "outside"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("  replicas: 2\n"), "{}", run.stdout);
    // A Flux Kustomization builds it as kustomize-controller does: no error for that unit.
    let flux = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: outside\n  namespace: flux-system\nspec:\n  path: ./outside\n  sourceRef: {kind: GitRepository, name: flux-system}\n";
    write(dir.path(), &[("clusters/prod/outside.yaml", flux)]);
    let run = render(&["--format", "json", "."]);
    let errors: Vec<String> =
        run.json()["errors"].as_array().unwrap().iter().map(|e| e["file"].to_string()).collect();
    assert!(errors.iter().any(|f| f.contains("twice/")), "{errors:?}");
    assert!(!errors.iter().any(|f| f.contains("outside/")), "{errors:?}");
    refused(&["render", "two"], "/two: Found multiple kustomization files under: /two");
    refused(
        &["render", "usescomp"],
        "/comp/kustomization.yaml:1: apiVersion for Component should be kustomize.config.k8s.io/v1alpha1",
    );
    refused(
        &["render", "empty"],
        "/empty/kustomization.yaml:3: the patch is empty (it has no document)",
    );
    refused(
        &["render", "ambiguous"],
        "/ambiguous/kustomization.yaml:4: 2 resources match the patch of `web`: it is ambiguous",
    );
}

/// `render --unit` prints what one unit of the tree renders: the example's production entry
/// brings its patch's `privileged: true` and `:latest`, staging its own tag; a name no unit
/// has, or one several have, is an error that lists them.
#[test]
fn one_unit_renders_as_the_lint_builds_it() {
    let example = repo().join("examples/overlays");
    let render =
        |unit: &str| mtk_in(&example, &["render", "--unit", unit, "--provenance", "."], None);
    let production = render("bad/clusters/production");
    assert_eq!(production.code, 0, "{}", production.stderr);
    assert!(production.stdout.contains("image: registry.example.com/shop/web:latest\n"));
    assert!(production.stdout.contains("privileged: true\n"));
    assert!(production.stdout.contains("# source: bad/apps/base/shop/deployment.yaml:1\n"));
    let staging = render("bad/clusters/staging");
    assert_eq!(staging.code, 0, "{}", staging.stderr);
    assert!(!staging.stdout.contains("privileged"), "{}", staging.stdout);
    assert!(staging.stdout.contains("image: registry.example.com/shop/web:1.5.0-rc.1\n"));
    let unknown = render("nothing");
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.starts_with(
            "mtk-lint: no build unit is called `nothing`; the units are: Flux Kustomization"
        ),
        "{}",
        unknown.stderr
    );
    let several = render("production");
    assert_eq!(several.code, 2);
    assert!(
        several.stderr.starts_with("mtk-lint: `production` names 2 units: "),
        "{}",
        several.stderr
    );
}

/// Inputs the render fuzz target found (NUL-separated files, as the target reads them): each
/// builds, or fails with an error, and what it builds is written as YAML that reads back as
/// the same data.
#[test]
fn render_fuzz_regressions_stay_fixed() {
    use mtk_lint::render::{emit, kustomize, tree};
    let paths = [
        "kustomization.yaml",
        "base/kustomization.yaml",
        "base/a.yaml",
        "patch.yaml",
        "base/b.env",
    ];
    let dir = crate::support::repo().join("fuzz/regressions/render");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = String::from_utf8(std::fs::read(&path).unwrap()).unwrap();
        let files = paths.iter().zip(text.split('\0')).map(|(p, t)| (p.into(), t.to_string()));
        let limits = mtk_lint::load::Limits::default();
        let disk = kustomize::Disk::in_memory(files.collect(), limits);
        seen += 1;
        let Ok(objects) = kustomize::build(&disk, std::path::Path::new(".")) else { continue };
        let written = emit::yaml(&objects, None);
        let back = tree::parse_stream_trees(&written, &limits);
        let want: Vec<_> = objects.iter().map(tree::Tree::to_json).collect();
        let got: Vec<_> = back.iter().map(tree::Tree::to_json).collect();
        assert_eq!(got, want, "{}", path.display());
    }
    assert!(seen >= 2, "no regression inputs in {}", dir.display());
}

/// A build reads nothing outside its root: not through a symbolic link, and no file that is not
/// a regular file (a FIFO would block the read forever).
#[test]
fn builds_never_read_through_links_leaving_the_root_or_special_files() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.yaml"), "apiVersion: v1\nkind: Secret\n").unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    write(dir.path(), TREE);
    write(
        dir.path(),
        &[
            ("link/kustomization.yaml", "resources: [secret.yaml]\n"),
            ("fifo/kustomization.yaml", "resources: [../base]\npatches:\n- path: pipe.yaml\n"),
            (
                "badtarget/kustomization.yaml",
                "resources: [../base]\npatches:\n- patch: '[]'\n  target: {name: '('}\n",
            ),
        ],
    );
    std::os::unix::fs::symlink(
        outside.path().join("secret.yaml"),
        dir.path().join("link/secret.yaml"),
    )
    .unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(dir.path().join("fifo/pipe.yaml"))
        .status()
        .unwrap();
    assert!(made.success());
    let run = mtk_in(dir.path(), &["render", "link"], None);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "mtk-lint: /link/secret.yaml: a symbolic link leads outside the root of the build: not read\n"
    );
    let run = mtk_in(dir.path(), &["render", "fifo"], None);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "mtk-lint: /fifo/kustomization.yaml:3: /fifo/pipe.yaml: not a regular file: not read\n"
    );
    let run = mtk_in(dir.path(), &["render", "badtarget"], None);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.starts_with(
            "mtk-lint: /badtarget/kustomization.yaml:4: target `name`: regex parse error"
        ),
        "{}",
        run.stderr
    );
}

/// `render --unit` finds the units `check` finds: with the tree's config, so a cluster entry
/// the config excludes is no unit.
#[test]
fn one_unit_is_found_with_the_trees_config() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("examples/overlays"), dir.path());
    let render = |unit: &str| mtk_in(dir.path(), &["render", "--unit", unit, "."], None);
    assert_eq!(render("bad/clusters/staging").code, 0);
    std::fs::write(dir.path().join(".mtk-lint.yaml"), "exclude: [bad/clusters/staging]\n").unwrap();
    let excluded = render("bad/clusters/staging");
    assert_eq!(excluded.code, 2, "{}", excluded.stdout);
    assert!(excluded.stderr.contains("no build unit is called"), "{}", excluded.stderr);
    assert_eq!(render("bad/clusters/production").code, 0);
}

/// `render --gotemplate FILE --data FILE.json` executes one Go template: output as Go writes it,
/// and an error (exit 2) worded as Go words it, with the template's name, line and column.
#[test]
fn a_go_template_renders_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pod.tpl"),
        "name: {{ .name }}\n{{- range $i, $p := .ports }}\n- {{ $i }}: {{ printf \"%05d\" $p }}{{ end }}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("data.json"), r#"{"name": "web", "ports": [80, 443]}"#).unwrap();
    let run =
        mtk_in(dir.path(), &["render", "--gotemplate", "pod.tpl", "--data", "data.json"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "name: web\n- 0: 00080\n- 1: 00443\n");
    std::fs::write(dir.path().join("bad.tpl"), "a\n{{ .name.first }}").unwrap();
    let run =
        mtk_in(dir.path(), &["render", "--gotemplate", "bad.tpl", "--data", "data.json"], None);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stderr.contains("template: bad.tpl:2:3: executing \"bad.tpl\" at <.name.first>: can't evaluate field first in type string"),
        "{}",
        run.stderr
    );
    let run = mtk_in(dir.path(), &["render", "--gotemplate", "pod.tpl", "--data", "pod.tpl"], None);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("cannot read pod.tpl as JSON"), "{}", run.stderr);
    // The functions a chart's templates have: sprig's and Helm's, helpers defined in the file.
    std::fs::write(
        dir.path().join("helpers.tpl"),
        "{{- define \"app.name\" }}{{ .name | upper | trunc 2 }}{{ end -}}\n{{ include \"app.name\" . }} {{ \"a\" | sha256sum | trunc 8 }} {{ dict \"k\" .name | toYaml }}\n",
    )
    .unwrap();
    let run =
        mtk_in(dir.path(), &["render", "--gotemplate", "helpers.tpl", "--data", "data.json"], None);
    assert_eq!((run.code, run.stdout.as_str()), (0, "WE ca978112 k: web\n"), "{}", run.stderr);
}

/// `render [NAME] CHART` renders a Helm chart as `helm template` does: values from the chart,
/// `-f` and `--set`; subcharts with their part of the values, enabled by their `condition`, a
/// library chart's definitions used but its templates not rendered, imported values; manifests
/// in Helm's kind order with `# Source:` headers, hooks last, NOTES.txt not written, CRDs first
/// with `--include-crds`.
#[test]
fn a_helm_chart_renders_as_helm_template_renders_it() {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write("web/Chart.yaml", "apiVersion: v2\nname: web\nversion: 1.2.3\ndependencies:\n- name: cache\n  version: 0.1.0\n  condition: cache.enabled\n  import-values:\n  - child: exported\n    parent: fromCache\n- name: lib\n  version: 0.1.0\n- name: extra\n  version: 0.1.0\n  condition: extra.enabled\n");
    write("web/values.yaml", "replicas: 2\nimage: {repository: nginx, tag: \"1.27\"}\ncache: {enabled: true}\nextra: {enabled: false}\n");
    write(
        "web/templates/_helpers.tpl",
        "{{- define \"web.name\" -}}{{ .Release.Name }}-{{ .Chart.Name }}{{- end -}}\n",
    );
    write("web/templates/deployment.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ include \"web.name\" . }}\n  labels: {{- include \"lib.labels\" . | nindent 4 }}\nspec:\n  replicas: {{ .Values.replicas }}\n  template:\n    spec:\n      containers:\n      - name: web\n        image: {{ .Values.image.repository }}:{{ .Values.image.tag }}\n        env:\n        - name: FROM_CACHE\n          value: {{ .Values.fromCache.port | quote }}\n");
    write(
        "web/templates/sa.yaml",
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {{ include \"web.name\" . }}\n",
    );
    write("web/templates/hook.yaml", "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n    helm.sh/hook: pre-install\n");
    write("web/templates/NOTES.txt", "Thanks for installing {{ .Chart.Name }}.\n");
    write("web/crds/crd.yaml", "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: things.example.com\n");
    write("web/charts/cache/Chart.yaml", "apiVersion: v2\nname: cache\nversion: 0.1.0\n");
    write("web/charts/cache/values.yaml", "port: 6379\nexported: {port: 6379}\n");
    write("web/charts/cache/templates/svc.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}-cache\nspec:\n  ports:\n  - port: {{ .Values.port }}\n");
    write(
        "web/charts/lib/Chart.yaml",
        "apiVersion: v2\nname: lib\nversion: 0.1.0\ntype: library\n",
    );
    write("web/charts/lib/templates/_labels.tpl", "{{- define \"lib.labels\" -}}\napp: {{ .Chart.Name }}\nversion: {{ .Chart.Version | quote }}\n{{- end -}}\n");
    write(
        "web/charts/lib/templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: never\n",
    );
    write("web/charts/extra/Chart.yaml", "apiVersion: v2\nname: extra\nversion: 0.1.0\n");
    write(
        "web/charts/extra/templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: disabled\n",
    );
    write("prod.yaml", "replicas: 5\n");
    let run = mtk_in(
        dir.path(),
        &["render", "shop", "web", "-f", "prod.yaml", "--set", "image.tag=1.28", "--include-crds"],
        None,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let want = "---\n# Source: web/crds/crd.yaml\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: things.example.com\n---\n# Source: web/templates/sa.yaml\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: shop-web\n---\n# Source: web/charts/cache/templates/svc.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: shop-cache\nspec:\n  ports:\n  - port: 6379\n---\n# Source: web/templates/deployment.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop-web\n  labels:\n    app: web\n    version: \"1.2.3\"\nspec:\n  replicas: 5\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.28\n        env:\n        - name: FROM_CACHE\n          value: \"6379\"\n---\n# Source: web/templates/hook.yaml\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n    helm.sh/hook: pre-install\n";
    assert_eq!(run.stdout, want);
    // A chart Helm refuses is an error (exit 2) naming it.
    write("bad/Chart.yaml", "apiVersion: v2\nname: bad\nversion: 0.1.0\ntype: app\n");
    let run = mtk_in(dir.path(), &["render", "bad"], None);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("chart.metadata.type must be application or library"),
        "{}",
        run.stderr
    );
    // A template that does not render says which and where.
    write("web/templates/broken.yaml", "x: {{ .Values.nope.deeper }}\n");
    let run = mtk_in(dir.path(), &["render", "web"], None);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("web/templates/broken.yaml:1:6")
            && run.stderr.contains("nil pointer evaluating interface {}.deeper"),
        "{}",
        run.stderr
    );
}

/// A subchart packed as `helm dependency build` packs it (`charts/NAME-VERSION.tgz`) is read
/// from the archive, and a packed chart renders on its own.
#[test]
fn a_subchart_packed_as_tgz_renders() {
    use crate::support::pack_tgz as pack;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("app/charts")).unwrap();
    std::fs::create_dir_all(dir.path().join("app/templates")).unwrap();
    std::fs::write(
        dir.path().join("app/Chart.yaml"),
        "apiVersion: v2\nname: app\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("app/templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ include \"packed.name\" . }}\n",
    )
    .unwrap();
    let archive = pack(&[
        ("packed/Chart.yaml", "apiVersion: v2\nname: packed\nversion: 0.1.0\n"),
        ("packed/values.yaml", "port: 8080\n"),
        ("packed/templates/_name.tpl", "{{ define \"packed.name\" }}from-archive{{ end }}"),
        ("packed/templates/svc.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: packed\nspec:\n  ports:\n  - port: {{ .Values.port }}\n"),
    ]);
    std::fs::write(dir.path().join("app/charts/packed-0.1.0.tgz"), archive).unwrap();
    let run = mtk_in(dir.path(), &["render", "app"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "---\n# Source: app/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-archive\n---\n# Source: app/charts/packed/templates/svc.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: packed\nspec:\n  ports:\n  - port: 8080\n"
    );
    // The packed chart renders on its own too.
    std::fs::write(
        dir.path().join("alone.tgz"),
        pack(&[
            ("packed/Chart.yaml", "apiVersion: v2\nname: packed\nversion: 0.1.0\n"),
            ("packed/templates/x.yaml", "a: 1\n"),
        ]),
    )
    .unwrap();
    let run = mtk_in(dir.path(), &["render", "alone.tgz"], None);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "---\n# Source: packed/templates/x.yaml\na: 1\n"),
        "{}",
        run.stderr
    );
}

/// Helm's value flags: `--set` with an escaped comma, `--set-string`, `--set-json`,
/// `--set-file`; `-f` files first, later flags win.
#[test]
fn helm_value_flags_set_what_helm_sets() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("c/templates")).unwrap();
    std::fs::write(dir.path().join("c/Chart.yaml"), "apiVersion: v2\nname: c\nversion: 0.1.0\n")
        .unwrap();
    std::fs::write(
        dir.path().join("c/templates/cm.yaml"),
        "a: {{ .Values.a | quote }}\nb: {{ kindOf .Values.b }}\nc: {{ kindOf .Values.c }}\nd: {{ .Values.d.x }}\ne: {{ .Values.e | trim }}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("e.txt"), "from a file\n").unwrap();
    let run = mtk_in(
        dir.path(),
        &[
            "render",
            "c",
            "--set",
            "a=x\\,y,b=5",
            "--set-string",
            "c=5",
            "--set-json",
            "d={\"x\":[1,2]}",
            "--set-file",
            "e=e.txt",
        ],
        None,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "---\n# Source: c/templates/cm.yaml\na: \"x,y\"\nb: int\nc: string\nd: [1 2]\ne: from a file\n");
}

/// A key written twice in a chart's output, or in what `fromYaml` reads, is no error to Helm:
/// `helm template` (3.17) prints the template as written and installs the last value. The
/// chart renders, and the lint reads its objects with the last value.
#[test]
fn a_key_written_twice_in_a_chart_is_read_as_helm_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            ("ch/Chart.yaml", "apiVersion: v2\nname: ch\nversion: 0.1.0\n"),
            (
                "ch/templates/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  annotations:\n    a: \"1\"\n    a: \"2\"\ndata:\n  x: {{ fromYaml \"k: 1\\nk: 2\" | toJson | quote }}\n",
            ),
        ],
    );
    let run = mtk_in(dir.path(), &["render", "ch"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let want = "---\n# Source: ch/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  annotations:\n    a: \"1\"\n    a: \"2\"\ndata:\n  x: \"{\\\"k\\\":2}\"\n";
    assert_eq!(run.stdout, want);
    let run = mtk_in(dir.path(), &["ch", "--format", "json", "--fail-on", "never"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["summary"]["errors"], json!(0), "{report}");
    assert_eq!(report["summary"]["resources"], json!(1), "{report}");
    // Output that is not YAML is still Helm's error, and `fromYaml` of it gives its `Error`.
    let bad_value = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  x: {{ fromYaml \"k: [\" | toJson | quote }}\n";
    write(dir.path(), &[("ch/templates/cm.yaml", bad_value)]);
    let run = mtk_in(dir.path(), &["render", "ch"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let error = "x: \"{\\\"Error\\\":\\\"error converting YAML to JSON: yaml: line ";
    assert!(run.stdout.contains(error), "{}", run.stdout);
    write(dir.path(), &[("ch/templates/bad.yaml", "a: [\n")]);
    let run = mtk_in(dir.path(), &["render", "ch"], None);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stderr.contains("YAML parse error on ch/templates/bad.yaml"), "{}", run.stderr);
    let run = mtk_in(dir.path(), &["ch", "--format", "json", "--fail-on", "never"], None);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let errors = run.json()["errors"].to_string();
    assert!(errors.contains("YAML parse error on ch/templates/bad.yaml"), "{errors}");
}
