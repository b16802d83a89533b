//! Django's `test_decode_failure_logged_to_security` and `test_decode_serializer_exception`:
//! a bad signature is one warning on `django.security.SuspiciousSession`; a valid signature
//! over an undecodable payload is an empty session without that warning. Neither panics.

use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use session_core::codec::{SESSION_SALT, Secret, Signer, decode_or_empty};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture<T>(f: impl FnOnce() -> T) -> (T, String) {
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_target(true)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let r = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    (r, text)
}

#[test]
fn bad_signatures_warn_on_the_security_logger() {
    let signer = Signer::new(SESSION_SALT, &Secret::new("k"), &[]);
    let no_colon = base64::engine::general_purpose::STANDARD.encode("flaskdj:alkdjf");
    for input in [no_colon.as_str(), "bad:encoded:value"] {
        let (data, log) =
            capture(|| decode_or_empty(&signer, input, None, chrono::DateTime::UNIX_EPOCH));
        assert!(data.is_empty());
        assert_eq!(log.matches("Session data corrupted").count(), 1, "{log}");
        assert!(log.contains("django.security.SuspiciousSession"), "{log}");
        assert!(!log.contains(input), "the rejected value is not logged");
    }
}

#[test]
fn undecodable_payload_with_valid_signature_is_empty_without_warning() {
    let signer = Signer::new(SESSION_SALT, &Secret::new("k"), &[]);
    // What Django's test signs: the textual form of a Python bytes object, not base64 JSON.
    let tampered = {
        let signed_part = "b'hello':1vbVSP";
        let key = session_core::codec::derive_key(SESSION_SALT, &Secret::new("k"));
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
        mac.update(signed_part.as_bytes());
        let sig =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{signed_part}:{sig}")
    };
    let (data, log) =
        capture(|| decode_or_empty(&signer, &tampered, None, chrono::DateTime::UNIX_EPOCH));
    assert!(data.is_empty());
    assert!(!log.contains("Session data corrupted"), "{log}");
}
