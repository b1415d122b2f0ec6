//! Sprig's string functions.

use super::{arity, at_least, int, strval, text, Result};
use crate::gopath::{base, clean, dir};
use crate::render::gotemplate::exec::Funcs;
use crate::render::gotemplate::value::Value;

fn s(text: &str) -> Value {
    Value::string(text)
}

/// A function of one string.
macro_rules! unary {
    ($funcs:expr, $name:literal, $f:expr) => {
        $funcs.insert($name, |_, a| {
            arity(a, 1, $name)?;
            let f: fn(&str) -> String = $f;
            Ok(s(&f(text(&a[0])?)))
        })
    };
}

pub(super) fn register(f: &mut Funcs) {
    register_cases(f);
    register_shaping(f);
    register_splitting(f);
}

/// Case, trimming and searching.
fn register_cases(f: &mut Funcs) {
    unary!(f, "upper", str::to_uppercase);
    unary!(f, "lower", str::to_lowercase);
    unary!(f, "title", title);
    unary!(f, "untitle", untitle);
    unary!(f, "trim", |x| x.trim_matches(is_go_space).to_string());
    unary!(f, "nospace", |x| x.chars().filter(|c| !c.is_whitespace()).collect());
    unary!(f, "initials", |x| x.split_whitespace().filter_map(|w| w.chars().next()).collect());
    unary!(f, "snakecase", snake);
    unary!(f, "kebabcase", |x| snake(x).replace('_', "-"));
    unary!(f, "camelcase", camel);
    unary!(f, "swapcase", swapcase);
    f.insert("trimAll", |_, a| {
        arity(a, 2, "trimAll")?;
        let cut: Vec<char> = text(&a[0])?.chars().collect();
        Ok(s(text(&a[1])?.trim_matches(|c| cut.contains(&c))))
    });
    f.insert("trimPrefix", |_, a| {
        arity(a, 2, "trimPrefix")?;
        let (p, x) = (text(&a[0])?, text(&a[1])?);
        Ok(s(x.strip_prefix(p).unwrap_or(x)))
    });
    f.insert("trimSuffix", |_, a| {
        arity(a, 2, "trimSuffix")?;
        let (p, x) = (text(&a[0])?, text(&a[1])?);
        Ok(s(x.strip_suffix(p).unwrap_or(x)))
    });
    f.insert("contains", |_, a| {
        arity(a, 2, "contains")?;
        Ok(Value::Bool(text(&a[1])?.contains(text(&a[0])?)))
    });
    f.insert("hasPrefix", |_, a| {
        arity(a, 2, "hasPrefix")?;
        Ok(Value::Bool(text(&a[1])?.starts_with(text(&a[0])?)))
    });
    f.insert("hasSuffix", |_, a| {
        arity(a, 2, "hasSuffix")?;
        Ok(Value::Bool(text(&a[1])?.ends_with(text(&a[0])?)))
    });
}

/// Functions that cut, pad, wrap or quote text.
fn register_shaping(f: &mut Funcs) {
    f.insert("repeat", |_, a| {
        arity(a, 2, "repeat")?;
        let n = usize::try_from(int(&a[0])?).map_err(|_| "strings: negative Repeat count")?;
        let x = text(&a[1])?;
        if x.len().saturating_mul(n) > MAX_TEXT {
            return Err(format!("repeat would make more than {MAX_TEXT} bytes"));
        }
        Ok(s(&x.repeat(n)))
    });
    f.insert("substr", |_, a| {
        arity(a, 3, "substr")?;
        Ok(s(&substr(int(&a[0])?, int(&a[1])?, text(&a[2])?)))
    });
    f.insert("trunc", |_, a| {
        arity(a, 2, "trunc")?;
        let (c, x) = (int(&a[0])?, text(&a[1])?);
        let len = i64::try_from(x.len()).unwrap_or(i64::MAX);
        Ok(s(if c < 0 && len + c > 0 {
            x.get(usize::try_from(len + c).unwrap_or(0)..).unwrap_or(x)
        } else if c >= 0 && len > c {
            x.get(..usize::try_from(c).unwrap_or(0)).unwrap_or(x)
        } else {
            x
        }))
    });
    f.insert("abbrev", |_, a| {
        arity(a, 2, "abbrev")?;
        Ok(s(&abbrev(int(&a[0])?, text(&a[1])?)))
    });
    f.insert("abbrevboth", |_, a| {
        arity(a, 3, "abbrevboth")?;
        Ok(s(&abbrevboth(int(&a[0])?, int(&a[1])?, text(&a[2])?)))
    });
    f.insert("wrap", |_, a| {
        arity(a, 2, "wrap")?;
        Ok(s(&wrap(int(&a[0])?, "\n", text(&a[1])?)))
    });
    f.insert("wrapWith", |_, a| {
        arity(a, 3, "wrapWith")?;
        Ok(s(&wrap(int(&a[0])?, text(&a[1])?, text(&a[2])?)))
    });
    f.insert("quote", |_, a| Ok(s(&quoted(a, '"'))));
    f.insert("squote", |_, a| Ok(s(&quoted(a, '\''))));
    f.insert("cat", |_, a| {
        let parts: Vec<String> =
            a.iter().filter(|v| !matches!(v, Value::Nil)).map(strval).collect();
        Ok(s(&parts.join(" ")))
    });
    f.insert("indent", |_, a| {
        arity(a, 2, "indent")?;
        Ok(s(&indent(int(&a[0])?, text(&a[1])?, "")))
    });
    f.insert("nindent", |_, a| {
        arity(a, 2, "nindent")?;
        Ok(s(&indent(int(&a[0])?, text(&a[1])?, "\n")))
    });
    f.insert("replace", |_, a| {
        arity(a, 3, "replace")?;
        Ok(s(&text(&a[2])?.replace(text(&a[0])?, text(&a[1])?)))
    });
    f.insert("plural", |_, a| {
        arity(a, 3, "plural")?;
        Ok(if int(&a[2])? == 1 { a[0].clone() } else { a[1].clone() })
    });
}

/// Splitting, joining, converting and paths.
fn register_splitting(f: &mut Funcs) {
    f.insert("split", |_, a| {
        arity(a, 2, "split")?;
        let parts = text(&a[1])?.split(text(&a[0])?).map(str::to_string).collect();
        Ok(indexed(parts))
    });
    f.insert("splitn", |_, a| {
        arity(a, 3, "splitn")?;
        let n = int(&a[1])?;
        let (sep, x) = (text(&a[0])?, text(&a[2])?);
        let parts: Vec<String> = match usize::try_from(n) {
            Ok(0) => Vec::new(),
            Ok(n) => x.splitn(n, sep).map(str::to_string).collect(),
            Err(_) => x.split(sep).map(str::to_string).collect(),
        };
        Ok(indexed(parts))
    });
    f.insert("splitList", |_, a| {
        arity(a, 2, "splitList")?;
        let parts = text(&a[1])?.split(text(&a[0])?).map(s).collect();
        Ok(Value::list(parts))
    });
    f.insert("join", |_, a| {
        arity(a, 2, "join")?;
        Ok(s(&super::strslice(&a[1]).join(text(&a[0])?)))
    });
    f.insert("toStrings", |_, a| {
        arity(a, 1, "toStrings")?;
        Ok(Value::list(super::strslice(&a[0]).iter().map(|x| s(x)).collect()))
    });
    f.insert("toString", |_, a| {
        arity(a, 1, "toString")?;
        Ok(s(&strval(&a[0])))
    });
    f.insert("base", |_, a| path_fn(a, "base", base));
    f.insert("dir", |_, a| path_fn(a, "dir", dir));
    f.insert("clean", |_, a| path_fn(a, "clean", clean));
    f.insert("ext", |_, a| {
        path_fn(a, "ext", |p| {
            base(p).rfind('.').map_or_else(String::new, |i| base(p)[i..].to_string())
        })
    });
    f.insert("isAbs", |_, a| {
        arity(a, 1, "isAbs")?;
        Ok(Value::Bool(text(&a[0])?.starts_with('/')))
    });
    f.insert("osBase", |_, a| path_fn(a, "osBase", base));
    f.insert("osDir", |_, a| path_fn(a, "osDir", dir));
    f.insert("osClean", |_, a| path_fn(a, "osClean", clean));
    f.insert("osIsAbs", |_, a| {
        arity(a, 1, "osIsAbs")?;
        Ok(Value::Bool(text(&a[0])?.starts_with('/')))
    });
    f.insert("osExt", |_, a| {
        path_fn(a, "osExt", |p| {
            base(p).rfind('.').map_or_else(String::new, |i| base(p)[i..].to_string())
        })
    });
    let _ = at_least;
}

/// The longest string a function may build (`repeat`): a template cannot exhaust memory.
pub(super) const MAX_TEXT: usize = 64 << 20;

fn is_go_space(c: char) -> bool {
    c.is_whitespace()
}

/// `strings.Title`: the first letter of each word upper-cased.
fn title(x: &str) -> String {
    let mut out = String::with_capacity(x.len());
    let mut prev: Option<char> = None;
    for c in x.chars() {
        let boundary = prev.is_none_or(|p| !(p.is_alphanumeric() || p == '_'));
        if boundary {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev = Some(c);
    }
    out
}

/// xstrings' `Untitle`-like: the first letter of each word lower-cased.
fn untitle(x: &str) -> String {
    let mut out = String::with_capacity(x.len());
    let mut at_start = true;
    for c in x.chars() {
        if at_start && !c.is_whitespace() {
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
        at_start = c.is_whitespace();
    }
    out
}

/// xstrings' `ToSnakeCase`.
fn snake(x: &str) -> String {
    let chars: Vec<char> = x.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1);
            let after_lower = prev.is_some_and(|p| p.is_lowercase() || p.is_ascii_digit());
            let before_lower =
                prev.is_some_and(char::is_uppercase) && next.is_some_and(|n| n.is_lowercase());
            if (after_lower || before_lower) && !out.ends_with('_') {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else if c == '-' || c == ' ' || c == '_' {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// xstrings' `ToCamelCase`: `_`-separated words joined, each capitalised; leading and
/// trailing `_` kept, doubled ones halved (`_complex__case_` → `_Complex_Case_`).
fn camel(x: &str) -> String {
    let upper = |c: char| c.to_uppercase().next().unwrap_or(c);
    let chars: Vec<char> = x.chars().collect();
    let mut out = String::with_capacity(x.len());
    let mut i = 0;
    while i < chars.len() && chars[i] == '_' {
        out.push('_');
        i += 1;
    }
    let Some(&first) = chars.get(i) else { return out };
    out.push(upper(first));
    let Some(&second) = chars.get(i + 1) else { return out };
    let mut r0 = second;
    for &c in &chars[i + 2..] {
        let r1 = r0;
        r0 = c;
        if r1 == '_' && r0 == '_' {
            out.push('_');
            continue;
        }
        if r1 == '_' {
            r0 = upper(r0);
        } else {
            out.push(r1);
        }
    }
    out.push(r0);
    out
}

fn swapcase(x: &str) -> String {
    x.chars()
        .flat_map(|c| {
            if c.is_uppercase() {
                c.to_lowercase().collect::<Vec<_>>()
            } else {
                c.to_uppercase().collect::<Vec<_>>()
            }
        })
        .collect()
}

/// sprig's `substr`: bytes `start..end`; a negative start is 0, a negative end or one past
/// the end is the end.
fn substr(start: i64, end: i64, x: &str) -> String {
    let len = x.len();
    let start = usize::try_from(start).unwrap_or(0);
    let end = usize::try_from(end).map_or(len, |e| e.min(len));
    if start > end || start > len {
        return String::new();
    }
    String::from_utf8_lossy(&x.as_bytes()[start..end]).into_owned()
}

fn abbrev(width: i64, x: &str) -> String {
    let len = i64::try_from(x.chars().count()).unwrap_or(i64::MAX);
    if width < 4 || len <= width {
        return x.to_string();
    }
    let keep = usize::try_from(width - 3).unwrap_or(0);
    format!("{}...", x.chars().take(keep).collect::<String>())
}

fn abbrevboth(left: i64, right: i64, x: &str) -> String {
    let chars: Vec<char> = x.chars().collect();
    let len = i64::try_from(chars.len()).unwrap_or(i64::MAX);
    if right < 4 || (left > 0 && right < 7) || len <= right {
        return x.to_string();
    }
    let mut offset = left.max(0).min(len);
    if len - offset < right - 3 {
        offset = len - (right - 3);
    }
    if offset <= 4 {
        return abbrev(right, x);
    }
    if right < 7 {
        return x.to_string();
    }
    if offset + right - 3 < len {
        let rest: String = chars[usize::try_from(offset).unwrap_or(0)..].iter().collect();
        return format!("...{}", abbrev(right - 3, &rest));
    }
    let from = usize::try_from(len - (right - 3)).unwrap_or(0);
    format!("...{}", chars[from..].iter().collect::<String>())
}

/// goutils' `WrapCustom`: lines broken at spaces before `width`, joined with `sep`.
fn wrap(width: i64, sep: &str, x: &str) -> String {
    let width = usize::try_from(width).unwrap_or(1).max(1);
    let mut out = String::new();
    for (n, line) in x.split('\n').enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let mut current = String::new();
        for word in line.split(' ') {
            if !current.is_empty() && current.len() + 1 + word.len() > width {
                out.push_str(&current);
                out.push_str(sep);
                current.clear();
            } else if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(word);
        }
        out.push_str(&current);
    }
    out
}

fn quoted(args: &[Value], quote: char) -> String {
    let parts: Vec<String> = args
        .iter()
        .filter(|v| !matches!(v, Value::Nil))
        .map(|v| {
            let x = strval(v);
            if quote == '"' {
                crate::render::gotemplate::format::quote(&x)
            } else {
                format!("'{x}'")
            }
        })
        .collect();
    parts.join(" ")
}

/// `x` with `spaces` spaces before each line, after `lead` (`nindent`'s newline).
fn indent(spaces: i64, x: &str, lead: &str) -> String {
    let pad = " ".repeat(usize::try_from(spaces).unwrap_or(0).min(MAX_TEXT));
    // Written line by line into one string: charts indent every `toYaml` they print.
    let lines = memchr::memchr_iter(b'\n', x.as_bytes()).count() + 1;
    let size = pad.len().saturating_mul(lines).saturating_add(lead.len() + x.len());
    let mut out = String::with_capacity(size.min(MAX_TEXT));
    out.push_str(lead);
    for (i, line) in x.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&pad);
        out.push_str(line);
    }
    out
}

/// `split`'s result: a map of `_0`, `_1`, … to the parts.
fn indexed(parts: Vec<String>) -> Value {
    Value::map(parts.into_iter().enumerate().map(|(i, p)| (format!("_{i}"), s(&p))).collect())
}

fn path_fn(args: &[Value], name: &str, f: fn(&str) -> String) -> Result<Value> {
    arity(args, 1, name)?;
    Ok(s(&f(text(&args[0])?)))
}

#[cfg(test)]
mod tests {
    use super::indent;

    #[test]
    fn indent_pads_every_line_as_sprig_does() {
        // sprig: `pad + strings.Replace(v, "\n", "\n"+pad, -1)`; nindent puts "\n" first.
        assert_eq!(indent(2, "a\nb", ""), "  a\n  b");
        assert_eq!(indent(2, "a\n", ""), "  a\n  ");
        assert_eq!(indent(3, "", ""), "   ");
        assert_eq!(indent(0, "a\n\nb", ""), "a\n\nb");
        assert_eq!(indent(-4, "a\nb", ""), "a\nb");
        assert_eq!(indent(1, "x\ny", "\n"), "\n x\n y");
        assert_eq!(indent(2, "é\nü", ""), "  é\n  ü");
    }
}
