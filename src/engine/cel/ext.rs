//! The Kubernetes CEL library types: `quantity`, `url`, `ip`, `cidr` (k8s.io/apiserver's
//! `library` package, as documented in the Kubernetes CEL reference), and Kyverno's `image`.

use std::net::IpAddr;
use std::rc::Rc;

use super::eval::{err, EvalError, Val};
use crate::image::ImageRef;

type Result<T> = std::result::Result<T, EvalError>;

/// A value of one of the library types.
#[derive(Clone, Debug, PartialEq)]
pub enum Ext {
    /// A resource quantity, exactly, in nano-units (the smallest Kubernetes suffix).
    Quantity {
        nanos: i128,
        text: String,
    },
    Url(Url),
    Ip(IpAddr),
    Cidr {
        ip: IpAddr,
        prefix: u8,
    },
    Image(ImageRef),
}

impl Ext {
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        match self {
            Ext::Quantity { .. } => "kubernetes.Quantity",
            Ext::Url(_) => "kubernetes.URL",
            Ext::Ip(_) => "net.IP",
            Ext::Cidr { .. } => "net.CIDR",
            Ext::Image(_) => "kyverno.Image",
        }
    }

    /// `==` between two library values.
    #[must_use]
    pub fn equal(&self, other: &Ext) -> bool {
        match (self, other) {
            (Ext::Quantity { nanos: a, .. }, Ext::Quantity { nanos: b, .. }) => a == b,
            _ => self == other,
        }
    }

    /// `string(x)`, where the library defines it.
    #[must_use]
    pub fn to_string_value(&self) -> Option<String> {
        Some(match self {
            Ext::Ip(ip) => ip.to_string(),
            Ext::Cidr { ip, prefix } => format!("{ip}/{prefix}"),
            Ext::Image(i) => i.to_string(),
            Ext::Quantity { text, .. } => text.clone(),
            Ext::Url(u) => u.text.clone(),
        })
    }
}

fn ext(e: Ext) -> Val {
    Val::Ext(Rc::new(e))
}

/// Calls a library function; `None` when none matches.
pub(super) fn call(r: Option<&Val>, name: &str, args: &[Val]) -> Option<Result<Val>> {
    if let Some(Val::Ext(e)) = r {
        return method(e, name, args);
    }
    let [Val::String(s)] = args else { return None };
    let s: &str = s;
    Some(match (r, name) {
        (None, "quantity") => {
            parse_quantity(s).map(|nanos| ext(Ext::Quantity { nanos, text: s.into() }))
        }
        (None, "isQuantity") => Ok(Val::Bool(parse_quantity(s).is_ok())),
        (None, "url") => parse_url(s).map(|u| ext(Ext::Url(u))),
        (None, "isURL") => Ok(Val::Bool(parse_url(s).is_ok())),
        (None, "ip") => parse_ip(s).map(|ip| ext(Ext::Ip(ip))),
        (None, "isIP") => Ok(Val::Bool(parse_ip(s).is_ok())),
        (None, "ip.isCanonical") => parse_ip(s).map(|ip| Val::Bool(ip.to_string() == s)),
        (None, "cidr") => parse_cidr(s).map(|(ip, prefix)| ext(Ext::Cidr { ip, prefix })),
        (None, "isCIDR") => Ok(Val::Bool(parse_cidr(s).is_ok())),
        (None, "image") => ImageRef::parse(s)
            .map(|i| ext(Ext::Image(i)))
            .map_err(|e| EvalError::Failed(format!("image(): `{s}`: {e}"))),
        (None, "isImage") => Ok(Val::Bool(ImageRef::parse(s).is_ok())),
        _ => return None,
    })
}

fn method(e: &Ext, name: &str, args: &[Val]) -> Option<Result<Val>> {
    let string = |s: &str| Ok(Val::string(s));
    Some(match (e, name, args) {
        (Ext::Quantity { nanos, .. }, _, _) => quantity_method(*nanos, name, args)?,
        (Ext::Url(u), "getScheme", []) => string(&u.scheme),
        (Ext::Url(u), "getHost", []) => string(&u.host),
        (Ext::Url(u), "getHostname", []) => string(u.hostname()),
        (Ext::Url(u), "getPort", []) => string(u.port()),
        (Ext::Url(u), "getEscapedPath", []) => string(&u.path),
        (Ext::Url(u), "getQuery", []) => Ok(u.query_map()),
        (Ext::Ip(ip), _, []) => ip_method(*ip, name)?,
        (Ext::Cidr { ip, .. }, "ip", []) => Ok(ext(Ext::Ip(*ip))),
        (Ext::Cidr { prefix, .. }, "prefixLength", []) => Ok(Val::Int(i64::from(*prefix))),
        (Ext::Cidr { ip, prefix }, "masked", []) => {
            Ok(ext(Ext::Cidr { ip: mask(*ip, *prefix), prefix: *prefix }))
        }
        (Ext::Cidr { ip, prefix }, "containsIP", [other]) => {
            let other = match other {
                Val::Ext(o) => match &**o {
                    Ext::Ip(o) => *o,
                    _ => return None,
                },
                Val::String(s) => match parse_ip(s) {
                    Ok(o) => o,
                    Err(e) => return Some(Err(e)),
                },
                _ => return None,
            };
            Ok(Val::Bool(contains(*ip, *prefix, other)))
        }
        (Ext::Cidr { ip, prefix }, "containsCIDR", [other]) => {
            let (o_ip, o_prefix) = match other {
                Val::Ext(o) => match &**o {
                    Ext::Cidr { ip, prefix } => (*ip, *prefix),
                    _ => return None,
                },
                Val::String(s) => match parse_cidr(s) {
                    Ok(c) => c,
                    Err(e) => return Some(Err(e)),
                },
                _ => return None,
            };
            Ok(Val::Bool(o_prefix >= *prefix && contains(*ip, *prefix, o_ip)))
        }
        (Ext::Image(i), _, []) => {
            let v = match name {
                "registry" => &i.registry,
                "repository" => &i.repository,
                "tag" => &i.tag,
                "digest" => &i.digest,
                "identifier" => {
                    return Some(string(if i.digest.is_empty() { &i.tag } else { &i.digest }))
                }
                "containsDigest" => return Some(Ok(Val::Bool(!i.digest.is_empty()))),
                _ => return None,
            };
            string(v)
        }
        _ => return None,
    })
}

/// A quantity (`500m`, `1.5Gi`, `1e3`) in nano-units, exactly; Kubernetes rounds a finer
/// fraction up to the next nano-unit, and so does this.
pub fn parse_quantity(s: &str) -> Result<i128> {
    let bad = || EvalError::Failed(format!("quantity(): `{s}` is not a quantity"));
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    let (negative, digits) = match number.as_bytes().first() {
        Some(b'-') => (true, &number[1..]),
        Some(b'+') => (false, &number[1..]),
        _ => (false, number),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if (whole.is_empty() && fraction.is_empty())
        || !whole.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    // value = mantissa / 10^scale * 2^bin * 10^dec
    let mut mantissa_digits = String::with_capacity(whole.len() + fraction.len());
    mantissa_digits.push_str(whole);
    mantissa_digits.push_str(fraction);
    let mantissa_digits = mantissa_digits.trim_start_matches('0');
    if mantissa_digits.len() > 30 {
        return Err(EvalError::Failed(format!("quantity(): `{s}` is too large or too precise")));
    }
    let mantissa: i128 =
        if mantissa_digits.is_empty() { 0 } else { mantissa_digits.parse().map_err(|_| bad())? };
    let scale = i32::try_from(fraction.len()).map_err(|_| bad())?;
    let (bin, dec): (u32, i32) = match suffix {
        "" => (0, 0),
        "n" => (0, -9),
        "u" => (0, -6),
        "m" => (0, -3),
        "k" => (0, 3),
        "M" => (0, 6),
        "G" => (0, 9),
        "T" => (0, 12),
        "P" => (0, 15),
        "E" => (0, 18),
        "Ki" => (10, 0),
        "Mi" => (20, 0),
        "Gi" => (30, 0),
        "Ti" => (40, 0),
        "Pi" => (50, 0),
        "Ei" => (60, 0),
        e if e.starts_with(['e', 'E']) => {
            (0, e[1..].parse::<i32>().ok().filter(|x| x.abs() <= 40).ok_or_else(bad)?)
        }
        _ => return Err(bad()),
    };
    let too_big = || EvalError::Failed(format!("quantity(): `{s}` is too large"));
    let mut value = mantissa.checked_mul(1i128 << bin).ok_or_else(too_big)?;
    // To nano-units: multiply by 10^(9 + dec - scale), rounding a remainder up.
    let exp = 9 + dec - scale;
    if exp >= 0 {
        value = value
            .checked_mul(10i128.checked_pow(exp.unsigned_abs()).ok_or_else(too_big)?)
            .ok_or_else(too_big)?;
    } else {
        let div = 10i128.checked_pow(exp.unsigned_abs()).unwrap_or(i128::MAX);
        let rounded_up = value % div != 0;
        value = value / div + i128::from(rounded_up);
    }
    Ok(if negative { -value } else { value })
}

fn quantity_of(v: &Val) -> Option<Result<i128>> {
    match v {
        Val::Ext(e) => match &**e {
            Ext::Quantity { nanos, .. } => Some(Ok(*nanos)),
            _ => None,
        },
        Val::Int(i) => Some(
            i128::from(*i)
                .checked_mul(1_000_000_000)
                .ok_or_else(|| EvalError::Failed("quantity overflow".into())),
        ),
        _ => None,
    }
}

fn quantity_text(nanos: i128) -> String {
    // A canonical decimal form: whole units when exact, else milli- or nano-units.
    if nanos % 1_000_000_000 == 0 {
        (nanos / 1_000_000_000).to_string()
    } else if nanos % 1_000_000 == 0 {
        format!("{}m", nanos / 1_000_000)
    } else {
        format!("{nanos}n")
    }
}

#[allow(clippy::cast_precision_loss, reason = "asApproximateFloat is approximate by definition")]
fn quantity_method(nanos: i128, name: &str, args: &[Val]) -> Option<Result<Val>> {
    let q = |n: i128| ext(Ext::Quantity { nanos: n, text: quantity_text(n) });
    Some(match (name, args) {
        ("sign", []) => Ok(Val::Int(i64::from(nanos.signum() as i8))),
        ("isInteger", []) => Ok(Val::Bool(nanos % 1_000_000_000 == 0)),
        ("asInteger", []) => {
            if nanos % 1_000_000_000 != 0 {
                return Some(err("asInteger(): the quantity is not an integer"));
            }
            i64::try_from(nanos / 1_000_000_000)
                .map(Val::Int)
                .map_err(|_| EvalError::Failed("asInteger(): the quantity overflows int".into()))
        }
        ("asApproximateFloat", []) => Ok(Val::Double(nanos as f64 / 1e9)),
        ("isGreaterThan" | "isLessThan" | "compareTo" | "add" | "sub", [other]) => {
            let other = match quantity_of(other)? {
                Ok(o) => o,
                Err(e) => return Some(Err(e)),
            };
            match name {
                "isGreaterThan" => Ok(Val::Bool(nanos > other)),
                "isLessThan" => Ok(Val::Bool(nanos < other)),
                "compareTo" => Ok(Val::Int(match nanos.cmp(&other) {
                    std::cmp::Ordering::Less => -1,
                    std::cmp::Ordering::Equal => 0,
                    std::cmp::Ordering::Greater => 1,
                })),
                "add" => nanos
                    .checked_add(other)
                    .map(q)
                    .ok_or_else(|| EvalError::Failed("quantity overflow".into())),
                _ => nanos
                    .checked_sub(other)
                    .map(q)
                    .ok_or_else(|| EvalError::Failed("quantity overflow".into())),
            }
        }
        _ => return None,
    })
}

/// A URL as Go's `url.ParseRequestURI` splits it (an absolute URI, or an absolute path).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    text: String,
    scheme: String,
    /// Host with port (`example.com:80`, `[::1]:80`).
    host: String,
    /// Escaped path.
    path: String,
    query: String,
}

impl Url {
    fn hostname(&self) -> &str {
        if let Some(rest) = self.host.strip_prefix('[') {
            return rest.split(']').next().unwrap_or("");
        }
        self.host.rsplit_once(':').map_or(&self.host, |(h, _)| h)
    }

    fn port(&self) -> &str {
        if let Some(i) = self.host.rfind(']') {
            return self.host[i + 1..].strip_prefix(':').unwrap_or("");
        }
        self.host.rsplit_once(':').map_or("", |(_, p)| p)
    }

    fn query_map(&self) -> Val {
        let mut out: Vec<(Val, Vec<Val>)> = Vec::new();
        for pair in self.query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let (k, v) = (Val::string(&unescape(k)), Val::string(&unescape(v)));
            match out.iter_mut().find(|(k2, _)| *k2 == k) {
                Some((_, values)) => values.push(v),
                None => out.push((k, vec![v])),
            }
        }
        Val::Map(Rc::new(out.into_iter().map(|(k, v)| (k, Val::list(v))).collect()))
    }
}

fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_url(s: &str) -> Result<Url> {
    let bad = |why: &str| EvalError::Failed(format!("url(): `{s}` is not a valid URL: {why}"));
    if s.chars().any(|c| c.is_ascii_control() || c == ' ') {
        return Err(bad("it contains a space or control character"));
    }
    let (before_query, query) = s.split_once('?').unwrap_or((s, ""));
    let mut url = Url {
        text: s.into(),
        scheme: String::new(),
        host: String::new(),
        path: String::new(),
        query: query.into(),
    };
    if before_query.starts_with('/') {
        url.path = before_query.into();
        return Ok(url);
    }
    let Some((scheme, rest)) = before_query.split_once(':') else {
        return Err(bad("it is neither an absolute URI nor an absolute path"));
    };
    let valid_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !valid_scheme {
        return Err(bad("the scheme is invalid"));
    }
    url.scheme = scheme.into();
    if let Some(rest) = rest.strip_prefix("//") {
        let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        if host.starts_with('[') && !host.contains(']') {
            return Err(bad("an IPv6 host is missing `]`"));
        }
        url.host = host.into();
        url.path = path.into();
    } else {
        url.path = rest.into();
    }
    Ok(url)
}

/// An IP address as Kubernetes' `ip()` accepts it: no zone, no IPv4-mapped IPv6 form.
fn parse_ip(s: &str) -> Result<IpAddr> {
    let ip: IpAddr =
        s.parse().map_err(|_| EvalError::Failed(format!("ip(): `{s}` is not an IP address")))?;
    if let IpAddr::V6(v6) = ip {
        if v6.to_ipv4_mapped().is_some() {
            return err(format!("ip(): IPv4-mapped IPv6 address `{s}` is not allowed"));
        }
    }
    Ok(ip)
}

fn parse_cidr(s: &str) -> Result<(IpAddr, u8)> {
    let bad = || EvalError::Failed(format!("cidr(): `{s}` is not a CIDR like 10.0.0.0/8"));
    let (ip, prefix_text) = s.split_once('/').ok_or_else(bad)?;
    let ip = parse_ip(ip).map_err(|_| bad())?;
    let prefix: u8 = prefix_text.parse().map_err(|_| bad())?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    // No leading zeros or signs: the prefix must read back as written.
    if prefix > max || prefix_text != prefix.to_string() {
        return Err(bad());
    }
    Ok((ip, prefix))
}

fn bits(ip: IpAddr) -> (u128, u8) {
    match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    }
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    let (value, width) = bits(ip);
    let keep = if prefix == 0 { 0 } else { u128::MAX << (u32::from(width - prefix)) };
    let masked = value & keep;
    match ip {
        IpAddr::V4(_) => {
            IpAddr::V4(u32::try_from(masked & u128::from(u32::MAX)).unwrap_or(0).into())
        }
        IpAddr::V6(_) => IpAddr::V6(masked.into()),
    }
}

fn contains(net: IpAddr, prefix: u8, ip: IpAddr) -> bool {
    net.is_ipv4() == ip.is_ipv4() && mask(net, prefix) == mask(ip, prefix)
}

fn ip_method(ip: IpAddr, name: &str) -> Option<Result<Val>> {
    let b = |v: bool| Ok(Val::Bool(v));
    Some(match name {
        "family" => Ok(Val::Int(if ip.is_ipv4() { 4 } else { 6 })),
        "isUnspecified" => b(ip.is_unspecified()),
        "isLoopback" => b(ip.is_loopback()),
        "isLinkLocalMulticast" => b(match ip {
            IpAddr::V4(v4) => v4.octets()[..3] == [224, 0, 0],
            IpAddr::V6(v6) => v6.segments()[0] & 0xff0f == 0xff02,
        }),
        "isLinkLocalUnicast" => b(match ip {
            IpAddr::V4(v4) => v4.is_link_local(),
            IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
        }),
        "isGlobalUnicast" => b(match ip {
            IpAddr::V4(v4) => {
                !(v4.is_unspecified()
                    || v4.is_loopback()
                    || v4.is_multicast()
                    || v4.is_link_local()
                    || v4.is_broadcast())
            }
            IpAddr::V6(v6) => {
                !(v6.is_unspecified()
                    || v6.is_loopback()
                    || v6.is_multicast()
                    || v6.segments()[0] & 0xffc0 == 0xfe80)
            }
        }),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_exact() {
        assert_eq!(parse_quantity("500m"), Ok(500_000_000));
        assert_eq!(parse_quantity("1Gi"), Ok(1_073_741_824_000_000_000));
        assert_eq!(parse_quantity("1.5k"), Ok(1_500_000_000_000));
        assert_eq!(parse_quantity("1e3"), Ok(1_000_000_000_000));
        assert_eq!(parse_quantity("-2"), Ok(-2_000_000_000));
        assert_eq!(parse_quantity("0.1n"), Ok(1), "rounds up to a nano-unit");
        assert_eq!(parse_quantity("1Ei"), Ok((1i128 << 60) * 1_000_000_000));
        for bad in ["", "abc", "1Gb", "1K", "1..2", "--1", "."] {
            assert!(parse_quantity(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_split_like_go() {
        let u = parse_url("https://user@example.com:8443/a%20b/c?x=1&x=2&y").unwrap();
        assert_eq!((u.scheme.as_str(), u.host.as_str()), ("https", "example.com:8443"));
        assert_eq!((u.hostname(), u.port(), u.path.as_str()), ("example.com", "8443", "/a%20b/c"));
        let v6 = parse_url("http://[::1]:80/").unwrap();
        assert_eq!((v6.hostname(), v6.port()), ("::1", "80"));
        assert!(parse_url("/just/a/path").is_ok());
        assert!(parse_url("relative/path").is_err());
        assert!(parse_url("1http://x").is_err());
    }

    #[test]
    fn addresses_and_networks() {
        assert!(parse_ip("::ffff:1.2.3.4").is_err());
        assert!(parse_ip("10.0.0.1").is_ok());
        let (net, p) = parse_cidr("10.0.0.0/8").unwrap();
        assert!(contains(net, p, parse_ip("10.2.3.4").unwrap()));
        assert!(!contains(net, p, parse_ip("11.0.0.1").unwrap()));
        assert!(!contains(net, p, parse_ip("::1").unwrap()));
        assert_eq!(mask(parse_ip("192.168.1.7").unwrap(), 24).to_string(), "192.168.1.0");
        assert!(parse_cidr("10.0.0.0/33").is_err());
        assert!(parse_cidr("10.0.0.0/08").is_err());
    }
}
