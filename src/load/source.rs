//! Source files and positions: what every later stage points back into.

use std::path::PathBuf;

/// A position in a source file: 1-based line, 0-based column counted in characters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

/// A range in one source file. Compact (16 bytes) because every YAML node carries one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    pub start: Pos,
    pub end: Pos,
}

impl Span {
    #[must_use]
    pub fn new(start: Pos, end: Pos) -> Self {
        Span { start, end }
    }

    /// A span that starts where `self` starts and ends where `other` ends.
    #[must_use]
    pub fn to(self, other: Span) -> Span {
        Span { start: self.start, end: other.end.max(self.start) }
    }
}

/// One input: a file on disk or standard input.
#[derive(Debug)]
pub struct SourceFile {
    /// Path as shown to the user: relative to the current directory when below it.
    pub display: String,
    /// Path on disk, when the input is a file.
    pub path: Option<PathBuf>,
    /// The text, as read (a file's bytes are not copied).
    pub text: Box<str>,
    /// Byte offset of the start of every line.
    line_starts: Vec<u32>,
}

impl SourceFile {
    #[must_use]
    pub fn new(display: String, path: Option<PathBuf>, text: Box<str>) -> Self {
        let bytes = text.as_bytes();
        let mut line_starts = Vec::with_capacity(1 + memchr::memchr_iter(b'\n', bytes).count());
        line_starts.push(0u32);
        line_starts.extend(memchr::memchr_iter(b'\n', bytes).map(|i| (i + 1) as u32));
        SourceFile { display, path, text, line_starts }
    }

    /// Byte offset of a position (clamped to the text).
    #[must_use]
    pub fn offset(&self, pos: Pos) -> usize {
        let line = (pos.line.max(1) - 1) as usize;
        let Some(&start) = self.line_starts.get(line) else {
            return self.text.len();
        };
        let start = start as usize;
        let rest = &self.text[start..];
        let line_end = rest.find('\n').map_or(rest.len(), |n| n);
        let line_text = &rest[..line_end];
        let col_bytes =
            line_text.char_indices().nth(pos.col as usize).map_or(line_text.len(), |(i, _)| i);
        start + col_bytes
    }

    /// Byte range of a span, never empty when the text allows one character.
    #[must_use]
    pub fn byte_range(&self, span: Span) -> (usize, usize) {
        let start = self.offset(span.start);
        let mut end = self.offset(span.end).max(start);
        if end == start && start < self.text.len() {
            end = start + self.text[start..].chars().next().map_or(0, char::len_utf8);
        }
        (start, end)
    }

    /// The text of one 1-based line, without its line break.
    #[must_use]
    pub fn line_text(&self, line: u32) -> &str {
        let idx = (line.max(1) - 1) as usize;
        let Some(&start) = self.line_starts.get(idx) else {
            return "";
        };
        let rest = &self.text[start as usize..];
        let end = rest.find('\n').map_or(rest.len(), |n| n);
        rest[..end].trim_end_matches('\r')
    }
}

/// The file as miette reads it for a snippet: its text under its display name.
impl miette::SourceCode for SourceFile {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let inner = self.text.read_span(span, context_lines_before, context_lines_after)?;
        Ok(Box::new(
            miette::MietteSpanContents::new_named(
                self.display.clone(),
                inner.data(),
                *inner.span(),
                inner.line(),
                inner.column(),
                inner.line_count(),
            )
            .with_language("yaml"),
        ))
    }
}
