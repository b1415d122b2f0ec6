//! Baselines: the findings a repository accepts for now (`--write-baseline FILE`), so that a
//! run with `--baseline FILE` reports only new ones.
//!
//! An entry is a finding's rule, resource (`Kind/namespace/name`) and field path, with how many
//! findings share them: not its line, so edits elsewhere in a file do not bring it back. The
//! file is JSON, sorted, one entry per line-group, meant to be committed and reviewed:
//!
//! ```json
//! {"version": 1, "findings": [
//!   {"rule": "MTK-SEC-001", "resource": "Deployment/team-b/worker",
//!    "path": "/spec/template/spec/containers/0/securityContext/privileged",
//!    "file": "tenants/team-b/worker.yaml", "count": 1}]}
//! ```
//!
//! `file` is for people reading the baseline; it is not matched.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Problem;
use crate::finding::Finding;
use crate::Outcome;

const VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u32,
    findings: Vec<Entry>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    rule: String,
    resource: String,
    path: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    file: String,
    #[serde(default = "one")]
    count: usize,
}

fn one() -> usize {
    1
}

/// What a finding is matched by.
type Key = (String, String, String);

fn key(f: &Finding) -> Key {
    (f.rule.to_string(), f.resource.to_string(), f.path.clone())
}

/// The baseline of `findings`, as `--write-baseline` writes it.
#[must_use]
pub fn write(findings: &[Finding]) -> String {
    let mut entries: BTreeMap<Key, (String, usize)> = BTreeMap::new();
    for f in findings {
        let e = entries.entry(key(f)).or_insert_with(|| (f.source.display.clone(), 0));
        e.1 += 1;
    }
    let mut out = format!("{{\"version\": {VERSION}, \"findings\": [\n");
    let last = entries.len().saturating_sub(1);
    for (i, ((rule, resource, path), (file, count))) in entries.into_iter().enumerate() {
        let entry = Entry { rule, resource, path, file, count };
        // Serialising a struct of strings and a number cannot fail.
        out.push_str("  ");
        out.push_str(&serde_json::to_string(&entry).unwrap_or_default());
        out.push_str(if i == last { "\n" } else { ",\n" });
    }
    out.push_str("]}\n");
    out
}

/// What applying a baseline did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Findings the baseline accepted (moved to the suppressed findings).
    pub accepted: usize,
    /// Entries (counted with their `count`) that matched no finding: fixed, or gone.
    pub stale: usize,
}

/// Moves the findings `file` (its text `text`, named `display`) accepts to the suppressed
/// findings, and counts what is stale. A baseline that cannot be read is a problem of the run
/// (exit 2), and every finding is reported.
pub fn apply(outcome: &mut Outcome, display: &str, text: &str) -> Result<Applied, Problem> {
    let file: File = serde_json::from_str(text).map_err(|e| {
        let pos = crate::load::source::Pos {
            line: e.line() as u32,
            col: e.column().saturating_sub(1) as u32,
        };
        Problem::new(display, Some(pos), format!("not a mtk-lint baseline: {e}"))
    })?;
    if file.version != VERSION {
        return Err(Problem::new(
            display,
            None,
            format!(
                "baseline version {} is not one this mtk-lint reads ({VERSION}): write it again \
                 with --write-baseline",
                file.version
            ),
        ));
    }
    let mut left: BTreeMap<Key, usize> = BTreeMap::new();
    for e in file.findings {
        let n = left.entry((e.rule, e.resource, e.path)).or_default();
        *n = n.saturating_add(e.count);
    }
    let mut applied = Applied::default();
    let reason = format!("in the baseline {display}");
    let mut moved = Vec::new();
    outcome.findings.retain_mut(|f| {
        let Some(n) = left.get_mut(&key(f)).filter(|n| **n > 0) else { return true };
        *n -= 1;
        applied.accepted += 1;
        let mut f = f.clone();
        f.suppressed = Some(reason.clone());
        moved.push(f);
        false
    });
    applied.stale = left.values().fold(0usize, |a, &n| a.saturating_add(n));
    outcome.suppressed.extend(moved);
    outcome.suppressed.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    outcome.summary.findings = outcome.findings.len();
    outcome.summary.suppressed = outcome.suppressed.len();
    Ok(applied)
}

/// Reads the baseline at `path` and applies it (see [`apply`]); the outcome's warnings say
/// what it accepted and what is stale, and a baseline that cannot be read joins its problems.
pub fn apply_file(outcome: &mut Outcome, path: &Path, stale_known: bool) {
    let display = path.display().to_string();
    let applied = std::fs::read_to_string(path)
        .map_err(|e| Problem::new(&display, None, format!("cannot read the baseline: {e}")))
        .and_then(|text| apply(outcome, &display, &text));
    match applied {
        Ok(a) => {
            let stale = if !stale_known {
                String::new()
            } else if a.stale == 0 {
                ", none stale".to_string()
            } else {
                format!(
                    ", {} stale (fixed or gone: --write-baseline {display} drops them)",
                    a.stale
                )
            };
            outcome.summary.baseline_stale = stale_known.then_some(a.stale);
            outcome
                .warnings
                .push(format!("baseline {display}: {} findings accepted{stale}", a.accepted));
        }
        Err(problem) => outcome.problems.push(problem),
    }
}
