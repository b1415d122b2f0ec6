//! Template `unused-suppression`: an `mtk-lint.dev/ignore` entry or a config exception that
//! accepted no finding although the rule it names ran.
//!
//! Whether a suppression was used is known only once every other rule has reported, so this
//! rule's `check` reports nothing: `check_with` (lib.rs) makes its findings after the evaluation,
//! from the suppressions the evaluation recorded as used (`eval::suppress::unused`), when this
//! rule is enabled and selected. Entries naming a rule that did not run (disabled, not
//! selected) are not judged.

use serde::Deserialize;

use crate::engine::{Context, Sink};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Params {}

super::tree_template!(UnusedSuppression);

fn check(_params: &Params, _cx: &Context<'_>, _sink: &mut Sink) {}
