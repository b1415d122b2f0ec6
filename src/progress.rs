//! Progress and timing: the library says where it is, the caller decides what to show.
//!
//! [`Progress`] is the hook the pipeline calls while it works (files read, objects checked);
//! the CLI draws a bar from it on a terminal, tests count with it, and everyone else passes
//! [`Silent`]. [`Stats`] records what a run did and how long each stage took (`--stats`).

use std::fmt;
use std::time::Duration;

/// A stage whose work can be counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading and parsing files (counted in files).
    Load,
    /// Running the rules (counted in objects).
    Check,
}

impl Stage {
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Stage::Load => "reading",
            Stage::Check => "checking",
        }
    }
}

/// Receives progress from the pipeline. Called from worker threads, so it must be `Sync`;
/// calls must be cheap (one per file or object).
pub trait Progress: Sync {
    /// A stage begins with `total` units of work.
    fn start(&self, _stage: Stage, _total: u64) {}
    /// `n` more units of the current stage are done.
    fn advance(&self, _n: u64) {}
    /// The current stage is over.
    fn finish(&self) {}
}

/// Shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {}

/// What a run did and how long each stage took.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub files: usize,
    /// Bytes read from files and stdin.
    pub bytes: u64,
    pub documents: usize,
    pub objects: usize,
    pub builtin_rules: usize,
    pub policies: usize,
    pub policy_rules: usize,
    pub findings: usize,
    pub suppressed: usize,
    pub errors: usize,
    pub threads: usize,
    /// Wall time per stage, in pipeline order.
    pub stages: Vec<(&'static str, Duration)>,
}

impl Stats {
    /// Total of the stage times.
    #[must_use]
    pub fn total(&self) -> Duration {
        self.stages.iter().map(|(_, d)| *d).sum()
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "mtk-lint statistics")?;
        let count = |f: &mut fmt::Formatter<'_>, label: &str, n: String| {
            writeln!(f, "  {label:<14}{n:>12}")
        };
        count(f, "files", self.files.to_string())?;
        count(f, "bytes", self.bytes.to_string())?;
        count(f, "documents", self.documents.to_string())?;
        count(f, "objects", self.objects.to_string())?;
        count(f, "rules", self.builtin_rules.to_string())?;
        count(f, "policies", format!("{} ({} rules)", self.policies, self.policy_rules))?;
        count(f, "findings", self.findings.to_string())?;
        count(f, "suppressed", self.suppressed.to_string())?;
        count(f, "errors", self.errors.to_string())?;
        count(f, "threads", self.threads.to_string())?;
        writeln!(f, "  time per stage")?;
        for (stage, took) in &self.stages {
            writeln!(f, "    {stage:<12}{:>10.1} ms", took.as_secs_f64() * 1000.0)?;
        }
        writeln!(f, "    {:<12}{:>10.1} ms", "total", self.total().as_secs_f64() * 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_print_every_count_and_stage_with_a_total() {
        let stats = Stats {
            files: 3,
            bytes: 1200,
            documents: 5,
            objects: 4,
            builtin_rules: 24,
            policies: 2,
            policy_rules: 7,
            findings: 1,
            threads: 2,
            stages: vec![
                ("load", Duration::from_millis(2)),
                ("rules", Duration::from_micros(1500)),
            ],
            ..Stats::default()
        };
        let text = stats.to_string();
        assert!(text.contains("  files                    3\n"), "{text}");
        assert!(text.contains("  policies       2 (7 rules)\n"), "{text}");
        assert!(text.contains("    load               2.0 ms\n"), "{text}");
        assert!(text.contains("    rules              1.5 ms\n"), "{text}");
        assert!(text.contains("    total              3.5 ms\n"), "{text}");
    }
}
