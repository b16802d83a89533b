//! Django's encoded session string: JSON → zlib-if-it-pays → base64url → timestamped
//! HMAC-SHA256.
//!
//! ```text
//! [.]<base64url payload, unpadded> ":" <base62 unix seconds> ":" <43-char base64url HMAC>
//! ```
//!
//! The HMAC key is `SHA256(salt + "signer" + secret)`. Signing always uses the current
//! `SECRET_KEY`; verification tries it, then each of `SECRET_KEY_FALLBACKS`, comparing in
//! constant time.
//!
//! ```
//! use session_core::codec::{Secret, Signer, SESSION_SALT};
//! use session_core::value::{Map, Value};
//!
//! let signer = Signer::new(SESSION_SALT, &Secret::new("test-secret-key-for-vectors"), &[]);
//! let mut data = Map::new();
//! data.insert("a test key".into(), Value::from("a test value"));
//! let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
//! let encoded = signer.sign(&Value::Object(data.clone()), at);
//! assert_eq!(
//!     encoded,
//!     "eyJhIHRlc3Qga2V5IjoiYSB0ZXN0IHZhbHVlIn0:1r31eq:88d3WvSrdxeabN8aL-xuHwc1lhuMHgxjakLvdzHaGdI"
//! );
//! assert_eq!(signer.unsign(&encoded, None, at).unwrap(), Value::Object(data));
//! ```

use std::cell::RefCell;

use chrono::{DateTime, Utc};
use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::DecodeError;
use crate::value::{Map, Value};

/// Salt of server-side session data (db, cached_db, file): the store class `SessionStore`.
pub const SESSION_SALT: &str = "django.contrib.sessions.SessionStore";

/// Salt of the signed-cookie engine's cookie value.
pub const SIGNED_COOKIE_SALT: &str = "django.contrib.sessions.backends.signed_cookies";

/// Default bound on a decompressed payload (32 MiB).
pub const DEFAULT_MAX_DECOMPRESSED: usize = 32 * 1024 * 1024;

/// The salt Django uses for a session store class with this `__qualname__`
/// (`"SessionStore"` for every built-in engine; `"Outer.Inner"` for a nested class). A
/// third-party engine that shares sessions with a custom Django store class signs with it.
pub fn session_salt_for(store_class_qualname: &str) -> String {
    format!("django.contrib.sessions.{store_class_qualname}")
}

/// A signing secret (`SECRET_KEY` or one of `SECRET_KEY_FALLBACKS`). Its `Debug` output is
/// redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// A secret from text (UTF-8 encoded, as Django encodes a `str` secret).
    pub fn new(secret: impl AsRef<[u8]>) -> Secret {
        Secret(secret.as_ref().to_vec())
    }

    /// Whether the secret is empty (Django refuses to sign with an empty secret).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The raw bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Python's `urlsafe_b64decode` as Django calls it: padding restored, both alphabets read,
/// other characters skipped, trailing bits ignored.
const LENIENT_B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Signs and verifies encoded sessions for one salt with one secret and its fallbacks.
#[derive(Clone)]
pub struct Signer {
    /// Keyed HMAC states: index 0 is `SECRET_KEY`, the rest the fallbacks, in order.
    macs: Vec<Hmac<Sha256>>,
    max_decompressed: usize,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("secrets", &self.macs.len())
            .field("max_decompressed", &self.max_decompressed)
            .finish()
    }
}

/// `SHA256(salt + "signer" + secret)`, the HMAC key Django derives.
pub fn derive_key(salt: &str, secret: &Secret) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update(b"signer");
    h.update(&secret.0);
    h.finalize().into()
}

impl Signer {
    /// A signer for `salt`, signing with `secret` and also accepting `fallbacks`.
    pub fn new(salt: &str, secret: &Secret, fallbacks: &[Secret]) -> Signer {
        let macs = std::iter::once(secret)
            .chain(fallbacks)
            .map(|s| {
                Hmac::<Sha256>::new_from_slice(&derive_key(salt, s))
                    .expect("HMAC accepts keys of any length")
            })
            .collect();
        Signer {
            macs,
            max_decompressed: DEFAULT_MAX_DECOMPRESSED,
        }
    }

    /// Sets the bound on a decompressed payload; larger ones are rejected.
    pub fn with_max_decompressed(mut self, bytes: usize) -> Signer {
        self.max_decompressed = bytes;
        self
    }

    fn signature(&self, mac_index: usize, signed_part: &[u8]) -> String {
        let mut mac = self.macs[mac_index].clone();
        mac.update(signed_part);
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Encodes `value` as Django's `signing.dumps(value, salt, compress=True)`, signed at
    /// `at` (Django keeps whole seconds).
    pub fn sign(&self, value: &Value, at: DateTime<Utc>) -> String {
        self.sign_json(&value.to_python_json(), at.timestamp())
    }

    /// Encodes a whole session (an object), signed at `at`.
    ///
    /// ```
    /// use session_core::codec::{Secret, Signer, SESSION_SALT};
    /// use session_core::{Map, Value};
    /// let signer = Signer::new(SESSION_SALT, &Secret::new("django-insecure-secret"), &[]);
    /// let mut session = Map::new();
    /// session.insert("num_visits".into(), Value::from(3));
    /// let now = chrono::Utc::now();
    /// let stored = signer.sign_map(&session, now);      // what Django's session_data holds
    /// assert_eq!(signer.unsign_map(&stored, None, now).unwrap(), session);
    /// ```
    pub fn sign_map(&self, map: &Map, at: DateTime<Utc>) -> String {
        let mut json = String::with_capacity(64);
        crate::value::write_python_object(map, &mut json);
        self.sign_json(&json, at.timestamp())
    }

    fn sign_json(&self, json: &str, timestamp: i64) -> String {
        let raw = json.as_bytes();
        let compressed = compress_if_it_pays(raw);
        let mut out = String::with_capacity(raw.len() * 4 / 3 + 60);
        match &compressed {
            Some(z) => {
                out.push('.');
                URL_SAFE_NO_PAD.encode_string(z, &mut out);
            }
            None => URL_SAFE_NO_PAD.encode_string(raw, &mut out),
        }
        out.push(':');
        out.push_str(&base62_encode(timestamp));
        let sig = self.signature(0, out.as_bytes());
        out.push(':');
        out.push_str(&sig);
        out
    }

    /// Verifies and decodes like Django's `signing.loads`: signature first (current secret,
    /// then fallbacks), then the optional max age (`now - timestamp > max_age` is expired),
    /// then base64, zlib and JSON. Any JSON value is returned (Django does the same). `now`
    /// judges the max age.
    pub fn unsign(
        &self,
        encoded: &str,
        max_age: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<Value, DecodeError> {
        self.unsign_timestamped(encoded, max_age, now)
            .map(|(v, _)| v)
    }

    /// [`unsign`](Self::unsign), also returning the signing timestamp (Unix seconds).
    pub fn unsign_timestamped(
        &self,
        encoded: &str,
        max_age: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<(Value, i64), DecodeError> {
        let now = crate::expiry::to_unix_f64(now);
        let (signed_part, sig) = encoded.rsplit_once(':').ok_or(DecodeError::BadSignature)?;
        let verified = (0..self.macs.len()).any(|i| {
            let expected = self.signature(i, signed_part.as_bytes());
            bool::from(expected.as_bytes().ct_eq(sig.as_bytes()))
        });
        if !verified {
            return Err(DecodeError::BadSignature);
        }
        let (payload, ts) = signed_part
            .rsplit_once(':')
            .ok_or(DecodeError::Malformed("no timestamp"))?;
        let ts = base62_decode(ts).ok_or(DecodeError::Malformed("bad base62 timestamp"))?;
        if let Some(max_age) = max_age {
            let age = now - ts as f64;
            if age > max_age as f64 {
                return Err(DecodeError::Expired {
                    age_seconds: age,
                    max_age,
                });
            }
        }
        let (compressed, payload) = match payload.strip_prefix('.') {
            Some(p) => (true, p),
            None => (false, payload),
        };
        let bytes = lenient_b64_decode(payload).ok_or(DecodeError::Malformed("bad base64"))?;
        let bytes = if compressed {
            inflate_bounded(&bytes, self.max_decompressed)?
        } else {
            bytes
        };
        // Django decodes the bytes as Latin-1: each byte is one code point.
        let text: std::borrow::Cow<'_, str> = match std::str::from_utf8(&bytes) {
            Ok(s) if s.is_ascii() => s.into(),
            _ => bytes
                .iter()
                .map(|&b| char::from(b))
                .collect::<String>()
                .into(),
        };
        let value =
            Value::from_python_json(&text).map_err(|_| DecodeError::Malformed("bad JSON"))?;
        Ok((value, ts))
    }

    /// Decodes a whole session: an object, or an error when the value is anything else.
    pub fn unsign_map(
        &self,
        encoded: &str,
        max_age: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<Map, DecodeError> {
        match self.unsign(encoded, max_age, now)? {
            Value::Object(map) => Ok(map),
            _ => Err(DecodeError::Malformed("session data is not an object")),
        }
    }
}

/// Decodes a session as Django's `SessionBase.decode`: never fails. A bad signature logs a
/// warning on the target `django.security.SuspiciousSession` and gives an empty session;
/// any other corruption gives an empty session with a warning on `django.contrib.sessions`.
pub fn decode_or_empty(
    signer: &Signer,
    encoded: &str,
    max_age: Option<u64>,
    now: DateTime<Utc>,
) -> Map {
    match signer.unsign_map(encoded, max_age, now) {
        Ok(map) => map,
        Err(err) => {
            log_rejected(&err);
            Map::new()
        }
    }
}

/// Logs a rejected session string the way Django does (never its content).
pub fn log_rejected(err: &DecodeError) {
    if err.is_suspicious() {
        tracing::warn!(target: "django.security.SuspiciousSession", reason = %err, "Session data corrupted");
    } else {
        // Django is silent here; an operator wants to know that stored data is unreadable.
        tracing::warn!(target: "django.contrib.sessions", reason = %err, "unreadable session data treated as empty");
    }
}

thread_local! {
    /// zlib's deflate state is ~256 KiB; building it per session dominated small encodes, so
    /// each thread keeps one and resets it (the output is identical to a fresh one).
    static DEFLATE: RefCell<Compress> = RefCell::new(Compress::new(Compression::new(6), true));
}

fn compress_if_it_pays(raw: &[u8]) -> Option<Vec<u8>> {
    // Django keeps the compressed form only when it is at least 2 bytes shorter, so a buffer
    // of len - 2 bytes is all that can ever be useful: running out of room means "keep raw".
    let budget = raw.len().checked_sub(2)?;
    DEFLATE.with(|cell| {
        let mut z = cell.borrow_mut();
        z.reset();
        let mut out = Vec::with_capacity(budget);
        match z.compress_vec(raw, &mut out, FlushCompress::Finish) {
            Ok(Status::StreamEnd) => Some(out),
            _ => None,
        }
    })
}

thread_local! {
    /// The inflate state (with its 32 KiB window), kept per thread like the deflate state.
    static INFLATE: RefCell<Decompress> = RefCell::new(Decompress::new(true));
}

fn inflate_bounded(z: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    INFLATE.with(|cell| {
        let mut d = cell.borrow_mut();
        d.reset(true);
        let mut out = Vec::with_capacity((z.len() * 4).min(limit.saturating_add(1)).max(64));
        loop {
            let consumed = usize::try_from(d.total_in()).unwrap_or(usize::MAX);
            let status = d
                .decompress_vec(
                    &z[consumed.min(z.len())..],
                    &mut out,
                    FlushDecompress::Finish,
                )
                .map_err(|_| DecodeError::Malformed("bad zlib stream"))?;
            if out.len() > limit {
                return Err(DecodeError::TooLarge { limit });
            }
            match status {
                Status::StreamEnd => return Ok(out),
                _ if out.len() == out.capacity() => {
                    // Grow, but never past the bound (+1 to detect overflow).
                    let room = (out.capacity() * 2).min(limit.saturating_add(1));
                    if room <= out.capacity() {
                        return Err(DecodeError::TooLarge { limit });
                    }
                    out.reserve_exact(room - out.len());
                }
                _ => return Err(DecodeError::Malformed("truncated zlib stream")),
            }
        }
    })
}

/// [`LENIENT_B64`] on the URL-safe alphabet: the fast path for a payload made only of it
/// (every payload Django or this crate writes).
const LENIENT_URL_B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn lenient_b64_decode(payload: &str) -> Option<Vec<u8>> {
    if payload
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return LENIENT_URL_B64.decode(payload).ok();
    }
    lenient_b64_decode_any(payload)
}

/// Python's rule for any text: `-_` read as `+/`, other characters outside the alphabet
/// skipped.
fn lenient_b64_decode_any(payload: &str) -> Option<Vec<u8>> {
    let cleaned: Vec<u8> = payload
        .bytes()
        .filter_map(|b| match b {
            b'-' => Some(b'+'),
            b'_' => Some(b'/'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' => Some(b),
            _ => None,
        })
        .collect();
    LENIENT_B64.decode(cleaned).ok()
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Base62 with Django's alphabet (`0-9A-Za-z`), most significant digit first.
///
/// ```
/// assert_eq!(session_core::codec::base62_encode(1_700_000_000), "1r31eq");
/// assert_eq!(session_core::codec::base62_decode("10"), Some(62));
/// ```
pub fn base62_encode(n: i64) -> String {
    let mut digits = Vec::new();
    let mut v = n.unsigned_abs();
    loop {
        digits.push(BASE62[(v % 62) as usize]);
        v /= 62;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        digits.push(b'-');
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

/// Inverse of [`base62_encode`]; `None` for an empty string or a foreign character.
pub fn base62_decode(s: &str) -> Option<i64> {
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None if s.is_empty() => return None,
        None => (false, s),
    };
    let mut v: i64 = 0;
    for b in digits.bytes() {
        let d = i64::try_from(BASE62.iter().position(|c| *c == b)?).ok()?;
        v = v.checked_mul(62)?.checked_add(d)?;
    }
    Some(if negative { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base62_matches_django() {
        assert_eq!(base62_encode(0), "0");
        assert_eq!(base62_encode(61), "z");
        assert_eq!(base62_encode(62), "10");
        assert_eq!(base62_encode(-1), "-1");
        assert_eq!(base62_decode("1r31eq"), Some(1_700_000_000));
        assert_eq!(base62_decode(""), None);
        assert_eq!(base62_decode("!!"), None);
        assert_eq!(base62_decode("-"), Some(0));
    }

    #[test]
    fn derived_keys_match_the_reference() {
        let secret = Secret::new("test-secret-key-for-vectors");
        let hex = |k: [u8; 32]| k.iter().map(|b| format!("{b:02x}")).collect::<String>();
        assert_eq!(
            hex(derive_key(SESSION_SALT, &secret)),
            "5f1233b323d122a8661900822ffc8de1eee5a07b9e62bc69d6ddfcad0b1bf9a2"
        );
        assert_eq!(
            hex(derive_key(SIGNED_COOKIE_SALT, &secret)),
            "a7f0404a28adfa425a2fc4c709ca00708c7ee4e4d79e87cac3e2e6b262c2adb3"
        );
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
        let signer = Signer::new(SESSION_SALT, &s, &[]);
        assert!(!format!("{signer:?}").contains("hunter2"));
    }

    #[test]
    fn base64_fast_path_reads_as_pythons_rule() {
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut seed = 0x9e37_79b9_u32;
        for len in 0..48 {
            for _ in 0..20 {
                let text: String = (0..len)
                    .map(|_| {
                        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                        char::from(alphabet[(seed >> 16) as usize % alphabet.len()])
                    })
                    .collect();
                assert_eq!(
                    lenient_b64_decode(&text),
                    lenient_b64_decode_any(&text),
                    "{text:?}"
                );
            }
        }
        assert_eq!(lenient_b64_decode("e3-_"), lenient_b64_decode_any("e3+/"));
        assert_eq!(lenient_b64_decode("e3 0"), Some(b"{}".to_vec()));
    }

    #[test]
    fn decompression_is_bounded() {
        let signer = Signer::new(SESSION_SALT, &Secret::new("k"), &[]).with_max_decompressed(1000);
        let big = Value::from("x".repeat(5000));
        let encoded = signer.sign(&big, DateTime::UNIX_EPOCH);
        assert!(encoded.starts_with('.'));
        assert_eq!(
            signer.unsign(&encoded, None, DateTime::UNIX_EPOCH),
            Err(DecodeError::TooLarge { limit: 1000 })
        );
    }
}
