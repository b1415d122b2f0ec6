//! `mtk-lint render [NAME] CHART`: a Helm chart rendered as `helm template` renders it.

use std::io;
use std::path::Path;

use super::args::RenderArgs;
use crate::render::gotemplate::Value;
use crate::render::helm::chart::{load, merge_values, set_value, set_value_to, values_from_yaml};
use crate::render::helm::template::{template, Options};

// The Kubernetes version `.Capabilities` reports unless `--kube-version` says.
use crate::render::helm::release::DEFAULT_KUBE_VERSION;

/// The user's values: `-f` files in order, then `--set`, then `--set-string`.
fn values(args: &RenderArgs, cwd: &Path) -> Result<Value, String> {
    let mut values = Value::map(std::collections::BTreeMap::new());
    for file in &args.values {
        let path = cwd.join(file);
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        values = merge_values(&values, &values_from_yaml(&text, &file.display().to_string())?);
    }
    // Helm's order: `--set-json`, `--set`, `--set-string`, `--set-file`.
    for setting in &args.set_json {
        let (key, json) =
            setting.split_once('=').ok_or_else(|| format!("key {setting:?} has no value"))?;
        let parsed: serde_json::Value =
            serde_json::from_str(json).map_err(|e| format!("--set-json {key}: not JSON: {e}"))?;
        values = set_value_to(&values, key, Value::from_json(&parsed))?;
    }
    for (list, string) in [(&args.set, false), (&args.set_string, true)] {
        for setting in list {
            for pair in split_unescaped(setting) {
                let (key, value) =
                    pair.split_once('=').ok_or_else(|| format!("key {pair:?} has no value"))?;
                values = set_value(&values, key, value, string)?;
            }
        }
    }
    for setting in &args.set_file {
        let (key, file) =
            setting.split_once('=').ok_or_else(|| format!("key {setting:?} has no value"))?;
        let text = std::fs::read_to_string(cwd.join(file))
            .map_err(|e| format!("--set-file {key}: {file}: {e}"))?;
        values = set_value_to(&values, key, Value::string(&text))?;
    }
    Ok(values)
}

/// `a=1,b=x\,y`: the pairs, split at commas no backslash escapes.
fn split_unescaped(setting: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = setting.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    out.last_mut().expect("never empty").push(next);
                }
            }
            ',' => out.push(String::new()),
            c => out.last_mut().expect("never empty").push(c),
        }
    }
    out.retain(|p| !p.is_empty());
    out
}

pub(super) fn run(args: &RenderArgs, cwd: &Path, dir: &Path) -> u8 {
    let result = (|| -> Result<String, String> {
        let chart = load(dir)?;
        let name = args
            .chart
            .as_ref()
            .and(args.path.as_ref())
            .map_or_else(|| "release-name".to_string(), |p| p.display().to_string());
        let options = Options {
            release_name: name,
            namespace: args.namespace.clone().unwrap_or_else(|| "default".into()),
            kube_version: args.kube_version.clone().unwrap_or_else(|| DEFAULT_KUBE_VERSION.into()),
            api_versions: args.api_versions.clone(),
            include_crds: args.include_crds,
            skip_tests: args.skip_tests,
            no_hooks: args.no_hooks,
            is_upgrade: args.is_upgrade,
            show_only: args.show_only.clone(),
            name_template: args.name_template.clone(),
            values: values(args, cwd)?,
            record_reads: false,
        };
        template(chart, &options)
    })();
    match result {
        Ok(out) => match super::emit(args.output.as_deref(), |w| w.write_all(out.as_bytes())) {
            Ok(()) => 0,
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => 0,
            Err(e) => super::fatal(&format!("cannot write the output: {e}")),
        },
        Err(e) => super::fatal(&crate::report::sanitize::field(&e)),
    }
}
