//! Stage 2 — inventory: documents → indexed Kubernetes objects with effective namespaces and
//! tenants.
//!
//! Entry point: [`build`].

mod appset;
pub mod domains;
mod kustomize;
mod releases;
pub mod rendered;
mod shape;
pub mod tenants;
mod units;

use std::collections::HashMap;
use std::sync::Arc;

use rayon::prelude::*;

use crate::config::Config;
use crate::kinds;
use crate::load::skip::{SkipReason, SkippedFile};
use crate::load::source::SourceFile;
use crate::load::{Node, Sources, Value};
use crate::render::argo::BuildOptions;
pub use tenants::{denies_by_default, AllowList, Provided, Tenant, TenantIndex};

/// One Kubernetes object from the tree.
#[derive(Debug)]
pub struct Object {
    /// Index of the object in [`Inventory::objects`].
    pub index: usize,
    /// Index into [`Inventory::files`].
    pub file: usize,
    /// 0-based index of the document in its file.
    pub document: usize,
    pub api_version: String,
    pub kind: String,
    pub name: String,
    /// Namespace the cluster will put the object in; `None` for cluster-scoped kinds (and for
    /// namespaced objects whose namespace nothing sets).
    pub namespace: Option<String>,
    pub cluster_scoped: bool,
    /// The Flux Kustomization or Argo CD Application whose path deploys the object's file.
    pub deployed_by: Option<Arc<Deployer>>,
    pub root: Node,
    /// For an object a build unit rendered: the unit and the sources of its fields.
    pub rendering: Option<Box<rendered::Rendering>>,
    /// For an object admission changed or made: which mutator or policy set which fields.
    pub admitted: Option<Box<Admitted>>,
}

/// What admission did to an object: the fields mutators set (JSON pointers, each with the
/// inventory file and the mutator that set it; a deeper entry wins over a shallower one), or
/// the policy that generated the whole object.
#[derive(Debug, Clone, Default)]
pub struct Admitted {
    pub fields: Vec<AdmittedField>,
    /// The policy (`Kind name`) that generated the object, for an object admission made.
    pub generated_by: Option<Arc<str>>,
}

/// A field admission set.
#[derive(Debug, Clone)]
pub struct AdmittedField {
    pub pointer: String,
    pub file: usize,
    /// How reports name the mutator: `ClusterPolicy add-pool`, `Assign pin-pool`.
    pub by: Arc<str>,
}

impl Admitted {
    /// The admitted field that holds `pointer` (the deepest), if any.
    #[must_use]
    pub fn field_at(&self, pointer: &str) -> Option<&AdmittedField> {
        self.fields
            .iter()
            .filter(|f| {
                pointer == f.pointer
                    || (pointer.starts_with(&f.pointer)
                        && pointer.as_bytes().get(f.pointer.len()) == Some(&b'/'))
            })
            .max_by_key(|f| f.pointer.len())
    }
}

impl Object {
    /// The clusters that receive the object, for an object build units rendered; none for an
    /// object as written (which any cluster may receive).
    pub fn clusters(&self) -> impl Iterator<Item = &str> {
        self.rendering.iter().flat_map(|r| r.clusters())
    }

    /// Whether the object is as written (not rendered by a unit): any cluster may receive it.
    #[must_use]
    pub fn as_written(&self) -> bool {
        self.rendering.is_none()
    }

    /// Effective namespace, or `""`.
    #[must_use]
    pub fn namespace_or_empty(&self) -> &str {
        self.namespace.as_deref().unwrap_or("")
    }

    /// The object as findings and reports name it.
    #[must_use]
    pub fn resource_ref(&self) -> crate::finding::ResourceRef {
        crate::finding::ResourceRef {
            api_version: self.api_version.clone(),
            kind: self.kind.clone(),
            namespace: self.namespace_or_empty().to_string(),
            name: self.name.clone(),
        }
    }

    /// The inventory file of the field at `pointer` (a rendered object's fields come from
    /// several files).
    #[must_use]
    pub fn file_at(&self, pointer: &str) -> usize {
        if let Some(field) = self.admitted.as_ref().and_then(|a| a.field_at(pointer)) {
            return field.file;
        }
        self.rendering.as_ref().map_or(self.file, |r| r.file_at(self.file, pointer))
    }

    /// What admission did to the field at `pointer`, as a finding says it: `set at admission
    /// by Assign pin-pool`, or `generated at admission by ClusterPolicy default-deny` for an
    /// object admission made.
    #[must_use]
    pub fn admitted_by(&self, pointer: &str) -> Option<String> {
        let admitted = self.admitted.as_ref()?;
        match (admitted.field_at(pointer), &admitted.generated_by) {
            (Some(field), _) => Some(format!("set at admission by {}", field.by)),
            (None, Some(by)) => Some(format!("generated at admission by {by}")),
            (None, None) => None,
        }
    }

    /// The object as JSON, as the cluster stores it: with its effective namespace.
    #[must_use]
    pub fn cluster_json(&self) -> serde_json::Value {
        let mut json = self.root.to_json();
        if let (Some(ns), Some(meta)) =
            (&self.namespace, json.get_mut("metadata").and_then(serde_json::Value::as_object_mut))
        {
            meta.insert("namespace".into(), serde_json::Value::String(ns.clone()));
        }
        json
    }
}

/// What deploys a path of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployer {
    /// The namespace whose tenant the deployer works for: a Flux Kustomization's own
    /// namespace, an Argo CD Application's destination namespace.
    pub namespace: String,
    /// How to name it in a message: "Flux Kustomization `team-a/apps`".
    pub label: String,
}

/// Every object of the tree, indexed.
#[derive(Debug, Default)]
pub struct Inventory {
    pub files: Vec<Arc<SourceFile>>,
    pub objects: Vec<Object>,
    pub tenants: TenantIndex,
    /// Documents read, including those that are not Kubernetes objects.
    pub documents: usize,
    /// Documents that are not Kubernetes objects (no apiVersion and kind, kustomize configs).
    pub skipped: usize,
    /// Files that hold no object to lint, with the reason, in tree order.
    pub skipped_files: Vec<SkippedFile>,
    /// Helm chart directories found (their sources are in `skipped_files`): not rendered yet.
    pub charts: Vec<String>,
    /// Objects build units' patches deleted (`$patch: delete`): rules that miss an object can
    /// point at the patch that took it away.
    pub deleted: Vec<rendered::Removed>,
    /// Documents that are not objects of the right shape (a list at the top, `kind: [Pod]`,
    /// `containers: {}`), in tree order.
    pub problems: Vec<crate::error::Problem>,
    by_kind: foldhash::HashMap<String, Vec<usize>>,
    by_namespace: foldhash::HashMap<String, Vec<usize>>,
    /// (hash of the identity, object index), sorted: the objects of one identity are a range.
    by_id: Vec<(u64, usize)>,
    /// Namespace objects by label (key, value), including `kubernetes.io/metadata.name`.
    namespaces_by_label: foldhash::HashMap<(String, String), Vec<usize>>,
    /// The (string) labels of each namespace the tree defines, from its first `v1` Namespace
    /// object: read by every policy evaluation of an object in it.
    labels_of_namespace: foldhash::HashMap<String, std::collections::BTreeMap<String, String>>,
}

impl Inventory {
    /// The objects `wanted` takes, in tree order, found in parallel: for the scans of every
    /// object that find a few (policies, mutators, exceptions among a fleet's objects).
    pub fn matching(&self, wanted: impl Fn(&Object) -> bool + Sync) -> Vec<&Object> {
        self.objects.par_iter().filter(|o| wanted(o)).collect()
    }

    /// Objects of one kind, in tree order.
    pub fn of_kind<'a>(&'a self, kind: &str) -> impl Iterator<Item = &'a Object> + 'a {
        self.by_kind.get(kind).into_iter().flatten().map(|&i| &self.objects[i])
    }

    /// Objects whose effective namespace is `namespace`, in tree order.
    pub fn in_namespace<'a>(&'a self, namespace: &str) -> impl Iterator<Item = &'a Object> + 'a {
        self.by_namespace.get(namespace).into_iter().flatten().map(|&i| &self.objects[i])
    }

    /// Namespace objects carrying the label `key=value` (the API server's automatic
    /// `kubernetes.io/metadata.name` label included), in tree order.
    pub fn namespaces_labelled<'a>(
        &'a self,
        key: &str,
        value: &str,
    ) -> impl Iterator<Item = &'a Object> + 'a {
        self.namespaces_by_label
            .get(&(key.to_string(), value.to_string()))
            .into_iter()
            .flatten()
            .map(|&i| &self.objects[i])
    }

    /// Objects with this identity in the cluster (more than one when the tree defines it
    /// twice), in tree order. `namespace` is `""` for cluster-scoped objects.
    pub fn by_id<'a: 's, 's>(
        &'a self,
        api_version: &'s str,
        kind: &'s str,
        namespace: &'s str,
        name: &'s str,
    ) -> impl Iterator<Item = &'a Object> + 's {
        let hash = identity_hash(api_version, kind, namespace, name);
        let from = self.by_id.partition_point(|&(h, _)| h < hash);
        self.by_id[from..]
            .iter()
            .take_while(move |&&(h, _)| h == hash)
            .map(|&(_, i)| &self.objects[i])
            .filter(move |o| {
                o.api_version == api_version
                    && o.kind == kind
                    && o.namespace_or_empty() == namespace
                    && o.name == name
            })
    }

    /// The `v1` Namespace object called `name`.
    #[must_use]
    pub fn namespace_object(&self, name: &str) -> Option<&Object> {
        self.by_id("v1", "Namespace", "", name).next()
    }

    /// The objects that declare a namespace: its `v1` Namespace objects (a tree may define one
    /// per cluster), else the HNC `SubnamespaceAnchor` that creates it.
    #[must_use]
    pub fn namespace_declarations(&self, name: &str) -> Vec<&Object> {
        let namespaces: Vec<&Object> = self.by_id("v1", "Namespace", "", name).collect();
        if namespaces.is_empty() {
            self.tenants.anchor_of(name).map(|i| &self.objects[i]).into_iter().collect()
        } else {
            namespaces
        }
    }

    /// The (string) labels of the namespace an object is in; empty when the tree does not
    /// define that namespace. Read from the objects as they are now (admission changes them).
    #[must_use]
    pub fn namespace_labels(&self, object: &Object) -> std::collections::BTreeMap<String, String> {
        object
            .namespace
            .as_deref()
            .and_then(|ns| self.namespace_object(ns))
            .and_then(|n| n.root.at(&["metadata", "labels"]))
            .and_then(Node::as_map)
            .unwrap_or(&[])
            .iter()
            .filter_map(|e| Some((e.key.as_str().to_owned(), e.value.as_str()?.to_string())))
            .collect()
    }

    /// [`Inventory::namespace_labels`] as they were when the objects were last indexed (after
    /// admission: it reindexes when it changes a Namespace), read without copying them.
    #[must_use]
    pub fn indexed_namespace_labels(
        &self,
        object: &Object,
    ) -> &std::collections::BTreeMap<String, String> {
        static NONE: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
        object.namespace.as_deref().and_then(|ns| self.labels_of_namespace.get(ns)).unwrap_or(&NONE)
    }

    #[must_use]
    pub fn source(&self, object: &Object) -> &Arc<SourceFile> {
        &self.files[object.file]
    }
}

/// Hash of an object's identity (fixed keys, so the same in every run).
fn identity_hash(api_version: &str, kind: &str, namespace: &str, name: &str) -> u64 {
    use std::hash::BuildHasher as _;
    // Fixed-seeded; equal hashes keep tree order, so the hash function never shows.
    foldhash::quality::FixedState::default().hash_one((api_version, kind, namespace, name))
}

/// How Argo CD runs kustomize for the tree's Applications: the config's
/// `render.argocdKustomizeBuildOptions`, else the `kustomize.buildOptions` of an `argocd-cm`
/// ConfigMap in the tree, else kustomize's defaults. Options of the ConfigMap it cannot read are
/// an error at their line, and the defaults apply.
///
/// Also the options of the kustomizations nothing deploys (`render.kustomizeBuildOptions`).
fn build_options(
    files: &[crate::load::LoadedFile],
    config: &Config,
) -> ((BuildOptions, BuildOptions), Option<crate::error::Problem>) {
    // The config's options were checked when it was read.
    let from_config =
        |text: &Option<String>| text.as_deref().map(|t| BuildOptions::parse(t).unwrap_or_default());
    let kustomize = from_config(&config.render.kustomize_build_options).unwrap_or_default();
    let (argo, problem) = match from_config(&config.render.argocd_kustomize_build_options) {
        Some(options) => (options, None),
        None => argocd_cm(files),
    };
    ((argo, kustomize), problem)
}

/// The `kustomize.buildOptions` of an `argocd-cm` ConfigMap in the tree.
fn argocd_cm(files: &[crate::load::LoadedFile]) -> (BuildOptions, Option<crate::error::Problem>) {
    use crate::error::Problem;
    for f in files {
        for d in &f.documents {
            let text = |path: &[&str]| d.root.at(path).and_then(Node::as_str);
            if text(&["kind"]) != Some("ConfigMap")
                || text(&["metadata", "name"]) != Some("argocd-cm")
            {
                continue;
            }
            let Some(node) = d.root.at(&["data", "kustomize.buildOptions"]) else { continue };
            let parsed = node
                .as_str()
                .ok_or_else(|| "must be text (the flags `kustomize build` is run with)".to_string())
                .and_then(BuildOptions::parse);
            return match parsed {
                Ok(options) => (options, None),
                Err(message) => (
                    BuildOptions::default(),
                    Some(Problem::new(
                        f.source.display.clone(),
                        Some(node.span.start()),
                        format!("argocd-cm `kustomize.buildOptions`: {message} (Applications are built with kustomize's defaults)"),
                    )),
                ),
            };
        }
    }
    (BuildOptions::default(), None)
}

/// The documents units left as written, by file (sorted): the rendered objects take them from
/// their files.
fn written_documents(objects: &[rendered::RenderedObject]) -> HashMap<usize, Vec<usize>> {
    let mut written: HashMap<usize, Vec<usize>> = HashMap::new();
    for r in objects.iter().filter(|r| r.root == rendered::Root::Written) {
        written.entry(r.file).or_default().push(r.document);
    }
    for documents in written.values_mut() {
        documents.sort_unstable();
    }
    written
}

/// The roots of documents units left as written, by (file, document), taken from one file.
type WrittenRoots = Vec<((usize, usize), Node)>;

/// Builds the inventory from what the loader read.
#[must_use]
pub fn build(sources: Sources, config: &Config) -> Inventory {
    let Sources {
        files, roots, skipped: mut chart_sources, charts, chart_dirs, cwd, limits, ..
    } = sources;
    // The deployers and kustomize configs (read in parallel) beside the scans that go file by
    // file: the loaded files' table for the builds, the CRDs, the build options.
    let (((mut flux_targets, appset_problems), configs), (loaded, crd_scopes, build_options)) =
        rayon::join(
            || (flux_targets(&files, &roots), kustomize::configs(&files)),
            || (units::loaded_files(&files), crd_scopes(&files), build_options(&files, config)),
        );
    let layout = kustomize::layout((&files, &loaded), &roots, &flux_targets, configs);
    let ((argo, kustomize), argo_problem) = build_options;
    let options = (limits, argo, kustomize);
    let cache = config.render.chart_cache.clone();
    // Both scan every document: the sources of charts alone, those of substitutions in
    // parallel.
    let (charts_in, sources) = rayon::join(
        || releases::ChartSources::new(&files, &layout.namespaces, cache),
        || units::substitution_sources(&files, &layout),
    );
    let mut rendered = units::render(
        (&files, loaded, sources),
        &roots,
        (&layout, &chart_dirs, &charts_in, &config.charts),
        &flux_targets,
        &cwd,
        options,
    );
    // The cluster entries charts rendered: deployers of what they build, numbered after the
    // tree's.
    flux_targets.extend(std::mem::take(&mut rendered.extra_targets));

    let mut inv = Inventory::default();
    // Files become objects in parallel; indices are assigned afterwards, in tree order.
    let tree = Tree { layout: &layout, flux_targets: &flux_targets, crd_scopes: &crd_scopes };
    let rendered::Rendered {
        objects: rendered_objects,
        reached,
        extra_files,
        problems,
        deleted,
        charts: charts_rendered,
        unrendered_releases,
        ..
    } = rendered;
    let written = written_documents(&rendered_objects);
    let (per_file, taken): (Vec<(FileObjects, Option<SkippedFile>)>, Vec<WrittenRoots>) = files
        .into_par_iter()
        .with_max_len(crate::load::PARALLEL_FILES)
        .enumerate()
        .map(|(i, file)| {
            let taken = written.get(&i).map_or_else(Vec::new, |documents| {
                file.documents
                    .iter()
                    .filter(|d| documents.binary_search(&d.index).is_ok())
                    .map(|d| ((i, d.index), d.root.clone()))
                    .collect()
            });
            // A file a unit built is linted as the unit renders it: its objects as written
            // are not made (its documents are freed here, in parallel).
            let objects = tree.file_objects(i, file, !reached[i]);
            // Its entry in the skipped files, made here in parallel too (a fleet's overlays
            // skip thousands of kustomizations and patches).
            let skipped = objects.skip.map(|reason| SkippedFile {
                display: objects.source.display.clone(),
                path: objects.source.path.clone(),
                reason,
            });
            ((objects, skipped), taken)
        })
        .unzip();
    let written: HashMap<(usize, usize), Node> = taken.into_iter().flatten().collect();
    inv.objects.reserve_exact(
        per_file.iter().map(|(f, _)| f.objects.len()).sum::<usize>() + rendered_objects.len(),
    );
    inv.deleted = deleted;
    inv.problems.extend(problems);
    inv.problems.extend(appset_problems);
    inv.problems.extend(argo_problem);
    for (
        FileObjects { source, objects, documents, skipped_documents, mut problems, .. },
        skipped,
    ) in per_file
    {
        inv.problems.append(&mut problems);
        inv.skipped_files.extend(skipped);
        inv.files.push(source);
        inv.documents += documents;
        inv.skipped += skipped_documents;
        for mut object in objects {
            object.index = inv.objects.len();
            inv.objects.push(object);
        }
    }
    inv.files.extend(extra_files);
    tree.add_rendered(&mut inv, rendered_objects, written);
    inv.skipped_files.append(&mut chart_sources);
    inv.skipped_files.sort();
    // Charts a unit rendered (with their defaults) are not "charts not rendered".
    inv.charts = charts.into_iter().filter(|c| !charts_rendered.contains(c)).collect();
    inv.charts.extend(unrendered_releases);
    index_tenancy(&mut inv, config, &roots);
    inv
}

impl Inventory {
    /// Adds objects admission generated, indexed by kind, namespace and identity. Whether the
    /// tenants must be decided anew ([`reindex`]): a Namespace or a tenancy object is among them.
    pub fn add_generated(&mut self, objects: Vec<Object>) -> bool {
        let mut tenancy = false;
        for mut o in objects {
            let i = self.objects.len();
            o.index = i;
            tenancy |= o.kind == "Namespace" || tenants::TENANCY_KINDS.contains(&o.kind.as_str());
            self.by_kind.entry(o.kind.clone()).or_default().push(i);
            if let Some(ns) = &o.namespace {
                self.by_namespace.entry(ns.clone()).or_default().push(i);
            }
            let hash = identity_hash(&o.api_version, &o.kind, o.namespace_or_empty(), &o.name);
            self.by_id.push((hash, i));
            self.objects.push(o);
        }
        self.by_id.sort_unstable();
        tenancy
    }
}

/// Whether a change to an object of this kind can change the tenants (and the Namespace label
/// index): Namespaces and the tenancy kinds.
#[must_use]
pub fn decides_tenancy(kind: &str) -> bool {
    kind == "Namespace" || tenants::TENANCY_KINDS.contains(&kind)
}

/// Indexes the objects again and decides the tenants anew, after admission changed or added
/// objects (a generated Namespace, a label a mutator set). Problems the tenancy had already are
/// not reported twice.
pub fn reindex(inv: &mut Inventory, config: &Config, roots: &[std::path::PathBuf]) {
    for (i, o) in inv.objects.iter_mut().enumerate() {
        o.index = i;
    }
    let before = std::mem::take(&mut inv.problems);
    index_tenancy(inv, config, roots);
    let new: Vec<crate::error::Problem> =
        std::mem::take(&mut inv.problems).into_iter().filter(|p| !before.contains(p)).collect();
    inv.problems = before;
    inv.problems.extend(new);
}

/// The indexes by kind, namespace, identity and label, then the tenants.
fn index_tenancy(inv: &mut Inventory, config: &Config, roots: &[std::path::PathBuf]) {
    index(inv);
    let tenancy = tenants::TenancyObjects {
        namespaces: inv
            .of_kind("Namespace")
            .filter(|o| o.api_version == "v1")
            .map(|o| (o.name.as_str(), &o.root, platform_deployed(inv, o, roots)))
            .collect(),
        others: tenants::TENANCY_KINDS
            .iter()
            .flat_map(|k| inv.of_kind(k))
            .map(|o| tenants::TenancyObject {
                index: o.index,
                api_version: &o.api_version,
                kind: &o.kind,
                namespace: o.namespace.as_deref(),
                name: &o.name,
                root: &o.root,
            })
            .collect(),
    };
    let mut index = TenantIndex::build(config, &tenancy);
    for (object, pos, message) in std::mem::take(&mut index.problems) {
        let file = inv.source(&inv.objects[object]).display.clone();
        inv.problems.push(crate::error::Problem::new(file, Some(pos), message));
    }
    inv.tenants = index;
}

/// A top-level text field of a document (empty when absent or not text).
fn top_text<'n>(root: &'n Node, key: &str) -> &'n str {
    root.get(key).and_then(Node::as_str).unwrap_or("")
}

/// Whether a Namespace is the platform's own: defined under an `infrastructure/` directory
/// (where fleets keep their controllers) and holding no tenant reconciler (a Flux
/// Kustomization or HelmRelease with `spec.serviceAccountName`). Such a namespace is never a
/// tenant's, whatever labels it carries (a team label on `cert-manager` marks ownership, not
/// tenancy).
fn platform_deployed(inv: &Inventory, namespace: &Object, roots: &[std::path::PathBuf]) -> bool {
    // Directories within the linted tree only: a checkout that is itself called
    // `infrastructure` says nothing.
    let source = inv.source(namespace);
    let within = source
        .path
        .as_deref()
        .and_then(|p| roots.iter().find_map(|root| p.strip_prefix(root).ok()));
    let under_infrastructure = match within {
        Some(relative) => relative
            .parent()
            .is_some_and(|dir| dir.components().any(|c| c.as_os_str() == "infrastructure")),
        None => source.display.split('/').rev().skip(1).any(|dir| dir == "infrastructure"),
    };
    under_infrastructure
        && !inv.in_namespace(&namespace.name).any(|o| {
            (o.api_version.starts_with("kustomize.toolkit.fluxcd.io/")
                || o.api_version.starts_with("helm.toolkit.fluxcd.io/"))
                && o.root.at(&["spec", "serviceAccountName"]).and_then(Node::as_str).is_some()
        })
}

/// What the whole tree says about each file: namespaces, deployers, patches, custom kinds.
struct Tree<'a> {
    layout: &'a kustomize::Layout,
    flux_targets: &'a [kustomize::FluxTarget],
    crd_scopes: &'a HashMap<(String, String), bool>,
}

/// Where an object is and what the tree says of its file.
struct Placement<'a> {
    file: usize,
    document: usize,
    /// The namespace a kustomization or Flux targetNamespace forces on the file.
    assigned_ns: Option<&'a String>,
    /// The namespace the file's deployer gives objects that name none.
    default_ns: Option<&'a String>,
    deployed_by: Option<&'a Arc<Deployer>>,
}

/// The objects of one file, and the documents of the wrong shape.
struct FileObjects {
    source: Arc<SourceFile>,
    objects: Vec<Object>,
    documents: usize,
    /// Documents that gave no object (a List gives several).
    skipped_documents: usize,
    problems: Vec<crate::error::Problem>,
    /// Why the file holds no object, when it holds none and has no problem.
    skip: Option<SkipReason>,
}

impl FileObjects {
    /// A file that holds no object, for a reason known before its documents are read.
    fn skipped(source: Arc<SourceFile>, documents: usize, reason: SkipReason) -> Self {
        FileObjects {
            source,
            objects: Vec::new(),
            documents,
            skipped_documents: documents,
            problems: Vec::new(),
            skip: Some(reason),
        }
    }
}

impl Tree<'_> {
    /// Adds the objects build units rendered (after every file the inventory numbers).
    /// `written`: the documents of objects units left as written, by (file, document).
    fn add_rendered(
        &self,
        inv: &mut Inventory,
        objects: Vec<rendered::RenderedObject>,
        mut written: HashMap<(usize, usize), Node>,
    ) {
        // How many objects still take each written document: the last takes it, the others
        // copy (in parallel, before it is taken).
        let mut uses: HashMap<(usize, usize), usize> = HashMap::new();
        for r in objects.iter().filter(|r| r.root == rendered::Root::Written) {
            *uses.entry((r.file, r.document)).or_default() += 1;
        }
        let takes: Vec<bool> = objects
            .iter()
            .map(|r| {
                r.root == rendered::Root::Written
                    && uses.get_mut(&(r.file, r.document)).is_some_and(|n| {
                        *n -= 1;
                        *n == 0
                    })
            })
            .collect();
        let mut objects = objects;
        objects.par_iter_mut().zip(takes.par_iter()).filter(|(_, &take)| !take).for_each(
            |(r, _)| {
                if r.root == rendered::Root::Written {
                    if let Some(document) = written.get(&(r.file, r.document)) {
                        r.root = rendered::Root::Built(document.clone());
                    }
                }
            },
        );
        for (r, _) in objects.iter_mut().zip(&takes).filter(|(_, &take)| take) {
            if let Some(document) = written.remove(&(r.file, r.document)) {
                r.root = rendered::Root::Built(document);
            }
        }
        // The document was read when the unit settled; it cannot be gone.
        for r in objects.iter().filter(|r| r.root == rendered::Root::Written) {
            let file = inv.files.get(r.file).map(|f| f.display.clone());
            inv.problems.push(crate::error::Problem::new(
                file.unwrap_or_default(),
                Some(r.at),
                "internal error: a rendered document is missing: not linted",
            ));
        }
        // What is not an object (a values file beside the manifests) is not linted.
        objects.retain(|r| match &r.root {
            rendered::Root::Built(root) => {
                !top_text(root, "apiVersion").is_empty() && !top_text(root, "kind").is_empty()
            }
            rendered::Root::Written => false,
        });
        // Made straight into the inventory's vector (an indexed iterator: no second copy).
        let first = inv.objects.len();
        inv.objects.par_extend(objects.into_par_iter().map(|mut r| {
            let root = match std::mem::replace(&mut r.root, rendered::Root::Written) {
                rendered::Root::Built(root) => root,
                // Kept above only when built.
                rendered::Root::Written => {
                    Node { span: crate::load::source::Span::default(), value: Value::Null }
                }
            };
            let target = r.target.map(|t| &self.flux_targets[t]);
            let deployed_by = target.map(|t| Arc::clone(&t.owner));
            let placement = Placement {
                file: r.file,
                document: r.document,
                assigned_ns: None,
                default_ns: target.and_then(|t| t.default_namespace.as_ref()),
                deployed_by: deployed_by.as_ref(),
            };
            let (api_version, kind) =
                (top_text(&root, "apiVersion").to_string(), top_text(&root, "kind").to_string());
            let mut object = self.object(&placement, api_version, kind, root);
            object.rendering = Some(Box::new(r.rendering));
            object
        }));
        for (index, object) in inv.objects.iter_mut().enumerate().skip(first) {
            object.index = index;
        }
    }

    /// An object of the tree, its effective namespace decided.
    fn object(&self, at: &Placement<'_>, api_version: String, kind: String, root: Node) -> Object {
        // Kustomize's namespace transformer (and so Flux's targetNamespace) renames every
        // Namespace object it includes to its namespace (`name: _` is a common placeholder).
        let name = match at.assigned_ns {
            Some(ns) if kind == "Namespace" && api_version == "v1" => ns.clone(),
            _ => root.at(&["metadata", "name"]).and_then(Node::as_str).unwrap_or("").to_string(),
        };
        let cluster_scoped = kinds::is_cluster_scoped(&api_version, &kind, self.crd_scopes);
        let namespace = if cluster_scoped {
            None
        } else {
            at.assigned_ns
                .cloned()
                .or_else(|| {
                    root.at(&["metadata", "namespace"]).and_then(Node::as_str).map(String::from)
                })
                .or_else(|| at.default_ns.cloned())
        };
        Object {
            index: 0,
            file: at.file,
            document: at.document,
            api_version,
            kind,
            name,
            namespace,
            cluster_scoped,
            deployed_by: at.deployed_by.cloned(),
            root,
            rendering: None,
            admitted: None,
        }
    }

    /// The objects of a file as written, with the problems of their shape; `keep`: false for a
    /// file a unit built, whose objects are only checked and counted (the unit's rendering of
    /// them is linted instead).
    fn file_objects(
        &self,
        file_index: usize,
        file: crate::load::LoadedFile,
        keep: bool,
    ) -> FileObjects {
        let path: Option<&std::path::Path> = file.source.path.as_deref();
        let assigned_ns = self.layout.namespaces[file_index].as_ref();
        let deployer = self.layout.deployer[file_index].map(|i| &self.flux_targets[i]);
        let deployed_by = deployer.map(|d| Arc::clone(&d.owner));
        let default_ns = deployer.and_then(|d| d.default_namespace.as_ref());
        let is_patch = self.layout.patch_files[file_index];
        let documents = file.documents.len();
        let mut objects = Vec::with_capacity(if keep { documents } else { 0 });
        let mut problems = Vec::new();
        let mut problem = |(pos, message): shape::ShapeError| {
            problems.push(crate::error::Problem::new(
                file.source.display.clone(),
                Some(pos),
                message,
            ));
        };
        // A template the loader recognised; patches are partial objects (or JSON6902 operation
        // lists) by design.
        if let Some(skip) = file.skip.or(is_patch.then_some(SkipReason::Kustomize)) {
            return FileObjects::skipped(file.source, documents, skip);
        }
        // A document that is not a mapping is an error only where the file is meant to hold
        // objects: beside an object, or as a list of objects (which kubectl and Flux reject).
        // A file of nothing but lists and scalars (labels.yaml, renovate.json) is not a manifest.
        let holds_objects = file.documents.iter().any(|d| shape::is_object(&d.root));
        let all_empty = file.documents.iter().all(|d| d.root.is_null());
        let mut kustomize_configs = 0;
        let mut skipped_documents = 0;
        // Objects found (made or not).
        let mut found = 0;
        for doc in file.documents {
            let before = found;
            skipped_documents += 1;
            let root = doc.root;
            if let Some(error) = shape::not_an_object(&root, doc.index) {
                if holds_objects || shape::is_list_of_objects(&root) {
                    problem(error);
                }
                continue;
            }
            if path.is_some_and(|p| kustomize::is_kustomize_config(&root, p)) {
                kustomize_configs += 1;
                continue;
            }
            // A `kind: List` (or `PodList`, …) holds its objects in `items`, which kubectl and
            // kustomize apply one by one: each is linted where it is written. (`pending` only
            // allocates for a list; most documents are one object.)
            let mut pending = Vec::new();
            let mut next = Some(root);
            while let Some(root) = next.take().or_else(|| pending.pop()) {
                let identity = shape::identity(&root);
                if !identity.is_empty() {
                    identity.into_iter().for_each(&mut problem);
                    continue;
                }
                let api_version = root.get("apiVersion").and_then(Node::as_str).unwrap_or("");
                let kind = root.get("kind").and_then(Node::as_str).unwrap_or("");
                if api_version.is_empty() || kind.is_empty() {
                    continue;
                }
                if let Some(items) = shape::list_items(&root) {
                    for (i, item) in items.iter().enumerate().rev() {
                        match &item.value {
                            Value::Map(_) => pending.push(item.clone()),
                            _ => problem((
                                item.span.start(),
                                format!(
                                    "item {} of the {kind} is not an object (a mapping)",
                                    i + 1
                                ),
                            )),
                        }
                    }
                    continue;
                }
                shape::object(&root, kinds::pod_spec_pointer(kind))
                    .into_iter()
                    .for_each(&mut problem);
                found += 1;
                if !keep {
                    continue;
                }
                let placement = Placement {
                    file: file_index,
                    document: doc.index,
                    assigned_ns,
                    default_ns,
                    deployed_by: deployed_by.as_ref(),
                };
                objects.push(self.object(
                    &placement,
                    api_version.to_string(),
                    kind.to_string(),
                    root,
                ));
            }
            if found > before {
                skipped_documents -= 1;
            }
        }
        let reason = if all_empty {
            SkipReason::Empty
        } else if kustomize_configs > 0 {
            SkipReason::Kustomize
        } else {
            SkipReason::NotKubernetes
        };
        let skip = (found == 0 && problems.is_empty() && !file.broken).then_some(reason);
        FileObjects { source: file.source, objects, documents, skipped_documents, problems, skip }
    }
}

/// Builds the kind, namespace and identity indexes (two at once).
fn index(inv: &mut Inventory) {
    /// Pushes `i` under `key`, allocating the key only the first time it is seen.
    fn push(map: &mut foldhash::HashMap<String, Vec<usize>>, key: &str, i: usize) {
        match map.get_mut(key) {
            Some(list) => list.push(i),
            None => {
                map.insert(key.to_string(), vec![i]);
            }
        }
    }
    let objects = &inv.objects;
    let ((by_kind, by_namespace), by_id) = rayon::join(
        || {
            let mut by_kind = foldhash::HashMap::default();
            let mut by_namespace = foldhash::HashMap::default();
            for (i, o) in objects.iter().enumerate() {
                push(&mut by_kind, &o.kind, i);
                if let Some(ns) = &o.namespace {
                    push(&mut by_namespace, ns, i);
                }
            }
            (by_kind, by_namespace)
        },
        || {
            let mut by_id: Vec<(u64, usize)> = objects
                .iter()
                .enumerate()
                .map(|(i, o)| {
                    (identity_hash(&o.api_version, &o.kind, o.namespace_or_empty(), &o.name), i)
                })
                .collect();
            by_id.sort_unstable();
            by_id
        },
    );
    inv.by_kind = by_kind;
    inv.by_namespace = by_namespace;
    inv.by_id = by_id;
    let mut by_label: foldhash::HashMap<(String, String), Vec<usize>> =
        foldhash::HashMap::default();
    let mut labels_of = foldhash::HashMap::default();
    for &i in inv.by_kind.get("Namespace").into_iter().flatten() {
        let ns = &inv.objects[i];
        if ns.api_version != "v1" {
            continue;
        }
        by_label
            .entry(("kubernetes.io/metadata.name".into(), ns.name.clone()))
            .or_default()
            .push(i);
        let labels = ns.root.at(&["metadata", "labels"]).and_then(Node::as_map).unwrap_or(&[]);
        let strings = || labels.iter().filter_map(|e| Some((e.key.as_str(), e.value.as_str()?)));
        for (k, v) in strings() {
            by_label.entry((k.to_owned(), v.to_owned())).or_default().push(i);
        }
        // The first Namespace of a name in tree order, as `namespace_object` finds it.
        if ns.namespace_or_empty().is_empty() {
            labels_of
                .entry(ns.name.clone())
                .or_insert_with(|| strings().map(|(k, v)| (k.to_owned(), v.to_owned())).collect());
        }
    }
    inv.namespaces_by_label = by_label;
    inv.labels_of_namespace = labels_of;
}

fn crd_scopes(files: &[crate::load::LoadedFile]) -> HashMap<(String, String), bool> {
    let mut scopes = HashMap::new();
    for doc in files.iter().flat_map(|f| &f.documents) {
        let root = &doc.root;
        if root.get("kind").and_then(Node::as_str) != Some("CustomResourceDefinition") {
            continue;
        }
        let group = root.at(&["spec", "group"]).and_then(Node::as_str);
        let kind = root.at(&["spec", "names", "kind"]).and_then(Node::as_str);
        let scope = root.at(&["spec", "scope"]).and_then(Node::as_str);
        if let (Some(g), Some(k), Some(s)) = (group, kind, scope) {
            scopes.insert((g.to_string(), k.to_string()), s == "Namespaced");
        }
    }
    scopes
}

/// The deployers of the tree: Flux Kustomizations, then Argo CD Applications, then the
/// Applications of ApplicationSets (with the problems of generators that cannot be evaluated).
fn flux_targets(
    files: &[crate::load::LoadedFile],
    roots: &[std::path::PathBuf],
) -> (Vec<kustomize::FluxTarget>, Vec<crate::error::Problem>) {
    // Every document of the tree, looked at in parallel by the scans below (in tree order).
    let all: Vec<(Option<&std::path::PathBuf>, &crate::load::Document)> = files
        .iter()
        .flat_map(|f| f.documents.iter().map(move |d| (f.source.path.as_ref(), d)))
        .collect();
    let docs = || all.par_iter().copied();
    let is = |d: &crate::load::Document, api: &str, kind: &str| {
        d.root.get("kind").and_then(Node::as_str) == Some(kind)
            && d.root.get("apiVersion").and_then(Node::as_str).is_some_and(|a| a.starts_with(api))
    };
    let text = |d: &crate::load::Document, path: &[&str]| {
        d.root.at(path).and_then(Node::as_str).map(String::from)
    };
    let normal = |url: &str| url.trim_end_matches('/').trim_end_matches(".git").to_string();
    // GitRepositories of the tree by (namespace, name), and the URL of the tree itself (the
    // GitRepository `flux-system` that bootstrap syncs), to tell which sources are this tree.
    let git: HashMap<(String, String), (String, String)> = docs()
        .filter(|(_, d)| is(d, "source.toolkit.fluxcd.io/", "GitRepository"))
        .filter_map(|(_, d)| {
            let ns = text(d, &["metadata", "namespace"]).unwrap_or_default();
            let reference = d.root.at(&["spec", "ref"]).map(|r| r.to_json().to_string());
            let url = normal(&text(d, &["spec", "url"])?);
            Some(((ns, text(d, &["metadata", "name"])?), (url, reference.unwrap_or_default())))
        })
        .collect();
    let own = git.get(&("flux-system".to_string(), "flux-system".to_string()));
    // Whether a Kustomization's source is this tree at this revision, so that what it builds
    // is read here: another branch of the same repository, or an artifact (an OCIRepository
    // that CI pushes), may hold other files.
    let builds_tree = |d: &crate::load::Document, own_ns: &str| {
        let kind =
            text(d, &["spec", "sourceRef", "kind"]).unwrap_or_else(|| "GitRepository".into());
        let name = text(d, &["spec", "sourceRef", "name"]).unwrap_or_default();
        let ns = text(d, &["spec", "sourceRef", "namespace"]).unwrap_or_else(|| own_ns.into());
        // Without the tree's own GitRepository to compare with, only `flux-system` is surely
        // this tree (another source may be another repository or branch: flux2-multi-tenancy's
        // tenants pull their own).
        kind == "GitRepository"
            && (name == "flux-system"
                || match (git.get(&(ns, name)), own) {
                    (Some(source), Some(own)) => source == own,
                    // A source the tree does not define: nothing says what it holds.
                    _ => false,
                })
    };
    // Whether a Kustomization's source can be this tree: its spec.path is then read here. An
    // artifact built elsewhere (ExternalArtifact, Bucket) or another repository is not.
    let source_is_tree = |d: &crate::load::Document, own_ns: &str| {
        let kind =
            text(d, &["spec", "sourceRef", "kind"]).unwrap_or_else(|| "GitRepository".into());
        let name = text(d, &["spec", "sourceRef", "name"]).unwrap_or_default();
        let ns = text(d, &["spec", "sourceRef", "namespace"]).unwrap_or_else(|| own_ns.into());
        match kind.as_str() {
            "GitRepository" if name == "flux-system" => true,
            "GitRepository" => match (git.get(&(ns, name)), own) {
                (Some((url, _)), Some((own, _))) => url == own,
                _ => true,
            },
            "OCIRepository" => true,
            _ => false,
        }
    };
    let flux = docs()
        .filter(|(_, d)| is(d, "kustomize.toolkit.fluxcd.io/", "Kustomization"))
        // `sourceRef` is required: one without it is a patch of a Kustomization, not one.
        .filter(|(_, d)| d.root.at(&["spec", "sourceRef"]).is_some())
        .filter(|(_, d)| {
            source_is_tree(d, &text(d, &["metadata", "namespace"]).unwrap_or_default())
        })
        .map(|(file, d)| {
            let ns = text(d, &["metadata", "namespace"]).unwrap_or_default();
            let name = text(d, &["metadata", "name"]).unwrap_or_default();
            kustomize::FluxTarget {
                defined_in: file.cloned(),
                document: d.index,
                flux: true,
                builds: builds_tree(d, &ns),
                path: text(d, &["spec", "path"]).unwrap_or_else(|| "./".into()),
                target_namespace: text(d, &["spec", "targetNamespace"]),
                default_namespace: None,
                params: None,
                owner: Arc::new(Deployer {
                    label: format!("Flux Kustomization `{ns}/{name}`"),
                    namespace: ns,
                }),
            }
        });
    let argo =
        docs().filter(|(_, d)| is(d, "argoproj.io/", "Application")).filter_map(|(file, d)| {
            let path = text(d, &["spec", "source", "path"]).or_else(|| {
                let sources = d.root.at(&["spec", "sources"])?.as_seq()?;
                sources.iter().find_map(|s| s.get("path")?.as_str().map(String::from))
            })?;
            let dest = text(d, &["spec", "destination", "namespace"]).unwrap_or_default();
            let ns = text(d, &["metadata", "namespace"]).unwrap_or_default();
            let name = text(d, &["metadata", "name"]).unwrap_or_default();
            Some(kustomize::FluxTarget::argo(
                (file.cloned(), d.index),
                path,
                dest,
                format!("Argo CD Application `{ns}/{name}`"),
                None,
            ))
        });
    let mut targets: Vec<kustomize::FluxTarget> = flux.chain(argo).collect();
    let (mut generated, problems) = appset::targets(files, roots);
    targets.append(&mut generated);
    (targets, problems)
}
