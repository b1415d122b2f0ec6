//! JMESPath as Kyverno evaluates it: the first line is the expression, the rest is the YAML
//! document it is evaluated against (every function, projections, slices, comparisons).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mtk_lint::engine::kyverno::jmespath;
use mtk_lint::load::{self, Limits};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (expression, rest) = text.split_once('\n').unwrap_or((text, ""));
    let limits = Limits { max_depth: 64, max_alias_nodes: 10_000, ..Limits::default() };
    let data = match load::parse_text("fuzz.yaml", rest, &limits) {
        (Some(file), _) => file.documents.first().map(|d| d.root.to_json()),
        _ => None,
    };
    let _ = jmespath::search(expression, &data.unwrap_or(serde_json::Value::Null));
});
