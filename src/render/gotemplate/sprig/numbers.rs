//! Sprig's conversions (`int`, `float64`, `atoi`, …) and arithmetic: integer functions on
//! `int64` (cast's conversions), float functions in decimal arithmetic as sprig does them
//! (`addf 1.1 2.2` is `3.3`).

use super::{arity, at_least, text, Result};
use crate::render::gotemplate::exec::Funcs;
use crate::render::gotemplate::value::Value;

/// cast's `ToInt64E`: integers, floats truncated, strings in Go's syntax (`0x1F`, `1.0`),
/// booleans, nil as 0.
pub(super) fn to_int64(v: &Value) -> Result<i64> {
    match v {
        Value::Int(i) => Ok(*i),
        #[allow(clippy::cast_possible_truncation, reason = "Go truncates the float")]
        Value::Float(f) => Ok(*f as i64),
        Value::Bool(b) => Ok(i64::from(*b)),
        Value::Nil => Ok(0),
        Value::Str(s) => parse_go_int(trim_zero_decimal(s))
            .ok_or_else(|| format!("unable to cast {s:?} of type string to int64")),
        other => Err(format!(
            "unable to cast {} of type {} to int64",
            crate::render::gotemplate::format::v(other),
            other.type_name()
        )),
    }
}

/// cast's `trimZeroDecimal`: `5.00` is `5`, `5.10` stays.
fn trim_zero_decimal(s: &str) -> &str {
    let mut found_zero = false;
    for (i, c) in s.char_indices().rev() {
        match c {
            '.' if found_zero => return &s[..i],
            '0' => found_zero = true,
            _ => return s,
        }
    }
    s
}

fn parse_go_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase().replace('_', "");
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_string())
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string())
    } else {
        (10, lower)
    };
    let magnitude = i64::from_str_radix(&digits, radix).ok()?;
    Some(if neg { -magnitude } else { magnitude })
}

/// cast's `ToFloat64E`.
pub(super) fn to_float64(v: &Value) -> Result<f64> {
    match v {
        #[allow(clippy::cast_precision_loss, reason = "Go converts alike")]
        Value::Int(i) => Ok(*i as f64),
        Value::Float(f) => Ok(*f),
        Value::Bool(b) => Ok(f64::from(u8::from(*b))),
        Value::Nil => Ok(0.0),
        Value::Str(s) => {
            s.parse::<f64>().map_err(|_| format!("unable to cast {s:?} of type string to float64"))
        }
        other => Err(format!(
            "unable to cast {} of type {} to float64",
            crate::render::gotemplate::format::v(other),
            other.type_name()
        )),
    }
}

fn ints(a: &[Value]) -> Vec<i64> {
    a.iter().map(|v| to_int64(v).unwrap_or(0)).collect()
}

fn floats(a: &[Value]) -> Vec<f64> {
    a.iter().map(|v| to_float64(v).unwrap_or(0.0)).collect()
}

pub(super) fn register(f: &mut Funcs) {
    register_ints(f);
    register_floats(f);
}

/// Conversions and integer arithmetic.
fn register_ints(f: &mut Funcs) {
    f.insert("int", |_, a| {
        arity(a, 1, "int")?;
        Ok(Value::Int(to_int64(&a[0]).unwrap_or(0)))
    });
    f.insert("int64", |_, a| {
        arity(a, 1, "int64")?;
        Ok(Value::Int(to_int64(&a[0]).unwrap_or(0)))
    });
    f.insert("float64", |_, a| {
        arity(a, 1, "float64")?;
        Ok(Value::Float(to_float64(&a[0]).unwrap_or(0.0)))
    });
    f.insert("atoi", |_, a| {
        arity(a, 1, "atoi")?;
        Ok(Value::Int(text(&a[0])?.parse().unwrap_or(0)))
    });
    f.insert("toDecimal", |_, a| {
        arity(a, 1, "toDecimal")?;
        let s = super::strval(&a[0]);
        Ok(Value::Int(i64::from_str_radix(&s, 8).unwrap_or(0)))
    });
    f.insert("add", |_, a| Ok(Value::Int(ints(a).iter().fold(0i64, |x, y| x.wrapping_add(*y)))));
    f.insert("add1", |_, a| {
        arity(a, 1, "add1")?;
        Ok(Value::Int(ints(a)[0].wrapping_add(1)))
    });
    f.insert("sub", |_, a| {
        arity(a, 2, "sub")?;
        let n = ints(a);
        Ok(Value::Int(n[0].wrapping_sub(n[1])))
    });
    f.insert("mul", |_, a| Ok(Value::Int(ints(a).iter().fold(1i64, |x, y| x.wrapping_mul(*y)))));
    f.insert("div", |_, a| {
        arity(a, 2, "div")?;
        let n = ints(a);
        n[0].checked_div(n[1])
            .map(Value::Int)
            .ok_or_else(|| "runtime error: integer divide by zero".into())
    });
    f.insert("mod", |_, a| {
        arity(a, 2, "mod")?;
        let n = ints(a);
        n[0].checked_rem(n[1])
            .map(Value::Int)
            .ok_or_else(|| "runtime error: integer divide by zero".into())
    });
    f.insert("max", |_, a| {
        at_least(a, 1, "max")?;
        Ok(Value::Int(ints(a).into_iter().max().unwrap_or(0)))
    });
    f.insert("biggest", |_, a| {
        at_least(a, 1, "biggest")?;
        Ok(Value::Int(ints(a).into_iter().max().unwrap_or(0)))
    });
    f.insert("min", |_, a| {
        at_least(a, 1, "min")?;
        Ok(Value::Int(ints(a).into_iter().min().unwrap_or(0)))
    });
}

/// Float functions (`maxf`, `floor`, `round`, decimal `addf`…).
fn register_floats(f: &mut Funcs) {
    f.insert("maxf", |_, a| {
        at_least(a, 1, "maxf")?;
        Ok(Value::Float(floats(a).into_iter().fold(f64::NEG_INFINITY, f64::max)))
    });
    f.insert("minf", |_, a| {
        at_least(a, 1, "minf")?;
        Ok(Value::Float(floats(a).into_iter().fold(f64::INFINITY, f64::min)))
    });
    f.insert("floor", |_, a| {
        arity(a, 1, "floor")?;
        Ok(Value::Float(floats(a)[0].floor()))
    });
    f.insert("ceil", |_, a| {
        arity(a, 1, "ceil")?;
        Ok(Value::Float(floats(a)[0].ceil()))
    });
    f.insert("round", |_, a| {
        at_least(a, 2, "round")?;
        let value = to_float64(&a[0]).unwrap_or(0.0);
        let places = to_float64(&a[1]).unwrap_or(0.0);
        let on = a.get(2).map_or(0.5, |v| to_float64(v).unwrap_or(0.5));
        let pow = 10f64.powf(places);
        let digit = pow * value;
        let rounded = if digit.fract() >= on { digit.ceil() } else { digit.floor() };
        Ok(Value::Float(rounded / pow))
    });
    f.insert("addf", |_, a| Ok(decimal_fold(a, 0.0, Op::Add)));
    f.insert("add1f", |_, a| {
        arity(a, 1, "add1f")?;
        Ok(decimal_fold(&[a[0].clone(), Value::Float(1.0)], 0.0, Op::Add))
    });
    f.insert("subf", |_, a| {
        at_least(a, 1, "subf")?;
        Ok(decimal_fold(&a[1..], to_float64(&a[0]).unwrap_or(0.0), Op::Sub))
    });
    f.insert("mulf", |_, a| Ok(decimal_fold(a, 1.0, Op::Mul)));
    f.insert("divf", |_, a| {
        at_least(a, 1, "divf")?;
        let mut acc = to_float64(&a[0]).unwrap_or(0.0);
        for v in &a[1..] {
            acc /= to_float64(v).unwrap_or(0.0);
        }
        Ok(Value::Float(acc))
    });
}

/// A decimal number: `mantissa × 10^-scale`, exact for what float arithmetic in templates
/// needs (shortest float texts, added or multiplied).
#[derive(Clone, Copy)]
struct Decimal {
    mantissa: i128,
    scale: u32,
}

impl Decimal {
    fn from_f64(f: f64) -> Option<Decimal> {
        if !f.is_finite() {
            return None;
        }
        let text = format!("{f}");
        let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
        let scale = u32::try_from(frac.len()).ok()?;
        let mantissa: i128 = format!("{int}{frac}").parse().ok()?;
        Some(Decimal { mantissa, scale })
    }

    fn aligned(self, other: Decimal) -> Option<(i128, i128, u32)> {
        let scale = self.scale.max(other.scale);
        let a = self.mantissa.checked_mul(10i128.checked_pow(scale - self.scale)?)?;
        let b = other.mantissa.checked_mul(10i128.checked_pow(scale - other.scale)?)?;
        Some((a, b, scale))
    }

    fn add(self, other: Decimal) -> Option<Decimal> {
        let (a, b, scale) = self.aligned(other)?;
        Some(Decimal { mantissa: a.checked_add(b)?, scale })
    }

    fn sub(self, other: Decimal) -> Option<Decimal> {
        let (a, b, scale) = self.aligned(other)?;
        Some(Decimal { mantissa: a.checked_sub(b)?, scale })
    }

    fn mul(self, other: Decimal) -> Option<Decimal> {
        Some(Decimal {
            mantissa: self.mantissa.checked_mul(other.mantissa)?,
            scale: self.scale.checked_add(other.scale)?,
        })
    }

    fn to_f64(self) -> f64 {
        let digits = self.mantissa.unsigned_abs().to_string();
        let scale = self.scale as usize;
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        let sign = if self.mantissa < 0 { "-" } else { "" };
        format!("{sign}{int}.{frac}0").parse().unwrap_or(f64::NAN)
    }
}

/// An arithmetic operation of the float functions.
#[derive(Clone, Copy)]
enum Op {
    Add,
    Sub,
    Mul,
}

impl Op {
    fn decimal(self, a: Decimal, b: Decimal) -> Option<Decimal> {
        match self {
            Op::Add => a.add(b),
            Op::Sub => a.sub(b),
            Op::Mul => a.mul(b),
        }
    }

    fn float(self, a: f64, b: f64) -> f64 {
        match self {
            Op::Add => a + b,
            Op::Sub => a - b,
            Op::Mul => a * b,
        }
    }
}

/// Folds the arguments into `start` in decimal arithmetic (falling back to float arithmetic
/// if a number does not fit).
fn decimal_fold(a: &[Value], start: f64, op: Op) -> Value {
    let mut acc = Decimal::from_f64(start);
    let mut float = start;
    for v in a {
        let x = to_float64(v).unwrap_or(0.0);
        acc = acc.zip(Decimal::from_f64(x)).and_then(|(d, e)| op.decimal(d, e));
        float = op.float(float, x);
    }
    Value::Float(acc.map_or(float, Decimal::to_f64))
}
