//! Helm's rendering engine (Helm's `pkg/engine`): every template of a chart and of its
//! subcharts parsed into one set (deeper paths first, so a parent's `define` wins), each
//! non-partial template executed with its chart's scope — `.Values` (the subchart's part of
//! the parent's values), `.Chart`, `.Files`, `.Subcharts`, `.Release`, `.Capabilities`,
//! `.Template` — and `<no value>` removed from what it writes.

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::render::gotemplate::value::Object;
use crate::render::gotemplate::{Funcs, Templates, Value, Written};

/// A chart as the engine sees it.
#[derive(Clone, Debug, Default)]
pub struct Chart {
    /// `Chart.yaml` as written (`name`, `version`, `appVersion`, …).
    pub metadata: BTreeMap<String, serde_json::Value>,
    /// Templates by their path in the chart (`templates/deployment.yaml`).
    pub templates: Vec<(String, String)>,
    /// Other files of the chart, by path (`.Files`).
    pub files: Vec<(String, String)>,
    /// `values.yaml`.
    pub values: Value,
    /// Subcharts (from `charts/`), enabled ones only.
    pub dependencies: Vec<Chart>,
    /// `values.schema.json`, when the chart has one.
    pub schema: Option<String>,
}

impl Chart {
    #[must_use]
    pub fn name(&self) -> &str {
        self.metadata.get("name").and_then(serde_json::Value::as_str).unwrap_or("")
    }

    /// The chart and its dependencies, at any depth.
    #[must_use]
    pub fn count(&self) -> usize {
        1 + self.dependencies.iter().map(Chart::count).sum::<usize>()
    }
}

/// How the engine runs: `strict` makes a missing value an error (`missingkey=error`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    pub strict: bool,
    /// Record what each action read of the values (for provenance).
    pub record_reads: bool,
}

/// A chart's files (`.Files`): `Get`, `GetBytes`, `Lines`, `Glob`, `AsConfig`, `AsSecrets`,
/// and a file's text by its name as a field.
#[derive(Debug)]
struct Files {
    files: Vec<(String, String)>,
}

impl Object for Files {
    fn type_name(&self) -> &'static str {
        "chartutil.Files"
    }

    fn field(&self, name: &str) -> Option<Value> {
        self.files.iter().find(|(n, _)| n == name).map(|(_, t)| Value::string(t))
    }

    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let text = |i: usize| args.get(i).and_then(Value::as_str).unwrap_or("");
        let get = |path: &str| self.files.iter().find(|(n, _)| n == path).map(|(_, t)| t.clone());
        Some(Ok(match name {
            "Get" | "GetBytes" => Value::string(&get(text(0)).unwrap_or_default()),
            "Lines" => Value::list(
                get(text(0)).unwrap_or_default().split('\n').map(Value::string).collect(),
            ),
            "Glob" => {
                let pattern = text(0);
                let Ok(glob) = globset::GlobBuilder::new(pattern).literal_separator(true).build()
                else {
                    return Some(Err(format!("syntax error in pattern {pattern:?}")));
                };
                let m = glob.compile_matcher();
                let files = self.files.iter().filter(|(n, _)| m.is_match(n)).cloned().collect();
                Value::Object(Rc::new(Files { files }))
            }
            "AsConfig" | "AsSecrets" => {
                let secret = name == "AsSecrets";
                let entries: BTreeMap<String, Value> = self
                    .files
                    .iter()
                    .map(|(n, t)| {
                        let key = crate::gopath::base(n);
                        let value =
                            if secret { crate::base64::encode(t.as_bytes()) } else { t.clone() };
                        (key, Value::string(&value))
                    })
                    .collect();
                let yaml = super::toyaml::to_yaml(&Value::map(entries), false).unwrap_or_default();
                Value::string(yaml.strip_suffix('\n').unwrap_or(&yaml))
            }
            _ => return None,
        }))
    }

    fn print(&self) -> String {
        let inner: Vec<String> =
            self.files.iter().map(|(n, t)| format!("{n}:{:?}", t.as_bytes())).collect();
        format!("map[{}]", inner.join(" "))
    }
}

/// `.Chart`: Chart.yaml's fields with Go's names, and `IsRoot`.
fn chart_object(chart: &Chart, root: bool) -> Value {
    let field = |key: &str| chart.metadata.get(key).map_or(Value::string(""), Value::from_json);
    let mut m: BTreeMap<String, Value> = [
        ("Name", "name"),
        ("Home", "home"),
        ("Version", "version"),
        ("Description", "description"),
        ("Icon", "icon"),
        ("APIVersion", "apiVersion"),
        ("Condition", "condition"),
        ("Tags", "tags"),
        ("AppVersion", "appVersion"),
        ("KubeVersion", "kubeVersion"),
        ("Type", "type"),
    ]
    .into_iter()
    .map(|(go, yaml)| (go.to_string(), field(yaml)))
    .collect();
    for (go, yaml) in [
        ("Keywords", "keywords"),
        ("Sources", "sources"),
        ("Maintainers", "maintainers"),
        ("Dependencies", "dependencies"),
    ] {
        m.insert(
            go.into(),
            chart.metadata.get(yaml).map_or_else(|| Value::list(Vec::new()), Value::from_json),
        );
    }
    m.insert(
        "Annotations".into(),
        chart.metadata.get("annotations").map_or(Value::Nil, Value::from_json),
    );
    m.insert(
        "Deprecated".into(),
        Value::Bool(
            chart.metadata.get("deprecated").and_then(serde_json::Value::as_bool).unwrap_or(false),
        ),
    );
    m.insert("IsRoot".into(), Value::Bool(root));
    Value::map(m)
}

/// One template to render: its path, text, and the scope it runs with.
struct Renderable {
    path: String,
    text: String,
    scope: Value,
    base_path: String,
    /// From a library chart: parsed (its definitions are for others) but not rendered.
    library: bool,
}

/// Collects the templates of `chart` (at `path`) and its subcharts, and returns the chart's
/// scope (for the parent's `.Subcharts`).
fn collect(
    chart: &Chart,
    path: &str,
    values: &Value,
    top: &Value,
    out: &mut Vec<Renderable>,
    root: bool,
) -> Value {
    let top_field = |k: &str| match top {
        Value::Map(m) => m.borrow().get(k).cloned().unwrap_or(Value::Nil),
        _ => Value::Nil,
    };
    let subcharts = Value::map(BTreeMap::new());
    let scope: BTreeMap<String, Value> = [
        ("Chart".to_string(), chart_object(chart, root)),
        ("Files".to_string(), Value::Object(Rc::new(Files { files: chart.files.clone() }))),
        ("Release".to_string(), top_field("Release")),
        ("Capabilities".to_string(), top_field("Capabilities")),
        ("Values".to_string(), values.clone()),
        ("Subcharts".to_string(), subcharts.clone()),
    ]
    .into_iter()
    .collect();
    let scope = Value::map(scope);
    for sub in &chart.dependencies {
        let sub_values = match &values {
            Value::Map(m) => {
                m.borrow().get(sub.name()).cloned().filter(|v| matches!(v, Value::Map(_)))
            }
            _ => None,
        }
        .unwrap_or_else(|| Value::map(BTreeMap::new()));
        let sub_path = format!("{path}/charts/{}", sub.name());
        let sub_scope = collect(sub, &sub_path, &sub_values, top, out, false);
        if let Value::Map(m) = &subcharts {
            m.borrow_mut().insert(sub.name().to_string(), sub_scope);
        }
    }
    for (name, text) in &chart.templates {
        out.push(Renderable {
            path: format!("{path}/{name}"),
            text: text.clone(),
            scope: scope.clone(),
            base_path: format!("{path}/templates"),
            library: chart.metadata.get("type").and_then(serde_json::Value::as_str)
                == Some("library"),
        });
    }
    scope
}

/// Helm's order of parsing: more `/` first, then reverse byte order.
fn parse_order(a: &str, b: &str) -> std::cmp::Ordering {
    let slashes = |p: &str| memchr::memchr_iter(b'/', p.as_bytes()).count();
    let (ca, cb) = (slashes(a), slashes(b));
    cb.cmp(&ca).then_with(|| b.cmp(a))
}

/// Renders every non-partial template of `chart` with `top` (`Values`, `Release`,
/// `Capabilities`): the text each writes, by path (`mychart/templates/service.yaml`).
pub fn render(
    chart: &Chart,
    top: &Value,
    funcs: &Funcs,
    options: Options,
) -> Result<BTreeMap<String, String>, String> {
    let traced = render_traced(chart, top, funcs, options)?;
    Ok(traced.into_iter().map(|(k, w)| (k, w.text)).collect())
}

/// Takes Go's `<no value>` out of what a template wrote, keeping the marks on the text they
/// were on.
fn without_no_value(mut w: Written) -> Written {
    const NO_VALUE: &str = "<no value>";
    if !w.text.contains(NO_VALUE) {
        return w;
    }
    let mut text = String::with_capacity(w.text.len());
    let mut removed: Vec<usize> = Vec::new();
    let mut rest = w.text.as_str();
    let mut at = 0;
    while let Some(i) = rest.find(NO_VALUE) {
        text.push_str(&rest[..i]);
        removed.push(at + i);
        at += i + NO_VALUE.len();
        rest = &rest[i + NO_VALUE.len()..];
    }
    text.push_str(rest);
    for m in &mut w.marks {
        let before = removed.partition_point(|&r| r < m.at);
        m.at -= before * NO_VALUE.len();
    }
    for skip in &mut w.skips {
        let before = removed.partition_point(|&r| r < skip.at);
        skip.at -= before * NO_VALUE.len();
    }
    w.text = text;
    w
}

/// [`render`], with which template node wrote each part of each output.
pub fn render_traced(
    chart: &Chart,
    top: &Value,
    funcs: &Funcs,
    options: Options,
) -> Result<BTreeMap<String, Written>, String> {
    let values = match top {
        Value::Map(m) => m.borrow().get("Values").cloned().unwrap_or(Value::Nil),
        _ => Value::Nil,
    };
    let values = if matches!(values, Value::Map(_)) { values } else { Value::map(BTreeMap::new()) };
    let mut renderables = Vec::new();
    collect(chart, chart.name(), &values, top, &mut renderables, true);
    renderables.sort_by(|a, b| parse_order(&a.path, &b.path));
    let set = parsed(&renderables, funcs, options)?;
    let mut out = BTreeMap::new();
    for r in &renderables {
        if r.library || crate::gopath::base(&r.path).starts_with('_') {
            continue;
        }
        if let Value::Map(m) = &r.scope {
            let template: BTreeMap<String, Value> = [
                ("Name".to_string(), Value::string(&r.path)),
                ("BasePath".to_string(), Value::string(&r.base_path)),
            ]
            .into_iter()
            .collect();
            m.borrow_mut().insert("Template".into(), Value::map(template));
        }
        let written = set.execute_traced(&r.path, &r.scope, funcs).map_err(|e| e.message)?;
        out.insert(r.path.clone(), without_no_value(written));
    }
    Ok(out)
}

/// Most template sets a thread keeps parsed.
const MAX_PARSED: usize = 16;

/// A parsed template set, with the templates (paths and texts) and options (strict, record
/// reads) it was parsed from.
type Parsed = (Vec<(String, String)>, (bool, bool), Rc<Templates>);

thread_local! {
    /// Template sets parsed on this thread: the releases of one chart parse its templates once
    /// per thread.
    static PARSED: std::cell::RefCell<Vec<Parsed>> = std::cell::RefCell::default();
}

/// The template set of `renderables` (parsed in Helm's order), parsed once per thread for the
/// same templates and options.
fn parsed(
    renderables: &[Renderable],
    funcs: &Funcs,
    options: Options,
) -> Result<Rc<Templates>, String> {
    let flags = (options.strict, options.record_reads);
    let same = |(texts, f, _): &&Parsed| {
        *f == flags
            && texts.len() == renderables.len()
            && texts.iter().zip(renderables).all(|((p, t), r)| *p == r.path && *t == r.text)
    };
    // Only sets parsed with the thread's shared functions are kept (which functions exist
    // decides how a template parses).
    let cached = std::ptr::eq(funcs, Rc::as_ptr(&super::funcs::shared()));
    if let Some(set) = PARSED
        .with_borrow(|sets| sets.iter().find(same).map(|(_, _, s)| Rc::clone(s)))
        .filter(|_| cached)
    {
        return Ok(set);
    }
    let mut set = Templates::default();
    set.missing_zero = !options.strict;
    set.missing_error = options.strict;
    set.record_reads = options.record_reads;
    set.left_out_kinds = crate::render::disk::LEFT_OUT_KINDS;
    for r in renderables {
        set.parse(&r.path, &r.text, funcs).map_err(|e| e.message)?;
    }
    let set = Rc::new(set);
    if !cached {
        return Ok(set);
    }
    let texts = renderables.iter().map(|r| (r.path.clone(), r.text.clone())).collect();
    PARSED.with_borrow_mut(|sets| {
        if sets.len() >= MAX_PARSED {
            sets.remove(0);
        }
        sets.push((texts, flags, Rc::clone(&set)));
    });
    Ok(set)
}

/// Helm's `CoalesceValues` (`pkg/chartutil/coalesce.go`): `user` over the chart's defaults,
/// recursively into maps and into each subchart's part (its name's key), with `global` handed
/// down to subcharts. A `null` deletes the default it meets (a key the defaults do not have
/// keeps its `null`), and the parent's view of a subchart's part is the subchart's coalesced
/// values.
#[must_use]
pub fn coalesce(chart: &Chart, user: &Value) -> Value {
    let out = deep_copy(user);
    let Value::Map(dest) = &out else { return out };
    coalesce_into(chart, dest, 0);
    out
}

/// A copy of a value whose maps and lists share nothing with the original's.
pub(super) fn deep_copy(v: &Value) -> Value {
    v.deep_copy()
}

type Table = Rc<std::cell::RefCell<BTreeMap<String, Value>>>;

fn coalesce_into(chart: &Chart, dest: &Table, depth: usize) {
    if depth > 100 {
        return;
    }
    // `coalesceValues`: the chart's defaults under what `dest` has.
    if let Value::Map(defaults) = &chart.values {
        // A subchart's part keeps its nulls here (`childChartMergeTrue`): they delete the
        // subchart's own defaults when it coalesces.
        let subcharts: Vec<&str> = chart.dependencies.iter().map(Chart::name).collect();
        merge_tables(dest, &defaults.borrow(), (true, &subcharts), 0);
    }
    // `coalesceDeps`.
    let global = dest.borrow().get("global").cloned();
    for sub in &chart.dependencies {
        let existing = dest.borrow().get(sub.name()).cloned();
        let table = if let Some(Value::Map(t)) = existing {
            t
        } else {
            let t: Table = Rc::new(std::cell::RefCell::new(BTreeMap::new()));
            dest.borrow_mut().insert(sub.name().to_string(), Value::Map(Rc::clone(&t)));
            t
        };
        if let Some(Value::Map(g)) = &global {
            hand_down_globals(&table, &g.borrow());
        }
        coalesce_into(sub, &table, depth + 1);
    }
}

/// `coalesceGlobals`: the parent's `global` over the subchart part's own `global`: a parent's
/// map is merged over the part's map of that key (the parent's entries win; nothing deleted),
/// anything else replaces it.
fn hand_down_globals(part: &Table, parent: &BTreeMap<String, Value>) {
    let own = part.borrow().get("global").cloned();
    let own = match own {
        Some(Value::Map(t)) => t,
        // A `global` that is not a map is left as it is (Helm says so and skips it).
        Some(_) => return,
        None => Rc::new(std::cell::RefCell::new(BTreeMap::new())),
    };
    for (k, v) in parent {
        let copy = deep_copy(v);
        let existing = own.borrow().get(k).cloned();
        match (&copy, existing) {
            (Value::Map(parent_map), Some(Value::Map(own_map))) => {
                merge_tables(parent_map, &own_map.borrow(), (false, &[]), 0);
                own.borrow_mut().insert(k.clone(), copy);
            }
            // A map onto a value that is not one, or the reverse: Helm skips it.
            (Value::Map(_), Some(_)) | (_, Some(Value::Map(_))) => {}
            _ => {
                own.borrow_mut().insert(k.clone(), copy);
            }
        }
    }
    part.borrow_mut().insert("global".into(), Value::Map(own));
}

/// `coalesceTablesFullKey`: fills `dest` with what `src` (of lower precedence) has and it
/// lacks, recursively into maps both have; when coalescing (not merging), a `null` in `dest`
/// deletes the key `src` has — but not under the keys of `merged` (a chart's subcharts).
fn merge_tables(
    dest: &Table,
    src: &BTreeMap<String, Value>,
    (coalescing, merged): (bool, &[&str]),
    depth: usize,
) {
    if depth > 100 {
        return;
    }
    for (k, s) in src {
        let existing = dest.borrow().get(k).cloned();
        match (existing, s) {
            (Some(Value::Nil), _) if coalescing => {
                dest.borrow_mut().remove(k);
            }
            (None, _) => {
                dest.borrow_mut().insert(k.clone(), deep_copy(s));
            }
            (Some(Value::Map(t)), Value::Map(sm)) => {
                let coalescing = coalescing && !merged.contains(&k.as_str());
                merge_tables(&t, &sm.borrow(), (coalescing, &[]), depth + 1);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{coalesce, render, Chart, Options};
    use crate::render::gotemplate::Value;
    use crate::render::helm::funcs::funcs;

    fn chart(
        name: &str,
        templates: &[(&str, &str)],
        values: &serde_json::Value,
        deps: Vec<Chart>,
    ) -> Chart {
        Chart {
            metadata: [("name".to_string(), serde_json::json!(name))].into_iter().collect(),
            templates: templates
                .iter()
                .map(|(n, t)| ((*n).to_string(), (*t).to_string()))
                .collect(),
            files: vec![("files/a.txt".into(), "A".into())],
            values: Value::from_json(values),
            dependencies: deps,
            schema: None,
        }
    }

    #[test]
    fn subcharts_see_their_part_of_the_values_and_parents_win_defines() {
        use serde_json::json;
        let sub = chart(
            "db",
            &[("templates/x.yaml", "{{ .Values.port }} {{ .Values.global.env }} {{ .Chart.IsRoot }} {{ template \"name\" }}"), ("templates/_h.tpl", "{{ define \"name\" }}sub{{ end }}")],
            &json!({"port": 5432, "user": "x"}),
            Vec::new(),
        );
        let top = chart(
            "app",
            &[("templates/a.yaml", "{{ .Values.db.port }} {{ .Template.Name }} {{ .Files.Get \"files/a.txt\" }} {{ .Subcharts.db.Values.user }} {{ .Values.nothing }}"), ("templates/_h.tpl", "{{ define \"name\" }}top{{ end }}")],
            &json!({"db": {"port": 1}}),
            vec![sub],
        );
        let user = Value::from_json(&json!({"global": {"env": "prod"}}));
        let values = coalesce(&top, &user);
        let mut scope = std::collections::BTreeMap::new();
        scope.insert("Values".to_string(), values);
        let out = render(&top, &Value::map(scope), &funcs(), Options::default()).unwrap();
        assert_eq!(out["app/templates/a.yaml"], "1 app/templates/a.yaml A x ");
        assert_eq!(out["app/charts/db/templates/x.yaml"], "1 prod false top");
        assert!(!out.contains_key("app/templates/_h.tpl"));
    }

    /// Values coalesce as Helm 3's `coalesce.go`: a `null` deletes the default it meets at any
    /// depth, a `null` no default meets stays, and the parent sees its subchart's part as the
    /// subchart got it (globals handed down included).
    #[test]
    fn a_null_deletes_the_default_it_meets_at_any_depth() {
        use serde_json::json;
        let sub = chart(
            "db",
            &[],
            &json!({"conf": {"a": 1, "b": 2}, "global": {"tls": {"on": true, "ca": "x"}}}),
            Vec::new(),
        );
        let top = chart(
            "app",
            &[],
            &json!({"keep": {"gone": null}, "db": {"conf": {"a": null}}, "global": {"tls": {"ca": null}}}),
            vec![sub],
        );
        let user = Value::from_json(&json!({"extra": null}));
        let values = coalesce(&top, &user);
        let at = |path: &[&str]| {
            path.iter().try_fold(values.clone(), |v, k| match v {
                Value::Map(m) => m.borrow().get(*k).cloned(),
                _ => None,
            })
        };
        let json = |j: serde_json::Value| Some(Value::from_json(&j));
        assert_eq!(at(&["extra"]), Some(Value::Nil), "no default: the null stays");
        assert_eq!(at(&["keep"]), json(json!({"gone": null})), "the parent's own nulls stay");
        assert_eq!(at(&["db", "conf"]), json(json!({"b": 2})), "a nested null deletes a default");
        assert_eq!(
            at(&["db", "global", "tls"]),
            json(json!({"on": true})),
            "the parent's global null reaches the subchart and deletes its default there"
        );
        assert_eq!(at(&["global", "tls"]), json(json!({"ca": null})));

        // A null in the parent's part of a subchart deletes the subchart's default, even when
        // the parent's own defaults set that key too (the null waits for the subchart).
        let sub = chart("db", &[], &json!({"conf": {"a": 1, "b": 2}}), Vec::new());
        let top = chart("app", &[], &json!({"db": {"conf": {"a": 5}}}), vec![sub]);
        let user = Value::from_json(&json!({"db": {"conf": {"a": null}}}));
        let values = coalesce(&top, &user);
        let Value::Map(m) = &values else { panic!("a map") };
        let db = m.borrow()["db"].clone();
        let Value::Map(db) = db else { panic!("a map") };
        assert_eq!(db.borrow()["conf"], Value::from_json(&json!({"b": 2})));
    }
}
