//! CEL tokens (github.com/google/cel-spec, doc/langdef.md, "Syntax").

/// One token and the byte offset where it starts.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Token {
    pub(super) kind: Tok,
    pub(super) at: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Tok {
    Int(i64),
    Uint(u64),
    Double(f64),
    Str(String),
    Bytes(Vec<u8>),
    Ident(String),
    /// Punctuation and operators: `( ) [ ] { } . , : ? + - * / % ! == != < <= > >= && ||`.
    Punct(&'static str),
    End,
}

/// Splits an expression into tokens; the error is (byte offset, message).
pub(super) fn tokens(text: &str) -> Result<Vec<Token>, (usize, String)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        // Comments run to the end of the line.
        if text[i..].starts_with("//") {
            i = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
            continue;
        }
        let start = i;
        let kind = if c.is_ascii_digit()
            || (c == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            let (tok, len) = number(&text[i..]).map_err(|m| (start, m))?;
            i += len;
            tok
        } else if let Some((prefix_len, raw, is_bytes)) = string_prefix(&text[i..]) {
            let (value, len) = string(&text[i + prefix_len..], raw, is_bytes)
                .map_err(|(o, m)| (start + prefix_len + o, m))?;
            i += prefix_len + len;
            if is_bytes {
                Tok::Bytes(value)
            } else {
                Tok::Str(
                    String::from_utf8(value)
                        .map_err(|_| (start, "invalid UTF-8 in a string".to_string()))?,
                )
            }
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let len = text[i..]
                .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                .unwrap_or(text.len() - i);
            i += len;
            Tok::Ident(text[start..i].to_string())
        } else {
            const PUNCT: [&str; 26] = [
                "==", "!=", "<=", ">=", "&&", "||", "(", ")", "[", "]", "{", "}", ".", ",", ":",
                "?", "+", "-", "*", "/", "%", "!", "<", ">", "=", "`",
            ];
            let Some(p) = PUNCT.iter().find(|p| text[i..].starts_with(**p)) else {
                let ch = text[i..].chars().next().unwrap_or('?');
                return Err((start, format!("unexpected character `{ch}`")));
            };
            if matches!(*p, "=" | "`") {
                return Err((start, format!("unexpected `{p}`")));
            }
            i += p.len();
            Tok::Punct(p)
        };
        out.push(Token { kind, at: start });
    }
    out.push(Token { kind: Tok::End, at: bytes.len() });
    Ok(out)
}

/// A number: decimal or hex integer (`u` suffix: unsigned), or a double.
fn number(s: &str) -> Result<(Tok, usize), String> {
    let b = s.as_bytes();
    if s.starts_with("0x") || s.starts_with("0X") {
        let digits = s[2..].find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(s.len() - 2);
        let text = &s[2..2 + digits];
        let mut len = 2 + digits;
        if b.get(len).is_some_and(|c| *c == b'u' || *c == b'U') {
            len += 1;
            let v = u64::from_str_radix(text, 16)
                .map_err(|_| format!("invalid unsigned integer `{}`", &s[..len]))?;
            return Ok((Tok::Uint(v), len));
        }
        let v = i64::from_str_radix(text, 16)
            .map_err(|_| format!("integer `{}` is out of range", &s[..len]))?;
        return Ok((Tok::Int(v), len));
    }
    let mut len = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let mut double = false;
    if b.get(len) == Some(&b'.') && b.get(len + 1).is_some_and(u8::is_ascii_digit) {
        double = true;
        len += 1;
        len += s[len..].find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len() - len);
    }
    if matches!(b.get(len), Some(b'e' | b'E')) {
        let mut j = len + 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if b.get(j).is_some_and(u8::is_ascii_digit) {
            double = true;
            len = j + s[j..].find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len() - j);
        }
    }
    let text = &s[..len];
    if double {
        let v: f64 = text.parse().map_err(|_| format!("invalid number `{text}`"))?;
        return Ok((Tok::Double(v), len));
    }
    if matches!(b.get(len), Some(b'u' | b'U')) {
        let v: u64 =
            text.parse().map_err(|_| format!("unsigned integer `{text}` is out of range"))?;
        return Ok((Tok::Uint(v), len + 1));
    }
    // `-9223372036854775808` is a negated 9223372036854775808: the parser folds it.
    match text.parse::<i64>() {
        Ok(v) => Ok((Tok::Int(v), len)),
        Err(_) if text == "9223372036854775808" => Ok((Tok::Uint(1 << 63), len)),
        Err(_) => Err(format!("integer `{text}` is out of range")),
    }
}

/// A string or bytes prefix (`r`, `b`, `rb`, `br`, any case) before a quote: (prefix length,
/// raw, bytes).
fn string_prefix(s: &str) -> Option<(usize, bool, bool)> {
    let lower: String = s.chars().take(3).collect::<String>().to_ascii_lowercase();
    for (prefix, raw, bytes) in [
        ("rb", true, true),
        ("br", true, true),
        ("r", true, false),
        ("b", false, true),
        ("", false, false),
    ] {
        if lower.starts_with(prefix) && lower[prefix.len()..].starts_with(['\'', '"']) {
            return Some((prefix.len(), raw, bytes));
        }
    }
    None
}

/// The body of a quoted literal starting at its opening quote: (bytes, length with quotes).
fn string(s: &str, raw: bool, bytes: bool) -> Result<(Vec<u8>, usize), (usize, String)> {
    let quote = if s.starts_with("'''") {
        "'''"
    } else if s.starts_with("\"\"\"") {
        "\"\"\""
    } else {
        &s[..1]
    };
    let triple = quote.len() == 3;
    let mut out = Vec::new();
    let mut i = quote.len();
    loop {
        let rest = &s[i..];
        if rest.starts_with(quote) {
            return Ok((out, i + quote.len()));
        }
        let Some(c) = rest.chars().next() else {
            return Err((0, "unterminated string".into()));
        };
        if !triple && (c == '\n' || c == '\r') {
            return Err((0, "unterminated string (a line break inside single quotes)".into()));
        }
        if c == '\\' && !raw {
            let (escaped, len) = escape(rest, bytes).map_err(|m| (i, m))?;
            out.extend(escaped);
            i += len;
            continue;
        }
        let mut buf = [0u8; 4];
        out.extend(c.encode_utf8(&mut buf).as_bytes());
        i += c.len_utf8();
    }
}

/// One escape sequence starting at `\`: (bytes, length). In a bytes literal `\xHH` is one
/// byte; in a string it is the code point U+00HH.
fn escape(text: &str, bytes: bool) -> Result<(Vec<u8>, usize), String> {
    let Some(&kind) = text.as_bytes().get(1) else { return Err("unterminated escape".into()) };
    let simple = |byte: u8| Ok((vec![byte], 2));
    match kind {
        b'\\' | b'\'' | b'"' | b'`' | b'?' => simple(kind),
        b'a' => simple(7),
        b'b' => simple(8),
        b'f' => simple(12),
        b'n' => simple(b'\n'),
        b'r' => simple(b'\r'),
        b't' => simple(b'\t'),
        b'v' => simple(11),
        b'x' | b'X' | b'u' | b'U' => {
            let digits = match kind {
                b'x' | b'X' => 2,
                b'u' => 4,
                _ => 8,
            };
            let hex = text.get(2..2 + digits).ok_or("short escape")?;
            let value = u32::from_str_radix(hex, 16)
                .map_err(|_| format!("invalid escape `\\{}{hex}`", kind as char))?;
            if digits == 2 && bytes {
                return Ok((vec![value as u8], 4));
            }
            let ch = char::from_u32(value)
                .ok_or_else(|| format!("`\\{}{hex}` is not a character", kind as char))?;
            let mut buf = [0u8; 4];
            Ok((ch.encode_utf8(&mut buf).as_bytes().to_vec(), 2 + digits))
        }
        b'0'..=b'3' => {
            let oct = text.get(1..4).ok_or("short octal escape")?;
            let value = u8::from_str_radix(oct, 8)
                .map_err(|_| format!("invalid octal escape `\\{oct}`"))?;
            Ok((vec![value], 4))
        }
        other => Err(format!("invalid escape `\\{}`", other as char)),
    }
}
