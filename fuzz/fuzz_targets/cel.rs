//! CEL as policies use it: the text before the first `\n---\n` is the expression, the rest is
//! the YAML object it sees as `object` (every library, optionals, macros, the step budget).
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use mtk_lint::engine::cel::{eval, parse, Env, Val};
use mtk_lint::load::{self, Limits};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (expression, rest) = text.split_once("\n---\n").unwrap_or((text, ""));
    let Ok(expr) = parse(expression) else { return };
    let limits = Limits { max_depth: 64, max_alias_nodes: 10_000, ..Limits::default() };
    let object = match load::parse_text("fuzz.yaml", rest, &limits) {
        (Some(file), _) => file.documents.first().map(|d| d.root.to_json()),
        _ => None,
    };
    let mut vars = BTreeMap::new();
    vars.insert("object".to_string(), Val::from_json(&object.unwrap_or(serde_json::Value::Null)));
    let mut env = Env::new(&vars, 100_000).with_regex_size(1 << 16);
    let _ = eval(&expr, &mut env);
});
