//! Django's session `Set-Cookie` strings, byte for byte, and its `Cookie` header parser.
//!
//! Django writes `name=value` and then the present attributes sorted by their internal names:
//! `Domain`, `expires` (lowercase), `HttpOnly`, `Max-Age`, `Path`, `SameSite`, `Secure`.
//!
//! ```
//! use session_core::cookie::{deletion_cookie, session_cookie, CookieExpiry};
//! use session_core::expiry::from_unix_f64;
//! use session_core::CookieSettings;
//! let settings = CookieSettings::default();
//! let expiry = CookieExpiry::from_age(1_209_600, from_unix_f64(1_700_000_000.7));
//! assert_eq!(
//!     session_cookie(&settings, "67ma9o2ro51cjkh0hmflhbapetjtcpfi", Some(expiry)),
//!     "sessionid=67ma9o2ro51cjkh0hmflhbapetjtcpfi; expires=Tue, 28 Nov 2023 22:13:20 GMT; HttpOnly; Max-Age=1209600; Path=/; SameSite=Lax"
//! );
//! assert_eq!(
//!     deletion_cookie(&settings),
//!     r#"sessionid=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=Lax"#
//! );
//! ```

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};

use crate::settings::CookieSettings;

/// Browsers drop a cookie whose `Set-Cookie` line exceeds this many bytes.
pub const BROWSER_COOKIE_LIMIT: usize = 4096;

/// `Max-Age` and `expires` of a session cookie (absent for browser-session cookies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieExpiry {
    /// `Max-Age` (may be negative for an expiry in the past, as in Django).
    pub max_age: i64,
    /// The `expires` instant.
    pub expires: DateTime<Utc>,
}

impl CookieExpiry {
    /// Django's computation: `Max-Age = age`, `expires = now + age`.
    pub fn from_age(age: i64, now: DateTime<Utc>) -> CookieExpiry {
        CookieExpiry {
            max_age: age,
            // Saturates instead of panicking on absurd ages (they come from session data).
            expires: TimeDelta::try_seconds(age)
                .and_then(|d| now.checked_add_signed(d))
                .unwrap_or(if age < 0 {
                    DateTime::<Utc>::MIN_UTC
                } else {
                    DateTime::<Utc>::MAX_UTC
                }),
        }
    }
}

/// `Wdy, DD Mon YYYY HH:MM:SS GMT`, seconds truncated toward the past.
pub fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn is_legal(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~:".contains(c)
}

/// A cookie value as Python's `http.cookies` writes it: as is when every character is legal,
/// otherwise double-quoted with `\"`, `\\` and octal escapes.
pub fn quote_value(value: &str) -> String {
    if value.is_empty() {
        return "\"\"".into();
    }
    if value.chars().all(is_legal) {
        return value.to_owned();
    }
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ',' | ';' => out.push_str(&format!("\\{:03o}", c as u32)),
            c if (c as u32) < 32 || (127..=255).contains(&(c as u32)) => {
                out.push_str(&format!("\\{:03o}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn push_common(out: &mut String, settings: &CookieSettings) {
    if let Some(domain) = &settings.domain {
        out.push_str("; Domain=");
        out.push_str(domain);
    }
}

/// The session cookie Django's middleware sets after a save.
pub fn session_cookie(
    settings: &CookieSettings,
    value: &str,
    expiry: Option<CookieExpiry>,
) -> String {
    let mut out = format!("{}={}", settings.name, quote_value(value));
    push_common(&mut out, settings);
    if let Some(e) = expiry {
        out.push_str("; expires=");
        out.push_str(&http_date(e.expires));
    }
    if settings.httponly {
        out.push_str("; HttpOnly");
    }
    if let Some(e) = expiry {
        out.push_str(&format!("; Max-Age={}", e.max_age));
    }
    out.push_str("; Path=");
    out.push_str(&settings.path);
    if let Some(ss) = &settings.samesite {
        out.push_str("; SameSite=");
        out.push_str(ss.as_str());
    }
    if settings.secure {
        out.push_str("; Secure");
    }
    out
}

/// The cookie that deletes the session cookie: no `HttpOnly`; `Secure` only for
/// `SameSite=None` or a `__Secure-` / `__Host-` name (not from `SESSION_COOKIE_SECURE`).
pub fn deletion_cookie(settings: &CookieSettings) -> String {
    let mut out = format!("{}=\"\"", settings.name);
    push_common(&mut out, settings);
    out.push_str("; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=");
    out.push_str(&settings.path);
    if let Some(ss) = &settings.samesite {
        out.push_str("; SameSite=");
        out.push_str(ss.as_str());
    }
    let secure_name =
        settings.name.starts_with("__Secure-") || settings.name.starts_with("__Host-");
    if settings.samesite.as_ref().is_some_and(|s| s.is_none()) || secure_name {
        out.push_str("; Secure");
    }
    out
}

/// The longest `Set-Cookie` line a value can produce under these settings (with `expires`
/// and `Max-Age` present): what the signed-cookie engine checks against the browser limit.
pub fn longest_session_cookie_len(settings: &CookieSettings, value: &str, max_age: i64) -> usize {
    let expiry = CookieExpiry {
        max_age,
        expires: DateTime::<Utc>::UNIX_EPOCH,
    };
    session_cookie(settings, value, Some(expiry)).len()
}

/// Parses a `Cookie` header as Django does: split on `;`, split each chunk at the first `=`
/// (none: the whole chunk is the value of the empty name), trim, skip empty pairs, unquote,
/// and let the last occurrence of a name win.
pub fn parse_cookie_header(header: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for chunk in header.split(';') {
        let (name, value) = match chunk.split_once('=') {
            Some((n, v)) => (n.trim(), v.trim()),
            None => ("", chunk.trim()),
        };
        if name.is_empty() && value.is_empty() {
            continue;
        }
        out.insert(name.to_owned(), unquote(value));
    }
    out
}

/// Python's cookie unquoting: a value wrapped in double quotes loses them, and `\"`, `\\`
/// and `\ooo` octal escapes are resolved.
pub fn unquote(value: &str) -> String {
    let Some(inner) = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .filter(|_| value.len() >= 2)
    else {
        return value.to_owned();
    };
    let chars: Vec<char> = inner.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' && i + 1 < chars.len() {
            let octal: String = chars[i + 1..].iter().take(3).collect();
            if octal.len() == 3 && octal.chars().all(|c| ('0'..='7').contains(&c)) {
                if let Some(c) = u32::from_str_radix(&octal, 8).ok().and_then(char::from_u32) {
                    out.push(c);
                    i += 4;
                    continue;
                }
            }
            out.push(chars[i + 1]);
            i += 2;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expiry::from_unix_f64;
    use crate::settings::SameSite;

    #[test]
    fn djangos_examples() {
        let mut s = CookieSettings::default();
        assert_eq!(
            session_cookie(&s, "q5rorz1zup9mv0vjygoc72dbs9v9n2xm", None),
            "sessionid=q5rorz1zup9mv0vjygoc72dbs9v9n2xm; HttpOnly; Path=/; SameSite=Lax"
        );
        s.domain = Some(".example.com".into());
        s.path = "/app".into();
        s.secure = true;
        s.httponly = false;
        s.samesite = Some(SameSite::new("None").unwrap());
        let e = CookieExpiry::from_age(1_209_600, from_unix_f64(1_700_000_000.7));
        assert_eq!(
            session_cookie(&s, "k", Some(e)),
            "sessionid=k; Domain=.example.com; expires=Tue, 28 Nov 2023 22:13:20 GMT; Max-Age=1209600; Path=/app; SameSite=None; Secure"
        );
        assert_eq!(
            deletion_cookie(&s),
            r#"sessionid=""; Domain=.example.com; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/app; SameSite=None; Secure"#
        );
        let mut plain = CookieSettings {
            samesite: None,
            ..CookieSettings::default()
        };
        assert_eq!(
            session_cookie(&plain, "k", Some(e)),
            "sessionid=k; expires=Tue, 28 Nov 2023 22:13:20 GMT; HttpOnly; Max-Age=1209600; Path=/"
        );
        plain.name = "__Host-sid".into();
        assert!(deletion_cookie(&plain).ends_with("; Secure"));
    }

    #[test]
    fn parsing_last_duplicate_wins_and_unquotes() {
        let c =
            parse_cookie_header(r#"sessionid=first; a="x\"y\073z"; sessionid=second; novalue; ="#);
        assert_eq!(c["sessionid"], "second");
        assert_eq!(c["a"], "x\"y;z");
        assert_eq!(c[""], "novalue");
    }

    #[test]
    fn quoting_matches_python() {
        assert_eq!(quote_value("abc:._-"), "abc:._-");
        assert_eq!(quote_value("a b"), "\"a b\"");
        assert_eq!(quote_value("a;b,c\"d"), r#""a\073b\054c\"d""#);
    }
}
