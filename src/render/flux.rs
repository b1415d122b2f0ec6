//! A Flux `Kustomization` as kustomize-controller builds it (fluxcd/pkg
//! `kustomize/kustomize_generator.go` and `kustomize_varsub.go`, kustomize-controller
//! `internal/controller/kustomization_controller.go`):
//!
//! - at `spec.path`, the kustomization there, or one generated from the directory's `.yaml` and
//!   `.yml` files (and its subdirectories that hold a kustomization) when it has none;
//! - `targetNamespace`, `namePrefix` and `nameSuffix` replace the kustomization's fields,
//!   `patches` and `components` are appended, `images` merged by name;
//! - after the build, `commonMetadata` labels and annotations are set on every object (not on
//!   selectors or templates), then `postBuild` variables are substituted.
//!
//! Every field a Flux Kustomization sets keeps that field's line as its source.

use std::collections::HashMap;
use std::path::Path;

use super::disk::{show, BuildError, Disk, Result};
use super::kustomize::Entry;
use super::tree::{Field, TValue, Tree};

/// The annotation (or label) that keeps an object out of substitution.
const SUBSTITUTE: &str = "kustomize.toolkit.fluxcd.io/substitute";

/// The ConfigMaps and Secrets of the tree a `postBuild.substituteFrom` may name: by (namespace,
/// kind, name), the absolute path of the file and the document that defines it.
pub type Sources = HashMap<(String, String, String), (std::path::PathBuf, usize)>;

/// Builds a Flux Kustomization (`flux`, a tree of this disk's files) whose `spec.path` is `dir`
/// (a path from the disk's root).
pub fn build<'a>(
    disk: &Disk<'a>,
    flux: &Tree<'a>,
    dir: &Path,
    sources: &Sources,
) -> Result<Vec<Tree<'a>>> {
    let number = flux.file;
    let spec = flux.get("spec").cloned().unwrap_or_else(|| Tree::map(number, flux.span));
    let shown = disk.shown(number).trim_start_matches('/').to_string();
    let error = |node: &Tree, message: String| BuildError {
        file: shown.clone(),
        line: Some(node.span.start().line),
        message,
    };
    let path_span = spec.get("path").map_or(spec.span, |p| p.span);
    // Listed only for a directory with no kustomization (reading a directory tree costs).
    let has_kustomization =
        super::disk::KUSTOMIZATION_FILES.iter().any(|k| disk.is_file(&dir.join(k)));
    let generated = if has_kustomization {
        Vec::new()
    } else {
        disk.manifests_below(dir).into_iter().map(|p| (p, path_span)).collect::<Vec<_>>()
    };
    let mut overrides = Tree::map(number, spec.span);
    for (from, to) in [
        ("targetNamespace", "namespace"),
        ("namePrefix", "namePrefix"),
        ("nameSuffix", "nameSuffix"),
        ("patches", "patches"),
        ("images", "images"),
        ("components", "components"),
    ] {
        if let Some(value) = spec.get(from) {
            overrides.set(to, value.clone());
        }
    }
    if let Some(components) = spec.get("components") {
        for c in seq(components) {
            let local = c.as_str().is_some_and(|p| !p.starts_with('/') && !p.contains("://"));
            if !local {
                return Err(error(c, "component paths must be local and relative".into()));
            }
        }
    }
    let entry = Entry { overrides, shown: shown.clone(), generated, files_anywhere: true };
    let mut out = super::kustomize::build_entry(disk, dir, &entry)?;
    if let Some(meta) = spec.get("commonMetadata") {
        common_metadata(meta, &mut out);
    }
    if let Some(post) = spec.get("postBuild") {
        let namespace = flux.at(&["metadata", "namespace"]).and_then(Tree::as_str).unwrap_or("");
        let vars = variables(disk, post, namespace, sources, &error)?;
        let always = post.get("substituteStrategy").and_then(Tree::as_str) == Some("Always");
        if !vars.is_empty() || always {
            for object in &mut out {
                if !disabled(object) {
                    substitute(object, &vars).map_err(|m| error(post, object_error(object, &m)))?;
                }
            }
        }
    }
    Ok(out)
}

fn seq<'t, 'a>(t: &'t Tree<'a>) -> &'t [Tree<'a>] {
    match &t.value {
        TValue::Seq(items) => items,
        _ => &[],
    }
}

fn object_error(object: &Tree<'_>, message: &str) -> String {
    let kind = object.get("kind").and_then(Tree::as_str).unwrap_or("");
    let name = object.at(&["metadata", "name"]).and_then(Tree::as_str).unwrap_or("");
    format!("postBuild substitution in {kind}/{name}: {message}")
}

/// `commonMetadata`: labels and annotations set on every object's metadata (values replaced),
/// from the Flux Kustomization's lines.
fn common_metadata<'a>(meta: &Tree<'a>, out: &mut [Tree<'a>]) {
    for key in ["labels", "annotations"] {
        let Some(TValue::Map(pairs)) = meta.get(key).map(|m| &m.value) else { continue };
        for object in out.iter_mut() {
            let (file, span) = (meta.file, meta.span);
            let Some(map) =
                object.map_at("metadata", file, span).and_then(|m| m.map_at(key, file, span))
            else {
                continue;
            };
            for Field { key, value, .. } in pairs {
                map.set(key, value.clone());
            }
        }
    }
}

/// Whether an object opts out of substitution (label or annotation `…/substitute: disabled`).
fn disabled(object: &Tree<'_>) -> bool {
    ["labels", "annotations"].iter().any(|key| {
        object.at(&["metadata", key, SUBSTITUTE]).and_then(Tree::as_str) == Some("disabled")
    })
}

/// The variables of `postBuild`: `substituteFrom` entries in order (a later one wins), then
/// `substitute` (which wins over all). Newlines are taken out of every value, as Flux does.
fn variables<'a>(
    disk: &Disk<'a>,
    post: &Tree<'a>,
    namespace: &str,
    sources: &Sources,
    error: &dyn Fn(&Tree<'a>, String) -> BuildError,
) -> Result<HashMap<String, Tree<'a>>> {
    let mut vars: HashMap<String, Tree<'a>> = HashMap::new();
    let mut put = |name: &str, value: &Tree<'a>, at: &Tree<'a>| -> Result<()> {
        if !valid_name(name) {
            return Err(error(at, format!("`{name}` is not a valid variable name")));
        }
        let text = value.scalar_text().unwrap_or_default().replace('\n', "");
        vars.insert(name.to_string(), Tree::string(&text, value.file, value.span));
        Ok(())
    };
    for from in post.get("substituteFrom").map_or(&[][..], seq) {
        let kind = from.get("kind").and_then(Tree::as_str).unwrap_or("");
        let name = from.get("name").and_then(Tree::as_str).unwrap_or("");
        if kind != "ConfigMap" && kind != "Secret" {
            return Err(error(
                from,
                format!("substituteFrom kind `{kind}` must be ConfigMap or Secret"),
            ));
        }
        let optional = matches!(from.get("optional").map(|o| &o.value), Some(TValue::Bool(true)));
        match sources.get(&(namespace.to_string(), kind.to_string(), name.to_string())) {
            Some((path, document)) => {
                for (key, value) in
                    data(disk, path, *document, kind == "Secret").map_err(|m| error(from, m))?
                {
                    put(&key, &value, from)?;
                }
            }
            None if optional => {}
            None => {
                return Err(error(
                    from,
                    format!(
                        "substituteFrom {kind} `{namespace}/{name}` is not in the tree (mark it `optional: true` if the cluster provides it)"
                    ),
                ))
            }
        }
    }
    if let Some(TValue::Map(fields)) = post.get("substitute").map(|s| &s.value) {
        for f in fields {
            put(&f.key, &f.value, &f.value)?;
        }
    }
    Ok(vars)
}

/// The values of a ConfigMap's `data` or a Secret's `data` (decoded) and `stringData`, each at
/// its line.
pub(crate) fn data<'a>(
    disk: &Disk<'a>,
    path: &Path,
    document: usize,
    secret: bool,
) -> std::result::Result<Vec<(String, Tree<'a>)>, String> {
    let inside =
        disk.inside(path).ok_or_else(|| format!("{} is outside the build", path.display()))?;
    let object = disk.definition(&inside, document).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for key in ["data", "stringData"] {
        let Some(TValue::Map(fields)) = object.get(key).map(|d| &d.value) else { continue };
        for f in fields {
            let mut value = f.value.clone();
            if secret && key == "data" {
                let text = f.value.as_str().unwrap_or("");
                let decoded = crate::base64::decode(text)
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| {
                    format!("{}: `data.{}` is not base64 of text", show(&inside), f.key)
                })?;
                value.value = TValue::Str(decoded.into());
            }
            out.push((f.key.as_str().to_owned(), value));
        }
    }
    Ok(out)
}

/// A variable name Flux accepts: `^[_[:alpha:]][_[:alpha:][:digit:]]*$`.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Substitutes the variables in every string of an object (keys and values). A value that was
/// one reference and nothing else takes the type its text reads as (`replicas: ${N}` becomes
/// a number), as substituting in the YAML text does. A value one variable went into points at
/// that variable's source (the `substitute` entry, the ConfigMap's line): that is what to edit.
fn substitute<'a>(
    object: &mut Tree<'a>,
    vars: &HashMap<String, Tree<'a>>,
) -> std::result::Result<(), String> {
    match &mut object.value {
        TValue::Str(text) if text.contains('$') => {
            let super::envsubst::Expanded { text: result, source, whole } =
                super::envsubst::expand(text, vars)?;
            if let Some(source) = source {
                object.file = source.file;
                object.span = source.span;
            }
            object.value = if whole { TValue::typed(&result) } else { TValue::Str(result.into()) };
        }
        TValue::Seq(items) => {
            for item in items {
                substitute(item, vars)?;
            }
        }
        TValue::Map(fields) => {
            for f in fields {
                if f.key.contains('$') {
                    f.key = super::envsubst::expand(&f.key, vars)?.text.into();
                }
                substitute(&mut f.value, vars)?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::source::Span;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, Tree<'static>> {
        pairs.iter().map(|(k, v)| ((*k).to_string(), Tree::string(v, 3, Span::default()))).collect()
    }

    #[test]
    fn a_whole_reference_takes_the_type_its_value_reads_as() {
        let mut t = crate::render::tree::parse_trees("replicas: ${n}\nname: app-${n}\n").remove(0);
        substitute(&mut t, &vars(&[("n", "3")])).unwrap();
        assert_eq!(t.get("replicas").unwrap().value, TValue::Int(3));
        assert_eq!(t.get("replicas").unwrap().file, 3);
        assert_eq!(t.get("name").unwrap().as_str(), Some("app-3"));
    }
}
