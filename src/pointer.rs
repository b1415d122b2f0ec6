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
        rest.split('/').try_fold(self, |target, token| {
            let token = unescape(token);
            match target {
                Value::Object(map) => map.get(&*token),
                Value::Array(items) => index(&token).and_then(|i| items.get(i)),
                _ => None,
            }
        })
    }
}

/// `~1` is `/` and `~0` is `~`, in that order (so `~01` is `~1`).
fn unescape(token: &str) -> Cow<'_, str> {
    if token.contains('~') {
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
    use super::Pointer;
    use serde_json::json;

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
