//! The progress bar on stderr: drawn only on a terminal, outside CI, without `--quiet`, and
//! only once a run has lasted long enough to be worth watching.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::progress::{Progress, Stage};

/// Runs shorter than this never show a bar (no flicker on small trees).
const DELAY: Duration = Duration::from_millis(400);

/// Whether to draw a bar: not asked to be quiet, stderr is a terminal, and not in CI
/// (`CI` set to anything but empty or `false`, as CI services do).
pub(super) fn wanted(quiet: bool, stderr_is_terminal: bool, ci: Option<&str>) -> bool {
    let in_ci = ci.is_some_and(|v| !v.is_empty() && !v.eq_ignore_ascii_case("false"));
    !quiet && stderr_is_terminal && !in_ci
}

/// An indicatif bar that stays hidden until [`DELAY`] has passed.
pub(super) struct Bar {
    inner: ProgressBar,
    started: Instant,
    visible: AtomicBool,
}

impl Bar {
    pub(super) fn new() -> Self {
        let bar = ProgressBar::hidden();
        let style = ProgressStyle::with_template(
            "{msg:>9} [{bar:30.cyan/blue}] {human_pos}/{human_len} ({elapsed})",
        )
        .map_or_else(|_| ProgressStyle::default_bar(), |s| s.progress_chars("=> "));
        bar.set_style(style);
        Bar { inner: bar, started: Instant::now(), visible: AtomicBool::new(false) }
    }

    /// Removes the bar before the reports are written.
    pub(super) fn clear(&self) {
        self.inner.finish_and_clear();
    }

    fn reveal_when_due(&self) {
        if !self.visible.load(Ordering::Relaxed)
            && self.started.elapsed() >= DELAY
            && !self.visible.swap(true, Ordering::Relaxed)
        {
            self.inner.set_draw_target(ProgressDrawTarget::stderr());
        }
    }
}

impl Progress for Bar {
    fn start(&self, stage: Stage, total: u64) {
        self.inner.set_message(stage.label());
        self.inner.set_length(total);
        self.inner.set_position(0);
        self.reveal_when_due();
    }

    fn advance(&self, n: u64) {
        self.inner.inc(n);
        self.reveal_when_due();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_is_only_for_people_at_a_terminal() {
        assert!(wanted(false, true, None));
        assert!(wanted(false, true, Some("")));
        assert!(wanted(false, true, Some("false")));
        assert!(!wanted(true, true, None), "--quiet hides it");
        assert!(!wanted(false, false, None), "not on a pipe or file");
        assert!(!wanted(false, true, Some("true")), "not in CI");
        assert!(!wanted(false, true, Some("1")), "not in CI");
    }

    #[test]
    fn the_bar_counts_what_the_pipeline_reports() {
        let bar = Bar::new();
        bar.start(Stage::Load, 10);
        bar.advance(3);
        bar.advance(4);
        assert_eq!(bar.inner.position(), 7);
        assert_eq!(bar.inner.length(), Some(10));
        bar.start(Stage::Check, 5);
        assert_eq!(bar.inner.position(), 0);
        assert_eq!(bar.inner.message(), "checking");
    }
}
