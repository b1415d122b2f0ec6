//! `toYaml` as Helm writes it: `sigs.k8s.io/yaml`, that is data through JSON, then go-yaml v2's
//! emitter — keys in its "natural" order, sequences under a key not indented, a string quoted
//! only when plain text would read back as something else (`"true"`, `"1"`, `"2024-05-01"`) or
//! cannot be plain (`'a: b'`), text with line breaks as a literal block, and long plain or
//! quoted text folded at 80 columns as libyaml folds it.

use std::cmp::Ordering;

use crate::render::gotemplate::format::float_g;
use crate::render::gotemplate::Value;

/// The widest line before libyaml folds a scalar at a space.
const BEST_WIDTH: usize = 80;

/// How deep nested data may be written.
const MAX_DEPTH: usize = 200;

/// The YAML of a value (without Helm's trailing-newline trim); `indent_sequences` indents a
/// sequence under its key (Helm 4's `toYamlPretty`).
pub(crate) fn to_yaml(value: &Value, indent_sequences: bool) -> Result<String, String> {
    let mut e = Emitter { out: String::new(), indent_sequences };
    let value = through_json(value, 0)?;
    match &value {
        Value::Map(m) if !m.borrow().is_empty() => e.map(&value, 0, false, 0)?,
        Value::List(l) if !l.is_empty() => e.list(&value, 0, false, 0)?,
        other => {
            e.scalar_or_empty(other, 0);
            e.out.push('\n');
        }
    }
    Ok(e.out)
}

/// Data as it comes back from JSON: floats that are whole numbers become integers
/// (`json.Marshal` writes `3`, YAML reads an int); what JSON cannot hold is an error.
fn through_json(v: &Value, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err("json: unsupported value: encountered a cycle".into());
    }
    Ok(match v {
        #[allow(clippy::cast_possible_truncation, reason = "checked to be whole and in range")]
        Value::Float(f)
            if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e21 && f.abs() < 9.2e18 =>
        {
            Value::Int(*f as i64)
        }
        Value::Float(f) if !f.is_finite() => {
            return Err(format!("json: unsupported value: {}", float_g(*f, None, false)))
        }
        Value::List(l) => {
            Value::list(l.iter().map(|x| through_json(x, depth + 1)).collect::<Result<_, _>>()?)
        }
        Value::Map(m) => Value::map(
            m.borrow()
                .iter()
                .map(|(k, x)| Ok((k.clone(), through_json(x, depth + 1)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// go-yaml v2's order of map keys: letters before digits runs compared as numbers
/// (`a2` before `a10`), non-letters before letters.
fn key_order(a: &str, b: &str) -> Ordering {
    let (ar, br): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    for i in 0..ar.len().min(br.len()) {
        if ar[i] == br[i] {
            continue;
        }
        let (al, bl) = (ar[i].is_alphabetic(), br[i].is_alphabetic());
        if al && bl {
            return ar[i].cmp(&br[i]);
        }
        if al || bl {
            return if bl { Ordering::Less } else { Ordering::Greater };
        }
        let (mut an, mut bn) = (0i64, 0i64);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && ar[j - 1].is_ascii_digit() {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an.saturating_mul(10).saturating_add(i64::from(ar[ai] as u8 - b'0'));
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn.saturating_mul(10).saturating_add(i64::from(br[bi] as u8 - b'0'));
            bi += 1;
        }
        if an != bn {
            return an.cmp(&bn);
        }
        if ai != bi {
            return ai.cmp(&bi);
        }
        return ar[i].cmp(&br[i]);
    }
    ar.len().cmp(&br.len())
}

/// Whether plain text would read back as something other than a string in go-yaml v2 (a
/// bool, null, number, timestamp, base-60 float or merge key).
fn resolves_to_non_string(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "n", "N", "no",
        "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", "", "~", "null", "Null",
        "NULL", ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
        "-.Inf", "-.INF", "<<",
    ];
    if WORDS.contains(&s) {
        return true;
    }
    let Some(first) = s.chars().next() else { return true };
    if !(first.is_ascii_digit() || matches!(first, '-' | '+' | '.')) {
        return false;
    }
    let plain = s.replace('_', "");
    let unsigned = plain.trim_start_matches(['-', '+']);
    let int = {
        let lower = unsigned.to_ascii_lowercase();
        let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
            (16, d.to_string())
        } else if let Some(d) = lower.strip_prefix("0b") {
            (2, d.to_string())
        } else if let Some(d) = lower.strip_prefix("0o") {
            (8, d.to_string())
        } else if lower.len() > 1 && lower.starts_with('0') {
            (8, lower[1..].to_string())
        } else {
            (10, lower)
        };
        !digits.is_empty() && digits.chars().all(|c| c.is_digit(radix))
    };
    int || is_float(&plain) || is_base60(s) || is_timestamp(s)
}

fn is_float(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((a, b)) => {
            (a.is_empty() && !b.is_empty() || !a.is_empty())
                && a.chars().all(|c| c.is_ascii_digit())
                && b.chars().all(|c| c.is_ascii_digit())
        }
        None => !mantissa.is_empty() && mantissa.chars().all(|c| c.is_ascii_digit()),
    };
    let exp_ok = exp.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
    });
    mantissa_ok && exp_ok
}

fn is_base60(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let mut parts = s.split(':');
    let Some(head) = parts.next() else { return false };
    let rest: Vec<&str> = parts.collect();
    if rest.is_empty()
        || !head.starts_with(|c: char| c.is_ascii_digit())
        || !head.chars().all(|c| c.is_ascii_digit() || c == '_')
    {
        return false;
    }
    let (last, middle) = rest.split_last().unwrap_or((&"", &[]));
    let sexagesimal = |p: &str| {
        !p.is_empty()
            && p.len() <= 2
            && p.chars().all(|c| c.is_ascii_digit())
            && p.parse::<u32>().is_ok_and(|n| n < 60)
    };
    let last_int = last.split('.').next().unwrap_or("");
    middle.iter().all(|p| sexagesimal(p))
        && sexagesimal(last_int)
        && last
            .split_once('.')
            .is_none_or(|(_, f)| f.chars().all(|c| c.is_ascii_digit() || c == '_'))
}

/// A date, or a date and a time, as go-yaml v2 reads a timestamp.
fn is_timestamp(s: &str) -> bool {
    let digits = |p: &str, min: usize, max: usize| {
        (min..=max).contains(&p.len()) && p.chars().all(|c| c.is_ascii_digit())
    };
    let (date, time) = match s.find(['T', 't', ' ']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let d: Vec<&str> = date.split('-').collect();
    if d.len() != 3 || !digits(d[0], 4, 4) || !digits(d[1], 1, 2) || !digits(d[2], 1, 2) {
        return false;
    }
    let Some(time) = time else { return true };
    let clock_end =
        time.find(|c: char| !(c.is_ascii_digit() || c == ':' || c == '.')).unwrap_or(time.len());
    let (clock, zone) = time.split_at(clock_end);
    let c: Vec<&str> = clock.split(':').collect();
    let clock_ok = c.len() == 3
        && digits(c[0], 1, 2)
        && digits(c[1], 1, 2)
        && c[2].split('.').next().is_some_and(|sec| digits(sec, 1, 2));
    let zone = zone.trim_start();
    clock_ok && (zone.is_empty() || zone == "Z" || zone.starts_with(['+', '-']))
}

/// What libyaml's analysis of a scalar allows.
struct Allowed {
    plain: bool,
    single: bool,
    block: bool,
}

/// go-yaml v2's `is_printable`: no tab, no character past U+FFFD, no byte-order mark.
fn printable(c: char) -> bool {
    matches!(c, '\n' | '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}')
        && c != '\u{feff}'
}

/// libyaml's `yaml_emitter_analyze_scalar`, for a block context.
fn analyze(s: &str) -> Allowed {
    let chars: Vec<char> = s.chars().collect();
    if chars.is_empty() {
        return Allowed { plain: false, single: true, block: false };
    }
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break, mut special, mut line_breaks) =
        (false, false, false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let is_break = |c: char| matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}');
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied();
        let followed_by_blank = next.is_none_or(|n| n == ' ' || n == '\t' || is_break(n));
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => block_indicators = true,
                '?' | ':' | '-' if followed_by_blank => block_indicators = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_by_blank => block_indicators = true,
                '#' if chars[i - 1] == ' ' || chars[i - 1] == '\t' => block_indicators = true,
                _ => {}
            }
        }
        if !printable(c) {
            special = true;
        }
        if is_break(c) {
            line_breaks = true;
        }
        let (first, last) = (i == 0, i + 1 == chars.len());
        if c == ' ' {
            leading_space |= first;
            trailing_space |= last;
            break_space |= previous_break;
            (previous_space, previous_break) = (true, false);
        } else if is_break(c) {
            leading_break |= first;
            trailing_break |= last;
            space_break |= previous_space;
            (previous_space, previous_break) = (false, true);
        } else {
            (previous_space, previous_break) = (false, false);
        }
    }
    let mut allowed = Allowed { plain: true, single: true, block: true };
    if leading_space || leading_break || trailing_space || trailing_break {
        allowed.plain = false;
    }
    if trailing_space {
        allowed.block = false;
    }
    if break_space {
        allowed.plain = false;
        allowed.single = false;
    }
    if space_break || special {
        allowed = Allowed { plain: false, single: false, block: false };
    }
    if line_breaks || block_indicators {
        allowed.plain = false;
    }
    allowed
}

/// How a scalar is written.
#[derive(Clone, Copy)]
enum Quote {
    Plain,
    Single,
    Double,
}

/// How a character is written inside quotes, when not as itself.
fn escape(c: char, quote: Quote) -> Option<String> {
    match quote {
        Quote::Plain => None,
        Quote::Single => (c == '\'').then(|| "''".to_string()),
        Quote::Double => Some(match c {
            '\0' => "\\0".into(),
            '\u{7}' => "\\a".into(),
            '\u{8}' => "\\b".into(),
            '\t' => "\\t".into(),
            '\n' => "\\n".into(),
            '\u{b}' => "\\v".into(),
            '\u{c}' => "\\f".into(),
            '\r' => "\\r".into(),
            '\u{1b}' => "\\e".into(),
            '"' => "\\\"".into(),
            '\\' => "\\\\".into(),
            '\u{85}' => "\\N".into(),
            '\u{2028}' => "\\L".into(),
            '\u{2029}' => "\\P".into(),
            c if !printable(c) => {
                if (c as u32) <= 0xff {
                    format!("\\x{:02X}", c as u32)
                } else if (c as u32) <= 0xffff {
                    format!("\\u{:04X}", c as u32)
                } else {
                    format!("\\U{:08X}", c as u32)
                }
            }
            _ => return None,
        }),
    }
}

struct Emitter {
    out: String,
    indent_sequences: bool,
}

impl Emitter {
    fn column(&self) -> usize {
        let line = self.out.rsplit('\n').next().unwrap_or("");
        line.chars().count()
    }

    fn newline_indent(&mut self, indent: usize) {
        self.out.push('\n');
        self.out.push_str(&" ".repeat(indent));
    }

    fn map(
        &mut self,
        v: &Value,
        indent: usize,
        inline_first: bool,
        depth: usize,
    ) -> Result<(), String> {
        let Value::Map(m) = v else { return Ok(()) };
        let m = m.borrow();
        let mut keys: Vec<&String> = m.keys().collect();
        keys.sort_by(|a, b| key_order(a, b));
        for (i, k) in keys.into_iter().enumerate() {
            if i > 0 || !inline_first {
                self.out.push_str(&" ".repeat(indent));
            }
            self.string(k, indent, true);
            self.out.push(':');
            self.value_after_key(&m[k], indent, depth)?;
        }
        Ok(())
    }

    fn value_after_key(&mut self, v: &Value, indent: usize, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err("data nest too deep to write".into());
        }
        match v {
            Value::Map(m) if !m.borrow().is_empty() => {
                self.out.push('\n');
                self.map(v, indent + 2, false, depth + 1)
            }
            Value::List(l) if !l.is_empty() => {
                self.out.push('\n');
                let at = if self.indent_sequences { indent + 2 } else { indent };
                self.list(v, at, false, depth + 1)
            }
            other => {
                self.out.push(' ');
                self.scalar_or_empty(other, indent + 2);
                self.out.push('\n');
                Ok(())
            }
        }
    }

    fn list(
        &mut self,
        v: &Value,
        indent: usize,
        inline_first: bool,
        depth: usize,
    ) -> Result<(), String> {
        let Value::List(items) = v else { return Ok(()) };
        if depth > MAX_DEPTH {
            return Err("data nest too deep to write".into());
        }
        for (i, item) in items.iter().enumerate() {
            if i > 0 || !inline_first {
                self.out.push_str(&" ".repeat(indent));
            }
            self.out.push_str("- ");
            match item {
                Value::Map(m) if !m.borrow().is_empty() => {
                    self.map(item, indent + 2, true, depth + 1)?;
                }
                Value::List(l) if !l.is_empty() => self.list(item, indent + 2, true, depth + 1)?,
                other => {
                    self.scalar_or_empty(other, indent + 2);
                    self.out.push('\n');
                }
            }
        }
        Ok(())
    }

    /// A scalar, `{}` or `[]`, whose continuation lines are indented by `indent`.
    fn scalar_or_empty(&mut self, v: &Value, indent: usize) {
        match v {
            Value::Nil => self.out.push_str("null"),
            Value::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => self.out.push_str(&i.to_string()),
            Value::Float(f) => self.out.push_str(&float_g(*f, None, false)),
            Value::Str(s) => self.string(s, indent, false),
            Value::Map(_) => self.out.push_str("{}"),
            Value::List(_) => self.out.push_str("[]"),
            Value::Object(o) => self.string(&o.print(), indent, false),
        }
    }

    /// A string in the style go-yaml v2 picks; `key` is libyaml's simple key context (no
    /// folding, no block scalars).
    fn string(&mut self, s: &str, indent: usize, key: bool) {
        // go-yaml v2 asks for a literal block, plain text or double quotes; libyaml falls
        // back to single, then double quotes where its analysis says so.
        let allowed = analyze(s);
        if s.contains('\n') {
            if allowed.block && !key {
                self.literal(s, indent);
            } else {
                self.double(s, indent, !key);
            }
        } else if resolves_to_non_string(s) {
            self.double(s, indent, !key);
        } else if allowed.plain {
            self.plain(s, indent, !key);
        } else if allowed.single {
            self.single(s, indent, !key);
        } else {
            self.double(s, indent, !key);
        }
    }

    fn plain(&mut self, s: &str, indent: usize, breaks: bool) {
        self.folded(s, indent, breaks, Quote::Plain);
    }

    fn single(&mut self, s: &str, indent: usize, breaks: bool) {
        self.folded(s, indent, breaks, Quote::Single);
    }

    fn double(&mut self, s: &str, indent: usize, breaks: bool) {
        self.folded(s, indent, breaks, Quote::Double);
    }

    /// Plain or quoted text, folded at a space once past column 80 (when `breaks`: not in a
    /// key) as libyaml's writers fold it.
    fn folded(&mut self, s: &str, indent: usize, breaks: bool, quote: Quote) {
        let mark = match quote {
            Quote::Plain => None,
            Quote::Single => Some('\''),
            Quote::Double => Some('"'),
        };
        self.out.extend(mark);
        let chars: Vec<char> = s.chars().collect();
        let mut column = self.column();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if let Some(e) = escape(c, quote) {
                column += e.chars().count();
                self.out.push_str(&e);
                spaces = false;
            } else if c == ' ' {
                let next_space = chars.get(i + 1) == Some(&' ');
                let inner = i != 0 && i + 1 != chars.len();
                let fold = breaks
                    && !spaces
                    && column > BEST_WIDTH
                    && match quote {
                        Quote::Plain => !next_space,
                        Quote::Single => inner && !next_space,
                        Quote::Double => inner,
                    };
                if fold {
                    self.newline_indent(indent);
                    column = indent;
                    if matches!(quote, Quote::Double) && next_space {
                        self.out.push('\\');
                        column += 1;
                    }
                } else {
                    self.out.push(c);
                    column += 1;
                }
                spaces = true;
            } else {
                self.out.push(c);
                column += 1;
                spaces = false;
            }
        }
        self.out.extend(mark);
    }

    /// A literal block (`|`, `|-`, `|+`, with an indentation indicator when the text starts
    /// with a space or a line break).
    fn literal(&mut self, s: &str, indent: usize) {
        self.out.push('|');
        if s.starts_with([' ', '\n']) {
            self.out.push('2');
        }
        let chomp = if !s.ends_with('\n') {
            "-"
        } else if s.ends_with("\n\n") || s == "\n" {
            "+"
        } else {
            ""
        };
        self.out.push_str(chomp);
        let body = s.strip_suffix('\n').unwrap_or(s);
        for line in body.split('\n') {
            self.out.push('\n');
            if !line.is_empty() {
                self.out.push_str(&" ".repeat(indent));
                self.out.push_str(line);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{key_order, to_yaml};
    use crate::render::gotemplate::Value;

    fn yaml(json: &serde_json::Value) -> String {
        to_yaml(&Value::from_json(json), false).unwrap()
    }

    #[test]
    fn data_is_written_as_go_yaml_v2_writes_it() {
        use serde_json::json;
        assert_eq!(yaml(&json!({"foo": "bar"})), "foo: bar\n");
        assert_eq!(
            yaml(&json!({"baz": [1, 2, {"a": 1, "b": [true]}]})),
            "baz:\n- 1\n- 2\n- a: 1\n  b:\n  - true\n"
        );
        assert_eq!(
            yaml(&json!({"s": "true", "n": "1", "e": "", "d": "2024-05-01", "c": "a: b", "h": "#x", "q": "it's", "f": 1.5, "i": 3.0, "z": null, "m": {}, "l": []})),
            "c: 'a: b'\nd: \"2024-05-01\"\ne: \"\"\nf: 1.5\nh: '#x'\ni: 3\nl: []\nm: {}\n\"n\": \"1\"\nq: it's\ns: \"true\"\nz: null\n"
        );
        assert_eq!(
            yaml(&json!({"t": "line1\nline2\n", "u": "a\nb"})),
            "t: |\n  line1\n  line2\nu: |-\n  a\n  b\n"
        );
        assert_eq!(yaml(&json!([[1, 2], "x"])), "- - 1\n  - 2\n- x\n");
        // Long plain text folds at a space past column 80, indented below its key.
        let long = "word ".repeat(20).trim_end().to_string();
        let out = yaml(&json!({"k": long}));
        assert_eq!(out.lines().count(), 2, "{out}");
        assert!(out.lines().nth(1).unwrap().starts_with("  word"), "{out}");
        assert_eq!(
            to_yaml(&Value::from_json(&json!({"baz": [1]})), true).unwrap(),
            "baz:\n  - 1\n"
        );
    }

    #[test]
    fn keys_in_go_yaml_v2_order() {
        let mut keys = vec!["a10", "a2", "b", "A", "_x", "a_b", "ab"];
        keys.sort_by(|a, b| key_order(a, b));
        // Non-letters before letters; digit runs as numbers (a run of none is 0).
        assert_eq!(keys, ["_x", "A", "a_b", "a2", "a10", "ab", "b"]);
    }
}
