//! An Argo CD `Application` as its repo server builds a path source: the kustomization there
//! with the Application's `kustomize` options, or else the directory's manifests (`.yaml`,
//! `.yml`, `.json`; below it too with `directory.recurse`; `directory.include` and `exclude`
//! globs). Options Argo CD has and this build does not apply are errors that name them.

use std::path::Path;

use super::disk::{show, BuildError, Disk, Result, KUSTOMIZATION_FILES};
use super::kustomize::Entry;
use super::tree::{TValue, Tree};

/// `spec.source.kustomize` options and the kustomization fields they set.
const KUSTOMIZE_OPTIONS: &[(&str, &str)] = &[
    ("namePrefix", "namePrefix"),
    ("nameSuffix", "nameSuffix"),
    ("namespace", "namespace"),
    ("images", "images"),
    ("commonLabels", "commonLabels"),
    ("commonAnnotations", "commonAnnotations"),
    ("patches", "patches"),
    ("components", "components"),
    ("replicas", "replicas"),
];

/// Builds an Argo CD Application (`app`, a tree of this disk's files) whose
/// `spec.source.path` (or first `spec.sources[].path`) is `dir` (a path from the disk's root).
/// With several `sources`, every one with a `path` in this tree is built (paths from the root of
/// the repository, as Argo CD reads them) and the objects of all go to the Application; a source
/// without a path (a Helm chart, a `ref` to values) or whose path is not in the tree is another
/// repository's.
pub fn build<'a>(
    disk: &Disk<'a>,
    app: &Tree<'a>,
    dir: &Path,
    options: BuildOptions,
) -> Result<Vec<Tree<'a>>> {
    let Some(TValue::Seq(sources)) = app.at(&["spec", "sources"]).map(|s| &s.value) else {
        let source =
            app.at(&["spec", "source"]).cloned().unwrap_or_else(|| Tree::map(app.file, app.span));
        no_plugin(disk, &source)?;
        if super::helm::argo::is_helm_source(disk, &source, dir) {
            return super::helm::argo::build(
                disk,
                app,
                &source,
                dir,
                &std::collections::BTreeMap::new(),
            );
        }
        return build_source(disk, app, &source, dir, options);
    };
    let mut out = Vec::new();
    // Sources named by `ref` (for Helm `$ref/…` value files): this repository's root.
    let refs: std::collections::BTreeMap<String, std::path::PathBuf> = sources
        .iter()
        .filter_map(|s| s.get("ref").and_then(Tree::as_str))
        .map(|r| (r.to_string(), std::path::PathBuf::from("/")))
        .collect();
    for source in sources {
        no_plugin(disk, source)?;
    }
    for (i, source) in sources.iter().filter(|s| s.get("path").is_some()).enumerate() {
        let source_dir = if i == 0 {
            dir.to_path_buf()
        } else {
            let path = source.get("path").and_then(Tree::as_str).unwrap_or(".");
            crate::load::discover::normalize(&Path::new("/").join(path))
        };
        if disk.real(&source_dir).is_none() || !disk.is_dir(&source_dir) {
            continue;
        }
        if super::helm::argo::is_helm_source(disk, source, &source_dir) {
            out.extend(super::helm::argo::build(disk, app, source, &source_dir, &refs)?);
        } else {
            out.extend(build_source(disk, app, source, &source_dir, options)?);
        }
    }
    Ok(out)
}

/// A source that names a config management plugin: what the plugin generates cannot be
/// known without running it (an error at `plugin`, not a build of the directory's files).
fn no_plugin(disk: &Disk<'_>, source: &Tree<'_>) -> Result<()> {
    let Some(plugin) = source.get("plugin") else { return Ok(()) };
    let name = plugin.get("name").and_then(Tree::as_str);
    let name = name.map(|n| format!(" `{n}`")).unwrap_or_default();
    Err(BuildError {
        file: disk.shown(plugin.file),
        line: Some(plugin.span.start().line),
        message: format!(
            "Argo CD config management plugin{name} is not run: what it generates is not linted"
        ),
    })
}

/// Builds one source of an Application at `dir`.
fn build_source<'a>(
    disk: &Disk<'a>,
    app: &Tree<'a>,
    source: &Tree<'a>,
    dir: &Path,
    options: BuildOptions,
) -> Result<Vec<Tree<'a>>> {
    let number = app.file;
    let file = std::path::PathBuf::from(disk.shown(number));
    let file = file.as_path();
    let source = source.clone();
    // At the node, in the file it came from (an Application a chart rendered has fields from
    // the chart's values).
    let error = |node: &Tree, message: String| BuildError {
        file: disk.shown(node.file),
        line: Some(node.span.start().line),
        message,
    };
    let mut overrides = Tree::map(number, source.span);
    if let Some(options) = source.get("kustomize") {
        let TValue::Map(fields) = &options.value else {
            return Err(error(options, "`kustomize` must be a mapping".into()));
        };
        for f in fields {
            match KUSTOMIZE_OPTIONS.iter().find(|(from, _)| *from == f.key) {
                Some((_, to)) => {
                    overrides.set(to, f.value.clone());
                }
                None => {
                    return Err(error(
                        &f.value,
                        format!("Argo CD `kustomize.{}` is not supported yet", f.key),
                    ))
                }
            }
        }
    }
    let has_kustomization = KUSTOMIZATION_FILES.iter().any(|k| disk.is_file(&dir.join(k)));
    let mut generated = Vec::new();
    if !has_kustomization {
        let directory = source.get("directory");
        let flag = |key: &str| {
            directory.and_then(|d| d.get(key)).is_some_and(|v| v.value == TValue::Bool(true))
        };
        if let Some(jsonnet) = directory.and_then(|d| d.get("jsonnet")) {
            return Err(error(jsonnet, "Argo CD `directory.jsonnet` is not supported yet".into()));
        }
        let globs = |key: &str| -> Result<Option<globset::GlobSet>> {
            let Some(node) = directory.and_then(|d| d.get(key)) else { return Ok(None) };
            let text = node.as_str().unwrap_or("");
            glob_set(text).map(Some).map_err(|m| error(node, format!("`directory.{key}`: {m}")))
        };
        let (include, exclude) = (globs("include")?, globs("exclude")?);
        let span = source.get("path").map_or(source.span, |p| p.span);
        for path in disk.files_in(dir, flag("recurse")) {
            let Ok(rel) = path.strip_prefix(dir) else { continue };
            let extension = rel.extension().and_then(|e| e.to_str());
            let manifest = matches!(extension, Some("yaml" | "yml" | "json"));
            let rel = rel.to_string_lossy();
            if include.as_ref().is_some_and(|g| !g.is_match(rel.as_ref()))
                || exclude.as_ref().is_some_and(|g| g.is_match(rel.as_ref()))
            {
                continue;
            }
            // Argo CD evaluates the Jsonnet files of a directory source too.
            if extension == Some("jsonnet") {
                let at = source.get("path").unwrap_or(&source);
                return Err(error(
                    at,
                    format!("`{rel}`: Argo CD evaluates a directory's Jsonnet files; Jsonnet is not supported yet"),
                ));
            }
            if !manifest {
                continue;
            }
            generated.push((format!("./{rel}"), span));
        }
    }
    let files_anywhere = options.files_anywhere;
    let entry = Entry { overrides, shown: show(file), generated, files_anywhere };
    super::kustomize::build_entry(disk, dir, &entry)
}

/// How Argo CD runs kustomize: its `argocd-cm` ConfigMap's `kustomize.buildOptions`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BuildOptions {
    /// `--load-restrictor LoadRestrictionsNone`: kustomizations may read files outside their
    /// directory (anywhere in the repository).
    pub files_anywhere: bool,
}

impl BuildOptions {
    /// Reads `kustomize build` flags as Argo CD passes them. `--enable-helm`,
    /// `--enable-alpha-plugins` and `--enable-exec` change nothing here (`helmCharts` and plugins
    /// are errors at their line either way); another flag is an error naming it.
    pub fn parse(text: &str) -> std::result::Result<BuildOptions, String> {
        let mut options = BuildOptions::default();
        let mut words = text.split_whitespace();
        while let Some(word) = words.next() {
            let (flag, inline) = match word.split_once('=') {
                Some((flag, value)) => (flag, Some(value)),
                None => (word, None),
            };
            match flag {
                "--load-restrictor" | "--load_restrictor" => {
                    let value = inline.or_else(|| words.next()).unwrap_or("");
                    options.files_anywhere = match value {
                        "LoadRestrictionsNone" | "none" => true,
                        "LoadRestrictionsRootOnly" | "rootOnly" => false,
                        other => {
                            return Err(format!("`--load-restrictor {other}`: expected LoadRestrictionsNone or LoadRestrictionsRootOnly"))
                        }
                    };
                }
                "--enable-helm" | "--enable-alpha-plugins" | "--enable-exec" => {}
                other => {
                    return Err(format!(
                        "the kustomize build option `{other}` is not supported yet"
                    ))
                }
            }
        }
        Ok(options)
    }
}

/// Argo CD's include and exclude patterns: a glob, or `{a,b}` of several.
fn glob_set(text: &str) -> std::result::Result<globset::GlobSet, String> {
    let inner = text.strip_prefix('{').and_then(|t| t.strip_suffix('}'));
    let mut set = globset::GlobSetBuilder::new();
    for pattern in inner.map_or_else(|| vec![text], |t| t.split(',').collect()) {
        let glob = globset::GlobBuilder::new(pattern.trim())
            .literal_separator(false)
            .build()
            .map_err(|e| e.to_string())?;
        set.add(glob);
    }
    set.build().map_err(|e| e.to_string())
}

#[cfg(test)]
mod build_option_tests {
    use super::BuildOptions;

    #[test]
    fn kustomize_build_options_are_read_as_argo_cd_passes_them() {
        let anywhere = BuildOptions { files_anywhere: true };
        assert_eq!(BuildOptions::parse(""), Ok(BuildOptions::default()));
        assert_eq!(BuildOptions::parse("--load-restrictor LoadRestrictionsNone"), Ok(anywhere));
        assert_eq!(
            BuildOptions::parse("--enable-helm --load-restrictor=LoadRestrictionsNone"),
            Ok(anywhere)
        );
        assert_eq!(
            BuildOptions::parse("--load-restrictor LoadRestrictionsRootOnly"),
            Ok(BuildOptions::default())
        );
        assert!(BuildOptions::parse("--load-restrictor").unwrap_err().contains("expected"));
        assert!(BuildOptions::parse("--reorder none").unwrap_err().contains("`--reorder`"));
    }
}
