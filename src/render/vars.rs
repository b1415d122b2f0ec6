//! Kustomize's legacy `vars`: `$(NAME)` in the fields the var reference field specs name
//! (container args, commands, env values and mount paths, Ingress hosts, labels and
//! annotations, what `configurations` add) takes the value of a field of one object. A
//! kustomization declares a var after its transformers have run, naming the object by the name
//! it had there (`objref`, by group, version, kind, name and namespace when given); the values
//! are read at the end of the whole build (after prefixes and hashes) and substituted
//! everywhere. A substituted field points at the field that supplied the value.

use super::disk::{BuildError, Result};
use super::fieldspec::{self, Create, Specs};
use super::kustomize::{cluster_scoped, effective_namespace, identities, Kustomization};
use super::tree::{TValue, Tree};
use crate::kinds;
use crate::load::source::Span;

/// Which vars name an object (comma-separated); taken out of the output.
pub(super) const VAR_NAMES: &str = "internal.config.kubernetes.io/refVarNames";

/// A declared var.
#[derive(Clone, Debug)]
pub(super) struct Var {
    pub name: String,
    pub field_path: String,
    /// Where it is declared, for errors.
    pub shown: String,
    pub line: u32,
}

/// Declares the kustomization's `vars`: each names exactly one object of the build so far
/// (by any name it has had), which is marked; a name declared twice in one build is an error.
pub(super) fn declare<'a>(
    k: &Kustomization<'a>,
    out: &mut [Tree<'a>],
    declared: &mut Vec<Var>,
) -> Result<()> {
    for entry in k.list("vars")? {
        // Read as kustomize reads a var (`fieldPath:` is `fieldpath:`, `objRef:` `objref:`).
        let text = |path: &[&str]| entry.json_at(path).and_then(Tree::as_str).unwrap_or("");
        let name = text(&["name"]);
        if name.is_empty() {
            return Err(k.error(Some(entry), "a var needs a `name`".into()));
        }
        if declared.iter().any(|v| v.name == name) {
            return Err(k.error(Some(entry), format!("var '{name}' already encountered")));
        }
        let (group, version) = match text(&["objref", "apiVersion"]) {
            "" => (text(&["objref", "group"]), text(&["objref", "version"])),
            api => kinds::split_api_version(api),
        };
        let (kind, object, namespace) =
            (text(&["objref", "kind"]), text(&["objref", "name"]), text(&["objref", "namespace"]));
        let matches: Vec<usize> = out
            .iter()
            .enumerate()
            .filter(|(_, t)| {
                let (g, v, kd) = fieldspec::gvk(t);
                let scoped = cluster_scoped(t);
                (g, v, kd) == (group, version, kind)
                    && identities(t).iter().any(|(n, ns)| {
                        n == object
                            && (namespace.is_empty()
                                || effective_namespace(ns, scoped)
                                    == effective_namespace(namespace, scoped))
                    })
            })
            .map(|(i, _)| i)
            .collect();
        if matches.len() > 1 {
            return Err(k.error(
                Some(entry),
                format!(
                    "found {} resId matches for var {name} (unable to disambiguate)",
                    matches.len()
                ),
            ));
        }
        if let Some(&i) = matches.first() {
            mark(&mut out[i], name, entry);
        }
        let field_path = match text(&["fieldref", "fieldpath"]) {
            "" => "metadata.name",
            path => path,
        };
        declared.push(Var {
            name: name.to_string(),
            field_path: field_path.to_string(),
            shown: k.shown.clone(),
            line: entry.span.start().line,
        });
    }
    Ok(())
}

fn mark<'a>(t: &mut Tree<'a>, name: &str, at: &Tree<'a>) {
    let Some(annotations) = t
        .map_at("metadata", at.file, at.span)
        .and_then(|m| m.map_at("annotations", at.file, at.span))
    else {
        return;
    };
    let names = match annotations.get(VAR_NAMES).and_then(Tree::as_str) {
        Some(before) => format!("{before},{name}"),
        None => name.to_string(),
    };
    annotations.set(VAR_NAMES, Tree::string(&names, at.file, at.span));
}

/// Reads every var's value from the object it names and substitutes `$(NAME)` where the var
/// reference field specs of `specs` say (made only when there are vars: most builds declare
/// none, and the specs are many). A var whose object or field is missing is an error at its
/// declaration.
pub(super) fn resolve(out: &mut [Tree<'_>], vars: &[Var], specs: &Specs, top: &str) -> Result<()> {
    if vars.is_empty() {
        return Ok(());
    }
    let specs = specs.of("varReference");
    let mut values: Vec<(String, Tree)> = Vec::new();
    for var in vars {
        let error =
            |message: String| BuildError { file: var.shown.clone(), line: Some(var.line), message };
        let named = |t: &&Tree| {
            t.at(&["metadata", "annotations", VAR_NAMES])
                .and_then(Tree::as_str)
                .is_some_and(|names| names.split(',').any(|n| n == var.name))
        };
        let Some(object) = out.iter().find(named) else {
            return Err(error(format!(
                "var '{}' cannot be mapped to a field in the set of known resources",
                var.name
            )));
        };
        let Some(value) = field_value(object, &var.field_path) else {
            return Err(error(format!(
                "field specified in var '{}' ({}) not found in corresponding resource",
                var.name, var.field_path
            )));
        };
        values.push((var.name.clone(), value.clone()));
    }
    for t in out.iter_mut() {
        fieldspec::apply_all(&specs, t, (Create::Never, (t.file, Span::default())), &mut |f| {
            substitute_in(f, &values)
        })
        .map_err(|message| BuildError { file: top.to_string(), line: None, message })?;
    }
    Ok(())
}

/// The field at a var's `fieldpath` (`spec.ports[0].port`, `metadata.name`).
fn field_value<'t, 'a>(t: &'t Tree<'a>, path: &str) -> Option<&'t Tree<'a>> {
    let mut node = t;
    for part in path.split('.') {
        let (field, indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !field.is_empty() {
            node = node.get(field)?;
        }
        for index in indexes.split('[').filter(|s| !s.is_empty()) {
            let i: usize = index.strip_suffix(']')?.parse().ok()?;
            let TValue::Seq(items) = &node.value else { return None };
            node = items.get(i)?;
        }
    }
    Some(node)
}

/// Substitutes in a field: a string, the string values of a mapping, the strings of a list.
fn substitute_in<'a>(
    field: &mut Tree<'a>,
    values: &[(String, Tree<'a>)],
) -> std::result::Result<(), String> {
    match &mut field.value {
        TValue::Str(_) => substitute(field, values),
        TValue::Map(fields) => {
            for f in fields.iter_mut() {
                if matches!(f.value.value, TValue::Str(_)) {
                    substitute(&mut f.value, values);
                }
            }
        }
        TValue::Seq(items) => {
            for item in items.iter_mut() {
                if !matches!(item.value, TValue::Str(_)) {
                    return Err("invalid value type expect a string".into());
                }
                substitute(item, values);
            }
        }
        _ => {}
    }
    Ok(())
}

/// `$(NAME)` in one string: a string that is one reference takes the value itself (a number
/// stays a number); within text, the value's text. `$$` is a `$`; unknown names stay.
fn substitute<'a>(field: &mut Tree<'a>, values: &[(String, Tree<'a>)]) {
    let Some(input) = field.as_str().map(str::to_string) else { return };
    if !input.contains("$(") && !input.contains("$$") {
        return;
    }
    let lookup = |name: &str| {
        values
            .iter()
            .find(|(n, v)| n == name && !matches!(v.value, TValue::Seq(_) | TValue::Map(_)))
            .map(|(_, v)| v)
    };
    if let Some(name) = input.strip_prefix("$(").and_then(|r| r.strip_suffix(')')) {
        if !name.contains(')') {
            if let Some(value) = lookup(name) {
                *field = value.clone();
            }
            return;
        }
    }
    let mut out = String::new();
    let mut source: Option<&Tree> = None;
    let mut rest = input.as_str();
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(next) = after.strip_prefix('$') {
            out.push('$');
            rest = next;
            continue;
        }
        let reference =
            after.strip_prefix('(').and_then(|r| r.find(')').map(|end| (&r[..end], &r[end + 1..])));
        let Some((name, next)) = reference else {
            out.push('$');
            rest = after;
            continue;
        };
        if let Some(value) = lookup(name) {
            out.push_str(&value.scalar_text().unwrap_or_default());
            source = Some(value);
        } else {
            out.push_str("$(");
            out.push_str(name);
            out.push(')');
        }
        rest = next;
    }
    out.push_str(rest);
    let (file, span) = source.map_or((field.file, field.span), |s| (s.file, s.span));
    *field = Tree::string(&out, file, span);
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use crate::render::kustomize::{build, tests::write, Disk};
    use crate::render::tree::Tree;

    /// A var declared in a base names its Service there; the overlay's prefix is in the value,
    /// a whole reference keeps the value's type, and the substituted fields point at the field
    /// that supplied the value.
    #[test]
    fn vars_take_the_final_value_of_the_field_they_name() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                ("base/svc.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: db\nspec:\n  ports:\n  - port: 5432\n"),
                (
                    "base/pod.yaml",
                    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: app\nspec:\n  containers:\n  - name: app\n    args: [\"--db=$(DB):$(PORT)\", \"$$(literal)\"]\n    env:\n    - {name: PORT, value: $(PORT)}\n",
                ),
                (
                    "base/kustomization.yaml",
                    "resources: [svc.yaml, pod.yaml]\nvars:\n- name: DB\n  objref: {apiVersion: v1, kind: Service, name: db}\n- name: PORT\n  objref: {apiVersion: v1, kind: Service, name: db}\n  fieldref: {fieldpath: 'spec.ports[0].port'}\n",
                ),
                ("prod/kustomization.yaml", "resources: [../base]\nNamePrefix: prod-\n"),
                ("twice/kustomization.yaml", "resources: [../base]\nvars:\n- name: DB\n  objref: {apiVersion: v1, kind: Pod, name: app}\n"),
                ("missing/pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: app\n"),
                ("missing/kustomization.yaml", "resources: [pod.yaml]\nvars:\n- name: X\n  objref: {apiVersion: v1, kind: Service, name: nothing}\n"),
            ],
        );
        let disk = Disk::new(dir.path());
        let out = build(&disk, Path::new("prod")).unwrap();
        let container = out[1].to_json()["spec"]["containers"][0].clone();
        assert_eq!(container["args"], json!(["--db=prod-db:5432", "$(literal)"]));
        assert_eq!(container["env"][0]["value"], json!(5432));
        let (node, origins) = out[1].clone().into_node();
        let pointer = "/spec/containers/0/env/0/value";
        let file = crate::render::tree::file_at(out[1].file, &origins, pointer);
        assert_eq!(disk.shown(file), "/base/svc.yaml");
        assert_eq!(crate::load::locate::locate(&node, pointer).start().line, 7);
        assert_eq!(
            build(&disk, Path::new("twice")).unwrap_err().to_string(),
            "/twice/kustomization.yaml:3: var 'DB' already encountered"
        );
        let missing = build(&disk, Path::new("missing")).unwrap_err().to_string();
        assert!(missing.contains("var 'X' cannot be mapped"), "{missing}");
    }

    /// kustomize reads a var as JSON into its type: `fieldPath:` and `objRef:` are its
    /// `fieldpath` and `objref` (Kubeflow's manifests write them so), and of two spellings of
    /// one field the one that sorts last wins (as kustomize 5.5 builds this tree). Read case by
    /// case, the var named the ConfigMap's name.
    #[test]
    fn a_var_s_fields_match_in_any_case() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                ("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: params\ndata:\n  DOMAIN: cluster.local\n  OTHER: other\n"),
                (
                    "pod.yaml",
                    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: app\nspec:\n  containers:\n  - name: app\n    args: [\"$(DOMAIN)\", \"$(LAST)\"]\n",
                ),
                (
                    "kustomization.yaml",
                    "resources: [cm.yaml, pod.yaml]\nvars:\n- name: DOMAIN\n  objRef: {apiVersion: v1, Kind: ConfigMap, name: params}\n  fieldref: {fieldPath: data.DOMAIN}\n- name: LAST\n  objref: {apiVersion: v1, kind: ConfigMap, name: params}\n  fieldref: {fieldpath: data.OTHER, FieldPath: data.DOMAIN}\n",
                ),
            ],
        );
        let out = build(&Disk::new(dir.path()), Path::new(".")).unwrap();
        let pod = out.iter().find(|t| t.get("kind").and_then(Tree::as_str) == Some("Pod")).unwrap();
        let args = pod.to_json()["spec"]["containers"][0]["args"].clone();
        assert_eq!(args, json!(["cluster.local", "other"]));
    }
}
