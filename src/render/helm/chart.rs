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

/// How Helm's error for dependencies missing from `charts/` starts.
pub const MISSING_DEPENDENCIES: &str = "An error occurred while checking for chart dependencies.";

/// The largest file of a chart read.
const MAX_FILE: u64 = 16 << 20;

/// The most bytes a chart archive (`.tgz`) may unpack to.
const MAX_UNPACKED: u64 = 256 << 20;

/// Loads the chart in `dir` (a directory, or a `.tgz` archive) and its subcharts.
pub fn load(dir: &Path) -> Result<Chart, String> {
    let shown = dir.display().to_string();
    let files = if dir.is_file() {
        let bytes = std::fs::read(dir).map_err(|e| format!("{shown}: cannot read: {e}"))?;
        unpack(&bytes, &shown)?
    } else {
        let mut files = Vec::new();
        walk(dir, dir, &mut files)?;
        files
    };
    from_files(files, &shown, 0)
}

/// Most charts a thread keeps loaded.
const MAX_KEPT: usize = 64;

thread_local! {
    /// Charts loaded on this thread, by (run, path): the releases of one chart in a run load it
    /// once per thread.
    static KEPT: std::cell::RefCell<Vec<((u64, std::path::PathBuf), Chart)>> =
        std::cell::RefCell::default();
}

/// [`load`], once per thread for each `run` (a number the caller gives each run over the
/// files, so that a later run sees files changed since). Each call gets its own copy of the
/// chart; the default values in it are shared, as they are only read: coalescing copies what
/// it takes from them, and templates see (and may change) that copy.
pub fn load_kept(dir: &Path, run: u64) -> Result<Chart, String> {
    let key = (run, dir.to_path_buf());
    let kept =
        KEPT.with_borrow(|kept| kept.iter().find(|(k, _)| *k == key).map(|(_, c)| c.clone()));
    if let Some(chart) = kept {
        return Ok(chart);
    }
    let chart = load(dir)?;
    KEPT.with_borrow_mut(|kept| {
        kept.retain(|((r, _), _)| *r == run);
        if kept.len() < MAX_KEPT {
            kept.push((key, chart.clone()));
        }
    });
    Ok(chart)
}

/// A chart's files by path from the chart's directory.
type ChartFiles = Vec<(String, Vec<u8>)>;

/// The files of a chart archive, without the archive's top directory (`mychart/`).
fn unpack(bytes: &[u8], shown: &str) -> Result<ChartFiles, String> {
    use std::io::Read as _;
    let decoder = flate2::read::GzDecoder::new(bytes).take(MAX_UNPACKED);
    let mut archive = tar::Archive::new(decoder);
    let mut out = Vec::new();
    let entries = archive.entries().map_err(|e| format!("{shown}: not a chart archive: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("{shown}: not a chart archive: {e}"))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path =
            entry.path().map_err(|e| format!("{shown}: {e}"))?.to_string_lossy().replace('\\', "/");
        if path.split('/').any(|p| p == "..") || path.starts_with('/') {
            return Err(format!("{shown}: the archive names a path outside the chart: {path}"));
        }
        let Some((_, rel)) = path.split_once('/') else { continue };
        let mut data = Vec::new();
        entry.read_to_end(&mut data).map_err(|e| format!("{shown}: {rel}: {e}"))?;
        out.push((rel.to_string(), data));
        if out.len() > MAX_FILES {
            return Err(format!("{shown}: the chart has more than {MAX_FILES} files"));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn text_of(data: &[u8], name: &str, shown: &str) -> Result<String, String> {
    String::from_utf8(data.to_vec()).map_err(|_| format!("{shown}/{name}: not UTF-8 text"))
}

/// A chart from its files (paths from its directory); subcharts are the files below
/// `charts/<name>/` and the archives `charts/*.tgz`.
fn from_files(files: ChartFiles, shown: &str, depth: usize) -> Result<Chart, String> {
    if depth > MAX_NESTING {
        return Err(format!("{shown}: subcharts nest more than {MAX_NESTING} deep"));
    }
    let chart_yaml = files
        .iter()
        .find(|(n, _)| n == "Chart.yaml")
        .ok_or_else(|| format!("{shown}: Chart.yaml file is missing"))?;
    let text = text_of(&chart_yaml.1, "Chart.yaml", shown)?;
    let parsed = crate::load::yaml::parse_stream(&text, &crate::load::Limits::default());
    if let Some(p) = parsed.problems.first() {
        return Err(format!("{shown}/Chart.yaml:{}: {}", p.pos.line, p.message));
    }
    let metadata: BTreeMap<String, serde_json::Value> =
        match parsed.documents.first().map(|d| d.root.to_json()) {
            Some(serde_json::Value::Object(m)) => m.into_iter().collect(),
            _ => return Err(format!("{shown}/Chart.yaml: not a mapping")),
        };
    validate(&metadata, &format!("{shown}/Chart.yaml"))?;
    let mut chart = Chart { metadata, values: Value::map(BTreeMap::new()), ..Chart::default() };
    let mut requirements = None;
    let mut subcharts: BTreeMap<String, ChartFiles> = BTreeMap::new();
    let mut archives = Vec::new();
    for (rel, data) in files {
        if let Some(rest) = rel.strip_prefix("charts/") {
            match rest.split_once('/') {
                Some((sub, inner)) => {
                    subcharts.entry(sub.to_string()).or_default().push((inner.to_string(), data));
                }
                None if has_extension(rest, &["tgz", "gz"]) => {
                    archives.push((rest.to_string(), data));
                }
                None => {}
            }
            continue;
        }
        match rel.as_str() {
            "Chart.yaml" | "Chart.lock" | "requirements.lock" => {}
            "values.schema.json" => chart.schema = Some(text_of(&data, &rel, shown)?),
            "values.yaml" => {
                chart.values =
                    values_from_yaml(&text_of(&data, &rel, shown)?, &format!("{shown}/{rel}"))?;
            }
            "requirements.yaml" => {
                requirements = Some(values_from_yaml(
                    &text_of(&data, &rel, shown)?,
                    &format!("{shown}/{rel}"),
                )?);
            }
            r if r.starts_with("templates/") => {
                chart.templates.push((rel.clone(), text_of(&data, &rel, shown)?));
            }
            _ => chart.files.push((rel.clone(), String::from_utf8_lossy(&data).into_owned())),
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
    for (name, files) in subcharts {
        if files.iter().any(|(n, _)| n == "Chart.yaml") {
            chart.dependencies.push(from_files(
                files,
                &format!("{shown}/charts/{name}"),
                depth + 1,
            )?);
        }
    }
    for (name, data) in archives {
        let at = format!("{shown}/charts/{name}");
        chart.dependencies.push(from_files(unpack(&data, &at)?, &at, depth + 1)?);
    }
    Ok(chart)
}

/// Whether a file is a chart archive (`.tgz`).
#[must_use]
pub fn is_archive(name: &str) -> bool {
    has_extension(name, &["tgz", "gz"])
}

/// Whether a file name ends with one of `extensions` (any case).
pub(crate) fn has_extension(name: &str, extensions: &[&str]) -> bool {
    Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| extensions.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// The files below `dir`, by path from `root`, in order (hidden ones left out).
fn walk(root: &Path, dir: &Path, out: &mut ChartFiles) -> Result<(), String> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: cannot read: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        let rel = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().replace('\\', "/");
        if rel.starts_with('.') || rel.contains("/.") {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, out)?;
        } else {
            if out.len() >= MAX_FILES {
                return Err(format!(
                    "{}: the chart has more than {MAX_FILES} files",
                    root.display()
                ));
            }
            let size = path.metadata().map_or(0, |m| m.len());
            if size > MAX_FILE {
                return Err(format!("{}: larger than {MAX_FILE} bytes: not read", path.display()));
            }
            let data = std::fs::read(&path)
                .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
            out.push((rel, data));
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
/// chart to render and the values to render it with (imports applied); a dependency the chart
/// lists but `charts/` lacks is Helm's error.
pub fn process(mut chart: Chart, user: &Value) -> Result<(Chart, Value), String> {
    let missing: Vec<String> = dependencies(&chart)
        .into_iter()
        .filter(|d| !chart.dependencies.iter().any(|c| c.name() == d.name))
        .map(|d| d.name)
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{MISSING_DEPENDENCIES} You may need to run `helm dependency build` to fetch missing dependencies: found in Chart.yaml, but missing in charts/ directory: {}",
            missing.join(", ")
        ));
    }
    resolve(&mut chart, 0);
    let values = coalesce(&chart, user);
    let charts = chart.count();
    prune(&mut chart, &values, &values, 0);
    // Coalesced again over the charts that stay, unless every chart stays (a chart without
    // dependencies: a thousand releases of a tenant chart coalesce once each).
    let values = if chart.count() == charts { values } else { coalesce(&chart, user) };
    import_values(&chart, &values, 0);
    Ok((chart, values))
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
    let typed = typed_value(raw, string);
    set_value_to(values, path, typed)
}

fn typed_value(raw: &str, string: bool) -> Value {
    if string {
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
    }
}

/// Sets `path` (`a.b.c`, `list[0]`) to `value` in the user's values.
pub fn set_value_to(values: &Value, path: &str, value: Value) -> Result<Value, String> {
    let mut nested = value;
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

#[cfg(test)]
mod tests {
    /// The releases of a chart kept loaded share its default values: what one release's
    /// templates change of its values (sprig's `set`) is its own copy, never the next
    /// release's defaults.
    #[test]
    fn a_kept_chart_keeps_its_defaults_when_a_release_changes_its_values() {
        let dir = tempfile::tempdir().unwrap();
        let template = "before: {{ .Values.image.tag }} {{ .Values.added | default \"none\" }} \
                        {{ len .Values.image.pull }}\n\
                        {{- $_ := set .Values.image \"tag\" \"changed\" }}\
                        {{- $_ := set .Values \"added\" \"yes\" }}\
                        {{- $_ := set .Values.image \"pull\" (append .Values.image.pull \"Never\") }}\n";
        crate::render::kustomize::tests::write(
            dir.path(),
            &[
                ("Chart.yaml", "apiVersion: v2\nname: kept\nversion: 0.1.0\n"),
                ("values.yaml", "image:\n  tag: \"1.0\"\n  pull: [Always]\n"),
                ("templates/t.yaml", template),
            ],
        );
        let run = u64::MAX - 7;
        for _ in 0..3 {
            let chart = super::load_kept(dir.path(), run).unwrap();
            let options = super::super::template::Options::default();
            let (_, _, rendered) = super::super::template::release(chart, &options).unwrap();
            let text = &rendered["kept/templates/t.yaml"].text;
            assert_eq!(text.trim(), "before: 1.0 none 1");
        }
    }
}
