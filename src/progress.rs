//! Progress and timing: the library says where it is, the caller decides what to show.
//!
//! [`Progress`] is the hook the pipeline calls while it works (files read, objects checked);
//! the CLI draws a bar from it on a terminal, tests count with it, and everyone else passes
//! [`Silent`]. [`Stats`] records what a run did and how long each stage took (`--stats`).

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

/// What a run did beyond its [`Summary`](crate::Summary) counts, and how long each stage took.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes read from files and stdin.
    pub bytes: u64,
    pub builtin_rules: usize,
    pub policies: usize,
    pub policy_rules: usize,
    pub threads: usize,
    /// JMESPath and CEL steps of the run (`eval-steps-total` bounds them).
    pub evaluation_steps: u64,
    /// Wall time per stage, in pipeline order.
    pub stages: Vec<(&'static str, Duration)>,
}

impl Stats {
    /// Total of the stage times.
    #[must_use]
    pub fn total(&self) -> Duration {
        self.stages.iter().map(|(_, d)| *d).sum()
    }

    /// The `--stats` text: the run's counts and the time of each stage.
    #[must_use]
    pub fn render(&self, outcome: &crate::Outcome) -> String {
        use std::fmt::Write as _;
        let summary = &outcome.summary;
        let mut out = String::from("mtk-lint statistics\n");
        let mut count = |label: &str, n: String| {
            let _ = writeln!(out, "  {label:<14}{n:>12}");
        };
        count("files", summary.files.to_string());
        count("bytes", self.bytes.to_string());
        count("documents", summary.documents.to_string());
        count("objects", summary.resources.to_string());
        count("rules", self.builtin_rules.to_string());
        count("policies", format!("{} ({} rules)", self.policies, self.policy_rules));
        count("findings", summary.findings.to_string());
        count("suppressed", summary.suppressed.to_string());
        count("errors", summary.errors.to_string());
        count("threads", self.threads.to_string());
        count("eval steps", self.evaluation_steps.to_string());
        out.push_str("  time per stage\n");
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        for (stage, took) in &self.stages {
            let _ = writeln!(out, "    {stage:<12}{:>10.1} ms", ms(*took));
        }
        let _ = writeln!(out, "    {:<12}{:>10.1} ms", "total", ms(self.total()));
        if !outcome.skipped_files.is_empty() {
            let _ = writeln!(out, "  skipped files (not linted as objects)");
            for reason in crate::load::skip::SkipReason::ALL {
                let files: Vec<&str> = outcome
                    .skipped_files
                    .iter()
                    .filter(|f| f.reason == reason)
                    .map(|f| f.display.as_str())
                    .collect();
                if files.is_empty() {
                    continue;
                }
                let _ = writeln!(out, "    {} ({}):", reason.label(), files.len());
                for file in files {
                    let _ = writeln!(out, "      {}", crate::report::sanitize::field(file));
                }
            }
        }
        if !outcome.charts.is_empty() {
            let _ = writeln!(out, "  charts not rendered ({}):", outcome.charts.len());
            for chart in &outcome.charts {
                let _ = writeln!(out, "    {}", crate::report::sanitize::field(chart));
            }
        }
        // File paths come from the tree: no line may start a workflow command.
        crate::report::sanitize::lines(&out, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_print_every_count_and_stage_with_a_total() {
        let stats = Stats {
            bytes: 1200,
            builtin_rules: 24,
            policies: 2,
            policy_rules: 7,
            threads: 2,
            evaluation_steps: 12_345,
            stages: vec![
                ("load", Duration::from_millis(2)),
                ("rules", Duration::from_micros(1500)),
            ],
        };
        let summary = crate::Summary {
            files: 3,
            documents: 5,
            resources: 4,
            findings: 1,
            ..Default::default()
        };
        let skipped = |display: &str, reason| crate::load::skip::SkippedFile {
            display: display.into(),
            path: None,
            reason,
        };
        let outcome = crate::Outcome {
            summary,
            skipped_files: vec![
                skipped("a/empty.yaml", crate::load::skip::SkipReason::Empty),
                skipped("charts/t/values.yaml", crate::load::skip::SkipReason::HelmChart),
            ],
            charts: vec!["charts/t".into()],
            ..Default::default()
        };
        let text = stats.render(&outcome);
        assert!(
            text.ends_with(
                "  skipped files (not linted as objects)\n    empty (1):\n      a/empty.yaml\n    \
                 Helm chart sources (1):\n      charts/t/values.yaml\n  charts not rendered (1):\n    \
                 charts/t\n"
            ),
            "{text}"
        );
        assert!(text.contains("  files                    3\n"), "{text}");
        assert!(text.contains("  policies       2 (7 rules)\n"), "{text}");
        assert!(text.contains("    load               2.0 ms\n"), "{text}");
        assert!(text.contains("    rules              1.5 ms\n"), "{text}");
        assert!(text.contains("    total              3.5 ms\n"), "{text}");
    }
}
