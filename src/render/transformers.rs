//! A kustomization's `transformers:` and `generators:`: kustomize's builtin transformer configs (`apiVersion:
//! builtin`), run in order after the kustomization's own fields. Each entry is a file (one
//! config per document), a directory whose kustomization builds the configs, or a config
//! written inline. A config becomes the kustomization field that does the same work and runs
//! through the same code, its fields keeping the config's file and lines: a finding about a
//! patched field points into the config.
//!
//! Built: `PatchTransformer`, `PatchStrategicMergeTransformer`, `PatchJson6902Transformer`,
//! `ReplacementTransformer`, and with their `fieldSpecs` (`render/fieldspec.rs`, which replace
//! kustomize's defaults) `LabelTransformer`, `AnnotationsTransformer`, `PrefixSuffixTransformer`,
//! `ImageTagTransformer`, `ReplicaCountTransformer` and `NamespaceTransformer` (with `unsetOnly`
//! and `setRoleBindingSubjects`), and `HashTransformer` (generated objects take their hash
//! suffix there). Generators: `ConfigMapGenerator`, `SecretGenerator`, `IAMPolicyGenerator`. Plugins (any other `apiVersion`) are not run: an error.

use super::disk::{show, BuildError, Result};
use super::fieldspec::{FieldSpec, Specs, Subjects};
use super::kustomize::{transform, Builder, Kustomization};
use super::tree::{TValue, Tree};
use crate::load::discover::normalize;

impl<'a> Builder<'_, 'a> {
    /// Runs the kustomization's `transformers` over the objects built so far.
    pub(super) fn transformers(
        &mut self,
        k: &Kustomization<'a>,
        out: &mut Vec<Tree<'a>>,
    ) -> Result<()> {
        for item in k.list("transformers")? {
            for (config, shown) in self.configs(k, item)? {
                let error = |node: &Tree<'a>, message: String| BuildError {
                    file: shown.clone(),
                    line: Some(node.span.start().line),
                    message,
                };
                let is = |kind: &str| {
                    config.get("apiVersion").and_then(Tree::as_str) == Some("builtin")
                        && config.get("kind").and_then(Tree::as_str) == Some(kind)
                };
                if is("HashTransformer") {
                    // Generated objects get their hash suffix now rather than at the end.
                    super::kustomize::add_hashes(out, &k.specs.name_references)
                        .map_err(|m| error(&config, m))?;
                    self.record(&config, &shown, out);
                    continue;
                }
                let (tree, mut specs) =
                    field_of(&config).map_err(|(node, m)| error(node.unwrap_or(&config), m))?;
                specs.openapi.clone_from(&k.specs.openapi);
                let synthetic = Kustomization {
                    file: config.file,
                    shown: shown.clone(),
                    dir: k.dir.clone(),
                    tree,
                    root_only: k.root_only,
                    specs,
                };
                transform(&synthetic, self.disk, out)?;
                self.record(&config, &shown, out);
            }
        }
        Ok(())
    }

    /// Records a transformer config that ran on every object, when the build asked for
    /// `transformerAnnotations` (configured in the file that holds it: the kustomization for
    /// a config written inline).
    fn record(&self, config: &Tree<'a>, shown: &str, out: &mut [Tree<'a>]) {
        if !self.metadata.transformations {
            return;
        }
        let text = |path: &[&str]| config.at(path).and_then(Tree::as_str).unwrap_or("");
        let by = [
            ("apiVersion", text(&["apiVersion"])),
            ("kind", text(&["kind"])),
            ("name", text(&["metadata", "name"])),
            ("namespace", text(&["metadata", "namespace"])),
        ];
        let configured_in = self.relative_to_top(shown);
        super::metadata::record_transformation(out, &configured_in, by, (config.file, config.span));
    }

    /// Runs the kustomization's `generators`: kustomize's builtin `ConfigMapGenerator` and
    /// `SecretGenerator` configs (named by their `name`, else their `metadata.name`), as the
    /// kustomization's own generator fields run them.
    pub(super) fn generators(
        &mut self,
        k: &Kustomization<'a>,
        out: &mut Vec<Tree<'a>>,
    ) -> Result<()> {
        for item in k.list("generators")? {
            for (config, shown) in self.configs(k, item)? {
                let error = |node: &Tree<'a>, message: String| BuildError {
                    file: shown.clone(),
                    line: Some(node.span.start().line),
                    message,
                };
                if config.get("kind").and_then(Tree::as_str) == Some("IAMPolicyGenerator") {
                    let account = iam_service_account(&config)
                        .map_err(|(node, m)| error(node.unwrap_or(&config), m))?;
                    out.push(account);
                    continue;
                }
                let tree = generator_field(&config)
                    .map_err(|(node, m)| error(node.unwrap_or(&config), m))?;
                let generating = super::generators::Generating {
                    disk: self.disk,
                    file: config.file,
                    shown: &shown,
                    dir: &k.dir,
                    kustomization: &tree,
                    root_only: k.root_only,
                    config_name: config.at(&["metadata", "name"]).and_then(Tree::as_str),
                };
                super::generators::run(&generating, out)?;
            }
        }
        Ok(())
    }

    /// The configs one `transformers` or `generators` entry holds, with how errors name their
    /// file.
    fn configs(
        &mut self,
        k: &Kustomization<'a>,
        item: &Tree<'a>,
    ) -> Result<Vec<(Tree<'a>, String)>> {
        if item.as_str().is_some_and(|text| text.contains('\n')) {
            let docs = super::patches::inline_documents(k, self.disk, item, "config")?;
            return Ok(docs.into_iter().map(|t| (t, k.shown.clone())).collect());
        }
        let Some(entry) = item.as_str() else {
            if matches!(item.value, TValue::Map(_)) {
                return Ok(vec![(item.clone(), k.shown.clone())]);
            }
            return Err(
                k.error(Some(item), "`transformers` entries must be paths or configs".into())
            );
        };
        let path = normalize(&k.dir.join(entry));
        if self.disk.real(&path).is_some() && self.disk.is_dir(&path) {
            self.disk.trail.borrow_mut().push((k.file, item.span));
            let built = self.kustomization(&path, false, Vec::new());
            self.disk.trail.borrow_mut().pop();
            return Ok(built?
                .into_iter()
                .map(|t| {
                    let shown = self.disk.shown(t.file);
                    (t, shown)
                })
                .collect());
        }
        let (path, file, docs) = k.read_named(self.disk, entry, Some(item.span.start().line))?;
        let shown = show(&path);
        Ok(docs
            .iter()
            .map(|d| Tree::from_read(d, file))
            .filter(|t| !matches!(t.value, TValue::Null))
            .map(|t| (t, shown.clone()))
            .collect())
    }
}

type Refusal<'t, 'a> = (Option<&'t Tree<'a>>, String);

/// The kustomization field that does what a builtin transformer config does, and the config's
/// field specs (which replace kustomize's defaults for it).
fn field_of<'t, 'a>(
    config: &'t Tree<'a>,
) -> std::result::Result<(Tree<'a>, Specs), Refusal<'t, 'a>> {
    let text = |key: &str| config.get(key).and_then(Tree::as_str).unwrap_or("");
    let (api, kind) = (text("apiVersion"), text("kind"));
    if api != "builtin" {
        return Err((
            config.get("apiVersion"),
            format!("`{api}` `{kind}` is a plugin: plugins are not run (only kustomize's builtin transformers are built)"),
        ));
    }
    let list = |items: Vec<Tree<'a>>| Tree {
        file: config.file,
        span: config.span,
        value: TValue::Seq(items.into()),
    };
    let mut k = Tree::map(config.file, config.span);
    let mut specs = Specs { replace: true, ..Specs::default() };
    let field_specs = || -> std::result::Result<Vec<FieldSpec>, Refusal<'_, 'a>> {
        match config.get("fieldSpecs").map(|f| &f.value) {
            None | Some(TValue::Null) => Ok(Vec::new()),
            Some(TValue::Seq(items)) => {
                items.iter().map(|i| FieldSpec::from_tree(i).map_err(|m| (Some(i), m))).collect()
            }
            Some(_) => Err((config.get("fieldSpecs"), "`fieldSpecs` must be a list".into())),
        }
    };
    // Copies a config field to the kustomization field it turns into.
    let copy = |k: &mut Tree<'a>, from: &str, to: &str, as_list: bool| {
        if let Some(value) = config.get(from) {
            let value = if as_list { list(vec![value.clone()]) } else { value.clone() };
            k.set(to, value);
        }
    };
    if let Some((field, value)) = patch_field(kind, config)? {
        k.set(field, value);
        return Ok((k, specs));
    }
    match kind {
        "ReplacementTransformer" => {
            let replacements =
                config.get("replacements").cloned().unwrap_or_else(|| list(Vec::new()));
            k.set("replacements", replacements);
        }
        "LabelTransformer" => {
            copy(&mut k, "labels", "commonLabels", false);
            specs.add("commonLabels", field_specs()?);
        }
        "AnnotationsTransformer" => {
            copy(&mut k, "annotations", "commonAnnotations", false);
            specs.add("commonAnnotations", field_specs()?);
        }
        "PrefixSuffixTransformer" | "PrefixTransformer" | "SuffixTransformer" => {
            copy(&mut k, "prefix", "namePrefix", false);
            copy(&mut k, "suffix", "nameSuffix", false);
            specs.add("namePrefix", field_specs()?);
            specs.add("nameSuffix", field_specs()?);
        }
        "ImageTagTransformer" => {
            copy(&mut k, "imageTag", "images", true);
            specs.add("images", field_specs()?);
        }
        "ReplicaCountTransformer" => {
            copy(&mut k, "replica", "replicas", true);
            specs.add("replicas", field_specs()?);
        }
        "NamespaceTransformer" => {
            if let Some(ns) = config.at(&["metadata", "namespace"]) {
                k.set("namespace", ns.clone());
            }
            specs.add("namespace", field_specs()?);
            specs.namespace.unset_only =
                config.get("unsetOnly").is_some_and(|u| u.value == TValue::Bool(true));
            specs.namespace.subjects = match config.get("setRoleBindingSubjects").map(|s| (s, s.as_str())) {
                None | Some((_, Some("" | "defaultOnly"))) => Subjects::Default,
                Some((_, Some("allServiceAccounts"))) => Subjects::ServiceAccounts,
                Some((_, Some("none"))) => Subjects::None,
                Some((node, _)) => {
                    return Err((
                        Some(node),
                        "invalid value for setRoleBindingSubjects: must be one of \"defaultOnly\", \"none\" or \"allServiceAccounts\"".into(),
                    ))
                }
            };
        }
        "SortOrderTransformer" => {
            return Err((
                config.get("kind"),
                "unable to load builtin SortOrderTransformer: kustomize refuses it in `transformers` (the kustomization's `sortOptions` orders the output)".into(),
            ))
        }
        _ => {
            return Err((
                config.get("kind"),
                format!("the builtin transformer `{kind}` is not supported yet"),
            ))
        }
    }
    Ok((k, specs))
}

/// The ServiceAccount kustomize's `IAMPolicyGenerator` makes for GKE workload identity: named
/// as `kubernetesService` says, annotated with the Google service account it may act as.
fn iam_service_account<'t, 'a>(
    config: &'t Tree<'a>,
) -> std::result::Result<Tree<'a>, Refusal<'t, 'a>> {
    if config.get("apiVersion").and_then(Tree::as_str) != Some("builtin") {
        return Err((
            config.get("apiVersion"),
            "`IAMPolicyGenerator` is a builtin: `apiVersion: builtin`".into(),
        ));
    }
    let cloud = config.get("cloud");
    if cloud.and_then(Tree::as_str) != Some("gke") {
        return Err((cloud, "`IAMPolicyGenerator`: only `cloud: gke` is supported".into()));
    }
    let needed = |path: &[&str]| {
        config
            .at(path)
            .filter(|n| n.as_str().is_some_and(|s| !s.is_empty()))
            .ok_or_else(|| (None, format!("`IAMPolicyGenerator` needs `{}`", path.join("."))))
    };
    let name = needed(&["kubernetesService", "name"])?;
    let account = needed(&["serviceAccount", "name"])?;
    let project = needed(&["serviceAccount", "projectId"])?;
    let (file, span) = (config.file, config.span);
    let mut t = Tree::map(file, span);
    t.set("apiVersion", Tree::string("v1", file, span));
    t.set("kind", Tree::string("ServiceAccount", file, span));
    let mut meta = Tree::map(file, span);
    let mut annotations = Tree::map(file, span);
    let email = format!(
        "{}@{}.iam.gserviceaccount.com",
        account.as_str().unwrap_or(""),
        project.as_str().unwrap_or("")
    );
    annotations
        .set("iam.gke.io/gcp-service-account", Tree::string(&email, account.file, account.span));
    meta.set("annotations", annotations);
    meta.set("name", name.clone());
    if let Some(ns) = config.at(&["kubernetesService", "namespace"]) {
        meta.set("namespace", ns.clone());
    }
    t.set("metadata", meta);
    Ok(t)
}

/// The kustomization generator field a builtin generator config turns into.
fn generator_field<'t, 'a>(config: &'t Tree<'a>) -> std::result::Result<Tree<'a>, Refusal<'t, 'a>> {
    let text = |key: &str| config.get(key).and_then(Tree::as_str).unwrap_or("");
    let (api, kind) = (text("apiVersion"), text("kind"));
    if api != "builtin" {
        return Err((
            config.get("apiVersion"),
            format!("`{api}` `{kind}` is a plugin: plugins are not run (only kustomize's builtin generators are built)"),
        ));
    }
    let field = match kind {
        "ConfigMapGenerator" => "configMapGenerator",
        "SecretGenerator" => "secretGenerator",
        _ => {
            return Err((
                config.get("kind"),
                format!("the builtin generator `{kind}` is not supported yet"),
            ))
        }
    };
    let mut entry = Tree::map(config.file, config.span);
    for key in ["behavior", "literals", "files", "envs", "env", "options", "type"] {
        if let Some(value) = config.get(key) {
            entry.set(key, value.clone());
        }
    }
    for key in ["name", "namespace"] {
        if let Some(value) = config.get(key).or_else(|| config.at(&["metadata", key])) {
            entry.set(key, value.clone());
        }
    }
    let mut k = Tree::map(config.file, config.span);
    k.set(
        field,
        Tree { file: config.file, span: config.span, value: TValue::Seq(vec![entry].into()) },
    );
    Ok(k)
}

/// The patch field a builtin patch transformer config turns into (`patches`,
/// `patchesStrategicMerge`, `patchesJson6902`); `None` for other kinds.
fn patch_field<'t, 'a>(
    kind: &str,
    config: &'t Tree<'a>,
) -> std::result::Result<Option<(&'static str, Tree<'a>)>, Refusal<'t, 'a>> {
    let list = |items: Vec<Tree<'a>>| Tree {
        file: config.file,
        span: config.span,
        value: TValue::Seq(items.into()),
    };
    match kind {
        "PatchTransformer" => {
            let (file_path, inline) = (config.get("path"), config.get("patch"));
            let blank =
                |t: Option<&Tree>| t.and_then(Tree::as_str).is_none_or(|s| s.trim().is_empty());
            match (blank(file_path), blank(inline)) {
                (false, false) => {
                    return Err((inline, "patch and path can't be set at the same time".into()))
                }
                (true, true) => return Err((None, "must specify one of patch and path".into())),
                _ => {}
            }
            let mut entry = Tree::map(config.file, config.span);
            for key in ["path", "patch", "target", "options"] {
                if let Some(value) = config
                    .get(key)
                    .filter(|v| !blank(Some(v)) || key == "target" || key == "options")
                {
                    entry.set(key, value.clone());
                }
            }
            Ok(Some(("patches", list(vec![entry]))))
        }
        "PatchStrategicMergeTransformer" => {
            let mut entries = Vec::new();
            match config.get("paths").map(|p| &p.value) {
                None | Some(TValue::Null) => {}
                Some(TValue::Seq(paths)) => entries.extend(paths.iter().cloned()),
                Some(_) => return Err((config.get("paths"), "`paths` must be a list".into())),
            }
            if let Some(patches) =
                config.get("patches").filter(|p| p.as_str().is_some_and(|s| !s.trim().is_empty()))
            {
                entries.push(patches.clone());
            }
            if entries.is_empty() {
                return Err((None, "empty file path and empty patch content".into()));
            }
            Ok(Some(("patchesStrategicMerge", list(entries))))
        }
        "PatchJson6902Transformer" => {
            let mut entry = Tree::map(config.file, config.span);
            let Some(target) = config.get("target") else {
                return Err((None, "must specify the target field to patch".into()));
            };
            entry.set("target", target.clone());
            match (config.get("path"), config.get("jsonOp")) {
                (Some(_), Some(op)) => {
                    return Err((Some(op), "must specify a file path or jsonOp, not both".into()))
                }
                (Some(path), None) => {
                    entry.set("path", path.clone());
                }
                (None, Some(op)) => {
                    entry.set("patch", op.clone());
                }
                (None, None) => return Err((None, "empty file path and empty jsonOp".into())),
            }
            Ok(Some(("patchesJson6902", list(vec![entry]))))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::super::kustomize::{build, tests::write, Disk};

    const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: nginx:1.27\n";

    #[test]
    fn builtin_patch_configs_run_after_the_fields_from_files_directories_and_inline() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                ("app/deploy.yaml", DEPLOY),
                (
                    "app/kustomization.yaml",
                    "resources: [deploy.yaml]\nnamePrefix: p-\ntransformers:\n- privileged.yaml\n- ../configs\n- apiVersion: builtin\n  kind: PatchJson6902Transformer\n  metadata: {name: x}\n  target: {kind: Deployment}\n  jsonOp: '[{\"op\": \"add\", \"path\": \"/spec/replicas\", \"value\": 3}]'\n",
                ),
                (
                    "app/privileged.yaml",
                    "apiVersion: builtin\nkind: PatchTransformer\nmetadata:\n  name: privileged\ntarget:\n  kind: Deployment\npatch: |-\n  - op: add\n    path: /spec/template/spec/containers/0/securityContext\n    value:\n      privileged: true\n",
                ),
                ("configs/kustomization.yaml", "resources: [labels.yaml]\n"),
                (
                    "configs/labels.yaml",
                    "apiVersion: builtin\nkind: PatchStrategicMergeTransformer\nmetadata:\n  name: labels\npatches: |-\n  apiVersion: apps/v1\n  kind: Deployment\n  metadata:\n    name: p-web\n    labels:\n      team: a\n",
                ),
            ],
        );
        let disk = Disk::new(dir.path());
        let out = build(&disk, Path::new("app")).unwrap();
        let json = out[0].to_json();
        // After `namePrefix`: the strategic merge patch names the prefixed object.
        assert_eq!(json["metadata"], json!({"name": "p-web", "labels": {"team": "a"}}));
        assert_eq!(json["spec"]["replicas"], json!(3));
        let container = &json["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["securityContext"], json!({"privileged": true}));
        // The patched field points into the config's literal block.
        let (node, origins) = out[0].clone().into_node();
        let pointer = "/spec/template/spec/containers/0/securityContext/privileged";
        let file = super::super::tree::file_at(out[0].file, &origins, pointer);
        assert_eq!(disk.shown(file), "/app/privileged.yaml");
        assert_eq!(crate::load::locate::locate(&node, pointer).start().line, 11);
    }

    #[test]
    fn plugins_and_configs_with_field_specs_are_errors_at_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let kustomization =
            |config: &str| format!("resources: [deploy.yaml]\ntransformers:\n- {config}\n");
        write(
            dir.path(),
            &[
                ("plugin/deploy.yaml", DEPLOY),
                ("plugin/kustomization.yaml", &kustomization("sed.yaml")),
                ("plugin/sed.yaml", "apiVersion: someteam.example.com/v1\nkind: SedTransformer\nmetadata:\n  name: sed\n"),
                ("prefix/deploy.yaml", DEPLOY),
                ("prefix/kustomization.yaml", &kustomization("prefix.yaml")),
                ("prefix/prefix.yaml", "apiVersion: builtin\nkind: ValueAddTransformer\nmetadata:\n  name: p\n"),
                ("both/deploy.yaml", DEPLOY),
                ("both/kustomization.yaml", &kustomization("both.yaml")),
                ("both/both.yaml", "apiVersion: builtin\nkind: PatchTransformer\nmetadata:\n  name: p\npath: x.yaml\npatch: '{}'\n"),
                ("sort/deploy.yaml", DEPLOY),
                ("sort/kustomization.yaml", &kustomization("sort.yaml")),
                ("sort/sort.yaml", "apiVersion: builtin\nkind: SortOrderTransformer\nmetadata:\n  name: s\nsortOptions: {order: fifo}\n"),
            ],
        );
        let disk = Disk::new(dir.path());
        let error = |dir: &str| build(&disk, Path::new(dir)).unwrap_err().to_string();
        assert_eq!(
            error("plugin"),
            "/plugin/sed.yaml:1: `someteam.example.com/v1` `SedTransformer` is a plugin: plugins are not run (only kustomize's builtin transformers are built)"
        );
        assert_eq!(
            error("prefix"),
            "/prefix/prefix.yaml:2: the builtin transformer `ValueAddTransformer` is not supported yet"
        );
        assert_eq!(
            error("both"),
            "/both/both.yaml:6: patch and path can't be set at the same time"
        );
        assert!(error("sort")
            .starts_with("/sort/sort.yaml:2: unable to load builtin SortOrderTransformer"));
    }

    /// A config's `fieldSpecs` replace kustomize's defaults: labels only where it says (here a
    /// custom resource's template and not the metadata), a prefix on another field, an image in
    /// a custom field, replicas of a custom kind.
    #[test]
    fn configs_with_field_specs_change_exactly_the_fields_they_name() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                (
                    "app/app.yaml",
                    "apiVersion: example.com/v1\nkind: App\nmetadata:\n  name: web\nspec:\n  size: 1\n  alias: web\n  template:\n    image: nginx:1.27\n",
                ),
                (
                    "app/kustomization.yaml",
                    "resources: [app.yaml]\ntransformers:\n- configs.yaml\n",
                ),
                (
                    "app/configs.yaml",
                    "apiVersion: builtin\nkind: LabelTransformer\nmetadata: {name: l}\nlabels: {team: a}\nfieldSpecs:\n- {kind: App, path: spec/template/labels, create: true}\n---\napiVersion: builtin\nkind: PrefixSuffixTransformer\nmetadata: {name: p}\nprefix: p-\nfieldSpecs:\n- {kind: App, path: spec/alias}\n---\napiVersion: builtin\nkind: ImageTagTransformer\nmetadata: {name: i}\nimageTag: {name: nginx, newTag: '1.28'}\nfieldSpecs:\n- {kind: App, path: spec/template/image}\n---\napiVersion: builtin\nkind: ReplicaCountTransformer\nmetadata: {name: r}\nreplica: {name: web, count: 3}\nfieldSpecs:\n- {kind: App, path: spec/size}\n",
                ),
            ],
        );
        let disk = Disk::new(dir.path());
        let out = build(&disk, Path::new("app")).unwrap();
        assert_eq!(
            out[0].to_json(),
            json!({
                "apiVersion": "example.com/v1",
                "kind": "App",
                "metadata": {"name": "web"},
                "spec": {"size": 3, "alias": "p-web", "template": {"image": "nginx:1.28", "labels": {"team": "a"}}},
            })
        );
    }

    /// `generators` configs (a file, and text written inline) generate as the generator fields
    /// do, before the components run: a component patches what they generated.
    #[test]
    fn generator_configs_generate_before_components() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                (
                    "app/kustomization.yaml",
                    "generators:\n- settings.yaml\n- |-\n  apiVersion: builtin\n  kind: SecretGenerator\n  metadata:\n    name: token\n  literals:\n  - key=abc\ncomponents: [../comp]\n",
                ),
                (
                    "app/settings.yaml",
                    "apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata:\n  name: ignored\nname: settings\nliterals:\n- mode=fast\n",
                ),
                (
                    "comp/kustomization.yaml",
                    "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches:\n- patch: |-\n    apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: settings\n    data:\n      mode: safe\n",
                ),
            ],
        );
        let disk = Disk::new(dir.path());
        let out = build(&disk, Path::new("app")).unwrap();
        let json: Vec<_> = out.iter().map(super::Tree::to_json).collect();
        assert_eq!(json[0]["kind"], "ConfigMap");
        assert!(json[0]["metadata"]["name"].as_str().unwrap().starts_with("settings-"));
        assert_eq!(json[0]["data"], json!({"mode": "safe"}));
        assert_eq!(json[1]["kind"], "Secret");
        assert!(json[1]["metadata"]["name"].as_str().unwrap().starts_with("token-"));
        assert_eq!(json[1]["data"], json!({"key": "YWJj"}));
    }

    /// A namespace transformer config: `unsetOnly` keeps namespaces already set, its field specs
    /// reach a custom field, `setRoleBindingSubjects: allServiceAccounts` moves every
    /// ServiceAccount subject, and two objects that end up the same are an error.
    #[test]
    fn namespace_configs_take_their_options() {
        let dir = tempfile::tempdir().unwrap();
        let config = "apiVersion: builtin\nkind: NamespaceTransformer\nmetadata:\n  name: n\n  namespace: team\nunsetOnly: true\nsetRoleBindingSubjects: allServiceAccounts\nfieldSpecs:\n- {kind: App, path: spec/target/namespace, create: true}\n";
        write(
            dir.path(),
            &[
                (
                    "app/objects.yaml",
                    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: kept}\n---\napiVersion: example.com/v1\nkind: App\nmetadata: {name: c}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: d}\nsubjects:\n- {kind: ServiceAccount, name: runner}\n- {kind: User, name: alice}\n",
                ),
                ("app/kustomization.yaml", "resources: [objects.yaml]\ntransformers: [ns.yaml]\n"),
                ("app/ns.yaml", config),
                (
                    "clash/objects.yaml",
                    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: other}\n",
                ),
                ("clash/kustomization.yaml", "resources: [objects.yaml]\ntransformers: [ns.yaml]\n"),
                ("clash/ns.yaml", &config.replace("unsetOnly: true", "unsetOnly: false")),
            ],
        );
        let disk = Disk::new(dir.path());
        let out: Vec<_> =
            build(&disk, Path::new("app")).unwrap().iter().map(super::Tree::to_json).collect();
        assert_eq!(out[0]["metadata"]["namespace"], "team");
        assert_eq!(out[1]["metadata"]["namespace"], "kept");
        assert_eq!(out[2]["spec"]["target"]["namespace"], "team");
        assert_eq!(
            out[3]["subjects"],
            json!([{"kind": "ServiceAccount", "name": "runner", "namespace": "team"}, {"kind": "User", "name": "alice"}])
        );
        let error = build(&disk, Path::new("clash")).unwrap_err().to_string();
        assert!(error.contains("namespace transformation produces ID conflict"), "{error}");
    }

    /// An `IAMPolicyGenerator` makes the ServiceAccount GKE workload identity uses, and a
    /// `HashTransformer` gives generated objects their hash suffix where it runs (a later
    /// transformer sees the hashed name).
    #[test]
    fn iam_policy_generator_and_hash_transformer() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                (
                    "app/kustomization.yaml",
                    "generators:\n- |-\n  apiVersion: builtin\n  kind: IAMPolicyGenerator\n  metadata: {name: g}\n  cloud: gke\n  kubernetesService: {name: runner, namespace: team}\n  serviceAccount: {name: deployer, projectId: acme}\nconfigMapGenerator:\n- name: settings\n  literals: [a=b]\ntransformers:\n- |-\n  apiVersion: builtin\n  kind: HashTransformer\n  metadata: {name: h}\n- |-\n  apiVersion: builtin\n  kind: LabelTransformer\n  metadata: {name: l}\n  labels: {hashed: 'yes'}\n  fieldSpecs: [{kind: ConfigMap, path: metadata/labels, create: true}]\n",
                ),
                ("aws/kustomization.yaml", "generators:\n- |-\n  apiVersion: builtin\n  kind: IAMPolicyGenerator\n  metadata: {name: g}\n  cloud: aws\n"),
            ],
        );
        let disk = Disk::new(dir.path());
        let out: Vec<_> =
            build(&disk, Path::new("app")).unwrap().iter().map(super::Tree::to_json).collect();
        assert_eq!(
            out[1],
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {
                "name": "runner", "namespace": "team",
                "annotations": {"iam.gke.io/gcp-service-account": "deployer@acme.iam.gserviceaccount.com"},
            }})
        );
        let name = out[0]["metadata"]["name"].as_str().unwrap();
        assert!(name.starts_with("settings-") && name.len() > "settings-".len(), "{name}");
        assert_eq!(out[0]["metadata"]["labels"], json!({"hashed": "yes"}));
        let error = build(&disk, Path::new("aws")).unwrap_err().to_string();
        assert!(error.ends_with("`IAMPolicyGenerator`: only `cloud: gke` is supported"), "{error}");
    }

    /// Builtin patch configs that kustomize refuses are refused with its words, at the
    /// kustomization; a generator's file outside the kustomization's directory is refused by
    /// the load restrictor, and read without it.
    #[test]
    fn configs_kustomize_refuses_and_generator_files_outside_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let config = |kind: &str, body: &str| {
            format!("transformers:\n- |-\n  apiVersion: builtin\n  kind: {kind}\n  metadata: {{name: p}}\n{body}")
        };
        let (neither, no_target) = (
            config("PatchTransformer", "  target: {kind: Deployment}\n"),
            config("PatchJson6902Transformer", "  jsonOp: '[]'\n"),
        );
        write(
            dir.path(),
            &[
                ("neither/kustomization.yaml", neither.as_str()),
                ("notarget/kustomization.yaml", no_target.as_str()),
                (
                    "app/kustomization.yaml",
                    "configMapGenerator:\n- name: settings\n  files: [../notes.txt]\n",
                ),
                ("notes.txt", "hello\n"),
            ],
        );
        let disk = Disk::new(dir.path());
        let error = |at: &str| build(&disk, Path::new(at)).unwrap_err().to_string();
        let refused = error("neither");
        assert!(refused.starts_with("/neither/kustomization.yaml"), "{refused}");
        assert!(refused.ends_with("must specify one of patch and path"), "{refused}");
        let refused = error("notarget");
        assert!(refused.ends_with("must specify the target field to patch"), "{refused}");
        assert_eq!(
            error("app"),
            "/app/kustomization.yaml:3: security; file '/notes.txt' is not in or below '/app' (kustomize's default load restrictor; kustomize-controller builds without it)"
        );
        let unrestricted = super::super::kustomize::build_ordered(
            &disk,
            Path::new("app"),
            &super::super::order::Order::Input,
            super::super::kustomize::Restrictor::None,
        )
        .unwrap();
        assert_eq!(unrestricted[0].to_json()["data"], json!({"notes.txt": "hello\n"}));
    }
}
