//! API paths (`/apis/apps/v1/namespaces/a/deployments/b`) and an in-memory object store that
//! answers them — the objects and image metadata of a test's CEL `context` file. The linted
//! tree answers the same paths from its inventory ([`super::lint::TreeData`]).

use crate::pointer::Pointer as _;
use std::borrow::Cow;
use std::sync::Arc;

use serde_json::{json, Value};

use super::ClusterData;
use crate::image::ImageRef;
use crate::kinds;

/// A parsed GET path: a collection (`name` none) or one object, in a namespace or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApiPath<'a> {
    pub group: &'a str,
    pub namespace: Option<&'a str>,
    /// Plural resource name (`deployments`; `namespaces` for Namespace objects).
    pub plural: &'a str,
    pub name: Option<&'a str>,
}

/// Parses `/api/v1/...` and `/apis/GROUP/VERSION/...` (a query string is ignored).
#[must_use]
pub fn parse_api_path(path: &str) -> Option<ApiPath<'_>> {
    let path = path.split('?').next().unwrap_or(path).trim_matches('/');
    let parts: Vec<&str> = path.split('/').collect();
    let (group, rest) = match parts.as_slice() {
        ["api", _version, rest @ ..] => ("", rest),
        ["apis", group, _version, rest @ ..] => (*group, rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some(*ns), rest),
        _ => (None, rest),
    };
    let (plural, name) = match rest {
        [plural] => (*plural, None),
        [plural, name] => (*plural, Some(*name)),
        _ => return None,
    };
    Some(ApiPath { group, namespace, plural, name })
}

/// The GET path of a collection (`name` none) or one object, in a namespace or not — what
/// [`parse_api_path`] reads back.
#[must_use]
pub fn api_path(api_version: &str, resource: &str, namespace: &str, name: Option<&str>) -> String {
    let mut path = if api_version.contains('/') {
        format!("/apis/{api_version}")
    } else {
        format!("/api/{api_version}")
    };
    if !namespace.is_empty() {
        path.push_str("/namespaces/");
        path.push_str(namespace);
    }
    path.push('/');
    path.push_str(resource);
    if let Some(name) = name {
        path.push('/');
        path.push_str(name);
    }
    path
}

/// A Kubernetes `List` of objects.
#[must_use]
pub fn list(items: Vec<Value>) -> Value {
    let mut list = json!({"apiVersion": "v1", "kind": "List", "metadata": {}});
    list["items"] = Value::Array(items);
    list
}

/// Objects and image metadata held in memory.
#[derive(Clone, Debug, Default)]
pub struct ObjectStore {
    pub objects: Vec<Value>,
    /// Image metadata by fully qualified reference (`docker.io/library/redis:6`).
    pub images: Vec<(String, Value)>,
    /// Resource names of custom kinds by (group, kind), from their CRDs (others are derived).
    pub plurals: Vec<((String, String), String)>,
}

impl ObjectStore {
    /// Adds an image's metadata (an entry of a context file's `spec.images`).
    pub fn add_image(&mut self, entry: Value) {
        let Some(image) = entry.get("image").and_then(Value::as_str) else { return };
        self.images.push((ImageRef::split(image).to_string(), entry));
    }

    /// Registers a CustomResourceDefinition: its objects are found by its plural name.
    pub fn add_crd(&mut self, crd: &Value) {
        let s = |ptr: &str| crd.at(ptr).and_then(Value::as_str).unwrap_or("").to_string();
        let (group, kind, plural) =
            (s("/spec/group"), s("/spec/names/kind"), s("/spec/names/plural"));
        if !kind.is_empty() && !plural.is_empty() {
            self.plurals.push(((group, kind), plural));
        }
    }

    /// The resource name (`configmaps`) of an object's kind.
    fn plural_of<'a>(&'a self, api_version: &str, group: &str, kind: &str) -> Cow<'a, str> {
        match self.plurals.iter().find(|((g, k), _)| g == group && k == kind) {
            Some((_, plural)) => Cow::Borrowed(plural.as_str()),
            None => super::cel::plural(api_version, kind),
        }
    }

    fn matching<'a>(&'a self, p: ApiPath<'a>) -> impl Iterator<Item = &'a Value> + 'a {
        self.objects.iter().filter(move |o| {
            let s = |ptr: &str| o.at(ptr).and_then(Value::as_str).unwrap_or("");
            let (group, _) = kinds::split_api_version(s("/apiVersion"));
            group == p.group
                && self.plural_of(s("/apiVersion"), group, s("/kind")) == p.plural
                && p.namespace.is_none_or(|ns| s("/metadata/namespace") == ns)
                && p.name.is_none_or(|n| s("/metadata/name") == n)
        })
    }
}

impl ClusterData for ObjectStore {
    fn config_map(&self, namespace: &str, name: &str) -> Option<Value> {
        let path = ApiPath {
            group: "",
            namespace: Some(namespace),
            plural: "configmaps",
            name: Some(name),
        };
        self.matching(path).next().cloned()
    }

    fn api_get(&self, path: &str) -> Option<Arc<Value>> {
        let p = parse_api_path(path)?;
        match p.name {
            Some(_) => self.matching(p).next().cloned().map(Arc::new),
            None => Some(Arc::new(list(self.matching(p).cloned().collect()))),
        }
    }

    fn image_metadata(&self, image: &str) -> Option<Value> {
        let wanted = ImageRef::split(image).to_string();
        self.images.iter().find(|(r, _)| *r == wanted).map(|(_, v)| v.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse() {
        let p = parse_api_path("/apis/apps/v1/namespaces/a/deployments/b?x=1").unwrap();
        assert_eq!(
            p,
            ApiPath { group: "apps", namespace: Some("a"), plural: "deployments", name: Some("b") }
        );
        let p = parse_api_path("/api/v1/namespaces/a").unwrap();
        assert_eq!(
            p,
            ApiPath { group: "", namespace: None, plural: "namespaces", name: Some("a") }
        );
        let p = parse_api_path("/api/v1/namespaces/a/pods").unwrap();
        assert_eq!((p.namespace, p.plural, p.name), (Some("a"), "pods", None));
        assert_eq!(parse_api_path("/api/v1").map(|p| p.plural), None);
        assert_eq!(parse_api_path("/healthz"), None);
    }

    #[test]
    fn the_store_answers_gets_lists_and_images() {
        let mut store = ObjectStore::default();
        store.objects.push(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "a"}, "data": {"k": "v"}}));
        store.objects.push(json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h", "namespace": "a"}}));
        store.add_image(
            json!({"image": "docker.io/redis:6", "config": {"created": "2020-01-01T00:00:00Z"}}),
        );
        assert_eq!(store.config_map("a", "c").unwrap()["data"]["k"], "v");
        assert!(store.config_map("b", "c").is_none());
        let hpas =
            store.api_get("/apis/autoscaling/v1/namespaces/a/horizontalpodautoscalers").unwrap();
        assert_eq!(hpas["items"].as_array().unwrap().len(), 1);
        let none =
            store.api_get("/apis/autoscaling/v1/namespaces/b/horizontalpodautoscalers").unwrap();
        assert!(none["items"].as_array().unwrap().is_empty());
        assert!(store.image_metadata("redis:6").is_some(), "short and qualified forms agree");
        assert!(store.image_metadata("redis:7").is_none());
    }

    /// A custom kind whose plural is irregular is found by its CRD's name for it, not by
    /// the derived one.
    #[test]
    fn crds_name_custom_resources() {
        let mut store = ObjectStore::default();
        store.objects.push(json!({"apiVersion": "example.com/v1", "kind": "Policy",
            "metadata": {"name": "p", "namespace": "a"}}));
        let path = "/apis/example.com/v1/namespaces/a/policies";
        assert!(store.api_get(path).unwrap()["items"].as_array().unwrap().is_empty());
        store.add_crd(&json!({"spec": {"group": "example.com",
            "names": {"kind": "Policy", "plural": "policies"}}}));
        assert_eq!(store.api_get(path).unwrap()["items"].as_array().unwrap().len(), 1);
    }
}
