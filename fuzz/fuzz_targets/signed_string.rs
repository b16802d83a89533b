//! Django's signed session strings: any text, under both salts, with and without a max age.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_core::codec::{SESSION_SALT, SIGNED_COOKIE_SALT, Secret, Signer};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for salt in [SESSION_SALT, SIGNED_COOKIE_SALT] {
        let signer = Signer::new(salt, &Secret::new("fuzz"), &[Secret::new("old")]);
        let _ = signer.unsign(&text, Some(1_209_600), chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap());
        if let Ok(map) = signer.unsign_map(&text, None, chrono::DateTime::UNIX_EPOCH) {
            let again = signer.sign_map(&map, chrono::DateTime::UNIX_EPOCH);
            assert_eq!(signer.unsign_map(&again, None, chrono::DateTime::UNIX_EPOCH).ok(), Some(map));
        }
    }
});
