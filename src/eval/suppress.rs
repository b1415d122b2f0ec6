//! Suppressions: findings accepted on purpose, always with a reason.
//!
//! - The annotation `mtk-lint.dev/ignore` on an object: one `RULE: reason` per line (or `;`).
//! - `exceptions` in the config: a rule, a path glob and/or a resource, and a reason.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use globset::{GlobBuilder, GlobMatcher};

use crate::config::Exception;
use crate::engine::kyverno::wildcard;
use crate::error::Problem;
use crate::finding::{Finding, ResourceRef};
use crate::inventory::{Inventory, Object};
use crate::load::source::SourceFile;
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

    /// The first exception that accepts the finding: its index and reason.
    fn reason_for(&self, finding: &Finding) -> Option<(usize, &str)> {
        self.entries.iter().enumerate().find_map(|(i, (e, glob))| {
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
            Some((i, e.reason.as_str()))
        })
    }
}

impl Exceptions {
    /// Whether exception `i` covers anything linted in this run: an object in a file its `path`
    /// matches and named as its `resource` matches. One that covers nothing (a config shared by
    /// runs over other paths) cannot be judged stale.
    fn reaches(&self, i: usize, inventory: &Inventory) -> bool {
        let Some((exception, glob)) = self.entries.get(i) else { return false };
        inventory.objects.iter().any(|o| {
            let in_path = glob.as_ref().is_none_or(|g| {
                let path = inventory.source(o).path.as_deref();
                path.and_then(|p| p.strip_prefix(&self.base).ok())
                    .is_some_and(|rel| g.is_match(rel))
            });
            let named = exception
                .resource
                .as_ref()
                .is_none_or(|r| wildcard::matches(r, &o.resource_ref().to_string()));
            in_path && named
        })
    }
}

/// What accepted a finding: an entry of an object's ignore annotation, or a config exception.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SuppressedBy {
    Annotation { object: usize, entry: usize },
    Exception(usize),
}

fn names_rule(id: &str, finding: &Finding) -> bool {
    id.eq_ignore_ascii_case(&finding.rule)
        || id.eq_ignore_ascii_case(&finding.name)
        || finding.policy.as_deref().is_some_and(|p| id == p || names_autogen(id, p, &finding.name))
}

/// Whether `policy/rule` names an autogen rule of that rule (`autogen-rule`,
/// `autogen-cronjob-rule`), as Kyverno names the rules it generates for pod controllers.
fn names_autogen(id: &str, policy: &str, rule: &str) -> bool {
    let Some((p, r)) = id.split_once('/') else { return false };
    let base = rule.strip_prefix("autogen-cronjob-").or_else(|| rule.strip_prefix("autogen-"));
    p == policy && base == Some(r)
}

/// The (rule, reason) entries of an object's ignore annotation.
/// (rule, reason) pairs of an annotation, or the node and message of what is wrong with it.
type Entries = Result<Vec<(String, String)>, (Node, String)>;

/// The objects with an ignore annotation, in order (a fleet has tens of thousands of objects
/// and few annotations).
fn annotated(inventory: &Inventory) -> Vec<&Object> {
    inventory.matching(|o| ignore_annotation(o).is_some())
}

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

/// Problems in ignore annotations: a suppression without a reason, or naming a rule that
/// `known` does not know (a typo would silently suppress nothing).
#[must_use]
pub fn annotation_problems(inventory: &Inventory, known: &dyn Fn(&str) -> bool) -> Vec<Problem> {
    let mut problems = Vec::new();
    for o in annotated(inventory) {
        let problem = |node: &Node, message: String| {
            Problem::new(inventory.source(o).display.clone(), Some(node.span.start()), message)
        };
        match annotation_entries(o) {
            None => {}
            Some(Err((node, message))) => problems.push(problem(&node, message)),
            Some(Ok(entries)) => {
                let Some(node) = ignore_annotation(o) else { continue };
                for (rule, _) in entries.iter().filter(|(rule, _)| !known(rule)) {
                    let message = format!(
                        "annotation {IGNORE_ANNOTATION}: unknown rule `{rule}` (a rule code or name, \
                         a Kyverno policy, or `policy/rule`)"
                    );
                    problems.push(problem(node, message));
                }
            }
        }
    }
    problems
}

/// Exceptions of the config naming a rule that `known` does not know, at their line.
#[must_use]
pub fn exception_problems(
    config: &crate::config::LoadedConfig,
    known: &dyn Fn(&str) -> bool,
) -> Vec<Problem> {
    let file = config.file.clone().unwrap_or_default();
    config
        .config
        .exceptions
        .iter()
        .enumerate()
        .filter(|(_, e)| !known(&e.rule))
        .map(|(i, e)| {
            let at = config.exception_spans.get(i).map(|s| s.start());
            let message = format!(
                "config: exception for unknown rule `{}` (a rule code or name, a Kyverno policy, \
                 or `policy/rule`)",
                e.rule
            );
            Problem::new(file.clone(), at, message)
        })
        .collect()
}

/// The value node of an object's ignore annotation.
fn ignore_annotation(object: &Object) -> Option<&Node> {
    object.root.at(&["metadata", "annotations"])?.get(IGNORE_ANNOTATION)
}

/// Why a finding on an object is suppressed, if it is, and by what.
#[must_use]
pub fn suppression(
    finding: &Finding,
    object: &Object,
    exceptions: &Exceptions,
) -> Option<(String, SuppressedBy)> {
    if let Some(Ok(entries)) = annotation_entries(object) {
        if let Some(entry) = entries.iter().position(|(rule, _)| names_rule(rule, finding)) {
            let by = SuppressedBy::Annotation { object: object.index, entry };
            return Some((entries[entry].1.clone(), by));
        }
    }
    exceptions
        .reason_for(finding)
        .map(|(i, reason)| (reason.to_string(), SuppressedBy::Exception(i)))
}

/// Findings of the unused-suppression rule, when it runs: every suppression that accepted
/// nothing although the rule it names ran (stale ones hide nothing today and would hide a new
/// problem tomorrow). They need every other rule's findings, so they are made after the
/// evaluation, from the suppressions it recorded as `used`.
#[must_use]
pub fn unused(
    rules: &[super::ActiveRule],
    inventory: &Inventory,
    config: &crate::config::LoadedConfig,
    exceptions: &Exceptions,
    used: &std::collections::BTreeSet<SuppressedBy>,
) -> Vec<Finding> {
    use crate::engine::builtin::UNUSED_SUPPRESSION;
    let Some(active) = rules.iter().find(|r| r.rule.meta().code == UNUSED_SUPPRESSION) else {
        return Vec::new();
    };
    // An entry for this rule itself is never judged: its findings are not suppressible.
    let ran = |id: &str| {
        rules.iter().any(|r| r.rule.meta().code != UNUSED_SUPPRESSION && r.rule.answers_to(id))
    };
    let meta = active.rule.meta();
    let finding = |rule: &str, source: &Arc<SourceFile>, span, document, path, resource| Finding {
        rule: Arc::from(meta.code.as_str()),
        name: Arc::from(meta.name.as_str()),
        severity: active.severity,
        message: format!(
            "suppression of `{rule}` accepted no finding: the rule ran and reported nothing here"
        ),
        help: Some(meta.help.clone()),
        source: Arc::clone(source),
        span,
        document,
        path,
        resource,
        policy: None,
        suppressed: None,
        tenant: None,
        units: Arc::from([]),
    };
    let mut out = Vec::new();
    for o in annotated(inventory) {
        let (Some(Ok(entries)), Some(node)) = (annotation_entries(o), ignore_annotation(o)) else {
            continue;
        };
        for (entry, (rule, _)) in entries.iter().enumerate() {
            if ran(rule) && !used.contains(&SuppressedBy::Annotation { object: o.index, entry }) {
                let path = "/metadata/annotations/mtk-lint.dev~1ignore".to_string();
                let source = inventory.source(o);
                let resource = Arc::new(o.resource_ref());
                let mut f = finding(rule, source, node.span, o.document, path, resource);
                f.tenant = super::tenant_name(inventory, o);
                out.push(f);
            }
        }
    }
    let Some(source) = &config.source else { return out };
    for (i, e) in config.config.exceptions.iter().enumerate() {
        if ran(&e.rule)
            && !used.contains(&SuppressedBy::Exception(i))
            && exceptions.reaches(i, inventory)
        {
            let span = config.exception_spans.get(i).copied().unwrap_or_default();
            let config_ref = ResourceRef {
                api_version: "mtk-lint.dev/v1".into(),
                kind: "Config".into(),
                namespace: String::new(),
                name: source.display.clone(),
            };
            out.push(finding(
                &e.rule,
                source,
                span,
                0,
                format!("/exceptions/{i}/rule"),
                Arc::new(config_ref),
            ));
        }
    }
    out
}
