//! Carrying what admission changed back onto an object's nodes: a field a mutator set becomes a
//! node at the mutator's place in its file (so a finding on it points there), every other node
//! keeps the place it was written at.

use ecow::EcoString;
use serde_json::Value as Json;

use crate::load::source::Span;
use crate::load::yaml::Entry;
use crate::load::{Node, Value};

/// The object's nodes with `after` (the JSON admission made of `before`) grafted in: unchanged
/// fields keep their nodes; each changed or new field is a node at `span`, and its JSON pointer
/// is pushed to `set`. A field `before` has that the nodes lack (the effective namespace the
/// inventory puts in the JSON) is left out again when unchanged.
#[must_use]
pub fn graft(node: &Node, before: &Json, after: &Json, span: Span, set: &mut Vec<String>) -> Node {
    let mut pointer = String::new();
    walk(Some(node), before, after, span, &mut pointer, set)
}

fn walk(
    node: Option<&Node>,
    before: &Json,
    after: &Json,
    span: Span,
    pointer: &mut String,
    set: &mut Vec<String>,
) -> Node {
    // Mappings and lists are walked (each level once: comparing whole subtrees at every level
    // would make a deep object quadratic); scalars are compared.
    match (node, before, after) {
        (
            Some(node @ Node { value: Value::Map(entries), .. }),
            Json::Object(b),
            Json::Object(a),
        ) => {
            let mut out: Vec<Entry> = Vec::with_capacity(a.len());
            for e in entries.iter() {
                let Some(value) = a.get(e.key.as_str()) else { continue };
                let len = pointer.len();
                push(pointer, &e.key);
                let was = b.get(e.key.as_str()).unwrap_or(&Json::Null);
                let child = walk(Some(&e.value), was, value, span, pointer, set);
                pointer.truncate(len);
                out.push(Entry { key: e.key.clone(), key_span: e.key_span, value: child });
            }
            for (key, value) in a {
                if entries.iter().any(|e| e.key == key.as_str()) {
                    continue;
                }
                // In the JSON only (the effective namespace), and unchanged: not a field the
                // object has.
                if b.get(key) == Some(value) {
                    continue;
                }
                let len = pointer.len();
                push(pointer, key);
                set.push(pointer.clone());
                pointer.truncate(len);
                out.push(Entry {
                    key: EcoString::from(key.as_str()),
                    key_span: span,
                    value: from_json(value, span),
                });
            }
            Node { span: node.span, value: Value::Map(out.into()) }
        }
        (Some(node @ Node { value: Value::Seq(items), .. }), Json::Array(b), Json::Array(a)) => {
            let out: Vec<Node> = a
                .iter()
                .enumerate()
                .map(|(i, value)| {
                    let len = pointer.len();
                    pointer.push('/');
                    pointer.push_str(&i.to_string());
                    let child = if let (Some(n), Some(was)) = (items.get(i), b.get(i)) {
                        walk(Some(n), was, value, span, pointer, set)
                    } else {
                        set.push(pointer.clone());
                        from_json(value, span)
                    };
                    pointer.truncate(len);
                    child
                })
                .collect();
            Node { span: node.span, value: Value::Seq(out.into()) }
        }
        (Some(node), _, _)
            if before == after && !matches!(node.value, Value::Map(_) | Value::Seq(_)) =>
        {
            node.clone()
        }
        _ => {
            set.push(pointer.clone());
            from_json(after, span)
        }
    }
}

fn push(pointer: &mut String, key: &str) {
    pointer.push('/');
    pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
}

/// A node for a JSON value, every part at `span`.
#[must_use]
pub fn from_json(v: &Json, span: Span) -> Node {
    let value = match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => {
            n.as_i64().map_or_else(|| Value::Float(n.as_f64().unwrap_or(0.0)), Value::Int)
        }
        Json::String(s) => Value::Str(s.as_str().into()),
        Json::Array(items) => Value::Seq(items.iter().map(|i| from_json(i, span)).collect()),
        Json::Object(m) => Value::Map(
            m.iter()
                .map(|(k, v)| Entry {
                    key: k.as_str().into(),
                    key_span: span,
                    value: from_json(v, span),
                })
                .collect(),
        ),
    };
    Node { span, value }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::source::Pos;
    use crate::load::{parse_text, Limits};
    use serde_json::json;

    #[test]
    fn changed_fields_move_to_the_mutator_and_the_rest_stays() {
        let (file, _) = parse_text(
            "pod.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: a\n    image: x\n",
            &Limits::default(),
        );
        let node = file.unwrap().documents.remove(0).root;
        let mut before = node.to_json();
        before["metadata"]["namespace"] = json!("team-a");
        let mut after = before.clone();
        after["spec"]["nodeSelector"] = json!({"pool": "p"});
        after["spec"]["containers"][0]["image"] = json!("y");
        let at = Span::new(Pos { line: 9, col: 2 }, Pos { line: 9, col: 10 });
        let mut set = Vec::new();
        let grafted = graft(&node, &before, &after, at, &mut set);
        assert_eq!(set, ["/spec/containers/0/image", "/spec/nodeSelector"]);
        assert_eq!(grafted.at(&["spec", "nodeSelector"]).unwrap().span, at);
        assert_eq!(grafted.at(&["metadata", "name"]).unwrap().span.start().line, 3);
        // The effective namespace is not made a field of the object.
        assert!(grafted.at(&["metadata", "namespace"]).is_none());
        let mut expected = after.clone();
        expected["metadata"].as_object_mut().unwrap().remove("namespace");
        assert_eq!(grafted.to_json(), expected);
    }
}
