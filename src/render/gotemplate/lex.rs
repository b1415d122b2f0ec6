//! The lexer of Go's `text/template` (Go's `text/template/parse/lex.go`): text, actions
//! between `{{` and `}}` with the trim markers `{{- ` and ` -}}`, comments `{{/* */}}`, and the
//! tokens inside an action. Every token keeps its byte offset in the template.

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// Text outside actions (already trimmed by neighbouring trim markers).
    Text,
    /// `{{` (with or without a trim marker).
    Open,
    /// `}}`.
    Close,
    /// A comment action, whole.
    Comment,
    Space,
    /// `=`.
    Assign,
    /// `:=`.
    Declare,
    Pipe,
    LeftParen,
    RightParen,
    /// `,` (between range variables) or any other single character the parser may refuse.
    Char,
    /// `"…"`, with escapes still in.
    String,
    /// `` `…` ``.
    RawString,
    /// `'x'`.
    CharConstant,
    Number,
    Bool,
    Nil,
    /// `.` alone.
    Dot,
    /// `.Name`.
    Field,
    /// `$` or `$name`.
    Variable,
    /// A function name.
    Identifier,
    /// `block`, `break`, `continue`, `define`, `else`, `end`, `if`, `range`, `template`, `with`.
    Keyword,
    Eof,
}

/// One token: its kind, text and where it starts in the template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Token {
    pub kind: Kind,
    pub text: String,
    pub pos: usize,
}

/// A lexing error: where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct LexError {
    pub pos: usize,
    pub message: String,
}

const KEYWORDS: &[&str] =
    &["block", "break", "continue", "define", "else", "end", "if", "range", "template", "with"];

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Splits a template into tokens.
pub(super) fn lex(src: &str) -> Result<Vec<Token>, LexError> {
    let mut lexer = Lexer { src, bytes: src.as_bytes(), at: 0, out: Vec::new(), trim_next: false };
    lexer.run()?;
    Ok(lexer.out)
}

struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    at: usize,
    out: Vec<Token>,
    /// The previous action ended with ` -}}`: the next text loses its leading spaces.
    trim_next: bool,
}

impl Lexer<'_> {
    fn emit(&mut self, kind: Kind, start: usize, end: usize) {
        self.out.push(Token { kind, text: self.src[start..end].to_string(), pos: start });
    }

    fn error<T>(pos: usize, message: impl Into<String>) -> Result<T, LexError> {
        Err(LexError { pos, message: message.into() })
    }

    fn run(&mut self) -> Result<(), LexError> {
        loop {
            let rest = &self.src[self.at..];
            let Some(open) = rest.find("{{") else {
                self.text(self.src.len());
                self.out.push(Token { kind: Kind::Eof, text: String::new(), pos: self.src.len() });
                return Ok(());
            };
            let open = self.at + open;
            let trim_left = self.bytes.get(open + 2) == Some(&b'-')
                && self.bytes.get(open + 3).is_some_and(|c| is_space(*c));
            let mut end = open;
            if trim_left {
                while end > self.at && is_space(self.bytes[end - 1]) {
                    end -= 1;
                }
            }
            self.text(end);
            self.at = open + if trim_left { 3 } else { 2 };
            if trim_left {
                while self.at < self.bytes.len() && is_space(self.bytes[self.at]) {
                    self.at += 1;
                }
            }
            if self.src[self.at..].starts_with("/*") {
                self.comment(open)?;
            } else {
                self.emit(Kind::Open, open, open + 2);
                self.action()?;
            }
        }
    }

    /// Text up to `end`, without its leading spaces after a ` -}}`.
    fn text(&mut self, end: usize) {
        let mut start = self.at;
        if self.trim_next {
            while start < end && is_space(self.bytes[start]) {
                start += 1;
            }
            self.trim_next = false;
        }
        if start < end {
            self.emit(Kind::Text, start, end);
        }
        self.at = end.max(self.at);
    }

    /// A right delimiter at `at`: its length and whether it trims (` -}}` counts the space).
    fn close_at(&self, at: usize) -> Option<(usize, bool)> {
        let rest = &self.bytes[at..];
        if rest.starts_with(b"}}") {
            return Some((2, false));
        }
        if rest.len() >= 4 && is_space(rest[0]) && rest[1..].starts_with(b"-}}") {
            return Some((4, true));
        }
        None
    }

    fn comment(&mut self, open: usize) -> Result<(), LexError> {
        let start = self.at;
        let Some(end) = self.src[start + 2..].find("*/") else {
            return Self::error(open, "unclosed comment");
        };
        let after = start + 2 + end + 2;
        let Some((len, trim)) = self.close_at(after) else {
            return Self::error(open, "comment ends before closing delimiter");
        };
        self.emit(Kind::Comment, open, after);
        self.at = after + len;
        self.trim_next = trim;
        Ok(())
    }

    /// The tokens of an action, through its right delimiter.
    fn action(&mut self) -> Result<(), LexError> {
        let mut depth = 0usize;
        loop {
            if let Some((len, trim)) = self.close_at(self.at) {
                if depth > 0 {
                    return Self::error(self.at, "unclosed left paren");
                }
                let start = if trim { self.at + 1 } else { self.at };
                self.emit(Kind::Close, start, self.at + len);
                self.at += len;
                self.trim_next = trim;
                return Ok(());
            }
            let start = self.at;
            let Some(c) = self.src[start..].chars().next() else {
                return Self::error(start, "unclosed action");
            };
            match c {
                ' ' | '\t' | '\r' | '\n' => {
                    while self.at < self.bytes.len()
                        && is_space(self.bytes[self.at])
                        && self.close_at(self.at).is_none_or(|(_, trim)| !trim)
                    {
                        self.at += 1;
                    }
                    self.emit(Kind::Space, start, self.at);
                }
                '=' => self.single(Kind::Assign, start),
                ':' => {
                    if self.bytes.get(start + 1) != Some(&b'=') {
                        return Self::error(start, "expected :=");
                    }
                    self.at += 2;
                    self.emit(Kind::Declare, start, self.at);
                }
                '|' => self.single(Kind::Pipe, start),
                '"' => self.quoted(start, b'"', "unterminated quoted string")?,
                '`' => {
                    let Some(end) = self.src[start + 1..].find('`') else {
                        return Self::error(start, "unterminated raw quoted string");
                    };
                    self.at = start + 1 + end + 1;
                    self.emit(Kind::RawString, start, self.at);
                }
                '\'' => self.quoted(start, b'\'', "unterminated character constant")?,
                '$' => self.field_or_variable(start, Kind::Variable)?,
                '.' => {
                    if self.bytes.get(start + 1).is_some_and(u8::is_ascii_digit) {
                        self.number(start)?;
                    } else {
                        self.field_or_variable(start, Kind::Field)?;
                    }
                }
                '+' | '-' | '0'..='9' => self.number(start)?,
                '(' => {
                    depth += 1;
                    self.single(Kind::LeftParen, start);
                }
                ')' => {
                    if depth == 0 {
                        return Self::error(start, "unexpected right paren");
                    }
                    depth -= 1;
                    self.single(Kind::RightParen, start);
                }
                c if is_alnum(c) => self.identifier(start)?,
                c if c.is_ascii() && !c.is_ascii_control() => self.single(Kind::Char, start),
                c => return Self::error(start, format!("unrecognized character in action: {c:?}")),
            }
        }
    }

    fn single(&mut self, kind: Kind, start: usize) {
        self.at = start + 1;
        self.emit(kind, start, self.at);
    }

    fn quoted(&mut self, start: usize, quote: u8, unterminated: &str) -> Result<(), LexError> {
        let mut at = start + 1;
        loop {
            match self.bytes.get(at) {
                None | Some(b'\n') => return Self::error(start, unterminated),
                Some(b'\\') => at += 2,
                Some(c) if *c == quote => break,
                Some(_) => at += 1,
            }
        }
        self.at = at + 1;
        let kind = if quote == b'"' { Kind::String } else { Kind::CharConstant };
        self.emit(kind, start, self.at);
        Ok(())
    }

    /// Whether the action may end a word at `at`: a space, the end, a delimiter, or one of
    /// `.,|:()`.
    fn at_terminator(&self, at: usize) -> bool {
        match self.bytes.get(at) {
            Some(c) if !is_space(*c) && !b".,|:)(=".contains(c) => {
                self.bytes[at..].starts_with(b"}}")
            }
            _ => true,
        }
    }

    fn word_end(&self, from: usize) -> usize {
        self.src[from..]
            .char_indices()
            .find(|(_, c)| !is_alnum(*c))
            .map_or(self.src.len(), |(i, _)| from + i)
    }

    fn field_or_variable(&mut self, start: usize, kind: Kind) -> Result<(), LexError> {
        if self.at_terminator(start + 1) {
            self.at = start + 1;
            self.emit(if kind == Kind::Field { Kind::Dot } else { Kind::Variable }, start, self.at);
            return Ok(());
        }
        let end = self.word_end(start + 1);
        if !self.at_terminator(end) {
            let c = self.src[end..].chars().next().unwrap_or(' ');
            return Self::error(end, format!("bad character {c:?}"));
        }
        self.at = end;
        self.emit(kind, start, end);
        Ok(())
    }

    fn identifier(&mut self, start: usize) -> Result<(), LexError> {
        let end = self.word_end(start);
        if !self.at_terminator(end) {
            let c = self.src[end..].chars().next().unwrap_or(' ');
            return Self::error(end, format!("bad character {c:?}"));
        }
        let word = &self.src[start..end];
        let kind = match word {
            "true" | "false" => Kind::Bool,
            "nil" => Kind::Nil,
            w if KEYWORDS.contains(&w) => Kind::Keyword,
            _ => Kind::Identifier,
        };
        self.at = end;
        self.emit(kind, start, end);
        Ok(())
    }

    /// A number as Go scans one: sign, base prefix, digits with `_`, fraction, exponent and
    /// an imaginary `i`; it must end at a terminator.
    fn number(&mut self, start: usize) -> Result<(), LexError> {
        let b = self.bytes;
        let mut at = start;
        if matches!(b.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        let mut digits: &dyn Fn(u8) -> bool = &|c: u8| c.is_ascii_digit() || c == b'_';
        let mut exponent: &[u8] = b"eE";
        if b.get(at) == Some(&b'0') {
            match b.get(at + 1) {
                Some(b'x' | b'X') => {
                    at += 2;
                    digits = &|c: u8| c.is_ascii_hexdigit() || c == b'_';
                    exponent = b"pP";
                }
                Some(b'o' | b'O') => {
                    at += 2;
                    digits = &|c: u8| (b'0'..=b'7').contains(&c) || c == b'_';
                    exponent = b"";
                }
                Some(b'b' | b'B') => {
                    at += 2;
                    digits = &|c: u8| c == b'0' || c == b'1' || c == b'_';
                    exponent = b"";
                }
                _ => {}
            }
        }
        while b.get(at).is_some_and(|c| digits(*c)) {
            at += 1;
        }
        if b.get(at) == Some(&b'.') {
            at += 1;
            while b.get(at).is_some_and(|c| digits(*c)) {
                at += 1;
            }
        }
        if b.get(at).is_some_and(|c| exponent.contains(c)) {
            at += 1;
            if matches!(b.get(at), Some(b'+' | b'-')) {
                at += 1;
            }
            while b.get(at).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
                at += 1;
            }
        }
        if b.get(at) == Some(&b'i') {
            at += 1;
        }
        if self.src[at..].chars().next().is_some_and(is_alnum) {
            let end = self.word_end(at);
            return Self::error(start, format!("bad number syntax: {:?}", &self.src[start..end]));
        }
        self.at = at;
        self.emit(Kind::Number, start, at);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{lex, Kind};

    fn kinds(src: &str) -> Vec<(Kind, String)> {
        lex(src).unwrap().into_iter().map(|t| (t.kind, t.text)).collect()
    }

    #[test]
    fn text_actions_and_trim_markers() {
        use Kind::*;
        assert_eq!(
            kinds("a  {{- .X | f 1 \"s\" -}}  b"),
            [
                (Text, "a".into()),
                (Open, "{{".into()),
                (Field, ".X".into()),
                (Space, " ".into()),
                (Pipe, "|".into()),
                (Space, " ".into()),
                (Identifier, "f".into()),
                (Space, " ".into()),
                (Number, "1".into()),
                (Space, " ".into()),
                (String, "\"s\"".into()),
                (Close, "-}}".into()),
                (Text, "b".into()),
                (Eof, std::string::String::new()),
            ]
        );
        // `{{-3}}` is the number -3, not a trim marker.
        assert_eq!(kinds("{{-3}}")[1], (Number, "-3".into()));
        assert_eq!(kinds("x {{/* c */}} y")[1].0, Comment);
        assert_eq!(
            kinds("x \n{{- /* c */ -}}\n y"),
            [
                (Text, "x".into()),
                (Comment, "{{- /* c */".into()),
                (Text, "y".into()),
                (Eof, std::string::String::new())
            ]
        );
    }

    #[test]
    fn errors_say_where() {
        let e = lex("{{ .X ").unwrap_err();
        assert_eq!(e.message, "unclosed action");
        let e = lex("ab{{ \"x }}").unwrap_err();
        assert_eq!((e.pos, e.message.as_str()), (5, "unterminated quoted string"));
        assert_eq!(lex("{{ 3k }}").unwrap_err().message, "bad number syntax: \"3k\"");
        assert_eq!(
            lex("{{/* x */ }}").unwrap_err().message,
            "comment ends before closing delimiter"
        );
    }
}
