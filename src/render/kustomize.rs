//! `kustomize build` (docs/RENDER.md, "Kustomize"): resources (files, directories, nested
//! kustomizations, bases), components and generators accumulated here, then the transformers in
//! kustomize's order — patches (`render/patches.rs`), the fields that set values across objects
//! (`render/fields.rs`: namespace, prefix and suffix, labels, annotations, replicas, images),
//! `replacements` (`render/replacements.rs`) and builtin `transformers` configs
//! (`render/transformers.rs`). Every other field of a kustomization is an error that names it
//! (never ignored), and so are remote resources.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::tree::{Items, TValue, Tree};
use super::view::{Shape, View};
use crate::kinds;
use crate::load::discover::normalize;
use crate::load::source::Span;

use super::disk::{show, Found, Result};
pub use super::disk::{BuildError, Deleted, Disk, Loaded, LoadedFiles, Read};

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
    "configurations",
    "generators",
    "buildMetadata",
    "vars",
    "openapi",
    "crds",
];

/// Builds the kustomization in `dir` (a path from the root, `/` first).
/// The objects come out in the order the top kustomization's `sortOptions` asks for, else as
/// listed (kustomize's library default; see [`build_ordered`] for the command's).
pub fn build<'a>(disk: &Disk<'a>, dir: &Path) -> Result<Vec<Tree<'a>>> {
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
pub fn build_ordered<'a>(
    disk: &Disk<'a>,
    dir: &Path,
    order: &super::order::Order,
    restrictor: Restrictor,
) -> Result<Vec<Tree<'a>>> {
    build_with(disk, dir, order, None, restrictor)
}

/// What a cluster entry makes of the kustomization at its path (kustomize-controller's
/// generator, `render/flux.rs`): fields set on it or appended to it, and a kustomization
/// generated when the directory has none.
pub struct Entry<'a> {
    /// A kustomization-shaped tree (nodes from the entry's file): its scalar fields replace the
    /// top kustomization's, its list fields are appended, its maps merged.
    pub overrides: Tree<'a>,
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
pub fn build_entry<'a>(disk: &Disk<'a>, dir: &Path, entry: &Entry<'a>) -> Result<Vec<Tree<'a>>> {
    let restrictor = if entry.files_anywhere { Restrictor::None } else { Restrictor::RootOnly };
    build_with(disk, dir, &super::order::Order::Input, Some(entry), restrictor)
}

fn build_with<'a>(
    disk: &Disk<'a>,
    dir: &Path,
    order: &super::order::Order,
    entry: Option<&Entry<'a>>,
    restrictor: Restrictor,
) -> Result<Vec<Tree<'a>>> {
    let dir = normalize(&Path::new("/").join(dir));
    let root_only = restrictor == Restrictor::RootOnly;
    let mut builder = Builder {
        disk,
        stack: Vec::new(),
        sort: None,
        entry,
        root_only,
        metadata: super::metadata::BuildMetadata::default(),
        vars: Vec::new(),
        openapi: None,
        built_specs: None,
    };
    let mut out = builder.kustomization(&dir, false, Vec::new())?;
    let specs = builder.built_specs.take().unwrap_or_default();
    add_hashes(&mut out, &specs.name_references).map_err(|message| BuildError {
        file: show(&dir),
        line: None,
        message,
    })?;
    super::namereference::references_at_the_end(&mut out, &specs.name_references)
        .map_err(|message| BuildError { file: show(&dir), line: None, message })?;
    super::namereference::webhook_services_at_the_end(&mut out);
    if let Some((subject, message)) = super::namereference::ambiguous_subjects(&out) {
        // The subject's name is where it was written (its namespace is the move's).
        let at = subject.get("name").unwrap_or(subject);
        return Err(BuildError {
            file: disk.shown(at.file),
            line: Some(at.span.start().line),
            message,
        });
    }
    for t in &out {
        if let Some(blank) = blank_subject_namespace(t) {
            return Err(BuildError {
                file: disk.shown(blank.file),
                line: Some(blank.span.start().line),
                message: format!(
                    "Invalid Input: namespace is blank for resource \"{}\"",
                    Id::of(t)
                ),
            });
        }
    }
    super::vars::resolve(&mut out, &builder.vars, &specs, &show(&dir))?;
    // Objects marked as local configuration (a replacement's source, a kpt file) are not output.
    out.retain(|t| {
        t.at(&["metadata", "annotations", "config.kubernetes.io/local-config"])
            .is_none_or(|v| v.as_str() == Some("false"))
    });
    if builder.metadata.origins {
        for t in &mut out {
            super::metadata::annotate_origin(t, disk, &dir);
        }
    }
    let raw = |v: &Tree| {
        let text = disk.text_of(v.file)?;
        crate::load::source::text_at(&text, v.span).map(str::to_string)
    };
    for t in &mut out {
        finish(t, &raw);
    }
    builder.sort.as_ref().unwrap_or(order).apply(&mut out);
    Ok(out)
}

/// A RoleBinding with a ServiceAccount subject whose `namespace` is there but not text
/// (`namespace:` left blank): kustomize refuses it when it fixes references at the end of a
/// build (`getNamespacesForRoleBinding`).
/// Returns that `namespace`.
fn blank_subject_namespace<'t, 'a>(t: &'t Tree<'a>) -> Option<&'t Tree<'a>> {
    if t.get("kind").and_then(Tree::as_str) != Some("RoleBinding") {
        return None;
    }
    let Some(TValue::Seq(subjects)) = t.get("subjects").map(|s| &s.value) else { return None };
    subjects
        .iter()
        .filter(|s| s.get("kind").and_then(Tree::as_str) == Some("ServiceAccount"))
        .find_map(|s| s.get("namespace").filter(|n| !matches!(n.value, TValue::Str(_))))
}

/// Names generated objects with the hash of their content, last (as kustomize does, over the
/// whole build), and points the fields that name them at the new names.
pub(super) fn add_hashes(
    out: &mut [Tree<'_>],
    references: &[super::fieldspec::NameReference],
) -> std::result::Result<(), String> {
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
    super::namereference::update(out, &renames, references)
}

/// Gives an object a new name (from `file` at `span`), and says so for the fields that name it.
pub(super) fn rename(
    t: &mut Tree<'_>,
    new: String,
    file: u32,
    span: Span,
) -> super::namereference::Rename {
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
pub(super) const PREVIOUS_NAMES: &str = "internal.config.kubernetes.io/previousNames";
const PREVIOUS_NAMESPACES: &str = "internal.config.kubernetes.io/previousNamespaces";
/// The kinds it had alike (a patch may change kind and name at once).
const PREVIOUS_KINDS: &str = "internal.config.kubernetes.io/previousKinds";

/// Records the object's current name, namespace and kind before a transformer changes one of
/// them.
pub(super) fn remember(t: &mut Tree<'_>, file: u32, span: Span) {
    let current = identity(t);
    let kind = t.get("kind").and_then(Tree::as_str).unwrap_or("").to_string();
    remember_as(t, (&current, &kind), file, span);
}

/// Records a name, namespace and kind the object had.
pub(super) fn remember_as(
    t: &mut Tree<'_>,
    ((name, namespace), kind): (&(String, String), &str),
    file: u32,
    span: Span,
) {
    let Some(annotations) =
        t.map_at("metadata", file, span).and_then(|m| m.map_at("annotations", file, span))
    else {
        return;
    };
    let lists =
        [(PREVIOUS_NAMES, name.as_str()), (PREVIOUS_NAMESPACES, namespace), (PREVIOUS_KINDS, kind)];
    for (key, value) in lists {
        // Appended to the list the annotation holds (every transformer that renames records).
        let list: ecow::EcoString = match annotations.get(key).and_then(Tree::as_str) {
            Some(before) => {
                let mut list = ecow::EcoString::with_capacity(before.len() + 1 + value.len());
                list.push_str(before);
                list.push(',');
                list.push_str(value);
                list
            }
            None => value.into(),
        };
        annotations.set(key, Tree { file, span, value: TValue::Str(list) });
    }
}

/// The object's (name, namespace) now.
pub(super) fn identity(t: &Tree<'_>) -> (String, String) {
    let meta =
        |key: &str| t.at(&["metadata", key]).and_then(Tree::as_str).unwrap_or("").to_string();
    (meta("name"), meta("namespace"))
}

/// Every (name, namespace) the object has had, the current one first.
pub(super) fn identities(t: &Tree<'_>) -> Vec<(String, String)> {
    let mut ids = vec![identity(t)];
    let previous = |key: &str| {
        t.at(&["metadata", "annotations", key])
            .and_then(Tree::as_str)
            .map(|s| s.split(',').map(str::to_string).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    ids.extend(previous(PREVIOUS_NAMES).into_iter().zip(previous(PREVIOUS_NAMESPACES)));
    ids
}

/// The kinds the object had, as [`identities`] lists them after the current one (oldest first).
pub(super) fn previous_kinds<'t>(t: &'t Tree<'_>) -> Vec<&'t str> {
    let list = t.at(&["metadata", "annotations", PREVIOUS_KINDS]).and_then(Tree::as_str);
    list.map(|s| s.split(',').collect()).unwrap_or_default()
}

/// The labels and annotations kustomize (and this renderer) keep on objects while building,
/// taken out by [`finish`].
const INTERNAL: [&str; 5] = [
    PREVIOUS_NAMES,
    PREVIOUS_NAMESPACES,
    PREVIOUS_KINDS,
    super::generators::GENERATED_BY,
    super::vars::VAR_NAMES,
];

/// The object as the build outputs it: without kustomize's internal annotations, and with
/// annotation values as strings, each the text it was written as (kustomize reads annotations
/// as a map of strings: `1.50` stays "1.50", `yes` "yes", a blank value ""). `raw` gives the text
/// a scalar was written as.
fn finish<'a>(t: &mut Tree<'a>, raw: &dyn Fn(&Tree<'a>) -> Option<String>) {
    // Read first: changing makes the levels on the way the build's own, and most objects
    // (those an overlay's base holds and the overlay leaves alone) have nothing to finish.
    if !unfinished(View::Tree(t)) {
        return;
    }
    if let Some(TValue::Seq(subjects)) = t.get_mut("subjects").map(|s| &mut s.value) {
        for s in subjects {
            s.remove(super::namereference::GIVEN_NAMESPACE);
        }
    }
    let Some(meta) = t.get_mut("metadata") else { return };
    for key in ["labels", "annotations"] {
        let Some(map) = meta.get_mut(key) else { continue };
        let had_internal = INTERNAL.iter().fold(false, |had, key| map.remove(key) | had);
        if let TValue::Map(fields) = &mut map.value {
            for f in fields.iter_mut().filter(|_| key == "annotations") {
                let Some(text) = annotation_text(&f.value, raw) else { continue };
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

/// The text an annotation's value that is not a string is written as: the scalar as written
/// when that reads back as the value (a value a build made has no text of its own), else the
/// value's own text; a null written blank is "".
fn annotation_text<'a>(v: &Tree<'a>, raw: &dyn Fn(&Tree<'a>) -> Option<String>) -> Option<String> {
    let plain = saphyr_parser::ScalarStyle::Plain;
    let written = raw(v).map(|text| text.trim().to_string()).filter(|text| {
        let read = crate::load::yaml::resolve_scalar(text.as_str().into(), plain, None);
        match (&v.value, read) {
            (TValue::Int(a), crate::load::Value::Int(b)) => *a == b,
            (TValue::Bool(a), crate::load::Value::Bool(b)) => *a == b,
            (TValue::Float(a), crate::load::Value::Float(b)) => a.to_bits() == b.to_bits(),
            (TValue::Null, crate::load::Value::Null) => true,
            _ => false,
        }
    });
    let own = match &v.value {
        TValue::Int(i) => i.to_string(),
        TValue::Bool(b) => b.to_string(),
        TValue::Float(x) => x.to_string(),
        TValue::Null => String::new(),
        _ => return None,
    };
    Some(written.unwrap_or(own))
}

/// Whether [`finish`] changes the object: a subject with the namespace a build gave it, a label
/// or annotation that is internal or not a string, or empty (or null) annotations.
fn unfinished(t: View<'_, '_>) -> bool {
    if let Some((_, subjects)) = t.field("subjects") {
        if let Shape::Seq(mut subjects) = subjects.shape() {
            if subjects.any(|s| s.field(super::namereference::GIVEN_NAMESPACE).is_some()) {
                return true;
            }
        }
    }
    let Some((_, meta)) = t.field("metadata") else { return false };
    for key in ["labels", "annotations"] {
        let Some(Shape::Map(mut fields)) = meta.field(key).map(|(_, m)| m.shape()) else {
            continue;
        };
        // Annotations that are numbers, booleans or null become strings.
        let annotations = key == "annotations";
        if fields.any(|(k, v)| {
            INTERNAL.contains(&k)
                || (annotations && matches!(v.shape(), Shape::Scalar(None) | Shape::Null))
        }) {
            return true;
        }
    }
    match meta.field("annotations").map(|(_, a)| a.shape()) {
        Some(Shape::Null) => true,
        Some(Shape::Map(mut fields)) => fields.next().is_none(),
        _ => false,
    }
}

/// An object's identity as kustomize compares them when accumulating resources: group,
/// version, kind, name and effective namespace (`default` when unset, none when cluster-scoped).
#[derive(Clone, PartialEq, Eq, Hash)]
pub(super) struct Id<'t> {
    api: &'t str,
    kind: &'t str,
    name: &'t str,
    namespace: Option<&'t str>,
}

impl<'t> Id<'t> {
    fn of(t: &'t Tree) -> Id<'t> {
        let text = |path: &[&str]| t.at(path).and_then(Tree::as_str).unwrap_or("");
        let namespace = effective_namespace(text(&["metadata", "namespace"]), cluster_scoped(t));
        Id {
            api: text(&["apiVersion"]),
            kind: text(&["kind"]),
            name: text(&["metadata", "name"]),
            namespace,
        }
    }
}

/// An object's identity as kustomize writes it in messages (`ServiceAccount.v1.[noGrp]/sa.a`).
pub(super) fn shown_id(t: &Tree<'_>) -> String {
    Id::of(t).to_string()
}

/// The first object whose identity an earlier one has, and that identity.
pub(super) fn first_duplicate<'t>(out: &'t [Tree<'_>]) -> Option<(usize, Id<'t>)> {
    // Builds run this after every level of every kustomization: objects are grouped by name
    // and kind first (two texts read), and full identities (group, version and effective
    // namespace, which asks the kind table) compared only within a group.
    fn name_kind<'t>(t: &'t Tree<'_>) -> (&'t str, &'t str) {
        let name = t.at(&["metadata", "name"]).and_then(Tree::as_str).unwrap_or("");
        (name, t.get("kind").and_then(Tree::as_str).unwrap_or(""))
    }
    let hasher = foldhash::fast::RandomState::default;
    // A group's first object until a second joins it; then the identities of its objects are
    // in `ids`.
    let mut first: foldhash::HashMap<(&str, &str), Option<usize>> =
        foldhash::HashMap::with_capacity_and_hasher(out.len(), hasher());
    let mut ids = foldhash::HashSet::with_hasher(hasher());
    for (i, t) in out.iter().enumerate() {
        match first.entry(name_kind(t)) {
            std::collections::hash_map::Entry::Vacant(group) => {
                group.insert(Some(i));
            }
            std::collections::hash_map::Entry::Occupied(mut group) => {
                if let Some(f) = group.get_mut().take() {
                    ids.insert(Id::of(&out[f]));
                }
                let id = Id::of(t);
                if !ids.insert(id.clone()) {
                    return Some((i, id));
                }
            }
        }
    }
    None
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

pub(super) struct Builder<'d, 'a> {
    pub(super) disk: &'d Disk<'a>,
    /// Kustomization directories being built (a cycle is an error).
    stack: Vec<PathBuf>,
    /// The top kustomization's `sortOptions` (those of the others are checked, not used).
    sort: Option<super::order::Order>,
    /// The cluster entry that builds the top kustomization, if any.
    entry: Option<&'d Entry<'a>>,
    /// Whether a kustomization reads files only in or below its directory.
    root_only: bool,
    /// What the top kustomization's `buildMetadata` asks for.
    pub(super) metadata: super::metadata::BuildMetadata,
    /// The `vars` the build declared.
    vars: Vec<super::vars::Var>,
    /// The schema the first kustomization that set `openapi` chose (the top first).
    openapi: Option<super::openapi::OpenApi>,
    /// The field specs of the kustomization built last (its `configurations` and those of all
    /// it included), for the kustomization that included it.
    built_specs: Option<super::fieldspec::Specs>,
}

/// Why `path` may not be read from a kustomization in `dir` when files are restricted to it
/// (`root_only`: kustomize's default load restrictor): `None` when it may.
pub(super) fn restricted(root_only: bool, dir: &Path, path: &Path) -> Option<String> {
    (root_only && !path.starts_with(dir)).then(|| {
        format!(
            "security; file '{}' is not in or below '{}' (kustomize's default load restrictor; kustomize-controller builds without it)",
            show(path),
            show(dir)
        )
    })
}

/// A kustomization being applied: its file, its tree, and where to report.
pub(super) struct Kustomization<'a> {
    pub(super) file: u32,
    pub(super) shown: String,
    pub(super) dir: PathBuf,
    pub(super) tree: Tree<'a>,
    /// Files (not kustomizations) must be in or below `dir` (kustomize's default load
    /// restrictor).
    pub(super) root_only: bool,
    /// Field specs of its transformers besides (or instead of) kustomize's defaults.
    pub(super) specs: super::fieldspec::Specs,
}

impl<'a> Kustomization<'a> {
    /// Reads a file the kustomization names (`name`, from its directory, written on `line`): a
    /// remote one, one leaving the root of the build, one outside the directory (when files are
    /// restricted to it) and a missing one are errors at that line. Gives the path, the file's
    /// number and its documents.
    pub(super) fn read_named<'d>(
        &self,
        disk: &Disk<'d>,
        name: &str,
        line: Option<u32>,
    ) -> Result<(PathBuf, u32, Vec<std::borrow::Cow<'d, crate::load::Node>>)> {
        let error = |message: String| BuildError { file: self.shown.clone(), line, message };
        if name.contains("://") || name.starts_with("github.com/") || name.starts_with("git@") {
            return Err(error(format!("`{name}` is remote: remote files are not fetched")));
        }
        let path = normalize(&self.dir.join(name));
        if disk.real(&path).is_none() {
            return Err(error(format!("`{name}` leaves the root of the build")));
        }
        self.may_read(&path, line)?;
        if !disk.exists(&path) {
            return Err(error(format!("'{}' doesn't exist", show(&path))));
        }
        let (file, docs) = disk.read(&path).map_err(|e| error(e.to_string()))?;
        Ok((path, file, docs))
    }

    /// Refuses a file outside the kustomization's directory when files are restricted to it.
    pub(super) fn may_read(&self, path: &Path, line: Option<u32>) -> Result<()> {
        let refusal = restricted(self.root_only, &self.dir, path);
        refusal
            .map_or(Ok(()), |message| Err(BuildError { file: self.shown.clone(), line, message }))
    }

    pub(super) fn error(&self, node: Option<&Tree<'_>>, message: String) -> BuildError {
        BuildError { file: self.shown.clone(), line: node.map(|n| n.span.start().line), message }
    }

    /// The entries of a list field; none when it is absent or empty (`patches:` with every
    /// entry commented out).
    pub(super) fn list(&self, key: &str) -> Result<&[Tree<'a>]> {
        match self.tree.get(key).map(|n| (n, &n.value)) {
            None | Some((_, TValue::Null)) => Ok(&[]),
            Some((_, TValue::Seq(items))) => Ok(items),
            Some((node, _)) => Err(self.error(Some(node), format!("`{key}` must be a list"))),
        }
    }

    pub(super) fn strings(&self, key: &str) -> Result<Vec<(String, Span)>> {
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

impl<'a> Builder<'_, 'a> {
    /// The directory's kustomization file; more than one is an error, as in kustomize.
    fn find_kustomization(&self, dir: &Path) -> Result<Option<PathBuf>> {
        let mut found = self.disk.kustomization_files(dir).into_iter();
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

    /// A build path (`/base/kustomization.yaml`) relative to the top kustomization's directory.
    pub(super) fn relative_to_top(&self, shown: &str) -> String {
        let top = self.stack.first().map_or(Path::new("/"), PathBuf::as_path);
        super::metadata::relative(top, Path::new(shown))
    }

    /// Builds a kustomization (or a component, applied to `accumulated`).
    pub(super) fn kustomization(
        &mut self,
        dir: &Path,
        component: bool,
        mut accumulated: Vec<Tree<'a>>,
    ) -> Result<Vec<Tree<'a>>> {
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
            let mut k = Kustomization {
                file,
                shown: entry.shown.clone(),
                dir: dir.to_path_buf(),
                tree,
                root_only: self.root_only,
                specs: super::fieldspec::Specs::default(),
            };
            self.stack.push(dir.to_path_buf());
            let result = self.apply(&mut k, &mut accumulated);
            self.stack.pop();
            self.built_specs = Some(k.specs);
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
            .map_or_else(|| Tree::map(file, Span::default()), |n| Tree::from_read(n, file));
        let mut k = Kustomization {
            file,
            shown: show(&path),
            dir: dir.to_path_buf(),
            tree: root,
            root_only: self.root_only,
            specs: super::fieldspec::Specs::default(),
        };
        if let TValue::Map(fields) = &mut k.tree.value {
            // kustomize reads a kustomization as JSON, whose field names match in any case
            // (`nameprefix` is `namePrefix`).
            for f in fields.iter_mut() {
                if let Some(known) = BUILT.iter().find(|b| b.eq_ignore_ascii_case(&f.key)) {
                    f.key = (*known).into();
                }
            }
            if let Some(f) = fields.iter().find(|f| !BUILT.contains(&f.key.as_str())) {
                return Err(BuildError {
                    file: k.shown.clone(),
                    line: Some(f.key_span.start().line),
                    message: format!("`{}` is not supported yet", f.key),
                });
            }
        }
        check_text_fields(&k)?;
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
        let error = |n: &Tree<'a>, m: String| k.error(Some(n), m);
        let sort = super::order::Order::from_kustomization(&k.tree, &error)?;
        if top {
            self.sort = sort;
            self.metadata = super::metadata::BuildMetadata::of(&k)?;
        }
        self.configurations(&mut k)?;
        self.openapi(&mut k)?;
        self.stack.push(dir.to_path_buf());
        let result = self.apply(&mut k, &mut accumulated);
        self.stack.pop();
        self.built_specs = Some(k.specs);
        result.map(|()| accumulated)
    }

    /// Reads the kustomization's `openapi` (the build's schema when none was set before) and
    /// gives the kustomization the build's schema.
    fn openapi(&mut self, k: &mut Kustomization<'a>) -> Result<()> {
        if let Some(field) = k.tree.get("openapi") {
            let disk = self.disk;
            let read = |name: &str| -> std::result::Result<Tree<'a>, String> {
                let (path, file, docs) = k.read_named(disk, name, None).map_err(|e| e.message)?;
                docs.first()
                    .map(|d| Tree::from_read(d, file))
                    .ok_or_else(|| format!("'{}' is empty", show(&path)))
            };
            let chosen = super::openapi::from_field(field, &read)
                .map_err(|(node, message)| k.error(Some(node), message))?;
            if self.openapi.is_none() {
                self.openapi = Some(chosen);
            }
        }
        k.specs.openapi.clone_from(&self.openapi);
        Ok(())
    }

    /// Reads the kustomization's `configurations` and `crds` files into its field specs.
    fn configurations(&mut self, k: &mut Kustomization<'a>) -> Result<()> {
        for (entry, span) in k.strings("configurations")? {
            let (path, file, docs) = k.read_named(self.disk, &entry, Some(span.start().line))?;
            let Some(doc) = docs.first() else { continue };
            let tree = Tree::from_node(doc, file);
            let specs = super::fieldspec::configurations(&tree).map_err(|(node, message)| {
                BuildError { file: show(&path), line: Some(node.span.start().line), message }
            })?;
            k.specs.extend(&specs);
        }
        for (entry, span) in k.strings("crds")? {
            let line = Some(span.start().line);
            let (_, file, docs) = k.read_named(self.disk, &entry, line)?;
            let Some(doc) = docs.first() else { continue };
            let specs = super::fieldspec::crds(&Tree::from_node(doc, file)).map_err(|m| {
                BuildError { file: k.shown.clone(), line, message: format!("`{entry}`: {m}") }
            })?;
            k.specs.extend(&specs);
        }
        Ok(())
    }

    fn apply(&mut self, k: &mut Kustomization<'a>, out: &mut Vec<Tree<'a>>) -> Result<()> {
        let mut entries = k.strings("resources")?;
        entries.extend(k.strings("bases")?);
        // Where each entry's objects start, to name the entry that adds an object twice.
        let mut starts = Vec::with_capacity(entries.len());
        for (entry, span) in &entries {
            self.disk.trail.borrow_mut().push((k.file, *span));
            self.built_specs = None;
            let objects = self.resource(k, entry, *span);
            self.disk.trail.borrow_mut().pop();
            starts.push(out.len());
            out.extend(objects?);
            if let Some(included) = self.built_specs.take() {
                k.specs.extend(&included);
            }
        }
        if let Some((i, id)) = first_duplicate(out) {
            let adding = starts.partition_point(|&s| s <= i).checked_sub(1);
            let (line, by) = match adding.and_then(|a| entries.get(a)) {
                Some((entry, span)) => {
                    (Some(span.start().line), format!(" (`{entry}` adds it again)"))
                }
                None => (None, String::new()),
            };
            return Err(BuildError {
                file: k.shown.clone(),
                line,
                message: format!("may not add resource with an already registered id: {id}{by}"),
            });
        }
        let generating = super::generators::Generating {
            disk: self.disk,
            file: k.file,
            shown: &k.shown,
            dir: &k.dir,
            kustomization: &k.tree,
            root_only: k.root_only,
            config_name: None,
        };
        super::generators::run(&generating, out)?;
        self.generators(k, out)?;
        // Components come after the generators (kustomize: they may patch what was generated).
        for (entry, span) in k.strings("components")? {
            let dir = Self::local(k, &entry, span)?;
            let taken = std::mem::take(out);
            self.disk.trail.borrow_mut().push((k.file, span));
            self.built_specs = None;
            let built = self.kustomization(&dir, true, taken);
            self.disk.trail.borrow_mut().pop();
            *out = built?;
            if let Some(included) = self.built_specs.take() {
                k.specs.extend(&included);
            }
        }
        transform(k, self.disk, out)?;
        if self.metadata.transformations {
            let configured_in = self.relative_to_top(&k.shown);
            for kind in super::metadata::builtin_transformers(k) {
                let by =
                    [("apiVersion", "builtin"), ("kind", kind), ("name", ""), ("namespace", "")];
                super::metadata::record_transformation(
                    out,
                    &configured_in,
                    by,
                    (k.file, k.tree.span),
                );
            }
        }
        self.transformers(k, out)?;
        super::vars::declare(k, out, &mut self.vars)
    }

    /// A path a kustomization names, from its directory; remote ones are refused.
    fn local(k: &Kustomization<'a>, entry: &str, span: Span) -> Result<PathBuf> {
        if entry.contains("://") || entry.starts_with("github.com/") || entry.starts_with("git@") {
            return Err(BuildError {
                file: k.shown.clone(),
                line: Some(span.start().line),
                message: format!("`{entry}` is remote: remote resources are not fetched"),
            });
        }
        Ok(normalize(&k.dir.join(entry)))
    }

    fn resource(
        &mut self,
        k: &Kustomization<'a>,
        entry: &str,
        span: Span,
    ) -> Result<Vec<Tree<'a>>> {
        let path = Self::local(k, entry, span)?;
        let error =
            |message| BuildError { file: k.shown.clone(), line: Some(span.start().line), message };
        let loaded = match self.disk.find(&path) {
            Found::Outside => return Err(error(format!("`{entry}` leaves the root of the build"))),
            Found::Dir => return self.kustomization(&path, false, Vec::new()),
            Found::Missing => {
                let shown = show(&path);
                return Err(error(format!("accumulating resources: '{shown}' does not exist")));
            }
            Found::Loaded(loaded, real) => Some((loaded, Some(real))),
            Found::File => None,
        };
        k.may_read(&path, Some(span.start().line))?;
        let (file, docs) = match loaded {
            Some(found) => self.disk.read_loaded(&path, found)?,
            None => self.disk.read(&path)?,
        };
        let mut objects = Vec::new();
        for doc in &docs {
            let tree = Tree::from_read(doc, file);
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
fn check_type(k: &Kustomization<'_>, kind: &str) -> Result<()> {
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

/// kustomize reads a kustomization into typed fields: a number or boolean where it expects text
/// (`namePrefix: 1`, an image's `newTag: 1.0`) refuses the kustomization. So does this, at the
/// field, instead of building without it.
fn check_text_fields(k: &Kustomization<'_>) -> Result<()> {
    let not_text = |v: &Tree| match v.value {
        TValue::Int(_) | TValue::Float(_) => Some("a number"),
        TValue::Bool(_) => Some("a boolean"),
        _ => None,
    };
    let refuse = |v: &Tree, field: &str, what: &str| {
        Err(k.error(
            Some(v),
            format!("`{field}` must be a string, not {what} (quote it; kustomize refuses the kustomization)"),
        ))
    };
    for field in ["namespace", "namePrefix", "nameSuffix"] {
        if let Some((v, what)) = k.tree.get(field).and_then(|v| Some((v, not_text(v)?))) {
            return refuse(v, field, what);
        }
    }
    let pairs = |field: &str, map: Option<&Tree>| {
        let Some(TValue::Map(fields)) = map.map(|m| &m.value) else { return Ok(()) };
        match fields.iter().find_map(|f| Some((f, not_text(&f.value)?))) {
            Some((f, what)) => refuse(&f.value, &format!("{field}.{}", f.key), what),
            None => Ok(()),
        }
    };
    pairs("commonLabels", k.tree.get("commonLabels"))?;
    pairs("commonAnnotations", k.tree.get("commonAnnotations"))?;
    if let Some(TValue::Seq(labels)) = k.tree.get("labels").map(|l| &l.value) {
        for entry in labels {
            pairs("labels.pairs", entry.get("pairs"))?;
        }
    }
    let Some(TValue::Seq(images)) = k.tree.get("images").map(|i| &i.value) else { return Ok(()) };
    for image in images {
        // Each field as kustomize reads it (its name in any case, as JSON fields match).
        for field in ["name", "newName", "newTag", "digest"] {
            if let Some((v, what)) = image.json_field(field).and_then(|v| Some((v, not_text(v)?))) {
                return refuse(v, &format!("images.{field}"), what);
            }
        }
    }
    Ok(())
}

/// Sets a cluster entry's fields on a kustomization: scalars replace, lists are appended, maps
/// merged (the entry's keys win).
fn overlay<'a>(k: &mut Tree<'a>, overrides: &Tree<'a>) {
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
fn merge_images<'a>(k: &mut Tree<'a>, images: &Tree<'a>) {
    let TValue::Seq(more) = &images.value else { return };
    if !matches!(k.get("images").map(|i| &i.value), Some(TValue::Seq(_))) {
        k.set("images", Tree { value: TValue::Seq(Items::default()), ..images.clone() });
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
pub(super) fn transform<'a>(
    k: &Kustomization<'a>,
    disk: &Disk<'a>,
    out: &mut Vec<Tree<'a>>,
) -> Result<()> {
    use super::{fields, patches};
    patches::patches_strategic_merge(k, disk, out)?;
    patches::patches(k, disk, out)?;
    fields::namespace(k, out)?;
    fields::name_affixes(k, out)?;
    fields::labels(k, out)?;
    fields::annotations(k, out)?;
    patches::patches_json6902(k, disk, out)?;
    fields::replicas(k, out)?;
    fields::images(k, out)?;
    super::replacements::run(k, disk, out)
}

pub(super) fn cluster_scoped(t: &Tree<'_>) -> bool {
    let api = t.get("apiVersion").and_then(Tree::as_str).unwrap_or("");
    let kind = t.get("kind").and_then(Tree::as_str).unwrap_or("");
    kind_is_cluster_scoped(api, kind)
}

/// Whether objects of this apiVersion and kind have no namespace.
pub(super) fn kind_is_cluster_scoped(api: &str, kind: &str) -> bool {
    kinds::is_cluster_scoped(api, kind, &HashMap::<(String, String), bool>::new())
}

/// A namespace as kustomize compares ids: none for a cluster-scoped kind, `default` when unset.
pub(super) fn effective_namespace(namespace: &str, cluster_scoped: bool) -> Option<&str> {
    match namespace {
        _ if cluster_scoped => None,
        "" => Some("default"),
        ns => Some(ns),
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
            (disk.shown(file), crate::load::locate::locate(&node, pointer).start().line)
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
                ("gen/kustomization.yaml", "resources: [../base]\nhelmCharts:\n- name: x\n"),
                ("remote/kustomization.yaml", "resources:\n- https://github.com/x/y//z\n"),
                ("loop/kustomization.yaml", "resources: [../loop2]\n"),
                ("loop2/kustomization.yaml", "resources: [../loop]\n"),
                ("missing/kustomization.yaml", "resources:\n- ../base\n- nothing.yaml\n"),
            ],
        );
        let disk = Disk::new(dir.path());
        let error = |dir: &str| build(&disk, Path::new(dir)).unwrap_err().to_string();
        assert_eq!(error("gen"), "/gen/kustomization.yaml:2: `helmCharts` is not supported yet");
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

    /// Objects marked as local configuration are not output; `replicas` naming nothing it can
    /// scale is an error, as in kustomize.
    #[test]
    fn local_configuration_is_dropped_and_replicas_must_name_something() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), BASE);
        write(
            dir.path(),
            &[
                (
                    "local/kustomization.yaml",
                    "resources: [../base, settings.yaml]\nreplicas:\n- name: a-web\n  count: 2\n",
                ),
                (
                    "local/settings.yaml",
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  annotations:\n    config.kubernetes.io/local-config: 'true'\n",
                ),
                ("none/kustomization.yaml", "resources: [../base]\nreplicas:\n- name: nothing\n  count: 2\n"),
            ],
        );
        let disk = Disk::new(dir.path());
        let out = build(&disk, Path::new("local")).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].to_json()["spec"]["replicas"], json!(2));
        assert_eq!(
            build(&disk, Path::new("none")).unwrap_err().to_string(),
            "/none/kustomization.yaml:3: resource with name nothing does not match a config with the kinds replicas can be set on"
        );
    }

    /// `buildMetadata: [originAnnotations]` of the top kustomization records where each object
    /// was read (relative to the directory built) or which generator made it; the options not
    /// built yet are errors at their line.
    #[test]
    fn origin_annotations_name_the_file_or_the_generator() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), BASE);
        write(
            dir.path(),
            &[
                (
                    "prod/kustomization.yaml",
                    "resources: [../base]\nconfigMapGenerator:\n- name: settings\n  literals: [a=b]\nbuildMetadata: [originAnnotations]\n",
                ),
                ("label/kustomization.yaml", "resources: [../base]\nbuildMetadata:\n- managedByLabel\n"),
            ],
        );
        let disk = Disk::new(dir.path());
        let out = build(&disk, Path::new("prod")).unwrap();
        let origin = |i: usize| {
            out[i].to_json()["metadata"]["annotations"]["config.kubernetes.io/origin"].clone()
        };
        assert_eq!(origin(0), json!("path: ../base/deploy.yaml\n"));
        assert_eq!(
            origin(1),
            json!("configuredIn: kustomization.yaml\nconfiguredBy:\n  apiVersion: builtin\n  kind: ConfigMapGenerator\n")
        );
        assert_eq!(
            build(&disk, Path::new("label")).unwrap_err().to_string(),
            "/label/kustomization.yaml:3: `buildMetadata: managedByLabel` is not supported yet (its label names the version of kustomize that built the objects)"
        );
    }

    /// A webhook's Service follows the Service's move to the kustomization's namespace and its
    /// prefix; a role reference follows a rename a patch made.
    #[test]
    fn webhook_services_and_role_references_follow_renames() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                (
                    "app/objects.yaml",
                    "apiVersion: v1\nkind: Service\nmetadata: {name: hook, namespace: old}\n---\napiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata: {name: v}\nwebhooks:\n- name: w\n  clientConfig:\n    service: {name: hook, namespace: old}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: reader}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: b}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: reader}\n",
                ),
                (
                    "app/kustomization.yaml",
                    "resources: [objects.yaml]\nnamespace: team\nnamePrefix: p-\npatches:\n- target: {kind: ClusterRole}\n  patch: '[{\"op\": \"replace\", \"path\": \"/metadata/name\", \"value\": \"viewer\"}]'\n",
                ),
            ],
        );
        let disk = Disk::new(dir.path());
        let out: Vec<_> =
            build(&disk, Path::new("app")).unwrap().iter().map(Tree::to_json).collect();
        assert_eq!(
            out[1]["webhooks"][0]["clientConfig"]["service"],
            json!({"name": "p-hook", "namespace": "team"})
        );
        assert_eq!(out[2]["metadata"]["name"], "p-viewer");
        assert_eq!(out[3]["roleRef"]["name"], "p-viewer");
    }

    /// A strategic merge patch allowed to rename (`allowNameChange`) renames the references to
    /// the object too.
    #[test]
    fn references_follow_a_rename_a_strategic_merge_patch_makes() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                (
                    "app/objects.yaml",
                    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: old}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    envFrom: [{configMapRef: {name: old}}]\n",
                ),
                (
                    "app/kustomization.yaml",
                    "resources: [objects.yaml]\npatches:\n- target: {kind: ConfigMap, name: old}\n  options: {allowNameChange: true}\n  patch: |-\n    apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: new\n",
                ),
            ],
        );
        let disk = Disk::new(dir.path());
        let out: Vec<_> =
            build(&disk, Path::new("app")).unwrap().iter().map(Tree::to_json).collect();
        assert_eq!(out[0]["metadata"]["name"], "new");
        assert_eq!(out[1]["spec"]["containers"][0]["envFrom"][0]["configMapRef"]["name"], "new");
    }

    /// A patch without a namespace names an object in `default` or with none, as kustomize
    /// compares ids: it still finds a base object the base's `namespace:` moved (by the
    /// namespace it had), not one whose own file puts it in another namespace.
    #[test]
    fn a_patch_without_a_namespace_names_objects_of_no_namespace() {
        let dir = tempfile::tempdir().unwrap();
        let patch = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata: {a: '2'}\n";
        write(
            dir.path(),
            &[
                ("base/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata: {a: '1'}\n"),
                ("base/kustomization.yaml", "resources: [cm.yaml]\nnamespace: team\n"),
                ("overlay/kustomization.yaml", "resources: [../base]\npatches:\n- path: patch.yaml\n"),
                ("overlay/patch.yaml", patch),
                ("other/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: team\ndata: {a: '1'}\n"),
                ("other/kustomization.yaml", "resources: [cm.yaml]\npatches:\n- path: patch.yaml\n"),
                ("other/patch.yaml", patch),
            ],
        );
        let disk = Disk::new(dir.path());
        let out = build(&disk, Path::new("overlay")).unwrap();
        assert_eq!(out[0].to_json()["data"], json!({"a": "2"}));
        assert_eq!(
            build(&disk, Path::new("other")).unwrap_err().to_string(),
            "/other/kustomization.yaml:3: no resource matches the patch of ConfigMap `c`"
        );
    }
}

#[cfg(test)]
mod kustomize_quirks {
    use super::*;
    use serde_json::json;

    fn memory(files: &[(&str, &str)]) -> Disk<'static> {
        let files = files.iter().map(|(p, t)| (PathBuf::from(p), (*t).to_string())).collect();
        Disk::in_memory(files, crate::load::Limits::default())
    }

    const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: old-name\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: nginx\n";

    #[test]
    fn an_overlay_patch_finds_an_object_by_the_kind_and_name_it_had() {
        let disk = memory(&[
            (
                "base/kustomization.yaml",
                "resources: [deploy.yaml]\npatches:\n- target: {kind: Deployment, name: old-name}\n  options: {allowNameChange: true, allowKindChange: true}\n  patch: |\n    apiVersion: apps/v1\n    kind: StatefulSet\n    metadata: {name: new-name}\n",
            ),
            ("base/deploy.yaml", DEPLOY),
            ("overlay/kustomization.yaml", "resources: [../base]\npatchesStrategicMerge: [replicas.yaml]\n"),
            (
                "overlay/replicas.yaml",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: old-name}\nspec: {replicas: 999}\n",
            ),
        ]);
        let out = build(&disk, Path::new("overlay")).unwrap();
        let object = out[0].to_json();
        assert_eq!(
            (object["kind"].clone(), object["metadata"].clone()),
            (json!("StatefulSet"), json!({"name": "new-name"}))
        );
        assert_eq!(object["spec"]["replicas"], 999);
        // Another kind of that name is not it.
        let other = memory(&[
            ("k/kustomization.yaml", "resources: [deploy.yaml]\npatchesStrategicMerge: [p.yaml]\n"),
            ("k/deploy.yaml", DEPLOY),
            ("k/p.yaml", "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: old-name}\nspec: {replicas: 2}\n"),
        ]);
        let error = build(&other, Path::new("k")).unwrap_err();
        assert!(
            error.message.contains("no resource matches the patch of StatefulSet `old-name`"),
            "{error}"
        );
    }

    /// An overlay that repeats its base's namespace records no earlier id for it (the object
    /// keeps that id): patches still find the object by the name it had in the base, in that
    /// namespace, after a prefix renamed it (as `kustomize build` does).
    #[test]
    fn patches_find_an_object_by_its_base_name_after_a_repeated_namespace_and_a_prefix() {
        let disk = memory(&[
            ("base/kustomization.yaml", "namespace: a\nresources: [cm.yaml]\n"),
            ("base/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  k: v\n"),
            ("mid/kustomization.yaml", "namespace: a\nnamePrefix: p-\nresources: [../base]\n"),
            (
                "top/kustomization.yaml",
                "resources: [../mid]\npatches:\n- path: patch.yaml\n- target: {kind: ConfigMap, name: web, namespace: a}\n  patch: |-\n    - op: add\n      path: /data/y\n      value: \"2\"\n",
            ),
            (
                "top/patch.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n  namespace: a\ndata:\n  x: \"1\"\n",
            ),
        ]);
        let out = build(&disk, Path::new("top")).unwrap();
        assert_eq!(out.len(), 1);
        let object = out[0].to_json();
        assert_eq!(object["metadata"], json!({"name": "p-web", "namespace": "a"}));
        assert_eq!(object["data"], json!({"k": "v", "x": "1", "y": "2"}));
    }

    /// kustomize follows renames at the end of the build: a reference that a kustomization
    /// above (or beside) the rename adds takes the new name, when the renamed object is in the
    /// referrer's namespace (results checked against kustomize 5.5).
    #[test]
    fn a_reference_added_above_a_rename_follows_it() {
        let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n";
        let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      containers:\n      - name: c\n        envFrom: [{configMapRef: {name: cm}}]\n";
        let reference = |base: &str, top: &str| {
            let disk = memory(&[
                ("base/kustomization.yaml", base),
                ("base/cm.yaml", cm),
                ("other/kustomization.yaml", "resources: [dep.yaml]\n"),
                ("other/dep.yaml", deployment),
                ("top/kustomization.yaml", top),
                ("top/dep.yaml", deployment),
            ]);
            let out = build(&disk, Path::new("top")).unwrap();
            let d = out.iter().find(|t| t.get("kind").and_then(Tree::as_str) == Some("Deployment"));
            let d = d.unwrap().to_json();
            let name = &d["spec"]["template"]["spec"]["containers"][0]["envFrom"][0];
            name["configMapRef"]["name"].as_str().unwrap().to_string()
        };
        let prefixed = "namePrefix: p-\nresources: [cm.yaml]\n";
        assert_eq!(reference(prefixed, "resources: [../base, dep.yaml]\n"), "p-cm");
        assert_eq!(reference(prefixed, "resources: [../base, ../other]\n"), "p-cm");
        // Moved to another namespace than the Deployment's: not its ConfigMap.
        let moved = "namePrefix: p-\nnamespace: x\nresources: [cm.yaml]\n";
        assert_eq!(reference(moved, "resources: [../base, ../other]\n"), "cm");
        assert_eq!(reference(moved, "namespace: x\nresources: [../base, ../other]\n"), "p-cm");
        // Nothing renamed: nothing followed.
        assert_eq!(reference("resources: [cm.yaml]\n", "resources: [../base, ../other]\n"), "cm");
        // A base built twice, once with a suffix: each copy's reference names its own copy's
        // ConfigMap (the unsuffixed one still has the old name).
        let disk = memory(&[
            ("base/kustomization.yaml", "resources: [cm.yaml, dep.yaml]\n"),
            ("base/cm.yaml", cm),
            ("base/dep.yaml", deployment),
            ("public/kustomization.yaml", "resources: [../base]\n"),
            ("private/kustomization.yaml", "nameSuffix: -private\nresources: [../base]\n"),
            ("top/kustomization.yaml", "resources: [../public, ../private]\n"),
        ]);
        let out = build(&disk, Path::new("top")).unwrap();
        let named: Vec<(String, String)> = out
            .iter()
            .map(Tree::to_json)
            .filter(|d| d["kind"] == "Deployment")
            .map(|d| {
                let from = &d["spec"]["template"]["spec"]["containers"][0]["envFrom"][0];
                (d["metadata"]["name"].to_string(), from["configMapRef"]["name"].to_string())
            })
            .collect();
        assert_eq!(
            named,
            [
                ("\"d\"".to_string(), "\"cm\"".to_string()),
                ("\"d-private\"".to_string(), "\"cm-private\"".to_string())
            ]
        );
    }

    /// A `nameReference` a kustomization above the rename configures is followed at the end of
    /// the build too; one that cannot be followed there is an error of the build.
    #[test]
    fn a_configured_reference_above_a_rename_follows_it_or_fails_the_build() {
        let route = |path: &str| {
            memory(&[
                ("base/kustomization.yaml", "namePrefix: p-\nresources: [cm.yaml]\n"),
                ("base/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n"),
                (
                    "top/kustomization.yaml",
                    "resources: [../base, route.yaml]\nconfigurations: [c.yaml]\n",
                ),
                (
                    "top/route.yaml",
                    "apiVersion: example.com/v1\nkind: Route\nmetadata: {name: r}\nspec: {config: cm}\n",
                ),
                (
                    "top/c.yaml",
                    &format!("nameReference:\n- kind: ConfigMap\n  fieldSpecs:\n  - {{kind: Route, path: {path}}}\n"),
                ),
            ])
        };
        let out = build(&route("spec/config"), Path::new("top")).unwrap();
        assert_eq!(out[1].to_json()["spec"]["config"], "p-cm");
        let error = build(&route("spec//config"), Path::new("top")).unwrap_err().to_string();
        assert_eq!(
            error,
            "/top: a `nameReference` to ConfigMap: field spec `spec//config`: cannot set or create an empty field name"
        );
    }

    #[test]
    fn patches_after_a_deleting_patch_find_the_objects_that_moved_up() {
        let cm = |name: &str| {
            format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\n")
        };
        let objects = format!("{}{}{}", cm("a"), cm("b"), cm("c"));
        let patch = |name: &str, body: &str| {
            format!("- patch: |\n    apiVersion: v1\n    kind: ConfigMap\n    metadata: {{name: {name}}}\n    {body}\n")
        };
        let kustomization = |patches: &str| format!("resources: [cm.yaml]\npatches:\n{patches}");
        let deleting = format!(
            "{}{}{}",
            patch("a", "$patch: delete"),
            patch("c", "data: {k: c}"),
            patch("b", "data: {k: b}")
        );
        let k = kustomization(&deleting);
        let disk = memory(&[("k/kustomization.yaml", &k), ("k/cm.yaml", &objects)]);
        let out: Vec<serde_json::Value> =
            build(&disk, Path::new("k")).unwrap().iter().map(Tree::to_json).collect();
        let names: Vec<(&str, &str)> = out
            .iter()
            .map(|o| (o["metadata"]["name"].as_str().unwrap(), o["data"]["k"].as_str().unwrap()))
            .collect();
        assert_eq!(names, [("b", "b"), ("c", "c")]);
        // The deleted object is gone for the patches after it.
        let again = format!("{}{}", patch("a", "$patch: delete"), patch("a", "data: {k: a}"));
        let k = kustomization(&again);
        let disk = memory(&[("k/kustomization.yaml", &k), ("k/cm.yaml", &objects)]);
        let error = build(&disk, Path::new("k")).unwrap_err();
        assert!(
            error.message.contains("no resource matches the patch of ConfigMap `a`"),
            "{error}"
        );
    }

    #[test]
    fn an_object_of_a_kind_no_schema_knows_merges_lists_as_the_patch_kind_does() {
        let disk = memory(&[
            (
                "kustomization.yaml",
                "resources: [mine.yaml]\npatches:\n- target: {name: web}\n  patch: |\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata: {name: web}\n    spec:\n      template:\n        spec:\n          containers:\n          - name: proxy\n            image: envoy\n",
            ),
            (
                "mine.yaml",
                "apiVersion: example.com/v1\nkind: MyKind\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: nginx\n",
            ),
        ]);
        let out = build(&disk, Path::new(".")).unwrap();
        let containers = &out[0].to_json()["spec"]["template"]["spec"]["containers"];
        assert_eq!(
            containers,
            &json!([{"name": "proxy", "image": "envoy"}, {"name": "app", "image": "nginx"}])
        );
    }

    #[test]
    fn a_blank_service_account_namespace_in_a_role_binding_is_refused_at_its_line() {
        let disk = memory(&[
            ("kustomization.yaml", "resources: [rb.yaml]\n"),
            (
                "rb.yaml",
                "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: rb}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}\nsubjects:\n- kind: ServiceAccount\n  name: test\n  namespace:\n",
            ),
        ]);
        let error = build(&disk, Path::new(".")).unwrap_err();
        assert_eq!((error.file.as_str(), error.line), ("/rb.yaml", Some(8)));
        assert!(
            error.message.starts_with("Invalid Input: namespace is blank for resource"),
            "{error}"
        );
    }

    #[test]
    fn a_base_webhook_follows_the_service_an_overlay_moved_when_both_are_combined() {
        let service =
            "apiVersion: v1\nkind: Service\nmetadata: {name: admission, namespace: base}\n";
        let webhook = "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata: {name: hook}\nwebhooks:\n- name: validate\n  clientConfig:\n    service: {name: admission, namespace: base}\n";
        let disk = memory(&[
            ("base/kustomization.yaml", "resources: [service.yaml, webhook.yaml]\n"),
            ("base/service.yaml", service),
            ("base/webhook.yaml", webhook),
            (
                "overlay/kustomization.yaml",
                "namespace: moved\nresources: [../base]\npatchesStrategicMerge: [delete.yaml]\n",
            ),
            (
                "overlay/delete.yaml",
                "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata: {name: hook}\n$patch: delete\n",
            ),
            ("combined/kustomization.yaml", "resources: [../base, ../overlay]\n"),
            (
                "prefixed/kustomization.yaml",
                "namePrefix: p-\nnamespace: moved\nresources: [../base]\npatchesStrategicMerge: [delete.yaml]\n",
            ),
            (
                "prefixed/delete.yaml",
                "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata: {name: hook}\n$patch: delete\n",
            ),
            ("renamed/kustomization.yaml", "resources: [../base, ../prefixed]\n"),
        ]);
        let service_of = |out: &[Tree]| {
            let hook = out.iter().find(|t| t.get("kind").and_then(Tree::as_str) != Some("Service"));
            hook.unwrap().to_json()["webhooks"][0]["clientConfig"]["service"].clone()
        };
        // kustomize's quirk: the base's webhook points at the overlay's copy.
        let out = build(&disk, Path::new("combined")).unwrap();
        assert_eq!(service_of(&out), json!({"name": "admission", "namespace": "moved"}));
        // A copy that was renamed as well is not followed (kustomize tells copies apart by
        // their prefixes).
        let out = build(&disk, Path::new("renamed")).unwrap();
        assert_eq!(service_of(&out), json!({"name": "admission", "namespace": "base"}));
        // The base alone is left as written.
        let out = build(&disk, Path::new("base")).unwrap();
        assert_eq!(service_of(&out), json!({"name": "admission", "namespace": "base"}));
    }

    #[test]
    fn a_subject_two_moved_service_accounts_could_be_is_refused_as_kustomize_refuses_it() {
        let branch = |ns: &str| {
            format!("apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: sa}}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: crb-{ns}}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}}\nsubjects:\n- kind: ServiceAccount\n  name: sa\n")
        };
        let (a, b) = (branch("a"), branch("b"));
        let disk = memory(&[
            ("a/kustomization.yaml", "namespace: a\nresources: [sa.yaml]\n"),
            ("a/sa.yaml", &a),
            ("b/kustomization.yaml", "namespace: b\nresources: [sa.yaml]\n"),
            ("b/sa.yaml", &b),
            ("both/kustomization.yaml", "resources: [../a, ../b]\n"),
        ]);
        let error = build(&disk, Path::new("both")).unwrap_err();
        assert_eq!(
            (error.file.as_str(), error.line, error.message.as_str()),
            (
                "/a/sa.yaml",
                Some(11),
                "found multiple possible referrals: ServiceAccount.v1.[noGrp]/sa.a, ServiceAccount.v1.[noGrp]/sa.b (the subject `sa` needs a namespace)"
            )
        );
        // Subjects a later patch writes again (with their namespace) are not ambiguous.
        let fixed = memory(&[
            ("a/kustomization.yaml", "namespace: a\nresources: [sa.yaml]\n"),
            ("a/sa.yaml", &a),
            ("b/kustomization.yaml", "namespace: b\nresources: [sa.yaml]\n"),
            ("b/sa.yaml", &b),
            ("both/kustomization.yaml", "resources: [../a, ../b]\npatchesStrategicMerge: [subjects.yaml]\n"),
            (
                "both/subjects.yaml",
                "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: crb-a}\nsubjects: [{kind: ServiceAccount, name: sa, namespace: a}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: crb-b}\nsubjects: [{kind: ServiceAccount, name: sa, namespace: b}]\n",
            ),
        ]);
        let out = build(&fixed, Path::new("both")).unwrap();
        assert_eq!(out.len(), 4);
        // One branch alone: the subject takes its ServiceAccount's namespace.
        let out = build(&disk, Path::new("a")).unwrap();
        assert_eq!(
            out[1].to_json()["subjects"][0],
            json!({"kind": "ServiceAccount", "name": "sa", "namespace": "a"})
        );
        assert_eq!(out[1].to_json()["metadata"], json!({"name": "crb-a"}));
    }

    #[test]
    fn each_image_entry_changes_an_image_once_in_order() {
        // The second entry renames `nginx` to `b`; the first, which names `b`, ran before it.
        let disk = memory(&[
            (
                "kustomization.yaml",
                "resources: [deploy.yaml]\nimages:\n- {name: b, newName: c}\n- {name: nginx, newName: b}\n",
            ),
            ("deploy.yaml", DEPLOY),
        ]);
        let out = build(&disk, Path::new(".")).unwrap();
        let image = &out[0].to_json()["spec"]["template"]["spec"]["containers"][0]["image"];
        assert_eq!(image, "b");
    }

    #[test]
    fn image_entries_are_read_with_field_names_in_any_case() {
        let disk = memory(&[
            (
                "kustomization.yaml",
                "resources: [deploy.yaml]\nimages:\n- name: nginx\n  newName: busybox\n  Digest: sha256:222\n",
            ),
            ("deploy.yaml", DEPLOY),
        ]);
        let out = build(&disk, Path::new(".")).unwrap();
        let image = &out[0].to_json()["spec"]["template"]["spec"]["containers"][0]["image"];
        assert_eq!(image, "busybox@sha256:222");
    }

    /// kustomize reads annotations as a map of strings: each value is the text it was written
    /// as; labels are left as they are.
    #[test]
    fn annotations_are_the_text_they_were_written_as() {
        let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels: {n: 1, b:}\n  annotations:\n    blank:\n    tilde: ~\n    nul: null\n    num: 1.50\n    hex: 0x1F\n    enabled: yes\n    text: abc\n    block: >\n      folded\n";
        let disk = memory(&[
            ("kustomization.yaml", "resources: [cm.yaml]\ncommonAnnotations: {team: a}\n"),
            ("cm.yaml", cm),
        ]);
        let out = build(&disk, Path::new(".")).unwrap();
        let meta = &out[0].to_json()["metadata"];
        assert_eq!(
            meta["annotations"],
            json!({"blank": "", "tilde": "~", "nul": "null", "num": "1.50", "hex": "0x1F",
                   "enabled": "yes", "text": "abc", "block": "folded\n", "team": "a"})
        );
        assert_eq!(meta["labels"], json!({"n": 1, "b": null}));
        // A value with no text of its own (a build made it) is written as its value reads.
        let text = "metadata: {annotations: {b: true, n: 1.50, z: }}";
        let doc = crate::load::yaml::parse_stream(text, &crate::load::Limits::default());
        let mut t = Tree::from_node(&doc.documents[0].root, 0);
        finish(&mut t, &|_| None);
        assert_eq!(
            t.to_json()["metadata"]["annotations"],
            json!({"b": "true", "n": "1.5", "z": ""})
        );
    }

    /// kustomize reads a kustomization into typed fields: a number or a boolean where it reads
    /// text refuses the kustomization (an error at the field, not a build without it); a null
    /// label or annotation value is "".
    #[test]
    fn a_number_where_kustomize_reads_text_is_refused_at_its_line() {
        let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n";
        let refused = [
            ("namePrefix: 1\n", "`namePrefix` must be a string, not a number"),
            ("nameSuffix: true\n", "`nameSuffix` must be a string, not a boolean"),
            ("namespace: 5\n", "`namespace` must be a string, not a number"),
            (
                "images:\n- name: x\n  newTag: 1.0\n",
                "`images.newTag` must be a string, not a number",
            ),
            (
                "images:\n- name: x\n  NewName: 2\n",
                "`images.newName` must be a string, not a number",
            ),
            ("commonAnnotations: {a: 1}\n", "`commonAnnotations.a` must be a string, not a number"),
            ("commonLabels: {a: yes}\n", "`commonLabels.a` must be a string, not a boolean"),
            ("labels:\n- pairs: {a: 2.5}\n", "`labels.pairs.a` must be a string, not a number"),
        ];
        for (field, message) in refused {
            let kustomization = format!("resources: [cm.yaml]\n{field}");
            let disk = memory(&[("kustomization.yaml", &kustomization), ("cm.yaml", cm)]);
            let e = build(&disk, Path::new(".")).err().unwrap_or_else(|| panic!("{field}"));
            assert!(e.message.starts_with(message), "{field}: {}", e.message);
            assert_eq!(e.line, Some(2 + field.matches('\n').count() as u32 - 1), "{field}");
        }
        let kustomization = "resources: [cm.yaml]\nnamePrefix: '1'\nimages: [{name: x, newTag: '1.0'}]\ncommonAnnotations: {a: }\ncommonLabels: {b: ~}\n";
        let disk = memory(&[("kustomization.yaml", kustomization), ("cm.yaml", cm)]);
        let out = build(&disk, Path::new(".")).unwrap();
        let meta = &out[0].to_json()["metadata"];
        assert_eq!(meta, &json!({"name": "1c", "annotations": {"a": ""}, "labels": {"b": ""}}));
    }

    /// An object with nothing to finish is left as loaded (its levels still the loaded node's);
    /// [`unfinished`] says so exactly when [`finish`] changes the object.
    #[test]
    fn finishing_changes_only_objects_with_something_to_finish() {
        let cases = [
            ("metadata: {name: a, labels: {app: web}, annotations: {x: y}}\nspec: {a: 1}", false),
            // Labels are left as they are (kustomize does), annotations become text.
            ("metadata: {name: a, labels: {n: 3, m: null}}", false),
            ("metadata: {name: a, annotations: {n: null}}", true),
            ("metadata: {name: a, annotations: {b: true}}", true),
            ("metadata: {name: a, annotations: {}}", true),
            ("metadata: {name: a, annotations: null}", true),
            ("metadata: {name: a, labels: {}}", false),
            (
                "metadata: {name: a, annotations: {internal.config.kubernetes.io/previousNames: b}}",
                true,
            ),
            ("kind: RoleBinding\nsubjects: [{name: s, internal.mtk-lint/given-namespace: t}]", true),
            ("kind: RoleBinding\nsubjects: [{name: s, namespace: t}]", false),
            ("metadata: [a]", false),
        ];
        for (text, changes) in cases {
            let doc = crate::load::yaml::parse_stream(text, &crate::load::Limits::default());
            let node = &doc.documents[0].root;
            let mut t = Tree::from_node(node, 0);
            assert_eq!(unfinished(View::Tree(&t)), changes, "{text}");
            finish(&mut t, &|_| None);
            assert_eq!(!t.is_node(node), changes, "{text}");
            let TValue::Map(fields) = &t.value else { panic!("{text}") };
            assert_eq!(fields.as_loaded().is_some(), !changes, "left as loaded: {text}");
        }
    }

    #[test]
    fn only_objects_of_one_identity_are_duplicates() {
        let object = |kind: &str, ns: &str| {
            let api = if kind == "Deployment" { "apps/v1" } else { "v1" };
            let o = json!({"apiVersion": api, "kind": kind, "metadata": {"name": "web", "namespace": ns}});
            Tree::from_json(&o, 0)
        };
        // One name and kind in two namespaces, and one name of two kinds: all distinct.
        let mut out =
            vec![object("Deployment", "a"), object("Deployment", "b"), object("Service", "a")];
        assert!(first_duplicate(&out).is_none());
        // An unset namespace is `default`; a cluster-scoped kind has none at all.
        out.push(object("Deployment", ""));
        assert!(first_duplicate(&out).is_none());
        out.push(object("Deployment", "default"));
        let (at, id) = first_duplicate(&out).unwrap();
        assert_eq!((at, id.to_string()), (4, "Deployment.v1.apps/web.[noNs]".to_string()));
        let cluster = |ns: &str| {
            let o = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "web", "namespace": ns}});
            Tree::from_json(&o, 0)
        };
        let (at, _) = first_duplicate(&[cluster("a"), cluster("b")]).unwrap();
        assert_eq!(at, 1);
    }
}
