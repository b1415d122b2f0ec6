//! Rendered objects written out: multi-document YAML in block style, as `kustomize build` prints
//! them (fields in their order), or JSON with the source of every field that came from another
//! file than the object (`mtk-lint render --format json`).

use std::fmt::Write as _;

use super::tree::{TValue, Tree};

/// The objects as a YAML stream. With `sources`, each document starts with a comment naming the
/// file and line it came from (`shown` gives a file's name).
#[must_use]
pub fn yaml(objects: &[Tree<'_>], sources: Option<&dyn Fn(u32) -> String>) -> String {
    let mut out = String::new();
    for (i, t) in objects.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        if let Some(shown) = sources {
            let _ = writeln!(out, "# source: {}:{}", shown(t.file), t.span.start().line);
        }
        block(t, 0, &mut out);
    }
    out
}

/// A node in block style at `indent`, starting where the caller left the line (after `key:` or
/// `- `), ending with a line break.
fn block(t: &Tree<'_>, indent: usize, out: &mut String) {
    match &t.value {
        TValue::Map(fields) if !fields.is_empty() => {
            for (i, f) in fields.iter().enumerate() {
                if i > 0 {
                    pad(indent, out);
                }
                let key = scalar_text(&f.key);
                if key.len() > IMPLICIT_KEY {
                    // YAML reads at most 1,024 characters as an implicit key: a longer one
                    // is written explicitly (`? key` then `: value`).
                    out.push_str("? ");
                    out.push_str(&key);
                    out.push('\n');
                    pad(indent, out);
                } else {
                    out.push_str(&key);
                }
                out.push(':');
                value_after_key(&f.value, indent, out);
            }
        }
        TValue::Seq(items) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    pad(indent, out);
                }
                out.push_str("- ");
                match &item.value {
                    TValue::Map(f) if !f.is_empty() => block(item, indent + 2, out),
                    TValue::Seq(s) if !s.is_empty() => block(item, indent + 2, out),
                    _ => {
                        out.push_str(&inline(item));
                        out.push('\n');
                    }
                }
            }
        }
        _ => {
            out.push_str(&inline(t));
            out.push('\n');
        }
    }
}

fn value_after_key(v: &Tree<'_>, indent: usize, out: &mut String) {
    match &v.value {
        TValue::Map(f) if !f.is_empty() => {
            out.push('\n');
            pad(indent + 2, out);
            block(v, indent + 2, out);
        }
        // Kubernetes style: a list under a key is not indented further.
        TValue::Seq(s) if !s.is_empty() => {
            out.push('\n');
            pad(indent, out);
            block(v, indent, out);
        }
        _ => {
            out.push(' ');
            out.push_str(&inline(v));
            out.push('\n');
        }
    }
}

/// Longest key written as an implicit key (YAML allows 1,024 characters).
const IMPLICIT_KEY: usize = 1000;

fn pad(indent: usize, out: &mut String) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// A scalar or an empty collection on one line.
fn inline(t: &Tree<'_>) -> String {
    match &t.value {
        TValue::Null => "null".into(),
        TValue::Bool(b) => b.to_string(),
        TValue::Int(i) => i.to_string(),
        TValue::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(".nan".into(), |n| n.to_string())
        }
        TValue::Str(s) => scalar_text(s),
        TValue::Seq(_) => "[]".into(),
        TValue::Map(_) => "{}".into(),
    }
}

/// A string as YAML: plain when YAML reads it back as the same string, else double-quoted with
/// JSON's escapes (which YAML's double-quoted style reads), control and separator characters
/// escaped so that the output stays one line per scalar.
fn scalar_text(s: &str) -> String {
    if is_plain(s) {
        return s.to_string();
    }
    crate::report::sanitize::json(serde_json::Value::String(s.to_string()).to_string())
}

fn is_plain(s: &str) -> bool {
    let Some(first) = s.chars().next() else { return false };
    let reserved_start = "-?:,[]{}#&*!|>'\"%@`~ ".contains(first);
    let looks_typed = matches!(
        s.to_ascii_lowercase().as_str(),
        "null" | "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n"
    ) || s.parse::<f64>().is_ok()
        || s.starts_with("0x")
        || s.starts_with("0o")
        || s.starts_with('.');
    !reserved_start
        && !looks_typed
        && !s.ends_with(' ')
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.ends_with(':')
        && s.chars()
            .all(|c| !c.is_control() && c != '\u{2028}' && c != '\u{2029}' && c != '\u{feff}')
        && (!starts_like_a_number(s) || reads_back_as_itself(s) && !yaml_1_1_typed(s))
}

/// Whether YAML 1.1 (go-yaml, PyYAML) reads the text as a timestamp (`2024-05-01`,
/// `2024-05-01T10:00:00Z`) or a base-60 number (`1:20`): kustomize quotes such strings, and so
/// does this (our parser reads them as text, as YAML 1.2 does).
fn yaml_1_1_typed(s: &str) -> bool {
    use std::sync::OnceLock;
    static TYPED: OnceLock<Option<regex::Regex>> = OnceLock::new();
    let typed = TYPED.get_or_init(|| {
        regex::Regex::new(
            r"^(?:[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt ].*)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?)$",
        )
        .ok()
    });
    // Without the expression (it compiles), quoting is the safe side.
    typed.as_ref().is_none_or(|re| re.is_match(s))
}

/// Whether a scalar starts like a number (`1`, `-2`, `.5`, `+3`): YAML parsers read some such
/// text as numbers that Rust's parser does not (`1_000`).
fn starts_like_a_number(s: &str) -> bool {
    let rest = s.trim_start_matches(['+', '-', '.']);
    rest.chars().next().is_some_and(|c| c.is_ascii_digit())
}

/// Whether the text, written plain, reads back as the same string (asked of the parser).
fn reads_back_as_itself(s: &str) -> bool {
    let parsed = crate::load::yaml::parse_stream(s, &crate::load::Limits::default());
    parsed.problems.is_empty()
        && matches!(
            parsed.documents.as_slice(),
            [doc] if matches!(&doc.root.value, crate::load::Value::Str(t) if t == s)
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::render::tree::parse_trees as trees;

    #[test]
    fn strings_yaml_1_1_reads_as_timestamps_or_sexagesimals_are_quoted() {
        for (text, written) in [
            ("2024-05-01T10:00:00Z", "\"2024-05-01T10:00:00Z\""),
            ("2024-05-01", "\"2024-05-01\""),
            ("2024-5-1 10:00:00", "\"2024-5-1 10:00:00\""),
            ("1:20", "\"1:20\""),
            ("8080:80", "8080:80"),
            ("2024-05", "2024-05"),
            ("v2024-05-01", "v2024-05-01"),
        ] {
            assert_eq!(scalar_text(text), written, "{text}");
        }
    }

    #[test]
    fn yaml_reads_back_as_the_same_data() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n  labels: {}\ndata:\n  a: 'true'\n  b: '8080'\n  n: '1__'\n  q: 1Gi\n  c: \"two\\nlines\"\n  d: 'x: y'\n  e: -dash\n  f: ''\n  g: \"\\e[31m\"\nlist:\n- 1\n- name: x\n  items: [a, {b: c}]\n- [nested]\n- []\n---\nkind: Empty\n";
        let objects = trees(text);
        let out = yaml(&objects, None);
        let back = trees(&out);
        assert_eq!(
            back.iter().map(Tree::to_json).collect::<Vec<_>>(),
            objects.iter().map(Tree::to_json).collect::<Vec<_>>(),
            "{out}"
        );
        assert!(
            out.starts_with("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n"),
            "{out}"
        );
        assert!(out.contains("\nlist:\n- 1\n- name: x\n  items:\n  - a\n  - b: c\n"), "{out}");
        assert!(!out.contains('\u{1b}'), "{out}");
        assert!(out.contains("\n  q: 1Gi\n") && out.contains("\n  \"n\": \"1__\"\n"), "{out}");
        // A key too long to be implicit is written explicitly and reads back the same.
        let long = format!(
            "k: {{{}: v, {}: [a, {{b: c}}], short: {{x: 1}}}}\n",
            "x".repeat(2000),
            "y".repeat(1500)
        );
        let objects_long = trees(&long);
        let back_long = trees(&yaml(&objects_long, None));
        assert_eq!(back_long[0].to_json(), objects_long[0].to_json());
        let with_sources = yaml(&objects, Some(&|f| format!("file{f}")));
        assert!(with_sources.starts_with("# source: file0:1\n"), "{with_sources}");
    }
}
