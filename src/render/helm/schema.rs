//! `values.schema.json`: before rendering, Helm checks a chart's coalesced values against the
//! chart's JSON Schema, and each enabled subchart's part of them against its own
//! (`chartutil.ValidateAgainstSchema`); a failure stops the release with every value that does
//! not meet a schema, by chart.
//!
//! Schemas are compiled with `boon` (ARCHITECTURE.md), JSON Schema draft 7 unless the schema's
//! `$schema` says another draft, as Helm's validator reads them. A `$ref` to another document
//! (a URL, a file) is an error: nothing is fetched or read beyond the chart.

use std::fmt::Write as _;

use super::engine::Chart;
use crate::render::gotemplate::Value;

/// The most a schema may nest values errors before the rest are left out of the message.
const MAX_ERRORS: usize = 50;

/// Refuses every document a schema refers to: schemas are checked offline, from the chart.
struct Offline;

impl boon::UrlLoader for Offline {
    fn load(&self, url: &str) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
        Err(format!("`{url}` is not read: a schema may refer only to itself (offline)").into())
    }
}

/// Checks `values` (the coalesced values of `chart`) against the chart's schema and its
/// subcharts': an error as Helm words it, each value that fails under its chart.
pub fn validate(chart: &Chart, values: &Value) -> Result<(), String> {
    let mut out = String::new();
    check(chart, values, &mut out, 0)?;
    if out.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "values don't meet the specifications of the schema(s) in the following chart(s):\n{out}"
        ))
    }
}

fn check(chart: &Chart, values: &Value, out: &mut String, depth: usize) -> Result<(), String> {
    if depth > 20 {
        return Ok(());
    }
    if let Some(schema) = &chart.schema {
        let failures = failures(schema, &to_json(values, 0))
            .map_err(|e| format!("{}: values.schema.json: {e}", chart.name()))?;
        if !failures.is_empty() {
            let _ = writeln!(out, "{}:", chart.name());
            for f in failures {
                let _ = writeln!(out, "- {f}");
            }
        }
    }
    for sub in &chart.dependencies {
        let part = match values {
            Value::Map(m) => m.borrow().get(sub.name()).cloned().unwrap_or(Value::Nil),
            _ => Value::Nil,
        };
        let part = if matches!(part, Value::Map(_)) {
            part
        } else {
            Value::map(std::collections::BTreeMap::new())
        };
        check(sub, &part, out, depth + 1)?;
    }
    Ok(())
}

/// Each failure of `instance` against `schema`: `path: message` (the path dotted, `(root)` for
/// the whole), the innermost reasons.
fn failures(schema: &str, instance: &serde_json::Value) -> Result<Vec<String>, String> {
    let schema: serde_json::Value =
        serde_json::from_str(schema).map_err(|e| format!("not JSON: {e}"))?;
    let mut compiler = boon::Compiler::new();
    compiler.use_loader(Box::new(Offline));
    compiler.set_default_draft(boon::Draft::V7);
    let url = "file:///chart/values.schema.json";
    compiler.add_resource(url, schema).map_err(|e| e.to_string())?;
    let mut schemas = boon::Schemas::new();
    let index = compiler.compile(url, &mut schemas).map_err(|e| format!("{e:#}"))?;
    let Err(error) = schemas.validate(instance, index) else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    leaves(&error, &mut out);
    out.sort();
    out.dedup();
    out.truncate(MAX_ERRORS);
    Ok(out)
}

fn leaves(error: &boon::ValidationError<'_, '_>, out: &mut Vec<String>) {
    if error.causes.is_empty() {
        let pointer = error.instance_location.to_string();
        let path = if pointer.is_empty() {
            "(root)".to_string()
        } else {
            pointer.trim_start_matches('/').split('/').collect::<Vec<_>>().join(".")
        };
        out.push(format!("{path}: {}", error.kind));
        return;
    }
    for cause in &error.causes {
        leaves(cause, out);
    }
}

/// Values as the JSON Helm validates (numbers as Go's JSON encodes them).
fn to_json(v: &Value, depth: usize) -> serde_json::Value {
    if depth > 200 {
        return serde_json::Value::Null;
    }
    match v {
        Value::Nil | Value::Object(_) => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(i) => serde_json::Value::from(*i),
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 9e15 =>
        {
            #[allow(clippy::cast_possible_truncation, reason = "whole and within i64")]
            serde_json::Value::from(*f as i64)
        }
        Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, Into::into)
        }
        Value::Str(s) => serde_json::Value::String(s.to_string()),
        Value::List(items) => items.iter().map(|i| to_json(i, depth + 1)).collect(),
        Value::Map(m) => serde_json::Value::Object(
            m.borrow().iter().map(|(k, v)| (k.clone(), to_json(v, depth + 1))).collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(schema: &str) -> Chart {
        let mut metadata = std::collections::BTreeMap::new();
        metadata.insert("name".to_string(), serde_json::json!("web"));
        Chart { metadata, schema: Some(schema.into()), ..Chart::default() }
    }

    fn values(json: &str) -> Value {
        Value::from_json_floats(&serde_json::from_str(json).unwrap())
    }

    const SCHEMA: &str = r#"{"type": "object", "required": ["image"], "properties": {
        "replicas": {"type": "integer", "minimum": 1},
        "image": {"type": "object", "properties": {"tag": {"type": "string"}}}}}"#;

    #[test]
    fn values_that_meet_the_schema_pass_and_others_are_named() {
        assert_eq!(
            validate(&chart(SCHEMA), &values(r#"{"replicas": 2, "image": {"tag": "1"}}"#)),
            Ok(())
        );
        let e = validate(&chart(SCHEMA), &values(r#"{"replicas": 0, "image": {"tag": 7}}"#))
            .unwrap_err();
        assert!(e.starts_with("values don't meet the specifications of the schema(s) in the following chart(s):\nweb:\n"), "{e}");
        assert!(e.contains("- image.tag: "), "{e}");
        assert!(e.contains("- replicas: "), "{e}");
        let e = validate(&chart(SCHEMA), &values("{}")).unwrap_err();
        assert!(e.contains("- (root): ") && e.contains("image"), "{e}");
    }

    #[test]
    fn a_subchart_is_checked_against_its_own_schema_with_its_part() {
        let mut parent = chart(r#"{"type": "object"}"#);
        let mut sub = chart(r#"{"properties": {"port": {"type": "integer"}}}"#);
        sub.metadata.insert("name".into(), serde_json::json!("db"));
        parent.dependencies.push(sub);
        let e = validate(&parent, &values(r#"{"db": {"port": "x"}}"#)).unwrap_err();
        assert!(e.contains("db:\n- port: "), "{e}");
        assert_eq!(validate(&parent, &values(r#"{"db": {"port": 5432}}"#)), Ok(()));
    }

    #[test]
    fn schemas_refer_to_nothing_outside_and_bad_schemas_are_errors() {
        let remote = chart(r#"{"$ref": "https://example.com/schema.json"}"#);
        let e = validate(&remote, &values("{}")).unwrap_err();
        assert!(e.contains("web: values.schema.json:"), "{e}");
        let broken = chart("{not json");
        assert!(validate(&broken, &values("{}")).unwrap_err().contains("not JSON"));
    }
}
