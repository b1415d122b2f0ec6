//! Charts from disk, as Helm's loader reads them: `Chart.yaml` (v2, and v1 with
//! `requirements.yaml`), `values.yaml`, `templates/`, other files (`.Files`, `crds/` among
//! them), and subcharts in `charts/`; then Helm's dependency processing — aliases,
//! `condition` and `tags` (on the coalesced values), `import-values`.

use std::collections::BTreeMap;
use std::path::Path;

use super::engine::{coalesce, Chart};
use crate::render::gotemplate::Value;

/// How many files a chart (with its subcharts) may hold, and how deep subcharts nest.
const MAX_FILES: usize = 10_000;
const MAX_NESTING: usize = 20;

/// YAML values as Helm reads them (through JSON: every number a float64).
pub fn values_from_yaml(text: &str, shown: &str) -> Result<Value, String> {
    let parsed = crate::load::yaml::parse_stream(text, &crate::load::Limits::default());
    if let Some(p) = parsed.problems.first() {
        return Err(format!("{shown}:{}: {}", p.pos.line, p.message));
    }
    Ok(parsed
        .documents
        .first()
        .map_or_else(|| Value::map(BTreeMap::new()), |d| floats(&d.root.to_json())))
}

pub(crate) fn floats(v: &serde_json::Value) -> Value {
    Value::from_json_floats(v)
}

/// Loads the chart in `dir` (and its subcharts).
pub fn load(dir: &Path) -> Result<Chart, String> {
    let mut count = 0;
    load_at(dir, 0, &mut count)
}

fn load_at(dir: &Path, depth: usize, count: &mut usize) -> Result<Chart, String> {
    if depth > MAX_NESTING {
        return Err(format!("{}: subcharts nest more than {MAX_NESTING} deep", dir.display()));
    }
    let shown = |p: &Path| p.display().to_string();
    let chart_file = dir.join("Chart.yaml");
    let text = std::fs::read_to_string(&chart_file)
        .map_err(|e| format!("{}: cannot read Chart.yaml: {e}", shown(dir)))?;
    let parsed = crate::load::yaml::parse_stream(&text, &crate::load::Limits::default());
    if let Some(p) = parsed.problems.first() {
        return Err(format!("{}:{}: {}", shown(&chart_file), p.pos.line, p.message));
    }
    let metadata: BTreeMap<String, serde_json::Value> =
        match parsed.documents.first().map(|d| d.root.to_json()) {
            Some(serde_json::Value::Object(m)) => m.into_iter().collect(),
            _ => return Err(format!("{}: Chart.yaml is not a mapping", shown(&chart_file))),
        };
    validate(&metadata, &shown(&chart_file))?;
    let mut chart = Chart { metadata, values: Value::map(BTreeMap::new()), ..Chart::default() };
    let mut files = Vec::new();
    walk(dir, dir, &mut files, count)?;
    let mut requirements = None;
    for (rel, path) in files {
        match rel.as_str() {
            "Chart.yaml" | "Chart.lock" | "requirements.lock" | "values.schema.json" => {}
            "values.yaml" => {
                let text = read(&path)?;
                chart.values = values_from_yaml(&text, &shown(&path))?;
            }
            "requirements.yaml" => {
                requirements = Some(values_from_yaml(&read(&path)?, &shown(&path))?);
            }
            r if r.starts_with("templates/") => chart.templates.push((rel.clone(), read(&path)?)),
            r if r.starts_with("charts/") => {}
            _ => chart.files.push((rel.clone(), read(&path).unwrap_or_default())),
        }
    }
    // v1 charts list dependencies in requirements.yaml.
    if let (Some(Value::Map(req)), false) =
        (&requirements, chart.metadata.contains_key("dependencies"))
    {
        if let Some(deps) = req.borrow().get("dependencies") {
            chart.metadata.insert("dependencies".into(), to_json(deps));
        }
    }
    let charts_dir = dir.join("charts");
    if let Ok(entries) = std::fs::read_dir(&charts_dir) {
        let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        entries.sort();
        for sub in entries {
            let name =
                sub.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if name.starts_with('.') {
                continue;
            }
            if sub.is_dir() {
                chart.dependencies.push(load_at(&sub, depth + 1, count)?);
            } else if has_extension(&name, &["tgz", "gz"]) {
                return Err(format!(
                    "{}: charts packed as .tgz are not read yet; unpack it into charts/",
                    shown(&sub)
                ));
            }
        }
    }
    Ok(chart)
}

/// Whether a file name ends with one of `extensions` (any case).
pub(crate) fn has_extension(name: &str, extensions: &[&str]) -> bool {
    Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| extensions.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))
}

/// The files below `dir` (but `charts/` subdirectories, loaded as charts), by path from
/// `root`, in order.
fn walk(
    root: &Path,
    dir: &Path,
    out: &mut Vec<(String, std::path::PathBuf)>,
    count: &mut usize,
) -> Result<(), String> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: cannot read: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        let rel = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().replace('\\', "/");
        if rel == "charts" || rel.starts_with('.') || rel.contains("/.") {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, out, count)?;
        } else {
            *count += 1;
            if *count > MAX_FILES {
                return Err(format!(
                    "{}: the chart has more than {MAX_FILES} files",
                    root.display()
                ));
            }
            out.push((rel, path));
        }
    }
    Ok(())
}

fn validate(m: &BTreeMap<String, serde_json::Value>, shown: &str) -> Result<(), String> {
    let text = |k: &str| m.get(k).and_then(serde_json::Value::as_str).unwrap_or("");
    if text("apiVersion").is_empty() {
        return Err(format!("{shown}: validation: chart.metadata.apiVersion is required"));
    }
    if text("name").is_empty() {
        return Err(format!("{shown}: validation: chart.metadata.name is required"));
    }
    if text("version").is_empty() {
        return Err(format!("{shown}: validation: chart.metadata.version is required"));
    }
    if !matches!(text("type"), "" | "application" | "library") {
        return Err(format!(
            "{shown}: validation: chart.metadata.type must be application or library"
        ));
    }
    Ok(())
}

fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Nil | Value::Object(_) => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(i) => serde_json::json!(i),
        Value::Float(f) => serde_json::json!(f),
        Value::Str(s) => serde_json::Value::String(s.to_string()),
        Value::List(l) => serde_json::Value::Array(l.iter().map(to_json).collect()),
        Value::Map(m) => serde_json::Value::Object(
            m.borrow().iter().map(|(k, x)| (k.clone(), to_json(x))).collect(),
        ),
    }
}

/// A dependency entry of `Chart.yaml`.
struct Dependency {
    name: String,
    alias: Option<String>,
    conditions: Vec<String>,
    tags: Vec<String>,
    imports: Vec<(String, String)>,
}

fn dependencies(chart: &Chart) -> Vec<Dependency> {
    let list = chart
        .metadata
        .get("dependencies")
        .and_then(serde_json::Value::as_array)
        .cloned()
        .unwrap_or_default();
    list.iter()
        .map(|d| {
            let s = |k: &str| d.get(k).and_then(serde_json::Value::as_str).map(str::to_string);
            let imports = d
                .get("import-values")
                .and_then(serde_json::Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .filter_map(|i| match i {
                    serde_json::Value::String(s) => Some((format!("exports.{s}"), String::new())),
                    serde_json::Value::Object(o) => Some((
                        o.get("child")?.as_str()?.to_string(),
                        o.get("parent")?.as_str()?.to_string(),
                    )),
                    _ => None,
                })
                .collect();
            Dependency {
                name: s("name").unwrap_or_default(),
                alias: s("alias"),
                conditions: s("condition")
                    .map(|c| c.split(',').map(|p| p.trim().to_string()).collect())
                    .unwrap_or_default(),
                tags: d
                    .get("tags")
                    .and_then(serde_json::Value::as_array)
                    .map(|t| t.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                    .unwrap_or_default(),
                imports,
            }
        })
        .collect()
}

/// The value at a dotted path of a values map.
fn at_path(values: &Value, path: &str) -> Option<Value> {
    let mut current = values.clone();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let next = match &current {
            Value::Map(m) => m.borrow().get(part).cloned(),
            _ => None,
        };
        current = next?;
    }
    Some(current)
}

/// Helm's dependency processing: aliases renamed, subcharts disabled by `condition`/`tags`
/// (read from `user` coalesced over the chart's defaults) removed, recursively. Returns the
/// chart to render and the values to render it with (imports applied).
#[must_use]
pub fn process(mut chart: Chart, user: &Value) -> (Chart, Value) {
    resolve(&mut chart, 0);
    let values = coalesce(&chart, user);
    prune(&mut chart, &values, &values, 0);
    let values = coalesce(&chart, user);
    import_values(&chart, &values, 0);
    (chart, values)
}

/// Applies aliases (a listed dependency with an alias is a copy under that name).
fn resolve(chart: &mut Chart, depth: usize) {
    if depth > MAX_NESTING {
        return;
    }
    let deps = dependencies(chart);
    let mut out = Vec::new();
    let mut used = vec![false; chart.dependencies.len()];
    for d in &deps {
        if let Some(i) = chart.dependencies.iter().position(|c| c.name() == d.name) {
            used[i] = true;
            let mut sub = chart.dependencies[i].clone();
            if let Some(alias) = &d.alias {
                sub.metadata.insert("name".into(), serde_json::Value::String(alias.clone()));
            }
            out.push(sub);
        }
    }
    // Charts in charts/ that no dependency names are rendered too.
    for (i, c) in chart.dependencies.iter().enumerate() {
        if !used[i] {
            out.push(c.clone());
        }
    }
    for sub in &mut out {
        resolve(sub, depth + 1);
    }
    chart.dependencies = out;
}

fn prune(chart: &mut Chart, values: &Value, top: &Value, depth: usize) {
    if depth > MAX_NESTING {
        return;
    }
    let deps = dependencies(chart);
    let tags = at_path(top, "tags");
    chart.dependencies.retain(|sub| {
        let Some(d) = deps.iter().find(|d| d.alias.as_deref().unwrap_or(&d.name) == sub.name())
        else {
            return true;
        };
        let mut enabled = true;
        let tag_values: Vec<bool> = d
            .tags
            .iter()
            .filter_map(|t| tags.as_ref().and_then(|m| at_path(m, t)))
            .filter_map(|v| if let Value::Bool(b) = v { Some(b) } else { None })
            .collect();
        if tag_values.iter().any(|b| *b) {
            enabled = true;
        } else if !tag_values.is_empty() {
            enabled = false;
        }
        for c in &d.conditions {
            if let Some(Value::Bool(b)) = at_path(values, c) {
                enabled = b;
                break;
            }
        }
        enabled
    });
    for sub in &mut chart.dependencies {
        let sub_values = at_path(values, sub.name()).unwrap_or_default();
        prune(sub, &sub_values, top, depth + 1);
    }
}

/// `import-values`: a child's values copied into the parent's (the parent's own win).
fn import_values(chart: &Chart, values: &Value, depth: usize) {
    if depth > MAX_NESTING {
        return;
    }
    for sub in &chart.dependencies {
        let sub_values = at_path(values, sub.name()).unwrap_or_default();
        import_values(sub, &sub_values, depth + 1);
    }
    for d in dependencies(chart) {
        let name = d.alias.clone().unwrap_or(d.name.clone());
        for (child, parent) in &d.imports {
            let Some(imported) = at_path(values, &format!("{name}.{child}")) else { continue };
            let Value::Map(root) = values else { continue };
            let mut target = std::rc::Rc::clone(root);
            for part in parent.split('.').filter(|p| !p.is_empty()) {
                let next = target.borrow().get(part).cloned();
                let table = if let Some(Value::Map(t)) = next {
                    t
                } else {
                    let t = std::rc::Rc::new(std::cell::RefCell::new(BTreeMap::new()));
                    target
                        .borrow_mut()
                        .insert(part.to_string(), Value::Map(std::rc::Rc::clone(&t)));
                    t
                };
                target = table;
            }
            if let Value::Map(src) = imported {
                // The parent's values win over what is imported.
                let existing = target.borrow().clone();
                let mut merged = src.borrow().clone();
                overlay(&mut merged, &existing);
                *target.borrow_mut() = merged;
            }
        }
    }
}

fn overlay(base: &mut BTreeMap<String, Value>, over: &BTreeMap<String, Value>) {
    for (k, v) in over {
        match (base.get(k).cloned(), v) {
            (Some(Value::Map(b)), Value::Map(o)) => {
                let mut inner = b.borrow().clone();
                overlay(&mut inner, &o.borrow());
                base.insert(k.clone(), Value::map(inner));
            }
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Helm's `mergeMaps` for user values: `over` wins, maps merged recursively.
#[must_use]
pub fn merge_values(base: &Value, over: &Value) -> Value {
    match (base, over) {
        (Value::Map(b), Value::Map(o)) => {
            let mut out = b.borrow().clone();
            for (k, v) in o.borrow().iter() {
                let merged = match out.get(k) {
                    Some(existing) => merge_values(existing, v),
                    None => v.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::map(out)
        }
        _ => over.clone(),
    }
}

/// `--set path=value` (`--set-string` when `string`): `a.b.c`, `list[0]`; the value an
/// integer, `true`/`false`, `null`, else text, as Helm's `strvals` types it.
pub fn set_value(values: &Value, path: &str, raw: &str, string: bool) -> Result<Value, String> {
    let typed = if string {
        Value::string(raw)
    } else if let Ok(i) = raw.parse::<i64>() {
        Value::Int(i)
    } else {
        match raw {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "null" => Value::Nil,
            other => Value::string(other),
        }
    };
    let mut nested = typed;
    for part in path.rsplit('.') {
        if part.is_empty() {
            return Err(format!("key {path:?} has no name"));
        }
        if let Some((name, index)) = part.strip_suffix(']').and_then(|p| p.split_once('[')) {
            let i: usize =
                index.parse().map_err(|_| format!("{path}: bad list index {index:?}"))?;
            if i > 10_000 {
                return Err(format!("{path}: list index {i} is too large"));
            }
            let mut list = vec![Value::Nil; i + 1];
            list[i] = nested;
            nested = Value::map(std::iter::once((name.to_string(), Value::list(list))).collect());
        } else {
            nested = Value::map(std::iter::once((part.to_string(), nested)).collect());
        }
    }
    Ok(merge_values(values, &nested))
}
