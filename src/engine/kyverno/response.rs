//! What a rule answers for one resource: Kyverno's statuses.

/// A rule's outcome for one resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    Pass,
    Fail,
    Skip,
    Error,
    Warn,
}

impl Status {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skip => "skip",
            Status::Error => "error",
            Status::Warn => "warn",
        }
    }
}

/// The response of one rule to one resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleResponse {
    pub rule: String,
    pub status: Status,
    pub message: String,
    /// Where a pattern failed, as path segments from the resource root.
    pub path: Option<Vec<String>>,
}
