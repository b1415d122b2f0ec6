//! `configMapGenerator` and `secretGenerator`: ConfigMaps and Secrets made from literals, env
//! files and files, merged into or replacing ones the build has (`behavior`), and named with a
//! hash of their content at the end of the build, as kustomize does (its `hasher` package: the
//! first ten hex digits of the SHA-256 of a JSON encoding, with `0 1 3 a e` spelled `g h k m t`).
//! Every value keeps the line of the kustomization (or env file) that gave it.

use sha2::{Digest, Sha256};

use super::kustomize::{BuildError, Disk};
use super::tree::{Field, TValue, Tree};
use crate::load::source::Span;

/// Marks a generated object whose name gets the hash of its content (taken out of the output).
pub(super) const NEEDS_HASH: &str = "internal.config.kubernetes.io/needsHash";

/// Which generator made an object (`ConfigMapGenerator`, or `ConfigMapGenerator/NAME` for a
/// generator config called NAME), for its origin annotation; taken out of the output.
pub(super) const GENERATED_BY: &str = "internal.config.kubernetes.io/generatedBy";

type Result<T> = std::result::Result<T, BuildError>;

/// What a kustomization's generators need to know about it.
pub(super) struct Generating<'a, 't> {
    pub disk: &'a Disk<'a>,
    pub file: u32,
    pub shown: &'a str,
    pub dir: &'a std::path::Path,
    pub kustomization: &'a Tree<'t>,
    /// Files must be in or below `dir` (kustomize's default load restrictor).
    pub root_only: bool,
    /// The `metadata.name` of the generator config that runs, if one does.
    pub config_name: Option<&'a str>,
}

impl Generating<'_, '_> {
    fn error(&self, node: &Tree, message: String) -> BuildError {
        BuildError { file: self.shown.to_string(), line: Some(node.span.start().line), message }
    }
}

/// Runs both generators of a kustomization over the objects built so far.
pub(super) fn run<'a>(g: &Generating<'_, 'a>, out: &mut Vec<Tree<'a>>) -> Result<()> {
    let options = g.kustomization.get("generatorOptions");
    for (field, kind) in [("configMapGenerator", "ConfigMap"), ("secretGenerator", "Secret")] {
        let Some(list) = g.kustomization.get(field) else { continue };
        let TValue::Seq(entries) = &list.value else {
            return Err(g.error(list, format!("`{field}` must be a list")));
        };
        for entry in entries {
            let made = generate(g, entry, kind, options)?;
            place(g, entry, made, out)?;
        }
    }
    Ok(())
}

/// One generated object, before it meets the objects of the build.
fn generate<'a>(
    g: &Generating<'_, 'a>,
    entry: &Tree<'a>,
    kind: &str,
    options: Option<&Tree<'a>>,
) -> Result<Tree<'a>> {
    let name = entry
        .get("name")
        .and_then(Tree::as_str)
        .ok_or_else(|| g.error(entry, format!("a {kind} generator needs a `name`")))?;
    // A ConfigMap keeps text in `data` and other bytes, base64-encoded, in `binaryData`.
    let mut data: Vec<(String, Tree)> = Vec::new();
    let mut binary: Vec<(String, Tree)> = Vec::new();
    for (key, value, at) in sources(g, entry)? {
        if data.iter().chain(&binary).any(|(k, _)| *k == key) {
            return Err(g.error(entry, format!("{kind} `{name}`: the key `{key}` is given twice")));
        }
        match (kind, String::from_utf8(value)) {
            ("Secret", text) => {
                let bytes =
                    text.map_or_else(std::string::FromUtf8Error::into_bytes, String::into_bytes);
                data.push((key, Tree::string(&secret_value(&bytes), at.0, at.1)));
            }
            (_, Ok(text)) => data.push((key, Tree::string(&text, at.0, at.1))),
            (_, Err(e)) => {
                binary.push((key, Tree::string(&secret_value(e.as_bytes()), at.0, at.1)));
            }
        }
    }
    let file = g.file;
    let span = entry.span;
    let mut object = Tree::map(file, span);
    object.set("apiVersion", Tree::string("v1", file, span));
    object.set("kind", Tree::string(kind, file, span));
    let meta = object.map_at("metadata", file, span).expect("a map");
    meta.set("name", entry.get("name").cloned().unwrap_or_else(|| Tree::string(name, file, span)));
    if let Some(ns) = entry.get("namespace") {
        meta.set("namespace", ns.clone());
    }
    if kind == "Secret" {
        let t = entry.get("type").cloned().unwrap_or_else(|| Tree::string("Opaque", file, span));
        object.set("type", t);
    }
    for (field, entries) in [("data", data), ("binaryData", binary)] {
        // A Secret always has its `data`, empty or not (kustomize's `LoadMapIntoSecretData`),
        // and its name's hash is of it.
        if entries.is_empty() && (kind, field) != ("Secret", "data") {
            continue;
        }
        let fields = entries
            .into_iter()
            .map(|(key, value)| Field {
                key: key.into(),
                key_file: value.file,
                key_span: value.span,
                value,
            })
            .collect();
        object.set(field, Tree { file, span, value: TValue::Map(fields) });
    }
    // Options: the kustomization's `generatorOptions`, then the generator's own `options`.
    let mut hash = true;
    for opts in [options, entry.get("options")].into_iter().flatten() {
        for key in ["labels", "annotations"] {
            if let Some(Tree { value: TValue::Map(pairs), .. }) = opts.get(key) {
                let target = object
                    .map_at("metadata", file, span)
                    .and_then(|m| m.map_at(key, file, span))
                    .expect("a map");
                for p in pairs {
                    target.set(&p.key, p.value.clone());
                }
            }
        }
        if let Some(Tree { value: TValue::Bool(disable), .. }) = opts.get("disableNameSuffixHash") {
            hash = !disable;
        }
        if let Some(immutable) = opts.get("immutable") {
            object.set("immutable", immutable.clone());
        }
    }
    let by = match g.config_name {
        Some(name) => format!("{kind}Generator/{name}"),
        None => format!("{kind}Generator"),
    };
    let annotations = object
        .map_at("metadata", file, span)
        .and_then(|m| m.map_at("annotations", file, span))
        .ok_or_else(|| g.error(entry, "the generated object's metadata is not a mapping".into()))?;
    annotations.set(GENERATED_BY, Tree::string(&by, file, span));
    if hash {
        annotations.set(NEEDS_HASH, Tree::string("true", file, span));
    }
    Ok(object)
}

/// (key, value, (file, span)) of every literal, env file line and file of a generator entry.
/// A generated entry: key, value, and the (file, span) that gave it.
type Source = (String, Vec<u8>, (u32, Span));

fn sources(g: &Generating<'_, '_>, entry: &Tree<'_>) -> Result<Vec<Source>> {
    let mut out = Vec::new();
    let strings = |key: &str| -> Result<Vec<&Tree>> {
        match entry.get(key).map(|n| &n.value) {
            None | Some(TValue::Null) => Ok(Vec::new()),
            Some(TValue::Seq(items)) => Ok(items.iter().collect()),
            Some(_) => Err(g.error(entry, format!("`{key}` must be a list"))),
        }
    };
    for literal in strings("literals")? {
        let text = literal.as_str().unwrap_or("");
        let (key, value) = text
            .split_once('=')
            .ok_or_else(|| g.error(literal, format!("the literal `{text}` is not KEY=VALUE")))?;
        out.push((key.to_string(), unquote(value).as_bytes().to_vec(), (g.file, literal.span)));
    }
    let mut envs = strings("envs")?;
    if let Some(env) = entry.get("env") {
        envs.push(env);
    }
    for env in envs {
        let name = env.as_str().unwrap_or("");
        if name.contains("://") {
            return Err(g.error(env, format!("`{name}` is remote: remote files are not fetched")));
        }
        let path = g.dir.join(name);
        let (file, bytes) = read_bytes(g, env, &path)?;
        let text = String::from_utf8(bytes)
            .map_err(|_| g.error(env, format!("`{}` is not UTF-8 text", path.display())))?;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line.split_once('=').ok_or_else(|| {
                g.error(env, format!("line {} of `{}` is not KEY=VALUE", i + 1, path.display()))
            })?;
            let at = Span::new(
                crate::load::source::Pos { line: u32::try_from(i + 1).unwrap_or(u32::MAX), col: 0 },
                crate::load::source::Pos { line: u32::try_from(i + 1).unwrap_or(u32::MAX), col: 0 },
            );
            out.push((key.trim_end().to_string(), value.as_bytes().to_vec(), (file, at)));
        }
    }
    for spec in strings("files")? {
        let text = spec.as_str().unwrap_or("");
        let (key, rel) = match text.split_once('=') {
            Some((k, p)) => (k.to_string(), p),
            None => (
                std::path::Path::new(text)
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
                text,
            ),
        };
        if rel.contains("://") {
            return Err(g.error(spec, format!("`{rel}` is remote: remote files are not fetched")));
        }
        let (_, content) = read_bytes(g, spec, &g.dir.join(rel))?;
        out.push((key, content, (g.file, spec.span)));
    }
    Ok(out)
}

fn read_bytes(
    g: &Generating<'_, '_>,
    at: &Tree<'_>,
    path: &std::path::Path,
) -> Result<(u32, Vec<u8>)> {
    let path = crate::load::discover::normalize(path);
    if let Some(refusal) = super::kustomize::restricted(g.root_only, g.dir, &path) {
        return Err(g.error(at, refusal));
    }
    g.disk.read_bytes(&path).map_err(|e| g.error(at, e.message))
}

/// A Secret's value as kustomize writes it (kyaml's `encodeBase64`): base64 in lines of 70
/// characters, each ended by a line break, once it is 70 characters or more.
fn secret_value(bytes: &[u8]) -> String {
    const LINE: usize = 70;
    let encoded = crate::base64::encode(bytes);
    if encoded.len() < LINE {
        return encoded;
    }
    let mut out = String::with_capacity(encoded.len() + encoded.len() / LINE + 1);
    for chunk in encoded.as_bytes().chunks(LINE) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or(""));
        out.push('\n');
    }
    out
}

/// Takes the hash mark off an object, with the annotations it leaves empty.
pub(super) fn unmark(t: &mut Tree<'_>) -> bool {
    let Some(meta) = t.get_mut("metadata") else { return false };
    let Some(annotations) = meta.get_mut("annotations") else { return false };
    let marked = annotations.remove(NEEDS_HASH);
    if marked && matches!(&annotations.value, TValue::Map(f) if f.is_empty()) {
        meta.remove("annotations");
    }
    marked
}

/// A literal's value without the quotes around it (`KEY="v"`), as kustomize reads it.
fn unquote(value: &str) -> &str {
    for q in ['"', '\''] {
        if value.len() >= 2 && value.starts_with(q) && value.ends_with(q) {
            return &value[1..value.len() - 1];
        }
    }
    value
}

/// Adds a generated object to the build, or merges it into (or replaces) the one it names.
fn place<'a>(
    g: &Generating<'_, '_>,
    entry: &Tree<'a>,
    made: Tree<'a>,
    out: &mut Vec<Tree<'a>>,
) -> Result<()> {
    // kustomize reads any other value (`add`, `Merge`) as none, and creates the object.
    let behavior = entry
        .get("behavior")
        .and_then(Tree::as_str)
        .filter(|b| matches!(*b, "merge" | "replace"))
        .unwrap_or("create");
    let kind = made.get("kind").and_then(Tree::as_str).unwrap_or("").to_string();
    let name = made.at(&["metadata", "name"]).and_then(Tree::as_str).unwrap_or("").to_string();
    let namespace = made.at(&["metadata", "namespace"]).and_then(Tree::as_str).map(str::to_string);
    let existing = out.iter().position(|t| {
        t.get("kind").and_then(Tree::as_str) == Some(kind.as_str())
            && super::kustomize::identities(t)
                .iter()
                .any(|(n, ns)| *n == name && namespace.as_deref().is_none_or(|want| want == ns))
    });
    match (behavior, existing) {
        ("create", None) => out.push(made),
        ("create", Some(_)) => {
            return Err(g.error(
                entry,
                format!("{kind} `{name}` already exists: use `behavior: merge` or `replace`"),
            ));
        }
        // `merge` or `replace`.
        (_, None) => {
            return Err(g.error(
                entry,
                format!("{kind} `{name}` is not in the build: there is nothing to {behavior}"),
            ));
        }
        ("merge", Some(i)) => {
            let target = &mut out[i];
            for key in ["data", "binaryData"] {
                if let Some(Tree { value: TValue::Map(fields), .. }) = made.get(key) {
                    let file = made.file;
                    let into = target.map_at(key, file, made.span).expect("a map");
                    for f in fields {
                        into.set(&f.key, f.value.clone());
                    }
                }
            }
            // The merged object's name is hashed as the merging generator says.
            if made.at(&["metadata", "annotations", NEEDS_HASH]).is_none() {
                unmark(target);
            }
            for key in ["labels", "annotations"] {
                if let Some(Tree { value: TValue::Map(fields), .. }) = made.at(&["metadata", key]) {
                    if fields.iter().all(|f| f.key == NEEDS_HASH || f.key == GENERATED_BY) {
                        continue;
                    }
                    let file = made.file;
                    let into = target
                        .map_at("metadata", file, made.span)
                        .and_then(|m| m.map_at(key, file, made.span))
                        .expect("a map");
                    // Merging into an object the build did not generate does not hash its name.
                    for f in fields.iter().filter(|f| f.key != NEEDS_HASH && f.key != GENERATED_BY)
                    {
                        into.set(&f.key, f.value.clone());
                    }
                }
            }
        }
        // `replace`, the one behavior left.
        (_, Some(i)) => {
            // The replacement keeps the name the object has now (a prefix already applied) and
            // its labels and annotations, under its own (kustomize merges the metadata).
            let current = out[i].at(&["metadata", "name"]).cloned();
            let mut made = made;
            let (file, span) = (made.file, made.span);
            for key in ["labels", "annotations"] {
                let Some(Tree { value: TValue::Map(old), .. }) = out[i].at(&["metadata", key])
                else {
                    continue;
                };
                let old = old.clone();
                let Some(into) =
                    made.map_at("metadata", file, span).and_then(|m| m.map_at(key, file, span))
                else {
                    continue;
                };
                // Whether its name is hashed is the replacing generator's to say.
                for f in old.into_iter().filter(|f| f.key != NEEDS_HASH) {
                    if into.get(&f.key).is_none() {
                        into.set(&f.key, f.value);
                    }
                }
            }
            if let (Some(current), Some(meta)) = (current, made.get_mut("metadata")) {
                meta.set("name", current);
            }
            out[i] = made;
        }
    }
    Ok(())
}

/// The name suffix kustomize gives a generated ConfigMap or Secret.
pub(super) fn hash(object: &Tree<'_>) -> String {
    let kind = object.get("kind").and_then(Tree::as_str).unwrap_or("");
    // kustomize looks the name up as one key, `metadata/name`, which no object has: every
    // hash is of an empty name (so a renamed copy keeps its suffix).
    let name = "";
    let field = |key: &str| match object.get(key) {
        Some(t) if matches!(t.value, TValue::Map(_)) => Some(go_json(&t.to_json())),
        _ => None,
    };
    let data = field("data").unwrap_or_else(|| "\"\"".into());
    // Keys in Go's order (sorted), as `json.Marshal` writes a map.
    let encoded = if kind == "Secret" {
        let type_ = object.get("type").and_then(Tree::as_str).unwrap_or("");
        let string_data =
            field("stringData").map(|s| format!(",\"stringData\":{s}")).unwrap_or_default();
        format!(
            "{{\"data\":{data},\"kind\":\"Secret\",\"name\":{}{string_data},\"type\":{}}}",
            go_string(name),
            go_string(type_)
        )
    } else {
        let binary =
            field("binaryData").map(|b| format!("\"binaryData\":{b},")).unwrap_or_default();
        format!("{{{binary}\"data\":{data},\"kind\":\"ConfigMap\",\"name\":{}}}", go_string(name))
    };
    let digest = Sha256::digest(encoded.as_bytes());
    digest
        .iter()
        .flat_map(|b| [b >> 4, b & 0xf])
        .take(10)
        .map(|n| match n {
            0 => 'g',
            1 => 'h',
            3 => 'k',
            10 => 'm',
            14 => 't',
            n => char::from_digit(u32::from(n), 16).unwrap_or('?'),
        })
        .collect()
}

/// JSON as Go's `encoding/json` writes it: keys sorted, `<`, `>`, `&`, U+2028 and U+2029
/// escaped.
fn go_json(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> =
                keys.iter().map(|k| format!("{}:{}", go_string(k), go_json(&map[*k]))).collect();
            format!("{{{}}}", parts.join(","))
        }
        serde_json::Value::Array(items) => {
            format!("[{}]", items.iter().map(go_json).collect::<Vec<_>>().join(","))
        }
        serde_json::Value::String(s) => go_string(s),
        other => other.to_string(),
    }
}

fn go_string(s: &str) -> String {
    let json = serde_json::Value::String(s.to_string()).to_string();
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(text: &str) -> Tree<'static> {
        crate::render::tree::parse_trees(text).remove(0)
    }

    #[test]
    fn names_are_hashed_as_kustomize_hashes_them() {
        // Values kustomize's own tests expect (configmaps_test.go, TestGeneratorIntVsStringNoMerge).
        let cm = tree("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bob}\ndata: {fruit: Indian Gooseberry, year: '2020', crisis: 'true'}\n");
        assert_eq!(hash(&cm), "79t79mt227");
        // The name does not count (kustomize looks it up under a key no object has).
        let renamed = tree("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\ndata: {fruit: Indian Gooseberry, year: '2020', crisis: 'true'}\n");
        assert_eq!(hash(&renamed), "79t79mt227");
        let secret = tree(
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: Opaque\ndata: {a: YQ==}\n",
        );
        assert_ne!(hash(&secret), hash(&tree("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/tls\ndata: {a: YQ==}\n")));
        assert_eq!(go_string("<a&b>"), "\"\\u003ca\\u0026b\\u003e\"");
    }

    #[test]
    fn secret_values_wrap_as_kustomize_writes_them() {
        assert_eq!(secret_value(b"apple"), "YXBwbGU=");
        let long = secret_value(&[b'x'; 60]);
        let lines: Vec<&str> = long.split_terminator('\n').collect();
        assert_eq!(lines.iter().map(|l| l.len()).collect::<Vec<_>>(), vec![70, 10]);
        assert!(long.ends_with('\n'));
        assert_eq!(unquote("\"bar\""), "bar");
        assert_eq!(unquote("'bar'"), "bar");
        assert_eq!(unquote("\"bar"), "\"bar");
    }

    /// kustomize reads a `behavior` other than `create`, `merge` and `replace` (`add`, `Merge`)
    /// as none: the object is created, and one that exists already is an error (Kubeflow's
    /// model registry writes `behavior: add`; kustomize 5.5 builds it).
    #[test]
    fn another_behavior_creates() {
        use crate::render::kustomize::{build, tests::write, Disk};
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                ("base/kustomization.yaml", "configMapGenerator:\n- name: cm\n  literals: [a=1]\n"),
                ("add/kustomization.yaml", "resources: [../base]\nconfigMapGenerator:\n- name: new\n  behavior: add\n  literals: [b=2]\n"),
                ("merge/kustomization.yaml", "resources: [../base]\nconfigMapGenerator:\n- name: cm\n  behavior: Merge\n  literals: [c=3]\n"),
            ],
        );
        let disk = Disk::new(dir.path());
        let out = build(&disk, std::path::Path::new("add")).unwrap();
        let data: Vec<serde_json::Value> =
            out.iter().map(|t| t.to_json()["data"].clone()).collect();
        assert_eq!(data, [serde_json::json!({"a": "1"}), serde_json::json!({"b": "2"})]);
        let err = build(&disk, std::path::Path::new("merge")).unwrap_err().to_string();
        assert!(err.contains("ConfigMap `cm` already exists"), "{err}");
    }

    /// A Secret generator with nothing in it makes a Secret with empty `data` (a ConfigMap's
    /// has none), and its name is hashed with it: the names kustomize 5.5 gives these.
    #[test]
    fn an_empty_secret_has_empty_data() {
        use crate::render::kustomize::{build, tests::write, Disk};
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[(
                "kustomization.yaml",
                "secretGenerator:\n- name: sx\n- name: sy\n  type: kubernetes.io/tls\nconfigMapGenerator:\n- name: cy\n",
            )],
        );
        let out = build(&Disk::new(dir.path()), std::path::Path::new(".")).unwrap();
        let json: Vec<serde_json::Value> = out.iter().map(Tree::to_json).collect();
        let names: Vec<&str> = json.iter().filter_map(|o| o["metadata"]["name"].as_str()).collect();
        assert_eq!(names, ["cy-6ct58987ht", "sx-46f8b28mk5", "sy-694464d966"]);
        assert_eq!(json[0].get("data"), None);
        assert_eq!(json[1]["data"], serde_json::json!({}));
        assert_eq!(json[2]["data"], serde_json::json!({}));
    }

    /// `behavior: replace` takes the new data and keeps the replaced object's labels and
    /// annotations (under the new ones), but not its hash: the replacing generator says that.
    #[test]
    fn a_replacement_keeps_the_metadata_and_decides_the_hash() {
        use crate::render::kustomize::{build, tests::write, Disk};
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                ("base/kustomization.yaml", "commonLabels: {app: web}\ncommonAnnotations: {note: kept}\nconfigMapGenerator:\n- name: settings\n  literals: [a=1]\n"),
                (
                    "prod/kustomization.yaml",
                    "resources: [../base]\nconfigMapGenerator:\n- name: settings\n  behavior: replace\n  literals: [b=2]\n  options: {disableNameSuffixHash: true, labels: {tier: prod}}\n",
                ),
            ],
        );
        let disk = Disk::new(dir.path());
        let out = build(&disk, std::path::Path::new("prod")).unwrap();
        assert_eq!(
            out[0].to_json(),
            serde_json::json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "settings", "labels": {"tier": "prod", "app": "web"}, "annotations": {"note": "kept"}},
                "data": {"b": "2"},
            })
        );
    }
}
