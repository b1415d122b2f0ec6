//! CEL parser: recursive descent over the grammar of the CEL spec (langdef.md), with the
//! optional syntax Kubernetes enables (`a.?b`, `a[?k]`, `[?x]`, `{?k: v}`).

use super::lexer::{tokens, Tok, Token};

/// Deepest nesting the parser accepts (bounds recursion on hostile input).
pub const MAX_DEPTH: usize = 64;

/// A parsed expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Double(f64),
    String(String),
    Bytes(Vec<u8>),
    Ident(String),
    /// `operand.field`, or `operand.?field` when optional.
    Select {
        operand: Box<Expr>,
        field: String,
        optional: bool,
    },
    /// `operand[index]`, or `operand[?index]` when optional.
    Index {
        operand: Box<Expr>,
        index: Box<Expr>,
        optional: bool,
    },
    /// `function(args)`, or `target.function(args)` (macros such as `has` and `all` too).
    Call {
        target: Option<Box<Expr>>,
        function: String,
        args: Vec<Expr>,
    },
    /// List elements; `true` marks an optional element (`[?x]`).
    List(Vec<(Expr, bool)>),
    /// Map entries; `true` marks an optional entry (`{?k: v}`).
    Map(Vec<(Expr, Expr, bool)>),
    /// `Name{field: value}` message construction.
    Struct {
        name: String,
        fields: Vec<(String, Expr, bool)>,
    },
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `condition ? then : otherwise`.
    Conditional(Box<Expr>, Box<Expr>, Box<Expr>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Not,
    Negate,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

/// A syntax error: where (line and column within the expression, both 1-based) and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

/// Parses one expression.
pub fn parse(text: &str) -> Result<Expr, ParseError> {
    let error = |at: usize, message: String| {
        let before = &text[..at.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        ParseError { line, column, message }
    };
    let toks = tokens(text).map_err(|(at, m)| error(at, m))?;
    let mut p = Parser { toks, pos: 0, depth: 0 };
    let expr = p.expr().map_err(|(at, m)| error(at, m))?;
    if p.peek() != &Tok::End {
        let at = p.toks[p.pos].at;
        return Err(error(at, format!("unexpected {}", describe(p.peek()))));
    }
    Ok(expr)
}

type PResult<T> = Result<T, (usize, String)>;

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    depth: usize,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::End => "end of expression".into(),
        Tok::Punct(p) => format!("`{p}`"),
        Tok::Ident(i) => format!("`{i}`"),
        Tok::Str(_) | Tok::Bytes(_) => "a string".into(),
        _ => "a number".into(),
    }
}

const RESERVED: [&str; 14] = [
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
];

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].kind
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.pos + n).min(self.toks.len() - 1)].kind
    }

    fn at(&self) -> usize {
        self.toks[self.pos].at
    }

    fn bump(&mut self) -> Tok {
        let t = self.toks[self.pos].kind.clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn eat(&mut self, p: &str) -> bool {
        if matches!(self.peek(), Tok::Punct(q) if *q == p) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, p: &str) -> PResult<()> {
        if self.eat(p) {
            Ok(())
        } else {
            Err((self.at(), format!("expected `{p}`, found {}", describe(self.peek()))))
        }
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err((self.at(), format!("expression nests deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    fn expr(&mut self) -> PResult<Expr> {
        self.enter()?;
        let cond = self.binary(0)?;
        let out = if self.eat("?") {
            let then = self.binary(0)?;
            self.expect(":")?;
            let otherwise = self.expr()?;
            Expr::Conditional(Box::new(cond), Box::new(then), Box::new(otherwise))
        } else {
            cond
        };
        self.depth -= 1;
        Ok(out)
    }

    /// Binary operators by precedence level: `||`, `&&`, relations, `+ -`, `* / %`.
    fn binary(&mut self, level: usize) -> PResult<Expr> {
        if level == 5 {
            return self.unary();
        }
        let mut left = self.binary(level + 1)?;
        loop {
            let op = match (level, self.peek()) {
                (0, Tok::Punct("||")) => BinaryOp::Or,
                (1, Tok::Punct("&&")) => BinaryOp::And,
                (2, Tok::Punct("==")) => BinaryOp::Eq,
                (2, Tok::Punct("!=")) => BinaryOp::Ne,
                (2, Tok::Punct("<")) => BinaryOp::Lt,
                (2, Tok::Punct("<=")) => BinaryOp::Le,
                (2, Tok::Punct(">")) => BinaryOp::Gt,
                (2, Tok::Punct(">=")) => BinaryOp::Ge,
                (2, Tok::Ident(i)) if i == "in" => BinaryOp::In,
                (3, Tok::Punct("+")) => BinaryOp::Add,
                (3, Tok::Punct("-")) => BinaryOp::Sub,
                (4, Tok::Punct("*")) => BinaryOp::Mul,
                (4, Tok::Punct("/")) => BinaryOp::Div,
                (4, Tok::Punct("%")) => BinaryOp::Rem,
                _ => return Ok(left),
            };
            self.bump();
            self.enter()?;
            let right = self.binary(level + 1)?;
            self.depth -= 1;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
    }

    fn unary(&mut self) -> PResult<Expr> {
        if self.eat("!") {
            self.enter()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Unary(UnaryOp::Not, Box::new(inner)));
        }
        if self.eat("-") {
            // A negative literal is one value (so that the smallest int can be written).
            match self.peek().clone() {
                Tok::Int(v) if !matches!(self.peek_at(1), Tok::Punct("." | "[")) => {
                    self.bump();
                    return Ok(Expr::Int(-v));
                }
                Tok::Uint(v) if v == 1 << 63 => {
                    self.bump();
                    return Ok(Expr::Int(i64::MIN));
                }
                Tok::Double(v) if !matches!(self.peek_at(1), Tok::Punct("." | "[")) => {
                    self.bump();
                    return Ok(Expr::Double(-v));
                }
                _ => {}
            }
            self.enter()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Unary(UnaryOp::Negate, Box::new(inner)));
        }
        self.member()
    }

    fn member(&mut self) -> PResult<Expr> {
        let mut e = self.primary()?;
        loop {
            if self.eat(".") {
                let optional = self.eat("?");
                let field = self.ident()?;
                if !optional && self.eat("(") {
                    let args = self.args(")")?;
                    e = Expr::Call { target: Some(Box::new(e)), function: field, args };
                } else {
                    e = Expr::Select { operand: Box::new(e), field, optional };
                }
            } else if self.eat("[") {
                let optional = self.eat("?");
                let index = self.expr()?;
                self.expect("]")?;
                e = Expr::Index { operand: Box::new(e), index: Box::new(index), optional };
            } else if matches!(e, Expr::Ident(_) | Expr::Select { .. })
                && self.peek() == &Tok::Punct("{")
                && is_type_name(&e)
            {
                self.bump();
                let name = qualified_name(&e);
                let fields = self.fields()?;
                e = Expr::Struct { name, fields };
            } else {
                return Ok(e);
            }
        }
    }

    fn primary(&mut self) -> PResult<Expr> {
        let at = self.at();
        match self.bump() {
            Tok::Int(v) => Ok(Expr::Int(v)),
            Tok::Uint(v) => Ok(Expr::Uint(v)),
            Tok::Double(v) => Ok(Expr::Double(v)),
            Tok::Str(s) => Ok(Expr::String(s)),
            Tok::Bytes(b) => Ok(Expr::Bytes(b)),
            Tok::Ident(i) => match i.as_str() {
                "true" => Ok(Expr::Bool(true)),
                "false" => Ok(Expr::Bool(false)),
                "null" => Ok(Expr::Null),
                "in" => Err((at, "unexpected `in`".into())),
                r if RESERVED.contains(&r) => Err((at, format!("`{r}` is a reserved word"))),
                _ => {
                    if self.eat("(") {
                        let args = self.args(")")?;
                        Ok(Expr::Call { target: None, function: i, args })
                    } else {
                        Ok(Expr::Ident(i))
                    }
                }
            },
            // A leading dot names the root scope: `.a.b` is `a.b`.
            Tok::Punct(".") => {
                let name = self.ident()?;
                Ok(Expr::Ident(name))
            }
            Tok::Punct("(") => {
                let e = self.expr()?;
                self.expect(")")?;
                Ok(e)
            }
            Tok::Punct("[") => {
                self.enter()?;
                let mut items = Vec::new();
                while !self.eat("]") {
                    let optional = self.eat("?");
                    items.push((self.expr()?, optional));
                    if !self.eat(",") {
                        self.expect("]")?;
                        break;
                    }
                }
                self.depth -= 1;
                Ok(Expr::List(items))
            }
            Tok::Punct("{") => {
                self.enter()?;
                let mut entries = Vec::new();
                while !self.eat("}") {
                    let optional = self.eat("?");
                    let key = self.expr()?;
                    self.expect(":")?;
                    let value = self.expr()?;
                    entries.push((key, value, optional));
                    if !self.eat(",") {
                        self.expect("}")?;
                        break;
                    }
                }
                self.depth -= 1;
                Ok(Expr::Map(entries))
            }
            other => Err((at, format!("unexpected {}", describe(&other)))),
        }
    }

    fn ident(&mut self) -> PResult<String> {
        let at = self.at();
        match self.bump() {
            Tok::Ident(i) => Ok(i),
            other => Err((at, format!("expected a name, found {}", describe(&other)))),
        }
    }

    fn args(&mut self, close: &str) -> PResult<Vec<Expr>> {
        self.enter()?;
        let mut args = Vec::new();
        while !self.eat(close) {
            args.push(self.expr()?);
            if !self.eat(",") {
                self.expect(close)?;
                break;
            }
        }
        self.depth -= 1;
        Ok(args)
    }

    fn fields(&mut self) -> PResult<Vec<(String, Expr, bool)>> {
        self.enter()?;
        let mut fields = Vec::new();
        while !self.eat("}") {
            let optional = self.eat("?");
            let name = self.ident()?;
            self.expect(":")?;
            fields.push((name, self.expr()?, optional));
            if !self.eat(",") {
                self.expect("}")?;
                break;
            }
        }
        self.depth -= 1;
        Ok(fields)
    }
}

/// `Name{…}` (or `Object.spec{…}` in Kubernetes mutations) constructs a message: the name is a
/// plain dotted name. Nothing else may be followed by `{`.
fn is_type_name(e: &Expr) -> bool {
    match e {
        Expr::Ident(_) => true,
        Expr::Select { operand, optional: false, .. } => is_type_name(operand),
        _ => false,
    }
}

fn qualified_name(e: &Expr) -> String {
    match e {
        Expr::Ident(i) => i.clone(),
        Expr::Select { operand, field, .. } => format!("{}.{field}", qualified_name(operand)),
        _ => String::new(),
    }
}
