//! The loader: any bytes, parsed as a YAML stream into span-keeping nodes, then indexed as an
//! inventory. Must never panic, and every span must point into the text: a line the source
//! file has, a column within that line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mtk_lint::load::source::{Pos, SourceFile};
use mtk_lint::load::{self, Limits, Node, Value};

fn check_pos(source: &SourceFile, pos: Pos) {
    // The end of the text may sit on the line after a final line break.
    assert!(pos.line >= 1 && pos.line as usize <= source.line_count() + 1, "{pos:?}");
    let chars = source.line_text(pos.line).chars().count();
    assert!(pos.col as usize <= chars, "{pos:?}: line has {chars} characters");
}

fn check_spans(source: &SourceFile, node: &Node) {
    check_pos(source, node.span.start());
    match &node.value {
        Value::Seq(items) => items.iter().for_each(|n| check_spans(source, n)),
        Value::Map(entries) => entries.iter().for_each(|e| {
            check_pos(source, e.key_span.start());
            check_spans(source, &e.value);
        }),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // Small limits so that the fuzzer meets them.
    let limits = Limits { max_depth: 64, max_alias_nodes: 10_000, ..Limits::default() };
    let (file, _problems) = load::parse_text("fuzz.yaml", text, &limits);
    let Some(file) = file else { return };
    for doc in &file.documents {
        check_spans(&file.source, &doc.root);
        let _ = doc.root.to_json();
    }
    let sources = load::Sources { files: vec![file], ..load::Sources::default() };
    let _ = mtk_lint::inventory::build(sources, &mtk_lint::config::Config::default());
});
