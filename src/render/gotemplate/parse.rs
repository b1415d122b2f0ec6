//! The parser of Go's `text/template` (Go's `text/template/parse/parse.go`): actions,
//! pipelines with declarations and assignments, `if`/`else if`/`with`/`else with`/`range`
//! (with `else`, `break`, `continue`), `define`, `template`, `block`. Functions must be known
//! and variables declared when the template is parsed, as Go checks them. Every node keeps the
//! byte offset where it starts.

use super::lex::{lex, Kind, Token};

/// A node of a template's body.
#[derive(Clone, Debug)]
pub(super) enum Node {
    Text(usize, String),
    /// `{{pipeline}}`: printed unless it declares variables.
    Action(usize, Pipe),
    If(Control),
    With(Control),
    Range(Control),
    /// `{{template "name" pipeline}}`.
    Template(usize, String, Option<Pipe>),
    Break,
    Continue,
}

/// `if`, `with` and `range`: the pipeline, the body and the `else` body.
#[derive(Clone, Debug)]
pub(super) struct Control {
    pub pos: usize,
    pub pipe: Pipe,
    pub list: Vec<Node>,
    pub else_list: Option<Vec<Node>>,
}

/// A pipeline: variables it declares (or assigns) and its commands.
#[derive(Clone, Debug)]
pub(super) struct Pipe {
    pub pos: usize,
    pub decl: Vec<Name>,
    /// `$x = …` rather than `$x := …`.
    pub assign: bool,
    pub cmds: Vec<Command>,
}

/// A command: a function and its arguments, or one operand.
#[derive(Clone, Debug)]
pub(super) struct Command {
    pub pos: usize,
    pub args: Vec<Arg>,
}

/// A number constant as Go's parser reads it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Number {
    Int(i64),
    Float(f64),
}

/// A field name of a chain (`.Values.image`: `Values`, `image`): shared, as the reads an
/// execution records keep it.
pub(crate) type Name = std::rc::Rc<str>;

/// An operand.
#[derive(Clone, Debug)]
pub(super) enum Arg {
    /// `.A.B`.
    Field(usize, Vec<Name>),
    /// `$x.A.B` (`$` is the data).
    Variable(usize, String, Vec<Name>),
    Dot(usize),
    Nil(usize),
    Bool(usize, bool),
    Number(usize, Number, String),
    String(usize, String),
    /// A function name.
    Function(usize, String),
    /// `(pipeline)`.
    Pipe(usize, Box<Pipe>),
    /// `(…).A.B`.
    Chain(usize, Box<Arg>, Vec<Name>),
}

impl Arg {
    pub(super) fn pos(&self) -> usize {
        match self {
            Arg::Field(p, _)
            | Arg::Variable(p, ..)
            | Arg::Dot(p)
            | Arg::Nil(p)
            | Arg::Bool(p, _)
            | Arg::Number(p, ..)
            | Arg::String(p, _)
            | Arg::Function(p, _)
            | Arg::Pipe(p, _)
            | Arg::Chain(p, ..) => *p,
        }
    }
}

impl std::fmt::Display for Arg {
    /// As Go writes a node in an error (`<.Values.x>`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let fields = |names: &[Name]| {
            names.iter().fold(String::new(), |mut s, n| {
                s.push('.');
                s.push_str(n);
                s
            })
        };
        match self {
            Arg::Field(_, names) => f.write_str(&fields(names)),
            Arg::Variable(_, name, names) => write!(f, "{name}{}", fields(names)),
            Arg::Dot(_) => f.write_str("."),
            Arg::Nil(_) => f.write_str("nil"),
            Arg::Bool(_, b) => write!(f, "{b}"),
            Arg::Number(_, _, text) => f.write_str(text),
            Arg::String(_, s) => write!(f, "{s:?}"),
            Arg::Function(_, name) => f.write_str(name),
            Arg::Pipe(_, pipe) => write!(f, "({pipe})"),
            Arg::Chain(_, node, names) => write!(f, "{node}{}", fields(names)),
        }
    }
}

impl std::fmt::Display for Pipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.decl.is_empty() {
            write!(f, "{} {} ", self.decl.join(", "), if self.assign { "=" } else { ":=" })?;
        }
        let cmds: Vec<String> = self
            .cmds
            .iter()
            .map(|c| c.args.iter().map(ToString::to_string).collect::<Vec<_>>().join(" "))
            .collect();
        f.write_str(&cmds.join(" | "))
    }
}

/// A parse error: where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct ParseError {
    pub pos: usize,
    pub message: String,
}

/// A parsed template: its body and the templates it defines (`define`, `block`).
#[derive(Clone, Debug, Default)]
pub(super) struct Parsed {
    pub body: Vec<Node>,
    pub defines: Vec<(String, Vec<Node>)>,
}

/// How deep pipelines and controls may nest (Go's parser limits recursion alike).
const MAX_DEPTH: usize = 1000;

/// Parses a template; `known` says whether a function name exists.
pub(super) fn parse(src: &str, known: &dyn Fn(&str) -> bool) -> Result<Parsed> {
    let tokens = lex(src).map_err(|e| ParseError { pos: e.pos, message: e.message })?;
    let mut p = Parser { tokens, at: 0, vars: vec!["$".into()], known, range_depth: 0, depth: 0 };
    let mut parsed = Parsed::default();
    let (body, end) = p.list(&mut parsed, true)?;
    if let Some(end) = end {
        return Err(ParseError { pos: end.1, message: format!("unexpected {{{{{}}}}}", end.0) });
    }
    parsed.body = body;
    Ok(parsed)
}

struct Parser<'k> {
    tokens: Vec<Token>,
    at: usize,
    /// Variables in scope, innermost last.
    vars: Vec<String>,
    known: &'k dyn Fn(&str) -> bool,
    /// How many `range`s enclose the current point (for `break` and `continue`).
    range_depth: usize,
    depth: usize,
}

type Result<T> = std::result::Result<T, ParseError>;

/// What ended a list: `end` or `else` (the keyword and its position); `None` at the end of
/// the template.
type Ending = Option<(&'static str, usize)>;

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.tokens[self.at.min(self.tokens.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.at < self.tokens.len() {
            self.at += 1;
        }
        t
    }

    fn skip_space(&mut self) {
        while self.peek().kind == Kind::Space {
            self.at += 1;
        }
    }

    fn next_non_space(&mut self) -> Token {
        self.skip_space();
        self.next()
    }

    fn peek_non_space(&mut self) -> &Token {
        self.skip_space();
        self.peek()
    }

    fn error<T>(pos: usize, message: impl Into<String>) -> Result<T> {
        Err(ParseError { pos, message: message.into() })
    }

    fn unexpected<T>(t: &Token, context: &str) -> Result<T> {
        let what = match t.kind {
            Kind::Close => "right delimiter".to_string(),
            Kind::Eof => "EOF".to_string(),
            Kind::RightParen => "right paren".to_string(),
            _ => format!("{:?}", t.text),
        };
        Self::error(t.pos, format!("unexpected {what} in {context}"))
    }

    fn expect_close(&mut self, context: &str) -> Result<()> {
        let t = self.next_non_space();
        if t.kind != Kind::Close {
            return Self::unexpected(&t, context);
        }
        Ok(())
    }

    /// Nodes until `{{end}}`, `{{else}}` or the end of the template.
    fn list(&mut self, parsed: &mut Parsed, top: bool) -> Result<(Vec<Node>, Ending)> {
        let mut out = Vec::new();
        loop {
            let t = self.next();
            match t.kind {
                Kind::Eof => return Ok((out, None)),
                Kind::Text => out.push(Node::Text(t.pos, t.text)),
                Kind::Comment => {}
                Kind::Open => {
                    let k = self.peek_non_space().clone();
                    if k.kind == Kind::Keyword {
                        match k.text.as_str() {
                            "end" | "else" => {
                                self.next();
                                let word = if k.text == "end" { "end" } else { "else" };
                                return Ok((out, Some((word, k.pos))));
                            }
                            "define" => {
                                if !top {
                                    return Self::error(k.pos, "unexpected \"define\" in command");
                                }
                                self.next();
                                self.define(parsed, k.pos)?;
                                continue;
                            }
                            _ => {}
                        }
                    }
                    out.push(self.action(parsed)?);
                }
                _ => return Self::unexpected(&t, "input"),
            }
        }
    }

    fn define(&mut self, parsed: &mut Parsed, pos: usize) -> Result<()> {
        let name = self.next_non_space();
        let name = match name.kind {
            Kind::String | Kind::RawString => unquote(&name)?,
            _ => return Self::unexpected(&name, "define clause"),
        };
        self.expect_close("define clause")?;
        let saved = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let (body, end) = self.list(parsed, false)?;
        self.vars = saved;
        match end {
            Some(("end", _)) => {}
            Some((_, at)) => return Self::error(at, "unexpected {{else}} in define"),
            None => return Self::error(pos, "unexpected EOF in define"),
        }
        self.expect_close("end")?;
        parsed.defines.push((name, body));
        Ok(())
    }

    fn action(&mut self, parsed: &mut Parsed) -> Result<Node> {
        let t = self.peek_non_space().clone();
        if t.kind == Kind::Keyword {
            self.next();
            return match t.text.as_str() {
                "if" => Ok(Node::If(self.control(parsed, "if", t.pos)?)),
                "with" => Ok(Node::With(self.control(parsed, "with", t.pos)?)),
                "range" => Ok(Node::Range(self.control(parsed, "range", t.pos)?)),
                "template" => self.template(t.pos),
                "block" => self.block(parsed, t.pos),
                "break" | "continue" => {
                    if self.range_depth == 0 {
                        return Self::error(
                            t.pos,
                            format!("{{{{{}}}}} outside {{{{range}}}}", t.text),
                        );
                    }
                    self.expect_close(&t.text)?;
                    Ok(if t.text == "break" { Node::Break } else { Node::Continue })
                }
                other => Self::error(t.pos, format!("unexpected {{{{{other}}}}}")),
            };
        }
        let pipe = self.pipeline("command", Kind::Close)?;
        Ok(Node::Action(t.pos, pipe))
    }

    fn template(&mut self, pos: usize) -> Result<Node> {
        let name = self.next_non_space();
        let name = match name.kind {
            Kind::String | Kind::RawString => unquote(&name)?,
            _ => return Self::unexpected(&name, "template clause"),
        };
        let pipe = if self.peek_non_space().kind == Kind::Close {
            self.next();
            None
        } else {
            Some(self.pipeline("template clause", Kind::Close)?)
        };
        Ok(Node::Template(pos, name, pipe))
    }

    /// `{{block "name" pipeline}} body {{end}}`: defines the template and executes it.
    fn block(&mut self, parsed: &mut Parsed, pos: usize) -> Result<Node> {
        let name = self.next_non_space();
        let name = match name.kind {
            Kind::String | Kind::RawString => unquote(&name)?,
            _ => return Self::unexpected(&name, "block clause"),
        };
        let pipe = self.pipeline("block clause", Kind::Close)?;
        let saved = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let (body, end) = self.list(parsed, false)?;
        self.vars = saved;
        match end {
            Some(("end", _)) => self.expect_close("end")?,
            Some((_, at)) => return Self::error(at, "unexpected {{else}} in block clause"),
            None => return Self::error(pos, "unexpected EOF in block clause"),
        }
        parsed.defines.push((name.clone(), body));
        Ok(Node::Template(pos, name, Some(pipe)))
    }

    /// `if`, `with`, `range`: the pipeline, the body, and an `else` (or `else if`/`else with`,
    /// which nests a control in the else body sharing its `{{end}}`).
    fn control(&mut self, parsed: &mut Parsed, context: &str, pos: usize) -> Result<Control> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Self::error(pos, format!("controls nest more than {MAX_DEPTH} deep"));
        }
        let mark = self.vars.len();
        let pipe = self.pipeline(context, Kind::Close)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let (list, end) = self.list(parsed, false)?;
        if context == "range" {
            self.range_depth -= 1;
        }
        let else_list = match end {
            None => return Self::error(pos, format!("unexpected EOF in {context}")),
            Some(("end", _)) => {
                self.expect_close("end")?;
                None
            }
            Some((_, _)) => {
                let next = self.peek_non_space().clone();
                if next.kind == Kind::Keyword
                    && ((context == "if" && next.text == "if")
                        || (context == "with" && next.text == "with"))
                {
                    // `{{else if …}}`: a control in the else body, ending with this one.
                    self.next();
                    let nested = self.control(parsed, context, next.pos)?;
                    let node = if context == "if" { Node::If(nested) } else { Node::With(nested) };
                    Some(vec![node])
                } else {
                    self.expect_close("else")?;
                    let (list, end) = self.list(parsed, false)?;
                    match end {
                        Some(("end", _)) => self.expect_close("end")?,
                        Some((_, at)) => return Self::error(at, "expected end; found {{else}}"),
                        None => return Self::error(pos, format!("unexpected EOF in {context}")),
                    }
                    Some(list)
                }
            }
        };
        self.vars.truncate(mark);
        self.depth -= 1;
        Ok(Control { pos, pipe, list, else_list })
    }

    /// A pipeline up to `end` (a right delimiter or right paren), with its declarations.
    fn pipeline(&mut self, context: &str, end: Kind) -> Result<Pipe> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Self::error(
                self.peek().pos,
                format!("pipelines nest more than {MAX_DEPTH} deep"),
            );
        }
        let pos = self.peek_non_space().pos;
        let mut pipe = Pipe { pos, decl: Vec::new(), assign: false, cmds: Vec::new() };
        self.declarations(&mut pipe, context)?;
        loop {
            let t = self.peek_non_space().clone();
            if t.kind == end {
                self.next();
                break;
            }
            match t.kind {
                Kind::Bool
                | Kind::CharConstant
                | Kind::Dot
                | Kind::Field
                | Kind::Identifier
                | Kind::Number
                | Kind::Nil
                | Kind::RawString
                | Kind::String
                | Kind::Variable
                | Kind::LeftParen => pipe.cmds.push(self.command(end)?),
                _ => return Self::unexpected(&t, context),
            }
        }
        if pipe.cmds.is_empty() {
            return Self::error(pos, format!("missing value for {context}"));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if let Some(
                Arg::Bool(..) | Arg::Dot(_) | Arg::Nil(_) | Arg::Number(..) | Arg::String(..),
            ) = c.args.first()
            {
                let _ = i;
                return Self::error(
                    c.pos,
                    format!("non executable command in pipeline stage {}", i + 1),
                );
            }
        }
        self.depth -= 1;
        Ok(pipe)
    }

    /// `$x :=`, `$x =`, and in `range` `$i, $x :=`.
    fn declarations(&mut self, pipe: &mut Pipe, context: &str) -> Result<()> {
        let start = self.at;
        if self.peek().kind != Kind::Variable {
            return Ok(());
        }
        let first = self.next();
        self.skip_space();
        match self.peek().kind {
            Kind::Declare | Kind::Assign => {
                let assign = self.next().kind == Kind::Assign;
                if assign && !self.vars.contains(&first.text) {
                    return Self::error(first.pos, format!("undefined variable {:?}", first.text));
                }
                pipe.assign = assign;
                pipe.decl.push(first.text.as_str().into());
                if !assign {
                    self.vars.push(first.text);
                }
                Ok(())
            }
            Kind::Char if self.peek().text == "," && context == "range" => {
                self.next();
                self.skip_space();
                let second = self.next();
                if second.kind != Kind::Variable {
                    return Self::error(second.pos, "range can only initialize variables");
                }
                self.skip_space();
                let op = self.next();
                if !matches!(op.kind, Kind::Declare | Kind::Assign) {
                    return Self::unexpected(&op, "range");
                }
                let assign = op.kind == Kind::Assign;
                for v in [&first, &second] {
                    if assign && !self.vars.contains(&v.text) {
                        return Self::error(v.pos, format!("undefined variable {:?}", v.text));
                    }
                }
                pipe.assign = assign;
                pipe.decl = vec![first.text.as_str().into(), second.text.as_str().into()];
                if !assign {
                    self.vars.push(first.text);
                    self.vars.push(second.text);
                }
                Ok(())
            }
            Kind::Char if self.peek().text == "," => {
                Self::error(first.pos, format!("too many declarations in {context}"))
            }
            _ => {
                // Not a declaration: `$x` is an operand.
                self.at = start;
                Ok(())
            }
        }
    }

    fn command(&mut self, end: Kind) -> Result<Command> {
        let pos = self.peek_non_space().pos;
        let mut cmd = Command { pos, args: Vec::new() };
        loop {
            self.skip_space();
            if let Some(operand) = self.operand()? {
                cmd.args.push(operand);
            }
            let t = self.peek().clone();
            match t.kind {
                Kind::Space => {
                    self.next();
                    let after = self.peek_non_space().kind;
                    if after == end || after == Kind::Pipe {
                        if after == Kind::Pipe {
                            self.next();
                        }
                        break;
                    }
                }
                k if k == end => break,
                Kind::Pipe => {
                    self.next();
                    break;
                }
                _ => return Self::unexpected(&t, "operand"),
            }
        }
        if cmd.args.is_empty() {
            return Self::error(pos, "empty command");
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> Result<Option<Arg>> {
        let Some(term) = self.term()? else { return Ok(None) };
        if self.peek().kind != Kind::Field {
            return Ok(Some(term));
        }
        let mut fields = Vec::new();
        while self.peek().kind == Kind::Field {
            fields.push(self.next().text[1..].into());
        }
        Ok(Some(match term {
            Arg::Field(pos, mut names) => {
                names.extend(fields);
                Arg::Field(pos, names)
            }
            Arg::Variable(pos, name, mut names) => {
                names.extend(fields);
                Arg::Variable(pos, name, names)
            }
            Arg::Bool(..) | Arg::String(..) | Arg::Number(..) | Arg::Nil(_) | Arg::Dot(_) => {
                return Self::error(
                    term.pos(),
                    format!("unexpected . after term {:?}", term.to_string()),
                )
            }
            other => Arg::Chain(other.pos(), Box::new(other), fields),
        }))
    }

    fn term(&mut self) -> Result<Option<Arg>> {
        let t = self.peek().clone();
        let arg = match t.kind {
            Kind::Identifier => {
                if !(self.known)(&t.text) {
                    return Self::error(t.pos, format!("function {:?} not defined", t.text));
                }
                Arg::Function(t.pos, t.text.clone())
            }
            Kind::Dot => Arg::Dot(t.pos),
            Kind::Nil => Arg::Nil(t.pos),
            Kind::Variable => {
                if !self.vars.contains(&t.text) {
                    return Self::error(t.pos, format!("undefined variable {:?}", t.text));
                }
                Arg::Variable(t.pos, t.text.clone(), Vec::new())
            }
            Kind::Field => Arg::Field(t.pos, vec![t.text[1..].into()]),
            Kind::Bool => Arg::Bool(t.pos, t.text == "true"),
            Kind::Number | Kind::CharConstant => Arg::Number(
                t.pos,
                number(&t).map_err(|m| ParseError { pos: t.pos, message: m })?,
                t.text.clone(),
            ),
            Kind::String | Kind::RawString => Arg::String(t.pos, unquote(&t)?),
            Kind::LeftParen => {
                self.next();
                let pipe = self.pipeline("parenthesized pipeline", Kind::RightParen)?;
                return Ok(Some(Arg::Pipe(t.pos, Box::new(pipe))));
            }
            _ => return Ok(None),
        };
        self.next();
        Ok(Some(arg))
    }
}

/// A number or character constant as Go's parser reads it: an integer when it is one (or a
/// float with an integral value written with `.`/`e`... stays a float here, as Go's executor
/// then uses the float), else a float.
fn number(t: &Token) -> std::result::Result<Number, String> {
    if t.kind == Kind::CharConstant {
        let s = unquote_text(&t.text[1..t.text.len() - 1], '\'')?;
        let mut chars = s.chars();
        return match (chars.next(), chars.next()) {
            (Some(c), None) => Ok(Number::Int(i64::from(u32::from(c)))),
            _ => Err(format!("malformed character constant: {}", t.text)),
        };
    }
    let text = t.text.as_str();
    if text.ends_with('i') {
        return Err(format!("complex numbers are not supported: {text}"));
    }
    if let Some(i) = parse_int(text) {
        return Ok(Number::Int(i));
    }
    let hex = {
        let unsigned = text.trim_start_matches(['+', '-']);
        unsigned.starts_with("0x") || unsigned.starts_with("0X")
    };
    if !hex && text.contains(['.', 'e', 'E']) {
        if let Ok(f) = text.replace('_', "").parse::<f64>() {
            return Ok(Number::Float(f));
        }
    }
    if hex && text.contains(['p', 'P', '.']) {
        if let Some(f) = hex_float(text) {
            return Ok(Number::Float(f));
        }
    }
    if text.trim_start_matches(['+', '-']).chars().all(|c| c.is_ascii_digit() || c == '_') {
        return Err(format!("{text} overflows int"));
    }
    Err(format!("illegal number syntax: {text:?}"))
}

/// An integer in Go's syntax (`strconv.ParseInt(text, 0, 64)`): `0x`, `0o`, `0b`, a leading
/// `0` for octal, `_` between digits.
fn parse_int(text: &str) -> Option<i64> {
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = unsigned.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    // `_` separates digits, or follows a base prefix (`0x_1F`).
    let prefixed = radix != 10 && (radix != 8 || lower.starts_with("0o"));
    if digits.is_empty()
        || (digits.starts_with('_') && !prefixed)
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let magnitude = u64::from_str_radix(&digits.replace('_', ""), radix).ok()?;
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

fn hex_float(text: &str) -> Option<f64> {
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let body = unsigned.get(2..)?.replace('_', "");
    let (mantissa, exponent) = match body.find(['p', 'P']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i32>().ok()?),
        None => (body.as_str(), 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut value = 0f64;
    for c in int.chars().chain(frac.chars()) {
        value = value * 16.0 + f64::from(c.to_digit(16)?);
    }
    let scale = exponent - 4 * i32::try_from(frac.len()).ok()?;
    let value = value * 2f64.powi(scale);
    Some(if negative { -value } else { value })
}

/// A string constant's value (`"…"` with Go's escapes, or `` `…` `` as written).
fn unquote(t: &Token) -> Result<String> {
    let text = &t.text;
    if t.kind == Kind::RawString {
        return Ok(text[1..text.len() - 1].replace('\r', ""));
    }
    unquote_text(&text[1..text.len() - 1], '"')
        .map_err(|message| ParseError { pos: t.pos, message })
}

/// Go's escapes in a quoted string or character constant.
pub(super) fn unquote_text(s: &str, quote: char) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    let bad = || format!("invalid syntax: {quote}{s}{quote}");
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = chars.next().ok_or_else(bad)?;
        let hex = |chars: &mut std::str::Chars<'_>, n: usize| -> std::result::Result<u32, String> {
            let digits: String = chars.by_ref().take(n).collect();
            if digits.len() != n {
                return Err(bad());
            }
            u32::from_str_radix(&digits, 16).map_err(|_| bad())
        };
        match e {
            'a' => out.push('\u{7}'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\u{b}'),
            '\\' => out.push('\\'),
            '\'' if quote == '\'' => out.push('\''),
            '"' if quote == '"' => out.push('"'),
            'x' => out.push(char::from_u32(hex(&mut chars, 2)?).ok_or_else(bad)?),
            'u' => out.push(char::from_u32(hex(&mut chars, 4)?).ok_or_else(bad)?),
            'U' => out.push(char::from_u32(hex(&mut chars, 8)?).ok_or_else(bad)?),
            '0'..='7' => {
                let rest: String = chars.by_ref().take(2).collect();
                let code = u32::from_str_radix(&format!("{e}{rest}"), 8).map_err(|_| bad())?;
                out.push(char::from_u32(code).ok_or_else(bad)?);
            }
            _ => return Err(bad()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{parse, Node, Number};

    fn known(name: &str) -> bool {
        matches!(name, "printf" | "len" | "and")
    }

    #[test]
    fn actions_controls_and_definitions() {
        let p = parse(
            "{{define \"x\"}}X{{end}}a{{if .A}}{{$v := .B.C}}{{$v}}{{else if .D}}d{{else}}e{{end}}{{range $i, $e := .L}}{{break}}{{end}}",
            &known,
        )
        .unwrap();
        assert_eq!(p.defines.len(), 1);
        assert_eq!(p.body.len(), 3);
        let Node::If(c) = &p.body[1] else { panic!("{:?}", p.body[1]) };
        assert_eq!(c.pipe.to_string(), ".A");
        assert!(matches!(&c.else_list.as_deref().unwrap()[0], Node::If(_)));
        let Node::Action(_, pipe) = &c.list[0] else { panic!() };
        assert_eq!(pipe.to_string(), "$v := .B.C");
    }

    #[test]
    fn numbers_and_strings() {
        let p = parse("{{printf \"%d\\n\" 0x1F 1.5 'a' 1e3 010}}", &known).unwrap();
        let Node::Action(_, pipe) = &p.body[0] else { panic!() };
        let numbers: Vec<Number> = pipe.cmds[0]
            .args
            .iter()
            .filter_map(|a| match a {
                super::Arg::Number(_, n, _) => Some(*n),
                _ => None,
            })
            .collect();
        assert_eq!(
            numbers,
            [
                Number::Int(31),
                Number::Float(1.5),
                Number::Int(97),
                Number::Float(1000.0),
                Number::Int(8)
            ]
        );
    }

    #[test]
    fn errors_are_those_go_reports() {
        let error = |t: &str| parse(t, &known).unwrap_err().message;
        assert_eq!(error("{{nope 1}}"), "function \"nope\" not defined");
        assert_eq!(error("{{$x}}"), "undefined variable \"$x\"");
        assert_eq!(error("{{if .X}}"), "unexpected EOF in if");
        assert_eq!(error("{{end}}"), "unexpected {{end}}");
        assert_eq!(error("{{break}}"), "{{break}} outside {{range}}");
        assert_eq!(error("{{}}"), "missing value for command");
        assert_eq!(error("{{.X | 3}}"), "non executable command in pipeline stage 2");
    }
}
