//! `helm template`: a chart rendered with a release's values and written as Helm writes it —
//! each document under `---` and `# Source: <template>`, manifests in Helm's install order by
//! kind, then hooks; `NOTES.txt` rendered but not written; CRDs from `crds/` first when asked.

use crate::pointer::Pointer as _;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::rc::Rc;

use super::chart::process;
use super::engine::{render_traced, Chart, Options as EngineOptions};
use crate::render::gotemplate::value::Object;
use crate::render::gotemplate::Value;

/// What `helm template`'s flags set.
#[derive(Clone, Debug)]
#[allow(clippy::struct_excessive_bools, reason = "helm template's flags, one each")]
pub struct Options {
    pub release_name: String,
    pub namespace: String,
    /// `--kube-version` (`v1.20.0` when not given, as Helm's test builds report).
    pub kube_version: String,
    pub api_versions: Vec<String>,
    pub include_crds: bool,
    pub skip_tests: bool,
    pub no_hooks: bool,
    pub is_upgrade: bool,
    /// `--show-only` patterns (paths below the chart's name).
    pub show_only: Vec<String>,
    /// `--name-template`: the release name, rendered from this template.
    pub name_template: Option<String>,
    /// The user's values (`-f`, `--set`, … merged).
    pub values: Value,
    /// Record what each template action read of the values (for provenance).
    pub record_reads: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            release_name: "release-name".into(),
            namespace: "default".into(),
            kube_version: "v1.20.0".into(),
            api_versions: Vec::new(),
            include_crds: false,
            skip_tests: false,
            no_hooks: false,
            is_upgrade: false,
            show_only: Vec::new(),
            name_template: None,
            values: Value::map(BTreeMap::new()),
            record_reads: false,
        }
    }
}

/// `.Capabilities.APIVersions`: `Has "apps/v1"` (or `"apps/v1/Deployment"`).
#[derive(Debug)]
struct ApiVersions(Vec<String>);

impl Object for ApiVersions {
    fn type_name(&self) -> &'static str {
        "chartutil.VersionSet"
    }

    fn field(&self, _: &str) -> Option<Value> {
        None
    }

    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        (name == "Has").then(|| {
            let wanted = args.first().and_then(Value::as_str).unwrap_or("");
            Ok(Value::Bool(self.0.iter().any(|v| v == wanted)))
        })
    }

    fn print(&self) -> String {
        format!("[{}]", self.0.join(" "))
    }
}

fn capabilities(options: &Options) -> Value {
    let version = if options.kube_version.starts_with('v') {
        options.kube_version.clone()
    } else {
        format!("v{}", options.kube_version)
    };
    let mut parts = version.trim_start_matches('v').split('.');
    let (major, minor) =
        (parts.next().unwrap_or("1").to_string(), parts.next().unwrap_or("0").to_string());
    let api = api_versions(&options.api_versions);
    let kube: BTreeMap<String, Value> = [
        ("Version", Value::string(&version)),
        ("Major", Value::string(&major)),
        ("Minor", Value::string(&minor)),
        ("GitVersion", Value::string(&version)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let helm: BTreeMap<String, Value> = [("Version", Value::string("v3.17.0"))]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    Value::map(
        [
            ("KubeVersion".to_string(), Value::map(kube)),
            ("APIVersions".to_string(), Value::Object(api)),
            ("HelmVersion".to_string(), Value::map(helm)),
        ]
        .into_iter()
        .collect(),
    )
}

/// The API versions `.Capabilities.APIVersions` holds: the built-in ones and `extra`. Made
/// once per thread and set of extra versions (a fleet's releases all ask for the same).
fn api_versions(extra: &[String]) -> Rc<ApiVersions> {
    thread_local! {
        static MADE: std::cell::RefCell<Vec<(Vec<String>, Rc<ApiVersions>)>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }
    MADE.with_borrow_mut(|made| {
        if let Some((_, known)) = made.iter().find(|(asked, _)| asked.as_slice() == extra) {
            return Rc::clone(known);
        }
        // Helm's default set is client-go's scheme: the aggregator's and the CRD API are not
        // in it.
        let mut api: Vec<String> = crate::kinds::builtins()
            .filter(|k| !matches!(k.group, "apiregistration.k8s.io" | "apiextensions.k8s.io"))
            .flat_map(|k| {
                let gv = if k.group.is_empty() {
                    k.version.to_string()
                } else {
                    format!("{}/{}", k.group, k.version)
                };
                [format!("{gv}/{}", k.kind), gv]
            })
            .chain(extra.iter().cloned())
            .collect();
        api.sort();
        api.dedup();
        let api = Rc::new(ApiVersions(api));
        // A few sets at most in a run; more are made afresh.
        if made.len() < 8 {
            made.push((extra.to_vec(), Rc::clone(&api)));
        }
        api
    })
}

/// Helm's install order of kinds; others after them, by name.
const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// One document of the output.
struct Document {
    source: String,
    kind: String,
    text: String,
    hook: Option<String>,
}

/// Splits a rendered file into documents as Helm 3 does (`(?:^|\s*\n)---\s*`, each trimmed);
/// a document that is not YAML is Helm's error.
fn documents(source: &str, text: &str) -> Result<Vec<Document>, String> {
    let mut out = Vec::new();
    let mut pieces: Vec<String> = Vec::new();
    let mut current = String::new();
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_end();
        if trimmed.starts_with("---") && trimmed[3..].trim().is_empty() {
            pieces.push(std::mem::take(&mut current));
            continue;
        }
        current.push_str(line);
    }
    pieces.push(current);
    for piece in pieces {
        let doc = piece.trim();
        if doc.is_empty() {
            continue;
        }
        let parsed = crate::load::yaml::parse_stream(doc, &crate::load::Limits::default());
        if let Some(p) = parsed.first_problem_but_duplicate_keys() {
            return Err(format!(
                "YAML parse error on {source}: error converting YAML to JSON: yaml: line {}: {}",
                p.pos.line, p.message
            ));
        }
        let root = parsed.documents.first().map(|d| d.root.to_json()).unwrap_or_default();
        let kind = root.get("kind").and_then(serde_json::Value::as_str).unwrap_or("").to_string();
        let hook = root
            .at("/metadata/annotations/helm.sh~1hook")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string);
        out.push(Document { source: source.to_string(), kind, text: doc.to_string(), hook });
    }
    Ok(out)
}

/// Where Helm installs a kind: its place in Helm's install order, unknown kinds last by name.
pub(super) fn kind_rank(kind: &str) -> (usize, String) {
    match INSTALL_ORDER.iter().position(|k| *k == kind) {
        Some(i) => (i, String::new()),
        None => (INSTALL_ORDER.len(), kind.to_string()),
    }
}

/// Renders `chart` as `helm template` does, or says why Helm would fail.
pub fn template(chart: Chart, options: &Options) -> Result<String, String> {
    let (chart, _, rendered) = release(chart, options)?;
    let rendered: BTreeMap<String, String> =
        rendered.into_iter().map(|(k, w)| (k, w.text)).collect();
    output(&chart, &rendered, options)
}

/// The chart's dependencies processed and each template rendered for the release the options
/// describe: the values they were given, what each template wrote, and which template node
/// wrote each part.
pub fn release(
    chart: Chart,
    options: &Options,
) -> Result<(Chart, Value, BTreeMap<String, crate::render::gotemplate::Written>), String> {
    let (chart, values) = process(chart, &options.values)?;
    super::schema::validate(&chart, &values)?;
    let name = match &options.name_template {
        Some(t) => crate::render::gotemplate::render(
            "name-template",
            t,
            &Value::Nil,
            &super::funcs::shared(),
        )
        .map_err(|e| e.message)?,
        None => options.release_name.clone(),
    };
    let release: BTreeMap<String, Value> = [
        ("Name", Value::string(&name)),
        ("Namespace", Value::string(&options.namespace)),
        ("IsInstall", Value::Bool(!options.is_upgrade)),
        ("IsUpgrade", Value::Bool(options.is_upgrade)),
        ("Revision", Value::Int(1)),
        ("Service", Value::string("Helm")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let top: BTreeMap<String, Value> = [
        ("Values".to_string(), values.clone()),
        ("Release".to_string(), Value::map(release)),
        ("Capabilities".to_string(), capabilities(options)),
    ]
    .into_iter()
    .collect();
    let engine = EngineOptions { record_reads: options.record_reads, ..EngineOptions::default() };
    let rendered = render_traced(&chart, &Value::map(top), &super::funcs::shared(), engine)?;
    Ok((chart, values, rendered))
}

/// `helm template`'s output of what the templates wrote.
fn output(
    chart: &Chart,
    rendered: &BTreeMap<String, String>,
    options: &Options,
) -> Result<String, String> {
    let mut manifests = Vec::new();
    let mut hooks = Vec::new();
    for (path, text) in rendered {
        if path.ends_with("NOTES.txt") {
            continue;
        }
        for doc in documents(path, text)? {
            if let Some(hook) = &doc.hook {
                if options.no_hooks
                    || (options.skip_tests && hook.split(',').any(|h| h.trim().starts_with("test")))
                {
                    continue;
                }
                hooks.push(doc);
            } else {
                manifests.push(doc);
            }
        }
    }
    manifests.sort_by_key(|d| kind_rank(&d.kind));
    hooks.sort_by_key(|d| kind_rank(&d.kind));
    let mut out = String::new();
    if options.include_crds {
        out.push_str(&crds(chart, chart.name()));
    }
    for d in manifests.iter().chain(&hooks) {
        let _ = writeln!(out, "---\n# Source: {}\n{}", d.source, d.text);
    }
    if !options.show_only.is_empty() {
        return show_only(&out, &options.show_only);
    }
    Ok(out)
}

/// The CRDs of the chart and its subcharts, as written (`# Source: <chart>/crds/<file>`).
fn crds(chart: &Chart, path: &str) -> String {
    let mut out = String::new();
    for (name, text) in &chart.files {
        if name.starts_with("crds/") && super::chart::has_extension(name, &["yaml", "yml", "json"])
        {
            let _ = writeln!(out, "---\n# Source: {path}/{name}\n{}", text.trim_end());
        }
    }
    for sub in &chart.dependencies {
        out.push_str(&crds(sub, &format!("{path}/charts/{}", sub.name())));
    }
    out
}

/// `--show-only`: the documents whose template (below the chart's name) matches a pattern, in
/// the order of the patterns; a pattern that matches nothing is an error.
fn show_only(out: &str, patterns: &[String]) -> Result<String, String> {
    let docs: Vec<(&str, &str)> = out
        .split("---\n# Source: ")
        .filter(|d| !d.is_empty())
        .filter_map(|d| d.split_once('\n'))
        .collect();
    let mut result = String::new();
    for pattern in patterns {
        let glob = globset::GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|e| e.to_string())?
            .compile_matcher();
        let mut found = false;
        for (source, body) in &docs {
            let below = source.split_once('/').map_or(*source, |(_, rest)| rest);
            if glob.is_match(below) {
                found = true;
                let _ = write!(result, "---\n# Source: {source}\n{body}");
            }
        }
        if !found {
            return Err(format!("could not find template {pattern} in chart"));
        }
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The versions are made once per thread and set of extra versions: a release that asks
    /// for more gets them, and one that asks for none afterwards does not.
    #[test]
    fn api_versions_are_kept_per_set_of_extra_versions() {
        let has = |api: &ApiVersions, v: &str| api.0.iter().any(|a| a == v);
        let plain = api_versions(&[]);
        assert!(has(&plain, "apps/v1/Deployment") && !has(&plain, "example.com/v1"));
        let extra = api_versions(&["example.com/v1".to_string()]);
        assert!(has(&extra, "example.com/v1") && has(&extra, "apps/v1"));
        let again = api_versions(&[]);
        assert!(!has(&again, "example.com/v1"));
        assert!(Rc::ptr_eq(&plain, &again), "made again instead of kept");
    }
}
