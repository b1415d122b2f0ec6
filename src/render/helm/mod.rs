//! Helm: the functions Helm adds to Go templates and sprig ([`funcs`]), `toYaml` as Helm
//! writes YAML ([`toyaml`]). Charts and `helm template` come next (issue 18).

pub mod build;
pub mod chart;
mod durations;
pub mod engine;
pub mod funcs;
pub mod template;
mod toyaml;
