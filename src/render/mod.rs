//! Stage 2 — render: build units (Kustomize, Flux, Argo CD) into the objects the cluster
//! receives, every field keeping the file and span that supplied it. Design: docs/RENDER.md.
//!
//! The tagged tree that carries provenance through a build ([`tree`]), where builds read files
//! ([`disk`]), the patch engines ([`patch`]: strategic merge, JSON 6902), `kustomize build`
//! ([`kustomize`], measured against kustomize's own tests in docs/CONFORMANCE.md), and the
//! cluster entries that build a path: Flux Kustomizations ([`flux`]) and Argo CD Applications
//! ([`argo`]). A kustomization's `replacements` and builtin `transformers` configs have modules
//! of their own. `inventory::rendered` finds the build units of a tree and builds them for `check`.

pub mod argo;
pub mod children;
pub mod disk;
pub mod emit;
mod envsubst;
mod fields;
mod fieldspec;
pub mod flux;
mod generators;
pub mod gotemplate;
pub mod helm;
pub mod kustomize;
mod merge_keys;
mod metadata;
pub mod namereference;
pub mod openapi;
pub mod order;
pub mod patch;
mod patches;
mod replacements;
mod transformers;
pub mod tree;
mod vars;
mod view;
