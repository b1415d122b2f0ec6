//! Go's `path` package, as templates and policies see slash-separated paths.

/// `path.Clean`: removes `.`, resolves `..`, collapses slashes; `.` for an empty result.
#[must_use]
pub fn clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// `path.Base`: the last element, `/` for the root, `.` for an empty path.
#[must_use]
pub fn base(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let trimmed = p.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".into();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
}

/// `path.Dir`: all but the last element, cleaned.
#[must_use]
pub fn dir(p: &str) -> String {
    clean(p.rfind('/').map_or("", |i| &p[..=i]))
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths_as_go_cleans_them() {
        for (p, want) in
            [("", "."), ("a//b/./c/..", "a/b"), ("/../x", "/x"), ("../../a", "../../a"), ("/", "/")]
        {
            assert_eq!(super::clean(p), want, "{p}");
        }
        assert_eq!((super::base("/a/b/"), super::dir("/a/b")), ("b".to_string(), "/a".to_string()));
    }
}
