//! JSON pointers (RFC 6901) read without allocating. `serde_json::Value::pointer` unescapes
//! every token into two new strings; rules and admission read pointers into every object (the
//! Pod Security checks alone read dozens per pod), so that was a measurable share of a lint.

use std::borrow::Cow;

use serde_json::Value;

/// [`Value::pointer`] with the same answers, allocating only for a token that has an escape.
pub trait Pointer {
    /// The value at `pointer` (`""` is the value itself; `/a/0/b~1c`), if there is one.
    fn at(&self, pointer: &str) -> Option<&Value>;
}

impl Pointer for Value {
    fn at(&self, pointer: &str) -> Option<&Value> {
        if pointer.is_empty() {
            return Some(self);
        }
        let rest = pointer.strip_prefix('/')?;
        slash_parts(rest).try_fold(self, |target, token| {
            let token = unescape(token);
            match target {
                Value::Object(map) => map.get(&*token),
                Value::Array(items) => index(&token).and_then(|i| items.get(i)),
                _ => None,
            }
        })
    }
}

/// The parts of `text` between slashes, as `text.split('/')` gives them (empty parts
/// included), found by a byte search: pointers, paths and kind selectors are split for every
/// object many times over, and a char searcher's set-up costs more than their short parts.
pub fn slash_parts(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let left = rest?;
        if let Some(at) = left.bytes().position(|b| b == b'/') {
            rest = Some(&left[at + 1..]);
            Some(&left[..at])
        } else {
            rest = None;
            Some(left)
        }
    })
}

/// `~1` is `/` and `~0` is `~`, in that order (so `~01` is `~1`).
fn unescape(token: &str) -> Cow<'_, str> {
    if token.bytes().any(|b| b == b'~') {
        Cow::Owned(token.replace("~1", "/").replace("~0", "~"))
    } else {
        Cow::Borrowed(token)
    }
}

/// An array index as RFC 6901 spells it: digits, no sign, no leading zero.
fn index(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
        return None;
    }
    token.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::{slash_parts, Pointer};
    use serde_json::json;

    /// The parts are those `str::split('/')` gives, empty ones and non-ASCII text included.
    #[test]
    fn slash_parts_are_what_splitting_at_slashes_gives() {
        for text in ["", "/", "a", "a/b", "/a/b/", "a//b", "spec/template/spec", "é/ß/~1x", "//"]
        {
            let parts: Vec<&str> = slash_parts(text).collect();
            let split: Vec<&str> = text.split('/').collect();
            assert_eq!(parts, split, "{text:?}");
        }
    }

    #[test]
    #[expect(clippy::disallowed_methods)] // compared with the method it replaces
    fn answers_as_serde_json_does() {
        let doc = json!({
            "a": {"b": [10, {"c": "d"}], "e/f": 1, "g~h": 2, "~1": 3, "": {"": 4}},
            "list": [0, 1, 2],
            "n": null,
        });
        for pointer in [
            "",
            "/",
            "/a",
            "/a/b",
            "/a/b/0",
            "/a/b/1/c",
            "/a/b/2",
            "/a/b/-",
            "/a/b/01",
            "/a/b/+1",
            "/a/e~1f",
            "/a/g~0h",
            "/a/~01",
            "/a/~1",
            "/a//",
            "/a/",
            "/list/2",
            "/list/00",
            "/n",
            "/n/x",
            "a",
            "/missing",
            "/a/b/1/c/d",
            "/list/18446744073709551616",
        ] {
            assert_eq!(doc.at(pointer), doc.pointer(pointer), "{pointer:?}");
        }
        assert_eq!(doc.at("/a/~01"), Some(&json!(3)));
        assert_eq!(doc.at("/a/b/1/c"), Some(&json!("d")));
        assert_eq!(doc.at("/a/b/01"), None);
    }
}
