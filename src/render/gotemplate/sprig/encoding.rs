//! Sprig's encodings (base64, base32), hashes, JSON, regular expressions (Go's RE2 syntax,
//! which the `regex` crate shares), `fail` and `semverCompare`'s neighbours.

use std::fmt::Write as _;

use sha2::Digest as _;

use super::{arity, text, Result};
use crate::render::gotemplate::exec::Funcs;
use crate::render::gotemplate::format;
use crate::render::gotemplate::value::Value;

fn s(text: &str) -> Value {
    Value::string(text)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// The largest compiled regular expression a template may ask for.
const REGEX_SIZE: usize = 1 << 20;

fn regex(pattern: &str) -> Result<regex::Regex> {
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE)
        .build()
        .map_err(|e| format!("error parsing regexp: {e}"))
}

/// Go's `n` of the regexp functions: negative for all.
fn limit(n: i64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

pub(super) fn register(f: &mut Funcs) {
    register_codecs(f);
    register_regex(f);
}

/// Encodings, hashes and JSON.
fn register_codecs(f: &mut Funcs) {
    f.insert("b64enc", |_, a| {
        arity(a, 1, "b64enc")?;
        Ok(s(&crate::base64::encode(text(&a[0])?.as_bytes())))
    });
    f.insert("b64dec", |_, a| {
        arity(a, 1, "b64dec")?;
        let decoded = crate::base64::decode(text(&a[0])?);
        Ok(s(&decoded.map_or_else(
            || "illegal base64 data".into(),
            |b| String::from_utf8_lossy(&b).into_owned(),
        )))
    });
    f.insert("b32enc", |_, a| {
        arity(a, 1, "b32enc")?;
        Ok(s(&base32_encode(text(&a[0])?.as_bytes())))
    });
    f.insert("b32dec", |_, a| {
        arity(a, 1, "b32dec")?;
        Ok(s(&base32_decode(text(&a[0])?).map_or_else(
            || "illegal base32 data".into(),
            |b| String::from_utf8_lossy(&b).into_owned(),
        )))
    });
    f.insert("sha1sum", |_, a| {
        arity(a, 1, "sha1sum")?;
        Ok(s(&hex(&sha1::Sha1::digest(text(&a[0])?.as_bytes()))))
    });
    f.insert("sha256sum", |_, a| {
        arity(a, 1, "sha256sum")?;
        Ok(s(&hex(&sha2::Sha256::digest(text(&a[0])?.as_bytes()))))
    });
    f.insert("sha512sum", |_, a| {
        arity(a, 1, "sha512sum")?;
        Ok(s(&hex(&sha2::Sha512::digest(text(&a[0])?.as_bytes()))))
    });
    f.insert("adler32sum", |_, a| {
        arity(a, 1, "adler32sum")?;
        Ok(s(&adler32(text(&a[0])?.as_bytes()).to_string()))
    });
    for (name, pretty, escape) in [
        ("toJson", false, true),
        ("mustToJson", false, true),
        ("toPrettyJson", true, true),
        ("mustToPrettyJson", true, true),
        ("toRawJson", false, false),
        ("mustToRawJson", false, false),
    ] {
        let func: crate::render::gotemplate::exec::Func = match (pretty, escape) {
            (false, true) => |_, a| json_func(a, false, true),
            (true, _) => |_, a| json_func(a, true, true),
            (false, false) => |_, a| json_func(a, false, false),
        };
        f.insert(name, func);
    }
    f.insert("fromJson", |_, a| {
        arity(a, 1, "fromJson")?;
        Ok(serde_json::from_str::<serde_json::Value>(text(&a[0])?)
            .map_or_else(|_| Value::Nil, |v| Value::from_json_floats(&v)))
    });
    f.insert("mustFromJson", |_, a| {
        arity(a, 1, "mustFromJson")?;
        serde_json::from_str::<serde_json::Value>(text(&a[0])?)
            .map(|v| Value::from_json_floats(&v))
            .map_err(|e| e.to_string())
    });
}

/// Regular expressions (Go's RE2 syntax) and `fail`.
fn register_regex(f: &mut Funcs) {
    for name in ["regexMatch", "mustRegexMatch"] {
        f.insert(name, |_, a| {
            arity(a, 2, "regexMatch")?;
            Ok(Value::Bool(regex(text(&a[0])?)?.is_match(text(&a[1])?)))
        });
    }
    for name in ["regexFind", "mustRegexFind"] {
        f.insert(name, |_, a| {
            arity(a, 2, "regexFind")?;
            let re = regex(text(&a[0])?)?;
            Ok(s(re.find(text(&a[1])?).map_or("", |m| m.as_str())))
        });
    }
    for name in ["regexFindAll", "mustRegexFindAll"] {
        f.insert(name, |_, a| {
            arity(a, 3, "regexFindAll")?;
            let re = regex(text(&a[0])?)?;
            let n = limit(super::int(&a[2])?);
            Ok(Value::list(re.find_iter(text(&a[1])?).take(n).map(|m| s(m.as_str())).collect()))
        });
    }
    for name in ["regexReplaceAll", "mustRegexReplaceAll"] {
        f.insert(name, |_, a| {
            arity(a, 3, "regexReplaceAll")?;
            let re = regex(text(&a[0])?)?;
            Ok(s(&re.replace_all(text(&a[1])?, go_expand(text(&a[2])?).as_str())))
        });
    }
    for name in ["regexReplaceAllLiteral", "mustRegexReplaceAllLiteral"] {
        f.insert(name, |_, a| {
            arity(a, 3, "regexReplaceAllLiteral")?;
            let re = regex(text(&a[0])?)?;
            Ok(s(&re.replace_all(text(&a[1])?, regex::NoExpand(text(&a[2])?))))
        });
    }
    for name in ["regexSplit", "mustRegexSplit"] {
        f.insert(name, |_, a| {
            arity(a, 3, "regexSplit")?;
            let re = regex(text(&a[0])?)?;
            let n = super::int(&a[2])?;
            let x = text(&a[1])?;
            let parts: Vec<Value> = match usize::try_from(n) {
                Ok(0) => Vec::new(),
                Ok(n) => re.splitn(x, n).map(s).collect(),
                Err(_) => re.split(x).map(s).collect(),
            };
            Ok(Value::list(parts))
        });
    }
    f.insert("regexQuoteMeta", |_, a| {
        arity(a, 1, "regexQuoteMeta")?;
        // Go's `QuoteMeta`: only `\.+*?()|[]{}^$` are escaped.
        let quoted = text(&a[0])?.chars().fold(String::new(), |mut out, c| {
            if "\\.+*?()|[]{}^$".contains(c) {
                out.push('\\');
            }
            out.push(c);
            out
        });
        Ok(s(&quoted))
    });
    f.insert("fail", |_, a| {
        arity(a, 1, "fail")?;
        Err(text(&a[0])?.to_string())
    });
}

/// Go's `Expand` template (`$1`, `${name}`) in the `regex` crate's spelling: Go reads `$1x`
/// as the group named `1x`, as the crate does; `$$` is a dollar in both.
fn go_expand(replacement: &str) -> String {
    replacement.to_string()
}

fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in bytes.chunks(5552) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    (b << 16) | a
}

const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let bits = buf.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..8 {
            if i < chars {
                let index = usize::try_from((bits >> (35 - i * 5)) & 31).unwrap_or(0);
                out.push(char::from(B32[index]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut bits = 0u64;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes().filter(|c| *c != b'=' && !c.is_ascii_whitespace()) {
        let v = B32.iter().position(|&b| b == c)?;
        bits = (bits << 5) | u64::try_from(v).ok()?;
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push(u8::try_from((bits >> count) & 0xff).ok()?);
        }
    }
    Some(out)
}

fn json_func(a: &[Value], pretty: bool, escape_html: bool) -> Result<Value> {
    arity(a, 1, "toJson")?;
    let mut out = String::new();
    write_json(&mut out, &a[0], escape_html, (pretty, 0))?;
    Ok(s(&out))
}

/// `json.Marshal` (or `MarshalIndent` with two spaces): keys in order, Go's float format,
/// `<`, `>` and `&` escaped unless raw.
pub fn write_json(
    out: &mut String,
    v: &Value,
    escape_html: bool,
    (pretty, depth): (bool, usize),
) -> Result<()> {
    if depth > 100 {
        return Err("json: unsupported value: encountered a cycle".into());
    }
    let newline = |out: &mut String, depth: usize| {
        if pretty {
            out.push('\n');
            out.push_str(&"  ".repeat(depth));
        }
    };
    match v {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&json_float(*f)?),
        Value::Object(o) => json_string(out, &o.print(), escape_html),
        Value::Str(x) => json_string(out, x, escape_html),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                write_json(out, item, escape_html, (pretty, depth + 1))?;
            }
            if !items.is_empty() {
                newline(out, depth);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            let m = m.borrow();
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                json_string(out, k, escape_html);
                out.push(':');
                if pretty {
                    out.push(' ');
                }
                write_json(out, item, escape_html, (pretty, depth + 1))?;
            }
            if !m.is_empty() {
                newline(out, depth);
            }
            out.push('}');
        }
    }
    Ok(())
}

/// Go's JSON number for a float64: `%f`-like shortest digits, exponent form below 1e-6 and
/// from 1e21 (`1e+21`, `1e-07`).
fn json_float(f: f64) -> Result<String> {
    if !f.is_finite() {
        return Err(format!("json: unsupported value: {}", format::v(&Value::Float(f))));
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let text = format!("{f:e}");
        let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        // Go writes `1e-7` and `1e+21`.
        return Ok(if exp < 0 {
            format!("{mantissa}e-{}", exp.abs())
        } else {
            format!("{mantissa}e+{exp:02}")
        });
    }
    Ok(format!("{f}"))
}

fn json_string(out: &mut String, x: &str, escape_html: bool) {
    out.push('"');
    for c in x.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' if escape_html => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
