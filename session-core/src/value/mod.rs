//! Session values: JSON as Python's `json` module reads and writes it.
//!
//! Django serializes session data with `json.dumps(data, separators=(",", ":"))`. That output is
//! not what `serde_json` writes: it is ASCII-only (`\u00e9`, surrogate pairs for non-BMP
//! characters, lowercase hex), floats use Python's `repr`, integers have arbitrary precision and
//! `NaN` / `Infinity` / `-Infinity` appear as bare tokens. [`Value`] holds exactly what such a
//! document can hold, [`Value::to_python_json`] writes it byte for byte as Python does, and
//! [`Value::from_python_json`] reads what Python's `json.loads` accepts (duplicate keys: the last
//! value wins, at the position of the first).
//!
//! Typed access goes through serde: [`Value`] implements `Serialize` and `Deserialize`, and
//! [`to_value`] / [`from_value`] convert any serde type.

use std::fmt::{self, Write as _};

use indexmap::IndexMap;
use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An insertion-ordered JSON object, the shape of a whole session.
pub type Map = IndexMap<String, Value>;

/// A JSON value as Python's `json` module knows it.
#[derive(Clone, PartialEq, Default)]
pub enum Value {
    /// `null` (Python `None`).
    #[default]
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer of any size or a float (including NaN and the infinities).
    Number(Number),
    /// A string.
    String(String),
    /// An array (Python list or tuple).
    Array(Vec<Value>),
    /// An object (Python dict), insertion order kept.
    Object(Map),
}

/// A JSON number: an integer of any size, or an IEEE double.
#[derive(Clone, PartialEq)]
pub struct Number(N);

/// The most digits an integer may have: CPython's `sys.int_info.default_max_str_digits`.
/// Django's `json.loads` refuses longer integers, and so does every reader here (JSON and
/// pickle), which also keeps big-number conversions cheap.
pub const MAX_INT_DIGITS: usize = 4300;

#[derive(Clone, PartialEq)]
enum N {
    Int(i64),
    /// Canonical decimal text of an integer outside `i64`.
    BigInt(Box<str>),
    Float(f64),
}

impl Number {
    /// The integer value, if this is an integer that fits in `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match &self.0 {
            N::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The value as a float (integers are converted; big ones lose precision).
    pub fn as_f64(&self) -> f64 {
        match &self.0 {
            N::Int(i) => *i as f64,
            N::BigInt(s) => s.parse().unwrap_or(f64::NAN),
            N::Float(f) => *f,
        }
    }

    /// Whether this is an integer (of any size) rather than a float.
    pub fn is_integer(&self) -> bool {
        !matches!(self.0, N::Float(_))
    }

    /// The number as Python's `json.dumps` writes it.
    pub fn to_python_text(&self) -> String {
        let mut out = String::new();
        self.write_python(&mut out);
        out
    }

    /// An integer from its decimal text, up to [`MAX_INT_DIGITS`] digits. `None` when the
    /// text is not an integer or is longer (Python refuses it too, so Django could not have
    /// written it).
    pub fn from_integer_text(text: &str) -> Option<Number> {
        let digits = text.strip_prefix('-').unwrap_or(text);
        if digits.is_empty()
            || digits.len() > MAX_INT_DIGITS
            || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        if let Ok(i) = text.parse::<i64>() {
            return Some(Number(N::Int(i)));
        }
        let trimmed = digits.trim_start_matches('0');
        let negative = text.starts_with('-');
        let canonical = match (trimmed.is_empty(), negative) {
            (true, _) => return Some(Number(N::Int(0))),
            (false, true) => format!("-{trimmed}"),
            (false, false) => trimmed.to_owned(),
        };
        match canonical.parse::<i64>() {
            Ok(i) => Some(Number(N::Int(i))),
            Err(_) => Some(Number(N::BigInt(canonical.into()))),
        }
    }

    fn write_python(&self, out: &mut String) {
        match &self.0 {
            N::Int(i) => {
                let _ = write!(out, "{i}");
            }
            N::BigInt(s) => out.push_str(s),
            N::Float(f) => write_python_float(*f, out),
        }
    }
}

impl From<i64> for Number {
    fn from(i: i64) -> Self {
        Number(N::Int(i))
    }
}

impl From<u64> for Number {
    fn from(u: u64) -> Self {
        match i64::try_from(u) {
            Ok(i) => Number(N::Int(i)),
            Err(_) => Number(N::BigInt(u.to_string().into())),
        }
    }
}

impl From<i128> for Number {
    fn from(i: i128) -> Self {
        match i64::try_from(i) {
            Ok(i) => Number(N::Int(i)),
            Err(_) => Number(N::BigInt(i.to_string().into())),
        }
    }
}

impl From<f64> for Number {
    fn from(f: f64) -> Self {
        Number(N::Float(f))
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_python_text())
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_python_text())
    }
}

/// Python's `float.__repr__` (as used by `json.dumps`), including `NaN` / `Infinity`.
fn write_python_float(f: f64, out: &mut String) {
    if f.is_nan() {
        out.push_str("NaN");
        return;
    }
    if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    // Rust's `{:e}` gives the shortest round-trip digits, like Python's repr.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if negative {
        out.push('-');
    }
    if (-4..16).contains(&exp) {
        if exp < 0 {
            out.push_str("0.");
            for _ in 0..(-exp - 1) {
                out.push('0');
            }
            out.push_str(&digits);
        } else {
            let point = usize::try_from(exp + 1).unwrap_or(0); // 1..=16 here
            if digits.len() <= point {
                out.push_str(&digits);
                for _ in digits.len()..point {
                    out.push('0');
                }
                out.push_str(".0");
            } else {
                out.push_str(&digits[..point]);
                out.push('.');
                out.push_str(&digits[point..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
}

impl Value {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is an integer fitting in `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The object, if this is one.
    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    /// Python truthiness: `None`, `False`, `0`, `0.0`, `""`, `[]`, `{}` are false.
    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => match &n.0 {
                N::Int(i) => *i != 0,
                N::BigInt(_) => true,
                N::Float(f) => *f != 0.0,
            },
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Object(m) => !m.is_empty(),
        }
    }

    /// Serializes exactly as `json.dumps(value, separators=(",", ":"))` (ASCII-only).
    pub fn to_python_json(&self) -> String {
        let mut out = String::with_capacity(64);
        self.write_python_json(&mut out);
        out
    }

    /// Appends the Python JSON form of this value to `out`.
    pub fn write_python_json(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(true) => out.push_str("true"),
            Value::Bool(false) => out.push_str("false"),
            Value::Number(n) => n.write_python(out),
            Value::String(s) => write_python_string(s, out),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_python_json(out);
                }
                out.push(']');
            }
            Value::Object(map) => write_python_object(map, out),
        }
    }

    /// Parses what Python's `json.loads` accepts (including `NaN`, `Infinity`, `-Infinity`).
    ///
    /// Strings holding a lone UTF-16 surrogate (which Python allows) cannot be represented in
    /// Rust and are rejected.
    pub fn from_python_json(text: &str) -> Result<Value, JsonError> {
        json::parse(text)
    }
}

/// Writes a map as a Python JSON object.
pub fn write_python_object(map: &Map, out: &mut String) {
    out.push('{');
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_python_string(k, out);
        out.push(':');
        v.write_python_json(out);
    }
    out.push('}');
}

fn write_python_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_python_json())
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_python_json())
    }
}

mod json;
mod serde_impl;

pub use json::JsonError;
pub use serde_impl::{from_value, to_value};

impl From<u64> for Value {
    fn from(v: u64) -> Value {
        Value::Number(v.into())
    }
}
impl From<i128> for Value {
    fn from(v: i128) -> Value {
        Value::Number(v.into())
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Number(v.into())
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Bool(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::String(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::String(v)
    }
}
impl From<Map> for Value {
    fn from(v: Map) -> Value {
        Value::Object(v)
    }
}
impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Value {
        Value::Array(v.into_iter().map(Into::into).collect())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(f: f64) -> String {
        Value::from(f).to_python_json()
    }

    #[test]
    fn floats_use_python_repr() {
        assert_eq!(float(0.1), "0.1");
        assert_eq!(float(1.0), "1.0");
        assert_eq!(float(-0.0), "-0.0");
        assert_eq!(float(100.0), "100.0");
        assert_eq!(float(1e16), "1e+16");
        assert_eq!(float(1e15), "1000000000000000.0");
        assert_eq!(float(1e-5), "1e-05");
        assert_eq!(float(0.0001), "0.0001");
        assert_eq!(float(1.2345678901234568e17), "1.2345678901234568e+17");
        assert_eq!(float(123456789.123), "123456789.123");
        assert_eq!(float(1e22), "1e+22");
        assert_eq!(float(f64::NAN), "NaN");
        assert_eq!(float(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(float(5e-324), "5e-324");
    }

    #[test]
    fn strings_are_ascii_escaped_like_python() {
        let v = Value::from("é😀\u{7f}\u{0}\"\\/\n");
        assert_eq!(
            v.to_python_json(),
            r#""\u00e9\ud83d\ude00\u007f\u0000\"\\/\n""#
        );
    }

    #[test]
    fn parser_round_trips_and_keeps_big_integers() {
        let text = r#"{"big":100000000000000000000,"neg":-18446744073709551617,"x":NaN,"y":-Infinity,"s":"\ud83d\ude00"}"#;
        let v = Value::from_python_json(text).unwrap();
        assert_eq!(v.to_python_json(), text);
    }

    #[test]
    fn parser_duplicate_keys_last_value_first_position() {
        let v = Value::from_python_json(r#"{"a":1,"b":2,"a":3}"#).unwrap();
        assert_eq!(v.to_python_json(), r#"{"a":3,"b":2}"#);
    }

    #[test]
    fn parser_rejects_what_python_rejects() {
        for bad in [
            "",
            "{",
            "{\"a\":}",
            "[1,]",
            "01",
            "\"\u{1}\"",
            "{\"a\":1}x",
            "\"\\ud800\"",
            "nul",
        ] {
            assert!(
                Value::from_python_json(bad).is_err(),
                "{bad:?} must be refused"
            );
        }
        let deep = "[".repeat(10_000);
        assert!(Value::from_python_json(&deep).is_err());
    }

    #[test]
    fn serde_bridge_round_trips_typed_values() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct User {
            id: u64,
            name: String,
            tags: Vec<String>,
        }
        let u = User {
            id: 42,
            name: "ada".into(),
            tags: vec!["x".into()],
        };
        let v = to_value(&u).unwrap();
        assert_eq!(v.to_python_json(), r#"{"id":42,"name":"ada","tags":["x"]}"#);
        let back: User = from_value(&v).unwrap();
        assert_eq!(back, u);
    }
}
