//! `mtk-lint rules` and `mtk-lint explain`: the built-in rule catalogue for people and tools.

use std::io::{self, Write};

use serde::Serialize;

use crate::engine::RuleMeta;

/// Formats of `mtk-lint rules`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CatalogFormat {
    Table,
    Json,
    Markdown,
}

#[derive(Serialize)]
struct Entry<'a> {
    code: &'a str,
    name: &'a str,
    severity: &'a str,
    enabled: bool,
    summary: &'a str,
}

/// Lists the rules.
pub fn write_rules(
    rules: &[&RuleMeta],
    format: CatalogFormat,
    out: &mut dyn Write,
) -> io::Result<()> {
    let entries: Vec<Entry<'_>> = rules
        .iter()
        .map(|m| Entry {
            code: &m.code,
            name: &m.name,
            severity: m.severity.as_str(),
            enabled: m.enabled_by_default,
            summary: &m.summary,
        })
        .collect();
    match format {
        CatalogFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &entries).map_err(io::Error::other)?;
            writeln!(out)
        }
        CatalogFormat::Markdown => {
            writeln!(out, "| code | name | severity | default | summary |")?;
            writeln!(out, "| --- | --- | --- | --- | --- |")?;
            for e in &entries {
                let on = if e.enabled { "on" } else { "off" };
                writeln!(
                    out,
                    "| {} | [{}](rules/{}/README.md) | {} | {on} | {} |",
                    e.code, e.name, e.name, e.severity, e.summary
                )?;
            }
            Ok(())
        }
        CatalogFormat::Table => {
            let width = entries.iter().map(|e| e.name.len()).max().unwrap_or(0);
            for e in &entries {
                let on = if e.enabled { "on " } else { "off" };
                writeln!(
                    out,
                    "{:<13} {:<width$}  {:<7} {on}  {}",
                    e.code, e.name, e.severity, e.summary
                )?;
            }
            Ok(())
        }
    }
}
