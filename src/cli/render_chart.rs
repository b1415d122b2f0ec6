//! `mtk-lint render [NAME] CHART`: a Helm chart rendered as `helm template` renders it.

use std::io;
use std::path::Path;

use super::args::RenderArgs;
use crate::render::gotemplate::Value;
use crate::render::helm::chart::{load, merge_values, set_value, values_from_yaml};
use crate::render::helm::template::{template, Options};

/// The Kubernetes version `.Capabilities` reports unless `--kube-version` says: that of the
/// client libraries Helm 3.17 is built with (Helm's own tests report v1.20.0).
const DEFAULT_KUBE_VERSION: &str = "v1.32.0";

/// The user's values: `-f` files in order, then `--set`, then `--set-string`.
fn values(args: &RenderArgs, cwd: &Path) -> Result<Value, String> {
    let mut values = Value::map(std::collections::BTreeMap::new());
    for file in &args.values {
        let path = cwd.join(file);
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        values = merge_values(&values, &values_from_yaml(&text, &file.display().to_string())?);
    }
    for (list, string) in [(&args.set, false), (&args.set_string, true)] {
        for setting in list {
            for pair in setting.split(',').filter(|p| !p.is_empty()) {
                let (key, value) =
                    pair.split_once('=').ok_or_else(|| format!("key {pair:?} has no value"))?;
                values = set_value(&values, key, value, string)?;
            }
        }
    }
    Ok(values)
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
