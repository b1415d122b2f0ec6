//! Suppressions: findings accepted on purpose, always with a reason.
//!
//! - The annotation `mtk-lint.dev/ignore` on an object: one `RULE: reason` per line (or `;`).
//! - `exceptions` in the config: a rule, a path glob and/or a resource, and a reason.

use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};

use crate::config::Exception;
use crate::engine::kyverno::wildcard;
use crate::error::Problem;
use crate::finding::Finding;
use crate::inventory::{Inventory, Object};
use crate::load::Node;

/// The annotation that suppresses findings on an object.
pub const IGNORE_ANNOTATION: &str = "mtk-lint.dev/ignore";

/// Compiled config exceptions.
pub struct Exceptions {
    base: PathBuf,
    entries: Vec<(Exception, Option<GlobMatcher>)>,
}

impl Exceptions {
    /// Compiles the config's exceptions; a bad glob is a problem.
    #[must_use]
    pub fn new(exceptions: &[Exception], base: &Path, config_file: &str) -> (Self, Vec<Problem>) {
        let mut problems = Vec::new();
        let mut entries = Vec::new();
        for e in exceptions {
            let glob = match &e.path {
                Some(p) => match GlobBuilder::new(p.trim_start_matches("./"))
                    .literal_separator(true)
                    .build()
                {
                    Ok(g) => Some(g.compile_matcher()),
                    Err(err) => {
                        problems.push(Problem::new(
                            config_file,
                            None,
                            format!("config: exception path `{p}`: {err}"),
                        ));
                        continue;
                    }
                },
                None => None,
            };
            entries.push((e.clone(), glob));
        }
        (Exceptions { base: base.to_path_buf(), entries }, problems)
    }

    fn reason_for(&self, finding: &Finding) -> Option<&str> {
        self.entries.iter().find_map(|(e, glob)| {
            if !names_rule(&e.rule, finding) {
                return None;
            }
            if let Some(glob) = glob {
                let path = finding.source.path.as_deref()?;
                let rel = path.strip_prefix(&self.base).ok()?;
                if !glob.is_match(rel) {
                    return None;
                }
            }
            if let Some(resource) = &e.resource {
                if !wildcard::matches(resource, &finding.resource.to_string()) {
                    return None;
                }
            }
            Some(e.reason.as_str())
        })
    }
}

fn names_rule(id: &str, finding: &Finding) -> bool {
    id.eq_ignore_ascii_case(&finding.rule)
        || id.eq_ignore_ascii_case(&finding.name)
        || finding.policy.as_deref().is_some_and(|p| id == p)
}

/// The (rule, reason) entries of an object's ignore annotation.
/// (rule, reason) pairs of an annotation, or the node and message of what is wrong with it.
type Entries = Result<Vec<(String, String)>, (Node, String)>;

fn annotation_entries(object: &Object) -> Option<Entries> {
    let annotations = object.root.at(&["metadata", "annotations"])?;
    let entry = annotations.entry(IGNORE_ANNOTATION)?;
    let Some(text) = entry.value.as_str() else {
        return Some(Err((
            entry.value.clone(),
            format!("annotation {IGNORE_ANNOTATION} must be a string"),
        )));
    };
    let mut out = Vec::new();
    for item in text.split(['\n', ';']).map(str::trim).filter(|s| !s.is_empty()) {
        match item.split_once(':') {
            Some((rule, reason)) if !reason.trim().is_empty() => {
                out.push((rule.trim().to_string(), reason.trim().to_string()));
            }
            _ => {
                let message = format!(
                    "annotation {IGNORE_ANNOTATION}: `{item}` needs a reason (`RULE: why`)"
                );
                return Some(Err((entry.value.clone(), message)));
            }
        }
    }
    Some(Ok(out))
}

/// Problems in ignore annotations (a suppression without a reason is an error).
#[must_use]
pub fn annotation_problems(inventory: &Inventory) -> Vec<Problem> {
    inventory
        .objects
        .iter()
        .filter_map(|o| match annotation_entries(o)? {
            Err((node, message)) => Some(Problem::new(
                inventory.source(o).display.clone(),
                Some(node.span.start),
                message,
            )),
            Ok(_) => None,
        })
        .collect()
}

/// Why a finding on an object is suppressed, if it is.
pub fn suppression(finding: &Finding, object: &Object, exceptions: &Exceptions) -> Option<String> {
    if let Some(Ok(entries)) = annotation_entries(object) {
        if let Some((_, reason)) = entries.iter().find(|(rule, _)| names_rule(rule, finding)) {
            return Some(reason.clone());
        }
    }
    exceptions.reason_for(finding).map(String::from)
}
