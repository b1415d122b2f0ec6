//! All integration tests, in one binary (ripgrep style).

mod action;
mod adopt;
mod app_of_apps;
mod cli;
mod comforts;
mod fleet;
mod fleetgen;
mod formats;
mod harness;
mod hostile;
mod injection;
mod installer;
mod load;
mod order;
mod policies;
mod render;
mod rendered;
mod report;
mod report_props;
mod rules;
mod support;
mod suppress;
mod tenancy;
