//! Built-in rules: Rust templates instantiated from the data in `rules/<name>/rule.yaml`.
//!
//! A rule folder holds `rule.yaml` (code, name, severity, template and its parameters),
//! `README.md` (the rule's documentation) and its test fixtures. The folders are embedded in the
//! binary by [`RULE_FOLDERS`]; a consistency test checks it lists every folder of `rules/`.

mod missing_default_deny;
pub mod pod;
mod privileged_container;

use serde::Deserialize;

use super::{Rule, RuleMeta};
use crate::finding::Severity;
use crate::load::{de, Limits, Node};

/// An embedded rule folder.
pub struct RuleFolder {
    pub dir: &'static str,
    pub rule_yaml: &'static str,
    pub readme: &'static str,
}

macro_rules! rule_folders {
    ($($dir:literal),* $(,)?) => {
        /// Every folder of `rules/`, embedded.
        pub const RULE_FOLDERS: &[RuleFolder] = &[$(RuleFolder {
            dir: $dir,
            rule_yaml: include_str!(concat!("../../../rules/", $dir, "/rule.yaml")),
            readme: include_str!(concat!("../../../rules/", $dir, "/README.md")),
        }),*];
    };
}

rule_folders!["missing-default-deny", "privileged-container"];

type Instantiate = fn(RuleMeta, Option<&Node>) -> Result<Box<dyn Rule>, de::DeError>;

/// The Rust templates a `rule.yaml` can name.
pub const TEMPLATES: &[(&str, Instantiate)] = &[
    ("missing-default-deny", missing_default_deny::instantiate),
    ("privileged-container", privileged_container::instantiate),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RuleFile {
    code: String,
    name: String,
    severity: Severity,
    template: String,
    summary: String,
    help: String,
    #[serde(default = "yes")]
    enabled_by_default: bool,
    #[serde(default)]
    #[allow(dead_code, reason = "read by the template from the node itself")]
    params: Option<serde::de::IgnoredAny>,
}

fn yes() -> bool {
    true
}

/// Instantiates one rule folder.
pub fn instantiate(folder: &RuleFolder) -> Result<Box<dyn Rule>, String> {
    let where_ = format!("rules/{}/rule.yaml", folder.dir);
    let mut parsed = crate::load::yaml::parse_stream(folder.rule_yaml, &Limits::default());
    if let Some(p) = parsed.problems.first() {
        return Err(format!("{where_}:{}: {}", p.pos.line, p.message));
    }
    let root = parsed.documents.pop().ok_or_else(|| format!("{where_}: empty"))?.root;
    let at = |e: de::DeError| format!("{where_}:{}: {}", e.pos.map_or(0, |p| p.line), e.message);
    let file: RuleFile = de::from_node(&root).map_err(at)?;
    let meta = RuleMeta {
        code: file.code,
        name: file.name,
        severity: file.severity,
        summary: file.summary,
        help: file.help,
        enabled_by_default: file.enabled_by_default,
        docs: folder.readme,
    };
    let (_, make) = TEMPLATES
        .iter()
        .find(|(name, _)| *name == file.template)
        .ok_or_else(|| format!("{where_}: unknown template `{}`", file.template))?;
    make(meta, root.get("params")).map_err(at)
}

/// Every built-in rule, in catalogue order (by code).
pub fn all() -> Result<Vec<Box<dyn Rule>>, String> {
    let mut rules = RULE_FOLDERS.iter().map(instantiate).collect::<Result<Vec<_>, _>>()?;
    rules.sort_by(|a, b| a.meta().code.cmp(&b.meta().code));
    Ok(rules)
}

/// Reads a template's parameters (absent parameters take their defaults).
fn params<'a, T: Deserialize<'a> + Default>(node: Option<&'a Node>) -> Result<T, de::DeError> {
    match node {
        Some(n) if !n.is_null() => de::from_node(n),
        _ => Ok(T::default()),
    }
}
