//! Go's `text/template`, natively: the engine Helm charts (and Argo CD `goTemplate`
//! ApplicationSets) are written for. Lexer ([`lex`]) and parser ([`parse`]) keep the byte
//! offset of every node; the executor ([`exec`]) follows Go's semantics — truth, scoping,
//! `missingkey`, printing ([`format`], Go's `fmt`) — and writes errors as Go does, with the
//! template's name, line and column. Go's builtins are in [`builtins`].
//!
//! Why not a crate: `gtmpl` (0.7.1, the Rust port of Go templates) passes 146 of the 203
//! deterministic cases of Go's own `text/template` tests in the shared corpus, and keeps no
//! position for what it writes; see ARCHITECTURE.md.

mod builtins;
pub mod exec;
pub mod format;
mod lex;
mod parse;
pub mod sprig;
pub mod value;

pub use exec::{Error, Exec, Func, Funcs, Mark, Skip, Source, Templates, Written};
pub use value::Value;

/// Renders one template with `data` and Go's builtins (plus `funcs`).
pub fn render(name: &str, text: &str, data: &Value, funcs: &Funcs) -> Result<String, Error> {
    let mut set = Templates::default();
    set.parse(name, text, funcs)?;
    set.execute(name, data, funcs)
}

#[cfg(test)]
mod tests;
