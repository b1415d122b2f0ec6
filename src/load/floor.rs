//! The parse-only floor for benchmarks: walk, read and parse every document into a
//! `serde_json::Value`, in parallel, and nothing else — no spans, no inventory, no rules.
//!
//! `mtk-lint --parse-only PATH...` runs it; `scripts/bench.sh` compares a full lint with it.
//! It uses the same walker and the same YAML parser as the real loader, so the ratio between
//! the two measures what mtk-lint adds on top of parsing.

use std::path::Path;

use rayon::prelude::*;
use saphyr_parser::{Event, Parser};
use serde_json::{Map, Value};

use super::{discover, LoadOptions};

/// What the floor read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FloorCount {
    pub files: usize,
    pub bytes: u64,
    pub documents: usize,
    /// Files that could not be read or parsed.
    pub errors: usize,
}

/// Parses every file the loader would read into JSON values and counts them.
#[must_use]
pub fn parse_only(options: &LoadOptions, cwd: &Path) -> FloorCount {
    let (candidates, problems) =
        discover::discover(&options.inputs, cwd, &options.excludes, options.follow_links);
    let counts: Vec<FloorCount> = candidates
        .par_iter()
        .with_max_len(super::PARALLEL_FILES)
        .map(|c| match std::fs::read_to_string(&c.path) {
            Ok(text) => match parse_documents(&text) {
                Some(docs) => FloorCount {
                    files: 1,
                    bytes: text.len() as u64,
                    documents: docs.len(),
                    errors: 0,
                },
                None => FloorCount { files: 1, bytes: text.len() as u64, documents: 0, errors: 1 },
            },
            Err(_) => FloorCount { files: 1, errors: 1, ..FloorCount::default() },
        })
        .collect();
    counts.into_iter().fold(
        FloorCount { errors: problems.len(), ..FloorCount::default() },
        |a, c| FloorCount {
            files: a.files + c.files,
            bytes: a.bytes + c.bytes,
            documents: a.documents + c.documents,
            errors: a.errors + c.errors,
        },
    )
}

/// The documents of a YAML stream as JSON values; `None` on a syntax error. Aliases become null
/// (the floor only has to do the parser's work).
#[must_use]
pub fn parse_documents(text: &str) -> Option<Vec<Value>> {
    enum Frame {
        Seq(Vec<Value>),
        Map(Map<String, Value>, Option<String>),
    }
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut root = None;
    for event in Parser::new_from_str(text) {
        let (event, _) = event.ok()?;
        let done = match event {
            Event::DocumentStart(_) => {
                stack.clear();
                root = None;
                continue;
            }
            Event::DocumentEnd => {
                docs.push(root.take().unwrap_or(Value::Null));
                continue;
            }
            Event::SequenceStart(..) => {
                stack.push(Frame::Seq(Vec::new()));
                continue;
            }
            Event::MappingStart(..) => {
                stack.push(Frame::Map(Map::new(), None));
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop()? {
                Frame::Seq(items) => Value::Array(items),
                Frame::Map(map, _) => Value::Object(map),
            },
            Event::Scalar(text, style, _, tag) => {
                // Resolved as the real loader resolves scalars (Kubernetes' YAML 1.1 rules).
                // Moved into JSON, not copied: the floor must not do more work than it has to.
                match super::yaml::resolve_scalar(text, style, tag.as_deref()) {
                    super::yaml::Value::Str(s) => Value::String(s.as_str().to_owned()),
                    value => {
                        super::yaml::Node { span: super::source::Span::default(), value }.to_json()
                    }
                }
            }
            Event::Alias(_) => Value::Null,
            Event::StreamStart | Event::StreamEnd | Event::Nothing => continue,
        };
        match stack.last_mut() {
            None => root = Some(done),
            Some(Frame::Seq(items)) => items.push(done),
            Some(Frame::Map(map, key)) => match key.take() {
                None => {
                    *key = Some(match done {
                        Value::String(s) => s,
                        other => other.to_string(),
                    });
                }
                Some(k) => {
                    map.insert(k, done);
                }
            },
        }
    }
    Some(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_become_json_values() {
        let docs = parse_documents("a: 1\nb: [x, 'y', true, ~]\n---\n- {c: 2.5}\n").unwrap();
        assert_eq!(
            docs,
            [
                serde_json::json!({"a": 1, "b": ["x", "y", true, null]}),
                serde_json::json!([{"c": 2.5}]),
            ]
        );
        assert_eq!(
            parse_documents("a: yes\nb: 0755\n").unwrap(),
            [serde_json::json!({"a": true, "b": 493})]
        );
        assert_eq!(parse_documents("a: [1\n"), None);
    }
}
