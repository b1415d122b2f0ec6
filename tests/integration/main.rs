//! All integration tests, in one binary (ripgrep style).

mod cli;
mod fleet;
mod load;
mod report;
mod rules;
mod support;
