//! Sprig (Masterminds/sprig v3), the function library Helm gives templates: strings
//! ([`strings`]), lists and dicts ([`collections`]), numbers and conversions ([`numbers`]),
//! encodings, hashes, regular expressions and JSON ([`encoding`]), `derivePassword` and
//! `decryptAES` ([`crypto`]). Each function takes Go's
//! parameter types: a typed parameter refuses another type as Go's template engine does
//! (`wrong type for value; expected int; got float64`), and what sprig panics on is an error.
//! Functions whose result is random or depends on the clock or environment are not here.

mod collections;
pub mod crypto;
mod dates;
mod encoding;
pub use encoding::write_json;
mod numbers;
pub mod semver;
mod strings;

use super::exec::Funcs;
use super::format;
use super::value::Value;

type Result<T> = std::result::Result<T, String>;

/// Adds sprig's deterministic functions to `funcs` (replacing Go's `slice` with sprig's, as
/// sprig's function map does).
pub fn register(funcs: &mut Funcs) {
    strings::register(funcs);
    collections::register(funcs);
    numbers::register(funcs);
    encoding::register(funcs);
    crypto::register(funcs);
    semver::register(funcs);
    dates::register(funcs);
    dates::register_urls(funcs);
}

/// sprig's `strslice`: a list's items as strings (nils left out), or one value as one string
/// (nil as none).
fn strslice(v: &Value) -> Vec<String> {
    match v {
        Value::List(items) => {
            items.iter().filter(|x| !matches!(x, Value::Nil)).map(strval).collect()
        }
        Value::Nil => Vec::new(),
        other => vec![strval(other)],
    }
}

/// A typed parameter's mismatch, worded as Go's template engine words it.
fn wrong(expected: &str, got: &Value) -> String {
    match got {
        Value::Nil => format!("invalid value; expected {expected}"),
        _ => format!("wrong type for value; expected {expected}; got {}", got.type_name()),
    }
}

fn arity(args: &[Value], want: usize, name: &str) -> Result<()> {
    if args.len() == want {
        Ok(())
    } else {
        Err(format!("wrong number of args for {name}: want {want} got {}", args.len()))
    }
}

fn at_least(args: &[Value], want: usize, name: &str) -> Result<()> {
    if args.len() >= want {
        Ok(())
    } else {
        Err(format!("wrong number of args for {name}: want at least {want} got {}", args.len()))
    }
}

/// A `string` parameter.
fn text(v: &Value) -> Result<&str> {
    v.as_str().ok_or_else(|| wrong("string", v))
}

/// An `int` parameter.
fn int(v: &Value) -> Result<i64> {
    match v {
        Value::Int(i) => Ok(*i),
        other => Err(wrong("int", other)),
    }
}

/// sprig's `strval`: a string as is, anything else as `%v` prints it.
fn strval(v: &Value) -> String {
    match v {
        Value::Str(s) => s.to_string(),
        other => format::v(other),
    }
}

/// sprig's `empty`: nil, false, zero, and empty strings, lists and maps.
fn empty(v: &Value) -> bool {
    !v.truth()
}
