//! A finding is plain data: what is wrong, where, and in which object. Rendering is the
//! report stage's job.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::load::source::{SourceFile, Span};

/// How serious a finding is. Ordered: `Info < Warning < Error`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// The object a finding is about.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ResourceRef {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub kind: String,
    /// Effective namespace; empty for cluster-scoped objects.
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{}/{}", self.kind, self.name)
        } else {
            write!(f, "{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// One violation of one rule by one object.
#[derive(Clone, Debug)]
pub struct Finding {
    /// Rule code, e.g. `MTK-SEC-001` (for a Kyverno policy: `policy/rule`).
    pub rule: Arc<str>,
    /// Rule name, e.g. `privileged-container`.
    pub name: Arc<str>,
    pub severity: Severity,
    pub message: String,
    /// One line on how to fix it.
    pub help: Option<String>,
    pub source: Arc<SourceFile>,
    /// Where the offending field is.
    pub span: Span,
    /// 0-based index of the document in its file.
    pub document: usize,
    /// JSON pointer to the offending field (or the parent that lacks one).
    pub path: String,
    /// Shared by the findings on one object.
    pub resource: Arc<ResourceRef>,
    /// The Kyverno policy the finding comes from, for policy findings.
    pub policy: Option<Arc<str>>,
    /// Why the finding is accepted, when a suppression covers it.
    pub suppressed: Option<String>,
    /// The tenant that owns the object's namespace.
    pub tenant: Option<Arc<str>>,
    /// For a finding on rendered objects: the build units that render it (one finding stands
    /// for the same cause in every unit), each with the entries that led to the object.
    /// Shared with the object's other findings (a policy library reports hundreds of thousands).
    pub units: Arc<[Trace]>,
}

/// A build unit a finding was found in, and how the unit reaches the object's file: its
/// cluster entry (a Flux Kustomization's `spec.path`), then each kustomization's `resources`
/// entry, outermost first.
#[derive(Clone, Debug)]
pub struct Trace {
    pub unit: Arc<str>,
    /// The cluster that receives what the unit builds (named by its top unit).
    pub cluster: Arc<str>,
    pub via: Arc<[Location]>,
}

/// A place in a file.
#[derive(Clone, Debug)]
pub struct Location {
    pub source: Arc<SourceFile>,
    pub span: Span,
}

/// What a report says about a rule (SARIF `tool.driver.rules`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleInfo {
    /// `MTK-SEC-001`, or `policy/rule` for a Kyverno policy.
    pub id: String,
    pub name: String,
    pub short: String,
    pub full: String,
    /// The rule's documentation (Markdown), when it has one.
    pub help_markdown: Option<String>,
    pub help_uri: Option<String>,
    pub severity: Severity,
}

impl Finding {
    /// How reports name the rule: `MTK-SEC-001 privileged-container` for a built-in rule; a
    /// policy's finding is already named in full (`policy/rule`, or the policy for the CEL
    /// policy kinds), so once.
    #[must_use]
    pub fn title(&self) -> String {
        if self.policy.is_some() || self.name.is_empty() {
            self.rule.to_string()
        } else {
            format!("{} {}", self.rule, self.name)
        }
    }

    /// Whether `other` is the same finding: the same rule and message at the same place (a base
    /// that two build units render violates once).
    #[must_use]
    pub fn same_cause(&self, other: &Finding) -> bool {
        self.rule == other.rule
            && self.span == other.span
            && self.source.display == other.source.display
            && self.message == other.message
            && self.suppressed == other.suppressed
    }

    /// Order of output: file, line, column, rule.
    #[must_use]
    pub fn sort_key(&self) -> (&str, u32, u32, &str, &str) {
        (
            &self.source.display,
            self.span.start().line,
            self.span.start().col,
            &self.rule,
            &self.path,
        )
    }
}
