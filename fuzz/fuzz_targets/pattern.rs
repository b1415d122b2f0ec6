//! The Kyverno pattern matcher: a YAML stream whose first document is the resource and whose
//! second is the pattern (anchors, operators, wildcards, quantities in any combination).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mtk_lint::engine::kyverno::pattern;
use mtk_lint::load::{self, Limits};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let limits = Limits { max_depth: 64, max_alias_nodes: 10_000, ..Limits::default() };
    let (Some(file), _) = load::parse_text("fuzz.yaml", text, &limits) else { return };
    let [resource, pattern_doc, ..] = file.documents.as_slice() else { return };
    let _ = pattern::match_pattern(&resource.root.to_json(), &pattern_doc.root.to_json());
});
