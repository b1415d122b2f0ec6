//! Errors that are reported to the user next to findings. Findings are never errors.

use serde::Serialize;

use crate::load::source::Pos;

/// A file, policy, config or usage problem: the run goes on, and ends with exit code 2.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Problem {
    /// Display path of the file concerned (empty when the problem is not about a file).
    pub file: String,
    /// 1-based line, when the problem has a position.
    pub line: Option<u32>,
    /// 1-based column (in characters), when the problem has a position.
    pub column: Option<u32>,
    pub message: String,
}

impl Problem {
    #[must_use]
    pub fn new(file: impl Into<String>, pos: Option<Pos>, message: impl Into<String>) -> Self {
        Problem {
            file: file.into(),
            line: pos.map(|p| p.line),
            column: pos.map(|p| p.col + 1),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.file.is_empty(), self.line, self.column) {
            (true, _, _) => write!(f, "{}", self.message),
            (false, Some(l), Some(c)) => write!(f, "{}:{l}:{c}: {}", self.file, self.message),
            (false, Some(l), None) => write!(f, "{}:{l}: {}", self.file, self.message),
            (false, None, _) => write!(f, "{}: {}", self.file, self.message),
        }
    }
}
