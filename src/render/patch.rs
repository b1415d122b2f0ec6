//! Patches as kustomize applies them to a rendered tree: strategic merge (apimachinery's
//! `strategicpatch`, as kustomize uses it) and JSON 6902. Nodes a patch brings keep the patch's
//! file and spans, so a finding on them points at the patch.

use super::tree::{Field, TValue, Tree};

/// Why a patch could not be applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatchError(pub String);

impl std::fmt::Display for PatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a strategic merge did to the object it was applied to.
#[derive(Debug, PartialEq, Eq)]
pub enum Merged {
    Kept,
    /// `$patch: delete` at the top: the object is removed from the build.
    Deleted,
}

/// The type of a built-in kind's objects in the table derived from the API definitions
/// (`render/merge_keys.rs`); `None` for kinds that table does not know.
#[must_use]
pub fn builtin_type(group: &str, version: &str, kind: &str) -> Option<u16> {
    let kinds = super::merge_keys::KINDS;
    kinds
        .binary_search_by(|(g, v, k, _)| (*g, *v, *k).cmp(&(group, version, kind)))
        .ok()
        .map(|i| kinds[i].3)
}

/// A field of a built-in type: the type of its value (or elements) and its merge key.
fn builtin_field(ty: u16, field: &str) -> Option<(Option<u16>, Option<&'static str>)> {
    let fields = super::merge_keys::FIELDS;
    let i = fields.binary_search_by(|(t, f, _, _)| (*t, *f).cmp(&(ty, field))).ok()?;
    Some((fields[i].2, fields[i].3))
}

/// Where a strategic merge finds the merge key of a list field: the built-in types' table
/// derived from the API definitions (the type of the value being merged), a custom OpenAPI
/// schema (`render/openapi.rs`: its definition of the value), or nowhere (lists are replaced, as
/// kustomize does for kinds it has no schema for).
#[derive(Clone, Copy)]
pub enum Keys<'s> {
    None,
    /// A value of a built-in type (see [`builtin_type`]).
    Builtin(u16),
    /// A kind a custom schema defines: the schema and the definition of the value.
    Schema(&'s super::openapi::Schema, &'s serde_json::Value),
}

impl<'s> Keys<'s> {
    /// The merge key of the list field `field` of the value.
    #[must_use]
    pub fn list_key(self, field: &str) -> Option<&'s str> {
        match self {
            Keys::None => None,
            Keys::Builtin(ty) => builtin_field(ty, field).and_then(|(_, key)| key),
            Keys::Schema(schema, def) => schema.merge_key(def, field),
        }
    }

    /// The keys of the value of field `field` (a mapping, or the elements of a list).
    #[must_use]
    pub fn child<'f>(self, field: &'f str) -> Keys<'f>
    where
        's: 'f,
    {
        match self {
            Keys::None => Keys::None,
            Keys::Builtin(ty) => match builtin_field(ty, field) {
                Some((Some(child), _)) => Keys::Builtin(child),
                _ => Keys::None,
            },
            Keys::Schema(schema, def) => match schema.field(def, field) {
                Ok(Some(d)) => Keys::Schema(schema, d),
                Ok(None) => Keys::None,
                // A built-in type the custom schema names: kustomize's built-in schema.
                Err(name) => super::merge_keys::TYPES
                    .binary_search(&name)
                    .ok()
                    .and_then(|i| u16::try_from(i).ok())
                    .map_or(Keys::None, Keys::Builtin),
            },
        }
    }
}

/// Applies a strategic merge patch to an object; `keys` says how its lists merge.
pub fn strategic_merge<'a>(
    target: &mut Tree<'a>,
    patch: &Tree<'a>,
    keys: Keys,
) -> Result<Merged, PatchError> {
    if patch.get("$patch").and_then(Tree::as_str) == Some("delete") {
        return Ok(Merged::Deleted);
    }
    merge_value(target, patch, keys)?;
    tidy(target, keys);
    Ok(Merged::Kept)
}

/// Whether a value was written blank (`key:` with nothing after it): a null that covers no
/// text. `~` and `null` cover theirs.
fn blank(null: bool, span: crate::load::source::Span) -> bool {
    null && span.start() == span.end()
}

/// Lists whose merge key kyaml reads with a second key (the API's `x-kubernetes-list-map-keys`):
/// (list field, merge key, second key). Ports 53/TCP and 53/UDP are two.
const SECOND_KEY: &[(&str, &str, &str)] = &[
    ("ports", "containerPort", "protocol"),
    ("ports", "port", "protocol"),
    ("topologySpreadConstraints", "topologyKey", "whenUnsatisfiable"),
];

/// kustomize's merge walks the whole object, not only what the patch names, and tidies what it
/// walks (maps, and lists with a merge key): a keyed list keeps one element per key, the last
/// written (`walkAssociativeSequence`), with one key in the first one's place, with two in the
/// last one's; a field written blank is dropped (a base's
/// `preferredDuringSchedulingIgnoredDuringExecution:`), one written `~` or `null` stays.
fn tidy(t: &mut Tree<'_>, keys: Keys) {
    let TValue::Map(fields) = &mut t.value else { return };
    // What the build has not changed is read as loaded, and made its own only to tidy.
    if fields.as_loaded().is_some_and(|(entries, _)| !loaded_untidy(entries, keys)) {
        return;
    }
    fields.retain(|f| !blank(f.value.value == TValue::Null, f.value.span));
    for f in fields.iter_mut() {
        let (list_key, child) = (keys.list_key(&f.key), keys.child(&f.key));
        match (&mut f.value.value, list_key) {
            (TValue::Seq(items), Some(key)) => {
                let second = second_key(&f.key, key);
                if items
                    .as_loaded()
                    .is_some_and(|(loaded, _)| !loaded_list_untidy(loaded, (key, second), child))
                {
                    continue;
                }
                collapse_list(items, key, second);
                for e in items.iter_mut() {
                    tidy(e, child);
                }
            }
            // Lists without a key are not walked (kyaml replaces or keeps them whole).
            (TValue::Map(_), _) => tidy(&mut f.value, child),
            _ => {}
        }
    }
}

/// The second key of list field `field` whose merge key is `key` ([`SECOND_KEY`]).
fn second_key(field: &str, key: &str) -> Option<&'static str> {
    SECOND_KEY.iter().find(|(l, k, _)| *l == field && *k == key).map(|s| s.2)
}

/// Whether two of a list's elements have one key (elements without the key have none).
fn duplicated<T: PartialEq>(ids: &[Option<T>]) -> bool {
    ids.iter().enumerate().any(|(i, a)| a.is_some() && ids[i + 1..].iter().any(|b| b == a))
}

/// Whether [`tidy`] would change loaded entries: a field is written blank, or a keyed list below
/// has two elements with one key.
fn loaded_untidy(entries: &[crate::load::yaml::Entry], keys: Keys) -> bool {
    use crate::load::Value;
    entries.iter().any(|e| {
        let (list_key, child) = (keys.list_key(&e.key), keys.child(&e.key));
        match (&e.value.value, list_key) {
            (Value::Seq(items), Some(key)) => {
                loaded_list_untidy(items, (key, second_key(&e.key, key)), child)
            }
            (Value::Map(map), _) => loaded_untidy(map, child),
            (value, _) => blank(matches!(value, Value::Null), e.value.span),
        }
    })
}

/// [`loaded_untidy`] for a keyed list: two of its elements have one key (as [`collapse_list`]
/// reads them), or an element has something to tidy below.
fn loaded_list_untidy(
    items: &[crate::load::Node],
    (key, second): (&str, Option<&str>),
    child: Keys,
) -> bool {
    use crate::load::Value;
    fn id<'n>(
        e: &'n crate::load::Node,
        (key, second): (&str, Option<&str>),
    ) -> Option<(Option<&'n Value>, Option<&'n Value>)> {
        let value = |k: &str| e.get(k).map(|v| &v.value);
        e.get(key).map(|_| (value(key), second.and_then(value)))
    }
    let ids: Vec<_> = items.iter().map(|e| id(e, (key, second))).collect();
    duplicated(&ids)
        || items.iter().any(|e| matches!(&e.value, Value::Map(map) if loaded_untidy(map, child)))
}

fn collapse_list<'a>(items: &mut Vec<Tree<'a>>, key: &str, second: Option<&str>) {
    let id = |e: &Tree<'a>| {
        let value = |k: &str| e.get(k).map(|v| v.value.clone());
        e.get(key).map(|_| (value(key), second.and_then(value)))
    };
    let ids: Vec<_> = items.iter().map(id).collect();
    if !duplicated(&ids) {
        return;
    }
    let mut out: Vec<Option<Tree>> = std::mem::take(items).into_iter().map(Some).collect();
    for i in 0..out.len() {
        let Some(me) = &ids[i] else { continue };
        if out[i].is_none() {
            continue;
        }
        let Some(last) = (i + 1..ids.len()).rev().find(|&j| ids[j].as_ref() == Some(me)) else {
            continue;
        };
        if second.is_some() {
            // Deleted and appended again: the last one stays where it is.
            for j in i..last {
                if ids[j].as_ref() == Some(me) {
                    out[j] = None;
                }
            }
        } else {
            // Set in place: the last one's content where the first one is.
            out[i] = out[last].take();
            for j in i + 1..ids.len() {
                if ids[j].as_ref() == Some(me) {
                    out[j] = None;
                }
            }
        }
    }
    *items = out.into_iter().flatten().collect();
}

fn merge_value<'a>(target: &mut Tree<'a>, patch: &Tree<'a>, keys: Keys) -> Result<(), PatchError> {
    let (TValue::Map(_), TValue::Map(pfields)) = (&target.value, &patch.value) else {
        // A patch that restates a value (a merge key, an unchanged field) did not supply it:
        // the value keeps its source.
        if target.value != patch.value || matches!(patch.value, TValue::Seq(_)) {
            *target = strip_directives(patch);
        }
        return Ok(());
    };
    match patch.get("$patch").and_then(Tree::as_str) {
        None | Some("merge") => {}
        Some("replace") => {
            *target = strip_directives(patch);
            return Ok(());
        }
        Some(other) => return Err(PatchError(format!("unknown `$patch: {other}`"))),
    }
    if let Some(keep) = patch.get("$retainKeys") {
        let TValue::Seq(names) = &keep.value else {
            return Err(PatchError("`$retainKeys` must be a list of field names".into()));
        };
        let names: Vec<&str> = names.iter().filter_map(Tree::as_str).collect();
        if let TValue::Map(fields) = &mut target.value {
            fields.retain(|f| names.contains(&f.key.as_str()));
        }
    }
    for field in pfields {
        let key = field.key.as_str();
        if key == "$patch" || key == "$retainKeys" {
            continue;
        }
        if let Some(list) = key.strip_prefix("$deleteFromPrimitiveList/") {
            delete_from_primitive_list(target, list, &field.value)?;
            continue;
        }
        if key.starts_with("$setElementOrder/") {
            // The order of a merged list's elements: kustomize keeps the target's order for
            // elements both have and appends the new ones, which the merge below does.
            continue;
        }
        if key.starts_with('$') {
            return Err(PatchError(format!("the directive `{key}` is not supported yet")));
        }
        // `null` and a mapping that says `$patch: delete` both remove the field.
        if field.value.value == TValue::Null
            || field.value.get("$patch").and_then(Tree::as_str) == Some("delete")
        {
            target.remove(key);
            continue;
        }
        match target.get_mut(key) {
            None => {
                let TValue::Map(fields) = &mut target.value else { unreachable!("a map") };
                fields.push(Field {
                    key: field.key.clone(),
                    key_file: field.key_file,
                    key_span: field.key_span,
                    value: strip_directives(&field.value),
                });
            }
            Some(existing) => match (&mut existing.value, &field.value.value) {
                (TValue::Seq(items), TValue::Seq(patch_items)) => match keys.list_key(key) {
                    Some(mk) => merge_list(items, patch_items, mk, keys.child(key))?,
                    None => *existing = strip_directives(&field.value),
                },
                _ => merge_value(existing, &field.value, keys.child(key))?,
            },
        }
    }
    Ok(())
}

/// Merges a patch list into a list whose elements are identified by `key`.
fn merge_list<'a>(
    items: &mut Vec<Tree<'a>>,
    patch_items: &[Tree<'a>],
    key: &str,
    element: Keys,
) -> Result<(), PatchError> {
    if patch_items.iter().any(|p| p.get("$patch").and_then(Tree::as_str) == Some("replace")) {
        *items = patch_items
            .iter()
            .filter(|p| p.get("$patch").is_none())
            .map(strip_directives)
            .collect();
        return Ok(());
    }
    // kustomize merges with lists growing at the front: the patch's elements come first (in
    // its order, merged with the elements they name), then the others in their order.
    let mut rest: Vec<Option<Tree>> = std::mem::take(items).into_iter().map(Some).collect();
    let mut merged = Vec::new();
    for p in patch_items {
        let id = p.get(key).map(Tree::to_json);
        let position = id.as_ref().and_then(|id| {
            rest.iter().position(|t| {
                t.as_ref().and_then(|t| t.get(key)).map(Tree::to_json).as_ref() == Some(id)
            })
        });
        let delete = p.get("$patch").and_then(Tree::as_str) == Some("delete");
        match (position.and_then(|i| rest[i].take()), delete) {
            (_, true) => {}
            (Some(mut existing), false) => {
                merge_value(&mut existing, p, element)?;
                merged.push(existing);
            }
            (None, false) => merged.push(strip_directives(p)),
        }
    }
    merged.extend(rest.into_iter().flatten());
    *items = merged;
    Ok(())
}

fn delete_from_primitive_list<'a>(
    target: &mut Tree<'a>,
    list: &str,
    values: &Tree<'a>,
) -> Result<(), PatchError> {
    let TValue::Seq(values) = &values.value else {
        return Err(PatchError(format!("`$deleteFromPrimitiveList/{list}` must be a list")));
    };
    let gone: Vec<serde_json::Value> = values.iter().map(Tree::to_json).collect();
    if let Some(Tree { value: TValue::Seq(items), .. }) = target.get_mut(list) {
        items.retain(|i| !gone.contains(&i.to_json()));
    }
    Ok(())
}

/// A patch value as it goes into the object: without `$patch`, `$retainKeys` and the other
/// directives, at any depth.
fn strip_directives<'a>(patch: &Tree<'a>) -> Tree<'a> {
    let value = match &patch.value {
        TValue::Map(fields) => TValue::Map(
            fields
                .iter()
                .filter(|f| !f.key.starts_with('$'))
                .map(|f| Field {
                    key: f.key.clone(),
                    key_file: f.key_file,
                    key_span: f.key_span,
                    value: strip_directives(&f.value),
                })
                .collect(),
        ),
        TValue::Seq(items) => TValue::Seq(items.iter().map(strip_directives).collect()),
        other => other.clone(),
    };
    Tree { file: patch.file, span: patch.span, value }
}

/// Applies a JSON 6902 patch (a list of operations) to an object.
pub fn json6902<'a>(target: &mut Tree<'a>, operations: &Tree<'a>) -> Result<(), PatchError> {
    let TValue::Seq(ops) = &operations.value else {
        return Err(PatchError("a JSON 6902 patch must be a list of operations".into()));
    };
    for (i, op) in ops.iter().enumerate() {
        let name = op.get("op").and_then(Tree::as_str).unwrap_or("");
        let path = op
            .get("path")
            .and_then(Tree::as_str)
            .ok_or_else(|| PatchError(format!("operation {i} (`{name}`) has no `path`")))?;
        let fail = |why: String| PatchError(format!("operation {i} (`{name} {path}`): {why}"));
        let value = || op.get("value").cloned().ok_or_else(|| fail("no `value`".into()));
        match name {
            "add" => add(target, path, value()?).map_err(fail)?,
            "remove" => {
                remove(target, path).map_err(fail)?;
            }
            "replace" => {
                // kustomize's JSON patch library replaces a missing key of a map as if it
                // were added (a missing list element stays an error).
                let missing = find_mut(target, path).err();
                match missing {
                    None => *find_mut(target, path).map_err(fail)? = value()?,
                    Some(_) if parent_is_map(target, path) => {
                        add(target, path, value()?).map_err(fail)?;
                    }
                    Some(e) => return Err(fail(e)),
                }
            }
            "move" | "copy" => {
                let from = op
                    .get("from")
                    .and_then(Tree::as_str)
                    .ok_or_else(|| fail("no `from`".into()))?;
                let moved = if name == "move" {
                    remove(target, from).map_err(fail)?
                } else {
                    find_mut(target, from).map_err(fail)?.clone()
                };
                add(target, path, moved).map_err(fail)?;
            }
            "test" => {
                let found = find_mut(target, path).map_err(fail)?.to_json();
                if found != value()?.to_json() {
                    return Err(fail(format!("the value is {found}")));
                }
            }
            other => return Err(fail(format!("unknown operation `{other}`"))),
        }
    }
    Ok(())
}

/// The segments of a JSON pointer, unescaped.
fn segments(path: &str) -> Result<Vec<String>, String> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err("a path must start with `/`".into());
    };
    Ok(rest.split('/').map(|s| s.replace("~1", "/").replace("~0", "~")).collect())
}

fn child_mut<'t, 'a>(node: &'t mut Tree<'a>, segment: &str) -> Result<&'t mut Tree<'a>, String> {
    match &mut node.value {
        TValue::Map(fields) => fields
            .iter_mut()
            .find(|f| f.key == segment)
            .map(|f| &mut f.value)
            .ok_or_else(|| format!("no field `{segment}`")),
        TValue::Seq(items) => {
            let len = items.len();
            segment
                .parse::<usize>()
                .ok()
                .and_then(|i| items.get_mut(i))
                .ok_or_else(|| format!("no element `{segment}` in a list of {len}"))
        }
        _ => Err(format!("`{segment}` is below a value that is not a map or a list")),
    }
}

fn find_mut<'t, 'a>(target: &'t mut Tree<'a>, path: &str) -> Result<&'t mut Tree<'a>, String> {
    segments(path)?.iter().try_fold(target, |node, s| child_mut(node, s))
}

/// The parent of `path` and the last segment.
fn parent_mut<'t, 'a>(
    target: &'t mut Tree<'a>,
    path: &str,
) -> Result<(&'t mut Tree<'a>, String), String> {
    let mut segs = segments(path)?;
    let last = segs.pop().ok_or("the whole document cannot be added to or removed")?;
    let parent = segs.iter().try_fold(target, |node, s| child_mut(node, s))?;
    Ok((parent, last))
}

/// Whether the parent of `path` exists and is a mapping.
fn parent_is_map(target: &mut Tree<'_>, path: &str) -> bool {
    parent_mut(target, path).is_ok_and(|(parent, _)| matches!(parent.value, TValue::Map(_)))
}

fn add<'a>(target: &mut Tree<'a>, path: &str, value: Tree<'a>) -> Result<(), String> {
    let (parent, last) = parent_mut(target, path)?;
    match &mut parent.value {
        TValue::Map(_) => {
            parent.set(&last, value);
            Ok(())
        }
        TValue::Seq(items) => {
            let index = if last == "-" {
                items.len()
            } else {
                last.parse::<usize>()
                    .ok()
                    .filter(|i| *i <= items.len())
                    .ok_or_else(|| format!("no position `{last}` in a list of {}", items.len()))?
            };
            items.insert(index, value);
            Ok(())
        }
        _ => Err(format!("`{last}` cannot be added below a value that is not a map or a list")),
    }
}

fn remove<'a>(target: &mut Tree<'a>, path: &str) -> Result<Tree<'a>, String> {
    let (parent, last) = parent_mut(target, path)?;
    match &mut parent.value {
        TValue::Map(fields) => {
            let i = fields
                .iter()
                .position(|f| f.key == last)
                .ok_or_else(|| format!("no field `{last}`"))?;
            Ok(fields.remove(i).value)
        }
        TValue::Seq(items) => {
            let len = items.len();
            let i = last
                .parse::<usize>()
                .ok()
                .filter(|i| *i < len)
                .ok_or_else(|| format!("no element `{last}` in a list of {len}"))?;
            Ok(items.remove(i))
        }
        _ => Err(format!("`{last}` is below a value that is not a map or a list")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tree(text: &str, file: u32) -> Tree<'static> {
        Tree::from_node(&crate::render::tree::kept_documents(text)[0].root, file)
    }

    const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels: {app: web}\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: nginx:1.25\n        env: [{name: A, value: '1'}]\n      - name: side\n        image: busybox\n";

    /// A Deployment `text` patched with `patch`, both as left loaded and as made node by node:
    /// the two must come out alike.
    fn merged_both(text: &str, patch: &Tree<'static>) -> Tree<'static> {
        let deployment = Keys::Builtin(builtin_type("apps", "v1", "Deployment").unwrap());
        let mut trees = crate::render::tree::loaded_and_made(text);
        for t in &mut trees {
            strategic_merge(t, patch, deployment).unwrap();
        }
        assert_eq!(trees[0], trees[1]);
        let [loaded, _] = trees;
        loaded
    }

    /// Duplicates are collapsed alike in what a build left as loaded and in trees made node by
    /// node; a loaded part without any stays the loaded node's.
    #[test]
    fn duplicates_are_collapsed_alike_in_loaded_and_made_trees() {
        let text = "metadata: {name: web}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    spec:\n      containers:\n      - {name: app, image: one}\n      - {name: app, image: two}\n      volumes: [{name: v, emptyDir: {}}]\n";
        let patch = tree("metadata: {labels: {a: b}}\n", 1);
        let merged = merged_both(text, &patch);
        let containers = &merged.to_json()["spec"]["template"]["spec"]["containers"];
        assert_eq!(containers, &json!([{"name": "app", "image": "two"}]));
        let selector = merged.at(&["spec", "selector"]).unwrap();
        assert!(crate::render::tree::is_loaded(selector));
    }

    /// kustomize 5.5 drops the fields of a patched object that are written blank, wherever its
    /// merge walks, not only where the patch writes; `~`, `null` and blank list items stay.
    #[test]
    fn a_patched_objects_blank_fields_are_dropped() {
        let text = "metadata: {name: web}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata:\n      labels:\n        l:\n    spec:\n      affinity:\n        nodeAffinity:\n          preferredDuringSchedulingIgnoredDuringExecution:\n          requiredDuringSchedulingIgnoredDuringExecution: ~\n        podAffinity: null\n      flow: {x: , y: ~}\n      containers:\n      - name: app\n        args:\n        - a\n        -\n        - ~\n        env:\n        - name: A\n          value:\n";
        let patch = tree("spec: {replicas: 2}\n", 1);
        let merged = merged_both(text, &patch);
        let json = merged.to_json();
        let template = &json["spec"]["template"];
        assert_eq!(template["metadata"], json!({"labels": {}}));
        assert_eq!(
            template["spec"]["affinity"],
            json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": null}, "podAffinity": null})
        );
        assert_eq!(template["spec"]["flow"], json!({"y": null}));
        let container = &template["spec"]["containers"][0];
        assert_eq!(container["args"], json!(["a", null, null]));
        assert_eq!(container["env"], json!([{"name": "A"}]));
        // What has no blank field is left as loaded.
        let selector = merged.at(&["spec", "selector"]).unwrap();
        assert!(crate::render::tree::is_loaded(selector));
    }

    /// kustomize's merge leaves one element per merge key in every keyed list of the object,
    /// also those the patch does not name; a second key (`protocol`) tells ports apart.
    #[test]
    fn duplicate_merge_keys_are_collapsed_as_kustomize_does() {
        let deployment = builtin_type("apps", "v1", "Deployment").expect("a built-in kind");
        let mut base = tree(
            "metadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        env: [{name: X, value: '1'}, {name: Y, value: '2'}, {name: X, value: '3'}]\n        ports:\n        - {name: first, containerPort: 8080, protocol: TCP}\n        - {name: dns, containerPort: 53, protocol: UDP}\n        - {name: second, containerPort: 8080, protocol: TCP}\n        - {name: dns-tcp, containerPort: 53, protocol: TCP}\n",
            0,
        );
        let patch = tree("metadata: {labels: {a: b}}\n", 1);
        strategic_merge(&mut base, &patch, Keys::Builtin(deployment)).unwrap();
        let container = &base.to_json()["spec"]["template"]["spec"]["containers"][0];
        // One key: the last one's content in the first one's place.
        assert_eq!(
            container["env"],
            json!([{"name": "X", "value": "3"}, {"name": "Y", "value": "2"}])
        );
        // Two keys: the last one where it stands; 53/UDP and 53/TCP are two ports.
        let names: Vec<&str> = container["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["dns", "second", "dns-tcp"]);
        // A kind no schema knows keeps its lists as they are.
        let mut unknown = tree("spec: {env: [{name: X}, {name: X}]}\n", 0);
        strategic_merge(&mut unknown, &patch, Keys::None).unwrap();
        assert_eq!(unknown.to_json()["spec"]["env"], json!([{"name": "X"}, {"name": "X"}]));
    }

    /// Lists merge by the keys the API definitions give: a webhook configuration's webhooks by
    /// name (a list the old hand-written table replaced whole).
    #[test]
    fn merge_keys_come_from_the_api_definitions() {
        let ty =
            builtin_type("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration");
        let keys = Keys::Builtin(ty.expect("a built-in kind"));
        let mut base = tree("webhooks:\n- {name: a, failurePolicy: Ignore}\n- {name: b}\n", 0);
        let patch = tree("webhooks:\n- {name: a, failurePolicy: Fail}\n", 1);
        strategic_merge(&mut base, &patch, keys).unwrap();
        assert_eq!(
            base.to_json()["webhooks"],
            json!([{"name": "a", "failurePolicy": "Fail"}, {"name": "b"}])
        );
        assert_eq!(builtin_type("example.com", "v1", "Widget"), None);
    }

    fn deployment() -> Keys<'static> {
        Keys::Builtin(builtin_type("apps", "v1", "Deployment").expect("a built-in kind"))
    }

    #[test]
    fn a_mapping_that_says_patch_delete_is_removed() {
        let mut base = tree(DEPLOYMENT, 0);
        let patch = tree("spec:\n  $patch: delete\n  replicas: 2\n", 1);
        assert_eq!(strategic_merge(&mut base, &patch, deployment()), Ok(Merged::Kept));
        assert_eq!(base.get("spec"), None);
        assert_eq!(base.to_json()["metadata"]["name"], "web");
    }

    #[test]
    fn strategic_merge_merges_maps_and_keyed_lists() {
        let mut base = tree(DEPLOYMENT, 0);
        let patch = tree("spec:\n  template:\n    spec:\n      containers:\n      - name: app\n        securityContext: {privileged: true}\n        env: [{name: B, value: '2'}]\n      - name: new\n        image: x\nmetadata:\n  labels: {app: null, tier: web}\n", 1);
        assert_eq!(strategic_merge(&mut base, &patch, deployment()), Ok(Merged::Kept));
        let json = base.to_json();
        let containers = &json["spec"]["template"]["spec"]["containers"];
        // The patch's elements first (merged), then the others: lists grow at the front.
        assert_eq!(containers[0]["securityContext"], json!({"privileged": true}));
        assert_eq!(containers[0]["image"], "nginx:1.25");
        let env = json!([{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]);
        assert_eq!(containers[0]["env"], env);
        assert_eq!(containers[1], json!({"name": "new", "image": "x"}));
        assert_eq!(containers[2]["name"], "side");
        assert_eq!(json["metadata"]["labels"], json!({"tier": "web"}));
        // The field the patch added comes from the patch file.
        let (_, origins) = base.into_node();
        let files: Vec<(&str, u32)> = origins.iter().map(|o| (&*o.pointer, o.file)).collect();
        assert!(
            files.contains(&("/spec/template/spec/containers/0/securityContext", 1)),
            "{files:?}"
        );
        assert!(files.contains(&("/spec/template/spec/containers/1", 1)), "{files:?}");
    }

    #[test]
    fn strategic_merge_directives_and_custom_kinds() {
        let mut base = tree(DEPLOYMENT, 0);
        let patch = tree("spec:\n  template:\n    spec:\n      containers:\n      - {name: side, $patch: delete}\n", 1);
        strategic_merge(&mut base, &patch, deployment()).unwrap();
        assert_eq!(
            base.to_json()["spec"]["template"]["spec"]["containers"].as_array().unwrap().len(),
            1
        );
        let patch = tree("spec:\n  template:\n    spec:\n      $patch: replace\n      containers: [{name: only}]\n", 1);
        strategic_merge(&mut base, &patch, deployment()).unwrap();
        assert_eq!(
            base.to_json()["spec"]["template"]["spec"],
            json!({"containers": [{"name": "only"}]})
        );
        assert_eq!(
            strategic_merge(&mut base, &tree("$patch: delete\n", 1), deployment()),
            Ok(Merged::Deleted)
        );
        // A custom kind's lists are replaced.
        let mut custom = tree("spec:\n  containers: [{name: a, image: x}]\n", 0);
        strategic_merge(&mut custom, &tree("spec:\n  containers: [{name: b}]\n", 1), Keys::None)
            .unwrap();
        assert_eq!(custom.to_json()["spec"]["containers"], json!([{"name": "b"}]));
        let err = strategic_merge(&mut custom, &tree("spec: {$unknown: 1}\n", 1), Keys::None);
        assert!(err.is_err());
    }

    #[test]
    fn json6902_operations() {
        let mut base = tree(DEPLOYMENT, 0);
        let ops = tree("- {op: add, path: /spec/template/spec/containers/0/securityContext, value: {privileged: true}}\n- {op: replace, path: /metadata/name, value: api}\n- {op: remove, path: /spec/template/spec/containers/1}\n- {op: copy, from: /metadata/name, path: /metadata/labels/name}\n- {op: test, path: /metadata/labels/name, value: api}\n- {op: add, path: /spec/template/spec/containers/-, value: {name: last}}\n", 1);
        json6902(&mut base, &ops).unwrap();
        let json = base.to_json();
        assert_eq!(json["metadata"]["name"], "api");
        assert_eq!(json["metadata"]["labels"], json!({"app": "web", "name": "api"}));
        let containers = json["spec"]["template"]["spec"]["containers"].as_array().unwrap();
        assert_eq!(containers.len(), 2);
        assert_eq!(containers[0]["securityContext"], json!({"privileged": true}));
        assert_eq!(containers[1], json!({"name": "last"}));
        let err =
            json6902(&mut base, &tree("- {op: remove, path: /spec/nothing}\n", 1)).unwrap_err();
        assert_eq!(err.0, "operation 0 (`remove /spec/nothing`): no field `nothing`");
        let err = json6902(&mut base, &tree("- {op: test, path: /metadata/name, value: web}\n", 1))
            .unwrap_err();
        assert_eq!(err.0, "operation 0 (`test /metadata/name`): the value is \"api\"");
    }

    #[test]
    fn json6902_replace_of_a_missing_key_adds_it_as_kustomize_does() {
        let mut base = tree(DEPLOYMENT, 0);
        json6902(
            &mut base,
            &tree("- {op: replace, path: /metadata/annotations, value: {a: b}}\n", 1),
        )
        .unwrap();
        assert_eq!(base.to_json()["metadata"]["annotations"], json!({"a": "b"}));
        let ops = tree("- {op: replace, path: /spec/template/spec/containers/5, value: {}}\n", 1);
        let err = json6902(&mut base, &ops).unwrap_err();
        assert!(err.0.ends_with("no element `5` in a list of 2"), "{}", err.0);
    }
}
