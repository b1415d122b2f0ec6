//! JMESPath lexer and Pratt parser (the grammar of jmespath.org/specification).

use serde_json::Value;

use super::CmpOp;

/// A parsed expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Ast {
    Identity,
    Literal(Value),
    Field(String),
    Subexpr(Box<Ast>, Box<Ast>),
    Index(i64),
    Slice(Option<i64>, Option<i64>, Option<i64>),
    /// Evaluate the left side to a list, then the right side on each element.
    Projection(Box<Ast>, Box<Ast>),
    /// Evaluate the left side to an object, then the right side on each value.
    ValueProjection(Box<Ast>, Box<Ast>),
    Flatten(Box<Ast>),
    /// Left side, condition, right side.
    Filter(Box<Ast>, Box<Ast>, Box<Ast>),
    MultiList(Vec<Ast>),
    MultiHash(Vec<(String, Ast)>),
    Or(Box<Ast>, Box<Ast>),
    And(Box<Ast>, Box<Ast>),
    Not(Box<Ast>),
    Compare(CmpOp, Box<Ast>, Box<Ast>),
    Pipe(Box<Ast>, Box<Ast>),
    Function(String, Vec<Ast>),
    ExpRef(Box<Ast>),
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Quoted(String),
    Number(i64),
    Literal(Value),
    Dot,
    Star,
    Flatten,
    Filter,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    LParen,
    RParen,
    Comma,
    Colon,
    Pipe,
    Or,
    And,
    Not,
    Cmp(CmpOp),
    At,
    Amp,
    Eof,
}

#[allow(clippy::too_many_lines, reason = "one arm per token reads best as one match")]
fn lex(input: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            'a'..='z' | 'A'..='Z' | '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push(Tok::Ident(chars[start..i].iter().collect()));
            }
            '0'..='9' | '-' => {
                let start = i;
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                out.push(Tok::Number(
                    text.parse().map_err(|_| format!("invalid number `{text}`"))?,
                ));
            }
            '"' => {
                let (text, next) = delimited(&chars, i, '"')?;
                let s: String = serde_json::from_str(&format!("\"{text}\""))
                    .map_err(|e| format!("invalid quoted identifier: {e}"))?;
                out.push(Tok::Quoted(s));
                i = next;
            }
            '\'' => {
                let (text, next) = delimited(&chars, i, '\'')?;
                out.push(Tok::Literal(Value::String(text.replace("\\'", "'"))));
                i = next;
            }
            '`' => {
                let (text, next) = delimited(&chars, i, '`')?;
                let text = text.replace("\\`", "`");
                let value = serde_json::from_str(text.trim())
                    .unwrap_or_else(|_| Value::String(text.trim().to_string()));
                out.push(Tok::Literal(value));
                i = next;
            }
            '.' => {
                out.push(Tok::Dot);
                i += 1;
            }
            '*' => {
                out.push(Tok::Star);
                i += 1;
            }
            '[' => {
                if chars.get(i + 1) == Some(&']') {
                    out.push(Tok::Flatten);
                    i += 2;
                } else if chars.get(i + 1) == Some(&'?') {
                    out.push(Tok::Filter);
                    i += 2;
                } else {
                    out.push(Tok::LBracket);
                    i += 1;
                }
            }
            ']' => {
                out.push(Tok::RBracket);
                i += 1;
            }
            '{' => {
                out.push(Tok::LBrace);
                i += 1;
            }
            '}' => {
                out.push(Tok::RBrace);
                i += 1;
            }
            '(' => {
                out.push(Tok::LParen);
                i += 1;
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1;
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            ':' => {
                out.push(Tok::Colon);
                i += 1;
            }
            '@' => {
                out.push(Tok::At);
                i += 1;
            }
            '|' | '&' | '!' | '=' | '<' | '>' => {
                let next = chars.get(i + 1).copied();
                let (tok, len) = match (c, next) {
                    ('|', Some('|')) => (Tok::Or, 2),
                    ('|', _) => (Tok::Pipe, 1),
                    ('&', Some('&')) => (Tok::And, 2),
                    ('&', _) => (Tok::Amp, 1),
                    ('!', Some('=')) => (Tok::Cmp(CmpOp::Ne), 2),
                    ('!', _) => (Tok::Not, 1),
                    ('=', Some('=')) => (Tok::Cmp(CmpOp::Eq), 2),
                    ('<', Some('=')) => (Tok::Cmp(CmpOp::Le), 2),
                    ('<', _) => (Tok::Cmp(CmpOp::Lt), 1),
                    ('>', Some('=')) => (Tok::Cmp(CmpOp::Ge), 2),
                    ('>', _) => (Tok::Cmp(CmpOp::Gt), 1),
                    _ => return Err(format!("unexpected `{c}` at {i}")),
                };
                out.push(tok);
                i += len;
            }
            other => return Err(format!("unexpected character `{other}` at {i}")),
        }
    }
    out.push(Tok::Eof);
    Ok(out)
}

/// Text between a delimiter at `start` and its unescaped closing twin; returns the text and the
/// index after the closing delimiter.
fn delimited(chars: &[char], start: usize, delim: char) -> Result<(String, usize), String> {
    let mut i = start + 1;
    let mut text = String::new();
    while i < chars.len() {
        match chars[i] {
            '\\' if i + 1 < chars.len() => {
                text.push('\\');
                text.push(chars[i + 1]);
                i += 2;
            }
            c if c == delim => return Ok((text, i + 1)),
            c => {
                text.push(c);
                i += 1;
            }
        }
    }
    Err(format!("unterminated `{delim}`"))
}

fn binding_power(t: &Tok) -> u8 {
    match t {
        Tok::Pipe => 1,
        Tok::Or => 2,
        Tok::And => 3,
        Tok::Cmp(_) => 5,
        Tok::Flatten => 9,
        Tok::Star => 20,
        Tok::Filter => 21,
        Tok::Dot => 40,
        Tok::Not => 45,
        Tok::LBrace => 50,
        Tok::LBracket => 55,
        Tok::LParen => 60,
        _ => 0,
    }
}

/// Below this binding power a token ends a projection.
const PROJECTION_STOP: u8 = 10;

/// Deepest nesting accepted (bounds recursion on hostile input).
const MAX_DEPTH: usize = 256;

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
}

/// Parses an expression.
pub fn parse(input: &str) -> Result<Ast, String> {
    let mut p = Parser { toks: lex(input)?, pos: 0, depth: 0 };
    let ast = p.expression(0)?;
    if p.peek() != &Tok::Eof {
        return Err(format!("unexpected {:?} in `{input}`", p.peek()));
    }
    Ok(ast)
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos]
    }

    fn peek_at(&self, n: usize) -> &Tok {
        self.toks.get(self.pos + n).unwrap_or(&Tok::Eof)
    }

    fn next(&mut self) -> Tok {
        let t = self.toks[self.pos].clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn expect(&mut self, t: &Tok) -> Result<(), String> {
        let got = self.next();
        if &got == t {
            Ok(())
        } else {
            Err(format!("expected {t:?}, found {got:?}"))
        }
    }

    fn expression(&mut self, rbp: u8) -> Result<Ast, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err("expression nested too deeply".into());
        }
        let tok = self.next();
        let mut left = self.nud(tok)?;
        while rbp < binding_power(self.peek()) {
            let tok = self.next();
            left = self.led(tok, left)?;
        }
        self.depth -= 1;
        Ok(left)
    }

    fn nud(&mut self, tok: Tok) -> Result<Ast, String> {
        Ok(match tok {
            Tok::Ident(s) | Tok::Quoted(s) => Ast::Field(s),
            Tok::Literal(v) => Ast::Literal(v),
            Tok::At => Ast::Identity,
            Tok::Star => {
                let rhs = self.projection_rhs(binding_power(&Tok::Star))?;
                Ast::ValueProjection(Box::new(Ast::Identity), Box::new(rhs))
            }
            Tok::Filter => self.filter(Ast::Identity)?,
            Tok::Flatten => {
                let rhs = self.projection_rhs(binding_power(&Tok::Flatten))?;
                Ast::Projection(Box::new(Ast::Flatten(Box::new(Ast::Identity))), Box::new(rhs))
            }
            Tok::LBracket => match self.peek() {
                Tok::Number(_) | Tok::Colon => {
                    let index = self.index_expression()?;
                    self.project_if_slice(Ast::Identity, index)?
                }
                Tok::Star if self.peek_at(1) == &Tok::RBracket => {
                    self.next();
                    self.next();
                    let rhs = self.projection_rhs(binding_power(&Tok::Star))?;
                    Ast::Projection(Box::new(Ast::Identity), Box::new(rhs))
                }
                _ => self.multi_list()?,
            },
            Tok::LBrace => self.multi_hash()?,
            Tok::Amp => Ast::ExpRef(Box::new(self.expression(0)?)),
            Tok::Not => Ast::Not(Box::new(self.expression(binding_power(&Tok::Not))?)),
            Tok::LParen => {
                let inner = self.expression(0)?;
                self.expect(&Tok::RParen)?;
                inner
            }
            other => return Err(format!("unexpected {other:?}")),
        })
    }

    fn led(&mut self, tok: Tok, left: Ast) -> Result<Ast, String> {
        Ok(match tok {
            Tok::Dot => {
                if self.peek() == &Tok::Star {
                    self.next();
                    let rhs = self.projection_rhs(binding_power(&Tok::Dot))?;
                    Ast::ValueProjection(Box::new(left), Box::new(rhs))
                } else {
                    let rhs = self.dot_rhs(binding_power(&Tok::Dot))?;
                    Ast::Subexpr(Box::new(left), Box::new(rhs))
                }
            }
            Tok::Pipe => {
                Ast::Pipe(Box::new(left), Box::new(self.expression(binding_power(&Tok::Pipe))?))
            }
            Tok::Or => Ast::Or(Box::new(left), Box::new(self.expression(binding_power(&Tok::Or))?)),
            Tok::And => {
                Ast::And(Box::new(left), Box::new(self.expression(binding_power(&Tok::And))?))
            }
            Tok::Cmp(op) => Ast::Compare(op, Box::new(left), Box::new(self.expression(5)?)),
            Tok::LParen => {
                let Ast::Field(name) = left else {
                    return Err("only a name can be called as a function".into());
                };
                let mut args = Vec::new();
                while self.peek() != &Tok::RParen {
                    args.push(self.expression(0)?);
                    if self.peek() == &Tok::Comma {
                        self.next();
                    } else if self.peek() != &Tok::RParen {
                        return Err(format!("expected `,` or `)` in the call of {name}"));
                    }
                }
                self.next();
                Ast::Function(name, args)
            }
            Tok::Filter => self.filter(left)?,
            Tok::Flatten => {
                let rhs = self.projection_rhs(binding_power(&Tok::Flatten))?;
                Ast::Projection(Box::new(Ast::Flatten(Box::new(left))), Box::new(rhs))
            }
            Tok::LBracket => match self.peek() {
                Tok::Number(_) | Tok::Colon => {
                    let index = self.index_expression()?;
                    self.project_if_slice(left, index)?
                }
                _ => {
                    self.expect(&Tok::Star)?;
                    self.expect(&Tok::RBracket)?;
                    let rhs = self.projection_rhs(binding_power(&Tok::Star))?;
                    Ast::Projection(Box::new(left), Box::new(rhs))
                }
            },
            other => return Err(format!("unexpected {other:?}")),
        })
    }

    fn filter(&mut self, left: Ast) -> Result<Ast, String> {
        let condition = self.expression(0)?;
        self.expect(&Tok::RBracket)?;
        let rhs = self.projection_rhs(binding_power(&Tok::Filter))?;
        Ok(Ast::Filter(Box::new(left), Box::new(condition), Box::new(rhs)))
    }

    /// `[n]` or `[a:b:c]` after the `[` was read.
    fn index_expression(&mut self) -> Result<Ast, String> {
        let mut parts: [Option<i64>; 3] = [None; 3];
        let mut part = 0;
        loop {
            match self.next() {
                Tok::Number(n) => parts[part] = Some(n),
                Tok::Colon => {
                    part += 1;
                    if part > 2 {
                        return Err("too many colons in a slice".into());
                    }
                }
                Tok::RBracket => break,
                other => return Err(format!("unexpected {other:?} in an index")),
            }
        }
        if part == 0 {
            parts[0].map(Ast::Index).ok_or_else(|| "empty index".to_string())
        } else {
            Ok(Ast::Slice(parts[0], parts[1], parts[2]))
        }
    }

    fn project_if_slice(&mut self, left: Ast, index: Ast) -> Result<Ast, String> {
        let is_slice = matches!(index, Ast::Slice(..));
        let indexed = if left == Ast::Identity {
            index
        } else {
            Ast::Subexpr(Box::new(left), Box::new(index))
        };
        if is_slice {
            let rhs = self.projection_rhs(binding_power(&Tok::Star))?;
            Ok(Ast::Projection(Box::new(indexed), Box::new(rhs)))
        } else {
            Ok(indexed)
        }
    }

    fn projection_rhs(&mut self, rbp: u8) -> Result<Ast, String> {
        let t = self.peek().clone();
        if binding_power(&t) < PROJECTION_STOP {
            return Ok(Ast::Identity);
        }
        match t {
            Tok::LBracket | Tok::Filter => self.expression(rbp),
            Tok::Dot => {
                self.next();
                self.dot_rhs(rbp)
            }
            other => Err(format!("unexpected {other:?} after a projection")),
        }
    }

    fn dot_rhs(&mut self, rbp: u8) -> Result<Ast, String> {
        match self.peek() {
            Tok::Ident(_) | Tok::Quoted(_) | Tok::Star => self.expression(rbp),
            Tok::LBracket => {
                self.next();
                self.multi_list()
            }
            Tok::LBrace => {
                self.next();
                self.multi_hash()
            }
            other => Err(format!("unexpected {other:?} after `.`")),
        }
    }

    fn multi_list(&mut self) -> Result<Ast, String> {
        let mut items = Vec::new();
        loop {
            items.push(self.expression(0)?);
            match self.next() {
                Tok::Comma => {}
                Tok::RBracket => break,
                other => return Err(format!("expected `,` or `]`, found {other:?}")),
            }
        }
        Ok(Ast::MultiList(items))
    }

    fn multi_hash(&mut self) -> Result<Ast, String> {
        let mut pairs = Vec::new();
        loop {
            let key = match self.next() {
                Tok::Ident(s) | Tok::Quoted(s) => s,
                other => return Err(format!("expected a key, found {other:?}")),
            };
            self.expect(&Tok::Colon)?;
            pairs.push((key, self.expression(0)?));
            // go-jmespath reads the next key when neither `,` nor `}` follows: the commas
            // between pairs are optional (`{a: x b: y}`).
            match self.peek() {
                Tok::Comma => {
                    self.next();
                }
                Tok::RBrace => {
                    self.next();
                    break;
                }
                _ => {}
            }
        }
        Ok(Ast::MultiHash(pairs))
    }
}
