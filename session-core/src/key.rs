//! Session keys: generation and validation exactly as Django does them.

use rand::{Rng, RngCore};

/// The 36 characters session keys are made of (lowercase so case-insensitive file systems
/// are safe).
pub const KEY_ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// Length of a generated key (≈ 165 bits of entropy).
pub const KEY_LENGTH: usize = 32;

/// Shortest key Django accepts; anything shorter (or empty) means "no key".
pub const MIN_KEY_LENGTH: usize = 8;

/// A fresh key: 32 characters drawn uniformly from [`KEY_ALPHABET`] by a CSPRNG (see
/// [`random_string`]).
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
/// by a cryptographically secure generator: `rand`'s `ThreadRng` (ChaCha12 keyed from the
/// operating system's CSPRNG, rekeyed from it every 64 KiB of output and after `fork`),
/// 64 bytes at a time; rejection sampling keeps every character equally likely. Django
/// reads the OS generator for every key (`secrets`); a userspace ChaCha keyed from it is as
/// unpredictable and saves a system call per key.
///
/// ```
/// let s = session_core::key::random_string(50, b"ab");
/// assert_eq!(s.len(), 50);
/// assert!(s.bytes().all(|b| b == b'a' || b == b'b'));
/// ```
pub fn random_string(length: usize, alphabet: &[u8]) -> String {
    let n = alphabet.len();
    let mut out = String::with_capacity(length);
    if n == 0 || n > 256 {
        let mut rng = rand::thread_rng();
        return (0..length)
            .map(|_| char::from(alphabet[rng.gen_range(0..n)]))
            .collect();
    }
    // Bytes below the largest multiple of n map uniformly onto the alphabet; the rest are
    // drawn again.
    let limit = 256 - 256 % n;
    let mut buf = [0u8; 64];
    let mut rng = rand::thread_rng();
    while out.len() < length {
        rng.fill_bytes(&mut buf);
        for &b in buf.iter().filter(|b| usize::from(**b) < limit) {
            out.push(char::from(alphabet[usize::from(b) % n]));
            if out.len() == length {
                break;
            }
        }
    }
    out
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
    key.bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
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
    fn file_safe_is_exactly_the_alphabet() {
        for b in 0..=255u8 {
            let one = [b; 8];
            let text = String::from_utf8_lossy(&one);
            assert_eq!(is_file_safe(&text), KEY_ALPHABET.contains(&b), "byte {b}");
        }
    }

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

    #[test]
    fn characters_are_uniform_and_lengths_exact() {
        // 640 000 characters over 36: each count within 3 % of the mean (~23 σ apart from
        // the bias a plain `byte % 36` would give the first four characters: +14 %).
        let mut counts = [0u32; 36];
        for _ in 0..20_000 {
            for b in generate_key().bytes() {
                counts[KEY_ALPHABET.iter().position(|c| *c == b).unwrap()] += 1;
            }
        }
        let mean = 640_000.0 / 36.0;
        for (i, c) in counts.iter().enumerate() {
            let dev = (f64::from(*c) - mean).abs() / mean;
            assert!(
                dev < 0.03,
                "{} appears {c} times ({dev:.3} off)",
                KEY_ALPHABET[i] as char
            );
        }
        let any = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@#$%^&*(-_=+)";
        for len in [0, 1, 50, 1000] {
            let s = random_string(len, any);
            assert_eq!(s.len(), len);
            assert!(s.bytes().all(|b| any.contains(&b)));
        }
    }
}
