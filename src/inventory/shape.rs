//! The shape every document must have before rules can trust it. A field of the wrong type
//! (`kind: [Pod]`, `metadata: web`, `containers: {}`) would otherwise make rules skip the
//! object without a word; here it is an error at the field's line, and the object is still
//! linted for everything else.

use crate::load::source::Pos;
use crate::load::{Node, Value};

/// A field of the wrong type: where, and what is wrong.
pub(crate) type ShapeError = (Pos, String);

/// How a value is named in a message.
fn type_name(node: &Node) -> &'static str {
    match node.value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Int(_) | Value::Float(_) => "a number",
        Value::Str(_) => "a string",
        Value::Seq(_) => "a list",
        Value::Map(_) => "a mapping",
    }
}

/// Problems of a document that is not a mapping: `None` when it is one (or empty).
pub(crate) fn not_an_object(root: &Node, document: usize) -> Option<ShapeError> {
    match root.value {
        Value::Null | Value::Map(_) => None,
        _ => {
            let hint = if is_list_of_objects(root) {
                ": kubectl and Flux do not read a list of objects; separate them with `---`"
            } else {
                ""
            };
            let what = type_name(root);
            let message = format!(
                "document {} is {what}, not a Kubernetes object (a mapping){hint}",
                document + 1
            );
            Some((root.span.start(), message))
        }
    }
}

/// Whether a document is a mapping with a string `apiVersion` and `kind`.
pub(crate) fn is_object(root: &Node) -> bool {
    root.as_map().is_some()
        && root.get("apiVersion").and_then(Node::as_str).is_some()
        && root.get("kind").and_then(Node::as_str).is_some()
}

/// Whether a document is a list of objects (`- apiVersion: v1 …` at the top).
pub(crate) fn is_list_of_objects(root: &Node) -> bool {
    root.as_seq().is_some_and(|items| items.iter().any(is_object))
}

/// The `items` of a list object (`kind: List`, or a `…List` kind with an `items` list), which
/// kubectl and kustomize apply as separate objects.
pub(crate) fn list_items(root: &Node) -> Option<&[Node]> {
    let kind = root.get("kind").and_then(Node::as_str)?;
    let items = root.get("items");
    if kind == "List" || kind.ends_with("List") && items.is_some_and(|i| i.as_seq().is_some()) {
        Some(items.and_then(Node::as_seq).unwrap_or(&[]))
    } else {
        None
    }
}

/// `apiVersion` and `kind` of a document meant as an object. A document is taken as meant to
/// be one when its `apiVersion` looks like an API version (`v1`, `apps/v1`) or its `kind` like
/// a kind (`Deployment`); then the other must be a string too. Anything else (a Helm values
/// file with `kind: values`) is not an object and is skipped, as before.
pub(crate) fn identity(root: &Node) -> Vec<ShapeError> {
    let api = root.get("apiVersion").filter(|n| !n.is_null());
    let kind = root.get("kind").filter(|n| !n.is_null());
    let looks_like_api = api.and_then(Node::as_str).is_some_and(is_api_version);
    let looks_like_kind = kind
        .and_then(Node::as_str)
        .is_some_and(|k| k.starts_with(|c: char| c.is_ascii_uppercase()));
    let mut errors = Vec::new();
    for (name, node, meant) in
        [("kind", kind, looks_like_api), ("apiVersion", api, looks_like_kind)]
    {
        if let Some(n) = node.filter(|n| meant && n.as_str().is_none()) {
            errors
                .push((n.span.start(), format!("`{name}` must be a string, not {}", type_name(n))));
        }
    }
    // An object with an API version and metadata but no kind is a broken manifest (kubectl and
    // Flux reject it), not a file to skip.
    if let (Some(api), None, Some(_)) = (api.filter(|_| looks_like_api), kind, root.get("metadata"))
    {
        errors.push((
            api.span.start(),
            "`kind` is missing: kubectl and Flux reject the object".into(),
        ));
    }
    errors
}

/// `v1`, `v2beta1`, `apps/v1`, `kyverno.io/v1alpha2`.
fn is_api_version(s: &str) -> bool {
    let version = s.rsplit_once('/').map_or(s, |(group, v)| if group.is_empty() { "" } else { v });
    let Some(rest) = version.strip_prefix('v') else { return false };
    let digits = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    digits.len() < rest.len()
        && (digits.is_empty()
            || ["alpha", "beta"].iter().any(|p| {
                digits
                    .strip_prefix(p)
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            }))
}

/// The fields rules read of every object: `metadata` and, for pod-bearing kinds, the pod spec.
pub(crate) fn object(root: &Node, pod_spec: Option<&str>) -> Vec<ShapeError> {
    let mut errors = Vec::new();
    if let Some(meta) = expect(root, "metadata", Kind::Map, &mut errors) {
        for key in ["name", "namespace", "generateName"] {
            expect(meta, key, Kind::Str, &mut errors);
        }
        for key in ["labels", "annotations"] {
            if let Some(map) = expect(meta, key, Kind::Map, &mut errors) {
                for entry in map.as_map().unwrap_or(&[]) {
                    if entry.value.as_str().is_none() {
                        errors.push((
                            entry.value.span.start(),
                            format!(
                                "{} `{}` must be a string, not {}",
                                &key[..key.len() - 1],
                                entry.key,
                                type_name(&entry.value)
                            ),
                        ));
                    }
                }
            }
        }
    }
    let Some(pointer) = pod_spec else { return errors };
    let mut node = root;
    for key in pointer.trim_start_matches('/').split('/') {
        match expect(node, key, Kind::Map, &mut errors) {
            Some(next) => node = next,
            None => return errors,
        }
    }
    for list in ["initContainers", "containers", "ephemeralContainers", "volumes"] {
        if let Some(items) = expect(node, list, Kind::Seq, &mut errors) {
            for item in items.as_seq().unwrap_or(&[]) {
                if item.as_map().is_none() {
                    errors.push((
                        item.span.start(),
                        format!("an entry of `{list}` must be a mapping, not {}", type_name(item)),
                    ));
                }
            }
        }
    }
    errors
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Str,
    Seq,
    Map,
}

/// The value under `key` when it has the expected type; an error when it is set to another
/// type (null counts as not set, as Kubernetes treats it).
fn expect<'a>(
    parent: &'a Node,
    key: &str,
    want: Kind,
    errors: &mut Vec<ShapeError>,
) -> Option<&'a Node> {
    let node = parent.get(key).filter(|n| !n.is_null())?;
    let ok = match want {
        Kind::Str => node.as_str().is_some(),
        Kind::Seq => node.as_seq().is_some(),
        Kind::Map => node.as_map().is_some(),
    };
    if ok {
        return Some(node);
    }
    let wanted = match want {
        Kind::Str => "a string",
        Kind::Seq => "a list",
        Kind::Map => "a mapping",
    };
    errors.push((node.span.start(), format!("`{key}` must be {wanted}, not {}", type_name(node))));
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_are_recognised() {
        for ok in ["v1", "apps/v1", "kyverno.io/v2beta1", "x.y/v1alpha3"] {
            assert!(is_api_version(ok), "{ok}");
        }
        for no in ["", "v", "1", "values", "apps/", "/v1", "v1beta", "v1gamma1", "apps/1"] {
            assert!(!is_api_version(no), "{no}");
        }
    }
}
