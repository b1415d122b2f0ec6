//! Source files and positions: what every later stage points back into.

use std::path::PathBuf;

/// A position in a source file: 1-based line, 0-based column counted in characters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

/// A range in one source file. Every YAML node carries one, so it is packed into 8 bytes: a
/// node is 32 bytes and a mapping entry 56 instead of 40 and 72, which is a tenth of the memory
/// of a rendered fleet and the time it takes to touch it.
///
/// A span whose start line is below 2^25, whose columns are below 2^13 and whose end is at most
/// 4,095 lines after its start (nearly all of them) is held in the bits themselves. Any other is
/// kept whole in a table the process shares, and the bits hold its index there: nothing is
/// clamped or lost, a file of one long line only costs 16 bytes more per node.
#[derive(Clone, Copy, Default)]
pub struct Span(u64);

const LINE_BITS: u32 = 25;
const COL_BITS: u32 = 13;
const LINES_BITS: u32 = 12;
const WIDE: u64 = 1 << 63;

/// Spans too large to pack, in the order they were made; the index is never reused.
static WIDE_SPANS: std::sync::RwLock<Vec<(Pos, Pos)>> = std::sync::RwLock::new(Vec::new());

impl Span {
    #[must_use]
    pub fn new(start: Pos, end: Pos) -> Self {
        let fits = |v: u32, bits: u32| u64::from(v) < 1 << bits;
        let lines = end.line.wrapping_sub(start.line);
        if fits(start.line, LINE_BITS)
            && fits(start.col, COL_BITS)
            && end.line >= start.line
            && fits(lines, LINES_BITS)
            && fits(end.col, COL_BITS)
        {
            // Start line, start column, lines spanned, end column, from the highest bits down:
            // two packed spans compare as their (start, end) pairs do.
            let bits = (u64::from(start.line) << (COL_BITS + LINES_BITS + COL_BITS))
                | (u64::from(start.col) << (LINES_BITS + COL_BITS))
                | (u64::from(lines) << COL_BITS)
                | u64::from(end.col);
            return Span(bits);
        }
        let mut table = WIDE_SPANS.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        table.push((start, end));
        Span(WIDE | (table.len() - 1) as u64)
    }

    fn wide(self) -> Option<(Pos, Pos)> {
        if self.0 & WIDE == 0 {
            return None;
        }
        let table = WIDE_SPANS.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Every wide index was handed out by `new` after its push.
        Some(table.get((self.0 & !WIDE) as usize).copied().unwrap_or_default())
    }

    /// The `width` bits of a packed span above its lowest `shift`.
    #[inline]
    fn bits(self, shift: u32, width: u32) -> u32 {
        ((self.0 >> shift) & ((1 << width) - 1)) as u32
    }

    /// Where the span starts.
    #[must_use]
    #[inline]
    pub fn start(self) -> Pos {
        match self.wide() {
            Some((start, _)) => start,
            None => Pos {
                line: self.bits(COL_BITS + LINES_BITS + COL_BITS, LINE_BITS),
                col: self.bits(LINES_BITS + COL_BITS, COL_BITS),
            },
        }
    }

    /// Where the span ends.
    #[must_use]
    #[inline]
    pub fn end(self) -> Pos {
        match self.wide() {
            Some((_, end)) => end,
            None => Pos {
                line: self.bits(COL_BITS + LINES_BITS + COL_BITS, LINE_BITS)
                    + self.bits(COL_BITS, LINES_BITS),
                col: self.bits(0, COL_BITS),
            },
        }
    }

    /// A span that starts where `self` starts and ends where `other` ends.
    #[must_use]
    pub fn to(self, other: Span) -> Span {
        let start = self.start();
        Span::new(start, other.end().max(start))
    }

    /// The same span with its end moved.
    #[must_use]
    pub fn with_end(self, end: Pos) -> Span {
        Span::new(self.start(), end)
    }
}

impl std::fmt::Debug for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Span").field("start", &self.start()).field("end", &self.end()).finish()
    }
}

impl PartialEq for Span {
    fn eq(&self, other: &Self) -> bool {
        // A span is packed whenever it can be, so a packed span never equals a wide one.
        self.0 == other.0 || (self.0 & other.0 & WIDE != 0 && self.wide() == other.wide())
    }
}

impl Eq for Span {}

impl Ord for Span {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        if (self.0 | other.0) & WIDE == 0 {
            return self.0.cmp(&other.0);
        }
        (self.start(), self.end()).cmp(&(other.start(), other.end()))
    }
}

impl PartialOrd for Span {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::hash::Hash for Span {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        match self.wide() {
            None => self.0.hash(state),
            Some(pair) => pair.hash(state),
        }
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
    /// Where its lines start, made when first asked for: most files are never shown, and
    /// finding every line of a fleet's files cost as much as a tenth of reading them.
    lines: std::sync::OnceLock<Lines>,
}

/// The lines of a text.
#[derive(Debug)]
struct Lines {
    /// Byte offset of the start of every line.
    starts: Vec<u32>,
    /// Some line ends at a lone `\r` (then miette's `\n`-only line numbers differ from ours).
    lone_cr: bool,
}

impl Lines {
    fn of(text: &str) -> Lines {
        let starts = line_starts(text.as_bytes());
        let lone_cr =
            starts.iter().skip(1).any(|&s| text.as_bytes().get(s as usize - 1) == Some(&b'\r'));
        Lines { starts, lone_cr }
    }
}

impl SourceFile {
    #[must_use]
    pub fn new(display: String, path: Option<PathBuf>, text: Box<str>) -> Self {
        SourceFile { display, path, text, lines: std::sync::OnceLock::new() }
    }

    fn lines(&self) -> &Lines {
        self.lines.get_or_init(|| Lines::of(&self.text))
    }

    /// Number of lines (a final line break does not start another one that counts, but an
    /// empty text has one line).
    #[must_use]
    pub fn line_count(&self) -> usize {
        let starts = &self.lines().starts;
        let last_empty =
            starts.len() > 1 && starts.last().is_some_and(|&s| s as usize == self.text.len());
        starts.len() - usize::from(last_empty)
    }

    /// The first line longer than `max` bytes (without its line break): (line, length).
    #[must_use]
    pub fn line_longer_than(&self, max: usize) -> Option<(u32, usize)> {
        // No line of a text that short can be longer (the loader asks of every file).
        if self.text.len() <= max {
            return None;
        }
        let starts = &self.lines().starts;
        starts.iter().enumerate().find_map(|(i, &start)| {
            let next = starts.get(i + 1).map_or(self.text.len(), |&n| n as usize);
            // The distance to the next line start bounds the length: measure only long ones.
            if next - start as usize <= max {
                return None;
            }
            let len = line_end(&self.text[start as usize..]);
            (len > max).then_some((i as u32 + 1, len))
        })
    }

    /// Byte offset of a position (clamped to the text).
    #[must_use]
    pub fn offset(&self, pos: Pos) -> usize {
        let line = (pos.line.max(1) - 1) as usize;
        let Some(&start) = self.lines().starts.get(line) else {
            return self.text.len();
        };
        let start = start as usize;
        let rest = &self.text[start..];
        let line_text = &rest[..line_end(rest)];
        let col_bytes =
            line_text.char_indices().nth(pos.col as usize).map_or(line_text.len(), |(i, _)| i);
        start + col_bytes
    }

    /// Byte range of a span, never empty when the text allows one character.
    #[must_use]
    pub fn byte_range(&self, span: Span) -> (usize, usize) {
        let start = self.offset(span.start());
        let mut end = self.offset(span.end()).max(start);
        if end == start && start < self.text.len() {
            end = start + self.text[start..].chars().next().map_or(0, char::len_utf8);
        }
        (start, end)
    }

    /// The text of one 1-based line, without its line break.
    #[must_use]
    pub fn line_text(&self, line: u32) -> &str {
        let idx = (line.max(1) - 1) as usize;
        let Some(&start) = self.lines().starts.get(idx) else {
            return "";
        };
        let rest = &self.text[start as usize..];
        &rest[..line_end(rest)]
    }
}

/// Byte offset of the start of every line. A line ends at `\n`, `\r\n` or a lone `\r`: YAML
/// (and the Kubernetes decoder) take a lone carriage return as a line break, so the parser's
/// line numbers count it too.
fn line_starts(bytes: &[u8]) -> Vec<u32> {
    let breaks = || {
        memchr::memchr2_iter(b'\n', b'\r', bytes)
            .filter(|&i| bytes[i] == b'\n' || bytes.get(i + 1) != Some(&b'\n'))
            .map(|i| (i + 1) as u32)
    };
    let mut starts = Vec::with_capacity(1 + breaks().count());
    starts.push(0);
    starts.extend(breaks());
    starts
}

/// Length of the line at the start of `rest`, without its line break.
/// The text a span covers in `text` (its file's whole text), or `None` when the span lies
/// outside it. Lines end as [`SourceFile`] ends them; columns count characters.
#[must_use]
pub fn text_at(text: &str, span: Span) -> Option<&str> {
    let offset = |pos: Pos| -> Option<usize> {
        let mut start = 0;
        for _ in 1..pos.line.max(1) {
            let rest = &text[start..];
            let end = line_end(rest);
            let brk = if rest[end..].starts_with("\r\n") { 2 } else { 1 };
            if end == rest.len() {
                return None;
            }
            start += end + brk;
        }
        let line = &text[start..];
        let line = &line[..line_end(line)];
        match line.char_indices().nth(pos.col as usize) {
            Some((i, _)) => Some(start + i),
            None => (line.chars().count() == pos.col as usize).then_some(start + line.len()),
        }
    };
    let (start, end) = (offset(span.start())?, offset(span.end())?);
    text.get(start..end.max(start))
}

fn line_end(rest: &str) -> usize {
    rest.find(['\n', '\r']).unwrap_or(rest.len())
}

/// The file as miette reads it for a snippet: its text under its display name.
impl miette::SourceCode for SourceFile {
    /// Reads only the lines around the span (miette's own reader scans the text from its start
    /// for every snippet: a file with many findings cost findings × size).
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let text = &*self.text;
        let start = span.offset().min(text.len());
        let end = (start + span.len()).min(text.len());
        // The window: the span's lines and the context around them, by `\n` as miette counts.
        let line_start = |at: usize| text[..at].rfind('\n').map_or(0, |i| i + 1);
        let mut from = line_start(start);
        for _ in 0..context_lines_before {
            if from == 0 {
                break;
            }
            from = line_start(from - 1);
        }
        let next_line = |at: usize| text[at..].find('\n').map_or(text.len(), |i| at + i + 1);
        let mut to = next_line(end);
        for _ in 0..context_lines_after {
            if to >= text.len() {
                break;
            }
            to = next_line(to);
        }
        let window = &text[from..to];
        let relative = miette::SourceSpan::new((start - from).into(), end - start);
        let inner = window.read_span(&relative, context_lines_before, context_lines_after)?;
        let lines = self.lines();
        let lines_before = if lines.lone_cr {
            memchr::memchr_iter(b'\n', &text.as_bytes()[..from]).count()
        } else {
            lines.starts.partition_point(|&s| s as usize <= from) - 1
        };
        let absolute =
            miette::SourceSpan::new((inner.span().offset() + from).into(), inner.span().len());
        Ok(Box::new(
            miette::MietteSpanContents::new_named(
                self.display.clone(),
                inner.data(),
                absolute,
                inner.line() + lines_before,
                inner.column(),
                inner.line_count(),
            )
            .with_language("yaml"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> SourceFile {
        SourceFile::new("f.yaml".into(), None, text.into())
    }

    #[test]
    fn lines_end_at_lf_crlf_and_a_lone_cr() {
        let f = file("a: 1\nb: 2\r\nc: 3\rd: 4");
        assert_eq!(f.line_count(), 4);
        assert_eq!(
            (1..=4).map(|l| f.line_text(l)).collect::<Vec<_>>(),
            ["a: 1", "b: 2", "c: 3", "d: 4"]
        );
        assert_eq!(f.offset(Pos { line: 4, col: 3 }), "a: 1\nb: 2\r\nc: 3\rd: ".len());
        // A column past the end of a CRLF line stops before the CR.
        assert_eq!(f.offset(Pos { line: 2, col: 99 }), "a: 1\nb: 2".len());
    }

    #[test]
    fn the_first_line_longer_than_a_limit_is_found_at_any_length_of_text() {
        // One line of exactly the limit, or the limit less a break: none is longer.
        assert_eq!(file("abcd").line_longer_than(4), None);
        assert_eq!(file("abc\n").line_longer_than(4), None);
        assert_eq!(file("abcd").line_longer_than(3), Some((1, 4)));
        // Line breaks are not counted; `\r\n` and a lone `\r` end lines too.
        assert_eq!(file("ab\r\ncd\r\n").line_longer_than(2), None);
        assert_eq!(file("ab\rcde\nf").line_longer_than(2), Some((2, 3)));
        assert_eq!(file("a\n\nbcdef\nghijkl").line_longer_than(5), Some((4, 6)));
        assert_eq!(file("").line_longer_than(0), None);
    }

    #[test]
    fn line_count_ignores_a_final_line_break() {
        assert_eq!(file("").line_count(), 1);
        assert_eq!(file("a\n").line_count(), 1);
        assert_eq!(file("a\n\n").line_count(), 2);
        assert_eq!(file("a\r").line_count(), 1);
    }

    #[test]
    fn columns_count_characters() {
        let f = file("name: \"zürich\"\nx: ✓y\n");
        assert_eq!(f.offset(Pos { line: 2, col: 4 }), "name: \"zürich\"\nx: ✓".len());
        // An empty span widens to the character under it (3 bytes here).
        let at = "name: \"zürich\"\nx: ".len();
        let empty = Span::new(Pos { line: 2, col: 3 }, Pos { line: 2, col: 3 });
        assert_eq!(f.byte_range(empty), (at, at + 3));
    }

    fn pos(line: u32, col: u32) -> Pos {
        Pos { line, col }
    }

    /// Spans at and around every limit of the packed form, and some that cannot be packed.
    fn edge_spans() -> Vec<(Pos, Pos)> {
        let (line, col, lines) = (1 << LINE_BITS, 1 << COL_BITS, 1 << LINES_BITS);
        vec![
            (pos(0, 0), pos(0, 0)),
            (pos(1, 0), pos(1, 4)),
            (pos(3, 7), pos(9, 2)),
            (pos(line - 1, col - 1), pos(line - 1 + lines - 1, col - 1)),
            (pos(line, 0), pos(line, 1)),
            (pos(5, col), pos(5, col + 2)),
            (pos(5, 2), pos(5, col)),
            (pos(5, 2), pos(5 + lines, 0)),
            (pos(5, 2), pos(5 + lines - 1, 0)),
            (pos(9, 4), pos(3, 1)),
            (pos(9, 4), pos(9, 1)),
            (pos(u32::MAX, u32::MAX), pos(u32::MAX, u32::MAX)),
            (pos(2, 0), pos(u32::MAX, 0)),
        ]
    }

    #[test]
    fn a_span_gives_back_the_positions_it_was_made_of_packed_or_not() {
        assert_eq!(std::mem::size_of::<Span>(), 8);
        assert_eq!(std::mem::size_of::<crate::load::Node>(), 32);
        for (start, end) in edge_spans() {
            let span = Span::new(start, end);
            assert_eq!((span.start(), span.end()), (start, end), "{start:?}..{end:?}");
            assert_eq!(span, Span::new(start, end));
        }
        let packed = Span::new(pos(1, 0), pos(1, 4));
        assert_eq!(packed.0 & WIDE, 0);
        assert_ne!(Span::new(pos(5, 1 << COL_BITS), pos(5, 0)).0 & WIDE, 0);
        assert_eq!(Span::default(), Span::new(Pos::default(), Pos::default()));
        assert_eq!(packed.to(Span::new(pos(3, 1), pos(4, 2))).end(), pos(4, 2));
        assert_eq!(packed.with_end(pos(2, 0)), Span::new(pos(1, 0), pos(2, 0)));
    }

    #[test]
    fn spans_compare_and_hash_as_their_positions_do() {
        use std::hash::{BuildHasher, RandomState};
        let spans = edge_spans();
        let hasher = RandomState::new();
        for &(a0, a1) in &spans {
            for &(b0, b1) in &spans {
                let (a, b) = (Span::new(a0, a1), Span::new(b0, b1));
                assert_eq!(a.cmp(&b), (a0, a1).cmp(&(b0, b1)), "{a:?} against {b:?}");
                assert_eq!(a == b, (a0, a1) == (b0, b1));
                if a == b {
                    assert_eq!(hasher.hash_one(a), hasher.hash_one(b));
                }
            }
        }
    }

    #[test]
    fn the_text_a_span_covers_is_found_on_any_line_ending() {
        let text = "a: 1\r\nb: zürich\rc: ~\nd:\n";
        let at = |l0, c0, l1, c1| text_at(text, Span::new(pos(l0, c0), pos(l1, c1)));
        assert_eq!(at(1, 3, 1, 4), Some("1"));
        assert_eq!(at(2, 3, 2, 9), Some("zürich"));
        assert_eq!(at(3, 3, 3, 4), Some("~"));
        assert_eq!(at(4, 2, 4, 2), Some(""));
        assert_eq!(at(1, 0, 2, 1), Some("a: 1\r\nb"));
        // Past a line's end or the text's: nothing.
        assert_eq!(at(1, 9, 1, 9), None);
        assert_eq!(at(9, 0, 9, 1), None);
    }
}
