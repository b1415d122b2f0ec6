//! A chart as a build unit of a tree: what a release renders, each document a tree whose
//! fields point at the template line that wrote them — the line itself for text the template
//! holds as it is, the action's line for what an action printed.

use std::path::Path;

use super::chart::load;
use super::template::{release, Options};
use crate::load::source::{Pos, Span};
use crate::load::Node;
use crate::render::gotemplate::Written;
use crate::render::kustomize::{BuildError, Disk, Read};
use crate::render::tree::Tree;

/// The byte offset where each line of `text` starts.
fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect()
}

/// A position (line from 1, column in characters from 0) as a byte offset of `text`.
fn offset_of(text: &str, starts: &[usize], pos: Pos) -> usize {
    let Some(&start) = starts.get((pos.line as usize).saturating_sub(1)) else { return text.len() };
    let line = &text[start..];
    start + line.char_indices().nth(pos.col as usize).map_or(line.len(), |(i, _)| i)
}

/// A byte offset of `text` as a position.
fn pos_of(text: &str, starts: &[usize], offset: usize) -> Pos {
    let line = starts.partition_point(|&s| s <= offset).max(1);
    let start = starts[line - 1];
    let col = text.get(start..offset.min(text.len())).map_or(0, |s| s.chars().count());
    Pos {
        line: u32::try_from(line).unwrap_or(u32::MAX),
        col: u32::try_from(col).unwrap_or(u32::MAX),
    }
}

/// Maps offsets of a template's output to positions in the template (`name`).
struct Mapping<'a> {
    written: &'a Written,
    name: &'a str,
    template: &'a str,
    starts: Vec<usize>,
}

impl Mapping<'_> {
    fn position(&self, offset: usize) -> Pos {
        let marks = &self.written.marks;
        let before = marks.partition_point(|m| m.at <= offset);
        // The last mark of this template at or before the offset (an included helper's output
        // belongs to the action that included it).
        let mark = marks[..before].iter().rev().find(|m| m.template.name == self.name);
        let at = match mark {
            Some(m) if m.verbatim => m.pos + (offset - m.at),
            Some(m) => m.pos,
            None => 0,
        };
        pos_of(self.template, &self.starts, at.min(self.template.len()))
    }

    fn span(&self, piece: (&str, &[usize], usize), span: Span) -> Span {
        let (text, starts, base) = piece;
        let start = self.position(base + offset_of(text, starts, span.start));
        let end = self.position(base + offset_of(text, starts, span.end));
        Span { start, end: if end < start { start } else { end } }
    }

    fn remap(&self, node: &mut Node, piece: (&str, &[usize], usize), depth: usize) {
        node.span = self.span(piece, node.span);
        if depth > 1000 {
            return;
        }
        match &mut node.value {
            crate::load::Value::Seq(items) => {
                for item in items.iter_mut() {
                    self.remap(item, piece, depth + 1);
                }
            }
            crate::load::Value::Map(entries) => {
                for e in entries.iter_mut() {
                    e.key_span = self.span(piece, e.key_span);
                    self.remap(&mut e.value, piece, depth + 1);
                }
            }
            _ => {}
        }
    }
}

/// The documents of a template's output as Helm splits them (`---` lines), with the offset
/// each starts at.
fn pieces(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_end();
        if trimmed.starts_with("---") && trimmed[3..].trim().is_empty() {
            out.push((start, &text[start..at]));
            start = at + line.len();
        }
        at += line.len();
    }
    out.push((start, &text[start..]));
    out.retain(|(_, p)| !p.trim().is_empty());
    out
}

/// Renders the chart at `dir` (a build path) for a release and gives its objects as trees of
/// the build's files (each template read numbered in `disk`). Test hooks are left out: the
/// cluster gets them only when someone runs `helm test`.
pub fn build(disk: &Disk, dir: &Path, options: &Options) -> Result<Vec<Tree>, BuildError> {
    let shown = crate::render::disk::show(dir);
    let fail = |message: String| BuildError { file: shown.clone(), line: None, message };
    let real =
        disk.real(dir).ok_or_else(|| fail("the chart is outside the root of the build".into()))?;
    let chart = load(&real).map_err(fail)?;
    let name = chart.name().to_string();
    let (_, rendered) = release(chart, options).map_err(fail)?;
    let mut out = Vec::new();
    for (path, written) in &rendered {
        if path.ends_with("NOTES.txt") || written.text.trim().is_empty() {
            continue;
        }
        let Some(template) =
            written.marks.iter().find(|m| &m.template.name == path).map(|m| &m.template)
        else {
            continue;
        };
        let in_chart = path.strip_prefix(&format!("{name}/")).unwrap_or(path);
        let file_path = dir.join(in_chart);
        let real = disk.real(&file_path).filter(|p| p.is_file());
        let file = disk.number(Read {
            path: file_path,
            real,
            loaded: None,
            text: Some(template.text.as_str().into()),
            via: Vec::new(),
            built: true,
        });
        let mapping = Mapping {
            written,
            name: path,
            template: &template.text,
            starts: line_starts(&template.text),
        };
        for (base, piece) in pieces(&written.text) {
            let parsed = crate::load::yaml::parse_stream(piece, &disk.limits);
            if let Some(p) = parsed.problems.first() {
                let at = mapping.position(base + offset_of(piece, &line_starts(piece), p.pos));
                return Err(BuildError {
                    file: crate::render::disk::show(&dir.join(in_chart)),
                    line: Some(at.line),
                    message: format!("YAML parse error on {path}: {}", p.message),
                });
            }
            let starts = line_starts(piece);
            for doc in parsed.documents {
                let mut root = doc.root;
                if root.is_null() {
                    continue;
                }
                let hook =
                    root.at(&["metadata", "annotations", "helm.sh/hook"]).and_then(Node::as_str);
                if hook.is_some_and(|h| h.split(',').any(|h| h.trim().starts_with("test"))) {
                    continue;
                }
                mapping.remap(&mut root, (piece, &starts, base), 0);
                out.push(Tree::from_node(&root, file));
            }
        }
    }
    Ok(out)
}
