//! From a JSON pointer to the span a person should look at.

use crate::load::source::Span;
use crate::load::{Node, Value};

/// The span for the field at `pointer` (RFC 6901) in `root`.
///
/// A mapping entry with a scalar value spans `key: value`; one with a collection value spans its
/// key. A sequence item spans the item. When the path leaves the tree (a missing field), the
/// deepest existing field is used.
#[must_use]
pub fn locate(root: &Node, pointer: &str) -> Span {
    let mut node = root;
    let mut best = root.span;
    if pointer.is_empty() {
        return best;
    }
    for raw in pointer.trim_start_matches('/').split('/') {
        let segment = raw.replace("~1", "/").replace("~0", "~");
        match &node.value {
            Value::Map(entries) => {
                let Some(entry) = entries.iter().find(|e| *e.key == *segment) else {
                    break;
                };
                best = if matches!(entry.value.value, Value::Map(_) | Value::Seq(_)) {
                    entry.key_span
                } else {
                    entry.key_span.to(entry.value.span)
                };
                node = &entry.value;
            }
            Value::Seq(items) => {
                let Some(item) = segment.parse::<usize>().ok().and_then(|i| items.get(i)) else {
                    break;
                };
                best = item.span;
                node = item;
            }
            _ => break,
        }
    }
    best
}

/// Appends a key to a JSON pointer, escaping it.
#[must_use]
pub fn push(pointer: &str, key: &str) -> String {
    let mut out = String::with_capacity(pointer.len() + key.len() + 1);
    out.push_str(pointer);
    out.push('/');
    out.push_str(&key.replace('~', "~0").replace('/', "~1"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::source::Pos;
    use crate::load::yaml::{parse_stream, Limits};

    #[test]
    fn points_at_key_and_scalar_value() {
        let doc = parse_stream(
            "spec:\n  containers:\n  - name: a\n    securityContext:\n      privileged: true\n",
            &Limits::default(),
        );
        let root = &doc.documents[0].root;
        let s = locate(root, "/spec/containers/0/securityContext/privileged");
        assert_eq!(s.start(), Pos { line: 5, col: 6 });
        assert_eq!(s.end(), Pos { line: 5, col: 22 });
        let s = locate(root, "/spec/containers/0/securityContext");
        assert_eq!(s.start(), Pos { line: 4, col: 4 });
        // Missing leaf: the deepest existing field.
        let s = locate(root, "/spec/containers/0/resources/limits");
        assert_eq!(s.start(), Pos { line: 3, col: 4 });
    }

    #[test]
    fn escapes_keys() {
        assert_eq!(push("/metadata/labels", "mtk.io/tenant"), "/metadata/labels/mtk.io~1tenant");
        let doc = parse_stream("metadata:\n  labels:\n    mtk.io/tenant: a\n", &Limits::default());
        let s = locate(&doc.documents[0].root, "/metadata/labels/mtk.io~1tenant");
        assert_eq!(s.start().line, 3);
    }
}
