//! Expiry: what `set_expiry` stores under `_session_expiry`, and the clock.
//!
//! Django keeps a custom expiry inside the session data: an integer number of seconds of
//! inactivity (`0` = expire when the browser closes) or an absolute instant as an ISO-8601
//! string (`2026-01-16T03:04:05.500000+00:00`). Absent means the global policy.

use std::fmt;
use std::sync::{Arc, Mutex};

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Timelike, Utc,
};

use crate::value::Value;

/// The session-data key holding a custom expiry.
pub const EXPIRY_KEY: &str = "_session_expiry";

/// A source of "now". Inject a [`ManualClock`] in tests so nothing sleeps.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The system wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to; clones share the same time.
///
/// ```
/// use session_core::expiry::{Clock, ManualClock};
/// let clock = ManualClock::at_unix(1_700_000_000.5);
/// clock.advance_secs(10);
/// assert_eq!(clock.now().timestamp(), 1_700_000_010);
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    /// A clock stopped at `at`.
    pub fn new(at: DateTime<Utc>) -> ManualClock {
        ManualClock(Arc::new(Mutex::new(at)))
    }

    /// A clock stopped at a Unix time in (fractional) seconds.
    pub fn at_unix(seconds: f64) -> ManualClock {
        ManualClock::new(from_unix_f64(seconds))
    }

    /// Moves the clock to `at`.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }

    /// Moves the clock forward (or back, for negative values) by whole seconds.
    pub fn advance_secs(&self, seconds: i64) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t += TimeDelta::seconds(seconds);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A Unix time in fractional seconds as an instant (microsecond precision).
pub fn from_unix_f64(seconds: f64) -> DateTime<Utc> {
    let micros = (seconds * 1_000_000.0).round();
    // A float-to-int `as` saturates (never wraps); an out-of-range instant becomes the epoch.
    #[allow(clippy::cast_possible_truncation)]
    let micros = micros as i64;
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

/// An instant as fractional Unix seconds.
pub fn to_unix_f64(t: DateTime<Utc>) -> f64 {
    t.timestamp_micros() as f64 / 1_000_000.0
}

/// What to pass to `Session::set_expiry`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Expiry {
    /// Remove any custom expiry: the global policy applies (`set_expiry(None)`).
    Default,
    /// Expire after this many seconds of inactivity; `0` means at browser close.
    Seconds(i64),
    /// Expire when the browser closes (`set_expiry(0)`).
    BrowserClose,
    /// Expire at this instant (stored as an ISO string).
    At(DateTime<Utc>),
    /// Expire this long from now (stored as the resulting ISO string).
    After(TimeDelta),
}

/// A custom expiry as read back from session data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StoredExpiry {
    /// No custom expiry (absent, `null`, `0`, `false`, `""`): the global policy.
    Policy,
    /// Seconds of inactivity (a non-zero number; Django also stores floats verbatim).
    Seconds(f64),
    /// An absolute instant.
    At(DateTime<Utc>),
}

/// The largest custom expiry in seconds (about 3,170 years) a session may carry. Anything
/// larger, or not finite, cannot come from Django's `set_expiry` in practice and would take
/// date arithmetic out of range: the session is treated as unreadable data.
pub const MAX_EXPIRY_SECONDS: f64 = 1e11;

/// A `_session_expiry` value that cannot be used (not finite, or beyond
/// [`MAX_EXPIRY_SECONDS`]): the session holding it is treated as unreadable.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("_session_expiry is out of range")]
pub struct InvalidExpiry;

impl StoredExpiry {
    /// Interprets the value stored under `_session_expiry` as Django does; a number that is
    /// not finite or beyond [`MAX_EXPIRY_SECONDS`] is [`InvalidExpiry`].
    pub fn read(value: Option<&Value>) -> Result<StoredExpiry, InvalidExpiry> {
        let Some(value) = value.filter(|v| v.is_truthy()) else {
            return Ok(StoredExpiry::Policy);
        };
        Ok(match value {
            Value::String(s) => match parse_iso(s) {
                Some(t) => StoredExpiry::At(t),
                None => {
                    tracing::warn!(target: "django.contrib.sessions", "unreadable _session_expiry; using the default expiry");
                    StoredExpiry::Policy
                }
            },
            Value::Number(n) => {
                let s = n.as_f64();
                if !s.is_finite() || s.abs() > MAX_EXPIRY_SECONDS {
                    return Err(InvalidExpiry);
                }
                StoredExpiry::Seconds(s)
            }
            Value::Bool(true) => StoredExpiry::Seconds(1.0),
            _ => StoredExpiry::Policy,
        })
    }

    /// The custom expiry of a session's data (see [`read`](Self::read)).
    pub fn of(data: &crate::value::Map) -> Result<StoredExpiry, InvalidExpiry> {
        Self::read(data.get(EXPIRY_KEY))
    }
}

/// Django's expiry rules, in one place: every engine and the [`Session`](crate::Session)
/// compute ages and dates through this type, so a change of rule is made once.
///
/// ```
/// use session_core::expiry::{ExpiryPolicy, StoredExpiry, from_unix_f64};
/// let policy = ExpiryPolicy::default(); // SESSION_COOKIE_AGE = two weeks
/// let now = from_unix_f64(1_700_000_000.0);
/// assert_eq!(policy.expiry_age(now, StoredExpiry::Policy), 1_209_600);
/// assert_eq!(policy.expiry_age(now, StoredExpiry::Seconds(60.0)), 60);
/// assert!(policy.is_expired(from_unix_f64(1_700_000_000.9), now)); // < 1 s left
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpiryPolicy {
    /// `SESSION_COOKIE_AGE` in seconds (Django's `get_session_cookie_age()`).
    pub cookie_age: i64,
    /// `SESSION_EXPIRE_AT_BROWSER_CLOSE`.
    pub expire_at_browser_close: bool,
    /// `USE_TZ`: with false, absolute expiries are written without a UTC offset.
    pub use_tz: bool,
    /// `SESSION_ABSOLUTE_TIMEOUT`: seconds a session may live from its start (recorded
    /// under [`STARTED_KEY`]), however active; `None`: no limit.
    pub absolute_timeout: Option<i64>,
    /// `SESSION_ABSOLUTE_TIMEOUT_FROM`: whether the absolute lifetime starts at the session's
    /// creation or at the login (see [`AbsoluteFrom`]).
    pub absolute_from: AbsoluteFrom,
    /// `SESSION_IDLE_TIMEOUT`: seconds a session lives without a request; `None`: only
    /// `SESSION_COOKIE_AGE` (Django's rule: the expiry slides on saves only). When set, every
    /// expiry is capped at this many seconds after the last write or touch, and a request
    /// that reads the session extends it ([`touch_below`](Self::touch_below)).
    pub idle_timeout: Option<i64>,
    /// A read-only request extends the expiry only once fewer than this many seconds of the
    /// idle window remain (`SESSION_IDLE_TOUCH_SHARE` × `SESSION_IDLE_TIMEOUT`, default half):
    /// at most one touch per `idle_timeout - touch_below` seconds of activity.
    pub touch_below: i64,
}

/// Where `SESSION_ABSOLUTE_TIMEOUT` counts from (`SESSION_ABSOLUTE_TIMEOUT_FROM`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AbsoluteFrom {
    /// The session's creation (`creation`, the default): recorded by the first save.
    #[default]
    Creation,
    /// The user's login (`login`): recorded by `session-auth`'s login; sessions nobody
    /// logged in to have no absolute limit.
    Login,
}

/// `SESSION_ABSOLUTE_TIMEOUT_FROM`: `creation` or `login`.
impl crate::settings::SettingValue for AbsoluteFrom {
    fn from_text(text: &str) -> Result<AbsoluteFrom, String> {
        match text.to_ascii_lowercase().as_str() {
            "creation" => Ok(AbsoluteFrom::Creation),
            "login" => Ok(AbsoluteFrom::Login),
            _ => Err(format!("{text:?}: expected \"creation\" or \"login\"")),
        }
    }
}

/// Where a session's creation time (Unix seconds) is kept when an absolute timeout is set: a
/// key Django ignores (it reads and writes it back as ordinary data).
pub const STARTED_KEY: &str = "_session_started_at";

impl Default for ExpiryPolicy {
    fn default() -> Self {
        ExpiryPolicy {
            cookie_age: 1_209_600,
            expire_at_browser_close: false,
            use_tz: true,
            absolute_timeout: None,
            absolute_from: AbsoluteFrom::Creation,
            idle_timeout: None,
            touch_below: 0,
        }
    }
}

impl ExpiryPolicy {
    /// The policy the settings describe.
    pub fn from_settings(settings: &crate::Settings) -> ExpiryPolicy {
        ExpiryPolicy {
            cookie_age: settings.cookie.age,
            expire_at_browser_close: settings.expire_at_browser_close,
            use_tz: settings.use_tz,
            absolute_timeout: settings.absolute_timeout,
            absolute_from: settings.absolute_from,
            idle_timeout: settings.idle_timeout,
            touch_below: settings.idle_touch_below,
        }
    }

    /// The policy with an idle timeout (`touch_below` half of it), for code and tests.
    pub fn with_idle_timeout(mut self, seconds: i64) -> ExpiryPolicy {
        self.idle_timeout = Some(seconds);
        self.touch_below = seconds / 2;
        self
    }

    /// Whether a session that expires at `expires_at` is due for a touch at `now`: an idle
    /// timeout is set and fewer than [`touch_below`](Self::touch_below) seconds remain.
    pub fn touch_due(&self, expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        if self.idle_timeout.is_none() {
            return false;
        }
        // An engine that cannot say when the record expires is touched on every request.
        expires_at.is_none_or(|at| floor_seconds(at, now) < self.touch_below)
    }

    /// Seconds until expiry for a session whose custom expiry is `expiry`, as seen at
    /// `modification` (Django's `get_expiry_age(modification=…, expiry=…)`).
    pub fn expiry_age(&self, modification: DateTime<Utc>, expiry: StoredExpiry) -> i64 {
        let age = self.uncapped_age(modification, expiry);
        match self.idle_timeout {
            Some(idle) => age.min(idle),
            None => age,
        }
    }

    fn uncapped_age(&self, modification: DateTime<Utc>, expiry: StoredExpiry) -> i64 {
        match expiry {
            StoredExpiry::Policy => self.cookie_age,
            // Django returns the stored number itself; cookies and TTLs take `int()` of it.
            // `read` bounds it to ±1e11, so the conversion is exact.
            #[allow(clippy::cast_possible_truncation)]
            StoredExpiry::Seconds(s) => s.trunc() as i64,
            StoredExpiry::At(at) => floor_seconds(at, modification),
        }
    }

    /// When a session with custom expiry `expiry` expires, as seen at `modification`
    /// (Django's `get_expiry_date(modification=…, expiry=…)`). Saturates at chrono's range
    /// instead of overflowing.
    pub fn expiry_date(&self, modification: DateTime<Utc>, expiry: StoredExpiry) -> DateTime<Utc> {
        let date = self.uncapped_date(modification, expiry);
        match self
            .idle_timeout
            .and_then(TimeDelta::try_seconds)
            .and_then(|d| modification.checked_add_signed(d))
        {
            Some(idle_end) if idle_end < date => idle_end,
            _ => date,
        }
    }

    fn uncapped_date(&self, modification: DateTime<Utc>, expiry: StoredExpiry) -> DateTime<Utc> {
        let delta = match expiry {
            StoredExpiry::Policy => TimeDelta::try_seconds(self.cookie_age),
            // Bounded to ±1e17 µs by `read`: exact in an i64.
            #[allow(clippy::cast_possible_truncation)]
            StoredExpiry::Seconds(s) => {
                Some(TimeDelta::microseconds((s * 1_000_000.0).round() as i64))
            }
            StoredExpiry::At(at) => return at,
        };
        delta
            .and_then(|d| modification.checked_add_signed(d))
            .unwrap_or(if self.cookie_age < 0 {
                DateTime::<Utc>::MIN_UTC
            } else {
                DateTime::<Utc>::MAX_UTC
            })
    }

    /// When a record last written at `written_at` expires by its own custom expiry; `None`
    /// when only the global policy applies (the signed-cookie engine leaves that to the
    /// signature's max age).
    pub fn custom_expiry_date(
        &self,
        written_at: DateTime<Utc>,
        expiry: StoredExpiry,
    ) -> Option<DateTime<Utc>> {
        match expiry {
            StoredExpiry::Policy => None,
            other => Some(self.expiry_date(written_at, other)),
        }
    }

    /// Django's rule: a session is expired once fewer than one whole second remains.
    pub fn is_expired(&self, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        floor_seconds(expires_at, now) <= 0
    }

    /// An instant as `set_expiry` stores it: ISO 8601, without the offset when `USE_TZ` is off.
    pub fn format_instant(&self, t: DateTime<Utc>) -> String {
        let s = format_iso(t);
        if self.use_tz {
            s
        } else {
            s.trim_end_matches("+00:00").to_owned()
        }
    }
}

/// Formats an instant as Python's `datetime.isoformat()` of an aware UTC datetime:
/// `YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00` (microseconds only when non-zero).
pub fn format_iso(t: DateTime<Utc>) -> String {
    let micros = t.timestamp_subsec_micros();
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    if micros != 0 {
        s.push_str(&format!(".{micros:06}"));
    }
    s.push_str("+00:00");
    s
}

/// Parses what Python 3.11+'s `datetime.fromisoformat` reads for session expiry strings:
/// `YYYY-MM-DD`, optionally `T` or a space and `HH[:MM[:SS[.f…]]]`, optionally `Z` or
/// `±HH:MM[:SS[.ffffff]]`. A naive value is taken as UTC (the only `TIME_ZONE` this crate
/// supports with `USE_TZ = False`).
pub fn parse_iso(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    let date = NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()?;
    let rest = &s[10..];
    if rest.is_empty() {
        return Some(date.and_time(NaiveTime::MIN).and_utc());
    }
    let rest = rest.strip_prefix(['T', ' '])?;
    let tz_at = rest.find(['+', '-', 'Z']).unwrap_or(rest.len());
    let (time_text, tz_text) = rest.split_at(tz_at);
    let time = parse_time(time_text)?;
    let naive = NaiveDateTime::new(date, time);
    let offset = match tz_text {
        "" | "Z" => 0,
        _ => {
            let sign = if tz_text.starts_with('-') { -1 } else { 1 };
            let t = parse_time(&tz_text[1..])?;
            sign * i32::try_from(t.num_seconds_from_midnight()).ok()?
        }
    };
    let offset = FixedOffset::east_opt(offset)?;
    Some(
        naive
            .and_local_timezone(offset)
            .single()?
            .with_timezone(&Utc),
    )
}

fn parse_time(t: &str) -> Option<NaiveTime> {
    let (hms, frac) = match t.split_once(['.', ',']) {
        Some((a, b)) => (a, Some(b)),
        None => (t, None),
    };
    let parts: Vec<&str> = if hms.contains(':') {
        hms.split(':').collect()
    } else {
        // Basic format HH[MM[SS]].
        (0..hms.len())
            .step_by(2)
            .filter_map(|i| hms.get(i..i + 2))
            .collect()
    };
    let num = |p: Option<&&str>| -> Option<u32> {
        match p {
            None => Some(0),
            Some(p) if p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok(),
            Some(_) => None,
        }
    };
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    let (h, m, sec) = (num(parts.first())?, num(parts.get(1))?, num(parts.get(2))?);
    let micros = match frac {
        None => 0,
        Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
            let mut digits: String = f.chars().take(6).collect();
            while digits.len() < 6 {
                digits.push('0');
            }
            digits.parse().ok()?
        }
        Some(_) => return None,
    };
    NaiveTime::from_hms_micro_opt(h, m, sec, micros)
}

/// Whole seconds from `from` to `to`, floored like Python's `timedelta.days * 86400 +
/// timedelta.seconds` (−10.5 s gives −11).
pub fn floor_seconds(to: DateTime<Utc>, from: DateTime<Utc>) -> i64 {
    (to - from)
        .num_microseconds()
        .map_or_else(|| (to - from).num_seconds(), |us| us.div_euclid(1_000_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_round_trip_keeps_microseconds() {
        let t = from_unix_f64(1_767_323_045.5);
        assert_eq!(format_iso(t), "2026-01-02T03:04:05.500000+00:00");
        assert_eq!(parse_iso(&format_iso(t)), Some(t));
        let whole = from_unix_f64(1_767_323_045.0);
        assert_eq!(format_iso(whole), "2026-01-02T03:04:05+00:00");
    }

    #[test]
    fn parses_python_iso_variants() {
        let t = from_unix_f64(1_767_323_045.5);
        for s in [
            "2026-01-02T03:04:05.500000+00:00",
            "2026-01-02T03:04:05.5Z",
            "2026-01-02 03:04:05.500",
            "2026-01-02T04:04:05.500000+01:00",
            "2026-01-01T21:04:05.500-06:00",
        ] {
            assert_eq!(parse_iso(s), Some(t), "{s}");
        }
        assert_eq!(
            parse_iso("2026-01-02"),
            Some(from_unix_f64(1_767_312_000.0))
        );
        assert_eq!(parse_iso("not a date"), None);
        assert_eq!(parse_iso("2026-01-02T25:00:00"), None);
    }

    #[test]
    fn out_of_range_expiries_are_invalid_and_arithmetic_saturates() {
        for v in [1e300, -1e300, f64::INFINITY, f64::NEG_INFINITY, 9e12] {
            assert_eq!(
                StoredExpiry::read(Some(&Value::from(v))),
                Err(InvalidExpiry),
                "{v}"
            );
        }
        assert_eq!(
            StoredExpiry::read(Some(&Value::from(86_400))),
            Ok(StoredExpiry::Seconds(86_400.0))
        );
        let now = from_unix_f64(1_700_000_000.0);
        let huge = ExpiryPolicy {
            cookie_age: i64::MAX,
            ..ExpiryPolicy::default()
        };
        assert_eq!(
            huge.expiry_date(now, StoredExpiry::Policy),
            DateTime::<Utc>::MAX_UTC
        );
        let tiny = ExpiryPolicy {
            cookie_age: i64::MIN,
            ..ExpiryPolicy::default()
        };
        assert_eq!(
            tiny.expiry_date(now, StoredExpiry::Policy),
            DateTime::<Utc>::MIN_UTC
        );
        let e = crate::cookie::CookieExpiry::from_age(i64::MAX, now);
        assert_eq!(e.max_age, i64::MAX);
        assert_eq!(from_unix_f64(f64::INFINITY), DateTime::<Utc>::default());
    }

    #[test]
    fn floor_seconds_floors_negatives() {
        let a = from_unix_f64(100.0);
        assert_eq!(floor_seconds(from_unix_f64(89.5), a), -11);
        assert_eq!(floor_seconds(from_unix_f64(110.5), a), 10);
    }
}
