//! CEL in the Kyverno engine: the activation of an admission request (`object`, `oldObject`,
//! `request`, `namespaceObject`, `params`) and the host that serves Kyverno's lookups from the
//! tree ([`ClusterData`]) — shared by `validate.cel` rules and the `policies.kyverno.io` kinds.

use crate::pointer::Pointer as _;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

use serde_json::{json, Value};

use super::matching::Admission;
use super::store::{api_path, list};
use super::{ClusterData, Request};
use crate::engine::cel::{Host, Val};
use crate::kinds;

/// Serves `resource.Get`/`resource.List` from the cluster data, if any.
pub(crate) struct ClusterHost<'a> {
    pub cluster: Option<&'a dyn ClusterData>,
}

impl Host for ClusterHost<'_> {
    fn image_metadata(&self, image: &str) -> Result<Value, String> {
        self.cluster.and_then(|c| c.image_metadata(image)).ok_or_else(|| {
            format!("no metadata for image `{image}` (give it in the test's context file; registries are not reached)")
        })
    }

    fn resource_get(
        &self,
        api_version: &str,
        resource: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Value, String> {
        let cluster =
            self.cluster.ok_or("no cluster data (lint a tree, or give a test context)")?;
        cluster
            .api_get(&api_path(api_version, resource, namespace, Some(name)))
            .map(Arc::unwrap_or_clone)
            .ok_or_else(|| {
                let at = if namespace.is_empty() { String::new() } else { format!("{namespace}/") };
                format!("{resource} `{at}{name}` ({api_version}) is not in the tree")
            })
    }

    fn resource_list(
        &self,
        api_version: &str,
        resource: &str,
        namespace: &str,
    ) -> Result<Value, String> {
        let cluster =
            self.cluster.ok_or("no cluster data (lint a tree, or give a test context)")?;
        // A collection the tree has none of is an empty list, as the API server answers.
        Ok(cluster
            .api_get(&api_path(api_version, resource, namespace, None))
            .map_or_else(|| list(Vec::new()), Arc::unwrap_or_clone))
    }
}

/// The plural resource name of a kind (`deployments`), as admission requests carry it.
pub(super) fn plural(api_version: &str, kind: &str) -> Cow<'static, str> {
    kinds::builtin(api_version, kind).map_or_else(
        || Cow::Owned(format!("{}s", kind.to_ascii_lowercase())),
        |k| Cow::Borrowed(k.plural),
    )
}

/// The variables of a CEL admission expression for one resource.
pub(crate) fn activation(
    resource: &Value,
    request: &Request<'_>,
    adm: &Admission<'_>,
) -> BTreeMap<String, Val> {
    let object = request.cel_object.as_deref().cloned().unwrap_or_else(|| Val::from_json(resource));
    let (object, old) = match adm.operation {
        "DELETE" => (Val::Null, object),
        "UPDATE" => (object.clone(), object),
        _ => (object, Val::Null),
    };
    let api_version = resource.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let user = request.user;
    let mut user_info =
        vec![(Val::string("username"), Val::string(user.map_or("", |u| u.username.as_str())))];
    if let Some(u) = user.filter(|u| !u.groups.is_empty()) {
        user_info.push((
            Val::string("groups"),
            Val::list(u.groups.iter().map(|g| Val::string(g)).collect()),
        ));
    }
    let map = |entries: Vec<(&str, Val)>| {
        Val::Map(Rc::new(entries.into_iter().map(|(k, v)| (Val::string(k), v)).collect()))
    };
    let request_val = map(vec![
        (
            "kind",
            map(vec![
                ("group", Val::string(adm.group)),
                ("version", Val::string(adm.version)),
                ("kind", Val::string(adm.kind)),
            ]),
        ),
        (
            "resource",
            map(vec![
                ("group", Val::string(adm.group)),
                ("version", Val::string(adm.version)),
                ("resource", Val::string(&plural(api_version, adm.kind))),
            ]),
        ),
        ("name", Val::string(adm.name)),
        ("namespace", Val::string(adm.namespace)),
        ("operation", Val::string(adm.operation)),
        ("userInfo", Val::Map(Rc::new(user_info))),
        ("dryRun", Val::Bool(false)),
    ]);
    let namespace_object = if adm.namespace.is_empty() {
        Val::Null
    } else {
        let known = request.namespace_object.cloned().or_else(|| {
            request
                .cluster
                .and_then(|c| c.api_get(&format!("/api/v1/namespaces/{}", adm.namespace)))
                .map(Arc::unwrap_or_clone)
        });
        Val::from_json(&known.unwrap_or_else(|| {
            json!({
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": adm.namespace, "labels": adm.namespace_labels},
            })
        }))
    };
    let mut vars = BTreeMap::new();
    vars.insert("object".to_string(), object);
    vars.insert("oldObject".to_string(), old);
    vars.insert("request".to_string(), request_val);
    vars.insert("namespaceObject".to_string(), namespace_object);
    vars.insert("params".to_string(), Val::Null);
    vars
}

/// `validate.cel.paramKind` and `paramRef`: the parameter objects a rule reads as `params`,
/// found in the tree (Kubernetes' ValidatingAdmissionPolicyBinding semantics).
#[derive(Clone, Debug)]
pub(crate) struct ParamSpec {
    api_version: String,
    kind: String,
    name: Option<String>,
    namespace: Option<String>,
    selector: Option<Value>,
    /// `parameterNotFoundAction: Allow`: no parameter object passes the rule (the default,
    /// `Deny`, fails it).
    pub(crate) allow_missing: bool,
}

impl ParamSpec {
    /// Reads `paramKind` and `paramRef` of a `validate.cel` node; `None` without `paramKind`.
    pub(crate) fn from_node(cel: &crate::load::Node) -> Option<ParamSpec> {
        Some(ParamSpec::from_parts(cel.get("paramKind")?, cel.get("paramRef")))
    }

    /// A `paramKind` and a `paramRef` (a ValidatingAdmissionPolicy's, and its binding's).
    pub(crate) fn from_parts(
        kind: &crate::load::Node,
        reference: Option<&crate::load::Node>,
    ) -> ParamSpec {
        use crate::load::Node;
        let s = |n: Option<&Node>, k: &str| {
            n.and_then(|n| n.get(k)).and_then(Node::as_str).map(str::to_string)
        };
        ParamSpec {
            api_version: s(Some(kind), "apiVersion").unwrap_or_default(),
            kind: s(Some(kind), "kind").unwrap_or_default(),
            name: s(reference, "name").filter(|n| !n.is_empty()),
            namespace: s(reference, "namespace").filter(|n| !n.is_empty()),
            selector: reference.and_then(|r| r.get("selector")).map(crate::load::Node::to_json),
            allow_missing: s(reference, "parameterNotFoundAction").as_deref() == Some("Allow"),
        }
    }

    /// What names the parameters, for messages: `ConfigMap team-limits`.
    pub(crate) fn describe(&self) -> String {
        match (&self.namespace, &self.name) {
            (Some(ns), Some(n)) => format!("{} `{ns}/{n}`", self.kind),
            (None, Some(n)) => format!("{} `{n}`", self.kind),
            _ => format!("{} objects selected by the paramRef", self.kind),
        }
    }

    /// The parameter objects for a resource: by name, or every one the selector picks (in the
    /// paramRef's namespace, else — for a namespaced kind — the resource's own).
    pub(crate) fn resolve(
        &self,
        adm: &Admission<'_>,
        cluster: Option<&dyn ClusterData>,
    ) -> Result<Vec<Value>, String> {
        let Some(cluster) = cluster else { return Ok(Vec::new()) };
        let no_crds = std::collections::HashMap::new();
        let cluster_scoped = kinds::is_cluster_scoped(&self.api_version, &self.kind, &no_crds);
        let namespace = match (&self.namespace, cluster_scoped) {
            (_, true) => "",
            (Some(ns), false) => ns.as_str(),
            (None, false) => adm.namespace,
        };
        let resource = plural(&self.api_version, &self.kind);
        if let Some(name) = &self.name {
            let path = api_path(&self.api_version, &resource, namespace, Some(name));
            return Ok(cluster.api_get(&path).map(Arc::unwrap_or_clone).into_iter().collect());
        }
        let path = api_path(&self.api_version, &resource, namespace, None);
        let items = cluster
            .api_get(&path)
            .and_then(|l| l.get("items").and_then(Value::as_array).cloned())
            .unwrap_or_default();
        let Some(selector) = &self.selector else { return Ok(items) };
        let mut out = Vec::new();
        for item in items {
            let labels = super::string_map(item.at("/metadata/labels"));
            if super::matching::selector_matches(selector, &labels, false)? {
                out.push(item);
            }
        }
        Ok(out)
    }
}
