//! Kyverno's time, hashing, image and version functions (kyverno-compat.md, section 10).
//! Times are RFC 3339; layouts are Go reference layouts (`2006-01-02T15:04:05Z07:00`).

use std::fmt::Write as _;

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use super::{EvalError, EvalResult};

fn err<T>(msg: impl Into<String>) -> Result<T, EvalError> {
    Err(EvalError::Other(msg.into()))
}

fn text<'a>(name: &str, v: &'a Value) -> Result<&'a str, EvalError> {
    v.as_str().ok_or_else(|| EvalError::Other(format!("{name}: expected a string")))
}

fn want(name: &str, args: &[Value], n: usize) -> Result<(), EvalError> {
    if args.len() == n {
        Ok(())
    } else {
        err(format!("{name}: expected {n} arguments, got {}", args.len()))
    }
}

/// Runs one of these functions, or `None` when the name is not one of them.
pub(super) fn call(name: &str, args: &[Value]) -> Option<EvalResult> {
    let r = match name {
        "sha256" | "sha1" | "md5" => hash(name, args),
        "time_now" | "time_now_utc" => {
            want(name, args, 0).map(|()| Value::String(rfc3339(Timestamp::now())))
        }
        "time_parse" => time_parse(args),
        "time_utc" => want(name, args, 1)
            .and_then(|()| parse_time(text(name, &args[0])?))
            .map(|t| Value::String(rfc3339(t))),
        "time_add" => time_add(args),
        "time_diff" => want(name, args, 2).and_then(|()| {
            let (a, b) = (parse_time(text(name, &args[0])?)?, parse_time(text(name, &args[1])?)?);
            Ok(Value::String(go_duration(b.duration_since(a))))
        }),
        "time_since" => time_since(args),
        "time_before" | "time_after" => want(name, args, 2).and_then(|()| {
            let (a, b) = (parse_time(text(name, &args[0])?)?, parse_time(text(name, &args[1])?)?);
            Ok(Value::Bool(if name == "time_before" { a < b } else { a > b }))
        }),
        "time_between" => want(name, args, 3).and_then(|()| {
            let t = parse_time(text(name, &args[0])?)?;
            let (start, end) =
                (parse_time(text(name, &args[1])?)?, parse_time(text(name, &args[2])?)?);
            Ok(Value::Bool(t > start && t < end))
        }),
        "time_truncate" => want(name, args, 2).and_then(|()| {
            let t = parse_time(text(name, &args[0])?)?;
            let d = duration(text(name, &args[1])?)?.as_nanos();
            if d <= 0 {
                return err("time_truncate: the duration must be positive");
            }
            let ns = t.as_nanosecond();
            let truncated = Timestamp::from_nanosecond(ns - ns.rem_euclid(d))
                .map_err(|e| EvalError::Other(e.to_string()))?;
            Ok(Value::String(rfc3339(truncated)))
        }),
        "time_to_cron" => want(name, args, 1).and_then(|()| {
            let t = parse_time(text(name, &args[0])?)?.to_zoned(jiff::tz::TimeZone::UTC);
            Ok(Value::String(format!(
                "{} {} {} {} {}",
                t.minute(),
                t.hour(),
                t.day(),
                t.month(),
                t.weekday().to_sunday_zero_offset()
            )))
        }),
        "semver_compare" => want(name, args, 2)
            .and_then(|()| semver_compare(text(name, &args[0])?, text(name, &args[1])?)),
        "path_canonicalize" => want(name, args, 1)
            .map(|()| Value::String(crate::gopath::clean(args[0].as_str().unwrap_or("")))),
        "image_normalize" => want(name, args, 1)
            .and_then(|()| Ok(Value::String(normalize_image(text(name, &args[0])?)))),
        "random" => {
            err("random: a random value would make linting irreproducible; it is not supported")
        }
        "x509_decode" => want(name, args, 1).and_then(|()| x509_decode(text(name, &args[0])?)),
        _ => return None,
    };
    Some(r)
}

fn hash(name: &str, args: &[Value]) -> EvalResult {
    use sha2::Digest;
    want(name, args, 1)?;
    let input = text(name, &args[0])?.as_bytes();
    let bytes: Vec<u8> = match name {
        "sha256" => sha2::Sha256::digest(input).to_vec(),
        "sha1" => sha1::Sha1::digest(input).to_vec(),
        _ => md5::Md5::digest(input).to_vec(),
    };
    Ok(Value::String(bytes.iter().fold(String::new(), |mut acc, b| {
        let _ = write!(acc, "{b:02x}");
        acc
    })))
}

fn rfc3339(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn parse_time(s: &str) -> Result<Timestamp, EvalError> {
    s.parse::<Timestamp>().map_err(|e| EvalError::Other(format!("cannot parse time `{s}`: {e}")))
}

fn duration(s: &str) -> Result<SignedDuration, EvalError> {
    let ns = crate::engine::kyverno::quantity::parse_duration(s)
        .ok_or_else(|| EvalError::Other(format!("cannot parse duration `{s}`")))?;
    Ok(SignedDuration::from_nanos(ns as i64))
}

/// Formats a duration as Go does: `26h3m0s`, `1.5s`, `300ms`.
fn go_duration(d: SignedDuration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    let sign = if ns < 0 { "-" } else { "" };
    let ns = ns.unsigned_abs();
    if ns < 1_000_000_000 {
        let (v, unit) = if ns < 1_000 {
            (ns as f64, "ns")
        } else if ns < 1_000_000 {
            (ns as f64 / 1e3, "µs")
        } else {
            (ns as f64 / 1e6, "ms")
        };
        return format!("{sign}{v}{unit}");
    }
    let hours = ns / 3_600_000_000_000;
    let minutes = ns / 60_000_000_000 % 60;
    let secs = (ns % 60_000_000_000) as f64 / 1e9;
    let mut out = String::from(sign);
    if hours > 0 {
        let _ = write!(out, "{hours}h");
    }
    if hours > 0 || minutes > 0 {
        let _ = write!(out, "{minutes}m");
    }
    let _ = write!(out, "{secs}s");
    out
}

fn parse_with_layout(layout: &str, value: &str) -> Result<Timestamp, EvalError> {
    if layout.is_empty() {
        return parse_time(value);
    }
    let format = crate::gotime::strftime(layout);
    if let Ok(z) = jiff::fmt::strtime::parse(&format, value).and_then(|p| p.to_timestamp()) {
        return Ok(z);
    }
    jiff::fmt::strtime::parse(&format, value)
        .and_then(|p| p.to_datetime())
        .and_then(|dt| dt.to_zoned(jiff::tz::TimeZone::UTC))
        .map(|z| z.timestamp())
        .map_err(|e| {
            EvalError::Other(format!("cannot parse `{value}` with layout `{layout}`: {e}"))
        })
}

fn time_parse(args: &[Value]) -> EvalResult {
    want("time_parse", args, 2)?;
    let t = parse_with_layout(text("time_parse", &args[0])?, text("time_parse", &args[1])?)?;
    Ok(Value::String(rfc3339(t)))
}

fn time_add(args: &[Value]) -> EvalResult {
    want("time_add", args, 2)?;
    let t = parse_time(text("time_add", &args[0])?)?;
    let d = duration(text("time_add", &args[1])?)?;
    let sum = t.checked_add(d).map_err(|e| EvalError::Other(e.to_string()))?;
    Ok(Value::String(rfc3339(sum)))
}

fn time_since(args: &[Value]) -> EvalResult {
    want("time_since", args, 3)?;
    let layout = text("time_since", &args[0])?;
    let t1 = parse_with_layout(layout, text("time_since", &args[1])?)?;
    let t2 = match text("time_since", &args[2])? {
        "" => Timestamp::now(),
        s => parse_with_layout(layout, s)?,
    };
    Ok(Value::String(go_duration(t2.duration_since(t1))))
}

/// `x509_decode(pem)`: a certificate (`CERTIFICATE`) or certificate signing request
/// (`CERTIFICATE REQUEST`) as the fields of Go's `x509.Certificate` / `x509.CertificateRequest`
/// that policies read (Subject, Issuer, validity, SANs, CA flags, key algorithm), with the RSA
/// public key as `PublicKey: {N, E}`. As in Kyverno, the key must be RSA. The serial number and
/// `N` are decimal strings (JSON numbers cannot hold them).
fn x509_decode(pem: &str) -> EvalResult {
    use x509_parser::prelude::*;
    let fail = |what: String| EvalError::Other(format!("x509_decode: {what}"));
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.trim().as_bytes())
        .map_err(|e| fail(format!("failed to decode PEM block: {e}")))?;
    let time =
        |t: &ASN1Time| Timestamp::from_second(t.timestamp()).map(rfc3339).unwrap_or_default();
    match block.label.as_str() {
        "CERTIFICATE" => {
            let cert = block.parse_x509().map_err(|e| fail(format!("invalid certificate: {e}")))?;
            let public_key = rsa_public_key(cert.public_key()).map_err(fail)?;
            let sans = cert.subject_alternative_name().ok().flatten();
            let constraints = cert.basic_constraints().ok().flatten();
            let fields = serde_json::json!({
                "Version": cert.version().0 + 1,
                "SerialNumber": cert.serial.to_str_radix(10),
                "Subject": x509_name(cert.subject()),
                "Issuer": x509_name(cert.issuer()),
                "NotBefore": time(&cert.validity().not_before),
                "NotAfter": time(&cert.validity().not_after),
                "IsCA": constraints.as_ref().is_some_and(|c| c.value.ca),
                "BasicConstraintsValid": constraints.is_some(),
                "MaxPathLen": constraints.as_ref().and_then(|c| c.value.path_len_constraint).map_or(-1, i64::from),
            });
            Ok(with_names_and_key(fields, sans.map(|s| s.value), public_key))
        }
        "CERTIFICATE REQUEST" => {
            let (_, csr) = X509CertificationRequest::from_der(&block.contents)
                .map_err(|e| fail(format!("invalid certificate request: {e}")))?;
            let info = &csr.certification_request_info;
            let public_key = rsa_public_key(&info.subject_pki).map_err(fail)?;
            let sans = csr.requested_extensions().and_then(|mut extensions| {
                extensions.find_map(|e| match e {
                    ParsedExtension::SubjectAlternativeName(san) => Some(san),
                    _ => None,
                })
            });
            let fields = serde_json::json!({
                "Version": info.version.0,
                "Subject": x509_name(&info.subject),
            });
            Ok(with_names_and_key(fields, sans, public_key))
        }
        _ => Err(fail("PEM block neither contains a CERTIFICATE or CERTIFICATE REQUEST".into())),
    }
}

/// A distinguished name as the fields of Go's `pkix.Name` that policies read.
fn x509_name(n: &x509_parser::x509::X509Name<'_>) -> Value {
    use x509_parser::x509::AttributeTypeAndValue;
    let strings = |it: &mut dyn Iterator<Item = &AttributeTypeAndValue<'_>>| -> Vec<String> {
        it.filter_map(|a| a.as_str().ok().map(String::from)).collect()
    };
    serde_json::json!({
        "CommonName": n.iter_common_name().next().and_then(|a| a.as_str().ok()).unwrap_or(""),
        "Country": strings(&mut n.iter_country()),
        "Organization": strings(&mut n.iter_organization()),
        "OrganizationalUnit": strings(&mut n.iter_organizational_unit()),
        "Locality": strings(&mut n.iter_locality()),
        "Province": strings(&mut n.iter_state_or_province()),
    })
}

/// The fields a certificate and a signing request share, added to the others: the subject
/// alternative names (`DNSNames`, `EmailAddresses`, `IPAddresses`, `URIs`) and the RSA key.
fn with_names_and_key(
    mut fields: Value,
    san: Option<&x509_parser::extensions::SubjectAlternativeName<'_>>,
    public_key: Value,
) -> Value {
    let (dns, emails, ips, uris) = alternative_names(san);
    if let Some(map) = fields.as_object_mut() {
        map.insert("DNSNames".into(), dns.into());
        map.insert("EmailAddresses".into(), emails.into());
        map.insert("IPAddresses".into(), ips.into());
        map.insert("URIs".into(), uris.into());
        map.insert("PublicKeyAlgorithm".into(), 1.into());
        map.insert("PublicKey".into(), public_key);
    }
    fields
}

/// (DNS names, email addresses, IP addresses, URIs) of a subject alternative name extension.
type AlternativeNames = (Vec<String>, Vec<String>, Vec<String>, Vec<String>);

fn alternative_names(
    san: Option<&x509_parser::extensions::SubjectAlternativeName<'_>>,
) -> AlternativeNames {
    use x509_parser::extensions::GeneralName;
    let (mut dns, mut emails, mut ips, mut uris) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for g in san.iter().flat_map(|s| &s.general_names) {
        match g {
            GeneralName::DNSName(d) => dns.push((*d).to_string()),
            GeneralName::RFC822Name(e) => emails.push((*e).to_string()),
            GeneralName::URI(u) => uris.push((*u).to_string()),
            GeneralName::IPAddress(b) => ips.push(match b.len() {
                4 => std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string(),
                16 => <[u8; 16]>::try_from(*b)
                    .map(std::net::Ipv6Addr::from)
                    .map(|a| a.to_string())
                    .unwrap_or_default(),
                _ => String::new(),
            }),
            _ => {}
        }
    }
    (dns, emails, ips, uris)
}

/// `{N, E}` of an RSA public key (`N` in decimal), or why there is none: Kyverno decodes only
/// certificates whose key is RSA.
fn rsa_public_key(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> Result<Value, String> {
    use x509_parser::public_key::PublicKey;
    match spki.parsed() {
        Ok(PublicKey::RSA(key)) => {
            let exponent = key.try_exponent().map_err(|e| format!("invalid RSA exponent: {e}"))?;
            Ok(serde_json::json!({"N": decimal(key.modulus), "E": exponent}))
        }
        Ok(_) => Err("certificate should use rsa algorithm".into()),
        Err(e) => Err(format!("failed to parse subject public key info: {e}")),
    }
}

/// An unsigned big-endian integer in decimal.
fn decimal(bytes: &[u8]) -> String {
    // Repeated division by 10^9 of a base-2^32 number.
    let mut limbs: Vec<u32> = Vec::with_capacity(bytes.len() / 4 + 1);
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    let bytes = &bytes[skip..];
    let head = bytes.len() % 4;
    if head > 0 {
        limbs.push(bytes[..head].iter().fold(0, |acc, &b| (acc << 8) | u32::from(b)));
    }
    for chunk in bytes[head..].chunks(4) {
        limbs.push(chunk.iter().fold(0, |acc, &b| (acc << 8) | u32::from(b)));
    }
    let mut groups = Vec::new();
    while limbs.iter().any(|&l| l != 0) {
        let mut remainder = 0u64;
        for limb in &mut limbs {
            let value = (remainder << 32) | u64::from(*limb);
            *limb = u32::try_from(value / 1_000_000_000).unwrap_or(u32::MAX);
            remainder = value % 1_000_000_000;
        }
        groups.push(remainder);
        while limbs.first() == Some(&0) {
            limbs.remove(0);
        }
    }
    let Some((last, rest)) = groups.split_last() else { return "0".into() };
    rest.iter().rev().fold(last.to_string(), |mut out, g| {
        let _ = write!(out, "{g:09}");
        out
    })
}

/// A fully qualified image reference: registry, `library/` for Docker Hub images, and a tag.
fn normalize_image(image: &str) -> String {
    crate::image::ImageRef::split(image).to_string()
}

/// `semver_compare(version, range)`: blang/semver's strict parse and ranges
/// (`>1.0.0 <2.0.0 || =3.0.0`, `1.2.x`). As in Kyverno, a version that does not parse is
/// 0.0.0; a range that does not parse is an error.
fn semver_compare(version: &str, range: &str) -> EvalResult {
    use crate::engine::kyverno::semver::{Range, Version};
    let range = Range::parse(range)
        .map_err(|e| EvalError::Other(format!("semver_compare: bad range `{range}`: {e}")))?;
    Ok(Value::Bool(range.contains(&Version::parse(version).unwrap_or_default())))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    /// Evaluates with the default limits.
    fn search(expression: &str, data: &Value) -> super::super::EvalResult {
        super::super::search(expression, data, &crate::limits::Limits::default())
    }
    use serde_json::json;

    #[test]
    fn time_functions() {
        let d = json!({});
        assert_eq!(
            search("time_add('2024-01-01T00:00:00Z', '1h30m')", &d),
            Ok(json!("2024-01-01T01:30:00Z"))
        );
        assert_eq!(
            search("time_diff('2024-01-01T00:00:00Z', '2024-01-02T02:03:00Z')", &d),
            Ok(json!("26h3m0s"))
        );
        assert_eq!(
            search("time_since('', '2024-01-01T00:00:00Z', '2024-01-01T00:00:01.5Z')", &d),
            Ok(json!("1.5s"))
        );
        assert_eq!(
            search("time_since('2006-01-02', '2024-01-01', '2024-01-03')", &d),
            Ok(json!("48h0m0s"))
        );
        assert_eq!(
            search("time_parse('2006-01-02T15:04:05Z07:00', '2024-03-05T10:00:00+02:00')", &d),
            Ok(json!("2024-03-05T08:00:00Z"))
        );
        assert_eq!(
            search("time_utc('2024-03-05T10:00:00+02:00')", &d),
            Ok(json!("2024-03-05T08:00:00Z"))
        );
        assert_eq!(
            search("time_before('2024-01-01T00:00:00Z', '2024-01-02T00:00:00Z')", &d),
            Ok(json!(true))
        );
        assert_eq!(
            search("time_after('2024-01-01T00:00:00Z', '2024-01-02T00:00:00Z')", &d),
            Ok(json!(false))
        );
        assert_eq!(search("time_between('2024-01-02T00:00:00Z', '2024-01-01T00:00:00Z', '2024-01-03T00:00:00Z')", &d), Ok(json!(true)));
        assert_eq!(
            search("time_truncate('2024-01-01T10:47:13Z', '1h')", &d),
            Ok(json!("2024-01-01T10:00:00Z"))
        );
        assert_eq!(search("time_to_cron('2024-01-07T10:47:00Z')", &d), Ok(json!("47 10 7 1 0")));
        assert!(search("time_now_utc()", &d).unwrap().as_str().unwrap().ends_with('Z'));
        assert!(search("time_add('yesterday', '1h')", &d).is_err());
    }

    /// A self-signed ECDSA certificate made with openssl for this test.
    /// An ECDSA certificate (Kyverno decodes RSA ones only).
    const EC_CERT: &str = "-----BEGIN CERTIFICATE-----
MIICGzCCAcGgAwIBAgIUJ5Wf2HnHPQzE6rEn/EK25V5Rpy4wCgYIKoZIzj0EAwIw
RjELMAkGA1UEBhMCREUxFjAUBgNVBAoMDW10ay1saW50IHRlc3QxHzAdBgNVBAMM
FndlYi50ZWFtLWEuZXhhbXBsZS5jb20wHhcNMjYxMTIyMjE1ODMxWhcNMzYxMTE5
MjE1ODMxWjBGMQswCQYDVQQGEwJERTEWMBQGA1UECgwNbXRrLWxpbnQgdGVzdDEf
MB0GA1UEAwwWd2ViLnRlYW0tYS5leGFtcGxlLmNvbTBZMBMGByqGSM49AgEGCCqG
SM49AwEHA0IABFvQyJVM4SniuNdek17O4V1GnotF04auvICr13bpa/kayUPDiYLG
zy2iBnZ6CF+l7bqAFtZIIlDLKGLVlMwW0AmjgYwwgYkwHQYDVR0OBBYEFAWEwdN+
RAT3oMJ2XH5P6bTiyo/qMB8GA1UdIwQYMBaAFAWEwdN+RAT3oMJ2XH5P6bTiyo/q
MDkGA1UdEQQyMDCCFndlYi50ZWFtLWEuZXhhbXBsZS5jb22CFmFwaS50ZWFtLWEu
ZXhhbXBsZS5jb20wDAYDVR0TAQH/BAIwADAKBggqhkjOPQQDAgNIADBFAiAk5RAn
yNwc0xXeBH3NQBXJ9jCgdqUC26wqW0xPRZHx5wIhAJTqw2U2fDHCgEYsMFLY8hgq
Ao+X/aRJCMBhRUWWNgG+
-----END CERTIFICATE-----
";

    /// An RSA certificate and a signing request for the same 1024-bit key (made with openssl
    /// for these tests).
    const RSA_CERT: &str = "-----BEGIN CERTIFICATE-----
MIICkTCCAfqgAwIBAgIUeuPwityWvYSvrrT9yNFcHzQ3LvIwDQYJKoZIhvcNAQEL
BQAwRjELMAkGA1UEBhMCREUxFjAUBgNVBAoMDW10ay1saW50IHRlc3QxHzAdBgNV
BAMMFnJzYS50ZWFtLWEuZXhhbXBsZS5jb20wHhcNMjYxMTMwMTMyMzM0WhcNMzYx
MTI3MTMyMzM0WjBGMQswCQYDVQQGEwJERTEWMBQGA1UECgwNbXRrLWxpbnQgdGVz
dDEfMB0GA1UEAwwWcnNhLnRlYW0tYS5leGFtcGxlLmNvbTCBnzANBgkqhkiG9w0B
AQEFAAOBjQAwgYkCgYEAtWSYfI6CrJX/r/OYXGpb5XA+P40pnELQrOth6uAnraex
r9aO2lE/OCmOw7HX5HPqAZjohh+pF2jm5xba1PicTH0G7wXD3S/4/vAa473VpM/H
xfvbLezAe5i4rYi8xomnQAn8Hnp4tadDagKBdch14s4bHKtj1bt6Lr0CNhekcOkC
AwEAAaN8MHowHQYDVR0OBBYEFMMxBYNxtxfEfsktXBJHWymQNFZzMB8GA1UdIwQY
MBaAFMMxBYNxtxfEfsktXBJHWymQNFZzMA8GA1UdEwEB/wQFMAMBAf8wJwYDVR0R
BCAwHoIWcnNhLnRlYW0tYS5leGFtcGxlLmNvbYcECgAAATANBgkqhkiG9w0BAQsF
AAOBgQASsSCHn6BdvsUU1J1g69Ylm6AKW+SnfEi63B6KXj6H9DlLwBwuVWlV0lmL
YNjn/sGBwwlgDBr09+V2C6eLRfW43qGWfme5uazOMdesMv3LBW9RHWEWPniO+TEG
CGZi7Ai5v3mOWQbd3roUNeyQBXi30AnK6IbZFoJTPDbmueZ0lA==
-----END CERTIFICATE-----";
    const RSA_CSR: &str = "-----BEGIN CERTIFICATE REQUEST-----
MIIBrTCCARYCAQAwOTEWMBQGA1UECgwNbXRrLWxpbnQgdGVzdDEfMB0GA1UEAwwW
Y3NyLnRlYW0tYS5leGFtcGxlLmNvbTCBnzANBgkqhkiG9w0BAQEFAAOBjQAwgYkC
gYEAtWSYfI6CrJX/r/OYXGpb5XA+P40pnELQrOth6uAnraexr9aO2lE/OCmOw7HX
5HPqAZjohh+pF2jm5xba1PicTH0G7wXD3S/4/vAa473VpM/HxfvbLezAe5i4rYi8
xomnQAn8Hnp4tadDagKBdch14s4bHKtj1bt6Lr0CNhekcOkCAwEAAaA0MDIGCSqG
SIb3DQEJDjElMCMwIQYDVR0RBBowGIIWY3NyLnRlYW0tYS5leGFtcGxlLmNvbTAN
BgkqhkiG9w0BAQsFAAOBgQCs4GIr1Endsxk9hE7rX2ZkrsEmNc31Hj9w2Z2tKQnP
D/vQJw7pVMKAFFk5SaXXdcr/KgxmPNMqRkm0reLgaomB5cfkgt/I4pR/dUsEU+47
tqRPLhqPb80JhskQO2Y9m1kgZ3c2piIADlI99k57meevxDyVTo5PHApu+YsTFT5W
kw==
-----END CERTIFICATE REQUEST-----";
    const MODULUS: &str = "127378462535754952375280861078046410143955887560490928951834003871551281368482729485792732458534913938023540288312855983956924801245494446987925130491268912395288355579583031221693523518782664328634160979703042358131463215067219065395285928606721239415240439010113851277398890795421241998512358479336155934953";

    #[test]
    fn x509_certificates_decode() {
        let d = json!({"pem": RSA_CERT});
        let c = search("x509_decode(pem)", &d).unwrap();
        assert_eq!(c["Subject"]["CommonName"], "rsa.team-a.example.com");
        assert_eq!(c["Subject"]["Organization"], json!(["mtk-lint test"]));
        assert_eq!(c["Issuer"]["Country"], json!(["DE"]));
        assert_eq!(c["DNSNames"], json!(["rsa.team-a.example.com"]));
        assert_eq!(c["IPAddresses"], json!(["10.0.0.1"]));
        assert_eq!(
            (c["IsCA"].as_bool(), c["BasicConstraintsValid"].as_bool()),
            (Some(true), Some(true))
        );
        assert_eq!(
            (c["NotBefore"].as_str(), c["NotAfter"].as_str()),
            (Some("2026-11-30T13:23:34Z"), Some("2036-11-27T13:23:34Z"))
        );
        assert_eq!((c["Version"].as_u64(), c["PublicKeyAlgorithm"].as_u64()), (Some(3), Some(1)));
        assert_eq!(c["PublicKey"], json!({"N": MODULUS, "E": 65537}));
        // A signing request decodes too, with its requested names and key.
        let r = search("x509_decode(pem)", &json!({"pem": RSA_CSR})).unwrap();
        assert_eq!(r["Subject"]["CommonName"], "csr.team-a.example.com");
        assert_eq!(r["DNSNames"], json!(["csr.team-a.example.com"]));
        assert_eq!(r["PublicKey"], json!({"N": MODULUS, "E": 65537}));
        assert_eq!(
            search("x509_decode(pem).PublicKey.E", &json!({"pem": RSA_CSR})),
            Ok(json!(65537))
        );
        // As in Kyverno, only RSA keys decode.
        let e = search("x509_decode(pem)", &json!({"pem": EC_CERT})).unwrap_err();
        assert!(e.to_string().contains("certificate should use rsa algorithm"), "{e}");
        let e = search("x509_decode('not pem')", &d).unwrap_err();
        assert!(e.to_string().contains("failed to decode PEM block"), "{e}");
        assert_eq!(super::decimal(&[0, 1, 0]), "256");
        assert_eq!(super::decimal(&[]), "0");
    }

    #[test]
    fn hashes_paths_images_versions() {
        let d = json!({});
        assert_eq!(
            search("sha256('abc')", &d),
            Ok(json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"))
        );
        assert_eq!(
            search("sha1('abc')", &d),
            Ok(json!("a9993e364706816aba3e25717850c26c9cd0d89d"))
        );
        assert_eq!(search("md5('abc')", &d), Ok(json!("900150983cd24fb0d6963f7d28e17f72")));
        assert_eq!(search("path_canonicalize('/a/./b/../c//d')", &d), Ok(json!("/a/c/d")));
        assert_eq!(
            search("image_normalize('nginx')", &d),
            Ok(json!("docker.io/library/nginx:latest"))
        );
        assert_eq!(
            search("image_normalize('ghcr.io/org/app:v1')", &d),
            Ok(json!("ghcr.io/org/app:v1"))
        );
        assert_eq!(search("semver_compare('1.2.3', '>1.0.0 <2.0.0')", &d), Ok(json!(true)));
        assert_eq!(
            search("semver_compare('2.5.0', '>1.0.0 <2.0.0 || >=3.0.0')", &d),
            Ok(json!(false))
        );
        assert_eq!(search("semver_compare('1.0.0-rc.1', '>=1.0.0')", &d), Ok(json!(false)));
        assert_eq!(search("semver_compare('latest', '<1.0.0')", &d), Ok(json!(true)));
        assert!(search("semver_compare('1.0.0', '~1.0')", &d).is_err());
        assert!(search("random('[a-z]{5}')", &d).is_err());
        assert!(search("x509_decode('x')", &d)
            .unwrap_err()
            .to_string()
            .contains("failed to decode PEM block"));
    }
}
