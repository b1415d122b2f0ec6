//! A build's `buildMetadata` (docs/RENDER.md, "Kustomize"): `originAnnotations` (the file each
//! object came from, or the generator that made it) and `transformerAnnotations` (every
//! transformer that ran over each object, where it was configured), as kustomize writes them.
//! `managedByLabel` names the kustomize version, which a native build has none of: an error.

use std::path::Path;

use super::disk::{Disk, Result};
use super::kustomize::Kustomization;
use super::tree::{TValue, Tree};
use crate::load::source::Span;

/// The annotation `transformerAnnotations` writes: a YAML list, one entry per transformer.
const TRANSFORMATIONS: &str = "alpha.config.kubernetes.io/transformations";

/// What the top kustomization's `buildMetadata` asks for.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct BuildMetadata {
    pub origins: bool,
    pub transformations: bool,
}

impl BuildMetadata {
    /// Reads the (top) kustomization's `buildMetadata`; unknown options and `managedByLabel`
    /// are errors at their line.
    pub(super) fn of(k: &Kustomization) -> Result<BuildMetadata> {
        let mut asked = BuildMetadata::default();
        for (option, span) in k.strings("buildMetadata")? {
            let at = Tree::string(&option, k.file, span);
            match option.as_str() {
                "originAnnotations" => asked.origins = true,
                "transformerAnnotations" => asked.transformations = true,
                "managedByLabel" => {
                    return Err(k.error(
                        Some(&at),
                        "`buildMetadata: managedByLabel` is not supported yet (its label names the version of kustomize that built the objects)".into(),
                    ))
                }
                other => {
                    return Err(
                        k.error(Some(&at), format!("unknown `buildMetadata` option `{other}`"))
                    )
                }
            }
        }
        Ok(asked)
    }
}

/// The builtin transformers a kustomization's own fields configure, in kustomize's order, each
/// as many times as kustomize makes it (a `patches` entry is one PatchTransformer; `labels`
/// entries are a LabelTransformer each, and `commonLabels` one more).
pub(super) fn builtin_transformers(k: &Kustomization<'_>) -> Vec<&'static str> {
    let count = |key: &str| match k.tree.get(key).map(|t| &t.value) {
        Some(TValue::Seq(items)) => items.len(),
        Some(TValue::Map(fields)) => fields.len(),
        Some(TValue::Str(s)) => usize::from(!s.is_empty()),
        _ => 0,
    };
    let mut kinds = Vec::new();
    let mut add = |kind: &'static str, times: usize| kinds.extend(std::iter::repeat_n(kind, times));
    add("PatchStrategicMergeTransformer", usize::from(count("patchesStrategicMerge") > 0));
    add("PatchTransformer", count("patches"));
    add("NamespaceTransformer", usize::from(count("namespace") > 0));
    add("PrefixTransformer", usize::from(count("namePrefix") > 0));
    add("SuffixTransformer", usize::from(count("nameSuffix") > 0));
    let labels = count("labels");
    if labels > 0 || count("commonLabels") > 0 {
        add("LabelTransformer", labels + 1);
    }
    add("AnnotationsTransformer", usize::from(count("commonAnnotations") > 0));
    add("PatchJson6902Transformer", count("patchesJson6902"));
    add("ReplicaCountTransformer", count("replicas"));
    add("ImageTagTransformer", count("images"));
    add("ReplacementTransformer", usize::from(count("replacements") > 0));
    kinds
}

/// Appends a transformer to the transformations of every object (kustomize records each
/// transformer on every object it ran over, whether it changed the object or not):
/// `configured_in` relative to the directory built, `by` the config's `apiVersion`, `kind`,
/// `name` and `namespace` (empty ones left out). The annotation's text is from `at`.
pub(super) fn record_transformation(
    out: &mut [Tree<'_>],
    configured_in: &str,
    by: [(&str, &str); 4],
    (file, span): (u32, Span),
) {
    let mut entry = format!("- configuredIn: {}\n  configuredBy:\n", scalar(configured_in));
    for (key, value) in by.iter().filter(|(_, v)| !v.is_empty()) {
        for part in ["    ", key, ": ", &scalar(value), "\n"] {
            entry.push_str(part);
        }
    }
    for t in out.iter_mut() {
        let Some(annotations) =
            t.map_at("metadata", file, span).and_then(|m| m.map_at("annotations", file, span))
        else {
            continue;
        };
        let before = annotations.get(TRANSFORMATIONS).and_then(Tree::as_str).unwrap_or("");
        let text = format!("{before}{entry}");
        annotations.set(TRANSFORMATIONS, Tree::string(&text, file, span));
    }
}

/// A value as a YAML scalar: plain when YAML reads it back as the same text, else quoted.
fn scalar(text: &str) -> String {
    let plain = !text.is_empty()
        && !text.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@` ".contains(c))
        && !text.contains(": ")
        && !text.contains(" #")
        && !text.ends_with([' ', ':'])
        && matches!(TValue::typed(text), TValue::Str(_))
        && text != "~"
        && !text.eq_ignore_ascii_case("null");
    if plain {
        text.to_string()
    } else {
        serde_json::Value::String(text.to_string()).to_string()
    }
}

/// Sets `config.kubernetes.io/origin` as kustomize's `originAnnotations` does: the file an
/// object was read from, or the file that configured the generator that made it, relative to
/// the directory built.
pub(super) fn annotate_origin<'a>(t: &mut Tree<'a>, disk: &Disk<'a>, top: &Path) {
    let (file, span) = (t.file, t.span);
    let from = relative(top, Path::new(&disk.shown(file)));
    let generated = t
        .at(&["metadata", "annotations", super::generators::GENERATED_BY])
        .and_then(Tree::as_str)
        .map(str::to_string);
    let text = match generated {
        None => format!("path: {from}\n"),
        Some(by) => {
            let (kind, name) =
                by.split_once('/').map_or((by.as_str(), None), |(k, n)| (k, Some(n)));
            let mut text = format!(
                "configuredIn: {from}\nconfiguredBy:\n  apiVersion: builtin\n  kind: {kind}\n"
            );
            if let Some(name) = name {
                text.push_str("  name: ");
                text.push_str(name);
                text.push('\n');
            }
            text
        }
    };
    if let Some(annotations) =
        t.map_at("metadata", file, span).and_then(|m| m.map_at("annotations", file, span))
    {
        annotations.set("config.kubernetes.io/origin", Tree::string(&text, file, span));
    }
}

/// `path` relative to the directory `dir` (both from the root: `/prod`, `/base/a.yaml` give
/// `../base/a.yaml`).
pub(super) fn relative(dir: &Path, path: &Path) -> String {
    let dir: Vec<_> = dir.components().collect();
    let to: Vec<_> = path.components().collect();
    let common = dir.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_string(); dir.len() - common];
    parts.extend(to[common..].iter().map(|c| c.as_os_str().to_string_lossy().into_owned()));
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use serde_json::json;

    use crate::render::kustomize::{build, Disk};

    #[test]
    fn transformer_annotations_list_every_transformer_where_it_was_configured() {
        let files = [
            ("base/kustomization.yaml", "namePrefix: b-\nresources: [svc.yaml]\n"),
            ("base/svc.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"),
            (
                "prod/kustomization.yaml",
                "resources: [../base]\nlabels:\n- pairs: {env: prod}\ntransformers:\n- |-\n  apiVersion: builtin\n  kind: NamespaceTransformer\n  metadata: {name: ns, namespace: prod}\nbuildMetadata: [transformerAnnotations]\n",
            ),
            ("label/kustomization.yaml", "resources: [../base]\nbuildMetadata:\n- managedByLabel\n"),
        ];
        let files = files.iter().map(|(p, t)| (PathBuf::from(p), (*t).to_string())).collect();
        let disk = Disk::in_memory(files, crate::load::Limits::default());
        let out = build(&disk, Path::new("prod")).unwrap();
        let annotations = &out[0].to_json()["metadata"]["annotations"];
        // The base's prefix, the overlay's two label transformers (its `labels` entry and
        // `commonLabels`), then its inline config, configured in its kustomization.
        assert_eq!(
            annotations["alpha.config.kubernetes.io/transformations"],
            json!(concat!(
                "- configuredIn: ../base/kustomization.yaml\n  configuredBy:\n    apiVersion: builtin\n    kind: PrefixTransformer\n",
                "- configuredIn: kustomization.yaml\n  configuredBy:\n    apiVersion: builtin\n    kind: LabelTransformer\n",
                "- configuredIn: kustomization.yaml\n  configuredBy:\n    apiVersion: builtin\n    kind: LabelTransformer\n",
                "- configuredIn: kustomization.yaml\n  configuredBy:\n    apiVersion: builtin\n    kind: NamespaceTransformer\n    name: ns\n    namespace: prod\n",
            ))
        );
        assert_eq!(out[0].to_json()["metadata"]["namespace"], "prod");
        // Without the option, nothing is recorded.
        let out = build(&disk, Path::new("base")).unwrap();
        assert_eq!(out[0].to_json()["metadata"], json!({"name": "b-web"}));
        let error = build(&disk, Path::new("label")).unwrap_err().to_string();
        assert!(
            error.starts_with(
                "/label/kustomization.yaml:3: `buildMetadata: managedByLabel` is not supported yet"
            ),
            "{error}"
        );
    }

    #[test]
    fn annotation_values_are_quoted_where_yaml_would_read_them_otherwise() {
        for (text, written) in [
            ("kustomization.yaml", "kustomization.yaml"),
            ("../base/k.yaml", "../base/k.yaml"),
            ("true", "\"true\""),
            ("1.5", "\"1.5\""),
            ("a: b", "\"a: b\""),
            ("", "\"\""),
            ("null", "\"null\""),
        ] {
            assert_eq!(super::scalar(text), written, "{text}");
        }
    }
}
