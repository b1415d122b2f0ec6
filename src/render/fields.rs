//! The kustomization fields that set values across the objects of a build: `namespace`,
//! `namePrefix`/`nameSuffix` (and the fields that name renamed objects), `commonLabels` and
//! `labels`, `commonAnnotations`, `images` and `replicas`, as kustomize's default field specs
//! place them.

use super::disk::Result;
use super::kustomize::{cluster_scoped, identities, remember, rename, Kustomization};
use super::tree::{TValue, Tree};
use crate::load::source::Span;

/// `namespace:` on every namespaced object (and the name of Namespace objects).
pub(super) fn namespace(k: &Kustomization, out: &mut [Tree]) {
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
pub(super) fn name_affixes(k: &Kustomization, out: &mut [Tree]) {
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

pub(super) fn labels(k: &Kustomization, out: &mut [Tree]) -> Result<()> {
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

pub(super) fn annotations(k: &Kustomization, out: &mut [Tree]) -> Result<()> {
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
pub(super) fn images(k: &Kustomization, out: &mut [Tree]) -> Result<()> {
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
pub(super) fn replicas(k: &Kustomization, out: &mut [Tree]) -> Result<()> {
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
