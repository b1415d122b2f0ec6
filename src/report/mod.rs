//! Stage 5 — report: one file per output format.
//!
//! Entry point: [`write`].

pub mod catalog;
mod human;
mod json;

use std::io::{self, Write};

use crate::Outcome;

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Compiler-style diagnostics with source excerpts.
    Human,
    /// Machine-readable JSON (schema in README).
    Json,
}

/// How human output looks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
    /// Also show the findings a suppression accepts.
    pub show_suppressed: bool,
}

/// Writes the outcome in a format.
pub fn write(
    format: Format,
    outcome: &Outcome,
    style: Style,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Human => human::write(outcome, style, out),
        Format::Json => json::write(outcome, style, out),
    }
}
