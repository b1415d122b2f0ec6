//! Stage 2 — render: build units (Kustomize, Flux, Argo CD) into the objects the cluster
//! receives, every field keeping the file and span that supplied it. Design: docs/RENDER.md.
//!
//! Built so far: the tagged tree that carries provenance through a build ([`tree`]) and the
//! patch engines ([`patch`]: strategic merge, JSON 6902).

pub mod patch;
pub mod tree;
