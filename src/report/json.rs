//! `--format json`: the machine form. Field names are a contract (see README).

use std::io::{self, Write};

use serde::Serialize;

use crate::error::Problem;
use crate::finding::{Finding, ResourceRef, Severity};
use crate::{Outcome, Summary};

#[derive(Serialize)]
struct Report<'a> {
    version: u32,
    findings: Findings<'a>,
    /// Only with `--show-suppressed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    suppressed: Option<Findings<'a>>,
    errors: &'a [Problem],
    /// Not errors, but worth a look (an input directory where every file was skipped).
    warnings: &'a [String],
    summary: &'a Summary,
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    rule: &'a str,
    name: &'a str,
    severity: Severity,
    message: &'a str,
    file: &'a str,
    line: u32,
    column: u32,
    document: usize,
    path: &'a str,
    resource: &'a ResourceRef,
    policy: Option<&'a str>,
    /// The tenant that owns the object's namespace (absent for platform objects).
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    /// For rendered objects: the build units, each with the way to the object's file.
    #[serde(skip_serializing_if = "Units::is_empty")]
    units: Units<'a>,
}

/// Findings written one at a time as the report is written (a library of policies gives
/// hundreds of thousands: their JSON forms are never all held at once).
struct Findings<'a>(&'a [Finding]);

impl Serialize for Findings<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(JsonFinding::from))
    }
}

/// A finding's units, each written as it is reached.
struct Units<'a>(&'a [crate::finding::Trace]);

impl Units<'_> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Units<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|t| {
            JsonUnit {
                name: &t.unit,
                cluster: &t.cluster,
                via: t
                    .via
                    .iter()
                    .map(|l| JsonPlace {
                        file: &l.source.display,
                        line: l.span.start().line,
                        column: l.span.start().col + 1,
                    })
                    .collect(),
            }
        }))
    }
}

#[derive(Serialize)]
struct JsonUnit<'a> {
    name: &'a str,
    /// The cluster that receives what the unit builds, named by the unit at the top of its
    /// chain of cluster entries.
    cluster: &'a str,
    via: Vec<JsonPlace<'a>>,
}

#[derive(Serialize)]
struct JsonPlace<'a> {
    file: &'a str,
    line: u32,
    column: u32,
}

impl<'a> From<&'a Finding> for JsonFinding<'a> {
    fn from(f: &'a Finding) -> Self {
        JsonFinding {
            rule: &f.rule,
            name: &f.name,
            severity: f.severity,
            message: &f.message,
            file: &f.source.display,
            line: f.span.start().line,
            column: f.span.start().col + 1,
            document: f.document,
            path: &f.path,
            resource: &f.resource,
            policy: f.policy.as_deref(),
            tenant: f.tenant.as_deref(),
            reason: f.suppressed.as_deref(),
            units: Units(&f.units),
        }
    }
}

pub(super) fn write(outcome: &Outcome, style: super::Style, out: &mut dyn Write) -> io::Result<()> {
    let report = Report {
        version: 1,
        findings: Findings(&outcome.findings),
        suppressed: style.show_suppressed.then_some(Findings(&outcome.suppressed)),
        errors: &outcome.problems,
        warnings: &outcome.warnings,
        summary: &outcome.summary,
    };
    super::sanitize::write_json(&report, out)?;
    writeln!(out)
}
