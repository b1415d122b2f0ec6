//! The Kyverno-compatible engine: ClusterPolicy / Policy validate rules evaluated offline.
//!
//! [`Policy::from_node`] compiles a policy document once; [`Policy::evaluate`] runs it on one
//! resource and returns a response per rule that applied, with Kyverno's statuses
//! (kyverno-compat.md, sections 1–4 and 11). Features not implemented yet make a rule `Error`
//! with a message saying so — never a silent pass.
//!
//! By phase: `compile` (documents to [`Policy`] and [`Rule`], errors at their line), `autogen`
//! (the rules Kyverno derives for pod controllers), `policy` (matching a resource and running
//! the rules), `rule` (one rule: context, preconditions, CEL, then its body), `validate` (deny,
//! patterns, foreach, podSecurity) and `response` (statuses). CEL policy kinds are in `vpol`.

mod autogen;
pub(crate) mod cel;
mod compile;
pub mod conditions;
mod context;
pub mod exception;
mod generate;
mod gpol;
mod ivpol;
pub mod jmespath;
pub mod lint;
pub mod matching;
mod mpol;
mod mutate;
pub mod pattern;
mod policy;
pub mod pss;
pub mod quantity;
mod response;
mod rule;
pub mod semver;
pub mod store;
#[cfg(test)]
mod tests;
mod validate;
pub mod vap;
pub mod variables;
mod vpol;
pub mod wildcard;

pub use context::{ClusterData, Values};
pub use generate::Generated;
pub use matching::UserInfo;
pub use policy::{
    invalid_policy_message, is_policy, string_map, Mutation, Policy, PolicyError, PolicyKind,
    Request,
};
pub use response::{RuleResponse, Status};
pub use rule::Rule;
