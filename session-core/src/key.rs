//! Session keys: generation and validation exactly as Django does them.

use rand::Rng;
use rand::rngs::OsRng;

/// The 36 characters session keys are made of (lowercase so case-insensitive file systems
/// are safe).
pub const KEY_ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// Length of a generated key (≈ 165 bits of entropy).
pub const KEY_LENGTH: usize = 32;

/// Shortest key Django accepts; anything shorter (or empty) means "no key".
pub const MIN_KEY_LENGTH: usize = 8;

/// A fresh key: 32 characters drawn uniformly from [`KEY_ALPHABET`] by the OS CSPRNG.
///
/// ```
/// let key = session_core::key::generate_key();
/// assert_eq!(key.len(), 32);
/// assert!(session_core::key::is_file_safe(&key));
/// ```
pub fn generate_key() -> String {
    random_string(KEY_LENGTH, KEY_ALPHABET)
}

/// Django's `get_random_string`: `length` characters drawn uniformly from the ASCII `alphabet`
/// by the OS CSPRNG.
///
/// ```
/// let s = session_core::key::random_string(50, b"ab");
/// assert_eq!(s.len(), 50);
/// assert!(s.bytes().all(|b| b == b'a' || b == b'b'));
/// ```
pub fn random_string(length: usize, alphabet: &[u8]) -> String {
    let mut rng = OsRng;
    (0..length)
        .map(|_| char::from(alphabet[rng.gen_range(0..alphabet.len())]))
        .collect()
}

/// Django's check on every key assignment: at least 8 characters (Python counts code points).
pub fn is_valid_key(key: &str) -> bool {
    key.chars().count() >= MIN_KEY_LENGTH
}

/// The key to keep for a raw cookie value: `None` when Django would treat it as no key.
pub fn validated_key(raw: Option<&str>) -> Option<String> {
    raw.filter(|k| is_valid_key(k)).map(str::to_owned)
}

/// Whether every character is in [`KEY_ALPHABET`] — the file engine's guard that keeps a key
/// from naming a path outside its directory (Django's `InvalidSessionKey`).
pub fn is_file_safe(key: &str) -> bool {
    key.bytes().all(|b| KEY_ALPHABET.contains(&b))
}

/// The longest key any engine accepts (Django's `session_key` column is `varchar(40)`).
pub const MAX_KEY_LENGTH: usize = 40;

/// Whether a server-side engine may look `key` up: 8 to 40 characters of `[a-z0-9]`, the
/// only keys Django (and this crate) ever generate. Every engine answers "no such session"
/// for any other key before touching storage, so hostile keys never reach a query, a path
/// or a cache command, and databases that compare case-insensitively (MariaDB) cannot match
/// an uppercased key to a real session.
///
/// ```
/// use session_core::key::{generate_key, is_acceptable_key};
/// assert!(is_acceptable_key(&generate_key()));
/// assert!(!is_acceptable_key("ABCDEFGH12345678"));
/// assert!(!is_acceptable_key("../../etc/passwd"));
/// ```
pub fn is_acceptable_key(key: &str) -> bool {
    (MIN_KEY_LENGTH..=MAX_KEY_LENGTH).contains(&key.len()) && is_file_safe(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_differ_and_use_the_alphabet() {
        let a = generate_key();
        let b = generate_key();
        assert_ne!(a, b);
        assert!(is_valid_key(&a) && is_file_safe(&a));
    }

    #[test]
    fn all_alphabet_characters_appear() {
        let mut seen = [false; 36];
        for _ in 0..200 {
            for b in generate_key().bytes() {
                seen[KEY_ALPHABET.iter().position(|c| *c == b).unwrap()] = true;
            }
        }
        assert!(seen.iter().all(|s| *s));
    }
}
