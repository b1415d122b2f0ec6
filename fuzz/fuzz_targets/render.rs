//! The renderer: a small tree of files (NUL-separated: the top kustomization, a base
//! kustomization, a base resource, a patch, an env file) built as `kustomize build` would.
//! Must never panic; what it builds must be written as YAML that reads back as the same data,
//! and every field's source must be a file the build read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mtk_lint::load::Limits;
use mtk_lint::render::kustomize::{build, Disk};
use mtk_lint::render::{emit, tree};

const PATHS: [&str; 5] =
    ["kustomization.yaml", "base/kustomization.yaml", "base/a.yaml", "patch.yaml", "base/b.env"];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let files: Vec<(std::path::PathBuf, String)> =
        PATHS.iter().zip(text.split('\0')).map(|(p, t)| (p.into(), t.to_string())).collect();
    let limits = Limits { max_depth: 64, max_alias_nodes: 10_000, ..Limits::default() };
    let disk = Disk::in_memory(files, limits);
    let Ok(objects) = build(&disk, std::path::Path::new(".")) else { return };
    let written = emit::yaml(&objects, None);
    let back = tree::parse_stream_trees(&written, &limits);
    let want: Vec<_> = objects.iter().map(tree::Tree::to_json).collect();
    let got: Vec<_> = back.iter().map(tree::Tree::to_json).collect();
    assert_eq!(got, want, "{written}");
    for t in objects {
        let (_, origins) = t.into_node();
        for o in origins {
            assert!(!disk.shown(o.file).is_empty(), "{o:?}");
        }
    }
});
