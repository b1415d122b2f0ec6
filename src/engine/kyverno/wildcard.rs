//! Kyverno wildcards: `*` matches any run of characters (possibly empty), `?` exactly one;
//! case-sensitive, no escapes, the whole text must match.

/// Whether `text` matches the wildcard `pattern`.
#[must_use]
pub fn matches(pattern: &str, text: &str) -> bool {
    if !has_wildcard(pattern) {
        return pattern == text;
    }
    // ASCII (almost every name, image and label): compare bytes, no allocation.
    if pattern.is_ascii() && text.is_ascii() {
        return matches_units(pattern.as_bytes(), text.as_bytes(), b'*', b'?');
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    matches_units(&p, &t, '*', '?')
}

/// Greedy matching with backtracking to the last `*`, over bytes or characters: linear in
/// practice, O(n·m) at worst (a `*` is only ever retried from the last one).
fn matches_units<T: PartialEq + Copy>(p: &[T], t: &[T], any: T, one: T) -> bool {
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == one || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == any {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == any)
}

/// Whether a string contains a wildcard character.
#[must_use]
pub fn has_wildcard(s: &str) -> bool {
    // Bytes: `*` and `?` are ASCII, never part of another character's encoding (and a byte
    // loop costs a fraction of a `char` pattern search on the short texts matched here).
    s.bytes().any(|b| matches!(b, b'*' | b'?'))
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn wildcard_table() {
        let cases = [
            ("*", "", true),
            // `?` is one character, not one byte.
            ("?", "é", true),
            ("caf?", "café", true),
            ("*é*", "café au lait", true),
            ("??", "é", false),
            ("?", "", false),
            ("?*", "", false),
            ("?*", "a", true),
            ("*:*", "nginx:1.2", true),
            ("*:*", "nginx", false),
            ("!*:latest", "!x:latest", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("kube-*", "kube-system", true),
            ("Kube-*", "kube-system", false),
            ("a?c", "abc", true),
            ("a?c", "abbc", false),
            ("*.example.com", "web.team.example.com", true),
        ];
        for (p, t, want) in cases {
            assert_eq!(matches(p, t), want, "{p} vs {t}");
        }
    }
}
