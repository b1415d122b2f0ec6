//! The kustomization fields that set values across the objects of a build: `namespace`,
//! `namePrefix`/`nameSuffix` (and the fields that name renamed objects), `commonLabels` and
//! `labels`, `commonAnnotations`, `images` and `replicas`, as kustomize's default field specs
//! place them.

use super::disk::Result;
use super::fieldspec::{self, Create, FieldSpec};
use super::kustomize::{cluster_scoped, identities, identity, remember, rename, Kustomization};
use super::tree::{Fields, TValue, Tree};
use super::view::{child_at, view_at, Shape, View};
use crate::load::source::Span;
use crate::load::{Node, Value};

/// `namespace:` on every namespaced object, on the subjects of bindings its options name, and
/// where the namespace field specs say (the name of a `v1` Namespace, a service's namespace in
/// an APIService or a CRD's conversion webhook, what `configurations` add). With `unsetOnly`
/// (a transformer config's option) only empty fields are set.
pub(super) fn namespace<'a>(k: &Kustomization<'a>, out: &mut [Tree<'a>]) -> Result<()> {
    let Some(node) = k.tree.get("namespace") else { return Ok(()) };
    let Some(ns) = node.as_str().filter(|s| !s.is_empty()) else { return Ok(()) };
    let options = &k.specs.namespace;
    let specs: Vec<FieldSpec> =
        k.specs.of("namespace").into_iter().filter(|s| s.path != "metadata/namespace").collect();
    // ServiceAccounts and Services that move: bindings and webhooks that name them with their
    // namespace follow.
    let moves: Vec<super::namereference::Rename> = out
        .iter()
        .filter(|t| {
            matches!(t.get("kind").and_then(Tree::as_str), Some("ServiceAccount" | "Service"))
        })
        .filter_map(|t| {
            let kind = t.get("kind").and_then(Tree::as_str).unwrap_or("").to_string();
            let (name, old_ns) = identity(t);
            // A ServiceAccount already in the namespace is a move too: kustomize records the
            // id of every object the transformer sets, and bindings' subjects that name it take
            // its namespace (see `namereference::bindings`).
            let moves = old_ns != ns || kind == "ServiceAccount";
            ((old_ns.is_empty() || !options.unset_only) && moves).then(|| {
                super::namereference::Rename {
                    kind,
                    namespace: old_ns,
                    old: name.clone(),
                    new: name,
                    new_namespace: Some(ns.to_string()),
                    file: node.file,
                    span: node.span,
                }
            })
        })
        .collect();
    super::namereference::update(out, &moves, &k.specs.name_references)
        .map_err(|m| k.error(Some(node), m))?;
    let set = |field: &mut Tree| {
        if !options.unset_only || field.as_str().is_none_or(str::is_empty) {
            *field = Tree::string(ns, node.file, node.span);
        }
    };
    // The specs for an object by whether it is `v1` and a binding, chosen once (not per
    // object: an overlay's namespace moves every object of its tenant).
    let choose = |v1: bool, binding: bool| -> Vec<FieldSpec> {
        specs
            .iter()
            .filter(|s| v1 || s.path != "metadata/name")
            .filter(|s| !(binding && s.path == "subjects/namespace"))
            .cloned()
            .collect()
    };
    let choices =
        [choose(false, false), choose(false, true), choose(true, false), choose(true, true)];
    for t in out.iter_mut() {
        let (_, _, kind) = fieldspec::gvk(t);
        let binding = matches!(kind, "RoleBinding" | "ClusterRoleBinding");
        let service_account = kind == "ServiceAccount";
        let namespace_object = kind == "Namespace";
        let v1 = t.get("apiVersion").and_then(Tree::as_str) == Some("v1");
        if binding {
            binding_subjects(t, options.subjects, &set);
        }
        // A `v1` Namespace takes the namespace as its name: a patch may still name it by the
        // name it had (as kustomize keeps an object's earlier ids).
        if v1 && namespace_object && !options.unset_only && identity(t).0 != ns {
            remember(t, node.file, node.span);
        }
        let chosen = &choices[usize::from(v1) * 2 + usize::from(binding)];
        fieldspec::apply_all(chosen, t, (Create::Scalar, (node.file, node.span)), &mut |f| {
            if matches!(f.value, TValue::Seq(_) | TValue::Map(_)) {
                return Err("namespace field specs must target scalar nodes".into());
            }
            set(f);
            Ok(())
        })
        .map_err(|m| k.error(Some(node), m))?;
        if cluster_scoped(t) {
            continue;
        }
        let current = t.at(&["metadata", "namespace"]).and_then(Tree::as_str).unwrap_or("");
        if options.unset_only && !current.is_empty() {
            continue;
        }
        // An id the object keeps needs no record: lookups by earlier ids find it by its
        // current one (overlays often repeat their base's namespace). ServiceAccounts are
        // recorded anyway: whether one has a record decides if a binding's subject is
        // ambiguous among them.
        if current != ns || service_account {
            remember(t, node.file, node.span);
        }
        if let Some(meta) = t.map_at("metadata", node.file, node.span) {
            meta.set("namespace", Tree::string(ns, node.file, node.span));
        }
    }
    if let Some((_, id)) = super::kustomize::first_duplicate(out) {
        return Err(k.error(
            Some(node),
            format!("namespace transformation produces ID conflict: two objects are now {id}"),
        ));
    }
    Ok(())
}

/// The subjects of a binding that take the namespace: those named `default` (kustomize's
/// default, `setRoleBindingSubjects: defaultOnly`), every ServiceAccount
/// (`allServiceAccounts`), or none. Other subjects follow only the ServiceAccounts the build
/// moves (see [`namespace`]).
fn binding_subjects<'a>(t: &mut Tree<'a>, mode: fieldspec::Subjects, set: &dyn Fn(&mut Tree<'a>)) {
    let Some(Tree { value: TValue::Seq(subjects), file, span }) = t.get_mut("subjects") else {
        return;
    };
    let (file, span) = (*file, *span);
    for s in subjects {
        let chosen = match mode {
            fieldspec::Subjects::None => false,
            fieldspec::Subjects::Default => s.get("name").and_then(Tree::as_str) == Some("default"),
            fieldspec::Subjects::ServiceAccounts => {
                s.get("kind").and_then(Tree::as_str) == Some("ServiceAccount")
            }
        };
        if !chosen {
            continue;
        }
        if s.get("namespace").is_none() {
            s.set("namespace", Tree { file, span, value: TValue::Str("".into()) });
        }
        if let Some(field) = s.get_mut("namespace") {
            set(field);
        }
    }
}

/// `namePrefix` and `nameSuffix` where their field specs say (`metadata/name` by default, not
/// of Namespaces, CRDs and APIServices), then the fields that name the renamed objects.
pub(super) fn name_affixes<'a>(k: &Kustomization<'a>, out: &mut [Tree<'a>]) -> Result<()> {
    let prefix = k.tree.get("namePrefix");
    let suffix = k.tree.get("nameSuffix");
    if prefix.is_none() && suffix.is_none() {
        return Ok(());
    }
    let text = |n: Option<&Tree>| n.and_then(Tree::as_str).unwrap_or("").to_string();
    let (p, s) = (text(prefix), text(suffix));
    let (file, at) = prefix.or(suffix).map_or((k.file, Span::default()), |n| (n.file, n.span));
    let specs = |name: &str, given: Option<&Tree>| {
        if given.is_some() {
            k.specs.of(name)
        } else {
            Vec::new()
        }
    };
    let (prefix_specs, suffix_specs) = (specs("namePrefix", prefix), specs("nameSuffix", suffix));
    let is_name = |spec: &&FieldSpec| spec.path == "metadata/name";
    let (other_prefix, other_suffix): (Vec<FieldSpec>, Vec<FieldSpec>) = (
        prefix_specs.iter().filter(|s| !is_name(s)).cloned().collect(),
        suffix_specs.iter().filter(|s| !is_name(s)).cloned().collect(),
    );
    let mut renames = Vec::new();
    for t in out.iter_mut() {
        let (group, _, kind) = fieldspec::gvk(t);
        if matches!(kind, "Namespace" | "CustomResourceDefinition")
            || (kind == "APIService" && group == "apiregistration.k8s.io")
        {
            continue;
        }
        let names = |specs: &[FieldSpec]| specs.iter().filter(is_name).any(|s| s.selects_object(t));
        let (with_prefix, with_suffix) = (names(&prefix_specs), names(&suffix_specs));
        for (specs, affix, before) in [(&other_prefix, &p, true), (&other_suffix, &s, false)] {
            fieldspec::apply_all(specs, t, (Create::Never, (file, at)), &mut |field| {
                if let Some(old) = field.as_str() {
                    let new =
                        if before { format!("{affix}{old}") } else { format!("{old}{affix}") };
                    *field = Tree::string(&new, file, at);
                }
                Ok(())
            })
            .map_err(|m| k.error(prefix.or(suffix), m))?;
        }
        if !with_prefix && !with_suffix {
            continue;
        }
        let Some(name) = t.at(&["metadata", "name"]).and_then(Tree::as_str) else { continue };
        let new = format!(
            "{}{name}{}",
            if with_prefix { p.as_str() } else { "" },
            if with_suffix { s.as_str() } else { "" }
        );
        remember(t, file, at);
        renames.push(rename(t, new, file, at));
    }
    super::namereference::update(out, &renames, &k.specs.name_references)
        .map_err(|m| k.error(prefix.or(suffix), m))?;
    Ok(())
}

/// Sets label or annotation `pairs` in the mapping each spec names (made where the spec says
/// `create`).
fn set_pairs<'a>(
    k: &Kustomization<'a>,
    out: &mut [Tree<'a>],
    specs: &[FieldSpec],
    pairs: &[(String, Tree<'a>)],
    (file, span): (u32, Span),
    at: &Tree<'a>,
) -> Result<()> {
    for t in out.iter_mut() {
        fieldspec::apply_all(specs, t, (Create::Map, (file, span)), &mut |node| {
            if node.value == TValue::Null {
                node.value = TValue::Map(Fields::default());
            }
            if !matches!(node.value, TValue::Map(_)) {
                return Err("expected a mapping to set labels or annotations in".into());
            }
            for (key, value) in pairs {
                node.set(key, value.clone());
            }
            Ok(())
        })
        .map_err(|m| k.error(Some(at), m))?;
    }
    Ok(())
}

/// The pairs of `commonLabels`, `commonAnnotations`, a `labels` entry or a label or annotation
/// transformer's config, as text. A kustomization's own must be strings (checked when it is
/// read); a transformer's config may write numbers and booleans, which kustomize makes text.
fn pairs_of<'a>(
    k: &Kustomization<'_>,
    node: &Tree<'a>,
    what: &str,
) -> Result<Vec<(String, Tree<'a>)>> {
    let TValue::Map(fields) = &node.value else {
        return Err(k.error(Some(node), format!("`{what}` must be a mapping")));
    };
    fields
        .iter()
        .map(|f| {
            let (file, span) = (f.value.file, f.value.span);
            let value = match &f.value.value {
                TValue::Str(_) => f.value.clone(),
                TValue::Null => Tree::string("", file, span),
                TValue::Int(i) => Tree::string(&i.to_string(), file, span),
                TValue::Float(x) => Tree::string(&x.to_string(), file, span),
                TValue::Bool(b) => Tree::string(&b.to_string(), file, span),
                TValue::Seq(_) | TValue::Map(_) => {
                    return Err(k.error(Some(&f.value), format!("`{what}` values must be strings")))
                }
            };
            Ok((f.key.as_str().to_owned(), value))
        })
        .collect()
}

/// `commonLabels` (metadata, pod templates and selectors) and each `labels` entry (metadata,
/// and templates, volume claim templates or selectors as it asks, and its own `fields`).
pub(super) fn labels<'a>(k: &Kustomization<'a>, out: &mut [Tree<'a>]) -> Result<()> {
    if let Some(common) = k.tree.get("commonLabels") {
        let pairs = pairs_of(k, common, "commonLabels")?;
        let specs = k.specs.of("commonLabels");
        set_pairs(k, out, &specs, &pairs, (common.file, common.span), common)?;
    }
    let Some(Tree { value: TValue::Seq(list), .. }) = k.tree.get("labels") else { return Ok(()) };
    for entry in list {
        let pairs =
            entry.get("pairs").map_or(Ok(Vec::new()), |p| pairs_of(k, p, "labels.pairs"))?;
        let flag = |key: &str| matches!(entry.get(key).map(|t| &t.value), Some(TValue::Bool(true)));
        let mut specs = match entry.get("fields").map(|f| &f.value) {
            None | Some(TValue::Null) => Vec::new(),
            Some(TValue::Seq(items)) => items
                .iter()
                .map(|i| FieldSpec::from_tree(i).map_err(|m| k.error(Some(i), m)))
                .collect::<Result<Vec<_>>>()?,
            Some(_) => {
                return Err(k.error(entry.get("fields"), "`labels.fields` must be a list".into()))
            }
        };
        fieldspec::merge(&mut specs, &k.specs.of("labels"));
        if flag("includeSelectors") {
            fieldspec::merge(&mut specs, &k.specs.of("commonLabels"));
        } else {
            if flag("includeTemplates") {
                fieldspec::merge(&mut specs, &k.specs.of("templateLabels"));
            }
            if flag("includeVolumeClaimTemplates") {
                fieldspec::merge(&mut specs, &k.specs.of("volumeClaimTemplateLabels"));
            }
            fieldspec::merge(&mut specs, &fieldspec::defaults("metadataLabels")[..1]);
        }
        set_pairs(k, out, &specs, &pairs, (entry.file, entry.span), entry)?;
    }
    Ok(())
}

/// `commonAnnotations`, where kustomize's annotation field specs say.
pub(super) fn annotations<'a>(k: &Kustomization<'a>, out: &mut [Tree<'a>]) -> Result<()> {
    let Some(node) = k.tree.get("commonAnnotations") else { return Ok(()) };
    let pairs = pairs_of(k, node, "commonAnnotations")?;
    let specs = k.specs.of("commonAnnotations");
    set_pairs(k, out, &specs, &pairs, (node.file, node.span), node)
}

/// `images:` — new names, tags and digests for the containers that use an image (anywhere, as
/// kustomize's legacy image filter finds them), and for the fields the image field specs name
/// (image volumes).
pub(super) fn images<'a>(k: &Kustomization<'a>, out: &mut [Tree<'a>]) -> Result<()> {
    let entries = k.list("images")?;
    if entries.is_empty() {
        return Ok(());
    }
    let specs = k.specs.of("images");
    let mut paths = Vec::new();
    for t in out.iter_mut() {
        // The image fields are found by reading, and only those an entry names are changed:
        // an object whose images no entry names stays as loaded.
        paths.clear();
        image_paths(View::Tree(t), &mut Vec::new(), &mut paths);
        if fieldspec::reached(&specs, t, &mut paths).is_err() {
            // The walk would change the object (or fail): only it can say how.
            images_walked(k, entries, &specs, t)?;
            continue;
        }
        // kustomize applies the entries one after another; an image field is changed by each
        // entry in turn, so the entries are applied in order to each field. A field both
        // walks reach (a container's image that a field spec names too) is changed once.
        for (i, path) in paths.iter().enumerate() {
            let Some(image) = view_at(t, path).and_then(View::as_str) else { continue };
            if paths[..i].contains(path) || !entries.iter().any(|e| names(e, image)) {
                continue;
            }
            if let Some(image) = child_at(t, path) {
                for entry in entries {
                    update_image(entry, image);
                }
            }
        }
    }
    Ok(())
}

/// [`images`] of an object the field specs' walk changes or refuses.
fn images_walked<'a>(
    k: &Kustomization<'a>,
    entries: &[Tree<'a>],
    specs: &[FieldSpec],
    t: &mut Tree<'a>,
) -> Result<()> {
    let Some(first) = entries.first() else { return Ok(()) };
    let mut seen: Vec<*const Tree> = Vec::new();
    let mut update = |image: &mut Tree<'a>| {
        let at: *const Tree = image;
        if seen.contains(&at) {
            return;
        }
        seen.push(at);
        for entry in entries {
            update_image(entry, image);
        }
    };
    for_each_image(t, &mut update);
    fieldspec::apply_all(specs, t, (Create::Never, (first.file, first.span)), &mut |f| {
        update(f);
        Ok(())
    })
    .map_err(|m| k.error(Some(first), m))
}

/// A field of an `images` entry (`Digest:` is `digest:`: see [`Tree::json_field`]).
fn entry_field<'t, 'a>(entry: &'t Tree<'a>, f: &str) -> Option<&'t Tree<'a>> {
    entry.json_field(f)
}

/// Whether an `images` entry names the image `current`: by its name, or by its path without
/// the registry.
fn names(entry: &Tree<'_>, current: &str) -> bool {
    let name = entry_field(entry, "name").and_then(Tree::as_str).unwrap_or("");
    let (base, _) = split_image(current);
    base == name || crate::image::path_of(current) == name
}

/// One `images` entry applied to an image field (nothing when it names another image).
fn update_image<'a>(entry: &Tree<'a>, image: &mut Tree<'a>) {
    let get = |f: &str| entry_field(entry, f);
    let field = |f: &str| get(f).and_then(Tree::as_str);
    let Some(current) = image.as_str() else { return };
    if !names(entry, current) {
        return;
    }
    let (base, tag_part) = split_image(current);
    let new_name = field("newName").unwrap_or(base);
    let suffix = match (field("digest"), field("newTag")) {
        (Some(d), _) => format!("@{d}"),
        (None, Some(tag)) => format!(":{tag}"),
        (None, None) => tag_part.to_string(),
    };
    let at = ["digest", "newTag", "newName"].iter().find_map(|f| get(f)).unwrap_or(entry);
    *image = Tree::string(&format!("{new_name}{suffix}"), at.file, at.span);
}

/// `replicas`: `count` set where the replica field specs say (`spec.replicas` of Deployments,
/// ReplicationControllers, ReplicaSets and StatefulSets) on the objects called `name` (now or
/// before a rename). A name that no such object has is an error, as in kustomize.
pub(super) fn replicas<'a>(k: &Kustomization<'a>, out: &mut [Tree<'a>]) -> Result<()> {
    let entries = k.list("replicas")?;
    let specs = if entries.is_empty() { Vec::new() } else { k.specs.of("replicas") };
    for entry in entries {
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
        let mut found = false;
        for t in out.iter_mut() {
            // `apply_all` applies only the specs that select the object.
            let (group, version, kind) = fieldspec::gvk(t);
            if !specs.iter().any(|s| s.selects((group, version, kind)))
                || !identities(t).iter().any(|(n, _)| n == name)
            {
                continue;
            }
            found = true;
            fieldspec::apply_all(&specs, t, (Create::Scalar, (count.file, count.span)), &mut |f| {
                *f = count.clone();
                Ok(())
            })
            .map_err(|m| k.error(Some(entry), m))?;
        }
        if !found {
            return Err(k.error(
                Some(entry),
                format!("resource with name {name} does not match a config with the kinds replicas can be set on"),
            ));
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
fn for_each_image<'a>(t: &mut Tree<'a>, f: &mut dyn FnMut(&mut Tree<'a>)) {
    // Found by reading (what the build has not changed, as loaded), then changed: only the
    // paths to the images are made the build's own.
    let mut paths = Vec::new();
    image_paths(View::Tree(t), &mut Vec::new(), &mut paths);
    for path in paths {
        if let Some(image) = child_at(t, &path) {
            f(image);
        }
    }
}

fn is_containers(key: &str) -> bool {
    matches!(key, "containers" | "initContainers" | "ephemeralContainers")
}

/// The paths of the images [`for_each_image`] changes, in the order it walks them: each
/// container list's images, then what is below each field.
fn image_paths(v: View<'_, '_>, at: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
    if let View::Node(node) = v {
        return loaded_image_paths(node, at, out);
    }
    match v.shape() {
        Shape::Map(fields) => {
            for (i, (key, value)) in fields.enumerate() {
                at.push(i);
                if let (true, Shape::Seq(items)) = (is_containers(key), value.shape()) {
                    for (j, c) in items.enumerate() {
                        if let Some((k, _)) = c.field("image") {
                            out.push([&at[..], &[j, k]].concat());
                        }
                    }
                }
                image_paths(value, at, out);
                at.pop();
            }
        }
        Shape::Seq(items) => {
            for (i, item) in items.enumerate() {
                at.push(i);
                image_paths(item, at, out);
                at.pop();
            }
        }
        Shape::Null | Shape::Scalar(_) => {}
    }
}

/// [`image_paths`] below a loaded node: the same walk, read from the nodes directly (most of
/// what an `images` transformer walks is as loaded), and not entered at scalars. Kept apart
/// from the view's walk: the one walk through views, skipping scalars too, costs 27 million
/// more instructions on 200 overlay tenants.
fn loaded_image_paths(node: &Node, at: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
    match &node.value {
        Value::Map(entries) => {
            for (i, entry) in entries.iter().enumerate() {
                let (Value::Map(_) | Value::Seq(_)) = &entry.value.value else { continue };
                at.push(i);
                if let (true, Value::Seq(items)) = (is_containers(&entry.key), &entry.value.value) {
                    for (j, c) in items.iter().enumerate() {
                        let Value::Map(fields) = &c.value else { continue };
                        if let Some(k) = fields.iter().position(|f| f.key == "image") {
                            out.push([&at[..], &[j, k]].concat());
                        }
                    }
                }
                loaded_image_paths(&entry.value, at, out);
                at.pop();
            }
        }
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let (Value::Map(_) | Value::Seq(_)) = &item.value else { continue };
                at.push(i);
                loaded_image_paths(item, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::tree::{is_loaded as loaded, loaded_and_made};

    /// The `images` transformer changes only the images an entry names, each once, and in
    /// the order of the entries; what holds no such image stays as loaded. Where the field
    /// specs' walk would change the object (an empty `containers[]` it makes a list) it runs.
    #[test]
    fn images_change_only_what_an_entry_names() {
        let dir = std::path::PathBuf::from("/k");
        let k_text = "images:\n- {name: nginx, newName: web}\n- {name: web, newTag: '2'}\n- {name: absent, newTag: '3'}\n";
        let k_node = crate::load::yaml::parse_stream(k_text, &crate::load::Limits::default())
            .documents
            .remove(0)
            .root;
        let k = Kustomization {
            file: 1,
            shown: "/k/kustomization.yaml".into(),
            dir,
            tree: Tree::from_node(&k_node, 1),
            root_only: true,
            specs: fieldspec::Specs::default(),
        };
        let objects = "kind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      containers: [{name: a, image: nginx, env: [{name: E, value: v}]}, {name: b, image: other}]\n---\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}]}\n---\nkind: Pod\nmetadata: {name: p}\nspec: {containers: null, initContainers: [{name: i, image: nginx:1}]}\n";
        let docs = crate::load::yaml::parse_stream(objects, &crate::load::Limits::default());
        let mut out: Vec<Tree> =
            docs.documents.iter().map(|d| Tree::from_node(&d.root, 0)).collect();
        images(&k, &mut out).unwrap();
        let image = |t: &Tree, path: &[&str], i: usize| {
            let TValue::Seq(items) = &t.at(path).unwrap().value else { panic!() };
            let image = items[i].get("image").unwrap();
            (image.as_str().unwrap().to_string(), image.file)
        };
        let pod = ["spec", "template", "spec", "containers"];
        // Renamed by the first entry, then tagged by the second; written by the second.
        assert_eq!(image(&out[0], &pod, 0), ("web:2".to_string(), 1));
        assert_eq!(image(&out[0], &pod, 1), ("other".to_string(), 0));
        assert_eq!(image(&out[2], &["spec", "initContainers"], 0), ("web:2".to_string(), 1));
        assert_eq!(
            out[2].at(&["spec", "containers"]).unwrap().value,
            TValue::Seq(super::super::children::Children::default())
        );
        assert!(loaded(&out[1]), "a Service no entry reaches is left as loaded");
        let TValue::Seq(containers) = &out[0].at(&pod).unwrap().value else { panic!() };
        assert!(loaded(containers[0].get("env").unwrap()) && loaded(&containers[1]));
    }

    /// Images are found in the parts a build left as loaded as in trees made node by node,
    /// and only the paths to them are made the build's own.
    #[test]
    fn images_are_found_alike_in_loaded_and_made_trees() {
        let text = "kind: CronJob\nmetadata: {name: x, labels: {a: b}}\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          initContainers: [{name: i, image: busybox}]\n          containers:\n          - {name: a, image: nginx, env: [{name: E, value: v}]}\n          - {name: b}\n          volumes: [{name: v, emptyDir: {}}]\nlist: [[{containers: [{image: deep}]}]]\n";
        let mut trees = loaded_and_made(text);
        let mut seen = [Vec::new(), Vec::new()];
        for (t, seen) in trees.iter_mut().zip(&mut seen) {
            for_each_image(t, &mut |image| {
                seen.push(image.as_str().unwrap_or("").to_string());
                *image = Tree::string("changed", 1, image.span);
            });
        }
        assert_eq!(seen[0], ["busybox", "nginx", "deep"]);
        assert_eq!(seen[0], seen[1]);
        assert_eq!(trees[0], trees[1]);
        let shared = &trees[0];
        assert!(loaded(shared.get("metadata").unwrap()));
        let pod = shared.at(&["spec", "jobTemplate", "spec", "template", "spec"]).unwrap();
        assert!(!loaded(pod) && loaded(pod.get("volumes").unwrap()));
        let TValue::Seq(containers) = &pod.get("containers").unwrap().value else { panic!() };
        assert!(loaded(containers[0].get("env").unwrap()));
    }

    /// A Namespace that a kustomization's `namespace` renamed is still found by the name it
    /// had: an overlay's patch deletes it by that name (Kubeflow's profiles overlay deletes
    /// Namespace `system`, which its base's base renamed; kustomize 5.5 builds it so).
    #[test]
    fn a_patch_finds_a_namespace_by_the_name_it_had() {
        use crate::render::kustomize::{build, tests::write, Disk};
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                ("base/r.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: system\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"),
                ("base/kustomization.yaml", "namespace: profiles-system\nnamePrefix: p-\nresources: [r.yaml]\n"),
                (
                    "o/kustomization.yaml",
                    "namespace: kubeflow\nresources: [../base]\npatches:\n- patch: |-\n    $patch: delete\n    apiVersion: v1\n    kind: Namespace\n    metadata:\n      name: system\n",
                ),
            ],
        );
        let out = build(&Disk::new(dir.path()), std::path::Path::new("o")).unwrap();
        let ids: Vec<serde_json::Value> = out
            .iter()
            .map(|t| {
                let j = t.to_json();
                serde_json::json!([j["kind"], j["metadata"]["name"], j["metadata"]["namespace"]])
            })
            .collect();
        assert_eq!(ids, [serde_json::json!(["ConfigMap", "p-c", "kubeflow"])]);
    }
}
