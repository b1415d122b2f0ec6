//! Helm's template functions (Helm's `pkg/engine/funcs.go`): `include`, `tpl`, `required`,
//! `toYaml`/`mustToYaml`/`toYamlPretty`, `fromYaml`/`fromYamlArray`, `toJson`/`fromJson`/
//! `fromJsonArray` (Helm's versions: errors become values), and `lookup`, which finds nothing
//! (as `helm template` does without a cluster). Sprig's `env` and `expandenv` are not there, as
//! in Helm.

use super::chart::floats;
use crate::render::gotemplate::exec::Funcs;
use crate::render::gotemplate::{sprig, Value};

/// Go's builtins, sprig and Helm's functions: what a chart's templates may call.
#[must_use]
pub fn funcs() -> Funcs {
    let mut f = Funcs::builtins();
    sprig::register(&mut f);
    register(&mut f);
    super::durations::register(&mut f);
    f
}

fn arity(args: &[Value], want: usize, name: &str) -> Result<(), String> {
    if args.len() == want {
        Ok(())
    } else {
        Err(format!("wrong number of args for {name}: want {want} got {}", args.len()))
    }
}

fn text<'a>(v: &'a Value, name: &str) -> Result<&'a str, String> {
    v.as_str().ok_or_else(|| {
        let _ = name;
        format!("wrong type for value; expected string; got {}", v.type_name())
    })
}

fn yaml_of(v: &Value, pretty: bool) -> Result<String, String> {
    super::toyaml::to_yaml(v, pretty).map(|y| y.strip_suffix('\n').unwrap_or(&y).to_string())
}

/// YAML data as Helm reads it (through JSON: every number a float64), or why not.
fn from_yaml(text: &str) -> Result<Value, String> {
    let parsed = crate::load::yaml::parse_stream(text, &crate::load::Limits::default());
    if let Some(p) = parsed.problems.first() {
        return Err(format!(
            "error converting YAML to JSON: yaml: line {}: {}",
            p.pos.line, p.message
        ));
    }
    Ok(parsed.documents.first().map_or(Value::Nil, |d| floats(&d.root.to_json())))
}

/// Go's error for JSON data of the wrong shape.
fn cannot_unmarshal(v: &Value, into: &str) -> String {
    let what = match v {
        Value::List(_) => "array",
        Value::Map(_) => "object",
        Value::Str(_) => "string",
        Value::Bool(_) => "bool",
        _ => "number",
    };
    format!("json: cannot unmarshal {what} into Go value of type {into}")
}

const MAP: &str = "map[string]interface {}";
const LIST: &str = "[]interface {}";

fn error_map(message: &str) -> Value {
    Value::map(std::iter::once(("Error".to_string(), Value::string(message))).collect())
}

/// Sprig's random functions give a fixed value of the right shape: what a chart does with a
/// generated password or UUID cannot be checked anyway, and a chart that defines a helper
/// with one must still render.
fn register_random(f: &mut Funcs) {
    fn sized(a: &[Value], c: char) -> Result<Value, String> {
        let n = match a.first() {
            Some(Value::Int(n)) => usize::try_from(*n).unwrap_or(0).min(1 << 16),
            Some(other) => {
                return Err(format!(
                    "wrong type for value; expected int; got {}",
                    other.type_name()
                ))
            }
            None => return Err("wrong number of args: want 1 got 0".into()),
        };
        Ok(Value::string(&c.to_string().repeat(n)))
    }
    f.insert("randAlphaNum", |_, a| sized(a, 'x'));
    f.insert("randAlpha", |_, a| sized(a, 'x'));
    f.insert("randAscii", |_, a| sized(a, 'x'));
    f.insert("randNumeric", |_, a| sized(a, '0'));
    f.insert("uuidv4", |_, _| Ok(Value::string("00000000-0000-4000-8000-000000000000")));
    f.insert("shuffle", |_, a| Ok(a.first().cloned().unwrap_or(Value::Nil)));
}

fn register(f: &mut Funcs) {
    register_random(f);
    f.insert("include", |exec, a| {
        arity(a, 2, "include")?;
        let name = text(&a[0], "include")?.to_string();
        exec.include(&name, &a[1]).map(|s| Value::string(&s))
    });
    f.insert("tpl", |exec, a| {
        arity(a, 2, "tpl")?;
        let template = text(&a[0], "tpl")?.to_string();
        exec.tpl(&template, &a[1]).map(|s| Value::string(&s))
    });
    f.insert("required", |_, a| {
        arity(a, 2, "required")?;
        match &a[1] {
            Value::Nil => Err(text(&a[0], "required")?.to_string()),
            Value::Str(s) if s.is_empty() => Err(text(&a[0], "required")?.to_string()),
            other => Ok(other.clone()),
        }
    });
    f.insert("lookup", |_, a| {
        arity(a, 4, "lookup")?;
        Ok(Value::map(std::collections::BTreeMap::new()))
    });
    f.insert("toYaml", |_, a| {
        arity(a, 1, "toYaml")?;
        Ok(Value::string(&yaml_of(&a[0], false).unwrap_or_default()))
    });
    f.insert("mustToYaml", |_, a| {
        arity(a, 1, "mustToYaml")?;
        yaml_of(&a[0], false).map(|y| Value::string(&y))
    });
    f.insert("toYamlPretty", |_, a| {
        arity(a, 1, "toYamlPretty")?;
        Ok(Value::string(&yaml_of(&a[0], true).unwrap_or_default()))
    });
    f.insert("fromYaml", |_, a| {
        arity(a, 1, "fromYaml")?;
        Ok(match from_yaml(text(&a[0], "fromYaml")?) {
            Ok(Value::Nil) => Value::map(std::collections::BTreeMap::new()),
            Ok(m @ Value::Map(_)) => m,
            Ok(other) => error_map(&format!(
                "error unmarshaling JSON: while decoding JSON: {}",
                cannot_unmarshal(&other, MAP)
            )),
            Err(e) => error_map(&e),
        })
    });
    f.insert("fromYamlArray", |_, a| {
        arity(a, 1, "fromYamlArray")?;
        Ok(match from_yaml(text(&a[0], "fromYamlArray")?) {
            Ok(Value::Nil) => Value::list(Vec::new()),
            Ok(l @ Value::List(_)) => l,
            Ok(other) => Value::list(vec![Value::string(&format!(
                "error unmarshaling JSON: while decoding JSON: {}",
                cannot_unmarshal(&other, LIST)
            ))]),
            Err(e) => Value::list(vec![Value::string(&e)]),
        })
    });
    f.insert("toJson", |_, a| {
        arity(a, 1, "toJson")?;
        let mut out = String::new();
        Ok(Value::string(
            &sprig::write_json(&mut out, &a[0], true, (false, 0)).map(|()| out).unwrap_or_default(),
        ))
    });
    f.insert("fromJson", |_, a| {
        arity(a, 1, "fromJson")?;
        Ok(match serde_json::from_str::<serde_json::Value>(text(&a[0], "fromJson")?) {
            Ok(v @ serde_json::Value::Object(_)) => floats(&v),
            Ok(other) => error_map(&cannot_unmarshal(&floats(&other), MAP)),
            Err(e) => error_map(&e.to_string()),
        })
    });
    f.insert("fromJsonArray", |_, a| {
        arity(a, 1, "fromJsonArray")?;
        Ok(match serde_json::from_str::<serde_json::Value>(text(&a[0], "fromJsonArray")?) {
            Ok(v @ serde_json::Value::Array(_)) => floats(&v),
            Ok(other) => Value::list(vec![Value::string(&cannot_unmarshal(&floats(&other), LIST))]),
            Err(e) => Value::list(vec![Value::string(&e.to_string())]),
        })
    });
}
