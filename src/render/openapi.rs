//! A kustomization's `openapi` field: a custom OpenAPI schema (`path`, JSON or YAML) that tells
//! strategic merge patches how the lists of custom resources merge — the definitions that name
//! a group, version and kind (`x-kubernetes-group-version-kind`), their properties through
//! `$ref`, and `x-kubernetes-patch-merge-key` with `x-kubernetes-patch-strategy: merge` on list
//! fields. `version` names kustomize's built-in schema: the built-in types' merge keys
//! (`render/patch.rs`). As in kustomize, the first kustomization of a build that sets one (the
//! top first) decides for the whole build.

use serde_json::Value;

use super::tree::Tree;

/// The kustomize built-in schema versions `openapi.version` may name.
const BUILT_IN: &[&str] = &["v1.21.2"];

/// A custom schema.
#[derive(Debug)]
pub struct Schema {
    root: Value,
    /// (group, version, kind) → the definition's name.
    kinds: Vec<((String, String, String), String)>,
}

/// What a kustomization's `openapi` asks for.
#[derive(Debug, Clone)]
pub(super) enum OpenApi {
    /// kustomize's built-in schema.
    BuiltIn,
    Custom(std::sync::Arc<Schema>),
}

/// Reads a kustomization's `openapi` field; `read` loads the schema file at a path (relative to
/// the kustomization) as a tree. Errors are (node, message).
pub(super) fn from_field<'t, 'a>(
    field: &'t Tree<'a>,
    read: &dyn Fn(&str) -> Result<Tree<'a>, String>,
) -> Result<OpenApi, (&'t Tree<'a>, String)> {
    let (path, version) = (field.get("path"), field.get("version"));
    match (path, version) {
        (Some(_), Some(v)) => {
            Err((v, "builtin version and custom schema provided, cannot use both".into()))
        }
        (None, Some(v)) => match v.as_str() {
            Some(name) if BUILT_IN.contains(&name) => Ok(OpenApi::BuiltIn),
            _ => Err((
                v,
                format!(
                    "the specified OpenAPI version is not built in (kustomize has {})",
                    BUILT_IN.join(", ")
                ),
            )),
        },
        (Some(p), None) => {
            let Some(name) = p.as_str() else {
                return Err((p, "`openapi.path` must be a string".into()));
            };
            let tree = read(name).map_err(|m| (p, m))?;
            Schema::new(tree.to_json())
                .map(|s| OpenApi::Custom(std::sync::Arc::new(s)))
                .map_err(|m| (p, m))
        }
        (None, None) => Err((field, "`openapi` needs `path` or `version`".into())),
    }
}

impl Schema {
    fn new(root: Value) -> Result<Schema, String> {
        let Some(definitions) = root.get("definitions").and_then(Value::as_object) else {
            return Err("the OpenAPI schema has no `definitions`".into());
        };
        let mut kinds = Vec::new();
        for (name, def) in definitions {
            let Some(gvks) = def.get("x-kubernetes-group-version-kind").and_then(Value::as_array)
            else {
                continue;
            };
            for gvk in gvks {
                let text = |k: &str| gvk.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                kinds.push(((text("group"), text("version"), text("kind")), name.clone()));
            }
        }
        Ok(Schema { root, kinds })
    }

    /// The definition of objects of this group, version and kind, if the schema has one.
    #[must_use]
    pub fn definition(&self, group: &str, version: &str, kind: &str) -> Option<&Value> {
        let (_, name) =
            self.kinds.iter().find(|((g, v, k), _)| g == group && v == version && k == kind)?;
        self.root.get("definitions")?.get(name)
    }

    /// A schema with its `$ref` followed (a few levels, no cycles).
    fn resolve<'a>(&'a self, mut v: &'a Value) -> &'a Value {
        for _ in 0..16 {
            let Some(target) = v.get("$ref").and_then(Value::as_str) else { return v };
            let Some(name) = target.strip_prefix("#/definitions/") else { return v };
            match self.root.get("definitions").and_then(|d| d.get(name)) {
                Some(next) => v = next,
                None => return v,
            }
        }
        v
    }

    /// The merge key of the list field `field` of values of definition `def`, when the schema
    /// says the list merges.
    pub(super) fn merge_key<'a>(&'a self, def: &'a Value, field: &str) -> Option<&'a str> {
        let property = self.resolve(def).get("properties")?.get(field)?;
        let strategy = property.get("x-kubernetes-patch-strategy").and_then(Value::as_str)?;
        if !strategy.split(',').any(|s| s.trim() == "merge") {
            return None;
        }
        property.get("x-kubernetes-patch-merge-key").and_then(Value::as_str)
    }

    /// The definition of field `field` of values of `def` (of its elements, for a list):
    /// `Ok(None)` when the schema does not describe the field, `Err(name)` when it names a
    /// definition the schema lacks (a built-in type such as `io.k8s.api.core.v1.PodTemplateSpec`,
    /// which kustomize takes from its built-in schema).
    pub(super) fn field<'a>(
        &'a self,
        def: &'a Value,
        field: &str,
    ) -> std::result::Result<Option<&'a Value>, &'a str> {
        let Some(property) = self.resolve(def).get("properties").and_then(|p| p.get(field)) else {
            return Ok(None);
        };
        let property = self.resolve(property);
        let value = match property.get("items") {
            Some(items) if property.get("type").and_then(Value::as_str) == Some("array") => {
                self.resolve(items)
            }
            _ => property,
        };
        if let Some(reference) = value.get("$ref").and_then(Value::as_str) {
            return Err(reference.rsplit('/').next().unwrap_or(reference));
        }
        Ok(Some(value))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use crate::render::kustomize::{build, tests::write, Disk};

    const CRD: &str = "apiVersion: example.com/v1\nkind: App\nmetadata:\n  name: web\nspec:\n  containers:\n  - {name: app, image: 'nginx:1.27'}\n  - {name: side, image: busybox}\n";
    const PATCH: &str = "patches:\n- patch: |-\n    apiVersion: example.com/v1\n    kind: App\n    metadata:\n      name: web\n    spec:\n      containers:\n      - {name: app, image: 'nginx:1.28'}\n";
    const SCHEMA: &str = "{\"definitions\": {\"App\": {\"x-kubernetes-group-version-kind\": [{\"group\": \"example.com\", \"version\": \"v1\", \"kind\": \"App\"}], \"properties\": {\"spec\": {\"$ref\": \"#/definitions/AppSpec\"}}}, \"AppSpec\": {\"properties\": {\"containers\": {\"type\": \"array\", \"items\": {\"$ref\": \"#/definitions/io.k8s.api.core.v1.Container\"}, \"x-kubernetes-patch-merge-key\": \"name\", \"x-kubernetes-patch-strategy\": \"merge\"}}}}}";

    /// With the custom schema a custom resource's list merges by its key; without it the
    /// patch's list replaces the object's, as in kustomize. Bad `openapi` fields are errors.
    #[test]
    fn a_custom_schema_gives_custom_resources_merge_keys() {
        let dir = tempfile::tempdir().unwrap();
        let kustomization = |openapi: &str| format!("resources: [app.yaml]\n{openapi}{PATCH}");
        let cases = [
            ("schema", kustomization("openapi:\n  path: schema.json\n")),
            ("none", kustomization("")),
            ("both", kustomization("openapi: {path: schema.json, version: v1.21.2}\n")),
            ("old", kustomization("openapi: {version: v1.14.1}\n")),
            ("missing", kustomization("openapi: {path: nothing.json}\n")),
        ];
        for (name, text) in &cases {
            write(
                dir.path(),
                &[
                    (&format!("{name}/app.yaml"), CRD),
                    (&format!("{name}/schema.json"), SCHEMA),
                    (&format!("{name}/kustomization.yaml"), text),
                ],
            );
        }
        let disk = Disk::new(dir.path());
        let containers = |dir: &str| {
            build(&disk, Path::new(dir)).unwrap()[0].to_json()["spec"]["containers"].clone()
        };
        assert_eq!(
            containers("schema"),
            json!([{"name": "app", "image": "nginx:1.28"}, {"name": "side", "image": "busybox"}])
        );
        assert_eq!(containers("none"), json!([{"name": "app", "image": "nginx:1.28"}]));
        let error = |dir: &str| build(&disk, Path::new(dir)).unwrap_err().to_string();
        assert!(
            error("both").ends_with("builtin version and custom schema provided, cannot use both")
        );
        assert!(
            error("old").contains("the specified OpenAPI version is not built in"),
            "{}",
            error("old")
        );
        assert_eq!(
            error("missing"),
            "/missing/kustomization.yaml:2: '/missing/nothing.json' doesn't exist"
        );
    }
}
