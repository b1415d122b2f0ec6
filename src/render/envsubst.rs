//! Flux's `postBuild` variable substitution (fluxcd/pkg `envsubst`, a fork of drone/envsubst,
//! in strict mode): `${var}` and the bash-like forms it reads — defaults (`${var:=d}`,
//! `${var:-d}`, `${var=d}`, `${var:?d}`, `${var:+d}`: each gives the value when it is not
//! empty, else the default), case (`${var^}`, `${var^^}`, `${var,}`, `${var,,}`), length
//! (`${#var}`), substrings (`${var:2}`, `${var:2:3}`; `${var:-3}` is a default), trimming
//! (`${var#p}`, `${var##p}`, `${var%p}`, `${var%%p}`, `p` a glob whose `*` also matches `/`)
//! and replacing (`${var/a/b}`, `${var//a/b}`, `${var/#a/b}`, `${var/%a/b}`; only these read
//! `\` as an escape). An argument may hold another reference. `$$` is a `$` (`$${…}` a literal
//! `${…}`) and `$name` is left as written. A variable that is not set is an error unless a
//! default form reads it; a form Flux does not parse (`${var-d}`) is an error.

use std::collections::HashMap;

use super::tree::Tree;

/// Most references nested inside one another's arguments.
const MAX_NESTING: usize = 32;

/// What [`expand`] makes of a string.
pub(super) struct Expanded<'v, 'a> {
    pub text: String,
    /// The variable, when exactly one went into the text (and not through a default).
    pub source: Option<&'v Tree<'a>>,
    /// The text was one reference and nothing else.
    pub whole: bool,
}

/// Expands the references of `text` with `vars`.
pub(super) fn expand<'v, 'a>(
    text: &str,
    vars: &'v HashMap<String, Tree<'a>>,
) -> std::result::Result<Expanded<'v, 'a>, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut single = None;
    let mut references = 0;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        // `$$` is a `$` (so `$${var}` is the text `${var}`).
        if let Some(escaped) = after.strip_prefix('$') {
            out.push('$');
            rest = escaped;
            continue;
        }
        let Some(body) = after.strip_prefix('{') else {
            out.push('$');
            rest = after;
            continue;
        };
        let mut parser = Parser { text: body, at: 0, whole: text };
        let reference = parser.reference(0)?;
        rest = &body[parser.at..];
        references += 1;
        let mut used = None;
        out.push_str(&reference.evaluate(vars, &mut used)?);
        single = used;
    }
    out.push_str(rest);
    let whole = references == 1 && text.starts_with("${") && text.ends_with('}');
    Ok(Expanded { text: out, source: single.filter(|_| references == 1), whole })
}

/// One `${…}`.
struct Reference {
    name: String,
    /// `""` for `${var}`, else the operator as Flux names it (`:=`, `^^`, `//`, `#` …).
    op: &'static str,
    args: Vec<Vec<Piece>>,
}

/// A piece of an argument: text, or a reference inside it.
enum Piece {
    Text(String),
    Reference(Reference),
}

struct Parser<'t> {
    /// What follows `${`.
    text: &'t str,
    at: usize,
    /// The whole string (for messages).
    whole: &'t str,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.at..].chars().next()
    }

    fn eat(&mut self, prefix: &str) -> bool {
        let found = self.text[self.at..].starts_with(prefix);
        if found {
            self.at += prefix.len();
        }
        found
    }

    fn bad(&self, what: &str) -> String {
        format!("`{}`: {what} (bad substitution)", self.whole)
    }

    /// A reference, from after its `${` to after its `}`.
    fn reference(&mut self, depth: usize) -> Result<Reference, String> {
        if depth > MAX_NESTING {
            return Err(self.bad(&format!("references nest more than {MAX_NESTING} deep")));
        }
        if self.eat("#") {
            let name = self.name()?;
            self.close()?;
            return Ok(Reference { name, op: "#len", args: Vec::new() });
        }
        let name = self.name()?;
        let (op, shape): (&'static str, Shape) = match self.peek() {
            Some('}') => ("", Shape::None),
            Some(':') => {
                let op = [":=", ":-", ":?", ":+"].into_iter().find(|op| self.eat(op));
                if let Some(op) = op {
                    (op, Shape::Default)
                } else {
                    self.at += 1;
                    (":", Shape::Substring)
                }
            }
            Some('=') => {
                self.at += 1;
                ("=", Shape::Default)
            }
            Some(',' | '^') => {
                let op = ["^^", ",,", "^", ","].into_iter().find(|op| self.eat(op)).unwrap_or("");
                (op, Shape::None)
            }
            Some('/') => {
                let op = ["//", "/#", "/%", "/"].into_iter().find(|op| self.eat(op)).unwrap_or("");
                (op, Shape::Replace)
            }
            Some('#' | '%') => {
                let op = ["##", "%%", "#", "%"].into_iter().find(|op| self.eat(op)).unwrap_or("");
                (op, Shape::One)
            }
            Some(other) => {
                return Err(
                    self.bad(&format!("`{other}` after a variable name is not a form Flux reads"))
                )
            }
            None => return Err(format!("unclosed `${{` in `{}`", self.whole)),
        };
        let args = match shape {
            Shape::None => Vec::new(),
            Shape::Default | Shape::One => vec![self.argument(&['}'], false, depth)?],
            Shape::Substring => {
                let mut args = vec![self.argument(&[':', '}'], false, depth)?];
                if self.eat(":") {
                    args.push(self.argument(&['}'], false, depth)?);
                }
                args
            }
            Shape::Replace => {
                // Only a replacement's arguments read `\` as an escape (`\/` is a `/`).
                let pattern = self.argument(&['/', '}'], true, depth)?;
                if !self.eat("/") {
                    return Err(self.bad("a replacement needs `/pattern/string`"));
                }
                // Flux reads `${v/#p/}` as having no replacement at all.
                if self.peek() == Some('}') {
                    vec![pattern]
                } else {
                    vec![pattern, self.argument(&['}'], true, depth)?]
                }
            }
        };
        self.close()?;
        Ok(Reference { name, op, args })
    }

    fn name(&mut self) -> Result<String, String> {
        let rest = &self.text[self.at..];
        let len =
            rest.find(|c: char| !(c == '_' || c.is_ascii_alphanumeric())).unwrap_or(rest.len());
        let name = &rest[..len];
        if !name.starts_with(|c: char| c == '_' || c.is_ascii_alphabetic()) {
            return Err(format!(
                "`${{{}` is not a variable reference Flux supports",
                rest.split('}').next().unwrap_or(rest)
            ));
        }
        self.at += len;
        Ok(name.to_string())
    }

    fn close(&mut self) -> Result<(), String> {
        match self.peek() {
            Some('}') => {
                self.at += 1;
                Ok(())
            }
            Some(_) => Err(self.bad("expected `}`")),
            None => Err(format!("unclosed `${{` in `{}`", self.whole)),
        }
    }

    /// An argument up to (not past) one of `ends`: text (where `escapes`, `\` escapes the next
    /// character) and references.
    fn argument(
        &mut self,
        ends: &[char],
        escapes: bool,
        depth: usize,
    ) -> Result<Vec<Piece>, String> {
        let mut pieces = Vec::new();
        let mut text = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(format!("unclosed `${{` in `{}`", self.whole));
            };
            if ends.contains(&c) {
                break;
            }
            if self.eat("${") {
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Reference(self.reference(depth + 1)?));
                continue;
            }
            self.at += c.len_utf8();
            if c == '\\' && escapes {
                if let Some(next) = self.peek() {
                    self.at += next.len_utf8();
                    text.push(next);
                    continue;
                }
            }
            text.push(c);
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(pieces)
    }
}

/// How a form's arguments are written.
enum Shape {
    None,
    Default,
    Substring,
    Replace,
    One,
}

impl Reference {
    /// The reference's text; `used` is the variable read, when its value went in.
    fn evaluate<'v, 'a>(
        &self,
        vars: &'v HashMap<String, Tree<'a>>,
        used: &mut Option<&'v Tree<'a>>,
    ) -> Result<String, String> {
        let variable = vars.get(&self.name);
        let defaulting = matches!(self.op, "=" | ":=" | ":-" | ":?" | ":+");
        if variable.is_none() && !defaulting {
            return Err(format!("variable `{}` is not set (strict mode)", self.name));
        }
        let value = variable.and_then(Tree::scalar_text).unwrap_or_default();
        let mut args = Vec::with_capacity(self.args.len());
        for arg in &self.args {
            let mut text = String::new();
            for piece in arg {
                match piece {
                    Piece::Text(t) => text.push_str(t),
                    Piece::Reference(r) => text.push_str(&r.evaluate(vars, &mut None)?),
                }
            }
            args.push(text);
        }
        let arg = |i: usize| args.get(i).map_or("", String::as_str);
        if !(defaulting && value.is_empty()) {
            *used = variable;
        }
        Ok(match self.op {
            "" => value,
            "#len" => value.len().to_string(),
            "^" => first_mapped(&value, char::to_uppercase),
            "^^" => value.to_uppercase(),
            "," => first_mapped(&value, char::to_lowercase),
            ",," => value.to_lowercase(),
            ":" => substring(&value, arg(0), args.get(1).map(String::as_str)),
            "/" => value.replacen(arg(0), arg(1), 1),
            "//" => value.replace(arg(0), arg(1)),
            // Without a replacement, Flux leaves the value as it is.
            "/#" | "/%" if args.len() < 2 => value,
            "/#" => match value.strip_prefix(arg(0)) {
                Some(rest) => format!("{}{rest}", arg(1)),
                None => value,
            },
            "/%" => match value.strip_suffix(arg(0)) {
                Some(rest) => format!("{rest}{}", arg(1)),
                None => value,
            },
            "#" => trim_prefix(&value, arg(0), Shortest),
            "##" => trim_prefix(&value, arg(0), Longest),
            "%" => trim_suffix(&value, arg(0), Shortest),
            "%%" => trim_suffix(&value, arg(0), Longest),
            // Every default form: the value, else the default.
            _ if value.is_empty() => args.concat(),
            _ => value,
        })
    }
}

fn first_mapped<I: Iterator<Item = char>>(s: &str, map: fn(char) -> I) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => map(first).chain(chars).collect(),
        None => String::new(),
    }
}

/// `${var:offset}` and `${var:offset:length}` as Flux takes them (bytes; a negative offset
/// counts from the end, a negative length leaves that many off the end; text that is not a
/// number gives the value unchanged).
fn substring(value: &str, offset: &str, length: Option<&str>) -> String {
    // Go's `strconv.Atoi`: no spaces (`${v: -2}` leaves the value unchanged in Flux).
    let Ok(offset) = offset.parse::<i64>() else { return value.to_string() };
    let len = i64::try_from(value.len()).unwrap_or(i64::MAX);
    let start = if offset < 0 { len.saturating_add(offset).max(0) } else { offset };
    let slice = |from: i64, to: i64| {
        let (Ok(from), Ok(to)) = (usize::try_from(from), usize::try_from(to)) else {
            return String::new();
        };
        value.get(from..to).map_or_else(String::new, str::to_string)
    };
    let rest = || if start < len { slice(start, len) } else { String::new() };
    let Some(length) = length else { return rest() };
    let Ok(length) = length.parse::<i64>() else { return value.to_string() };
    if length < 0 {
        let end = len.saturating_add(length);
        return if end < start { String::new() } else { slice(start, end) };
    }
    if start.saturating_add(length) >= len {
        return rest();
    }
    slice(start, start + length)
}

#[derive(Clone, Copy, PartialEq)]
enum Match {
    Shortest,
    Longest,
}
use Match::{Longest, Shortest};

/// Removes the shortest or longest prefix the glob matches.
fn trim_prefix(value: &str, pattern: &str, which: Match) -> String {
    let Ok(glob) = globset::GlobBuilder::new(pattern).literal_separator(false).build() else {
        return value.to_string();
    };
    let glob = glob.compile_matcher();
    let mut ends: Vec<usize> =
        value.char_indices().map(|(i, _)| i).skip(1).chain([value.len()]).collect();
    if which == Longest {
        ends.reverse();
    }
    ends.into_iter()
        .find(|&end| glob.is_match(&value[..end]))
        .map_or_else(|| value.to_string(), |end| value[end..].to_string())
}

/// Removes the shortest or longest suffix the glob matches.
fn trim_suffix(value: &str, pattern: &str, which: Match) -> String {
    let Ok(glob) = globset::GlobBuilder::new(pattern).literal_separator(false).build() else {
        return value.to_string();
    };
    let glob = glob.compile_matcher();
    let mut starts: Vec<usize> = value.char_indices().map(|(i, _)| i).collect();
    if which == Shortest {
        starts.reverse();
    }
    starts
        .into_iter()
        .find(|&start| glob.is_match(&value[start..]))
        .map_or_else(|| value.to_string(), |start| value[..start].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::source::Span;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, Tree<'static>> {
        pairs.iter().map(|(k, v)| ((*k).to_string(), Tree::string(v, 3, Span::default()))).collect()
    }

    #[test]
    fn expands_the_forms_flux_reads() {
        let v = vars(&[("env", "prod"), ("empty", ""), ("path", "apps/web/app.yaml")]);
        let text = |t: &str| expand(t, &v).unwrap().text;
        assert_eq!(text("a-${env}-b"), "a-prod-b");
        assert_eq!(text("${missing:=x}"), "x");
        assert_eq!(text("${empty:-y}"), "y");
        assert_eq!(text("${empty=y}"), "y");
        assert_eq!(text("${env:+set}"), "prod");
        assert_eq!(text("${missing:-${env}-eu}"), "prod-eu");
        assert_eq!(text("$${env} $env $$HOME"), "${env} $env $HOME");
        assert_eq!(text("${env^}|${env^^}|${env,}|${env,,}"), "Prod|PROD|prod|prod");
        assert_eq!(text("${#env}"), "4");
        assert_eq!(text("${env:1}|${env:1:2}|${env:9}|${env:x}"), "rod|ro||prod");
        // Go's Atoi takes no spaces: `${v: -2}` is the value unchanged.
        assert_eq!(
            text("${env: -2}|${env:9223372036854775807:1}|${env:2:9223372036854775807}"),
            "prod||od"
        );
        assert_eq!(text("${env:1:-1}|${env:3:-2}"), "ro|");
        // `*` matches `/` too, as in bash.
        assert_eq!(
            text("${path#*/}|${path##*/}|${path%/*}|${path%%/*}"),
            "web/app.yaml|app.yaml|apps/web|apps"
        );
        assert_eq!(text("${path#x*}|${path%.y?ml}"), "apps/web/app.yaml|apps/web/app");
        assert_eq!(
            text("${env/o/0}|${path//a/A}|${env/#pr/PR}|${env/%od/OD}|${env/#x/y}"),
            "pr0d|Apps/web/App.yAml|PRod|prOD|prod"
        );
        assert_eq!(text("${path/\\/web/}"), "apps/app.yaml");
        // Only replacements read `\` as an escape; `/#` and `/%` need a replacement.
        assert_eq!(
            text("${missing:=a\\.b}|${env/#pr/}|${env/%od/}|${env/o/}"),
            "a\\.b|prod|prod|prd"
        );
        // Strict mode: a form that reads the value needs the variable.
        assert!(expand("${missing}", &v).err().unwrap().contains("not set"));
        assert!(expand("${missing^^}", &v).err().unwrap().contains("not set"));
        // Forms Flux does not parse, and broken ones, are errors.
        assert!(expand("${env-x}", &v).err().unwrap().contains("bad substitution"));
        assert!(expand("${env/x}", &v).err().unwrap().contains("bad substitution"));
        assert!(expand("${env", &v).err().unwrap().contains("unclosed"));
        assert!(expand("${1x}", &v).err().unwrap().contains("not a variable reference"));
        let deep = format!("{}x{}", "${missing:-".repeat(40), "}".repeat(40));
        assert!(expand(&deep, &v).err().unwrap().contains("nest more than"));
    }

    #[test]
    fn one_variable_names_its_source_and_a_default_or_two_do_not() {
        let v = vars(&[("env", "prod"), ("empty", "")]);
        let one = expand("x${env^^}", &v).unwrap();
        assert!(one.source.is_some() && !one.whole);
        assert!(expand("${env}", &v).unwrap().whole);
        assert!(expand("${missing:=x}", &v).unwrap().source.is_none());
        assert!(expand("${empty:=x}", &v).unwrap().source.is_none());
        assert!(expand("${env:=x}", &v).unwrap().source.is_some());
        assert!(expand("${env}${env}", &v).unwrap().source.is_none());
    }
}
