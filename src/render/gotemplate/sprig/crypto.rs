//! Sprig's deterministic cryptography: `derivePassword` (the Master Password algorithm, v3:
//! scrypt and HMAC-SHA256) and `decryptAES` (AES-256-CBC, as sprig writes it), and the
//! encryption `encryptAES` undoes ([`encrypt_aes`]; its random IV is Helm's side, see
//! `render::helm::funcs`).
//!
//! `derivePassword` runs scrypt with N = 32768, r = 8, p = 2: 32 MiB of memory and about a
//! tenth of a second per call, as in Helm. Results are kept per thread (the releases of one
//! chart derive the same passwords); each distinct call counts as [`DERIVE_STEPS`] steps of the
//! execution's budget, once, so that a template cannot loop over it for hours.

use std::hash::BuildHasher as _;

use aes::cipher::{BlockModeDecrypt as _, BlockModeEncrypt as _, KeyIvInit as _};
use hmac::{KeyInit as _, Mac as _};

use super::{arity, text, wrong, Result};
use crate::render::gotemplate::exec::Funcs;
use crate::render::gotemplate::value::Value;

/// The steps one derivation counts as: a hundred to an execution (ten seconds or so).
pub const DERIVE_STEPS: u64 = crate::render::gotemplate::exec::MAX_STEPS / 100;

/// How many derived passwords a thread keeps.
const KEPT: usize = 256;

/// [`derive_password`], kept per thread by its arguments (the cost counted by the caller).
fn derive_kept(args: (u32, &str, &str, &str, &str)) -> String {
    type Key = (u32, String, String, String, String);
    thread_local! {
        static KEPT_PASSWORDS: std::cell::RefCell<Vec<(Key, String)>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }
    let (counter, kind, password, user, site) = args;
    let key: Key = (counter, kind.into(), password.into(), user.into(), site.into());
    let kept =
        KEPT_PASSWORDS.with(|k| k.borrow().iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone()));
    if let Some(derived) = kept {
        return derived;
    }
    let derived = derive_password(counter, kind, password, user, site);
    KEPT_PASSWORDS.with(|k| {
        let mut k = k.borrow_mut();
        if k.len() >= KEPT {
            k.remove(0);
        }
        k.push((key, derived.clone()));
    });
    derived
}

pub(super) fn register(f: &mut Funcs) {
    f.insert("derivePassword", |exec, a| {
        arity(a, 5, "derivePassword")?;
        let counter = match &a[0] {
            Value::Int(n) => u32::try_from(*n).map_err(|_| format!("{n} overflows uint32"))?,
            other => return Err(wrong("uint32", other)),
        };
        let [kind, password, user, site] = [&a[1], &a[2], &a[3], &a[4]].map(text);
        let args = (counter, kind?, password?, user?, site?);
        // Counted once per execution and distinct arguments, whether or not the thread kept
        // the result: whether a template fails must not depend on what ran before it.
        exec.charge_once(foldhash::quality::FixedState::default().hash_one(args), DERIVE_STEPS)?;
        Ok(Value::string(&derive_kept(args)))
    });
    f.insert("decryptAES", |_, a| {
        arity(a, 2, "decryptAES")?;
        decrypt_aes(text(&a[0])?, text(&a[1])?).map(|s| Value::string(&s))
    });
}

/// The Master Password algorithm's name for itself, the start of both of its salts.
const SCOPE: &[u8] = b"com.lyndir.masterpassword";

/// The templates of each password type: one is chosen by the first byte of the site's seed.
fn templates(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "maximum" => &["anoxxxxxxxxxxxxxxxxx", "axxxxxxxxxxxxxxxxxno"],
        "long" => &[
            "CvcvnoCvcvCvcv",
            "CvcvCvcvnoCvcv",
            "CvcvCvcvCvcvno",
            "CvccnoCvcvCvcv",
            "CvccCvcvnoCvcv",
            "CvccCvcvCvcvno",
            "CvcvnoCvccCvcv",
            "CvcvCvccnoCvcv",
            "CvcvCvccCvcvno",
            "CvcvnoCvcvCvcc",
            "CvcvCvcvnoCvcc",
            "CvcvCvcvCvccno",
            "CvccnoCvccCvcv",
            "CvccCvccnoCvcv",
            "CvccCvccCvcvno",
            "CvcvnoCvccCvcc",
            "CvcvCvccnoCvcc",
            "CvcvCvccCvccno",
            "CvccnoCvcvCvcc",
            "CvccCvcvnoCvcc",
            "CvccCvcvCvccno",
        ],
        "medium" => &["CvcnoCvc", "CvcCvcno"],
        "short" => &["Cvcn"],
        "basic" => &["aaanaaan", "aannaaan", "aaannaaa"],
        "pin" => &["nnnn"],
        _ => return None,
    })
}

/// The characters a template's letter stands for.
fn class(letter: u8) -> &'static [u8] {
    match letter {
        b'V' => b"AEIOU",
        b'C' => b"BCDFGHJKLMNPQRSTVWXYZ",
        b'v' => b"aeiou",
        b'c' => b"bcdfghjklmnpqrstvwxyz",
        b'A' => b"AEIOUBCDFGHJKLMNPQRSTVWXYZ",
        b'a' => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz",
        b'n' => b"0123456789",
        b'o' => b"@&%?,=[]_:-+*$#!'^~;()/.",
        _ => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789!@#$%^&*()",
    }
}

/// A scope followed by a length-prefixed (big-endian `u32`) name.
fn salted(name: &str) -> Vec<u8> {
    let mut out = SCOPE.to_vec();
    out.extend_from_slice(&(name.len() as u32).to_be_bytes());
    out.extend_from_slice(name.as_bytes());
    out
}

/// sprig's `derivePassword`: the site password of the Master Password algorithm (an unknown
/// password type gives sprig's message as the result, not an error).
#[must_use]
pub fn derive_password(counter: u32, kind: &str, password: &str, user: &str, site: &str) -> String {
    let Some(templates) = templates(kind) else {
        return format!("cannot find password template {kind}");
    };
    let mut key = [0u8; 64];
    let Ok(params) = scrypt::Params::new(15, 8, 2) else { return String::new() };
    if scrypt::scrypt(password.as_bytes(), &salted(user), &params, &mut key).is_err() {
        return String::new();
    }
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key) else {
        return String::new();
    };
    let mut message = salted(site);
    message.extend_from_slice(&counter.to_be_bytes());
    mac.update(&message);
    let seed = mac.finalize().into_bytes();
    let template = templates[usize::from(seed[0]) % templates.len()];
    template
        .bytes()
        .zip(&seed[1..])
        .map(|(letter, &n)| {
            let chars = class(letter);
            char::from(chars[usize::from(n) % chars.len()])
        })
        .collect()
}

type Aes256CbcEnc = cbc::Encryptor<aes::Aes256>;
type Aes256CbcDec = cbc::Decryptor<aes::Aes256>;

/// A password as sprig makes it an AES-256 key: its first 32 bytes, padded with zeros.
fn key(password: &str) -> [u8; 32] {
    let mut key = [0u8; 32];
    let n = password.len().min(32);
    key[..n].copy_from_slice(&password.as_bytes()[..n]);
    key
}

/// sprig's `encryptAES` with the given IV: PKCS #7 padding, AES-256-CBC, the IV and the cipher
/// text in base64 (empty text stays empty).
#[must_use]
pub fn encrypt_aes(password: &str, plaintext: &str, iv: [u8; 16]) -> String {
    if plaintext.is_empty() {
        return String::new();
    }
    let pad = 16 - plaintext.len() % 16;
    let mut content = plaintext.as_bytes().to_vec();
    content.resize(plaintext.len() + pad, pad as u8);
    let mut blocks: Vec<aes::Block> =
        content.chunks_exact(16).map(|c| aes::Block::try_from(c).unwrap_or_default()).collect();
    Aes256CbcEnc::new(&key(password).into(), &iv.into()).encrypt_blocks(&mut blocks);
    let mut out = iv.to_vec();
    out.extend(blocks.iter().flat_map(|b| b.iter().copied()));
    crate::base64::encode(&out)
}

/// Base64 as Go's `StdEncoding` reads it: line breaks skipped, whole groups of four, `=` only
/// as the padding of the last, nothing outside the alphabet; else Go's error (its positions
/// count the line breaks).
fn strict_base64(text: &str) -> Result<Vec<u8>> {
    let kept: Vec<(usize, u8)> =
        text.bytes().enumerate().filter(|(_, b)| !matches!(b, b'\r' | b'\n')).collect();
    let alphabet = |b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'/';
    let padding = kept.iter().rev().take_while(|&&(_, b)| b == b'=').count();
    let data = kept.len() - padding;
    // Outside the alphabet, `=` inside the text, more than two, or not whole groups.
    let bad = kept
        .iter()
        .position(|&(_, b)| !alphabet(b) && b != b'=')
        .or_else(|| kept[..data].iter().position(|&(_, b)| b == b'='))
        .or_else(|| (padding > 2 || !kept.len().is_multiple_of(4)).then_some(data));
    if let Some(at) = bad {
        let byte = kept.get(at).map_or(text.len(), |&(i, _)| i);
        return Err(format!("illegal base64 data at input byte {byte}"));
    }
    let clean: String = kept.iter().map(|&(_, b)| char::from(b)).collect();
    crate::base64::decode(&clean).ok_or_else(|| "illegal base64 data at input byte 0".into())
}

/// sprig's `decryptAES`: what [`encrypt_aes`] encrypted. What Go panics on (too short, not
/// whole blocks, a padding longer than the text) is an error; as in sprig, the padding is
/// not checked further.
pub fn decrypt_aes(password: &str, crypt64: &str) -> Result<String> {
    if crypt64.is_empty() {
        return Ok(String::new());
    }
    let crypt = strict_base64(crypt64)?;
    if crypt.len() < 16 {
        // Go's buffer holds what the text's length (line breaks counted) could decode to: the
        // IV is cut from it, and the cipher text after it then from what was decoded.
        let capacity = crypt64.len() / 4 * 3;
        return Err(if capacity < 16 {
            format!("runtime error: slice bounds out of range [:16] with capacity {capacity}")
        } else {
            format!("runtime error: slice bounds out of range [16:{}]", crypt.len())
        });
    }
    let (iv, body) = crypt.split_at(16);
    if body.is_empty() {
        // Go reads the padding length from the last byte of nothing.
        return Err("runtime error: index out of range [-1]".into());
    }
    if body.len() % 16 != 0 {
        return Err("crypto/cipher: input not full blocks".into());
    }
    let mut blocks: Vec<aes::Block> =
        body.chunks_exact(16).map(|c| aes::Block::try_from(c).unwrap_or_default()).collect();
    let iv: [u8; 16] = iv.try_into().unwrap_or_default();
    Aes256CbcDec::new(&key(password).into(), &iv.into()).decrypt_blocks(&mut blocks);
    let plain: Vec<u8> = blocks.iter().flat_map(|b| b.iter().copied()).collect();
    let Some(&pad) = plain.last() else { return Ok(String::new()) };
    let kept = plain.len().checked_sub(usize::from(pad)).ok_or_else(|| {
        format!("runtime error: slice bounds out of range [:-{}]", usize::from(pad) - plain.len())
    })?;
    // Go gives the bytes as they are; a template value is text, so bytes that are not UTF-8
    // (a wrong key) are an error here rather than replaced.
    String::from_utf8(plain[..kept].to_vec())
        .map_err(|_| "the decrypted text is not UTF-8 (a wrong key?)".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_passwords_are_the_master_password_algorithms() {
        // The algorithm's published test vector (user "user", password "password", site
        // "example.com", counter 1), as sprig's tests give it for each type.
        let derive = |kind| derive_password(1, kind, "password", "user", "example.com");
        assert_eq!(derive("long"), "ZedaFaxcZaso9*");
        assert_eq!(derive("pin"), "6685");
        assert_eq!(derive("nope"), "cannot find password template nope");
    }

    #[test]
    fn aes_round_trips_and_bad_cipher_text_is_an_error() {
        let iv = [7u8; 16];
        for text in ["plaintext", "exactly sixteen!", "ü", ""] {
            let crypt = encrypt_aes("secretkey", text, iv);
            assert_eq!(decrypt_aes("secretkey", &crypt).unwrap(), text);
        }
        // Whole blocks of padding: 16 bytes of text give 32 of cipher text after the IV.
        let crypt = crate::base64::decode(&encrypt_aes("k", "exactly sixteen!", iv)).unwrap();
        assert_eq!((crypt.len(), &crypt[..16]), (48, &iv[..]));
        // A key longer than 32 bytes is cut at 32, as sprig cuts it.
        let long = "k".repeat(40);
        let crypt = encrypt_aes(&long, "x", iv);
        assert_eq!(decrypt_aes(&"k".repeat(32), &crypt).unwrap(), "x");
        assert!(decrypt_aes("k", "c2hvcnQ=").unwrap_err().contains("slice bounds"));
        let iv_only = crate::base64::encode(&[0u8; 16]);
        assert!(decrypt_aes("k", &iv_only).unwrap_err().contains("index out of range [-1]"));
        let other_key = encrypt_aes("right", "some text that is long enough", iv);
        // A wrong key: the padding it decrypts to is longer than the text (Go panics), or the
        // text is not UTF-8.
        assert!(decrypt_aes("wrong", &other_key).is_err());
        assert_eq!(
            decrypt_aes("wrong", &other_key).unwrap_err(),
            "runtime error: slice bounds out of range [:-4]"
        );
        assert_eq!(
            decrypt_aes("w3", &other_key).unwrap_err(),
            "the decrypted text is not UTF-8 (a wrong key?)"
        );
        assert!(decrypt_aes("k", "%%%").is_err());
        // Base64 as Go reads it: padding required, nothing after it; line breaks ignored.
        let crypt = encrypt_aes("k", "x", iv);
        let unpadded = crypt.trim_end_matches('=');
        assert!(decrypt_aes("k", unpadded).unwrap_err().contains("illegal base64 data"));
        assert!(decrypt_aes("k", &format!("{crypt}=junk!")).is_err());
        let wrapped = format!("{}\r\n{}", &crypt[..8], &crypt[8..]);
        assert_eq!(decrypt_aes("k", &wrapped).unwrap(), "x");
        // Positions and buffer sizes count the line breaks, as Go's do.
        assert_eq!(decrypt_aes("k", "\n\n%").unwrap_err(), "illegal base64 data at input byte 2");
        let short = format!("c2hvcnQ={}", "\n".repeat(16));
        assert_eq!(
            decrypt_aes("k", &short).unwrap_err(),
            "runtime error: slice bounds out of range [16:5]"
        );
        assert_eq!(
            decrypt_aes("k", "c2hvcnQ=").unwrap_err(),
            "runtime error: slice bounds out of range [:16] with capacity 6"
        );
        let ragged = crate::base64::encode(&[0u8; 20]);
        assert!(decrypt_aes("k", &ragged).unwrap_err().contains("full blocks"));
    }
}
