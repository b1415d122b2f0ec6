//! Template `plaintext-secret`: a Secret whose data is in the repository unencrypted.

use serde::Deserialize;

use crate::engine::{Context, Sink};
use crate::inventory::Object;
use crate::load::Node;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Params {
    /// Secret types that carry no secret material of their own (filled in by the cluster).
    #[serde(default)]
    ignored_types: Vec<String>,
}

const KINDS: &[&str] = &["Secret"];

super::object_template!(PlaintextSecret);

/// A value SOPS has encrypted.
fn encrypted(value: &Node) -> bool {
    value.as_str().is_some_and(|s| s.starts_with("ENC[") && s.ends_with(']'))
}

fn check(params: &Params, _cx: &Context<'_>, object: &Object, sink: &mut Sink) {
    if object.api_version != "v1" {
        return;
    }
    let kind = object.root.get("type").and_then(Node::as_str).unwrap_or("Opaque");
    if kind == "kubernetes.io/service-account-token"
        || params.ignored_types.iter().any(|t| t == kind)
    {
        return;
    }
    // SOPS writes its metadata beside the data; with it, every value is ciphertext.
    if object.root.get("sops").is_some_and(|s| !s.is_null()) {
        return;
    }
    for field in ["stringData", "data"] {
        let Some(entries) = object.root.get(field).and_then(Node::as_map) else { continue };
        let plain: Vec<&str> =
            entries.iter().filter(|e| !encrypted(&e.value)).map(|e| &*e.key).collect();
        if plain.is_empty() {
            continue;
        }
        sink.report(
            object,
            format!("/{field}"),
            format!(
                "Secret `{}` holds {} in plain text ({}): anyone who can read the repository can read it",
                object.name,
                if plain.len() == 1 { "a value" } else { "values" },
                plain.join(", ")
            ),
        );
        return;
    }
}
