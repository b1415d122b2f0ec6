//! The files changed since a git ref: `git merge-base REF HEAD`, then what differs from that
//! commit in the working tree (`git diff --name-only`, renames as a deletion and an addition)
//! and the untracked files git does not ignore.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use crate::Outcome;

/// Files changed since a ref, as absolute paths.
#[derive(Debug)]
pub struct Changed {
    /// The ref they were compared with, for messages.
    pub reference: String,
    files: HashSet<PathBuf>,
    /// The working directory, for report paths that are relative to it.
    cwd: PathBuf,
}

fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!("`git {}` failed: {}", args.join(" "), err.trim()));
    }
    Ok(out.stdout)
}

/// Lexically normalised: `.` removed, `..` taken back (no file system access).
fn normal(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

impl Changed {
    /// The files changed in the repository at `cwd` since `reference`.
    pub fn since(reference: &str, cwd: &Path) -> Result<Changed, String> {
        if reference.starts_with('-') || reference.is_empty() {
            return Err(format!("`{reference}` is not a git ref"));
        }
        let top = git(cwd, &["rev-parse", "--show-toplevel"])?;
        let top = PathBuf::from(String::from_utf8_lossy(&top).trim_end_matches('\n'));
        let base = git(cwd, &["merge-base", reference, "HEAD"]).map_err(|e| {
            format!(
                "{e} (is `{reference}` fetched? a shallow clone needs the base's history: \
                 actions/checkout with fetch-depth: 0)"
            )
        })?;
        let base = String::from_utf8_lossy(&base).trim().to_string();
        let mut files = HashSet::new();
        let diff = git(&top, &["diff", "--name-only", "--no-renames", "-z", &base, "--"])?;
        let untracked = git(&top, &["ls-files", "--others", "--exclude-standard", "-z"])?;
        for name in diff.split(|&b| b == 0).chain(untracked.split(|&b| b == 0)) {
            if !name.is_empty() {
                files.insert(normal(&top.join(String::from_utf8_lossy(name).as_ref())));
            }
        }
        let cwd = std::fs::canonicalize(cwd).unwrap_or_else(|_| cwd.to_path_buf());
        Ok(Changed { reference: reference.to_string(), files, cwd })
    }

    /// Whether the file a report names (relative to the working directory, or absolute)
    /// changed.
    #[must_use]
    pub fn contains(&self, report_path: &str) -> bool {
        let path = Path::new(report_path);
        let path = if path.is_absolute() { path.to_path_buf() } else { self.cwd.join(path) };
        self.files.contains(&normal(&path))
    }

    /// The report paths among `paths` that changed.
    pub fn of<'a>(&self, paths: impl Iterator<Item = &'a str>) -> HashSet<String> {
        paths.filter(|p| self.contains(p)).map(str::to_string).collect()
    }

    /// Keeps the findings (and suppressed findings) in changed files — where the finding
    /// points or any file of its chain (`via`) — and says how many were left out.
    pub fn filter(&self, outcome: &mut Outcome) {
        let touches = |f: &crate::finding::Finding| {
            self.contains(&f.source.display)
                || f.units.iter().any(|t| t.via.iter().any(|l| self.contains(&l.source.display)))
        };
        let before = outcome.findings.len();
        outcome.findings.retain(|f| touches(f));
        outcome.suppressed.retain(|f| touches(f));
        let left_out = before - outcome.findings.len();
        outcome.summary.findings = outcome.findings.len();
        outcome.summary.suppressed = outcome.suppressed.len();
        if left_out > 0 {
            outcome.warnings.push(format!(
                "--changed-from {}: {left_out} findings in files not changed since then are not \
                 reported",
                self.reference
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_compared_after_normalising() {
        assert_eq!(normal(Path::new("/a/./b/../c.yaml")), PathBuf::from("/a/c.yaml"));
        let changed = Changed {
            reference: "main".into(),
            files: HashSet::from([PathBuf::from("/repo/tenants/a.yaml")]),
            cwd: PathBuf::from("/repo/tenants"),
        };
        assert!(changed.contains("a.yaml"));
        assert!(changed.contains("./a.yaml"));
        assert!(changed.contains("/repo/tenants/a.yaml"));
        assert!(!changed.contains("b.yaml"));
        assert!(Changed::since("--output=x", Path::new(".")).is_err());
    }
}
