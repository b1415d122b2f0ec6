//! Stage 2 — render: build units (Kustomize, Flux, Argo CD) into the objects the cluster
//! receives, every field keeping the file and span that supplied it. Design: docs/RENDER.md.
//!
//! Built so far: the tagged tree that carries provenance through a build ([`tree`]) and the
//! patch engines ([`patch`]: strategic merge, JSON 6902), and a first slice of `kustomize build`
//! ([`kustomize`]) measured against kustomize's own tests (docs/CONFORMANCE.md). Not yet wired
//! into `check`.

pub mod emit;
mod generators;
pub mod kustomize;
pub mod namereference;
pub mod order;
pub mod patch;
pub mod tree;
