//! `mtk-lint render`: the objects a kustomization builds, as YAML or as JSON with sources.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::args::{LoadRestrictor, RenderArgs, RenderFormat, RenderOrder};
use crate::render::kustomize::{build_ordered, Disk, Restrictor};
use crate::render::order::Order;
use crate::render::{emit, tree};

pub(super) fn run(args: &RenderArgs, cwd: &Path) -> u8 {
    if let Some(template) = &args.gotemplate {
        return run_gotemplate(args, &cwd.join(template));
    }
    let chart_dir = match (&args.path, &args.chart) {
        (Some(_), Some(chart)) => Some(cwd.join(chart)),
        (Some(path), None)
            if cwd.join(path).join("Chart.yaml").is_file()
                || (cwd.join(path).is_file()
                    && crate::render::helm::chart::is_archive(&path.to_string_lossy())) =>
        {
            Some(cwd.join(path))
        }
        _ => None,
    };
    if let Some(dir) = chart_dir {
        return super::render_chart::run(args, cwd, &dir);
    }
    if let Some(unit) = &args.unit {
        return run_unit(args, cwd, unit);
    }
    // The build may read anything inside the repository it is in (an overlay names `../base`)
    // and nothing outside: the root is the nearest directory above with `.git`, else the
    // current directory.
    let cwd = std::fs::canonicalize(cwd).unwrap_or_else(|_| cwd.to_path_buf());
    let root = cwd.ancestors().find(|d| d.join(".git").exists()).unwrap_or(&cwd).to_path_buf();
    let dir = cwd.join(args.path.clone().unwrap_or_else(|| PathBuf::from(".")));
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    let Ok(dir) = dir.strip_prefix(&root).map(Path::to_path_buf) else {
        return super::fatal(&format!(
            "{} is outside {}, the root of the build",
            dir.display(),
            root.display()
        ));
    };
    let disk = Disk::new(&root);
    let order = match args.order {
        RenderOrder::Legacy => Order::legacy(),
        RenderOrder::Input => Order::Input,
    };
    let restrictor = match args.load_restrictor {
        LoadRestrictor::LoadRestrictionsRootOnly => Restrictor::RootOnly,
        LoadRestrictor::LoadRestrictionsNone => Restrictor::None,
    };
    let objects = match build_ordered(&disk, &dir, &order, restrictor) {
        Ok(objects) => objects,
        Err(e) => {
            let mut message = e.to_string();
            if message.contains("leaves the root of the build") {
                let _ = write!(
                    message,
                    " ({}; run from a directory that holds everything the build reads)",
                    root.display()
                );
            }
            return super::fatal(&crate::report::sanitize::field(&message));
        }
    };
    // Files are shown relative to the root (`base/deploy.yaml`).
    let shown = |file: u32| disk.shown(file).trim_start_matches('/').to_string();
    let write = |w: &mut dyn Write| -> io::Result<()> {
        match args.format {
            RenderFormat::Yaml => {
                let sources: Option<&dyn Fn(u32) -> String> =
                    if args.provenance { Some(&shown) } else { None };
                w.write_all(emit::yaml(&objects, sources).as_bytes())
            }
            RenderFormat::Json => {
                let list: Vec<serde_json::Value> =
                    objects.iter().map(|t| with_sources(t, &shown)).collect();
                crate::report::sanitize::write_json(&serde_json::json!({ "objects": list }), w)?;
                writeln!(w)
            }
        }
    };
    match super::emit(args.output.as_deref(), write) {
        Ok(()) => 0,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(e) => super::fatal(&format!("cannot write the output: {e}")),
    }
}

/// `render --gotemplate FILE [--data FILE.json]`: one template executed with the data and the
/// functions a chart's templates have (Go's builtins, sprig's and Helm's), its output written
/// as is; a template that does not parse or execute is an error worded as Go words it (exit 2).
fn run_gotemplate(args: &RenderArgs, template: &Path) -> u8 {
    use crate::render::gotemplate::{render, Value};
    let text = match std::fs::read_to_string(template) {
        Ok(text) => text,
        Err(e) => return super::fatal(&format!("cannot read {}: {e}", template.display())),
    };
    let data = match &args.data {
        None => Value::Nil,
        Some(path) => {
            let parsed = std::fs::read_to_string(path).map_err(|e| e.to_string()).and_then(|t| {
                serde_json::from_str::<serde_json::Value>(&t).map_err(|e| e.to_string())
            });
            match parsed {
                Ok(json) => Value::from_json(&json),
                Err(e) => {
                    return super::fatal(&format!("cannot read {} as JSON: {e}", path.display()))
                }
            }
        }
    };
    let name = template.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let out = match render(&name, &text, &data, &crate::render::helm::funcs::funcs()) {
        Ok(out) => out,
        Err(e) => return super::fatal(&crate::report::sanitize::field(&e.message)),
    };
    match super::emit(args.output.as_deref(), |w| w.write_all(out.as_bytes())) {
        Ok(()) => 0,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(e) => super::fatal(&format!("cannot write the output: {e}")),
    }
}

/// `render --unit NAME`: finds the units of the tree as `check` does and prints the objects one
/// of them renders (in the order the inventory holds them).
fn run_unit(args: &RenderArgs, cwd: &Path, wanted: &str) -> u8 {
    let path = args.path.clone().unwrap_or_else(|| PathBuf::from("."));
    // The units `check` finds: with the tree's config (excludes, render options).
    let options = crate::CheckOptions {
        inputs: vec![crate::load::discover::Input::Path(path)],
        ..crate::CheckOptions::default()
    };
    let inventory = match crate::inventory(&options, cwd) {
        Ok(inventory) => inventory,
        Err(problems) => {
            let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return super::fatal(&crate::report::sanitize::field(&shown.join("; ")));
        }
    };
    let units: std::collections::BTreeSet<&str> = inventory
        .objects
        .iter()
        .filter_map(|o| o.rendering.as_ref())
        .flat_map(|r| r.units.iter().map(|(u, _)| &*u.name))
        .collect();
    let chosen: Vec<&str> = if units.contains(wanted) {
        vec![wanted]
    } else {
        units.iter().copied().filter(|u| u.contains(wanted)).collect()
    };
    let [name] = chosen[..] else {
        let failed: Vec<String> = inventory
            .problems
            .iter()
            .filter(|p| p.message.contains(wanted))
            .map(ToString::to_string)
            .collect();
        let message = if let Some(first) = failed.first() {
            format!("unit `{wanted}` did not build: {first}")
        } else if chosen.is_empty() {
            // A fleet has thousands of units: the first few, and how many more.
            const SHOWN: usize = 20;
            let list: Vec<&str> = units.iter().copied().take(SHOWN).collect();
            let more = units.len().saturating_sub(SHOWN);
            let more = if more > 0 { format!(" and {more} more") } else { String::new() };
            format!("no build unit is called `{wanted}`; the units are: {}{more}", list.join("; "))
        } else {
            format!("`{wanted}` names {} units: {}", chosen.len(), chosen.join("; "))
        };
        return super::fatal(&crate::report::sanitize::field(&message));
    };
    let objects: Vec<tree::Tree> = inventory
        .objects
        .iter()
        .filter(|o| {
            o.rendering.as_ref().is_some_and(|r| r.units.iter().any(|(u, _)| &*u.name == name))
        })
        .map(|o| tree::Tree::from_node(&o.root, u32::try_from(o.file).unwrap_or(u32::MAX)))
        .collect();
    let shown = |file: u32| {
        usize::try_from(file)
            .ok()
            .and_then(|i| inventory.files.get(i))
            .map_or_else(String::new, |f| f.display.clone())
    };
    let write = |w: &mut dyn Write| -> io::Result<()> {
        let sources: Option<&dyn Fn(u32) -> String> =
            if args.provenance { Some(&shown) } else { None };
        w.write_all(emit::yaml(&objects, sources).as_bytes())
    };
    match super::emit(args.output.as_deref(), write) {
        Ok(()) => 0,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(e) => super::fatal(&format!("cannot write the output: {e}")),
    }
}

/// An object with its file and line, and the file and line of every field another file supplied.
fn with_sources(t: &tree::Tree, shown: &dyn Fn(u32) -> String) -> serde_json::Value {
    let json = t.to_json();
    let root_file = t.file;
    let root_line = t.span.start().line;
    let (node, origins) = t.clone().into_node();
    let fields: Vec<serde_json::Value> = origins
        .iter()
        .map(|o| {
            let line = crate::load::locate::locate(&node, &o.pointer).start().line;
            serde_json::json!({"path": o.pointer, "file": shown(o.file), "line": line})
        })
        .collect();
    serde_json::json!({
        "source": {"file": shown(root_file), "line": root_line},
        "object": json,
        "fields": fields,
    })
}
