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
    let micros = (seconds * 1_000_000.0).round() as i64;
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

impl StoredExpiry {
    /// Interprets the value stored under `_session_expiry` as Django does.
    pub fn from_value(value: Option<&Value>) -> StoredExpiry {
        let Some(value) = value.filter(|v| v.is_truthy()) else {
            return StoredExpiry::Policy;
        };
        match value {
            Value::String(s) => match parse_iso(s) {
                Some(t) => StoredExpiry::At(t),
                None => {
                    tracing::warn!(target: "django.contrib.sessions", "unreadable _session_expiry; using the default expiry");
                    StoredExpiry::Policy
                }
            },
            Value::Number(n) => StoredExpiry::Seconds(n.as_f64()),
            Value::Bool(true) => StoredExpiry::Seconds(1.0),
            _ => StoredExpiry::Policy,
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
            sign * (t.num_seconds_from_midnight() as i32)
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
    fn floor_seconds_floors_negatives() {
        let a = from_unix_f64(100.0);
        assert_eq!(floor_seconds(from_unix_f64(89.5), a), -11);
        assert_eq!(floor_seconds(from_unix_f64(110.5), a), 10);
    }
}
