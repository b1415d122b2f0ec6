//! Helm: the functions Helm adds to Go templates and sprig ([`funcs`]), `toYaml` as Helm
//! writes YAML ([`toyaml`]), charts ([`chart`]) and their rendering ([`engine`]), `helm
//! template` ([`template`]), a chart as a build unit ([`build`]), a Flux HelmRelease's
//! release of one ([`release`]) and an Argo CD Helm source ([`argo`]).

pub mod argo;
pub mod build;
pub mod chart;
mod durations;
pub mod engine;
pub mod funcs;
pub mod release;
pub mod schema;
pub mod template;
mod toml;
mod toyaml;
