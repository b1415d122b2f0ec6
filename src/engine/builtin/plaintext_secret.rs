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
fn encrypted(value: &str) -> bool {
    value.starts_with("ENC[") && value.ends_with(']')
}

/// A value that names where the secret lives instead of holding it: a 1Password reference
/// (`op://vault/item/field`), a Bank-Vaults reference (`vault:secret/data/x#key`), a vals
/// reference (`ref+vault://…`, `ref+awssecrets://…`), an argocd-vault-plugin placeholder
/// (`<path:kv/data/app#token>`), or a `${VAR}` that Flux's post-build substitution replaces
/// when it applies the object.
fn is_reference(value: &str) -> bool {
    let value = value.trim();
    // A multi-line value is an embedded file: one placeholder in it says nothing of the rest.
    if value.contains('\n') {
        return false;
    }
    ["op://", "vault:", "ref+"].iter().any(|p| value.starts_with(p))
        || value.find("<path:").is_some_and(|at| value[at..].contains('>'))
        || has_placeholder(value)
}

/// Whether the text holds a `${NAME}` (or `${NAME:=default}`) placeholder.
fn has_placeholder(text: &str) -> bool {
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let name_len =
            after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
        let name = &after[..name_len];
        let tail = &after[name_len..];
        if !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && (tail.starts_with('}') || (tail.starts_with(":=") && tail.contains('}')))
        {
            return true;
        }
        rest = after;
    }
    false
}

/// Keys of Argo CD repository and cluster Secrets that name things rather than hold secrets.
const ARGO_PLAIN_KEYS: &[&str] = &[
    "url",
    "name",
    "type",
    "project",
    "enableOCI",
    "insecure",
    "proxy",
    "noProxy",
    "enableLfs",
    "server",
    "namespaces",
    "clusterResources",
];

/// Whether the Secret is one of Argo CD's declarative repository or cluster Secrets.
fn is_argo_secret(object: &Object) -> bool {
    object
        .root
        .at(&["metadata", "labels"])
        .and_then(|l| l.get("argocd.argoproj.io/secret-type"))
        .and_then(Node::as_str)
        .is_some_and(|t| matches!(t, "repository" | "repo-creds" | "cluster"))
}

/// Whether an entry of `data` (base64) or `stringData` holds secret material in plain text.
fn is_plaintext(field: &str, key: &str, value: &Node, argo: bool) -> bool {
    if argo && ARGO_PLAIN_KEYS.contains(&key) {
        return false;
    }
    let Some(text) = value.as_str() else {
        // A number or boolean in stringData is still a value in the clear.
        return !value.is_null();
    };
    if text.is_empty() || encrypted(text) || is_reference(text) {
        return false;
    }
    if field == "data" {
        if let Some(decoded) = crate::base64::decode(text) {
            let decoded = String::from_utf8_lossy(&decoded);
            return !(decoded.trim().is_empty() || is_reference(&decoded));
        }
    }
    true
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
    let argo = is_argo_secret(object);
    // A SOPS file may encrypt only some keys (`encrypted_regex`, `unencrypted_suffix`, …): every
    // value is judged by what it is, and with SOPS metadata each plain value is its own finding,
    // at its line (the file is meant to be encrypted: those values were left out).
    let sops = object.root.get("sops").is_some_and(|s| !s.is_null());
    for field in ["stringData", "data"] {
        let Some(entries) = object.root.get(field).and_then(Node::as_map) else { continue };
        let plain: Vec<(usize, &str)> = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| is_plaintext(field, &e.key, &e.value, argo))
            .map(|(i, e)| (i, &*e.key))
            .collect();
        if plain.is_empty() {
            continue;
        }
        if sops {
            for (_, key) in &plain {
                sink.report(
                    object,
                    format!("/{field}/{}", key.replace('~', "~0").replace('/', "~1")),
                    format!(
                        "Secret `{}` is SOPS-encrypted but `{key}` was left in plain text (the \
                         file's encrypted_regex, unencrypted_suffix or similar setting excludes \
                         it): anyone who can read the repository can read it",
                        object.name
                    ),
                );
            }
            continue;
        }
        sink.report(
            object,
            format!("/{field}"),
            format!(
                "Secret `{}` holds {} in plain text ({}): anyone who can read the repository can read it",
                object.name,
                if plain.len() == 1 { "a value" } else { "values" },
                plain.iter().map(|(_, k)| *k).collect::<Vec<_>>().join(", ")
            ),
        );
        return;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_placeholders_are_not_secrets() {
        for reference in [
            "op://platform/db/password",
            "vault:secret/data/db#password",
            "ref+vault://secret/db#/password",
            "${DB_PASSWORD}",
            "${DB_PASSWORD:=changeme}",
            "postgres://app:${DB_PASSWORD}@db:5432/app",
            "<path:kv/data/app#token>",
            "Bearer <path:secret/data/api#token>",
        ] {
            assert!(is_reference(reference), "{reference}");
        }
        for secret in [
            "hunter2",
            "$DB_PASSWORD",
            "${}",
            "${1X}",
            "${ X }",
            "a${b",
            "op:/x",
            "<path:x",
            "url: jdbc:postgresql://${DB_HOST}/app\npassword: SuperSecret123",
        ] {
            assert!(!is_reference(secret), "{secret}");
        }
    }
}
