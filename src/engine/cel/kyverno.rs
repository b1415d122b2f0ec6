//! Kyverno's CEL libraries, served offline: `resource.Get`/`resource.List` from the linted
//! tree (or a test's context file) through the [`Host`](super::eval::Host),
//! `image.GetMetadata` likewise, `generator.Apply` (recorded by the host of a
//! GeneratingPolicy), `parseServiceAccount`, and `jsonpatch.escapeKey`.

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
    if let ("generator.Apply", [Val::String(namespace), objects]) = (name, args) {
        return Some(generate(namespace, objects, env));
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
        ("image.GetMetadata", [image]) => host().and_then(|h| from_host(h.image_metadata(image))),
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
