//! Text a pull request controls (names, messages, paths, test names) made safe to print.
//!
//! mtk-lint's output lands in CI logs and terminals. A GitHub runner reads every line of stdout
//! and stderr for workflow commands: a line that starts with `::` once leading whitespace is
//! trimmed, or that contains `##[` anywhere (the legacy form), and it splits lines at CR as well
//! as LF. Terminals act on ESC and BEL sequences. So user text must never carry a line break, a
//! control character, or a command marker into the output:
//!
//! - [`field`] escapes one field before a writer lays it out: control characters (C0, DEL, C1),
//!   U+2028 and U+2029 become visible escapes (`\r`, `\n`, `\t`, `\u{1b}`), and `##[` loses its
//!   power (`##\[`).
//! - [`lines`] is the last pass over rendered text: every line is checked again (a field can
//!   still start a line, as a policy's name heads its finding), a line whose text starts with
//!   `::` gets a `\` in front of it, and control characters are escaped, but for the colour
//!   sequences the writer itself emitted when colour is on.
//!
//! The `github` format writes workflow commands on purpose and escapes their data as the runner
//! expects; JSON and SARIF escape control characters by their own rules.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether a character must not reach the output as it is.
fn unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

fn escape_char(c: char, out: &mut String) {
    match c {
        '\r' => out.push_str("\\r"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        c => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
    }
}

/// One field of user text, safe to print on one line (see the module docs).
#[must_use]
pub fn field(s: &str) -> Cow<'_, str> {
    if !s.chars().any(unsafe_char) && !s.contains("##[") {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_char(c) {
            escape_char(c, &mut out);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out.replace("##[", "##\\["))
}

/// The length of an SGR colour sequence (`ESC [ digits ; … m`) at the start of `s`, if one is
/// there.
fn sgr_len(s: &str) -> Option<usize> {
    let rest = s.strip_prefix("\u{1b}[")?;
    let end = rest.find(|c: char| !(c.is_ascii_digit() || c == ';'))?;
    rest[end..].starts_with('m').then_some(2 + end + 1)
}

/// Rendered text made safe line by line (see the module docs). With `keep_colour`, the SGR
/// colour sequences in it are kept (they are the writer's own; user text went through
/// [`field`] first).
#[must_use]
pub fn lines(text: &str, keep_colour: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        // What the runner sees once it trims the line and skips the colour codes.
        let mut visible = line.trim_start();
        while let Some(n) = sgr_len(visible).filter(|_| keep_colour) {
            visible = visible[n..].trim_start();
        }
        if visible.starts_with("::") {
            out.push('\\');
        }
        let mut rest = line;
        while let Some(c) = rest.chars().next() {
            if let Some(n) = sgr_len(rest).filter(|_| keep_colour) {
                out.push_str(&rest[..n]);
                rest = &rest[n..];
                continue;
            }
            if unsafe_char(c) {
                escape_char(c, &mut out);
            } else {
                out.push(c);
            }
            rest = &rest[c.len_utf8()..];
        }
    }
    out.replace("##[", "##\\[")
}

/// Characters JSON allows raw inside strings that terminals and YAML do not: DEL, C1 controls,
/// U+2028, U+2029, and the noncharacters U+FFFE and U+FFFF.
fn raw_in_json(c: char) -> bool {
    matches!(c, '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{fffe}' | '\u{ffff}')
}

/// JSON string text with the characters of [`raw_in_json`] written as `\uXXXX` escapes and the
/// legacy command marker `##[` broken by one (`##\u005b`).
fn escape_json_text(text: &str) -> Cow<'_, str> {
    // Every character to escape is at U+007F or above, and the marker starts with `#`: text of
    // neither (nearly all of a report) is looked at once, a byte at a time.
    let plain = text.bytes().all(|b| b < 0x7f && b != b'#');
    if plain || !text.contains("##[") && !text.chars().any(raw_in_json) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if raw_in_json(c) {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out.replace("##[", "##\\u005b"))
}

/// Serialised JSON (or JSON-shaped YAML) safe to print: the legacy command marker `##[` is
/// broken by an escape (`##\u005b`) and DEL, C1 controls, U+2028 and U+2029 (which JSON allows
/// raw, but terminals and YAML do not) are written as `\uXXXX` escapes; every JSON and YAML
/// parser reads them back as the same characters, so the data stay exact. These characters can
/// only occur inside strings, where an escape is always valid. (The serialiser escapes C0
/// controls itself; no line of its output starts with `::`.)
#[must_use]
pub fn json(text: String) -> String {
    match escape_json_text(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(escaped) => escaped,
    }
}

/// Writes `value` as pretty-printed JSON with the escapes of [`json`], streamed: a report of
/// many findings is never held as text (or as a tree of JSON values) first.
pub fn write_json(
    value: &impl serde::Serialize,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let mut buffered = std::io::BufWriter::with_capacity(1 << 16, out);
    let formatter = SafeFormatter(serde_json::ser::PrettyFormatter::new());
    let mut serializer = serde_json::Serializer::with_formatter(&mut buffered, formatter);
    value.serialize(&mut serializer).map_err(std::io::Error::other)?;
    std::io::Write::flush(&mut buffered)
}

/// serde_json's pretty layout, with the escapes of [`json`] applied to the text of strings (and
/// keys) as it is written. A string's unescaped text arrives in fragments that end only where
/// the serialiser escapes a character itself, so a `##[` always lies within one fragment.
struct SafeFormatter<'a>(serde_json::ser::PrettyFormatter<'a>);

impl serde_json::ser::Formatter for SafeFormatter<'_> {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        writer.write_all(escape_json_text(fragment).as_bytes())
    }

    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_array(w)
    }

    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array(w)
    }

    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_array_value(w, first)
    }

    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array_value(w)
    }

    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object(w)
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object(w)
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_object_key(w, first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object_value(w)
    }

    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object_value(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_lose_line_breaks_controls_and_command_markers() {
        assert!(matches!(field("web-1"), Cow::Borrowed("web-1")));
        assert_eq!(field("n\r::error title=x::forged"), "n\\r::error title=x::forged");
        assert_eq!(field("t\n::warning::x"), "t\\n::warning::x");
        assert_eq!(field("a\u{1b}[31mred\u{7}"), "a\\u{1b}[31mred\\u{7}");
        assert_eq!(field("x\u{85}y\u{2028}z\u{2029}"), "x\\u{85}y\\u{2028}z\\u{2029}");
        assert_eq!(field("see ##[error]forged"), "see ##\\[error]forged");
    }

    #[test]
    fn no_line_starts_a_workflow_command_and_colour_survives_only_when_asked() {
        let text = "::error::x\n  \t ::warning::y\nok ::notice::z\n\u{1b}[31m::error::red\u{1b}[0m";
        let safe = lines(text, true);
        for line in safe.lines() {
            let mut visible = line.trim_start();
            while let Some(n) = sgr_len(visible) {
                visible = visible[n..].trim_start();
            }
            assert!(!visible.starts_with("::"), "{line:?}");
        }
        assert!(safe.contains("\u{1b}[31m"), "the writer's colour is kept: {safe:?}");
        assert!(safe.contains("ok ::notice::z"), "`::` inside a line is harmless");
        let plain = lines("a\u{1b}[31mb\rc", false);
        assert_eq!(plain, "a\\u{1b}[31mb\\rc");
        assert_eq!(lines("x ##[error]y", false), "x ##\\[error]y");
    }

    #[test]
    fn streamed_json_is_the_escaped_text_of_the_whole() {
        let value = serde_json::json!({
            "a\u{2028}key": ["##[error]x", "\u{85}\r\n::warning::y", "plain", 1, null],
            "nested": {"s": "\u{7f}##[group]\u{fffe}", "t": "##\u{9b}["},
        });
        let mut streamed = Vec::new();
        write_json(&value, &mut streamed).unwrap();
        let streamed = String::from_utf8(streamed).unwrap();
        assert_eq!(streamed, json(serde_json::to_string_pretty(&value).unwrap()));
        assert!(!streamed.contains("##[") && !streamed.contains('\u{2028}'), "{streamed}");
        let back: serde_json::Value = serde_json::from_str(&streamed).unwrap();
        assert_eq!(back, value);
    }
}
