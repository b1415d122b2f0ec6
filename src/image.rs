//! Container image references (`registry/path:tag@digest`), split the way Kyverno splits them:
//! a first component with a `.` or `:` (or `localhost`) is a registry, otherwise the image is on
//! Docker Hub (`docker.io`, whose single-component paths live under `library/`).

use std::fmt;

/// The parts of an image reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    pub registry: String,
    /// The path as written (`nginx`, `team/app`).
    pub path: String,
    /// The path as the registry knows it (`library/nginx` on Docker Hub).
    pub repository: String,
    /// Empty when the reference has none.
    pub tag: String,
    /// Empty when the reference has none.
    pub digest: String,
}

/// The parts of a reference as written (borrowed: nothing is allocated).
struct Parts<'a> {
    registry: &'a str,
    path: &'a str,
    tag: &'a str,
    digest: &'a str,
}

fn parts(image: &str) -> Parts<'_> {
    let (rest, digest) = image.split_once('@').unwrap_or((image, ""));
    let last_slash = rest.rfind('/');
    let (repo, tag) = match rest.rfind(':') {
        Some(i) if last_slash.is_none_or(|s| i > s) => (&rest[..i], &rest[i + 1..]),
        _ => (rest, ""),
    };
    let (registry, path) = match repo.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => (first, rest),
        _ => ("docker.io", repo),
    };
    Parts { registry, path, tag, digest }
}

/// The path of a reference as written ([`ImageRef::path`]), without splitting the rest.
#[must_use]
pub fn path_of(image: &str) -> &str {
    parts(image).path
}

impl ImageRef {
    /// Splits a reference; never fails (for lenient uses such as Kyverno's `images`).
    #[must_use]
    pub fn split(image: &str) -> ImageRef {
        let Parts { registry, path, tag, digest } = parts(image);
        let repository = if registry == "docker.io" && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_string()
        };
        ImageRef {
            registry: registry.into(),
            path: path.into(),
            repository,
            tag: tag.into(),
            digest: digest.into(),
        }
    }

    /// Splits a reference, rejecting what no registry accepts (empty parts, upper case or
    /// spaces in the path, a malformed digest).
    pub fn parse(image: &str) -> Result<ImageRef, String> {
        let r = ImageRef::split(image);
        let path_ok = !r.path.is_empty()
            && r.path.split('/').all(|c| {
                !c.is_empty()
                    && c.bytes().all(|b| {
                        b.is_ascii_lowercase()
                            || b.is_ascii_digit()
                            || matches!(b, b'.' | b'_' | b'-')
                    })
            });
        if !path_ok {
            return Err("the repository must be lower-case letters, digits and . _ - / "
                .trim()
                .into());
        }
        let tag_ok = r.tag.len() <= 128
            && r.tag.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !tag_ok
            || (image.contains(':')
                && r.tag.is_empty()
                && r.digest.is_empty()
                && !r.registry.contains(':'))
        {
            return Err("the tag is invalid".into());
        }
        if !r.digest.is_empty()
            && !r.digest.split_once(':').is_some_and(|(a, h)| !a.is_empty() && !h.is_empty())
        {
            return Err("the digest is not `algorithm:hex`".into());
        }
        Ok(r)
    }

    /// The last path component (`app` of `team/app`).
    #[must_use]
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}

/// The fully qualified form: `registry/repository[:tag][@digest]`, `:latest` when neither.
impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        match (self.tag.as_str(), self.digest.as_str()) {
            ("", "") => f.write_str(":latest"),
            ("", d) => write!(f, "@{d}"),
            (t, "") => write!(f, ":{t}"),
            (t, d) => write!(f, ":{t}@{d}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The path alone is the path of the whole split, registry or not, tag or digest or not.
    #[test]
    fn the_path_alone_is_the_split_path() {
        for (image, path) in [
            ("nginx", "nginx"),
            ("nginx:1.27", "nginx"),
            ("team/app:v1@sha256:abc", "team/app"),
            ("registry.example.com/ads/indexer:1.0.2", "ads/indexer"),
            ("localhost:5000/app", "app"),
            ("localhost/app:latest", "app"),
            ("host:5000/a/b@sha256:00", "a/b"),
            ("", ""),
        ] {
            assert_eq!(path_of(image), path, "{image}");
            assert_eq!(ImageRef::split(image).path, path, "{image}");
        }
    }

    #[test]
    fn references_split_and_qualify() {
        let r = ImageRef::split("nginx");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_str()),
            ("docker.io", "library/nginx", "")
        );
        assert_eq!(r.to_string(), "docker.io/library/nginx:latest");
        let r = ImageRef::split("localhost:5000/team/app:1.2@sha256:abc");
        assert_eq!(
            (r.registry.as_str(), r.path.as_str(), r.name()),
            ("localhost:5000", "team/app", "app")
        );
        assert_eq!((r.tag.as_str(), r.digest.as_str()), ("1.2", "sha256:abc"));
        assert_eq!(r.to_string(), "localhost:5000/team/app:1.2@sha256:abc");
        assert_eq!(ImageRef::split("corp.reg.com/x").registry, "corp.reg.com");
        assert!(ImageRef::parse("Nginx").is_err());
        assert!(ImageRef::parse("nginx:").is_err());
        assert!(ImageRef::parse("nginx@sha256").is_err());
        assert!(ImageRef::parse("ghcr.io/a/b:v1").is_ok());
    }
}
