//! Kyverno's arithmetic (`add`, `sum`, `subtract`, `multiply`, `divide`, `modulo`) on numbers,
//! Kubernetes quantities and Go durations, with the results Kyverno gives: a quantity as
//! Kubernetes writes it in canonical form (`25Ki`, `12301`, `1500k`), a duration as Go writes it
//! (`1m40s`), anything else a number.
//!
//! An operand is a number when it is a JSON number; a string is a quantity when Kubernetes
//! parses it as one (`'12'`, `'500m'`, `'1Gi'`), else a duration when Go parses it as one
//! (`'1h30m'`, `'1m'` is a quantity: a thousandth). What may meet what:
//!
//! | op | quantity | duration | number |
//! | --- | --- | --- | --- |
//! | `q + q`, `d + d`, `n + n` (and `-`) | quantity | duration | number |
//! | `q * n`, `n * q` / `d * n`, `n * d` / `n * n` | quantity | duration | number |
//! | `q / q`, `d / d`, `n / n` | number | number | number |
//! | `q / n`, `d / n` | quantity (rounded toward zero) | duration | |
//! | `q % q`, `d % d`, `n % n` (whole values only) | quantity | duration | number |
//!
//! Any other pairing is an error ("Types mismatch"), as in Kyverno.

use serde_json::Value;

use super::EvalError;
use crate::engine::cel::ext::parse_quantity;
use crate::gotime::{format_duration as go_duration, parse_duration as parse_go_duration};

/// How a quantity is written, which the result of an operation keeps from its first operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    /// `1.5`, `500m`, `2k`.
    DecimalSi,
    /// `1Ki`, `2Gi`.
    BinarySi,
    /// `1e3`.
    DecimalExponent,
}

/// An exact decimal: `mantissa × 10^exponent`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Decimal {
    mantissa: i128,
    exponent: i32,
}

impl Decimal {
    fn from_nanos(nanos: i128) -> Decimal {
        Decimal { mantissa: nanos, exponent: -9 }
    }

    /// The value as a whole number, if it is one (and fits).
    fn to_integer(self) -> Option<i128> {
        if self.exponent >= 0 {
            self.mantissa.checked_mul(10i128.checked_pow(self.exponent.unsigned_abs())?)
        } else {
            let div = 10i128.checked_pow(self.exponent.unsigned_abs())?;
            (self.mantissa % div == 0).then(|| self.mantissa / div)
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Operand {
    Number(f64),
    Quantity {
        nanos: i128,
        format: Format,
        /// Decimal places of the quantity as written (`500m`: 3, `1.5`: 1, `1.5k`: -2), which
        /// decide where a division by a number is cut.
        scale: i32,
    },
    /// Nanoseconds.
    Duration(i64),
}

fn error(function: &str, what: &str) -> EvalError {
    EvalError::Other(format!("JMESPath function '{function}': {what}"))
}

fn mismatch(function: &str) -> EvalError {
    error(function, "Types mismatch")
}

/// A quantity's format and written scale, when `s` is a quantity.
fn quantity(s: &str) -> Option<Operand> {
    let nanos = parse_quantity(s).ok()?;
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    let places = number.split_once('.').map_or(0, |(_, f)| f.len());
    let places = i32::try_from(places).ok()?;
    let (format, exponent) = match suffix {
        "" => (Format::DecimalSi, 0),
        "n" => (Format::DecimalSi, -9),
        "u" => (Format::DecimalSi, -6),
        "m" => (Format::DecimalSi, -3),
        "k" => (Format::DecimalSi, 3),
        "M" => (Format::DecimalSi, 6),
        "G" => (Format::DecimalSi, 9),
        "T" => (Format::DecimalSi, 12),
        "P" => (Format::DecimalSi, 15),
        "E" => (Format::DecimalSi, 18),
        e if e.starts_with(['e', 'E']) => (Format::DecimalExponent, e[1..].parse().ok()?),
        _ => (Format::BinarySi, 0),
    };
    let scale = if format == Format::BinarySi { 0 } else { places - exponent };
    Some(Operand::Quantity { nanos, format, scale })
}

fn operand(function: &str, v: &Value) -> Result<Operand, EvalError> {
    let parsed = match v {
        Value::Number(n) => n.as_f64().map(Operand::Number),
        Value::String(s) => quantity(s).or_else(|| {
            parse_go_duration(s).and_then(|n| i64::try_from(n).ok()).map(Operand::Duration)
        }),
        _ => None,
    };
    parsed.ok_or_else(|| error(function, "invalid operand"))
}

/// A number as Kyverno's JMESPath returns it (a whole number without a fraction).
fn number(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        #[allow(clippy::cast_possible_truncation, reason = "whole and within range")]
        Value::from(f as i64)
    } else {
        serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

/// A number as a quantity, as Kyverno makes one (`fmt.Sprintf("%v")`, then parsed).
fn number_as_quantity(function: &str, f: f64) -> Result<(Decimal, i32), EvalError> {
    let text = go_float(f);
    match quantity(&text) {
        Some(Operand::Quantity { nanos, scale, .. }) => Ok((Decimal::from_nanos(nanos), scale)),
        _ => Err(error(function, &format!("`{text}` is not a quantity"))),
    }
}

/// Go's `%v` of a float64: the shortest text that reads back as it, exponents from 1e21.
fn go_float(f: f64) -> String {
    if f != 0.0 && (f.abs() >= 1e21 || f.abs() < 1e-4) {
        let text = format!("{f:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let exponent: i32 = exponent.parse().unwrap_or(0);
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    } else {
        format!("{f}")
    }
}

/// Applies an arithmetic function to two values.
pub(super) fn apply(function: &str, a: &Value, b: &Value) -> Result<Value, EvalError> {
    let (x, y) = (operand(function, a)?, operand(function, b)?);
    match function {
        "add" | "sum" | "subtract" => add(function, x, y),
        "multiply" => multiply(function, x, y),
        "divide" => divide(function, x, y),
        "modulo" => modulo(function, x, y),
        _ => Err(error(function, "not an arithmetic function")),
    }
}

/// `sum(list)`: the elements added in turn, as `add` adds two.
pub(super) fn sum(items: &[Value]) -> Result<Value, EvalError> {
    let Some((first, rest)) = items.split_first() else {
        return Err(error("sum", "at least one element in the array is required"));
    };
    rest.iter().try_fold(first.clone(), |total, item| apply("sum", &total, item))
}

fn add(function: &str, x: Operand, y: Operand) -> Result<Value, EvalError> {
    let negate = function == "subtract";
    let overflow = || error(function, "the result overflows");
    match (x, y) {
        (Operand::Number(a), Operand::Number(b)) => Ok(number(if negate { a - b } else { a + b })),
        (Operand::Quantity { nanos: a, format, .. }, Operand::Quantity { nanos: b, .. }) => {
            let total = if negate { a.checked_sub(b) } else { a.checked_add(b) };
            Ok(Value::String(canonical(Decimal::from_nanos(total.ok_or_else(overflow)?), format)))
        }
        (Operand::Duration(a), Operand::Duration(b)) => {
            let total = if negate { a.checked_sub(b) } else { a.checked_add(b) };
            Ok(Value::String(go_duration(total.ok_or_else(overflow)?)))
        }
        _ => Err(mismatch(function)),
    }
}

fn multiply(function: &str, x: Operand, y: Operand) -> Result<Value, EvalError> {
    match (x, y) {
        (Operand::Number(a), Operand::Number(b)) => Ok(number(a * b)),
        (Operand::Quantity { nanos, format, .. }, Operand::Number(f))
        | (Operand::Number(f), Operand::Quantity { nanos, format, .. }) => {
            let (factor, _) = number_as_quantity(function, f)?;
            let mantissa = nanos
                .checked_mul(factor.mantissa)
                .ok_or_else(|| error(function, "the result overflows"))?;
            Ok(Value::String(canonical(Decimal { mantissa, exponent: -18 }, format)))
        }
        (Operand::Duration(d), Operand::Number(f)) | (Operand::Number(f), Operand::Duration(d)) => {
            Ok(Value::String(go_duration(scaled(d, f))))
        }
        _ => Err(mismatch(function)),
    }
}

/// A duration times a factor, as Go converts the float result (toward zero).
#[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, reason = "as Go converts")]
fn scaled(d: i64, factor: f64) -> i64 {
    ((d as f64 / 1e9) * factor * 1e9) as i64
}

fn divide(function: &str, x: Operand, y: Operand) -> Result<Value, EvalError> {
    let zero = || error(function, "Zero divisor passed");
    match (x, y) {
        (Operand::Number(a), Operand::Number(b)) => {
            if b == 0.0 {
                return Err(zero());
            }
            Ok(number(a / b))
        }
        (Operand::Quantity { nanos: a, .. }, Operand::Quantity { nanos: b, .. }) => {
            if b == 0 {
                return Err(zero());
            }
            #[allow(clippy::cast_precision_loss, reason = "Kyverno divides approximate floats")]
            Ok(number(a as f64 / b as f64))
        }
        (Operand::Quantity { nanos, format, scale }, Operand::Number(f)) => {
            if f == 0.0 {
                return Err(zero());
            }
            let (divisor, divisor_scale) = number_as_quantity(function, f)?;
            let places = scale.max(divisor_scale);
            // nanos / divisor, cut toward zero at `places` decimal places.
            // Both are in nano-units, so the quotient is `nanos / divisor`; times 10^places
            // and cut toward zero, it is the mantissa of the result.
            let overflow = || error(function, "the result overflows");
            let p = 10i128.checked_pow(places.unsigned_abs()).ok_or_else(overflow)?;
            let (numerator, denominator) = if places >= 0 {
                (nanos.checked_mul(p).ok_or_else(overflow)?, divisor.mantissa)
            } else {
                (nanos, divisor.mantissa.checked_mul(p).ok_or_else(overflow)?)
            };
            let quotient = numerator / denominator;
            Ok(Value::String(canonical(Decimal { mantissa: quotient, exponent: -places }, format)))
        }
        (Operand::Duration(a), Operand::Duration(b)) => {
            if b == 0 {
                return Err(zero());
            }
            #[allow(clippy::cast_precision_loss, reason = "seconds as Go's float64")]
            Ok(number((a as f64 / 1e9) / (b as f64 / 1e9)))
        }
        (Operand::Duration(d), Operand::Number(f)) => {
            if f == 0.0 {
                return Err(zero());
            }
            Ok(Value::String(go_duration(scaled(d, 1.0 / f))))
        }
        _ => Err(mismatch(function)),
    }
}

fn modulo(function: &str, dividend: Operand, divisor: Operand) -> Result<Value, EvalError> {
    let zero = || error(function, "Zero divisor passed");
    let fraction = || error(function, "Non-integer argument(s) passed for modulo");
    match (dividend, divisor) {
        (Operand::Number(a), Operand::Number(b)) => {
            #[allow(clippy::cast_possible_truncation, reason = "checked whole below")]
            let (whole_a, whole_b) = (a as i64, b as i64);
            #[allow(clippy::cast_precision_loss, reason = "compared back, as Kyverno does")]
            if a != whole_a as f64 || b != whole_b as f64 {
                return Err(fraction());
            }
            if whole_b == 0 {
                return Err(zero());
            }
            #[allow(clippy::cast_precision_loss, reason = "a whole remainder")]
            Ok(number((whole_a % whole_b) as f64))
        }
        (Operand::Quantity { nanos: a, format, .. }, Operand::Quantity { nanos: b, .. }) => {
            let whole_a = Decimal::from_nanos(a).to_integer().ok_or_else(fraction)?;
            let whole_b = Decimal::from_nanos(b).to_integer().ok_or_else(fraction)?;
            if whole_b == 0 {
                return Err(zero());
            }
            let remainder = Decimal { mantissa: whole_a % whole_b, exponent: 0 };
            Ok(Value::String(canonical(remainder, format)))
        }
        (Operand::Duration(a), Operand::Duration(b)) => {
            if b == 0 {
                return Err(zero());
            }
            Ok(Value::String(go_duration(a % b)))
        }
        _ => Err(mismatch(function)),
    }
}

/// A quantity as Kubernetes writes it in canonical form: a binary suffix when the value is a
/// whole multiple of 1024 (and at least 1024 in size), else the mantissa with the largest
/// decimal SI suffix (or exponent) that keeps it whole.
fn canonical(value: Decimal, format: Format) -> String {
    if value.mantissa == 0 {
        return "0".to_string();
    }
    if format == Format::BinarySi {
        if let Some(whole) = value.to_integer().filter(|w| w.abs() >= 1024) {
            let (mut amount, mut power) = (whole, 0);
            while amount % 1024 == 0 && power < 6 {
                amount /= 1024;
                power += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][power];
            return format!("{amount}{suffix}");
        }
    }
    let (mut mantissa, mut exponent) = (value.mantissa, value.exponent);
    while mantissa % 10 == 0 {
        mantissa /= 10;
        exponent += 1;
    }
    while exponent % 3 != 0 {
        mantissa *= 10;
        exponent -= 1;
    }
    let suffix = if format == Format::DecimalExponent {
        if exponent == 0 {
            String::new()
        } else {
            format!("e{exponent}")
        }
    } else {
        match exponent {
            -9 => "n",
            -6 => "u",
            -3 => "m",
            3 => "k",
            6 => "M",
            9 => "G",
            12 => "T",
            15 => "P",
            18 => "E",
            // Kubernetes has no suffix for the others and writes none.
            _ => "",
        }
        .to_string()
    };
    format!("{mantissa}{suffix}")
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::{apply, sum};

    fn run(function: &str, a: &Value, b: &Value) -> Result<Value, String> {
        apply(function, a, b).map_err(|e| e.to_string())
    }

    #[test]
    fn pairs_give_what_kyverno_gives() {
        assert_eq!(run("add", &json!(12), &json!(13)), Ok(json!(25)));
        assert_eq!(run("add", &json!("12Ki"), &json!("13Ki")), Ok(json!("25Ki")));
        assert_eq!(run("add", &json!("12Ki"), &json!("13")), Ok(json!("12301")));
        assert_eq!(run("add", &json!("12s"), &json!("13s")), Ok(json!("25s")));
        assert_eq!(run("subtract", &json!("12Ki"), &json!("13Ki")), Ok(json!("-1Ki")));
        assert_eq!(run("subtract", &json!("12s"), &json!("13s")), Ok(json!("-1s")));
        assert_eq!(run("subtract", &json!("12Ki"), &json!("13")), Ok(json!("12275")));
        assert_eq!(run("multiply", &json!(2.5), &json!("12Ki")), Ok(json!("30Ki")));
        assert_eq!(run("multiply", &json!(2.5), &json!("12")), Ok(json!("30")));
        assert_eq!(run("multiply", &json!(2.5), &json!("40s")), Ok(json!("1m40s")));
        assert_eq!(run("multiply", &json!(2.5), &json!(2.5)), Ok(json!(6.25)));
        assert_eq!(run("divide", &json!("512M"), &json!("256M")), Ok(json!(2)));
        assert_eq!(run("divide", &json!("128M"), &json!("256M")), Ok(json!(0.5)));
        assert_eq!(run("divide", &json!("12Ki"), &json!(3)), Ok(json!("4Ki")));
        assert_eq!(run("divide", &json!("12Ki"), &json!("200")), Ok(json!(61.44)));
        assert_eq!(run("divide", &json!("12s"), &json!(3)), Ok(json!("4s")));
        assert_eq!(run("divide", &json!("12s"), &json!("5s")), Ok(json!(2.4)));
        assert_eq!(run("divide", &json!(14), &json!(3)), Ok(json!(14.0 / 3.0)));
        assert_eq!(run("modulo", &json!("12Ki"), &json!("5Ki")), Ok(json!("2Ki")));
        assert_eq!(run("modulo", &json!("13s"), &json!("2s")), Ok(json!("1s")));
        assert_eq!(run("modulo", &json!(13), &json!(5)), Ok(json!(3)));
        // `1m` is a quantity (a thousandth), not a minute: the memory ratio policies divide by
        // it when a request is missing.
        assert_eq!(run("divide", &json!("64Mi"), &json!("1m")), Ok(json!(67_108_864_000_i64)));
        assert_eq!(run("divide", &json!("0"), &json!("1m")), Ok(json!(0)));
        // A quantity divided by a number is cut toward zero where the operands' places end.
        assert_eq!(run("divide", &json!("1"), &json!(3)), Ok(json!("0")));
        assert_eq!(run("divide", &json!("1.000"), &json!(3)), Ok(json!("333m")));
        assert_eq!(run("multiply", &json!("1500"), &json!(1000)), Ok(json!("1500k")));
        assert_eq!(run("add", &json!("1e3"), &json!("1e3")), Ok(json!("2e3")));
    }

    #[test]
    fn mismatches_and_zeros_are_errors() {
        for (f, a, b) in [
            ("add", json!("12"), json!("13s")),
            ("add", json!(12), json!("13Ki")),
            ("add", json!(12), json!("13")),
            ("add", json!("12Ki"), json!(13)),
            ("multiply", json!("12s"), json!("12s")),
            ("multiply", json!("12Ki"), json!("12Ki")),
            ("divide", json!("12Ki"), json!("2s")),
            ("divide", json!("12s"), json!("4")),
            ("divide", json!(14), json!("5s")),
            ("modulo", json!("12Ki"), json!("5s")),
        ] {
            let e = run(f, &a, &b).unwrap_err();
            assert_eq!(e, format!("JMESPath function '{f}': Types mismatch"), "{f}({a}, {b})");
        }
        assert!(run("divide", &json!("1Ki"), &json!("0")).unwrap_err().contains("Zero divisor"));
        assert!(run("modulo", &json!(1.5), &json!(1)).unwrap_err().contains("Non-integer"));
        assert!(run("add", &json!("abc"), &json!(1)).unwrap_err().contains("invalid operand"));
    }

    #[test]
    fn sums_add_in_turn() {
        assert_eq!(sum(&[json!("1Gi"), json!("512Mi")]), Ok(json!("1536Mi")));
        assert_eq!(sum(&[json!("1m"), json!("2m")]), Ok(json!("3m")));
        assert_eq!(sum(&[json!("1h"), json!("30m0s")]), Ok(json!("1h30m0s")));
        assert_eq!(sum(&[json!(1), json!(2.5)]), Ok(json!(3.5)));
        assert!(sum(&[]).is_err());
    }
}
