//! Field specs: which fields of which kinds a kustomize transformer changes (`group`,
//! `version`, `kind` select objects, `path` names the field, `create` adds it when missing).
//! kustomize's defaults for each transformer are below as data; a kustomization's
//! `configurations` and a transformer config's `fieldSpecs` add to or replace them.
//!
//! A path is split on `/` (`\/` escapes one); a list on the way is walked element by element
//! (`containers[]` says so, and never creates); a missing field is created only when the spec
//! says `create` and the transformer creates (labels, annotations and replicas do, prefixes and
//! images do not). A path through a scalar is an error, as in kustomize.

use std::borrow::Cow;

use super::tree::{Fields, Items, TValue, Tree};
use super::view::{Shape, View};
use crate::kinds;
use crate::load::source::Span;

/// One field spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct FieldSpec {
    pub group: Cow<'static, str>,
    pub version: Cow<'static, str>,
    pub kind: Cow<'static, str>,
    pub path: Cow<'static, str>,
    pub create: bool,
}

/// Field specs a kustomization's transformers use besides kustomize's defaults (its
/// `configurations`), or instead of them (a transformer config's `fieldSpecs`), by the name
/// configs give the transformer (`commonLabels`, `namePrefix`, `images`, …).
#[derive(Clone, Debug, Default)]
pub(super) struct Specs {
    pub by_name: Vec<(String, Vec<FieldSpec>)>,
    /// The specs replace the defaults (a transformer config).
    pub replace: bool,
    /// More fields that name objects of a kind (`nameReference`): they follow a rename.
    pub name_references: Vec<NameReference>,
    /// The options of a namespace transformer config.
    pub namespace: NamespaceOptions,
    /// The schema strategic merge patches use (`openapi`), once a kustomization set one.
    pub openapi: Option<super::openapi::OpenApi>,
}

/// How a namespace transformer config sets namespaces.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct NamespaceOptions {
    /// Only fields that are empty (or absent) are set.
    pub unset_only: bool,
    /// Which subjects of RoleBindings and ClusterRoleBindings take the namespace.
    pub subjects: Subjects,
}

/// `setRoleBindingSubjects`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Subjects {
    /// `defaultOnly` (kustomize's default): subjects named `default`.
    #[default]
    Default,
    /// `allServiceAccounts`.
    ServiceAccounts,
    /// `none`.
    None,
}

/// Fields that name objects of `kind` (and `group`, where set).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct NameReference {
    pub group: String,
    pub kind: String,
    pub fields: Vec<FieldSpec>,
}

impl Specs {
    /// The specs the transformer `name` uses.
    pub(super) fn of(&self, name: &str) -> Vec<FieldSpec> {
        let own = self.by_name.iter().filter(|(n, _)| n == name).flat_map(|(_, s)| s.iter());
        if self.replace {
            return own.cloned().collect();
        }
        let own: Vec<FieldSpec> = own.cloned().collect();
        let mut all = defaults(name);
        merge(&mut all, &own);
        // kustomize's defaults alone swallow nothing (a test says so): only a kustomization's
        // own specs can make it drop one.
        if !own.is_empty() {
            swallow(&mut all);
        }
        all
    }

    /// Adds specs for the transformer `name`.
    pub(super) fn add(&mut self, name: &str, specs: Vec<FieldSpec>) {
        self.by_name.push((name.to_string(), specs));
    }

    /// Adds the specs of a kustomization the build included (kustomize merges the
    /// configurations of everything accumulated).
    pub(super) fn extend(&mut self, more: &Specs) {
        self.by_name.extend(more.by_name.iter().cloned());
        for r in &more.name_references {
            if !self.name_references.contains(r) {
                self.name_references.push(r.clone());
            }
        }
    }
}

/// The field specs a `crds` file gives (kustomize's reading of OpenAPI definitions of custom
/// types, `{NAME: {Schema: {properties}}}`): for each type with `kind`, `apiVersion` and
/// `metadata` (its kind is the last dot-separated part of its name), fields marked
/// `x-kubernetes-annotation` take `commonAnnotations`, `x-kubernetes-label-selector`
/// `commonLabels`, `x-kubernetes-identity` the name prefix and suffix, and
/// `x-kubernetes-object-ref-kind` fields name an object of that kind (its `name`, or the
/// `x-kubernetes-object-ref-name-key` field) that follows its renames; `$ref`s are followed.
pub(super) fn crds(t: &Tree<'_>) -> Result<Specs, String> {
    let json = t.to_json();
    let Some(types) = json.as_object() else {
        return Err("a crds file must map type names to their OpenAPI definitions".into());
    };
    let properties =
        |name: &str| types.get(name)?.get("Schema")?.get("properties")?.as_object().cloned();
    let mut specs = Specs::default();
    for name in types.keys() {
        let Some(top) = properties(name) else { continue };
        if !["kind", "apiVersion", "metadata"].iter().all(|k| top.contains_key(*k)) {
            continue;
        }
        let kind = name.rsplit('.').next().unwrap_or(name).to_string();
        // (type name, path) to visit; `$ref`s are followed a few levels deep.
        let mut stack: Vec<(String, Vec<String>)> = vec![(name.clone(), Vec::new())];
        while let Some((type_name, path)) = stack.pop() {
            if path.len() > 16 {
                continue;
            }
            let Some(props) = properties(&type_name) else { continue };
            for (prop, schema) in &props {
                let mut here = path.clone();
                here.push(prop.clone());
                let spec = |path: &[String]| FieldSpec {
                    group: Cow::Borrowed(""),
                    version: Cow::Borrowed(""),
                    kind: Cow::Owned(kind.clone()),
                    path: Cow::Owned(path.join("/")),
                    create: false,
                };
                let ext = |key: &str| schema.get(key).and_then(serde_json::Value::as_str);
                if ext("x-kubernetes-annotation").is_some() {
                    specs.add("commonAnnotations", vec![spec(&here)]);
                }
                if ext("x-kubernetes-label-selector").is_some() {
                    specs.add("commonLabels", vec![spec(&here)]);
                }
                if ext("x-kubernetes-identity").is_some() {
                    specs.add("namePrefix", vec![spec(&here)]);
                    specs.add("nameSuffix", vec![spec(&here)]);
                }
                if let (Some(_), Some(referred)) = (
                    ext("x-kubernetes-object-ref-api-version"),
                    ext("x-kubernetes-object-ref-kind"),
                ) {
                    let mut field = here.clone();
                    field.push(
                        ext("x-kubernetes-object-ref-name-key").unwrap_or("name").to_string(),
                    );
                    specs.name_references.push(NameReference {
                        group: String::new(),
                        kind: referred.to_string(),
                        fields: vec![spec(&field)],
                    });
                }
                if let Some(reference) = ext("$ref") {
                    stack.push((reference.to_string(), here));
                }
            }
        }
    }
    Ok(specs)
}

/// A list of field specs in a config.
fn spec_list<'t, 'a>(node: &'t Tree<'a>) -> Result<Vec<FieldSpec>, (&'t Tree<'a>, String)> {
    match &node.value {
        TValue::Null => Ok(Vec::new()),
        TValue::Seq(items) => {
            items.iter().map(|i| FieldSpec::from_tree(i).map_err(|m| (i, m))).collect()
        }
        _ => Err((node, "field specs must be a list".into())),
    }
}

/// The field specs a `configurations` file gives (kustomize's transformer config: `namePrefix`,
/// `nameSuffix`, `commonLabels`, `templateLabels`, `volumeClaimTemplateLabels`,
/// `commonAnnotations`, `namespace`, `images`, `replicas`, `labels` (for every `labels` entry),
/// `nameReference`, `varReference`).
pub(super) fn configurations<'t, 'a>(t: &'t Tree<'a>) -> Result<Specs, (&'t Tree<'a>, String)> {
    let mut specs = Specs::default();
    let TValue::Map(fields) = &t.value else {
        return Err((t, "a configurations file must be a mapping".into()));
    };
    for f in fields {
        match f.key.as_str() {
            "namePrefix"
            | "nameSuffix"
            | "commonLabels"
            | "templateLabels"
            | "volumeClaimTemplateLabels"
            | "commonAnnotations"
            | "namespace"
            | "images"
            | "replicas"
            | "labels" => specs.add(&f.key, spec_list(&f.value)?),
            "varReference" => specs.add("varReference", spec_list(&f.value)?),
            "nameReference" => {
                let TValue::Seq(items) = &f.value.value else {
                    return Err((&f.value, "`nameReference` must be a list".into()));
                };
                for item in items {
                    let text = |key: &str| item.get(key).and_then(Tree::as_str).unwrap_or("");
                    let fields = item.get("fieldSpecs").map_or(Ok(Vec::new()), spec_list)?;
                    specs.name_references.push(NameReference {
                        group: text("group").to_string(),
                        kind: text("kind").to_string(),
                        fields,
                    });
                }
            }
            other => {
                return Err((
                    &f.value,
                    format!("`{other}` in a configurations file is not supported yet"),
                ))
            }
        }
    }
    Ok(specs)
}

/// What a transformer creates where a spec with `create` finds no field.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Create {
    /// Nothing (prefixes, suffixes, images).
    Never,
    /// A mapping (labels, annotations).
    Map,
    /// An empty scalar for the setter to fill (replicas).
    Scalar,
}

type Setter<'s, 'a> = dyn FnMut(&mut Tree<'a>) -> Result<(), String> + 's;

impl FieldSpec {
    fn of(row: &Row) -> FieldSpec {
        let (group, version, kind, path, create) = *row;
        FieldSpec {
            group: Cow::Borrowed(group),
            version: Cow::Borrowed(version),
            kind: Cow::Borrowed(kind),
            path: Cow::Borrowed(path),
            create,
        }
    }

    /// A spec written in a config (`{path, group, version, kind, create}`).
    pub(super) fn from_tree(t: &Tree) -> Result<FieldSpec, String> {
        let text = |key: &str| t.get(key).and_then(Tree::as_str).unwrap_or("").to_string();
        let path = text("path");
        if path.is_empty() {
            return Err("a field spec needs a `path`".into());
        }
        Ok(FieldSpec {
            group: text("group").into(),
            version: text("version").into(),
            kind: text("kind").into(),
            path: path.into(),
            create: t.get("create").is_some_and(|c| c.value == TValue::Bool(true)),
        })
    }

    /// Whether the spec applies to an object of this group, version and kind.
    pub(super) fn selects(&self, (group, version, kind): (&str, &str, &str)) -> bool {
        (self.kind.is_empty() || self.kind == kind)
            && (self.group.is_empty() || self.group == group)
            && (self.version.is_empty() || self.version == version)
    }

    /// Whether the spec applies to the object.
    pub(super) fn selects_object(&self, t: &Tree) -> bool {
        self.selects(gvk(t))
    }
}

/// The object's group, version and kind (read without making its loaded fields trees).
pub(super) fn gvk<'t>(t: &'t Tree<'_>) -> (&'t str, &'t str, &'t str) {
    let object = View::Tree(t);
    let text = |key: &str| object.field(key).and_then(|(_, v)| v.as_str()).unwrap_or("");
    let (group, version) = kinds::split_api_version(text("apiVersion"));
    (group, version, text("kind"))
}

/// [`FieldSpec::apply`] for every spec, in order.
pub(super) fn apply_all<'a>(
    specs: &[FieldSpec],
    t: &mut Tree<'a>,
    (create, at): (Create, (u32, Span)),
    set: &mut Setter<'_, 'a>,
) -> Result<(), String> {
    let (group, version, kind) = gvk(t);
    let chosen: Vec<&FieldSpec> =
        specs.iter().filter(|s| s.selects((group, version, kind))).collect();
    for spec in chosen {
        // A leading `/` is dropped (`/` alone names the empty field: an error).
        let path = spec.path.strip_prefix('/').unwrap_or(&spec.path);
        let create = if spec.create { create } else { Create::Never };
        walk(t, Some(path), (create, at), set)
            .map_err(|m| format!("field spec `{}`: {m}", spec.path))?;
    }
    Ok(())
}

/// The fields the specs that select `t` reach, as paths of indexes (of list items and mapping
/// fields) appended to `out` in the order [`apply_all`] sets them without creating anything —
/// found by reading, so that what they pass through stays as loaded. `Err` when that walk
/// would change the object or refuse it (an empty `name[]` it makes a list, a scalar on the
/// way, an empty field name): only [`apply_all`] can say how.
pub(super) fn reached(
    specs: &[FieldSpec],
    t: &Tree<'_>,
    out: &mut Vec<Vec<usize>>,
) -> Result<(), ()> {
    let chosen = gvk(t);
    let mut at = Vec::new();
    for spec in specs.iter().filter(|s| s.selects(chosen)) {
        let path = spec.path.strip_prefix('/').unwrap_or(&spec.path);
        find(View::Tree(t), Some(path), &mut at, out)?;
    }
    Ok(())
}

/// [`walk`] without creating or changing anything, reading.
fn find(
    v: View<'_, '_>,
    path: Option<&str>,
    at: &mut Vec<usize>,
    out: &mut Vec<Vec<usize>>,
) -> Result<(), ()> {
    let Some(remaining) = path else {
        out.push(at.clone());
        return Ok(());
    };
    let (part, rest) = next_part(remaining);
    match v.shape() {
        Shape::Null => Ok(()),
        Shape::Seq(items) => {
            for (i, item) in items.enumerate() {
                at.push(i);
                find(item, path, at, out)?;
                at.pop();
            }
            Ok(())
        }
        Shape::Map(mut fields) => {
            let (name, is_seq) = field_part(&part).map_err(|_| ())?;
            let Some((i, (_, field))) = fields.by_ref().enumerate().find(|(_, (k, _))| *k == name)
            else {
                return Ok(());
            };
            if is_seq && matches!(field.shape(), Shape::Null) {
                return Err(());
            }
            at.push(i);
            find(field, rest, at, out)?;
            at.pop();
            Ok(())
        }
        Shape::Scalar(_) => Err(()),
    }
}

/// The first part of a spec's path and what follows it (`None`: it was the last part): parts
/// are split at `/`, `\/` escaping one. Borrowed from the path when nothing is escaped: specs
/// are walked for every object, and splitting them into vectors was most of that work.
fn next_part(path: &str) -> (Cow<'_, str>, Option<&str>) {
    // A byte loop: parts are a few bytes long, too short for `str::find` to pay its setup.
    let Some(end) = path.bytes().position(|b| b == b'/') else {
        return (Cow::Borrowed(path), None);
    };
    if !path[..end].ends_with('\\') {
        return (Cow::Borrowed(&path[..end]), Some(&path[end + 1..]));
    }
    let mut part = path[..end].to_string();
    let mut end = end;
    while part.ends_with('\\') {
        part.pop();
        part.push('/');
        let rest = &path[end + 1..];
        let Some(next) = rest.find('/') else {
            part.push_str(rest);
            return (Cow::Owned(part), None);
        };
        part.push_str(&rest[..next]);
        end += 1 + next;
    }
    (Cow::Owned(part), Some(&path[end + 1..]))
}

/// A part of a spec's path that names a field: the field's name, and whether it is written
/// `name[]` (a list). An empty name is refused.
fn field_part(part: &str) -> Result<(&str, bool), String> {
    let (name, is_seq) = match part.strip_suffix("[]") {
        Some(name) => (name, true),
        None => (part, false),
    };
    if name.is_empty() {
        return Err("cannot set or create an empty field name".into());
    }
    Ok((name, is_seq))
}

fn walk<'a>(
    t: &mut Tree<'a>,
    path: Option<&str>,
    (create, at): (Create, (u32, Span)),
    set: &mut Setter<'_, 'a>,
) -> Result<(), String> {
    let Some(remaining) = path else { return set(t) };
    let (part, rest) = next_part(remaining);
    match &mut t.value {
        TValue::Null => Ok(()),
        TValue::Seq(items) => {
            for item in items {
                walk(item, path, (create, at), set)?;
            }
            Ok(())
        }
        TValue::Map(fields) => {
            let (name, is_seq) = field_part(&part)?;
            let making = !is_seq && create != Create::Never;
            let fresh = || match (rest.is_none(), create) {
                (true, Create::Scalar) => TValue::Str("".into()),
                _ => TValue::Map(Fields::default()),
            };
            // Looked up once (specs are walked for every object).
            let field = match fields.iter().position(|f| f.key == name) {
                Some(i) => {
                    let field = &mut fields[i].value;
                    if is_seq && field.value == TValue::Null {
                        // kustomize makes an empty `name[]` an empty list.
                        field.value = TValue::Seq(Items::default());
                    } else if making && field.value == TValue::Null {
                        field.value = fresh();
                    }
                    field
                }
                None if making => {
                    let made = Tree { file: at.0, span: at.1, value: fresh() };
                    let Some(field) = t.set(name, made) else { return Ok(()) };
                    field
                }
                None => return Ok(()),
            };
            walk(field, rest, (create, at), set)
        }
        _ => Err("expected sequence or mapping node".into()),
    }
}

/// Drops the specs kustomize's merge of a sorted config into an empty one swallows
/// (`ResAccumulator.MergeConfig`, `FsSlice.MergeOne`): sorted by kind rank and group, version
/// and kind (empty ones last), a spec is left out when one kept before it has its path and a
/// group, version and kind it selects — a kind's own `metadata/name` spec for `namePrefix`
/// leaves the default one (every kind's) out, so only that kind is prefixed (kustomize issue
/// 4884). The specs kept stay in their order.
fn swallow(specs: &mut Vec<FieldSpec>) {
    let key = |s: &FieldSpec| {
        let or = |v: &str, empty: &'static str| {
            if v.is_empty() {
                empty.to_string()
            } else {
                v.to_string()
            }
        };
        let rank = super::order::kind_rank(&s.kind);
        (rank, format!("{}_{}_{}", or(&s.group, "~G"), or(&s.version, "~V"), or(&s.kind, "~K")))
    };
    let mut sorted: Vec<usize> = (0..specs.len()).collect();
    sorted.sort_by_cached_key(|&i| key(&specs[i]));
    let mut kept: Vec<usize> = Vec::with_capacity(specs.len());
    for i in sorted {
        let s = &specs[i];
        let swallowed = kept
            .iter()
            .map(|&k| &specs[k])
            .any(|k| k.path == s.path && s.selects((&k.group, &k.version, &k.kind)));
        if !swallowed {
            kept.push(i);
        }
    }
    kept.sort_unstable();
    let mut index = 0;
    specs.retain(|_| {
        let keep = kept.binary_search(&index).is_ok();
        index += 1;
        keep
    });
}

/// Adds the specs of `more` that `specs` lacks (kustomize merges configs this way: the same
/// group, version, kind and path once).
pub(super) fn merge(specs: &mut Vec<FieldSpec>, more: &[FieldSpec]) {
    for spec in more {
        let same = |s: &FieldSpec| {
            s.group == spec.group
                && s.version == spec.version
                && s.kind == spec.kind
                && s.path == spec.path
        };
        if !specs.iter().any(same) {
            specs.push(spec.clone());
        }
    }
}

/// kustomize's default field specs of a transformer, by the name its configs use
/// (`commonLabels`, `templateLabels`, `volumeClaimTemplateLabels`, `metadataLabels`,
/// `commonAnnotations`, `namePrefix`, `nameSuffix`, `images`, `replicas`).
pub(super) fn defaults(name: &str) -> Vec<FieldSpec> {
    if name == "varReference" {
        return var_references();
    }
    let rows: &[&[Row]] = match name {
        "commonLabels" => &[METADATA_LABELS, SELECTOR_LABELS, VOLUME_CLAIM_TEMPLATE_LABELS],
        "templateLabels" | "metadataLabels" => &[METADATA_LABELS],
        "volumeClaimTemplateLabels" => &[VOLUME_CLAIM_TEMPLATE_LABELS],
        "commonAnnotations" => &[ANNOTATIONS],
        "namePrefix" | "nameSuffix" => &[&[("", "", "", "metadata/name", false)]],
        "images" => &[IMAGES],
        "replicas" => &[REPLICAS],
        "namespace" => &[NAMESPACE],
        _ => &[],
    };
    rows.iter().flat_map(|r| r.iter()).map(FieldSpec::of).collect()
}

/// Where kustomize substitutes `$(VAR)` by default: the containers and init containers of every
/// workload (args, command, env values, mount paths), NFS servers, a Deployment's template
/// annotations, Ingress hosts and TLS secrets, Service ports, and every object's labels and
/// annotations.
fn var_references() -> Vec<FieldSpec> {
    const CONTAINER_FIELDS: [&str; 4] = ["args", "command", "env/value", "volumeMounts/mountPath"];
    let pod_specs = [
        (
            "CronJob",
            "spec/jobTemplate/spec/template/spec",
            "spec/jobTemplate/spec/template/volumes/nfs/server",
        ),
        ("DaemonSet", "spec/template/spec", "spec/template/spec/volumes/nfs/server"),
        ("Deployment", "spec/template/spec", "spec/template/spec/volumes/nfs/server"),
        ("Job", "spec/template/spec", "spec/template/spec/volumes/nfs/server"),
        ("Pod", "spec", "spec/volumes/nfs/server"),
        ("ReplicaSet", "spec/template/spec", "spec/template/spec/volumes/nfs/server"),
        ("StatefulSet", "spec/template/spec", "spec/volumeClaimTemplates/spec/nfs/server"),
    ];
    let spec = |kind: &'static str, path: String| FieldSpec {
        group: Cow::Borrowed(""),
        version: Cow::Borrowed(""),
        kind: Cow::Borrowed(kind),
        path: Cow::Owned(path),
        create: false,
    };
    let mut specs = Vec::new();
    for (kind, pod, nfs) in pod_specs {
        for containers in ["containers", "initContainers"] {
            for field in CONTAINER_FIELDS {
                specs.push(spec(kind, format!("{pod}/{containers}/{field}")));
            }
        }
        specs.push(spec(kind, nfs.to_string()));
    }
    for (kind, path) in [
        ("Deployment", "spec/template/metadata/annotations"),
        ("Ingress", "spec/rules/host"),
        ("Ingress", "spec/tls/hosts"),
        ("Ingress", "spec/tls/secretName"),
        ("Service", "spec/ports/port"),
        ("Service", "spec/ports/targetPort"),
        ("PersistentVolume", "spec/nfs/server"),
        ("", "metadata/labels"),
        ("", "metadata/annotations"),
    ] {
        specs.push(spec(kind, path.to_string()));
    }
    specs
}

/// (group, version, kind, path, create).
type Row = (&'static str, &'static str, &'static str, &'static str, bool);

const METADATA_LABELS: &[Row] = &[
    ("", "", "", "metadata/labels", true),
    ("", "v1", "ReplicationController", "spec/template/metadata/labels", true),
    ("", "", "Deployment", "spec/template/metadata/labels", true),
    ("", "", "ReplicaSet", "spec/template/metadata/labels", true),
    ("", "", "DaemonSet", "spec/template/metadata/labels", true),
    ("apps", "", "StatefulSet", "spec/template/metadata/labels", true),
    ("batch", "", "Job", "spec/template/metadata/labels", true),
    ("batch", "", "CronJob", "spec/jobTemplate/metadata/labels", true),
    ("batch", "", "CronJob", "spec/jobTemplate/spec/template/metadata/labels", true),
];

const SELECTOR_LABELS: &[Row] = &[
    ("", "v1", "Service", "spec/selector", true),
    ("", "v1", "ReplicationController", "spec/selector", true),
    ("", "", "Deployment", "spec/selector/matchLabels", true),
    ("apps", "", "Deployment", POD_AFFINITY_PREFERRED, false),
    ("apps", "", "Deployment", POD_AFFINITY_REQUIRED, false),
    ("apps", "", "Deployment", POD_ANTI_AFFINITY_PREFERRED, false),
    ("apps", "", "Deployment", POD_ANTI_AFFINITY_REQUIRED, false),
    ("apps", "", "Deployment", TOPOLOGY_SPREAD, false),
    ("", "", "ReplicaSet", "spec/selector/matchLabels", true),
    ("", "", "DaemonSet", "spec/selector/matchLabels", true),
    ("apps", "", "StatefulSet", "spec/selector/matchLabels", true),
    ("apps", "", "StatefulSet", POD_AFFINITY_PREFERRED, false),
    ("apps", "", "StatefulSet", POD_AFFINITY_REQUIRED, false),
    ("apps", "", "StatefulSet", POD_ANTI_AFFINITY_PREFERRED, false),
    ("apps", "", "StatefulSet", POD_ANTI_AFFINITY_REQUIRED, false),
    ("apps", "", "StatefulSet", TOPOLOGY_SPREAD, false),
    ("batch", "", "Job", "spec/selector/matchLabels", false),
    ("batch", "", "CronJob", "spec/jobTemplate/spec/selector/matchLabels", false),
    ("policy", "", "PodDisruptionBudget", "spec/selector/matchLabels", false),
    ("networking.k8s.io", "", "NetworkPolicy", "spec/podSelector/matchLabels", false),
    ("networking.k8s.io", "", "NetworkPolicy", "spec/ingress/from/podSelector/matchLabels", false),
    ("networking.k8s.io", "", "NetworkPolicy", "spec/egress/to/podSelector/matchLabels", false),
];

// The pod-template selectors of Deployments and StatefulSets that `commonLabels` sets when
// present.
const POD_AFFINITY_PREFERRED: &str = "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels";
const POD_AFFINITY_REQUIRED: &str = "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels";
const POD_ANTI_AFFINITY_PREFERRED: &str = "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels";
const POD_ANTI_AFFINITY_REQUIRED: &str = "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels";
const TOPOLOGY_SPREAD: &str =
    "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels";

const VOLUME_CLAIM_TEMPLATE_LABELS: &[Row] =
    &[("apps", "", "StatefulSet", "spec/volumeClaimTemplates[]/metadata/labels", true)];

const ANNOTATIONS: &[Row] = &[
    ("", "", "", "metadata/annotations", true),
    ("", "v1", "ReplicationController", "spec/template/metadata/annotations", true),
    ("", "", "Deployment", "spec/template/metadata/annotations", true),
    ("", "", "ReplicaSet", "spec/template/metadata/annotations", true),
    ("", "", "DaemonSet", "spec/template/metadata/annotations", true),
    ("", "", "StatefulSet", "spec/template/metadata/annotations", true),
    ("batch", "", "Job", "spec/template/metadata/annotations", true),
    ("batch", "", "CronJob", "spec/jobTemplate/metadata/annotations", true),
    ("batch", "", "CronJob", "spec/jobTemplate/spec/template/metadata/annotations", true),
];

const IMAGES: &[Row] = &[
    ("", "", "", "spec/containers[]/image", true),
    ("", "", "", "spec/initContainers[]/image", true),
    ("", "", "", "spec/volumes[]/image/reference", true),
    ("", "", "", "spec/template/spec/containers[]/image", true),
    ("", "", "", "spec/template/spec/initContainers[]/image", true),
    ("", "", "", "spec/template/spec/volumes[]/image/reference", true),
];

const NAMESPACE: &[Row] = &[
    ("", "", "Namespace", "metadata/name", true),
    ("apiregistration.k8s.io", "", "APIService", "spec/service/namespace", true),
    (
        "apiextensions.k8s.io",
        "",
        "CustomResourceDefinition",
        "spec/conversion/webhook/clientConfig/service/namespace",
        false,
    ),
];

const REPLICAS: &[Row] = &[
    ("", "", "Deployment", "spec/replicas", true),
    ("", "", "ReplicationController", "spec/replicas", true),
    ("", "", "ReplicaSet", "spec/replicas", true),
    ("", "", "StatefulSet", "spec/replicas", true),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: &'static str, path: &'static str) -> FieldSpec {
        FieldSpec {
            group: Cow::Borrowed(""),
            version: Cow::Borrowed(""),
            kind: Cow::Borrowed(kind),
            path: Cow::Borrowed(path),
            create: false,
        }
    }

    /// What [`reached`] finds by reading is what [`apply_all`] sets without creating, in the
    /// same order, in loaded trees and trees made node by node alike; where that walk would
    /// change or refuse the object, [`reached`] says so instead.
    #[test]
    fn fields_reached_by_reading_are_those_the_walk_sets() {
        let specs = [
            spec("", "spec/template/spec/containers[]/image"),
            spec("Deployment", "/metadata/labels/a"),
            spec("Service", "metadata/labels/a"),
            spec("", "spec/list/x"),
            spec("", "spec/missing/x"),
        ];
        let text = "kind: Deployment\nmetadata: {name: d, labels: {a: b, c: d}}\nspec:\n  list: [{x: 1}, {y: 2}, [{x: 3}]]\n  template:\n    spec:\n      containers: [{name: a, image: one}, {name: b}, {name: c, image: two}]\n";
        for mut t in super::super::tree::loaded_and_made(text) {
            let mut paths = Vec::new();
            assert_eq!(reached(&specs, &t, &mut paths), Ok(()));
            let mut by_paths = t.clone();
            let mut walked = t.clone();
            let mut n = 0;
            for path in &paths {
                n += 1;
                *super::super::view::child_at(&mut by_paths, path).unwrap() =
                    Tree::string(&n.to_string(), 9, Span::default());
            }
            let mut m = 0;
            apply_all(&specs, &mut walked, (Create::Never, (9, Span::default())), &mut |f| {
                m += 1;
                *f = Tree::string(&m.to_string(), 9, Span::default());
                Ok(())
            })
            .unwrap();
            // Two images, a label, and `x` in the first item and in the nested list's item.
            assert_eq!((n, m), (5, 5));
            assert_eq!(by_paths, walked);
            // Reading left the object as it was: what no spec reached is still loaded.
            let loaded = super::super::tree::is_loaded;
            assert_eq!(loaded(t.get("spec").unwrap()), loaded(&t));
            t.set("kind", Tree::string("Service", 0, Span::default()));
            paths.clear();
            assert_eq!(reached(&specs, &t, &mut paths), Ok(()));
            assert_eq!(paths.len(), 5, "the Service spec's label instead of the Deployment's");
        }
        // An empty `containers[]` the walk makes a list, and a scalar on the way.
        for text in [
            "kind: Deployment\nspec: {template: {spec: {containers: null}}}\n",
            "kind: Deployment\nspec: {template: {spec: text}}\n",
        ] {
            let [t, _] = super::super::tree::loaded_and_made(text);
            assert_eq!(reached(&specs, &t, &mut Vec::new()), Err(()));
        }
    }

    #[test]
    fn a_kinds_own_spec_swallows_the_default_of_its_path_and_the_defaults_swallow_nothing() {
        for name in [
            "commonLabels",
            "templateLabels",
            "volumeClaimTemplateLabels",
            "commonAnnotations",
            "namePrefix",
            "images",
            "replicas",
            "namespace",
            "varReference",
        ] {
            let mut all = defaults(name);
            swallow(&mut all);
            assert_eq!(all, defaults(name), "{name}");
        }
        let mut specs = Specs::default();
        specs.add("namePrefix", vec![spec("IngressHost", "metadata/name")]);
        assert_eq!(specs.of("namePrefix"), [spec("IngressHost", "metadata/name")]);
        // Another path of the kind leaves the default in place.
        let mut specs = Specs::default();
        specs.add("namePrefix", vec![spec("IngressHost", "spec/host")]);
        assert_eq!(
            specs.of("namePrefix"),
            [spec("", "metadata/name"), spec("IngressHost", "spec/host")]
        );
    }

    fn tree(text: &str) -> Tree<'static> {
        crate::render::tree::parse_trees(text).remove(0)
    }

    #[test]
    fn specs_walk_lists_create_maps_and_refuse_scalars() {
        let mut t = tree("apiVersion: apps/v1\nkind: StatefulSet\nspec:\n  volumeClaimTemplates:\n  - metadata: {name: a}\n  - metadata: {name: b, labels: {x: y}}\n");
        let mut count = 0;
        let spec = &defaults("volumeClaimTemplateLabels")[0];
        let at = (0, Span::default());
        apply_all(std::slice::from_ref(spec), &mut t, (Create::Map, at), &mut |node| {
            count += 1;
            node.set("team", Tree::string("a", 0, node.span));
            Ok(())
        })
        .unwrap();
        assert_eq!(count, 2);
        let claims = &t.to_json()["spec"]["volumeClaimTemplates"];
        assert_eq!(claims[0]["metadata"]["labels"], serde_json::json!({"team": "a"}));
        assert_eq!(claims[1]["metadata"]["labels"], serde_json::json!({"x": "y", "team": "a"}));
        // Not created without `create`, nor for another kind.
        let spec = FieldSpec { create: false, ..defaults("commonLabels")[0].clone() };
        let mut bare = tree("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n");
        apply_all(std::slice::from_ref(&spec), &mut bare, (Create::Map, at), &mut |_| Ok(()))
            .unwrap();
        assert_eq!(bare.at(&["metadata", "labels"]), None);
        let through_scalar = FieldSpec { path: "metadata/name/x".into(), ..spec };
        let error = apply_all(&[through_scalar], &mut bare, (Create::Map, at), &mut |_| Ok(()))
            .unwrap_err();
        assert_eq!(error, "field spec `metadata/name/x`: expected sequence or mapping node");
    }

    /// The parts of a spec's path as walking takes them.
    fn parts(path: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = Some(path.strip_prefix('/').unwrap_or(path));
        while let Some(path) = rest {
            let (part, next) = next_part(path);
            out.push(part.into_owned());
            rest = next;
        }
        out
    }

    /// A path is split at `/` (`\/` escaping one) and a leading `/` dropped: walking takes the
    /// parts the split written out plainly gives, for every path of up to seven of `a`, `/` and
    /// `\`.
    #[test]
    fn spec_paths_split_at_slashes_and_escaped_slashes_stay() {
        fn plain(path: &str) -> Vec<String> {
            let mut parts: Vec<String> = Vec::new();
            for piece in path.split('/') {
                match parts.last_mut() {
                    Some(last) if last.ends_with('\\') => {
                        last.pop();
                        last.push('/');
                        last.push_str(piece);
                    }
                    _ => parts.push(piece.to_string()),
                }
            }
            if parts.len() > 1 && parts[0].is_empty() {
                parts.remove(0);
            }
            parts
        }
        assert_eq!(parts(r"metadata/annotations/a\/b"), ["metadata", "annotations", "a/b"]);
        assert_eq!(parts("/spec/x"), ["spec", "x"]);
        let (mut paths, mut longest) = (vec![String::new()], vec![String::new()]);
        for _ in 0..7 {
            longest =
                longest.iter().flat_map(|p| ['a', '/', '\\'].map(|c| format!("{p}{c}"))).collect();
            paths.extend(longest.iter().cloned());
        }
        assert!(paths.len() > 3000);
        for path in &paths {
            assert_eq!(parts(path), plain(path), "{path:?}");
        }
    }

    /// A base's `configurations` reach the overlays that include it: a custom resource's field
    /// that names a Service follows the overlay's prefix, and `commonLabels` reach the custom
    /// resource's selector. A key kustomize has no use for is an error at its line.
    #[test]
    fn configurations_add_field_specs_for_the_whole_build_above_them() {
        use crate::render::kustomize::{build, tests::write, Disk};
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                ("base/svc.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\n"),
                (
                    "base/route.yaml",
                    "apiVersion: example.com/v1\nkind: Route\nmetadata:\n  name: r\nspec:\n  to:\n    service: api\n  selector: {}\n",
                ),
                (
                    "base/config.yaml",
                    "nameReference:\n- kind: Service\n  fieldSpecs:\n  - {kind: Route, path: spec/to/service}\ncommonLabels:\n- {kind: Route, path: spec/selector, create: true}\n",
                ),
                ("base/kustomization.yaml", "resources: [svc.yaml, route.yaml]\nconfigurations: [config.yaml]\n"),
                ("prod/kustomization.yaml", "resources: [../base]\nnamePrefix: prod-\ncommonLabels: {env: prod}\n"),
                ("bad/kustomization.yaml", "resources: [../base]\nconfigurations: [c.yaml]\n"),
                ("bad/c.yaml", "namePrefix: []\nwhatever: []\n"),
            ],
        );
        let disk = Disk::new(dir.path());
        let out = build(&disk, std::path::Path::new("prod")).unwrap();
        let route = out[1].to_json();
        assert_eq!(route["metadata"]["name"], "prod-r");
        assert_eq!(route["spec"]["to"]["service"], "prod-api");
        assert_eq!(route["spec"]["selector"], serde_json::json!({"env": "prod"}));
        let error = build(&disk, std::path::Path::new("bad")).unwrap_err().to_string();
        assert_eq!(
            error,
            "/bad/c.yaml:2: `whatever` in a configurations file is not supported yet"
        );
    }

    /// A `crds` file's object references follow renames: a custom resource's `secretRef` names
    /// the Secret the prefix renamed.
    #[test]
    fn crd_definitions_add_name_references() {
        use crate::render::kustomize::{build, tests::write, Disk};
        let dir = tempfile::tempdir().unwrap();
        let crd = r#"{"x.v1.Db": {"Schema": {"properties": {"kind": {}, "apiVersion": {}, "metadata": {}, "spec": {"$ref": "x.v1.DbSpec"}}}}, "x.v1.DbSpec": {"Schema": {"properties": {"secretRef": {"x-kubernetes-object-ref-api-version": "v1", "x-kubernetes-object-ref-kind": "Secret"}, "owner": {"x-kubernetes-identity": "true"}}}}}"#;
        write(
            dir.path(),
            &[
                ("app/crd.json", crd),
                (
                    "app/objects.yaml",
                    "apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\n---\napiVersion: example.com/v1\nkind: Db\nmetadata: {name: db}\nspec:\n  owner: team\n  secretRef: {name: creds}\n",
                ),
                ("app/kustomization.yaml", "resources: [objects.yaml]\ncrds: [crd.json]\nnamePrefix: p-\n"),
            ],
        );
        let disk = Disk::new(dir.path());
        let out = build(&disk, std::path::Path::new("app")).unwrap();
        let db = out[1].to_json();
        assert_eq!(
            db["spec"],
            serde_json::json!({"owner": "p-team", "secretRef": {"name": "p-creds"}})
        );
    }
}
