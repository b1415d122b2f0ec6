//! Go's `fmt` for template values: `Sprint`, `Sprintln`, `Sprintf` with their verbs, flags,
//! width and precision, and `%v`'s float formatting (`strconv`'s shortest `g`: `1e+06`).

use std::fmt::Write as _;

use super::value::Value;

/// `fmt.Sprint`: operands in their default format, with a space between two operands when
/// neither is a string.
#[must_use]
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        let is_str = |v: &Value| matches!(v, Value::Str(_));
        if i > 0 && !is_str(a) && !is_str(&args[i - 1]) {
            out.push(' ');
        }
        out.push_str(&v(a));
    }
    out
}

/// `fmt.Sprintln`: operands with spaces between them, and a newline.
#[must_use]
pub fn sprintln(args: &[Value]) -> String {
    let mut out: Vec<String> = args.iter().map(v).collect::<Vec<_>>();
    let mut joined = std::mem::take(&mut out).join(" ");
    joined.push('\n');
    joined
}

/// A value in Go's default format (`%v`).
#[must_use]
pub fn v(value: &Value) -> String {
    nested(value, 0)
}

/// How deep printing follows nested lists and maps: a map `set` into itself would otherwise
/// never end.
const MAX_PRINT_DEPTH: usize = 100;

fn nested(value: &Value, depth: usize) -> String {
    if depth > MAX_PRINT_DEPTH {
        return "...".into();
    }
    match value {
        Value::Nil => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => float_g(*f, None, false),
        Value::Str(s) => s.to_string(),
        Value::List(items) => {
            let inner: Vec<String> = items.iter().map(|x| nested(x, depth + 1)).collect();
            format!("[{}]", inner.join(" "))
        }
        Value::Map(m) => {
            let inner: Vec<String> =
                m.borrow().iter().map(|(k, x)| format!("{k}:{}", nested(x, depth + 1))).collect();
            format!("map[{}]", inner.join(" "))
        }
        Value::Object(o) => o.print(),
    }
}

/// The decimal digits of `|f|` (no trailing zeros) and the position of the decimal point
/// (`0.d1d2… × 10^dp`), shortest or rounded to `prec` significant digits.
fn digits(f: f64, prec: Option<usize>) -> (Vec<u8>, i32) {
    let text = match prec {
        None => format!("{:e}", f.abs()),
        Some(p) => format!("{:.*e}", p.max(1) - 1, f.abs()),
    };
    let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut d: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    while d.len() > 1 && d.last() == Some(&b'0') {
        d.pop();
    }
    if d == [b'0'] {
        return (Vec::new(), 0);
    }
    (d, exp + 1)
}

fn fmt_e(d: &[u8], dp: i32, prec: usize, upper: bool) -> String {
    let mut out = String::new();
    out.push(d.first().map_or('0', |c| char::from(*c)));
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            out.push(d.get(i).map_or('0', |c| char::from(*c)));
        }
    }
    let exp = if d.is_empty() { 0 } else { dp - 1 };
    out.push(if upper { 'E' } else { 'e' });
    out.push(if exp < 0 { '-' } else { '+' });
    let e = exp.unsigned_abs();
    if e < 10 {
        out.push('0');
    }
    out.push_str(&e.to_string());
    out
}

fn fmt_f(d: &[u8], dp: i32, prec: usize) -> String {
    let digit = |i: i32| -> char {
        usize::try_from(i).ok().and_then(|i| d.get(i)).map_or('0', |c| char::from(*c))
    };
    let mut out = String::new();
    if dp > 0 {
        for i in 0..dp {
            out.push(digit(i));
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 0..prec {
            out.push(digit(dp + i32::try_from(i).unwrap_or(i32::MAX)));
        }
    }
    out
}

/// `strconv.FormatFloat(f, 'g', prec, 64)` (shortest when `prec` is `None`).
#[must_use]
pub fn float_g(f: f64, prec: Option<usize>, upper: bool) -> String {
    if let Some(special) = special(f) {
        return special;
    }
    let sign = if f.is_sign_negative() { "-" } else { "" };
    let (d, dp) = digits(f, prec);
    let nd = i32::try_from(d.len()).unwrap_or(i32::MAX);
    let mut p = prec.map_or(nd, |p| i32::try_from(p.max(1)).unwrap_or(i32::MAX));
    let mut eprec = p;
    if eprec > nd && nd >= dp {
        eprec = nd;
    }
    if prec.is_none() {
        eprec = 6;
    }
    let exp = dp - 1;
    let body = if !d.is_empty() && (exp < -4 || exp >= eprec) {
        if p > nd {
            p = nd;
        }
        fmt_e(&d, dp, usize::try_from(p - 1).unwrap_or(0), upper)
    } else {
        if p > dp {
            p = nd;
        }
        fmt_f(&d, dp, usize::try_from((p - dp).max(0)).unwrap_or(0))
    };
    format!("{sign}{body}")
}

fn special(f: f64) -> Option<String> {
    if f.is_nan() {
        Some("NaN".into())
    } else if f.is_infinite() {
        Some(if f > 0.0 { "+Inf".into() } else { "-Inf".into() })
    } else {
        None
    }
}

/// Flags, width and precision of one verb.
#[derive(Default)]
#[allow(clippy::struct_excessive_bools, reason = "the flags of Go's fmt, one each")]
struct Spec {
    minus: bool,
    plus: bool,
    zero: bool,
    space: bool,
    sharp: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

impl Spec {
    /// Pads to the width (zeros after the sign when `zero` and numeric).
    fn pad(&self, s: String, numeric: bool) -> String {
        let len = s.chars().count();
        let Some(width) = self.width.filter(|w| *w > len) else { return s };
        let fill = width - len;
        if self.minus {
            return s + &" ".repeat(fill);
        }
        if self.zero && numeric {
            let (sign, rest) = match s.as_bytes().first() {
                Some(b'-' | b'+' | b' ') => s.split_at(1),
                _ => ("", s.as_str()),
            };
            return format!("{sign}{}{rest}", "0".repeat(fill));
        }
        " ".repeat(fill) + &s
    }

    fn signed(&self, negative: bool, body: &str) -> String {
        let sign = if negative {
            "-"
        } else if self.plus {
            "+"
        } else if self.space {
            " "
        } else {
            ""
        };
        format!("{sign}{body}")
    }
}

/// `fmt.Sprintf`: `%v %s %d %f %F %g %G %e %E %q %x %X %o %O %b %c %t %T %U %%`, flags
/// `-+ 0#`, width and precision (`*` too); wrong types and missing or extra arguments are
/// written as Go writes them (`%!d(string=x)`, `%!s(MISSING)`, `%!(EXTRA int=1)`).
#[must_use]
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut next = 0usize;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '0' => spec.zero = true,
                ' ' => spec.space = true,
                '#' => spec.sharp = true,
                _ => break,
            }
            chars.next();
        }
        let number = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
                      next: &mut usize|
         -> Option<usize> {
            if chars.peek() == Some(&'*') {
                chars.next();
                let n = match args.get(*next) {
                    Some(Value::Int(i)) => usize::try_from(*i).ok(),
                    _ => None,
                };
                *next += 1;
                return n;
            }
            let mut n: Option<usize> = None;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                n = Some(n.unwrap_or(0) * 10 + d as usize);
                chars.next();
            }
            n
        };
        spec.width = number(&mut chars, &mut next);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.prec = Some(number(&mut chars, &mut next).unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next) else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        next += 1;
        out.push_str(&one(verb, &spec, arg));
    }
    if next < args.len() {
        let extra: Vec<String> =
            args[next..].iter().map(|a| format!("{}={}", a.type_name(), v(a))).collect();
        let _ = write!(out, "%!(EXTRA {})", extra.join(", "));
    }
    out
}

fn bad(verb: char, arg: &Value) -> String {
    match arg {
        Value::Nil => format!("%!{verb}(<nil>)"),
        _ => format!("%!{verb}({}={})", arg.type_name(), v(arg)),
    }
}

/// One verb applied to one value.
fn one(verb: char, spec: &Spec, arg: &Value) -> String {
    one_at(verb, spec, arg, 0)
}

fn one_at(verb: char, spec: &Spec, arg: &Value, depth: usize) -> String {
    if depth > MAX_PRINT_DEPTH {
        return "...".into();
    }
    match (verb, arg) {
        ('T', _) => spec.pad(arg.type_name().to_string(), false),
        ('v', Value::Float(f)) => float_verb('g', spec, *f),
        ('v', Value::Int(i)) => int_verb('d', spec, *i),
        ('v', Value::List(items)) => {
            let inner: Vec<String> =
                items.iter().map(|x| one_at('v', spec, x, depth + 1)).collect();
            spec.pad(format!("[{}]", inner.join(" ")), false)
        }
        ('v', Value::Map(m)) => {
            let inner: Vec<String> = m
                .borrow()
                .iter()
                .map(|(k, x)| format!("{k}:{}", one_at('v', spec, x, depth + 1)))
                .collect();
            spec.pad(format!("map[{}]", inner.join(" ")), false)
        }
        ('v', _) => spec.pad(v(arg), false),
        ('s', Value::Str(s)) => {
            let s: String = match spec.prec {
                Some(p) => s.chars().take(p).collect(),
                None => s.to_string(),
            };
            spec.pad(s, false)
        }
        ('q', Value::Str(s)) if spec.sharp && can_backquote(s) => spec.pad(format!("`{s}`"), false),
        ('q', Value::Str(s)) => spec.pad(quote(s), false),
        ('x' | 'X', Value::Str(s)) => {
            let hex = s.bytes().fold(String::new(), |mut h, b| {
                let _ = write!(h, "{b:02x}");
                h
            });
            spec.pad(if verb == 'X' { hex.to_uppercase() } else { hex }, false)
        }
        ('t', Value::Bool(b)) => spec.pad(b.to_string(), false),
        ('d' | 'x' | 'X' | 'o' | 'O' | 'b' | 'c' | 'q' | 'U', Value::Int(i)) => {
            int_verb(verb, spec, *i)
        }
        ('e' | 'E' | 'f' | 'F' | 'g' | 'G', Value::Float(f)) => float_verb(verb, spec, *f),
        (
            's' | 'd' | 'x' | 'X' | 'o' | 'b' | 'q' | 'e' | 'E' | 'f' | 'F' | 'g' | 'G' | 't',
            Value::List(items),
        ) => {
            let inner: Vec<String> =
                items.iter().map(|x| one_at(verb, spec, x, depth + 1)).collect();
            format!("[{}]", inner.join(" "))
        }
        ('s' | 'q' | 'x' | 'X' | 'd', Value::Map(m)) => {
            let inner: Vec<String> = m
                .borrow()
                .iter()
                .map(|(k, x)| format!("{k}:{}", one_at(verb, spec, x, depth + 1)))
                .collect();
            format!("map[{}]", inner.join(" "))
        }
        _ => bad(verb, arg),
    }
}

fn int_verb(verb: char, spec: &Spec, i: i64) -> String {
    let magnitude = i.unsigned_abs();
    let body = match verb {
        'd' => magnitude.to_string(),
        'x' => format!("{}{magnitude:x}", if spec.sharp { "0x" } else { "" }),
        'X' => format!("{}{magnitude:X}", if spec.sharp { "0X" } else { "" }),
        'o' => format!("{}{magnitude:o}", if spec.sharp { "0" } else { "" }),
        'O' => format!("0o{magnitude:o}"),
        'b' => format!("{magnitude:b}"),
        'c' => {
            let c = u32::try_from(i).ok().and_then(char::from_u32).unwrap_or('\u{fffd}');
            return spec.pad(c.to_string(), false);
        }
        'q' => {
            let c = u32::try_from(i).ok().and_then(char::from_u32).unwrap_or('\u{fffd}');
            return spec.pad(quote_rune(c), false);
        }
        'U' => {
            return spec.pad(format!("U+{magnitude:04X}"), false);
        }
        _ => return bad(verb, &Value::Int(i)),
    };
    let body = match spec.prec {
        Some(p) if body.len() < p => format!("{}{body}", "0".repeat(p - body.len())),
        _ => body,
    };
    spec.pad(spec.signed(i < 0, &body), spec.prec.is_none())
}

fn float_verb(verb: char, spec: &Spec, f: f64) -> String {
    if let Some(s) = special(f) {
        let s = if f.is_infinite() && f > 0.0 && !spec.plus { "Inf".to_string() } else { s };
        return spec.pad(s, false);
    }
    let magnitude = f.abs();
    let body = match verb {
        'e' | 'E' => {
            let (d, dp) = digits(magnitude, Some(spec.prec.unwrap_or(6) + 1));
            fmt_e(&d, dp, spec.prec.unwrap_or(6), verb == 'E')
        }
        'f' | 'F' => format!("{magnitude:.*}", spec.prec.unwrap_or(6)),
        _ => float_g(magnitude, spec.prec, verb == 'G'),
    };
    spec.pad(spec.signed(f.is_sign_negative(), &body), true)
}

/// `strconv.CanBackquote`: no backquote, and no control character but a tab.
fn can_backquote(s: &str) -> bool {
    s.chars().all(|c| c != '`' && c != '\u{feff}' && (c == '\t' || !c.is_control()))
}

/// `strconv.Quote`.
#[must_use]
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        escape(&mut out, c, '"');
    }
    out.push('"');
    out
}

fn quote_rune(c: char) -> String {
    let mut out = String::from("'");
    escape(&mut out, c, '\'');
    out.push('\'');
    out
}

fn escape(out: &mut String, c: char, quote: char) {
    match c {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        '\\' => out.push_str("\\\\"),
        c if c == quote => {
            out.push('\\');
            out.push(c);
        }
        c if (c as u32) < 0x20 || c == '\u{7f}' => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if c.is_control() => {
            let _ = if (c as u32) < 0x10000 {
                write!(out, "\\u{:04x}", c as u32)
            } else {
                write!(out, "\\U{:08x}", c as u32)
            };
        }
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::{float_g, sprint, sprintf};
    use crate::render::gotemplate::value::Value;

    #[test]
    fn floats_print_as_go_prints_them() {
        let cases = [
            (1.0, "1"),
            (1.5, "1.5"),
            (100_000.0, "100000"),
            (1_000_000.0, "1e+06"),
            (123_456_789.0, "1.23456789e+08"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5, "-2.5"),
            (0.0, "0"),
            (3.14e21, "3.14e+21"),
        ];
        for (f, want) in cases {
            assert_eq!(float_g(f, None, false), want, "{f}");
        }
    }

    #[test]
    fn printf_verbs() {
        let s = Value::string;
        let cases: Vec<(&str, Vec<Value>, &str)> = vec![
            ("%d-%s", vec![Value::Int(3), s("x")], "3-x"),
            ("%5d|%-5s|%05d", vec![Value::Int(42), s("ab"), Value::Int(-7)], "   42|ab   |-0007"),
            (
                "%.2f %e %g",
                vec![Value::Float(2.5), Value::Float(1234.5678), Value::Float(0.000_012)],
                "2.50 1.234568e+03 1.2e-05",
            ),
            (
                "%q %x %X %c",
                vec![s("a\"b"), Value::Int(255), s("hi"), Value::Int(65)],
                "\"a\\\"b\" ff 6869 A",
            ),
            ("%d", vec![s("x")], "%!d(string=x)"),
            ("%s %s", vec![s("x")], "x %!s(MISSING)"),
            ("%s", vec![s("x"), Value::Int(1)], "x%!(EXTRA int=1)"),
            (
                "%v %v %t %%",
                vec![
                    Value::List(vec![Value::Int(1), s("a")].into()),
                    Value::Nil,
                    Value::Bool(true),
                ],
                "[1 a] <nil> true %",
            ),
            ("%T %T", vec![Value::Float(1.0), s("x")], "float64 string"),
            ("%.3s|%+d|%x", vec![s("abcdef"), Value::Int(5), Value::Int(-255)], "abc|+5|-ff"),
        ];
        for (format, args, want) in cases {
            assert_eq!(sprintf(format, &args), want, "{format}");
        }
        assert_eq!(sprint(&[Value::Int(1), Value::Int(2), s("a"), Value::Int(3)]), "1 2a3");
    }
}
