//! `kustomize build`, first slice (docs/RENDER.md, "Kustomize"): resources (files, directories,
//! nested kustomizations, bases), components, `namespace`, `namePrefix`/`nameSuffix`,
//! `commonLabels`/`labels`, `commonAnnotations`, `images`, `patches`, `patchesStrategicMerge`,
//! `patchesJson6902`, `configMapGenerator`, `secretGenerator`, `generatorOptions`, `replicas`
//! and `replacements` (`render/replacements.rs`), in kustomize's order. Every other field of a
//! kustomization is an error that names it (never ignored), and so are remote resources. Vars
//! and transformer configs are not built yet. Patch `options`: `allowNameChange`, `allowKindChange`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::patch::{self, Merged};
use super::tree::{TValue, Tree};
use crate::inventory::kinds;
use crate::load::discover::normalize;
use crate::load::source::Span;

use super::disk::{show, Result, KUSTOMIZATION_FILES};
pub use super::disk::{BuildError, Deleted, Disk, Loaded, Read};

/// How deep kustomizations may include each other (kustomize sets no limit; real trees nest a
/// few levels).
pub const MAX_NESTING: usize = 200;

/// Fields of a kustomization this slice builds (`apiVersion`, `kind` and `metadata` say nothing
/// about the output).
const BUILT: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "resources",
    "bases",
    "components",
    "namespace",
    "namePrefix",
    "nameSuffix",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "images",
    "replicas",
    "patches",
    "patchesStrategicMerge",
    "patchesJson6902",
    "configMapGenerator",
    "secretGenerator",
    "generatorOptions",
    "sortOptions",
    "replacements",
    "transformers",
];

/// Builds the kustomization in `dir` (a path from the root, `/` first).
/// The objects come out in the order the top kustomization's `sortOptions` asks for, else as
/// listed (kustomize's library default; see [`build_ordered`] for the command's).
pub fn build(disk: &Disk, dir: &Path) -> Result<Vec<Tree>> {
    build_ordered(disk, dir, &super::order::Order::Input, Restrictor::RootOnly)
}

/// Which files a kustomization may read (kustomize's `--load-restrictor`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restrictor {
    /// Files in or below the kustomization's directory (kustomize's default).
    RootOnly,
    /// Any file inside the root of the build (kustomize-controller's setting).
    None,
}

/// [`build`], in `order` when the top kustomization has no `sortOptions`, reading files as
/// `restrictor` allows.
pub fn build_ordered(
    disk: &Disk,
    dir: &Path,
    order: &super::order::Order,
    restrictor: Restrictor,
) -> Result<Vec<Tree>> {
    build_with(disk, dir, order, None, restrictor)
}

/// What a cluster entry makes of the kustomization at its path (kustomize-controller's
/// generator, `render/flux.rs`): fields set on it or appended to it, and a kustomization
/// generated when the directory has none.
pub struct Entry {
    /// A kustomization-shaped tree (nodes from the entry's file): its scalar fields replace the
    /// top kustomization's, its list fields are appended, its maps merged.
    pub overrides: Tree,
    /// How errors name the entry (`clusters/prod/apps.yaml`).
    pub shown: String,
    /// The resources of the kustomization generated when the directory has none (paths from
    /// the directory), each at the entry's `spec.path`.
    pub generated: Vec<(String, Span)>,
    /// Whether kustomizations may read files outside their own directory (kustomize-controller
    /// builds with `LoadRestrictionsNone`; `kustomize build` and Argo CD do not by default).
    pub files_anywhere: bool,
}

/// Builds the kustomization a cluster entry points at (see [`Entry`]).
pub fn build_entry(disk: &Disk, dir: &Path, entry: &Entry) -> Result<Vec<Tree>> {
    let restrictor = if entry.files_anywhere { Restrictor::None } else { Restrictor::RootOnly };
    build_with(disk, dir, &super::order::Order::Input, Some(entry), restrictor)
}

fn build_with(
    disk: &Disk,
    dir: &Path,
    order: &super::order::Order,
    entry: Option<&Entry>,
    restrictor: Restrictor,
) -> Result<Vec<Tree>> {
    let dir = normalize(&Path::new("/").join(dir));
    let root_only = restrictor == Restrictor::RootOnly;
    let mut builder = Builder { disk, stack: Vec::new(), sort: None, entry, root_only };
    let mut out = builder.kustomization(&dir, false, Vec::new())?;
    add_hashes(&mut out);
    out.iter_mut().for_each(finish);
    builder.sort.as_ref().unwrap_or(order).apply(&mut out);
    Ok(out)
}

/// Names generated objects with the hash of their content, last (as kustomize does, over the
/// whole build), and points the fields that name them at the new names.
fn add_hashes(out: &mut [Tree]) {
    let mut renames = Vec::new();
    for t in out.iter_mut() {
        if !super::generators::unmark(t) {
            continue;
        }
        let suffix = super::generators::hash(t);
        let Some(name) = t.at(&["metadata", "name"]).cloned() else { continue };
        let new = format!("{}-{suffix}", name.as_str().unwrap_or(""));
        renames.push(rename(t, new, name.file, name.span));
    }
    super::namereference::update(out, &renames);
}

/// Gives an object a new name (from `file` at `span`), and says so for the fields that name it.
fn rename(t: &mut Tree, new: String, file: u32, span: Span) -> super::namereference::Rename {
    let text =
        |t: &Tree, path: &[&str]| t.at(path).and_then(Tree::as_str).unwrap_or("").to_string();
    let (kind, namespace, old) =
        (text(t, &["kind"]), text(t, &["metadata", "namespace"]), text(t, &["metadata", "name"]));
    if let Some(meta) = t.get_mut("metadata") {
        meta.set("name", Tree::string(&new, file, span));
    }
    super::namereference::Rename { kind, namespace, old, new, new_namespace: None, file, span }
}

/// Where kustomize keeps the names and namespaces an object had before a transformer changed
/// them (comma-separated, oldest first): patches of an overlay still find a base object by the
/// name it has in the base. Taken out of the output.
const PREVIOUS_NAMES: &str = "internal.config.kubernetes.io/previousNames";
const PREVIOUS_NAMESPACES: &str = "internal.config.kubernetes.io/previousNamespaces";

/// Records the object's current name and namespace before a transformer changes one of them.
fn remember(t: &mut Tree, file: u32, span: Span) {
    let current = identities(t).swap_remove(0);
    remember_as(t, &current, file, span);
}

/// Records a name and namespace the object had.
fn remember_as(t: &mut Tree, (name, namespace): &(String, String), file: u32, span: Span) {
    let (name, namespace) = (name.clone(), namespace.clone());
    let Some(annotations) =
        t.map_at("metadata", file, span).and_then(|m| m.map_at("annotations", file, span))
    else {
        return;
    };
    for (key, value) in [(PREVIOUS_NAMES, name), (PREVIOUS_NAMESPACES, namespace)] {
        let list = match annotations.get(key).and_then(Tree::as_str) {
            Some(before) => format!("{before},{value}"),
            None => value,
        };
        annotations.set(key, Tree::string(&list, file, span));
    }
}

/// Every (name, namespace) the object has had, the current one first.
pub(super) fn identities(t: &Tree) -> Vec<(String, String)> {
    let meta =
        |key: &str| t.at(&["metadata", key]).and_then(Tree::as_str).unwrap_or("").to_string();
    let mut ids = vec![(meta("name"), meta("namespace"))];
    let previous = |key: &str| {
        t.at(&["metadata", "annotations", key])
            .and_then(Tree::as_str)
            .map(|s| s.split(',').map(str::to_string).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    ids.extend(previous(PREVIOUS_NAMES).into_iter().zip(previous(PREVIOUS_NAMESPACES)));
    ids
}

/// The object as the build outputs it: without kustomize's internal annotations, and with label
/// and annotation values as strings (as kustomize writes them).
fn finish(t: &mut Tree) {
    let Some(meta) = t.get_mut("metadata") else { return };
    for key in ["labels", "annotations"] {
        let Some(map) = meta.get_mut(key) else { continue };
        let had_internal = map.remove(PREVIOUS_NAMES) | map.remove(PREVIOUS_NAMESPACES);
        if let TValue::Map(fields) = &mut map.value {
            for f in fields.iter_mut() {
                let text = match &f.value.value {
                    TValue::Int(i) => i.to_string(),
                    TValue::Bool(b) => b.to_string(),
                    TValue::Float(x) => x.to_string(),
                    _ => continue,
                };
                f.value.value = TValue::Str(text.into());
            }
            if had_internal && fields.is_empty() {
                meta.remove(key);
            }
        }
    }
    // kustomize writes no empty (or null) annotations.
    let empty = match meta.get("annotations").map(|a| &a.value) {
        Some(TValue::Null) => true,
        Some(TValue::Map(f)) => f.is_empty(),
        _ => false,
    };
    if empty {
        meta.remove("annotations");
    }
}

/// An object's identity as kustomize compares them when accumulating resources: group,
/// version, kind, name and effective namespace (`default` when unset, none when cluster-scoped).
#[derive(Clone, PartialEq, Eq, Hash)]
struct Id<'t> {
    api: &'t str,
    kind: &'t str,
    name: &'t str,
    namespace: Option<&'t str>,
}

impl<'t> Id<'t> {
    fn of(t: &'t Tree) -> Id<'t> {
        let text = |path: &[&str]| t.at(path).and_then(Tree::as_str).unwrap_or("");
        let namespace = (!cluster_scoped(t)).then(|| match text(&["metadata", "namespace"]) {
            "" => "default",
            ns => ns,
        });
        Id {
            api: text(&["apiVersion"]),
            kind: text(&["kind"]),
            name: text(&["metadata", "name"]),
            namespace,
        }
    }
}

/// The first object whose identity an earlier one has, and that identity.
fn first_duplicate(out: &[Tree]) -> Option<(usize, Id<'_>)> {
    let mut seen = std::collections::HashSet::with_capacity(out.len());
    out.iter().enumerate().map(|(i, t)| (i, Id::of(t))).find(|(_, id)| !seen.insert(id.clone()))
}

impl std::fmt::Display for Id<'_> {
    /// kustomize's spelling: `Deployment.v1.apps/web.[noNs]`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (group, version) = kinds::split_api_version(self.api);
        let group = if group.is_empty() { "[noGrp]" } else { group };
        let namespace = match self.namespace {
            None | Some("default") => "[noNs]",
            Some(ns) => ns,
        };
        write!(f, "{}.{version}.{group}/{}.{namespace}", self.kind, self.name)
    }
}

pub(super) struct Builder<'d> {
    pub(super) disk: &'d Disk<'d>,
    /// Kustomization directories being built (a cycle is an error).
    stack: Vec<PathBuf>,
    /// The top kustomization's `sortOptions` (those of the others are checked, not used).
    sort: Option<super::order::Order>,
    /// The cluster entry that builds the top kustomization, if any.
    entry: Option<&'d Entry>,
    /// Whether a kustomization reads files only in or below its directory.
    root_only: bool,
}

/// A kustomization being applied: its file, its tree, and where to report.
pub(super) struct Kustomization {
    pub(super) file: u32,
    pub(super) shown: String,
    pub(super) dir: PathBuf,
    pub(super) tree: Tree,
    /// Files (not kustomizations) must be in or below `dir` (kustomize's default load
    /// restrictor).
    pub(super) root_only: bool,
}

impl Kustomization {
    /// Refuses a file outside the kustomization's directory when files are restricted to it.
    pub(super) fn may_read(&self, path: &Path, line: Option<u32>) -> Result<()> {
        if self.root_only && !path.starts_with(&self.dir) {
            return Err(BuildError {
                file: self.shown.clone(),
                line,
                message: format!(
                    "security; file '{}' is not in or below '{}' (kustomize's default load restrictor; kustomize-controller builds without it)",
                    show(path),
                    show(&self.dir)
                ),
            });
        }
        Ok(())
    }

    pub(super) fn error(&self, node: Option<&Tree>, message: String) -> BuildError {
        BuildError { file: self.shown.clone(), line: node.map(|n| n.span.start.line), message }
    }

    /// The entries of a list field; none when it is absent or empty (`patches:` with every
    /// entry commented out).
    pub(super) fn list(&self, key: &str) -> Result<&[Tree]> {
        match self.tree.get(key).map(|n| (n, &n.value)) {
            None | Some((_, TValue::Null)) => Ok(&[]),
            Some((_, TValue::Seq(items))) => Ok(items),
            Some((node, _)) => Err(self.error(Some(node), format!("`{key}` must be a list"))),
        }
    }

    fn strings(&self, key: &str) -> Result<Vec<(String, Span)>> {
        let Some(node) = self.tree.get(key) else { return Ok(Vec::new()) };
        match &node.value {
            TValue::Seq(items) => items
                .iter()
                .map(|i| {
                    i.as_str().map(|s| (s.to_string(), i.span)).ok_or_else(|| {
                        self.error(Some(i), format!("`{key}` entries must be strings"))
                    })
                })
                .collect(),
            TValue::Null => Ok(Vec::new()),
            _ => Err(self.error(Some(node), format!("`{key}` must be a list"))),
        }
    }
}

impl Builder<'_> {
    /// The directory's kustomization file; more than one is an error, as in kustomize.
    fn find_kustomization(&self, dir: &Path) -> Result<Option<PathBuf>> {
        let mut found =
            KUSTOMIZATION_FILES.iter().map(|n| dir.join(n)).filter(|p| self.disk.is_file(p));
        let first = found.next();
        if first.is_some() && found.next().is_some() {
            return Err(BuildError {
                file: show(dir),
                line: None,
                message: format!("Found multiple kustomization files under: {}", show(dir)),
            });
        }
        Ok(first)
    }

    /// Builds a kustomization (or a component, applied to `accumulated`).
    pub(super) fn kustomization(
        &mut self,
        dir: &Path,
        component: bool,
        mut accumulated: Vec<Tree>,
    ) -> Result<Vec<Tree>> {
        let entry = self.entry.filter(|_| self.stack.is_empty());
        let found = self.find_kustomization(dir)?;
        if let (Some(entry), None) = (entry, &found) {
            // kustomize-controller generates a kustomization of the directory's manifests.
            let file = entry.overrides.file;
            let mut tree = entry.overrides.clone();
            let resources = entry
                .generated
                .iter()
                .map(|(path, span)| Tree::string(path, file, *span))
                .collect();
            let span = entry.overrides.span;
            tree.set("resources", Tree { file, span, value: TValue::Seq(resources) });
            let k = Kustomization {
                file,
                shown: entry.shown.clone(),
                dir: dir.to_path_buf(),
                tree,
                root_only: self.root_only,
            };
            self.stack.push(dir.to_path_buf());
            let result = self.apply(&k, &mut accumulated);
            self.stack.pop();
            return result.map(|()| accumulated);
        }
        let Some(path) = found else {
            return Err(BuildError {
                file: show(dir),
                line: None,
                message: format!(
                    "unable to find one of 'kustomization.yaml', 'kustomization.yml' or 'Kustomization' in directory '{}'",
                    show(dir)
                ),
            });
        };
        if self.stack.len() >= MAX_NESTING {
            return Err(BuildError {
                file: show(&path),
                line: None,
                message: format!("kustomizations nest more than {MAX_NESTING} deep: not built"),
            });
        }
        if self.stack.iter().any(|d| d == dir) {
            return Err(BuildError {
                file: show(&path),
                line: None,
                message: format!("cycle detected: {} includes itself", show(dir)),
            });
        }
        let (file, docs) = self.disk.read(&path)?;
        let root = docs
            .first()
            .map_or_else(|| Tree::map(file, Span::default()), |n| Tree::from_node(n, file));
        let mut k = Kustomization {
            file,
            shown: show(&path),
            dir: dir.to_path_buf(),
            tree: root,
            root_only: self.root_only,
        };
        if let TValue::Map(fields) = &k.tree.value {
            if let Some(f) = fields.iter().find(|f| !BUILT.contains(&f.key.as_str())) {
                return Err(BuildError {
                    file: k.shown.clone(),
                    line: Some(f.key_span.start.line),
                    message: format!("`{}` is not supported yet", f.key),
                });
            }
        }
        if let Some(entry) = entry {
            overlay(&mut k.tree, &entry.overrides);
        }
        let kind = k.tree.get("kind").and_then(Tree::as_str).unwrap_or("Kustomization");
        check_type(&k, kind)?;
        // A component is applied by a kustomization, or built on its own at the top.
        let top = self.stack.is_empty();
        if component != (kind == "Component") && !(top && kind == "Component") {
            let what = if component { "a component" } else { "a kustomization" };
            return Err(k.error(k.tree.get("kind"), format!("{} is used as {what}", show(&path))));
        }
        let error = |n: &Tree, m: String| k.error(Some(n), m);
        let sort = super::order::Order::from_kustomization(&k.tree, &error)?;
        if top {
            self.sort = sort;
        }
        self.stack.push(dir.to_path_buf());
        let result = self.apply(&k, &mut accumulated);
        self.stack.pop();
        result.map(|()| accumulated)
    }

    fn apply(&mut self, k: &Kustomization, out: &mut Vec<Tree>) -> Result<()> {
        let mut entries = k.strings("resources")?;
        entries.extend(k.strings("bases")?);
        // Where each entry's objects start, to name the entry that adds an object twice.
        let mut starts = Vec::with_capacity(entries.len());
        for (entry, span) in &entries {
            self.disk.trail.borrow_mut().push((k.file, *span));
            let objects = self.resource(k, entry, *span);
            self.disk.trail.borrow_mut().pop();
            starts.push(out.len());
            out.extend(objects?);
        }
        if let Some((i, id)) = first_duplicate(out) {
            let adding = starts.partition_point(|&s| s <= i).checked_sub(1);
            let (line, by) = match adding.and_then(|a| entries.get(a)) {
                Some((entry, span)) => {
                    (Some(span.start.line), format!(" (`{entry}` adds it again)"))
                }
                None => (None, String::new()),
            };
            return Err(BuildError {
                file: k.shown.clone(),
                line,
                message: format!("may not add resource with an already registered id: {id}{by}"),
            });
        }
        for (entry, span) in k.strings("components")? {
            let dir = Self::local(k, &entry, span)?;
            let taken = std::mem::take(out);
            self.disk.trail.borrow_mut().push((k.file, span));
            let built = self.kustomization(&dir, true, taken);
            self.disk.trail.borrow_mut().pop();
            *out = built?;
        }
        let generating = super::generators::Generating {
            disk: self.disk,
            file: k.file,
            shown: &k.shown,
            dir: &k.dir,
            kustomization: &k.tree,
            root_only: k.root_only,
        };
        super::generators::run(&generating, out)?;
        transform(k, self.disk, out)?;
        self.transformers(k, out)
    }

    /// A path a kustomization names, from its directory; remote ones are refused.
    fn local(k: &Kustomization, entry: &str, span: Span) -> Result<PathBuf> {
        if entry.contains("://") || entry.starts_with("github.com/") || entry.starts_with("git@") {
            return Err(BuildError {
                file: k.shown.clone(),
                line: Some(span.start.line),
                message: format!("`{entry}` is remote: remote resources are not fetched"),
            });
        }
        Ok(normalize(&k.dir.join(entry)))
    }

    fn resource(&mut self, k: &Kustomization, entry: &str, span: Span) -> Result<Vec<Tree>> {
        let path = Self::local(k, entry, span)?;
        if self.disk.real(&path).is_none() {
            return Err(BuildError {
                file: k.shown.clone(),
                line: Some(span.start.line),
                message: format!("`{entry}` leaves the root of the build"),
            });
        }
        if self.disk.is_dir(&path) {
            return self.kustomization(&path, false, Vec::new());
        }
        if !self.disk.is_file(&path) {
            return Err(BuildError {
                file: k.shown.clone(),
                line: Some(span.start.line),
                message: format!("accumulating resources: '{}' does not exist", show(&path)),
            });
        }
        k.may_read(&path, Some(span.start.line))?;
        let (file, docs) = self.disk.read(&path)?;
        let mut objects = Vec::new();
        for doc in &docs {
            let tree = Tree::from_node(doc, file);
            // A `List` contributes its items, as kustomize reads it.
            let is_list =
                tree.get("kind").and_then(Tree::as_str).is_some_and(|k| k.ends_with("List"))
                    && tree.get("items").is_some();
            match tree.get("items").map(|i| &i.value) {
                Some(TValue::Seq(items)) if is_list => objects.extend(items.iter().cloned()),
                _ => objects.push(tree),
            }
        }
        Ok(objects)
    }
}

/// A kustomization's `kind` and `apiVersion` as kustomize requires them.
fn check_type(k: &Kustomization, kind: &str) -> Result<()> {
    if kind != "Kustomization" && kind != "Component" {
        return Err(k.error(k.tree.get("kind"), "kind should be Kustomization or Component".into()));
    }
    let required = if kind == "Component" {
        "kustomize.config.k8s.io/v1alpha1"
    } else {
        "kustomize.config.k8s.io/v1beta1"
    };
    match k.tree.get("apiVersion") {
        Some(api) if api.as_str().is_some_and(|a| !a.is_empty() && a != required) => {
            Err(k.error(Some(api), format!("apiVersion for {kind} should be {required}")))
        }
        _ => Ok(()),
    }
}

/// Sets a cluster entry's fields on a kustomization: scalars replace, lists are appended, maps
/// merged (the entry's keys win).
fn overlay(k: &mut Tree, overrides: &Tree) {
    let TValue::Map(fields) = &overrides.value else { return };
    for f in fields {
        if f.key == "images" {
            merge_images(k, &f.value);
            continue;
        }
        match (k.get_mut(&f.key), &f.value.value) {
            (Some(Tree { value: TValue::Seq(mine), .. }), TValue::Seq(more)) => {
                mine.extend(more.iter().cloned());
            }
            (Some(mine @ Tree { value: TValue::Map(_), .. }), TValue::Map(more)) => {
                for m in more {
                    mine.set(&m.key, m.value.clone());
                }
            }
            _ => {
                k.set(&f.key, f.value.clone());
            }
        }
    }
}

/// A cluster entry's `images`: an image the kustomization names already takes the entry's
/// `newName`, and its `newTag` and `digest` together; others are appended.
fn merge_images(k: &mut Tree, images: &Tree) {
    let TValue::Seq(more) = &images.value else { return };
    if !matches!(k.get("images").map(|i| &i.value), Some(TValue::Seq(_))) {
        k.set("images", Tree { value: TValue::Seq(Vec::new()), ..images.clone() });
    }
    let Some(TValue::Seq(mine)) = k.get_mut("images").map(|i| &mut i.value) else { return };
    for image in more {
        let name = image.get("name").and_then(Tree::as_str);
        let Some(existing) = mine.iter_mut().find(|m| m.get("name").and_then(Tree::as_str) == name)
        else {
            mine.push(image.clone());
            continue;
        };
        if let Some(new_name) = image.get("newName") {
            existing.set("newName", new_name.clone());
        }
        if image.get("newTag").is_some() || image.get("digest").is_some() {
            existing.remove("newTag");
            existing.remove("digest");
            for key in ["newTag", "digest"] {
                if let Some(value) = image.get(key) {
                    existing.set(key, value.clone());
                }
            }
        }
    }
}

/// kustomize's transformers, in its order: patches, namespace, prefix and suffix, labels,
/// annotations, JSON 6902 patches, replicas, images, replacements.
pub(super) fn transform(k: &Kustomization, disk: &Disk, out: &mut Vec<Tree>) -> Result<()> {
    patches_strategic_merge(k, disk, out)?;
    patches(k, disk, out)?;
    namespace(k, out);
    name_affixes(k, out);
    labels(k, out)?;
    annotations(k, out)?;
    patches_json6902(k, disk, out)?;
    replicas(k, out)?;
    images(k, out)?;
    super::replacements::run(k, disk, out)
}

fn is_builtin(t: &Tree) -> bool {
    let api = t.get("apiVersion").and_then(Tree::as_str).unwrap_or("");
    let kind = t.get("kind").and_then(Tree::as_str).unwrap_or("");
    kinds::builtin(api, kind).is_some()
}

pub(super) fn cluster_scoped(t: &Tree) -> bool {
    let api = t.get("apiVersion").and_then(Tree::as_str).unwrap_or("");
    let kind = t.get("kind").and_then(Tree::as_str).unwrap_or("");
    kinds::is_cluster_scoped(api, kind, &HashMap::<(String, String), bool>::new())
}

/// A patch given inline (`patch:`) or as a file (`path:`), as trees (one per document).
fn patch_body(k: &Kustomization, disk: &Disk, spec: &Tree) -> Result<Vec<Tree>> {
    if let Some(text) = spec.get("patch").and_then(Tree::as_str) {
        let parsed = crate::load::yaml::parse_stream(text, &disk.limits);
        if let Some(p) = parsed.problems.first() {
            return Err(k.error(
                spec.get("patch"),
                format!("the inline patch does not parse: {}", p.message),
            ));
        }
        // Inline text keeps the kustomization (or cluster entry) as its source: each line of
        // a literal block (`patch: |`) is found where it is written, other text at `patch:`.
        let (file, at) = spec.get("patch").map_or((k.file, spec.span), |p| (p.file, p.span));
        let block = disk.text_of(file).and_then(|text| literal_block(&text, at));
        return Ok(parsed
            .documents
            .iter()
            .map(|d| {
                let mut t = Tree::from_node(&d.root, file);
                match block {
                    Some((line, indent)) => shift(&mut t, line, indent),
                    None => respan(&mut t, at),
                }
                t
            })
            .collect());
    }
    if let Some(path) = spec.get("path").and_then(Tree::as_str) {
        let path = normalize(&k.dir.join(path));
        k.may_read(&path, spec.get("path").map(|p| p.span.start.line))?;
        let (file, docs) =
            disk.read(&path).map_err(|e| k.error(spec.get("path"), e.to_string()))?;
        return Ok(docs.iter().map(|d| Tree::from_node(d, file)).collect());
    }
    if let Some(name) = spec.as_str() {
        return Err(k.error(
            Some(spec),
            format!("a patch needs `path` or `patch`: kustomize 5 does not read a bare file name (write `- path: {name}`)"),
        ));
    }
    Err(k.error(Some(spec), "a patch needs `path` or `patch`".into()))
}

/// Where the text of a literal block scalar whose node spans `at` is written: the line before
/// its first line (so that text line `n` is source line `line + n`) and its indentation. `None`
/// for any other scalar. (The node starts at the `|` indicator or at the first line of text.)
fn literal_block(text: &str, at: Span) -> Option<(u32, u32)> {
    let start = at.start.line.checked_sub(1)? as usize;
    let mut lines = text.lines().skip(start.saturating_sub(1));
    let before = if start == 0 { "" } else { lines.next()? };
    let first = lines.next()?;
    let header: String = first.chars().skip(at.start.col as usize).collect();
    let indicator = |s: &str| {
        s.strip_prefix('|').is_some_and(|rest| {
            let rest = rest.split('#').next().unwrap_or("").trim();
            rest.chars().all(|c| matches!(c, '-' | '+' | '1'..='9'))
        })
    };
    let (line, content) = if indicator(header.trim_end()) {
        (at.start.line, lines.find(|l| !l.trim().is_empty())?)
    } else if before
        .rsplit_once(": ")
        .or_else(|| before.rsplit_once("- "))
        .is_some_and(|(_, v)| indicator(v.trim_end()))
    {
        (at.start.line - 1, first)
    } else {
        return None;
    };
    let indent = content.chars().take_while(|c| *c == ' ').count();
    Some((line, u32::try_from(indent).ok()?))
}

/// Moves every span of a tree parsed from a literal block to where its text is written.
fn shift(t: &mut Tree, line: u32, indent: u32) {
    let moved = |p: crate::load::source::Pos| crate::load::source::Pos {
        line: p.line + line,
        col: p.col + indent,
    };
    t.span = Span::new(moved(t.span.start), moved(t.span.end));
    match &mut t.value {
        TValue::Seq(items) => items.iter_mut().for_each(|i| shift(i, line, indent)),
        TValue::Map(fields) => fields.iter_mut().for_each(|f| {
            f.key_span = Span::new(moved(f.key_span.start), moved(f.key_span.end));
            shift(&mut f.value, line, indent);
        }),
        _ => {}
    }
}

/// Points every node of an inline patch at the `patch:` field that holds its text.
fn respan(t: &mut Tree, span: Span) {
    t.span = span;
    match &mut t.value {
        TValue::Seq(items) => items.iter_mut().for_each(|i| respan(i, span)),
        TValue::Map(fields) => fields.iter_mut().for_each(|f| {
            f.key_span = span;
            respan(&mut f.value, span);
        }),
        _ => {}
    }
}

/// The objects of a build by every name they have had, kept while patches are applied: made
/// again only after a patch renamed or deleted objects.
struct Names {
    index: HashMap<String, Vec<usize>>,
    stale: bool,
}

impl Default for Names {
    fn default() -> Self {
        Names { index: HashMap::new(), stale: true }
    }
}

impl Names {
    fn ensure(&mut self, out: &[Tree]) {
        if !self.stale {
            return;
        }
        self.index.clear();
        for (i, t) in out.iter().enumerate() {
            let name = t.at(&["metadata", "name"]).and_then(Tree::as_str).unwrap_or("");
            self.index.entry(name.to_string()).or_default().push(i);
            if t.at(&["metadata", "annotations", PREVIOUS_NAMES]).is_some() {
                for (earlier, _) in identities(t).into_iter().skip(1) {
                    let list = self.index.entry(earlier).or_default();
                    if list.last() != Some(&i) {
                        list.push(i);
                    }
                }
            }
        }
        self.stale = false;
    }
}

/// A patch's `target`, compiled once for all the objects it is tried on.
pub(super) struct Selector<'t> {
    /// `group`, `version`, `kind`, `name`, `namespace` as anchored regular expressions.
    fields: Vec<(&'static str, Pattern<'t>)>,
    /// (`labels` or `annotations`, the selector's terms).
    terms: Vec<(&'static str, &'t str)>,
}

impl<'t> Selector<'t> {
    pub(super) fn new(
        target: &'t Tree,
        error: &dyn Fn(&Tree, String) -> BuildError,
    ) -> Result<Self> {
        let mut fields = Vec::new();
        for key in ["group", "version", "kind", "name", "namespace"] {
            if let Some((node, wanted)) =
                target.get(key).and_then(|n| Some((n, n.as_str()?))).filter(|(_, w)| !w.is_empty())
            {
                let pattern = if wanted.chars().all(|c| c.is_alphanumeric() || "-_/:@".contains(c))
                {
                    Pattern::Literal(wanted)
                } else {
                    Pattern::Regex(
                        regex::Regex::new(&format!("^(?:{wanted})$"))
                            .map_err(|e| error(node, format!("target `{key}`: {e}")))?,
                    )
                };
                fields.push((key, pattern));
            }
        }
        let terms = [("labelSelector", "labels"), ("annotationSelector", "annotations")]
            .into_iter()
            .filter_map(|(key, field)| Some((field, target.get(key)?.as_str()?)))
            .collect();
        Ok(Selector { fields, terms })
    }

    /// Whether the object is selected. A name or namespace matches the one the object has now
    /// or any it had (kustomize tries the original and the current one).
    fn matches(&self, t: &Tree) -> bool {
        self.matches_id(t) && self.matches_terms(t)
    }

    /// Whether the selector names group, version, kind, name or namespace.
    pub(super) fn has_fields(&self) -> bool {
        !self.fields.is_empty()
    }

    /// Whether the selector has a label or annotation selector.
    pub(super) fn has_terms(&self) -> bool {
        !self.terms.is_empty()
    }

    /// Whether the object's group, version, kind, name and namespace are selected.
    pub(super) fn matches_id(&self, t: &Tree) -> bool {
        let api = t.get("apiVersion").and_then(Tree::as_str).unwrap_or("");
        let (group, version) = kinds::split_api_version(api);
        let kind = t.get("kind").and_then(Tree::as_str).unwrap_or("");
        // Earlier names and namespaces (which allocate) only for objects that have had some.
        let meta = |key: &str| t.at(&["metadata", key]).and_then(Tree::as_str).unwrap_or("");
        let earlier = t
            .at(&["metadata", "annotations", PREVIOUS_NAMES])
            .map(|_| identities(t).split_off(1))
            .unwrap_or_default();
        self.fields.iter().all(|(key, re)| match *key {
            "group" => re.is_match(group),
            "version" => re.is_match(version),
            "kind" => re.is_match(kind),
            "name" => re.is_match(meta("name")) || earlier.iter().any(|(n, _)| re.is_match(n)),
            _ => re.is_match(meta("namespace")) || earlier.iter().any(|(_, ns)| re.is_match(ns)),
        })
    }

    /// Whether the object's labels and annotations are selected.
    pub(super) fn matches_terms(&self, t: &Tree) -> bool {
        self.terms.iter().all(|(field, selector)| {
            let have = |k: &str, v: Option<&str>| {
                t.at(&["metadata", field, k])
                    .and_then(Tree::as_str)
                    .is_some_and(|x| v.is_none_or(|v| v == x))
            };
            selector.split(',').map(str::trim).filter(|s| !s.is_empty()).all(|term| {
                match term.split_once("!=") {
                    Some((k, v)) => !have(k.trim(), Some(v.trim())),
                    None => match term.split_once('=') {
                        Some((k, v)) => have(k.trim(), Some(v.trim_start_matches('=').trim())),
                        None => match term.strip_prefix('!') {
                            Some(k) => !have(k.trim(), None),
                            None => have(term, None),
                        },
                    },
                }
            })
        })
    }
}

/// One field of a selector: text without regular-expression syntax is compared as it is (most
/// targets name a kind or an object), the rest is matched whole.
enum Pattern<'t> {
    Literal(&'t str),
    Regex(regex::Regex),
}

impl Pattern<'_> {
    fn is_match(&self, text: &str) -> bool {
        match self {
            Pattern::Literal(wanted) => *wanted == text,
            Pattern::Regex(re) => re.is_match(text),
        }
    }
}

/// What a patch may change of the objects it patches (its `options`).
#[derive(Clone, Copy, Debug, Default)]
struct Allow {
    name: bool,
    kind: bool,
}

/// The objects a patch without a target names: by their current name and namespace or one
/// they had before (an overlay patches a base object by its base name). More than one is an
/// error for the caller, as in kustomize.
fn named_objects(body: &Tree, out: &[Tree], names: Option<&mut Names>) -> Vec<usize> {
    let want_name = body.at(&["metadata", "name"]).and_then(Tree::as_str);
    let want_ns = body.at(&["metadata", "namespace"]).and_then(Tree::as_str);
    let same_type = |t: &Tree| {
        ["apiVersion", "kind"]
            .iter()
            .all(|f| t.get(f).and_then(Tree::as_str) == body.get(f).and_then(Tree::as_str))
    };
    let wanted = |name: &str, ns: &str| {
        want_name.is_none_or(|w| w == name) && want_ns.is_none_or(|w| w == ns)
    };
    // The current identity is read in place; the earlier ones (which allocate) only for objects
    // that have had another.
    let is_named = |t: &Tree| {
        if !same_type(t) {
            return false;
        }
        let meta = |key: &str| t.at(&["metadata", key]).and_then(Tree::as_str).unwrap_or("");
        if wanted(meta("name"), meta("namespace")) {
            return true;
        }
        t.at(&["metadata", "annotations", PREVIOUS_NAMES]).is_some()
            && identities(t).iter().skip(1).any(|(name, ns)| wanted(name, ns))
    };
    // Objects by name: most patches name one, and a fleet's overlay applies hundreds of patches
    // to thousands of objects.
    let candidates = match (want_name, names) {
        (Some(w), Some(names)) => {
            names.ensure(out);
            names.index.get(w).cloned().unwrap_or_default()
        }
        _ => (0..out.len()).collect(),
    };
    candidates.into_iter().filter(|&i| is_named(&out[i])).collect()
}

/// Applies one patch document to the objects it targets (its `target`, else the object it
/// names).
fn apply_patch(
    k: &Kustomization,
    disk: &Disk,
    at: &Tree,
    body: &Tree,
    (target, allow): (Option<&Tree>, Allow),
    out: &mut Vec<Tree>,
    mut names: Option<&mut Names>,
) -> Result<()> {
    let error = |n: &Tree, m: String| k.error(Some(n), m);
    let selector = target.map(|t| Selector::new(t, &error)).transpose()?;
    let fail = |e: patch::PatchError| k.error(Some(at), e.to_string());
    if matches!(body.value, TValue::Seq(_)) {
        if target.is_none() {
            return Err(k.error(Some(at), "a JSON 6902 patch needs a `target`".into()));
        }
        let mut renamed = false;
        for t in out.iter_mut().filter(|t| selector.as_ref().is_some_and(|s| s.matches(t))) {
            let before = identities(t).swap_remove(0);
            patch::json6902(t, body).map_err(fail)?;
            if identities(t)[0] != before {
                remember_as(t, &before, at.file, at.span);
                renamed = true;
            }
        }
        if let (true, Some(names)) = (renamed, names) {
            names.stale = true;
        }
        return Ok(());
    }
    // A strategic merge patch without a target is applied to the object it names.
    let want_name = body.at(&["metadata", "name"]).and_then(Tree::as_str);
    let by_name =
        if target.is_some() { Vec::new() } else { named_objects(body, out, names.as_deref_mut()) };
    if target.is_none() && by_name.len() > 1 {
        let name = want_name.unwrap_or("");
        return Err(k.error(
            Some(at),
            format!("{} resources match the patch of `{name}`: it is ambiguous", by_name.len()),
        ));
    }
    // The patch's own identity does not rename (or re-kind) what it patches, unless its
    // options allow it.
    let mut body = body.clone();
    if !(allow.kind && target.is_some()) {
        for f in ["apiVersion", "kind"] {
            body.remove(f);
        }
    }
    if let Some(meta) = body.get_mut("metadata") {
        if !(allow.name && target.is_some()) {
            meta.remove("name");
        }
        meta.remove("namespace");
    }
    let renames = body.at(&["metadata", "name"]).is_some();
    let mut matched = false;
    let mut deleted = Vec::new();
    for (i, t) in out.iter_mut().enumerate() {
        let chosen = match &selector {
            Some(s) => s.matches(t),
            None => by_name.contains(&i),
        };
        if !chosen {
            continue;
        }
        matched = true;
        let builtin = is_builtin(t);
        if renames {
            remember(t, at.file, at.span);
        }
        if patch::strategic_merge(t, &body, builtin).map_err(fail)? == Merged::Deleted {
            deleted.push(i);
        }
    }
    // What the cluster will not receive, and the patch's `$patch: delete` line that is why.
    let cause = match &body.value {
        TValue::Map(fields) => fields
            .iter()
            .find(|f| f.key == "$patch")
            .map_or((body.file, body.span), |f| (f.key_file, f.key_span.to(f.value.span))),
        _ => (body.file, body.span),
    };
    if renames && matched || !deleted.is_empty() {
        if let Some(names) = names {
            names.stale = true;
        }
    }
    for i in deleted.into_iter().rev() {
        let object = out.remove(i);
        disk.deleted.borrow_mut().push(Deleted { object, file: cause.0, span: cause.1 });
    }
    if !matched && target.is_none() {
        let name = body.at(&["metadata", "name"]).and_then(Tree::as_str).unwrap_or("");
        let kind = body.get("kind").and_then(Tree::as_str).unwrap_or("");
        return Err(k.error(Some(at), format!("no resource matches the patch of {kind} `{name}`")));
    }
    Ok(())
}

fn patches_strategic_merge(k: &Kustomization, disk: &Disk, out: &mut Vec<Tree>) -> Result<()> {
    let items = k.list("patchesStrategicMerge")?;
    for item in items {
        let text =
            item.as_str().ok_or_else(|| k.error(Some(item), "entries must be strings".into()))?;
        // An entry is a file name, or a patch written inline.
        let inline = text.contains('\n') || text.trim_start().starts_with('{');
        let mut spec = Tree::map(k.file, item.span);
        spec.set(if inline { "patch" } else { "path" }, item.clone());
        let bodies = patch_body(k, disk, &spec)?;
        // An empty `patches` entry is skipped, an empty `patchesStrategicMerge` one is not.
        if bodies.iter().all(|b| matches!(b.value, TValue::Null)) {
            return Err(k.error(Some(item), "the patch is empty (it has no document)".into()));
        }
        for body in bodies {
            apply_patch(k, disk, item, &body, (None, Allow::default()), out, None)?;
        }
    }
    Ok(())
}

fn patches(k: &Kustomization, disk: &Disk, out: &mut Vec<Tree>) -> Result<()> {
    let items = k.list("patches")?;
    let mut names = Names::default();
    for item in items {
        let mut allow = Allow::default();
        if let Some(options) = item.get("options") {
            let TValue::Map(fields) = &options.value else {
                return Err(k.error(Some(options), "patch `options` must be a mapping".into()));
            };
            for f in fields {
                let on = matches!(f.value.value, TValue::Bool(true));
                match f.key.as_str() {
                    "allowNameChange" => allow.name = on,
                    "allowKindChange" => allow.kind = on,
                    other => {
                        return Err(k.error(
                            Some(&f.value),
                            format!("patch option `{other}` is not supported yet"),
                        ))
                    }
                }
            }
        }
        for body in patch_body(k, disk, item)? {
            apply_patch(k, disk, item, &body, (item.get("target"), allow), out, Some(&mut names))?;
        }
    }
    Ok(())
}

fn patches_json6902(k: &Kustomization, disk: &Disk, out: &mut Vec<Tree>) -> Result<()> {
    let items = k.list("patchesJson6902")?;
    for item in items {
        let target = item
            .get("target")
            .ok_or_else(|| k.error(Some(item), "a JSON 6902 patch needs a `target`".into()))?;
        for body in patch_body(k, disk, item)? {
            let body = if matches!(body.value, TValue::Seq(_)) {
                body
            } else {
                return Err(
                    k.error(Some(item), "a JSON 6902 patch must be a list of operations".into())
                );
            };
            apply_patch(k, disk, item, &body, (Some(target), Allow::default()), out, None)?;
        }
    }
    Ok(())
}

/// `namespace:` on every namespaced object (and the name of Namespace objects).
fn namespace(k: &Kustomization, out: &mut [Tree]) {
    let Some(node) = k.tree.get("namespace") else { return };
    let Some(ns) = node.as_str().filter(|s| !s.is_empty()) else { return };
    // ServiceAccounts that move: bindings that name them with their namespace follow.
    let moves: Vec<super::namereference::Rename> = out
        .iter()
        .filter(|t| t.get("kind").and_then(Tree::as_str) == Some("ServiceAccount"))
        .filter_map(|t| {
            let (name, old_ns) = identities(t).swap_remove(0);
            (old_ns != ns).then(|| super::namereference::Rename {
                kind: "ServiceAccount".into(),
                namespace: old_ns,
                old: name.clone(),
                new: name,
                new_namespace: Some(ns.to_string()),
                file: node.file,
                span: node.span,
            })
        })
        .collect();
    super::namereference::update(out, &moves);
    for t in out.iter_mut() {
        let kind = t.get("kind").and_then(Tree::as_str).unwrap_or("").to_string();
        if kind == "Namespace" && t.get("apiVersion").and_then(Tree::as_str) == Some("v1") {
            if let Some(meta) = t.map_at("metadata", node.file, node.span) {
                meta.set("name", Tree::string(ns, node.file, node.span));
            }
            continue;
        }
        if matches!(kind.as_str(), "RoleBinding" | "ClusterRoleBinding") {
            service_account_subjects(t, ns, node.file, node.span);
        }
        if cluster_scoped(t) {
            continue;
        }
        remember(t, node.file, node.span);
        if let Some(meta) = t.map_at("metadata", node.file, node.span) {
            meta.set("namespace", Tree::string(ns, node.file, node.span));
        }
    }
}

/// Subjects named `default` of a binding take the namespace the kustomization sets, as
/// kustomize's namespace transformer does by default (`setRoleBindingSubjects:
/// defaultOnly`); other subjects follow only the ServiceAccounts the build moves (see
/// [`namespace`]).
fn service_account_subjects(t: &mut Tree, ns: &str, file: u32, span: Span) {
    let Some(Tree { value: TValue::Seq(subjects), .. }) = t.get_mut("subjects") else { return };
    for s in subjects {
        if s.get("name").and_then(Tree::as_str) == Some("default") {
            s.set("namespace", Tree::string(ns, file, span));
        }
    }
}

/// `namePrefix` and `nameSuffix`, then the fields that name the renamed objects.
fn name_affixes(k: &Kustomization, out: &mut [Tree]) {
    let prefix = k.tree.get("namePrefix");
    let suffix = k.tree.get("nameSuffix");
    if prefix.is_none() && suffix.is_none() {
        return;
    }
    let text = |n: Option<&Tree>| n.and_then(Tree::as_str).unwrap_or("").to_string();
    let (p, s) = (text(prefix), text(suffix));
    let (file, at) = prefix.or(suffix).map_or((k.file, Span::default()), |n| (n.file, n.span));
    let mut renames = Vec::new();
    for t in out.iter_mut() {
        let kind = t.get("kind").and_then(Tree::as_str);
        if matches!(kind, Some("Namespace" | "CustomResourceDefinition")) {
            continue;
        }
        let Some(name) = t.at(&["metadata", "name"]).and_then(Tree::as_str) else { continue };
        let new = format!("{p}{name}{s}");
        remember(t, file, at);
        renames.push(rename(t, new, file, at));
    }
    super::namereference::update(out, &renames);
}

/// Label fields kustomize also sets with `commonLabels` (selectors and pod templates).
const SELECTOR_PATHS: &[(&str, &[&str])] = &[
    ("Service", &["spec", "selector"]),
    ("Deployment", &["spec", "selector", "matchLabels"]),
    ("ReplicaSet", &["spec", "selector", "matchLabels"]),
    ("StatefulSet", &["spec", "selector", "matchLabels"]),
    ("DaemonSet", &["spec", "selector", "matchLabels"]),
    ("Job", &["spec", "selector", "matchLabels"]),
];
const TEMPLATE_KINDS: &[&str] =
    &["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "ReplicationController"];

/// Sets `pairs` in the mapping at `path`, making the mappings on the way.
fn set_all(t: &mut Tree, path: &[&str], pairs: &[(String, Tree)], file: u32, span: Span) {
    let mut node = t;
    for key in path {
        let Some(next) = node.map_at(key, file, span) else { return };
        node = next;
    }
    for (k, v) in pairs {
        node.set(k, v.clone());
    }
}

fn pairs_of(k: &Kustomization, node: &Tree, what: &str) -> Result<Vec<(String, Tree)>> {
    let TValue::Map(fields) = &node.value else {
        return Err(k.error(Some(node), format!("`{what}` must be a mapping")));
    };
    fields
        .iter()
        .map(|f| {
            let value = match &f.value.value {
                TValue::Str(_) => f.value.clone(),
                TValue::Int(i) => Tree::string(&i.to_string(), f.value.file, f.value.span),
                TValue::Bool(b) => Tree::string(&b.to_string(), f.value.file, f.value.span),
                _ => {
                    return Err(k.error(Some(&f.value), format!("`{what}` values must be strings")))
                }
            };
            Ok((f.key.to_string(), value))
        })
        .collect()
}

/// Labels to set: the pairs, whether on selectors, whether on templates, and where written
/// (file, span).
type LabelSet = (Vec<(String, Tree)>, bool, bool, (u32, Span));

fn labels(k: &Kustomization, out: &mut [Tree]) -> Result<()> {
    let mut sets: Vec<LabelSet> = Vec::new();
    if let Some(common) = k.tree.get("commonLabels") {
        sets.push((pairs_of(k, common, "commonLabels")?, true, true, (common.file, common.span)));
    }
    if let Some(Tree { value: TValue::Seq(list), .. }) = k.tree.get("labels") {
        for entry in list {
            let pairs =
                entry.get("pairs").map_or(Ok(Vec::new()), |p| pairs_of(k, p, "labels.pairs"))?;
            let flag =
                |key: &str| matches!(entry.get(key).map(|t| &t.value), Some(TValue::Bool(true)));
            if entry.get("fields").is_some() {
                return Err(
                    k.error(entry.get("fields"), "`labels.fields` is not supported yet".into())
                );
            }
            sets.push((
                pairs,
                flag("includeSelectors"),
                flag("includeTemplates") || flag("includeSelectors"),
                (entry.file, entry.span),
            ));
        }
    }
    for (pairs, selectors, templates, (file, span)) in sets {
        for t in out.iter_mut() {
            set_all(t, &["metadata", "labels"], &pairs, file, span);
            let kind = t.get("kind").and_then(Tree::as_str).unwrap_or("").to_string();
            if selectors {
                for (_, path) in SELECTOR_PATHS.iter().filter(|(kd, _)| *kd == kind) {
                    set_all(t, path, &pairs, file, span);
                }
            }
            if templates && TEMPLATE_KINDS.contains(&kind.as_str()) {
                set_all(t, &["spec", "template", "metadata", "labels"], &pairs, file, span);
            }
            if templates && kind == "CronJob" {
                set_all(t, &["spec", "jobTemplate", "metadata", "labels"], &pairs, file, span);
                let path = ["spec", "jobTemplate", "spec", "template", "metadata", "labels"];
                set_all(t, &path, &pairs, file, span);
            }
        }
    }
    Ok(())
}

fn annotations(k: &Kustomization, out: &mut [Tree]) -> Result<()> {
    let Some(node) = k.tree.get("commonAnnotations") else { return Ok(()) };
    let pairs = pairs_of(k, node, "commonAnnotations")?;
    for t in out.iter_mut() {
        set_all(t, &["metadata", "annotations"], &pairs, node.file, node.span);
        let kind = t.get("kind").and_then(Tree::as_str).unwrap_or("").to_string();
        if TEMPLATE_KINDS.contains(&kind.as_str()) {
            set_all(
                t,
                &["spec", "template", "metadata", "annotations"],
                &pairs,
                node.file,
                node.span,
            );
        }
    }
    Ok(())
}

/// `images:` — new names, tags and digests for the containers that use an image.
fn images(k: &Kustomization, out: &mut [Tree]) -> Result<()> {
    let entries = k.list("images")?;
    for entry in entries {
        let name = entry.get("name").and_then(Tree::as_str).unwrap_or("");
        for t in out.iter_mut() {
            for_each_image(t, &mut |image: &mut Tree| {
                let Some(current) = image.as_str() else { return };
                let r = crate::image::ImageRef::split(current);
                let (base, tag_part) = split_image(current);
                if base != name && r.path != name {
                    return;
                }
                let new_name = entry.get("newName").and_then(Tree::as_str).unwrap_or(base);
                let field = |f: &str| entry.get(f).and_then(Tree::as_str);
                let suffix = match (field("digest"), field("newTag")) {
                    (Some(d), _) => format!("@{d}"),
                    (None, Some(tag)) => format!(":{tag}"),
                    (None, None) => tag_part.to_string(),
                };
                let at = ["digest", "newTag", "newName"]
                    .iter()
                    .find_map(|f| entry.get(f))
                    .unwrap_or(entry);
                *image = Tree::string(&format!("{new_name}{suffix}"), at.file, at.span);
            });
        }
    }
    Ok(())
}

/// Kinds whose `spec.replicas` the `replicas` field sets (kustomize's default field specs).
const REPLICATED: &[&str] = &["Deployment", "ReplicationController", "ReplicaSet", "StatefulSet"];

/// `replicas`: `count` set on the objects called `name` (by their name now or before a prefix).
fn replicas(k: &Kustomization, out: &mut [Tree]) -> Result<()> {
    for entry in k.list("replicas")? {
        let name = entry
            .get("name")
            .and_then(Tree::as_str)
            .ok_or_else(|| k.error(Some(entry), "a `replicas` entry needs a `name`".into()))?;
        let count = entry
            .get("count")
            .filter(|c| matches!(c.value, TValue::Int(n) if n >= 0))
            .ok_or_else(|| {
                k.error(Some(entry), "a `replicas` entry needs a `count` (a whole number)".into())
            })?;
        for t in out.iter_mut() {
            let kind = t.get("kind").and_then(Tree::as_str).unwrap_or("");
            if !REPLICATED.contains(&kind) || !identities(t).iter().any(|(n, _)| n == name) {
                continue;
            }
            if let Some(spec) = t.map_at("spec", count.file, count.span) {
                spec.set("replicas", count.clone());
            }
        }
    }
    Ok(())
}

/// An image reference split into its name and its tag or digest part (`:1.2`, `@sha256:…`).
fn split_image(image: &str) -> (&str, &str) {
    if let Some(at) = image.find('@') {
        return (&image[..at], &image[at..]);
    }
    let slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[slash..].rfind(':') {
        Some(colon) => (&image[..slash + colon], &image[slash + colon..]),
        None => (image, ""),
    }
}

/// Calls `f` on the `image` of every container, init container and ephemeral container.
fn for_each_image(t: &mut Tree, f: &mut dyn FnMut(&mut Tree)) {
    match &mut t.value {
        TValue::Map(fields) => {
            for field in fields.iter_mut() {
                if matches!(
                    field.key.as_str(),
                    "containers" | "initContainers" | "ephemeralContainers"
                ) {
                    if let TValue::Seq(items) = &mut field.value.value {
                        for c in items.iter_mut() {
                            if let Some(image) = c.get_mut("image") {
                                f(image);
                            }
                        }
                    }
                }
                for_each_image(&mut field.value, f);
            }
        }
        TValue::Seq(items) => items.iter_mut().for_each(|i| for_each_image(i, f)),
        _ => {}
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use serde_json::json;

    pub(in crate::render) fn write(root: &Path, files: &[(&str, &str)]) {
        for (path, text) in files {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
    }

    const BASE: &[(&str, &str)] = &[
        ("base/kustomization.yaml", "resources: [deploy.yaml]\nnamePrefix: a-\n"),
        (
            "base/deploy.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: nginx:1.25\n",
        ),
    ];

    #[test]
    fn an_overlay_is_built_and_every_field_keeps_its_source() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), BASE);
        write(
            dir.path(),
            &[
                (
                    "prod/kustomization.yaml",
                    "resources: [../base]\nnamespace: prod\nimages:\n- name: nginx\n  newTag: latest\npatches:\n- path: privileged.yaml\n",
                ),
                (
                    "prod/privileged.yaml",
                    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        securityContext:\n          privileged: true\n",
                ),
            ],
        );
        let disk = Disk::new(dir.path());
        let out = build(&disk, Path::new("prod")).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].to_json(),
            json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "a-web", "namespace": "prod"},
                "spec": {"template": {"spec": {"containers": [{
                    "name": "app", "image": "nginx:latest", "securityContext": {"privileged": true}
                }]}}},
            })
        );
        let (node, origins) = out[0].clone().into_node();
        let source = |pointer: &str| {
            let file = super::super::tree::file_at(out[0].file, &origins, pointer);
            (disk.shown(file), crate::inventory::locate::locate(&node, pointer).start.line)
        };
        // The patch supplies `privileged`, the overlay the namespace and the tag, the base
        // kustomization the prefix, the base file the rest.
        let container = "/spec/template/spec/containers/0";
        assert_eq!(
            source(&format!("{container}/securityContext/privileged")),
            ("/prod/privileged.yaml".into(), 11)
        );
        assert_eq!(source("/metadata/namespace"), ("/prod/kustomization.yaml".into(), 2));
        assert_eq!(source(&format!("{container}/image")), ("/prod/kustomization.yaml".into(), 5));
        assert_eq!(source("/metadata/name"), ("/base/kustomization.yaml".into(), 2));
        assert_eq!(source(&format!("{container}/name")), ("/base/deploy.yaml".into(), 9));
    }

    #[test]
    fn patch_options_allow_renames_and_others_are_errors() {
        let files = |options: &str| -> Vec<(PathBuf, String)> {
            let top = format!("resources: [base]\npatches:\n- patch: |\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata: {{name: api}}\n  target: {{kind: Deployment}}\n  options: {options}\n");
            BASE.iter()
                .map(|(p, t)| (PathBuf::from(p), (*t).to_string()))
                .chain([(PathBuf::from("kustomization.yaml"), top)])
                .collect()
        };
        let build_with = |options: &str| {
            build(&Disk::in_memory(files(options), crate::load::Limits::default()), Path::new("."))
        };
        let renamed = build_with("{allowNameChange: true}").unwrap();
        assert_eq!(renamed[0].to_json()["metadata"], json!({"name": "api"}));
        let kept = build_with("{allowNameChange: false}").unwrap();
        assert_eq!(kept[0].to_json()["metadata"], json!({"name": "a-web"}));
        let error = build_with("{unknown: true}").unwrap_err();
        assert_eq!(error.message, "patch option `unknown` is not supported yet");
    }

    #[test]
    fn files_held_in_memory_build_as_files_on_disk_do() {
        let files: Vec<(PathBuf, String)> = BASE
            .iter()
            .chain(&[("kustomization.yaml", "resources: [base]\nnamespace: x\n")])
            .map(|(p, t)| (PathBuf::from(p), (*t).to_string()))
            .collect();
        let disk = Disk::in_memory(files, crate::load::Limits::default());
        let out = build(&disk, Path::new(".")).unwrap();
        assert_eq!(out[0].to_json()["metadata"], json!({"name": "a-web", "namespace": "x"}));
        assert_eq!(disk.shown(out[0].file), "/base/deploy.yaml");
        let escape = Disk::in_memory(
            vec![(PathBuf::from("kustomization.yaml"), "resources: [../x.yaml]\n".into())],
            crate::load::Limits::default(),
        );
        let error = build(&escape, Path::new(".")).unwrap_err();
        assert_eq!(error.message, "`../x.yaml` leaves the root of the build");
    }

    #[test]
    fn unsupported_fields_remote_resources_cycles_and_missing_paths_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), BASE);
        write(
            dir.path(),
            &[
                ("gen/kustomization.yaml", "resources: [../base]\nvars:\n- name: X\n"),
                ("remote/kustomization.yaml", "resources:\n- https://github.com/x/y//z\n"),
                ("loop/kustomization.yaml", "resources: [../loop2]\n"),
                ("loop2/kustomization.yaml", "resources: [../loop]\n"),
                ("missing/kustomization.yaml", "resources:\n- ../base\n- nothing.yaml\n"),
            ],
        );
        let disk = Disk::new(dir.path());
        let error = |dir: &str| build(&disk, Path::new(dir)).unwrap_err().to_string();
        assert_eq!(error("gen"), "/gen/kustomization.yaml:2: `vars` is not supported yet");
        assert_eq!(
            error("remote"),
            "/remote/kustomization.yaml:2: `https://github.com/x/y//z` is remote: remote resources are not fetched"
        );
        assert!(
            error("loop").contains("cycle detected: /loop includes itself"),
            "{}",
            error("loop")
        );
        assert_eq!(
            error("missing"),
            "/missing/kustomization.yaml:3: accumulating resources: '/missing/nothing.yaml' does not exist"
        );
    }
}
