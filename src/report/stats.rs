//! Counts of findings per rule and per tenant, largest first: the close of the human report,
//! `--statistics`, and the Markdown summary's tables.

use std::collections::HashMap;
use std::io::{self, Write};

use super::sanitize;
use crate::finding::{Finding, Severity};

/// The tenant column of findings on objects no tenant owns.
pub(super) const NO_TENANT: &str = "(platform / none)";

/// Findings of one rule.
pub(super) struct RuleCount<'a> {
    /// `MTK-SEC-001 privileged-container`, or `policy/rule` for a Kyverno policy.
    pub title: String,
    pub rule: &'a str,
    pub severity: Severity,
    pub count: usize,
}

/// Counts per rule and per tenant, each sorted by count (largest first), then by name.
pub(super) struct Counts<'a> {
    pub rules: Vec<RuleCount<'a>>,
    pub tenants: Vec<(&'a str, usize)>,
}

pub(super) fn counts(findings: &[Finding]) -> Counts<'_> {
    let mut rules: HashMap<&str, RuleCount<'_>> = HashMap::new();
    let mut tenants: HashMap<&str, usize> = HashMap::new();
    for f in findings {
        let entry = rules.entry(&f.rule).or_insert_with(|| RuleCount {
            title: f.title(),
            rule: &f.rule,
            severity: f.severity,
            count: 0,
        });
        entry.count += 1;
        // A rule's findings can differ in severity (a Kyverno rule under two policies' actions):
        // the table shows the highest.
        entry.severity = entry.severity.max(f.severity);
        *tenants.entry(f.tenant.as_deref().unwrap_or(NO_TENANT)).or_default() += 1;
    }
    let mut rules: Vec<RuleCount<'_>> = rules.into_values().collect();
    rules.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.rule.cmp(b.rule)));
    let mut tenants: Vec<(&str, usize)> = tenants.into_iter().collect();
    tenants.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    Counts { rules, tenants }
}

/// `  COUNT  SEVERITY  RULE NAME` per rule, largest first.
pub(super) fn write_rules(counts: &Counts<'_>, out: &mut dyn Write) -> io::Result<()> {
    let width = counts.rules.first().map_or(1, |r| r.count.to_string().len());
    for r in &counts.rules {
        writeln!(
            out,
            "{:>width$}  {:<7}  {}",
            r.count,
            r.severity.as_str(),
            sanitize::field(&r.title)
        )?;
    }
    Ok(())
}

/// `--statistics`: the counts per rule, then per tenant.
pub(super) fn write(findings: &[Finding], out: &mut dyn Write) -> io::Result<()> {
    let counts = counts(findings);
    writeln!(out, "Findings by rule:")?;
    write_rules(&counts, out)?;
    writeln!(out)?;
    writeln!(out, "Findings by tenant:")?;
    let width = counts.tenants.first().map_or(1, |t| t.1.to_string().len());
    for (tenant, n) in &counts.tenants {
        writeln!(out, "{n:>width$}  {}", sanitize::field(tenant))?;
    }
    Ok(())
}
