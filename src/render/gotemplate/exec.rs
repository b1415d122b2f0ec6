//! Executing parsed templates (Go's `text/template/exec.go`): walking the body, evaluating
//! pipelines, fields, variables and function calls, `if`/`with`/`range`/`template` with Go's
//! scoping, and errors written as Go writes them (`template: NAME:LINE:COL: executing "NAME"
//! at <NODE>: MESSAGE`).

use std::rc::Rc;

use super::format;
use super::parse::{parse, Arg, Command, Control, Name, Node, Number, Pipe};
use super::value::Value;

type Result<T> = std::result::Result<T, Error>;

/// How many nodes and commands one execution may evaluate (`range` over a huge list, loops
/// of `include`), and how much text it may write: a template cannot hang or exhaust a run.
pub const MAX_STEPS: u64 = 10_000_000;
pub const MAX_OUTPUT: usize = 64 << 20;

/// How many branches a `false` switch left out one execution runs to see the objects they
/// would write, and the steps each may take (beside the execution's own [`MAX_STEPS`]).
pub const MAX_WOULD: u32 = 64;
pub const WOULD_STEPS: u64 = 100_000;

/// How deep `{{template}}` calls may nest before execution stops with an error (Go allows
/// 100,000; this engine recurses on the thread's stack, and charts nest a few levels).
pub const MAX_DEPTH: usize = 100;

thread_local! {
    /// The name of the variable that holds a template's data (every call declares it).
    static DOLLAR: Name = Name::from("$");
}

/// What an execution that took more than [`MAX_STEPS`] says.
fn too_many_steps() -> String {
    format!("evaluation exceeded {MAX_STEPS} steps (the template loops too long)")
}

/// A template's text and the name errors give it.
#[derive(Debug)]
pub struct Source {
    pub name: String,
    /// Shared: each release's build records the templates it read (their text included).
    pub text: std::sync::Arc<str>,
    /// The byte offset where each line of the text starts (found once: every release of a
    /// chart maps its output back to these lines).
    pub line_starts: Vec<usize>,
    /// The text is ASCII: a column is a byte count.
    pub ascii: bool,
}

impl Source {
    #[must_use]
    pub fn new(name: &str, text: &str) -> Source {
        let line_starts = line_starts(text);
        Source { name: name.to_string(), text: text.into(), line_starts, ascii: text.is_ascii() }
    }
}

/// The byte offset where each line of `text` starts.
#[must_use]
pub fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0).chain(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1)).collect()
}

/// A named body: its nodes and the source they were parsed from.
#[derive(Debug)]
struct Body {
    /// The name it is called by (errors name the template executing).
    name: Name,
    nodes: Vec<Node>,
    source: Rc<Source>,
}

/// An error, as Go writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub message: String,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// A function templates may call; it gets the executor (for `include`, `tpl`) and the
/// evaluated arguments. An error message is wrapped as Go wraps a function's error
/// (`error calling NAME: …`) unless it is an argument count or type error.
pub type Func = fn(&mut Exec<'_>, &[Value]) -> std::result::Result<Value, String>;

/// The functions templates may call, by name.
#[derive(Clone, Default)]
pub struct Funcs {
    map: foldhash::HashMap<&'static str, Func>,
}

impl Funcs {
    /// Go's builtins (`and or not len index slice print printf println html js urlquery call
    /// eq ne lt le gt ge`).
    #[must_use]
    pub fn builtins() -> Funcs {
        let mut f = Funcs::default();
        super::builtins::register(&mut f);
        f
    }

    pub fn insert(&mut self, name: &'static str, func: Func) {
        self.map.insert(name, func);
    }

    #[must_use]
    pub fn has(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }
}

/// A set of templates that can call each other (`{{template}}`, `define`).
#[derive(Default)]
pub struct Templates {
    bodies: foldhash::HashMap<String, Rc<Body>>,
    /// Helm's `missingkey=zero`: a missing key is a nil value (so a field of it is an error),
    /// rather than Go's default, an invalid value whose fields are invalid too.
    pub missing_zero: bool,
    /// `missingkey=error` (Helm's strict mode): a missing key is an error.
    pub missing_error: bool,
    /// Record the data each action read ([`Mark::read`]).
    pub record_reads: bool,
    /// When recording: the kinds of objects whose left-out branches are run to see what they
    /// would write ([`Skip::would`]); none for an empty list.
    pub left_out_kinds: &'static [&'static str],
}

fn line_col(text: &str, pos: usize) -> (usize, usize) {
    let before = &text[..pos.min(text.len())];
    let line = 1 + before.matches('\n').count();
    let col = before.rfind('\n').map_or(pos, |nl| pos - nl - 1);
    (line, col)
}

impl Templates {
    /// Parses `text` as the template `name` (and the templates it defines, which replace
    /// earlier ones of the same name, as Helm's single template set does).
    pub fn parse(&mut self, name: &str, text: &str, funcs: &Funcs) -> Result<()> {
        let parsed = parse(text, &|f| funcs.has(f)).map_err(|e| {
            let (line, _) = line_col(text, e.pos);
            Error { message: format!("template: {name}:{line}: {}", e.message) }
        })?;
        let source = Rc::new(Source::new(name, text));
        for (define, nodes) in parsed.defines {
            // As Go's `associate`: an empty definition does not replace one with a body.
            let empty = nodes.iter().all(|n| matches!(n, Node::Text(_, t) if t.trim().is_empty()));
            if empty && self.bodies.contains_key(&define) {
                continue;
            }
            let body = Body { name: define.as_str().into(), nodes, source: Rc::clone(&source) };
            self.bodies.insert(define, Rc::new(body));
        }
        let body = Body { name: name.into(), nodes: parsed.body, source };
        self.bodies.insert(name.to_string(), Rc::new(body));
        Ok(())
    }

    #[must_use]
    pub fn has(&self, name: &str) -> bool {
        self.bodies.contains_key(name)
    }

    /// Executes the template `name` with `data` as dot.
    pub fn execute(&self, name: &str, data: &Value, funcs: &Funcs) -> Result<String> {
        self.execute_traced(name, data, funcs).map(|w| w.text)
    }

    /// [`Templates::execute`], saying which template node wrote each part of the output.
    pub fn execute_traced(&self, name: &str, data: &Value, funcs: &Funcs) -> Result<Written> {
        let body = self.bodies.get(name).ok_or_else(|| Error {
            message: format!("template: no template {name:?} associated with template {name:?}"),
        })?;
        let mut exec = Exec {
            templates: self,
            outer: None,
            funcs,
            // A template writes about as much as its text holds.
            out: String::with_capacity(body.source.text.len()),
            spare: Vec::new(),
            spare_read: Vec::new(),
            marks: Vec::new(),
            reads: Vec::new(),
            vars: vec![(DOLLAR.with(Rc::clone), data.clone())],
            frame: 0,
            read: Vec::new(),
            skips: Vec::new(),
            woulds: 0,
            depth: 0,
            steps: 0,
            charged: Rc::default(),
            source: Rc::clone(&body.source),
            name: Rc::clone(&body.name),
        };
        match exec.walk_list(data, &body.nodes) {
            Err(Stop::Error(e)) => Err(e),
            Ok(()) | Err(Stop::Break | Stop::Continue) => {
                let (text, marks, reads, skips) = (exec.out, exec.marks, exec.reads, exec.skips);
                Ok(Written { text, marks, reads, skips })
            }
        }
    }
}

/// Why walking stopped: `{{break}}`, `{{continue}}` or an error.
enum Stop {
    Break,
    Continue,
    Error(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Stop {
        Stop::Error(e)
    }
}

/// Where a part of the output comes from: from byte `at` of the output on (until the next
/// mark), the node at byte `pos` of `template` wrote it.
#[derive(Clone, Debug)]
pub struct Mark {
    pub at: usize,
    pub template: Rc<Source>,
    pub pos: usize,
    /// The template's text copied as it is (a text node), rather than an action's output.
    pub verbatim: bool,
    /// What the action read of the data (when [`Templates::record_reads`]), as indexes of
    /// [`Written::reads`]: each map (by the address of its shared storage) with the key read
    /// of it, or a map or text the action took whole through dot or a variable (`toYaml .`,
    /// `{{ $host }}`).
    pub read: std::ops::Range<usize>,
}

/// A map (by address) and the key an action read of it; no key: the map itself.
pub type Read = (usize, Option<Rc<str>>);

/// What an execution wrote, and which template node wrote each part.
#[derive(Debug)]
pub struct Written {
    pub text: String,
    pub marks: Vec<Mark>,
    /// What the marks' actions read, each mark's in a range of its own.
    pub reads: Vec<Read>,
    /// Branches left out because a boolean the data holds was false (when
    /// [`Templates::record_reads`]).
    pub skips: Vec<Skip>,
}

/// An `if` or `with` whose condition was `false` (a boolean of the data: a switch turned off),
/// so that what its branch would have written is not in the output: where the branch would
/// have been, and what the condition read.
#[derive(Clone, Debug)]
pub struct Skip {
    pub at: usize,
    pub template: Rc<Source>,
    pub read: Vec<Read>,
    /// The indentation of the branch's first line of text (the keys it would have written),
    /// when it starts with text.
    pub indent: Option<usize>,
    /// What the branch would have written had the switch been on, when it writes objects of
    /// [`Templates::left_out_kinds`]: the objects the switch leaves out of the output.
    pub would: Option<String>,
}

impl Written {
    /// The template and line (from 1) that wrote the byte at `at` of the output.
    #[must_use]
    pub fn source_of(&self, at: usize) -> Option<(&str, usize)> {
        let i = self.marks.partition_point(|m| m.at <= at).checked_sub(1)?;
        let m = &self.marks[i];
        Some((&m.template.name, line_col(&m.template.text, m.pos).0))
    }
}

/// The state of one execution: what was written, the variables in scope, where it is.
pub struct Exec<'a> {
    templates: &'a Templates,
    /// The set a `tpl` text was given by: its templates are called where the text's own
    /// definitions do not have the name.
    outer: Option<&'a Templates>,
    funcs: &'a Funcs,
    out: String,
    /// Emptied output buffers of `include`s done, for the next ones.
    spare: Vec<String>,
    /// The same for the buffers of what actions read.
    spare_read: Vec<Vec<Read>>,
    marks: Vec<Mark>,
    /// What the marks' actions read (see [`Mark::read`]).
    reads: Vec<Read>,
    /// The variables in scope, innermost last; those of the template being executed start at
    /// `frame` (`$` first), and only those are visible.
    vars: Vec<(Name, Value)>,
    frame: usize,
    /// What the current action read of the data (when recording).
    read: Vec<Read>,
    /// Branches a `false` switch left out (when recording).
    skips: Vec<Skip>,
    /// Left-out branches run to see what they would write (at most [`MAX_WOULD`]).
    woulds: u32,
    depth: usize,
    /// Nodes and commands evaluated so far (`tpl` texts included).
    steps: u64,
    /// The costly calls counted against the steps once each ([`Exec::charge_once`]), shared
    /// with the executions of `include` and `tpl`.
    charged: Rc<std::cell::RefCell<foldhash::HashSet<u64>>>,
    source: Rc<Source>,
    name: Name,
}

impl Exec<'_> {
    /// The template set being executed (for `include` and `tpl`).
    #[must_use]
    pub fn templates(&self) -> &Templates {
        self.templates
    }

    /// Parses `text` as a template that may call the set's templates and executes it with
    /// `dot`, returning what it writes (Helm's `tpl`).
    pub fn tpl(&mut self, text: &str, dot: &Value) -> std::result::Result<String, String> {
        if self.depth >= MAX_DEPTH {
            return Err(format!("exceeded maximum template depth ({MAX_DEPTH})"));
        }
        let mut local = Templates {
            missing_zero: self.templates.missing_zero,
            missing_error: self.templates.missing_error,
            ..Templates::default()
        };
        // One name for every level of `tpl` of `tpl` (as Helm names them after the caller).
        let name = if self.name.ends_with("/tpl") {
            self.name.to_string()
        } else {
            format!("{}/tpl", self.name)
        };
        local.parse(&name, text, self.funcs).map_err(|e| e.message)?;
        let body = Rc::clone(&local.bodies[&name]);
        let outer = self.outer.unwrap_or(self.templates);
        let mut exec = Exec {
            templates: &local,
            outer: Some(outer),
            funcs: self.funcs,
            out: String::new(),
            spare: Vec::new(),
            spare_read: Vec::new(),
            marks: Vec::new(),
            reads: Vec::new(),
            vars: vec![(DOLLAR.with(Rc::clone), dot.clone())],
            frame: 0,
            read: Vec::new(),
            skips: Vec::new(),
            woulds: MAX_WOULD,
            depth: self.depth + 1,
            steps: self.steps,
            charged: Rc::clone(&self.charged),
            source: Rc::clone(&body.source),
            name: Rc::clone(&body.name),
        };
        let result = exec.walk_list(dot, &body.nodes);
        self.steps = exec.steps;
        match result {
            Err(Stop::Error(e)) => Err(e.message),
            // Helm takes Go's `<no value>` out of what `tpl` gives back.
            Ok(()) | Err(Stop::Break | Stop::Continue) => Ok(exec.out.replace("<no value>", "")),
        }
    }

    /// Counts `steps` for a function whose one call costs as much as many steps
    /// (`derivePassword`); past [`MAX_STEPS`], an error.
    pub fn charge(&mut self, steps: u64) -> std::result::Result<(), String> {
        self.steps = self.steps.saturating_add(steps);
        if self.steps > MAX_STEPS {
            return Err(too_many_steps());
        }
        Ok(())
    }

    /// [`Exec::charge`] for a costly call once per execution: a call `key` names again is
    /// free (its result is kept), whatever other executions on the thread did.
    pub fn charge_once(&mut self, key: u64, steps: u64) -> std::result::Result<(), String> {
        if self.charged.borrow_mut().insert(key) {
            self.charge(steps)
        } else {
            Ok(())
        }
    }

    /// Executes another template of the set with `dot`, returning what it writes (Helm's
    /// `include`).
    pub fn include(&mut self, name: &str, dot: &Value) -> std::result::Result<Value, String> {
        let fresh = self.spare.pop().unwrap_or_default();
        let saved = std::mem::replace(&mut self.out, fresh);
        // What the action calling `include` read so far is set aside (the included actions
        // record theirs in an emptied buffer of an earlier include).
        let fresh = self.spare_read.pop().unwrap_or_default();
        let read = std::mem::replace(&mut self.read, fresh);
        let (marks, reads, skips) = (self.marks.len(), self.reads.len(), self.skips.len());
        let result = self.call_template(name, dot, 0);
        let mut used = std::mem::replace(&mut self.read, read);
        used.clear();
        self.spare_read.push(used);
        self.skips.truncate(skips);
        self.reads.truncate(reads);
        let mut written = std::mem::replace(&mut self.out, saved);
        // What `include` returns is a value: where it is written, the action writing it is
        // its source.
        self.marks.truncate(marks);
        let value = result.map(|()| Value::string(&written)).map_err(|e| e.message);
        written.clear();
        self.spare.push(written);
        value
    }

    fn error(&self, pos: usize, node: &dyn std::fmt::Display, message: &str) -> Error {
        let (line, col) = line_col(&self.source.text, pos);
        Error {
            message: format!(
                "template: {}:{line}:{col}: executing {:?} at <{node}>: {message}",
                self.source.name, self.name
            ),
        }
    }

    fn walk_list(&mut self, dot: &Value, nodes: &[Node]) -> std::result::Result<(), Stop> {
        for node in nodes {
            self.walk(dot, node)?;
        }
        Ok(())
    }

    /// Counts one step; past [`MAX_STEPS`], or past [`MAX_OUTPUT`] bytes written, an error at
    /// `pos`.
    fn step(&mut self, pos: usize) -> Result<()> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(self.error(pos, &"...", &too_many_steps()));
        }
        if self.out.len() > MAX_OUTPUT {
            let message = format!("the template wrote more than {MAX_OUTPUT} bytes");
            return Err(self.error(pos, &"...", &message));
        }
        Ok(())
    }

    fn walk(&mut self, dot: &Value, node: &Node) -> std::result::Result<(), Stop> {
        let pos = match node {
            Node::Text(p, _) | Node::Action(p, _) | Node::Template(p, ..) => *p,
            Node::If(c) | Node::With(c) | Node::Range(c) => c.pos,
            Node::Break | Node::Continue => 0,
        };
        self.step(pos)?;
        match node {
            Node::Text(pos, text) => {
                self.mark(*pos, true);
                self.out.push_str(text);
            }
            Node::Action(pos, pipe) => {
                self.read.clear();
                let value = self.pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    self.mark(*pos, false);
                    let start = self.reads.len();
                    self.reads.append(&mut self.read);
                    if let Some(last) = self.marks.last_mut() {
                        last.read = start..self.reads.len();
                    }
                    self.print(&value);
                }
            }
            Node::If(c) => self.walk_if(dot, c, false)?,
            Node::With(c) => self.walk_if(dot, c, true)?,
            Node::Range(c) => self.walk_range(dot, c)?,
            Node::Template(pos, name, pipe) => {
                let new_dot = match pipe {
                    Some(p) => self.pipeline(dot, p)?,
                    None => Value::Nil,
                };
                self.call_template(name, &new_dot, *pos)?;
            }
            Node::Break => return Err(Stop::Break),
            Node::Continue => return Err(Stop::Continue),
        }
        Ok(())
    }

    fn call_template(&mut self, name: &str, dot: &Value, pos: usize) -> Result<()> {
        let found = self.templates.bodies.get(name).or_else(|| self.outer?.bodies.get(name));
        let Some(body) = found.cloned() else {
            let message = format!("template {name:?} not defined");
            let (line, col) = line_col(&self.source.text, pos);
            return Err(Error {
                message: format!(
                    "template: {}:{line}:{col}: executing {:?} at <{{{{template {name:?}}}}}>: {message}",
                    self.source.name, self.name
                ),
            });
        };
        if self.depth >= MAX_DEPTH {
            let node = format!("{{{{template {name:?}}}}}");
            return Err(self.error(
                pos,
                &node,
                &format!("exceeded maximum template depth ({MAX_DEPTH})"),
            ));
        }
        // The called template sees its own variables only: `$` (its dot) and what it declares.
        let frame = std::mem::replace(&mut self.frame, self.vars.len());
        self.vars.push((DOLLAR.with(Rc::clone), dot.clone()));
        let source = std::mem::replace(&mut self.source, Rc::clone(&body.source));
        let name = std::mem::replace(&mut self.name, Rc::clone(&body.name));
        self.depth += 1;
        let result = self.walk_list(dot, &body.nodes);
        self.depth -= 1;
        self.vars.truncate(self.frame);
        self.frame = frame;
        self.source = source;
        self.name = name;
        match result {
            Ok(()) | Err(Stop::Break | Stop::Continue) => Ok(()),
            Err(Stop::Error(e)) => Err(e),
        }
    }

    /// Records that what is written next comes from the node at `pos` of the current template.
    fn mark(&mut self, pos: usize, verbatim: bool) {
        let at = self.out.len();
        if let Some(last) = self.marks.last_mut().filter(|m| m.at == at) {
            last.pos = pos;
            last.template = Rc::clone(&self.source);
            last.verbatim = verbatim;
            last.read = 0..0;
        } else {
            let template = Rc::clone(&self.source);
            self.marks.push(Mark { at, template, pos, verbatim, read: 0..0 });
        }
    }

    /// Records (when recording) that the action took a map or a text whole, by the address
    /// of its storage: a value of the data reached through dot or a variable.
    fn note(&mut self, value: &Value) {
        if !self.templates.record_reads {
            return;
        }
        match value {
            Value::Map(m) => self.read.push((Rc::as_ptr(m).addr(), None)),
            Value::Str(text) => self.read.push((Rc::as_ptr(text).cast::<u8>().addr(), None)),
            _ => {}
        }
    }

    fn print(&mut self, value: &Value) {
        match value {
            Value::Nil => self.out.push_str("<no value>"),
            Value::Str(s) => self.out.push_str(s),
            other => self.out.push_str(&format::v(other)),
        }
    }

    fn walk_if(&mut self, dot: &Value, c: &Control, with: bool) -> std::result::Result<(), Stop> {
        let mark = self.vars.len();
        self.read.clear();
        let value = self.pipeline(dot, &c.pipe)?;
        let result = if value.truth() {
            let inner = if with { &value } else { dot };
            self.walk_list(inner, &c.list)
        } else if let Some(else_list) = &c.else_list {
            self.walk_list(dot, else_list)
        } else {
            // A `false`, or an empty map (what nulls in the values may leave), turned it off.
            let off = match &value {
                Value::Bool(false) => true,
                Value::Map(m) => m.borrow().is_empty(),
                _ => false,
            };
            if self.templates.record_reads && off && !self.read.is_empty() {
                let would = if with { None } else { self.would_write(dot, &c.list) };
                let (at, template) = (self.out.len(), Rc::clone(&self.source));
                let indent = match c.list.first() {
                    Some(Node::Text(_, text)) => text
                        .lines()
                        .find(|l| !l.trim().is_empty())
                        .map(|l| l.len() - l.trim_start_matches(' ').len()),
                    _ => None,
                };
                let read = std::mem::take(&mut self.read);
                self.skips.push(Skip { at, template, read, indent, would });
            }
            Ok(())
        };
        self.vars.truncate(mark);
        result
    }

    /// What `list`, a branch a `false` switch left out, would write had the switch been on —
    /// when its text writes objects of [`Templates::left_out_kinds`] (a `kind:` line): run on
    /// copies of the data (what it changes with `set` or `merge` stays in the copies) with a
    /// budget of its own ([`WOULD_STEPS`]), then undone. `None` when it fails, or past
    /// [`MAX_WOULD`] such runs in one execution.
    fn would_write(&mut self, dot: &Value, list: &[Node]) -> Option<String> {
        let kinds = self.templates.left_out_kinds;
        let kind_line = |l: &str| {
            let kind = l.trim_start().strip_prefix("kind:").map(str::trim);
            kind.is_some_and(|k| kinds.contains(&k.trim_matches(['"', '\''])))
        };
        let objects = |n: &Node| matches!(n, Node::Text(_, t) if t.lines().any(kind_line));
        if self.woulds >= MAX_WOULD || !list.iter().any(objects) {
            return None;
        }
        self.woulds += 1;
        let (out, marks, skips) = (self.out.len(), self.marks.len(), self.skips.len());
        let reads = self.reads.len();
        let (steps, read) = (self.steps, std::mem::take(&mut self.read));
        // The variables in scope are copied; those of the templates that called this one are
        // out of its sight.
        let frame = self.frame;
        let copies = (self.vars.iter().enumerate())
            .map(|(i, (n, v))| (Rc::clone(n), if i < frame { v.clone() } else { v.deep_copy() }))
            .collect();
        let vars = std::mem::replace(&mut self.vars, copies);
        self.steps = self.steps.max(MAX_STEPS.saturating_sub(WOULD_STEPS));
        let result = self.walk_list(&dot.deep_copy(), list);
        let written = self.out.split_off(out);
        self.marks.truncate(marks);
        self.reads.truncate(reads);
        self.skips.truncate(skips);
        (self.vars, self.steps, self.read) = (vars, steps, read);
        result.is_ok().then_some(written)
    }

    fn walk_range(&mut self, dot: &Value, c: &Control) -> std::result::Result<(), Stop> {
        let mark = self.vars.len();
        let value = self.pipeline(dot, &c.pipe)?;
        let items: Vec<(Value, Value)> = match &value {
            Value::List(items) => {
                items.iter().enumerate().map(|(i, v)| (Value::Int(i as i64), v.clone())).collect()
            }
            Value::Map(m) => {
                m.borrow().iter().map(|(k, v)| (Value::string(k), v.clone())).collect()
            }
            Value::Int(n) => {
                if c.pipe.decl.len() > 1 {
                    let node = c.pipe.to_string();
                    return Err(self
                        .error(c.pos, &node, "can't use $x, $y with range over int")
                        .into());
                }
                (0..*n).map(|i| (Value::Int(i), Value::Int(i))).collect()
            }
            Value::Nil => Vec::new(),
            other => {
                let node = c.pipe.to_string();
                let message = format!("range can't iterate over {}", format::v(other));
                return Err(self.error(c.pipe.pos, &node, &message).into());
            }
        };
        let inner = self.vars.len();
        let mut result = Ok(());
        for (key, item) in &items {
            // Each iteration is a step, even of an empty body (a loop of nothing still runs).
            if let Err(e) = self.step(c.pos) {
                result = Err(e.into());
                break;
            }
            // The declared variables are the element (last) and the index or key.
            if let [first, second] = c.pipe.decl.as_slice() {
                self.set_var(first, key.clone(), c.pipe.assign, inner);
                self.set_var(second, item.clone(), c.pipe.assign, inner);
            } else if let [one] = c.pipe.decl.as_slice() {
                self.set_var(one, item.clone(), c.pipe.assign, inner);
            }
            let r = self.walk_list(item, &c.list);
            self.vars.truncate(inner);
            match r {
                Ok(()) | Err(Stop::Continue) => {}
                Err(Stop::Break) => break,
                Err(e @ Stop::Error(_)) => {
                    result = Err(e);
                    break;
                }
            }
        }
        if items.is_empty() {
            if let Some(else_list) = &c.else_list {
                result = self.walk_list(dot, else_list);
            }
        }
        self.vars.truncate(mark);
        result
    }

    /// Sets a range variable for one iteration: the pipeline pushed it (`:=`) below `inner`,
    /// or it is an outer one (`=`).
    fn set_var(&mut self, name: &str, value: Value, assign: bool, inner: usize) {
        let scope = if assign { self.vars.len() } else { inner };
        let frame = self.frame;
        if let Some(slot) = self.vars[frame..scope].iter_mut().rev().find(|(n, _)| **n == *name) {
            slot.1 = value;
        }
    }

    fn pipeline(&mut self, dot: &Value, pipe: &Pipe) -> Result<Value> {
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            value = Some(self.command(dot, cmd, value)?);
        }
        let value = value.unwrap_or(Value::Nil);
        for name in &pipe.decl {
            if pipe.assign {
                let frame = self.frame;
                if let Some(slot) = self.vars[frame..].iter_mut().rev().find(|(n, _)| n == name) {
                    slot.1 = value.clone();
                }
            } else {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, cmd: &Command, last: Option<&Value>) -> Result<()> {
        if cmd.args.len() > 1 || last.is_some() {
            let first = &cmd.args[0];
            let message = format!("can't give argument to non-function {first}");
            return Err(self.error(first.pos(), first, &message));
        }
        Ok(())
    }

    fn command(&mut self, dot: &Value, cmd: &Command, last: Option<Value>) -> Result<Value> {
        self.step(cmd.pos)?;
        let first = &cmd.args[0];
        match first {
            Arg::Field(pos, names) => {
                self.field_chain((dot, dot.clone()), names, (&cmd.args[1..], last), (*pos, first))
            }
            Arg::Variable(pos, name, names) => {
                let value = self.variable(*pos, name)?;
                if names.is_empty() {
                    self.not_a_function(cmd, last.as_ref())?;
                    self.note(&value);
                    return Ok(value);
                }
                self.field_chain((dot, value), names, (&cmd.args[1..], last), (*pos, first))
            }
            Arg::Chain(pos, node, names) => {
                let value = self.arg(dot, node)?;
                self.field_chain((dot, value), names, (&cmd.args[1..], last), (*pos, first))
            }
            Arg::Function(pos, name) => self.function(dot, (*pos, name), &cmd.args[1..], last),
            Arg::Pipe(_, pipe) => {
                self.not_a_function(cmd, last.as_ref())?;
                self.pipeline(dot, pipe)
            }
            Arg::Nil(pos) => Err(self.error(*pos, first, "nil is not a command")),
            _ => {
                self.not_a_function(cmd, last.as_ref())?;
                self.arg(dot, first)
            }
        }
    }

    fn variable(&self, pos: usize, name: &str) -> Result<Value> {
        self.vars[self.frame..]
            .iter()
            .rev()
            .find(|(n, _)| **n == *name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| self.error(pos, &name, &format!("undefined variable: {name}")))
    }

    /// `.A.B.C` from `receiver`; arguments (`more`: the command's after the chain, or a piped
    /// value) reach the last field only, where they are an error (data has no methods).
    fn field_chain(
        &mut self,
        (dot, receiver): (&Value, Value),
        names: &[super::parse::Name],
        (more, last): (&[Arg], Option<Value>),
        (pos, node): (usize, &Arg),
    ) -> Result<Value> {
        // A nil that starts a chain is Go's invalid value (nil data, a pipeline's nil result):
        // its fields are missing. A nil met inside the chain is a nil interface: an error.
        let mut current = match receiver {
            Value::Nil => None,
            v => Some(v),
        };
        for (i, name) in names.iter().enumerate() {
            let final_field = i + 1 == names.len();
            let has_args = final_field && (!more.is_empty() || last.is_some());
            current = match current {
                // Go's invalid value: its fields are invalid too.
                None => None,
                Some(Value::Map(m)) => {
                    if has_args {
                        return Err(self.error(
                            pos,
                            node,
                            &format!("{name} is not a method but has arguments"),
                        ));
                    }
                    let found = m.borrow().get(&**name).cloned();
                    if found.is_some() && self.templates.record_reads {
                        self.read.push((Rc::as_ptr(&m).addr(), Some(Rc::clone(name))));
                    }
                    match found {
                        Some(v) => Some(v),
                        None if self.templates.missing_error => {
                            let message = format!("map has no entry for key {name:?}");
                            return Err(self.error(pos, node, &message));
                        }
                        None if self.templates.missing_zero => Some(Value::Nil),
                        None => None,
                    }
                }
                Some(Value::Nil) => {
                    let message = format!("nil pointer evaluating interface {{}}.{name}");
                    return Err(self.error(pos, node, &message));
                }
                Some(Value::Object(o)) => {
                    let found = if has_args {
                        let mut args = Vec::with_capacity(more.len() + 1);
                        for a in more {
                            args.push(self.arg(dot, a)?);
                        }
                        args.extend(last.clone());
                        o.call(name, &args)
                    } else {
                        o.field(name).map(Ok).or_else(|| o.call(name, &[]))
                    };
                    match found {
                        Some(Ok(v)) => Some(v),
                        Some(Err(e)) => {
                            return Err(self.error(
                                pos,
                                node,
                                &format!("error calling {name}: {e}"),
                            ))
                        }
                        None => {
                            let message =
                                format!("can't evaluate field {name} in type {}", o.type_name());
                            return Err(self.error(pos, node, &message));
                        }
                    }
                }
                Some(other) => {
                    let message =
                        format!("can't evaluate field {name} in type {}", other.type_name());
                    return Err(self.error(pos, node, &message));
                }
            };
        }
        Ok(current.unwrap_or(Value::Nil))
    }

    /// An operand's value.
    fn arg(&mut self, dot: &Value, arg: &Arg) -> Result<Value> {
        Ok(match arg {
            Arg::Dot(_) => {
                self.note(dot);
                dot.clone()
            }
            Arg::Nil(_) => Value::Nil,
            Arg::Bool(_, b) => Value::Bool(*b),
            Arg::Number(_, Number::Int(i), _) => Value::Int(*i),
            Arg::Number(_, Number::Float(f), _) => Value::Float(*f),
            Arg::String(_, s) => Value::string(s),
            Arg::Field(pos, names) => {
                self.field_chain((dot, dot.clone()), names, (&[], None), (*pos, arg))?
            }
            Arg::Variable(pos, name, names) => {
                let value = self.variable(*pos, name)?;
                if names.is_empty() {
                    self.note(&value);
                    value
                } else {
                    self.field_chain((dot, value), names, (&[], None), (*pos, arg))?
                }
            }
            Arg::Chain(pos, node, names) => {
                let value = self.arg(dot, node)?;
                self.field_chain((dot, value), names, (&[], None), (*pos, arg))?
            }
            Arg::Pipe(_, pipe) => self.pipeline(dot, pipe)?,
            Arg::Function(pos, name) => self.function(dot, (*pos, name), &[], None)?,
        })
    }

    fn function(
        &mut self,
        dot: &Value,
        (pos, name): (usize, &str),
        args: &[Arg],
        last: Option<Value>,
    ) -> Result<Value> {
        // `and` and `or` stop at the first argument that decides them (Go 1.18).
        if name == "and" || name == "or" {
            let count = args.len() + usize::from(last.is_some());
            if count == 0 {
                return Err(self.error(
                    pos,
                    &name,
                    &format!("wrong number of args for {name}: want at least 1 got 0"),
                ));
            }
            let mut value = Value::Nil;
            for a in args {
                value = self.arg(dot, a)?;
                if value.truth() != (name == "and") {
                    return Ok(value);
                }
            }
            if let Some(l) = last {
                value = l;
            }
            return Ok(value);
        }
        let Some(func) = self.funcs.map.get(name).copied() else {
            return Err(self.error(pos, &name, &format!("{name:?} is not a defined function")));
        };
        let mut values = Vec::with_capacity(args.len() + 1);
        for a in args {
            values.push(self.arg(dot, a)?);
        }
        values.extend(last);
        func(self, &values).map_err(|message| {
            if message.starts_with("wrong number of args")
                || message.starts_with("wrong type for value")
                || message.starts_with("template: ")
            {
                self.error(pos, &name, &message)
            } else {
                self.error(pos, &name, &format!("error calling {name}: {message}"))
            }
        })
    }
}
