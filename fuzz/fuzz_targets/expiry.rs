//! Expiry readers: ISO dates and `_session_expiry` values from session data, and every
//! computation the engines make from them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_core::Value;
use session_core::cookie::CookieExpiry;
use session_core::expiry::{ExpiryPolicy, StoredExpiry, from_unix_f64, parse_iso};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = parse_iso(&text);
    let now = from_unix_f64(1_800_000_000.0);
    let policy = ExpiryPolicy::default();
    for value in [
        Value::from_python_json(&text).ok(),
        Some(Value::from(text.to_string())),
    ]
    .into_iter()
    .flatten()
    {
        if let Ok(stored) = StoredExpiry::read(Some(&value)) {
            let age = policy.expiry_age(now, stored);
            let date = policy.expiry_date(now, stored);
            let _ = policy.is_expired(date, now);
            let _ = policy.custom_expiry_date(now, stored);
            let _ = CookieExpiry::from_age(age, now);
        }
    }
});
