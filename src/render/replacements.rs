//! A kustomization's `replacements` (kustomize's replacement transformer, run after its other
//! transformers): copy one field of one object (or a `sourceValue`) into fields of the objects
//! the targets select. The copied value keeps the source's file and line, so a finding about a
//! replaced field points at the field that supplied it, not at the field it overwrote.
//!
//! Paths are kustomize's: fields split on `.` (`\.` escapes one), `[key=value]` picks list
//! elements (in a source, by equality; in a target, by a regular expression, unanchored, as
//! kustomize matches them), a number picks by index, `-` the last element (source), and `*`
//! every element (target). Target `options.create` adds missing fields; `delimiter` and `index`
//! pick or replace part of a string.

use std::path::Path;

use super::disk::{BuildError, Disk, Result};
use super::kustomize::{
    cluster_scoped, effective_namespace, identities, kind_is_cluster_scoped, Kustomization,
};
use super::patches::Selector;
use super::tree::{Fields, Items, TValue, Tree};
use crate::kinds;

/// Where a replacement is written (the kustomization, or a file it names with `path:`).
struct Place {
    shown: String,
}

impl Place {
    fn error(&self, node: &Tree, message: String) -> BuildError {
        BuildError { file: self.shown.clone(), line: Some(node.span.start().line), message }
    }
}

/// Applies the kustomization's `replacements`, in order, to the objects built so far.
pub(super) fn run<'a>(k: &Kustomization<'a>, disk: &Disk<'a>, out: &mut [Tree<'a>]) -> Result<()> {
    for entry in k.list("replacements")? {
        let place = Place { shown: k.shown.clone() };
        let Some(path) = entry.get("path") else {
            apply(&place, entry, out)?;
            continue;
        };
        if entry.get("source").is_some() || entry.get("targets").is_some() {
            return Err(
                place.error(entry, "cannot specify both path and inline replacement".into())
            );
        }
        let Some(name) = path.as_str() else {
            return Err(place.error(path, "`path` must be a string".into()));
        };
        let (file, number, docs) = k.read_named(disk, name, Some(path.span.start().line))?;
        let place = Place { shown: super::disk::show(Path::new(&file)) };
        let Some(doc) = docs.first().map(|d| Tree::from_read(d, number)) else {
            return Err(place_error(&place, "the file holds no replacement"));
        };
        match &doc.value {
            TValue::Seq(items) => {
                for item in items {
                    apply(&place, item, out)?;
                }
            }
            TValue::Map(_) => apply(&place, &doc, out)?,
            _ => {
                return Err(place.error(
                    &doc,
                    "a replacement file holds one replacement or a list of them".into(),
                ))
            }
        }
    }
    Ok(())
}

fn place_error(place: &Place, message: &str) -> BuildError {
    BuildError { file: place.shown.clone(), line: None, message: message.into() }
}

/// One replacement: its value, then every target.
fn apply<'a>(place: &Place, r: &Tree<'a>, out: &mut [Tree<'a>]) -> Result<()> {
    if !matches!(r.value, TValue::Map(_)) {
        return Err(place.error(r, "a replacement must be a mapping".into()));
    }
    let (source, fixed) = (r.get("source"), r.get("sourceValue"));
    let missing =
        || place.error(r, "replacements must specify a source and at least one target".into());
    let Some(TValue::Seq(targets)) = r.get("targets").map(|t| &t.value) else {
        return Err(missing());
    };
    let value = match (source, fixed) {
        (Some(_), Some(f)) => {
            return Err(place.error(f, "value and resource selectors are mutually exclusive".into()))
        }
        (None, Some(f)) => match f.scalar_text() {
            Some(text) => Tree { value: TValue::Str(text.into()), ..f.clone() },
            None => return Err(place.error(f, "`sourceValue` must be a string".into())),
        },
        (Some(s), None) => source_value(place, s, out)?,
        (None, None) => return Err(missing()),
    };
    for target in targets {
        apply_target(place, target, &value, out)?;
    }
    Ok(())
}

fn text_field<'t>(t: &'t Tree<'_>, key: &str) -> &'t str {
    t.get(key).and_then(Tree::as_str).unwrap_or("")
}

/// The value a `source` selects: exactly one object (by its current or an earlier name), the
/// field at `fieldPath` (`metadata.name` by default), refined by `options`.
fn source_value<'a>(place: &Place, s: &Tree<'a>, out: &[Tree<'a>]) -> Result<Tree<'a>> {
    let shown = describe(s);
    let (group, version, kind) =
        (text_field(s, "group"), text_field(s, "version"), text_field(s, "kind"));
    let (name, namespace) = (text_field(s, "name"), text_field(s, "namespace"));
    let selector_scoped = !kind.is_empty() && {
        let api = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
        kind_is_cluster_scoped(&api, kind)
    };
    let selected = |t: &Tree| {
        let api = t.get("apiVersion").and_then(Tree::as_str).unwrap_or("");
        let (g, v) = kinds::split_api_version(api);
        let k = t.get("kind").and_then(Tree::as_str).unwrap_or("");
        let gvk = (group.is_empty() || group == g)
            && (version.is_empty() || version == v)
            && (kind.is_empty() || kind == k);
        let scoped = cluster_scoped(t);
        gvk && identities(t).iter().any(|(n, ns)| {
            (name.is_empty() || name == n)
                && (namespace.is_empty()
                    || effective_namespace(namespace, selector_scoped)
                        == effective_namespace(ns, scoped))
        })
    };
    let mut matches = out.iter().filter(|t| selected(t));
    let Some(object) = matches.next() else {
        return Err(place.error(s, format!("replacement source {shown} selects nothing")));
    };
    if matches.next().is_some() {
        return Err(place.error(s, format!("replacement source {shown} selects several objects")));
    }
    let path_text = s.get("fieldPath").and_then(Tree::as_str).unwrap_or("metadata.name");
    let path = split_path(path_text);
    let found = lookup(object, &path).map_err(|m| place.error(s, m))?;
    let empty = match found.map(|f| &f.value) {
        None | Some(TValue::Null) => true,
        Some(TValue::Map(fields)) => fields.is_empty(),
        Some(TValue::Seq(items)) => items.is_empty(),
        _ => false,
    };
    let Some(found) = found.filter(|_| !empty) else {
        return Err(place.error(
            s.get("fieldPath").unwrap_or(s),
            format!("fieldPath `{path_text}` is missing for replacement source {shown}"),
        ));
    };
    let Some((delimiter, index)) = delimiter(place, s.get("options"))? else {
        return Ok(found.clone());
    };
    let Some(text) = found.scalar_text() else {
        return Err(place.error(s, "delimiter option can only be used with scalar nodes".into()));
    };
    let parts: Vec<&str> = text.split(delimiter.as_str()).collect();
    let Some(part) = usize::try_from(index).ok().and_then(|i| parts.get(i)) else {
        return Err(
            place.error(s, format!("options.index {index} is out of bounds for value {text}"))
        );
    };
    Ok(Tree { value: TValue::Str((*part).into()), ..found.clone() })
}

/// How a selector is named in errors: `Service/svc1 in svc1-namespace`.
fn describe(s: &Tree<'_>) -> String {
    let kind = text_field(s, "kind");
    let name = text_field(s, "name");
    let mut shown = match (kind, name) {
        ("", "") => "(any object)".to_string(),
        ("", n) => n.to_string(),
        (k, "") => k.to_string(),
        (k, n) => format!("{k}/{n}"),
    };
    let namespace = text_field(s, "namespace");
    if !namespace.is_empty() {
        shown.push_str(" in ");
        shown.push_str(namespace);
    }
    shown
}

/// `options.delimiter` and `options.index`, when a delimiter is set.
fn delimiter(place: &Place, options: Option<&Tree<'_>>) -> Result<Option<(String, i64)>> {
    let Some(options) = options else { return Ok(None) };
    let Some(delimiter) = options.get("delimiter").and_then(Tree::as_str) else {
        return Ok(None);
    };
    if delimiter.is_empty() {
        return Ok(None);
    }
    let index = match options.get("index").map(|i| &i.value) {
        None => 0,
        Some(TValue::Int(i)) => *i,
        Some(_) => {
            let at = options.get("index").unwrap_or(options);
            return Err(place.error(at, "`options.index` must be a number".into()));
        }
    };
    Ok(Some((delimiter.to_string(), index)))
}

/// Splits a field path as kustomize does: on `.`, `\.` escaping one, a leading `.` or `/`
/// ignored, and a bracketed element kept whole (`[name=a.b]`).
pub(super) fn split_path(path: &str) -> Vec<String> {
    let mut raw: Vec<String> = Vec::new();
    let mut pieces = path.split('.').peekable();
    if path.starts_with('.') && path.len() > 1 {
        pieces.next();
    }
    for piece in pieces {
        match raw.last_mut() {
            Some(last) if last.ends_with('\\') => {
                last.pop();
                last.push('.');
                last.push_str(piece);
            }
            _ => raw.push(piece.to_string()),
        }
    }
    let mut parts = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        if raw[i].starts_with('[') && !raw[i].ends_with(']') {
            let mut joined = raw[i].clone();
            while i + 1 < raw.len() {
                i += 1;
                joined.push('.');
                joined.push_str(&raw[i]);
                if raw[i].ends_with(']') {
                    break;
                }
            }
            if joined.contains('=') {
                parts.push(joined);
            } else {
                parts.push(joined.trim_matches(|c| c == '[' || c == ']').to_string());
            }
        } else {
            parts.push(raw[i].clone());
        }
        i += 1;
    }
    parts
}

/// `[key=value]` as (key, value); `None` for other path elements.
fn list_index(part: &str) -> Option<(&str, &str)> {
    part.strip_prefix('[')?.strip_suffix(']')?.split_once('=')
}

/// The field a source path names (kustomize's lookup: `[key=value]` by equality, a number by
/// index, `-` the last element). An absent field is `None`; a path through a scalar an error.
fn lookup<'t, 'a>(
    t: &'t Tree<'a>,
    path: &[String],
) -> std::result::Result<Option<&'t Tree<'a>>, String> {
    let Some((part, rest)) = path.split_first() else { return Ok(Some(t)) };
    let next = match (&t.value, part.as_str()) {
        (TValue::Null, _) => return Ok(None),
        (_, "*") => return Err("a source `fieldPath` cannot use the wildcard `*`".into()),
        (TValue::Seq(items), "-") => items.last(),
        (TValue::Seq(items), p) if p.parse::<usize>().is_ok() => {
            p.parse::<usize>().ok().and_then(|i| items.get(i))
        }
        (TValue::Seq(items), p) if list_index(p).is_some() => {
            let (key, want) = list_index(p).unwrap_or_default();
            items.iter().find(|item| {
                let field = if key.is_empty() { Some(*item) } else { item.get(key) };
                field.and_then(Tree::scalar_text).is_some_and(|v| v == want)
            })
        }
        (TValue::Map(_), p) => t.get(p),
        (_, p) => return Err(format!("`{p}` cannot be looked up in a {}", kind_name(t))),
    };
    match next {
        Some(n) => lookup(n, rest),
        None => Ok(None),
    }
}

fn kind_name(t: &Tree<'_>) -> &'static str {
    match t.value {
        TValue::Seq(_) => "list",
        TValue::Map(_) => "mapping",
        _ => "scalar",
    }
}

/// Writes the value into every object one target selects.
fn apply_target<'a>(
    place: &Place,
    target: &Tree<'a>,
    value: &Tree<'a>,
    out: &mut [Tree<'a>],
) -> Result<()> {
    let error = |n: &Tree, m: String| place.error(n, m);
    let Some(select) = target.get("select") else {
        return Err(place.error(target, "target must specify resources to select".into()));
    };
    let select = Selector::new(select, &error)?;
    let rejects = match target.get("reject").map(|r| &r.value) {
        None | Some(TValue::Null) => Vec::new(),
        Some(TValue::Seq(items)) => {
            items.iter().map(|r| Selector::new(r, &error)).collect::<Result<Vec<_>>>()?
        }
        Some(_) => return Err(place.error(target, "`reject` must be a list".into())),
    };
    let paths: Vec<(&Tree, Vec<String>)> = match target.get("fieldPaths").map(|p| &p.value) {
        None | Some(TValue::Null) => vec![(target, split_path("metadata.name"))],
        Some(TValue::Seq(items)) => items
            .iter()
            .map(|p| match p.as_str() {
                Some(text) => Ok((p, split_path(text))),
                None => Err(place.error(p, "`fieldPaths` entries must be strings".into())),
            })
            .collect::<Result<_>>()?,
        Some(_) => return Err(place.error(target, "`fieldPaths` must be a list".into())),
    };
    let options = target.get("options");
    let create =
        options.and_then(|o| o.get("create")).is_some_and(|c| c.value == TValue::Bool(true));
    let split = delimiter(place, options)?;
    for object in out.iter_mut() {
        if !select.matches_terms(object) || !select.matches_id(object) {
            continue;
        }
        let rejected = rejects.iter().any(|r| {
            (r.has_terms() && r.matches_terms(object)) || (r.has_fields() && r.matches_id(object))
        });
        if rejected {
            continue;
        }
        for (at, path) in &paths {
            let mut set = |field: &mut Tree<'a>| set_value(field, value, split.as_ref());
            let written = visit(object, path, create.then_some(value), &mut set)
                .map_err(|m| place.error(at, m))?;
            if written == 0 {
                let what = if create { "find or create" } else { "find" };
                let text = at.as_str().unwrap_or("metadata.name");
                return Err(place.error(
                    at,
                    format!("unable to {what} field \"{text}\" in replacement target"),
                ));
            }
        }
    }
    Ok(())
}

type Setter<'s, 'a> = dyn FnMut(&mut Tree<'a>) -> std::result::Result<(), String> + 's;

/// Calls `set` on every field a target path matches (kustomize's path matcher), creating
/// missing ones after `create`'s kind; returns how many it found.
fn visit<'a>(
    t: &mut Tree<'a>,
    path: &[String],
    create: Option<&Tree<'a>>,
    set: &mut Setter<'_, 'a>,
) -> std::result::Result<usize, String> {
    let Some((part, rest)) = path.split_first() else {
        set(t)?;
        return Ok(1);
    };
    if matches!(t.value, TValue::Null) {
        if create.is_none() {
            return Ok(0);
        }
        t.value = empty_like(part, create);
    }
    let kind = kind_name(t);
    if let Ok(index) = part.parse::<usize>() {
        let (file, span) = (t.file, t.span);
        let TValue::Seq(items) = &mut t.value else {
            return Err(format!("`{part}` indexes a list, but the field is a {kind}"));
        };
        if index == items.len() && create.is_some() {
            let next = rest.first().map_or("", String::as_str);
            items.push(Tree { value: empty_like(next, create), ..t_like(file, span) });
        }
        let count = items.len();
        let Some(item) = items.get_mut(index) else {
            return Err(format!("index {index} specified but only {count} elements found"));
        };
        return visit(item, rest, create, set);
    }
    if part == "*" {
        let TValue::Seq(items) = &mut t.value else {
            return Err(format!("`*` matches the elements of a list, but the field is a {kind}"));
        };
        let mut found = 0;
        for item in items {
            found += visit(item, rest, create, set)?;
        }
        return Ok(found);
    }
    if let Some((key, pattern)) = list_index(part) {
        let re = regex::Regex::new(pattern).map_err(|e| format!("`{part}`: {e}"))?;
        let (file, span) = (t.file, t.span);
        let TValue::Seq(items) = &mut t.value else {
            return Err(format!("`{part}` selects list elements, but the field is a {kind}"));
        };
        let mut found = 0;
        let mut matched = false;
        for item in items.iter_mut() {
            let field = if key.is_empty() { Some(&*item) } else { item.get(key) };
            if field.and_then(Tree::scalar_text).is_some_and(|v| re.is_match(v.trim())) {
                matched = true;
                found += visit(item, rest, create, set)?;
            }
        }
        if matched || create.is_none() {
            return Ok(found);
        }
        let element = if key.is_empty() {
            Tree::string(pattern, file, span)
        } else {
            let mut m = Tree::map(file, span);
            m.set(key, Tree::string(pattern, file, span));
            m
        };
        items.push(element);
        return match items.last_mut() {
            Some(last) => visit(last, rest, create, set),
            None => Ok(0),
        };
    }
    let TValue::Map(_) = &t.value else {
        return Err(format!("`{part}` is a field, but the value holding it is a {kind}"));
    };
    if t.get(part).is_none() {
        if create.is_none() {
            return Ok(0);
        }
        let next = rest.first().map_or("", String::as_str);
        let fresh = Tree { value: empty_like(next, create), ..t_like(t.file, t.span) };
        t.set(part, fresh);
    }
    match t.get_mut(part) {
        Some(field) => visit(field, rest, create, set),
        None => Ok(0),
    }
}

fn t_like<'a>(file: u32, span: crate::load::source::Span) -> Tree<'a> {
    Tree { file, span, value: TValue::Null }
}

/// The empty node a created field starts as: a list before `[k=v]` or an index, the value's
/// kind at the end of the path, else a mapping.
fn empty_like<'a>(next: &str, value: Option<&Tree<'a>>) -> TValue<'a> {
    if list_index(next).is_some() || (!next.is_empty() && next.parse::<usize>().is_ok()) {
        return TValue::Seq(Items::default());
    }
    if next.is_empty() {
        return match value.map(|v| &v.value) {
            Some(TValue::Seq(_)) => TValue::Seq(Items::default()),
            Some(TValue::Map(_)) => TValue::Map(Fields::default()),
            _ => TValue::Null,
        };
    }
    TValue::Map(Fields::default())
}

/// Writes the value into one field: a scalar keeps its type and takes the value's text (part of
/// it, with a delimiter), anything else is replaced. Either way the field now comes from the
/// value's source.
fn set_value<'a>(
    field: &mut Tree<'a>,
    value: &Tree<'a>,
    split: Option<&(String, i64)>,
) -> std::result::Result<(), String> {
    let is_scalar = !matches!(field.value, TValue::Seq(_) | TValue::Map(_));
    let mut text = value.scalar_text();
    if let Some((delimiter, index)) = split {
        let (Some(old), Some(new)) = (field.scalar_text().filter(|_| is_scalar), text.as_ref())
        else {
            return Err("delimiter option can only be used with scalar nodes".into());
        };
        let mut parts: Vec<&str> = old.split(delimiter.as_str()).collect();
        match usize::try_from(*index) {
            Err(_) => parts.insert(0, new),
            Ok(i) if i >= parts.len() => parts.push(new),
            Ok(i) => parts[i] = new,
        }
        text = Some(parts.join(delimiter));
    }
    let typed = match (&field.value, text) {
        (TValue::Null | TValue::Seq(_) | TValue::Map(_), _) | (_, None) => value.value.clone(),
        (TValue::Str(_), Some(text)) => TValue::Str(text.into()),
        (_, Some(text)) => TValue::typed(&text),
    };
    *field = Tree { value: typed, file: value.file, span: value.span };
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::super::kustomize::{build, tests::write, Disk};
    use super::super::tree::file_at;
    use super::split_path;

    const APP: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers:\n      - name: app\n        image: nginx:1.25\n        env:\n        - name: URL\n          value: http://svc\n";
    const SETTINGS: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  tag: \"1.27\"\n  replicas: \"3\"\n  domain: prod.example.com\n";

    /// The (file, line) that supplied the field at `pointer` of the build's object `i`.
    fn source(disk: &Disk, out: &[super::Tree], i: usize, pointer: &str) -> (String, u32) {
        let (node, origins) = out[i].clone().into_node();
        let file = file_at(out[i].file, &origins, pointer);
        (disk.shown(file), crate::load::locate::locate(&node, pointer).start().line)
    }

    #[test]
    fn a_replaced_field_takes_the_value_and_the_line_of_its_source() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                ("app/deploy.yaml", APP),
                ("app/settings.yaml", SETTINGS),
                (
                    "app/kustomization.yaml",
                    "resources: [deploy.yaml, settings.yaml]\nnamePrefix: p-\nreplacements:\n- source:\n    kind: ConfigMap\n    name: settings\n    fieldPath: data.tag\n  targets:\n  - select:\n      kind: Deployment\n    fieldPaths:\n    - spec.template.spec.containers.[name=app].image\n    options:\n      delimiter: ':'\n      index: 1\n- path: more.yaml\n",
                ),
                (
                    "app/more.yaml",
                    "- source:\n    kind: ConfigMap\n    fieldPath: data.replicas\n  targets:\n  - select: {kind: Deployment, name: web}\n    fieldPaths: [spec.replicas]\n- source:\n    kind: ConfigMap\n    fieldPath: data.domain\n  targets:\n  - select: {kind: Deployment}\n    fieldPaths:\n    - spec.template.spec.containers.*.env.[name=URL].value\n    - metadata.annotations.example\\.com/domain\n    options: {create: true}\n",
                ),
            ],
        );
        let disk = Disk::new(dir.path());
        let out = build(&disk, Path::new("app")).unwrap();
        let container = &out[0].to_json()["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["image"], json!("nginx:1.27"));
        assert_eq!(container["env"][0]["value"], json!("prod.example.com"));
        // A number field stays a number; a created field is made.
        assert_eq!(out[0].to_json()["spec"]["replicas"], json!(3));
        assert_eq!(
            out[0].to_json()["metadata"]["annotations"],
            json!({"example.com/domain": "prod.example.com"})
        );
        // Each replaced field points at the ConfigMap line that supplied it.
        let at = |pointer: &str| source(&disk, &out, 0, pointer);
        let settings = "/app/settings.yaml".to_string();
        assert_eq!(at("/spec/template/spec/containers/0/image"), (settings.clone(), 6));
        assert_eq!(at("/spec/replicas"), (settings.clone(), 7));
        assert_eq!(at("/spec/template/spec/containers/0/env/0/value"), (settings, 8));
        assert_eq!(at("/spec/template/spec/containers/0/name"), ("/app/deploy.yaml".into(), 10));
    }

    #[test]
    fn a_source_or_target_that_is_not_there_is_an_error_at_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let replacement = |source: &str, target: &str| {
            format!(
                "resources: [deploy.yaml, settings.yaml]\nreplacements:\n- source:\n{source}  targets:\n  - select:\n      kind: Deployment\n    fieldPaths:\n    - {target}\n"
            )
        };
        let cases = [
            ("none", replacement("    kind: Secret\n", "metadata.name")),
            ("two", replacement("    version: v1\n", "metadata.name")),
            (
                "field",
                replacement("    kind: ConfigMap\n    fieldPath: data.nope\n", "metadata.name"),
            ),
            ("target", replacement("    kind: ConfigMap\n", "spec.nope")),
            (
                "both",
                "resources: [deploy.yaml]\nreplacements:\n- path: r.yaml\n  targets: []\n".into(),
            ),
        ];
        for (name, kustomization) in &cases {
            write(
                dir.path(),
                &[
                    (&format!("{name}/deploy.yaml"), APP),
                    (&format!("{name}/settings.yaml"), SETTINGS),
                    (&format!("{name}/kustomization.yaml"), kustomization),
                ],
            );
        }
        // A Service makes `version: v1` select two objects.
        write(
            dir.path(),
            &[(
                "two/settings.yaml",
                &format!("{SETTINGS}---\napiVersion: v1\nkind: Service\nmetadata:\n  name: s\n"),
            )],
        );
        write(
            dir.path(),
            &[
                ("file/deploy.yaml", APP),
                ("file/kustomization.yaml", "resources: [deploy.yaml]\nreplacements:\n- path: r.yaml\n"),
                ("file/r.yaml", "source:\n  kind: Deployment\n  fieldPath: spec.missing\ntargets:\n- select: {kind: Deployment}\n"),
            ],
        );
        let disk = Disk::new(dir.path());
        let error = |dir: &str| build(&disk, Path::new(dir)).unwrap_err().to_string();
        assert_eq!(
            error("none"),
            "/none/kustomization.yaml:4: replacement source Secret selects nothing"
        );
        assert_eq!(
            error("two"),
            "/two/kustomization.yaml:4: replacement source (any object) selects several objects"
        );
        assert_eq!(
            error("field"),
            "/field/kustomization.yaml:5: fieldPath `data.nope` is missing for replacement source ConfigMap"
        );
        assert_eq!(
            error("target"),
            "/target/kustomization.yaml:9: unable to find field \"spec.nope\" in replacement target"
        );
        assert_eq!(
            error("both"),
            "/both/kustomization.yaml:3: cannot specify both path and inline replacement"
        );
        assert_eq!(
            error("file"),
            "/file/r.yaml:3: fieldPath `spec.missing` is missing for replacement source Deployment"
        );
    }

    #[test]
    fn paths_split_as_kustomize_splits_them() {
        assert_eq!(split_path("metadata.name"), ["metadata", "name"]);
        assert_eq!(
            split_path("spec.containers.[name=a.b].image"),
            ["spec", "containers", "[name=a.b]", "image"]
        );
        assert_eq!(
            split_path(r"metadata.annotations.example\.com/x"),
            ["metadata", "annotations", "example.com/x"]
        );
        assert_eq!(split_path("a.[b.c].d"), ["a", "b.c", "d"]);
    }
}
