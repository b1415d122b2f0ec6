//! Adopting mtk-lint on a repository that already has findings: a baseline of accepted
//! findings (`--baseline`, `--write-baseline`) and the files a change touched
//! (`--changed-from`). Both act on a finished run's outcome, so whole-tree rules have seen the
//! whole tree.

pub mod baseline;
pub mod changed;
