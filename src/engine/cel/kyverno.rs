//! Kyverno's CEL libraries, served offline: `resource.Get`/`resource.List` from the linted
//! tree (or a test's context file) through the [`Host`](super::eval::Host),
//! `image.GetMetadata` likewise, `generator.Apply` (recorded by the host of a
//! GeneratingPolicy), `parseServiceAccount`, and `jsonpatch.escapeKey`. An
//! ImageValidatingPolicy's `getImageData` reads the same image metadata; its signature and
//! attestation checks (`verifyImageSignatures`, `verifyAttestationSignatures`,
//! `extractPayload`) read the image's registry, so they are errors, never a result.

use crate::pointer::Pointer as _;
use std::rc::Rc;

use super::eval::{Env, EvalError, Val};

type Result<T> = std::result::Result<T, EvalError>;

/// Calls a Kyverno function; `None` when none matches.
pub(super) fn call(
    r: Option<&Val>,
    name: &str,
    args: &[Val],
    env: &Env<'_>,
) -> Option<Result<Val>> {
    if r.is_some() {
        return None;
    }
    if let "verifyImageSignatures" | "verifyAttestationSignatures" | "extractPayload" = name {
        return Some(Err(EvalError::Failed(format!(
            "{name}() reads signatures and attestations from the image's registry, which an \
             offline linter does not reach: the check cannot be made here"
        ))));
    }
    if let ("generator.Apply", [Val::String(namespace), objects]) = (name, args) {
        return Some(generate(namespace, objects, env));
    }
    // `resource.List(apiVersion, resource, namespace, {label: value})`: the items whose labels
    // hold every pair.
    if let ("resource.List", [Val::String(a), Val::String(r), Val::String(ns), Val::Map(sel)]) =
        (name, args)
    {
        let host = env.host.ok_or_else(|| {
            EvalError::Failed(format!("{name}() needs cluster data, and none is available here"))
        });
        return Some(host.and_then(|h| {
            let mut list = h
                .resource_list(a, r, ns)
                .map_err(|e| EvalError::Failed(format!("{name}(): {e}")))?;
            let wanted: Vec<(String, String)> = sel
                .iter()
                .map(|(k, v)| {
                    (k.as_str().unwrap_or("").to_string(), v.as_str().unwrap_or("").to_string())
                })
                .collect();
            if let Some(items) = list.get_mut("items").and_then(serde_json::Value::as_array_mut) {
                items.retain(|item| {
                    wanted.iter().all(|(k, v)| {
                        item.at("/metadata/labels")
                            .and_then(|l| l.get(k))
                            .and_then(serde_json::Value::as_str)
                            == Some(v.as_str())
                    })
                });
            }
            Ok(Val::from_json(&list))
        }));
    }
    let strings: Option<Vec<&str>> = args.iter().map(Val::as_str).collect();
    let strings = strings?;
    let host = || {
        env.host.ok_or_else(|| {
            EvalError::Failed(format!("{name}() needs cluster data, and none is available here"))
        })
    };
    let from_host = |r: std::result::Result<serde_json::Value, String>| {
        r.map(|v| Val::from_json(&v)).map_err(|e| EvalError::Failed(format!("{name}(): {e}")))
    };
    Some(match (name, strings.as_slice()) {
        ("resource.Get", [api_version, resource, namespace, object]) => {
            host().and_then(|h| from_host(h.resource_get(api_version, resource, namespace, object)))
        }
        ("resource.List", [api_version, resource, namespace]) => {
            host().and_then(|h| from_host(h.resource_list(api_version, resource, namespace)))
        }
        ("image.GetMetadata" | "getImageData", [image]) => {
            host().and_then(|h| from_host(h.image_metadata(image)))
        }
        ("parseServiceAccount", [username]) => {
            let (namespace, sa) = username
                .strip_prefix("system:serviceaccount:")
                .and_then(|rest| rest.split_once(':'))
                .unwrap_or(("", ""));
            Ok(Val::Map(Rc::new(vec![
                (Val::string("Namespace"), Val::string(namespace)),
                (Val::string("Name"), Val::string(sa)),
            ])))
        }
        ("jsonpatch.escapeKey", [key]) => {
            Ok(Val::string(&key.replace('~', "~0").replace('/', "~1")))
        }
        _ => return None,
    })
}

/// `generator.Apply(namespace, objects)`: the objects (a list of maps) go to the host, which
/// records them in `namespace`; the call gives `true`.
fn generate(namespace: &str, objects: &Val, env: &Env<'_>) -> Result<Val> {
    let failed = |e: String| EvalError::Failed(format!("generator.Apply(): {e}"));
    let Val::List(items) = objects else {
        return Err(failed(format!(
            "a list of objects is needed, not a `{}`",
            objects.type_name()
        )));
    };
    let objects: Vec<serde_json::Value> =
        items.iter().map(Val::to_json).collect::<std::result::Result<_, _>>().map_err(failed)?;
    let host = env.host.ok_or_else(|| failed("there is nothing to generate into here".into()))?;
    host.generate(namespace, objects).map_err(failed)?;
    Ok(Val::Bool(true))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::eval::{eval, Env, Host, Val};
    use super::super::parse;

    struct Pods;

    impl Host for Pods {
        fn resource_get(
            &self,
            _: &str,
            _: &str,
            _: &str,
            _: &str,
        ) -> Result<serde_json::Value, String> {
            Err("none".into())
        }

        fn resource_list(&self, _: &str, _: &str, _: &str) -> Result<serde_json::Value, String> {
            Ok(serde_json::json!({"items": [
                {"metadata": {"name": "a", "labels": {"env": "prod", "team": "x"}}},
                {"metadata": {"name": "b", "labels": {"env": "dev"}}},
                {"metadata": {"name": "c"}},
            ]}))
        }
    }

    #[test]
    fn resource_list_takes_a_label_selector() {
        let vars = BTreeMap::new();
        let host = Pods;
        let mut env = Env::new(&vars, 100_000).with_host(&host);
        let expr = parse(
            "resource.List('v1', 'pods', 'ns', {'env': 'prod'}).items.map(p, p.metadata.name)",
        )
        .unwrap();
        assert_eq!(eval(&expr, &mut env).unwrap(), Val::list(vec![Val::string("a")]));
        let all = parse("resource.List('v1', 'pods', 'ns').items.size()").unwrap();
        assert_eq!(eval(&all, &mut env).unwrap(), Val::Int(3));
        // generator.Apply is only a GeneratingPolicy's.
        let apply = parse("generator.Apply('ns', [{'kind': 'ConfigMap'}])").unwrap();
        assert!(eval(&apply, &mut env).is_err());
    }

    /// Kyverno 1.18's camelCase spellings call the same functions, and pass the check made
    /// when a policy is compiled.
    #[test]
    fn camel_case_aliases_are_the_same_functions() {
        let vars = BTreeMap::new();
        let host = Pods;
        let mut env = Env::new(&vars, 100_000).with_host(&host);
        let text =
            "resource.list('v1', 'pods', 'ns', {'env': 'prod'}).items.map(p, p.metadata.name)";
        assert_eq!(
            eval(&parse(text).unwrap(), &mut env).unwrap(),
            Val::list(vec![Val::string("a")])
        );
        let get = parse("resource.get('v1', 'pods', 'ns', 'a')").unwrap();
        assert!(eval(&get, &mut env).unwrap_err().to_string().contains("resource.Get(): none"));
        for known in [
            "resource.get('v1', 'pods', 'ns', 'a')",
            "image.getMetadata('x')",
            "generator.apply('ns', [])",
            "http.get('https://x')",
            "resource.list('v1', 'pods', 'ns')",
        ] {
            let node = crate::load::parse_text(
                "p.yaml",
                &format!("e: \"{known}\"\n"),
                &crate::load::Limits::default(),
            )
            .0
            .unwrap()
            .documents
            .remove(0)
            .root;
            let compiled = super::super::admission::compile(node.get("e").unwrap(), "e");
            assert!(compiled.is_ok(), "{known}: {:?}", compiled.err().map(|e| e.message));
        }
        let typo = parse("resource.gett('v1', 'pods', 'ns', 'a')").unwrap();
        assert!(eval(&typo, &mut env).is_err());
    }
}
