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
        let mut parser = Parser {
            bytes: text.as_bytes(),
            text,
            pos: 0,
            depth: 0,
        };
        parser.skip_ws();
        let value = parser.value()?;
        parser.skip_ws();
        if parser.pos != parser.bytes.len() {
            return Err(parser.error("extra data after the JSON value"));
        }
        Ok(value)
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

/// A JSON document that Python's `json.loads` would also refuse (or that Rust cannot hold).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON at byte {offset}: {reason}")]
pub struct JsonError {
    /// Byte offset of the problem.
    pub offset: usize,
    /// What is wrong.
    pub reason: &'static str,
}

/// Nesting deeper than this is refused (Python's own recursion limit is about 1000).
const MAX_DEPTH: usize = 512;

struct Parser<'a> {
    bytes: &'a [u8],
    text: &'a str,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn error(&self, reason: &'static str) -> JsonError {
        JsonError {
            offset: self.pos,
            reason,
        }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, literal: &str) -> bool {
        if self.bytes[self.pos..].starts_with(literal.as_bytes()) {
            self.pos += literal.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Result<Value, JsonError> {
        match self.bytes.get(self.pos) {
            None => Err(self.error("expected a value, found the end")),
            Some(b'{') => self.nested(Self::object),
            Some(b'[') => self.nested(Self::array),
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b'n') if self.eat("null") => Ok(Value::Null),
            Some(b't') if self.eat("true") => Ok(Value::Bool(true)),
            Some(b'f') if self.eat("false") => Ok(Value::Bool(false)),
            Some(b'N') if self.eat("NaN") => Ok(Value::Number(Number(N::Float(f64::NAN)))),
            Some(b'I') if self.eat("Infinity") => Ok(Value::Number(f64::INFINITY.into())),
            Some(b'-') if self.eat("-Infinity") => Ok(Value::Number(f64::NEG_INFINITY.into())),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("expected a value")),
        }
    }

    fn nested(&mut self, f: fn(&mut Self) -> Result<Value, JsonError>) -> Result<Value, JsonError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        let v = f(self);
        self.depth -= 1;
        v
    }

    fn object(&mut self) -> Result<Value, JsonError> {
        self.pos += 1;
        let mut map = Map::new();
        self.skip_ws();
        if self.eat("}") {
            return Ok(Value::Object(map));
        }
        loop {
            self.skip_ws();
            if self.bytes.get(self.pos) != Some(&b'"') {
                return Err(self.error("expected a string key"));
            }
            let key = self.string()?;
            self.skip_ws();
            if !self.eat(":") {
                return Err(self.error("expected ':'"));
            }
            self.skip_ws();
            let value = self.value()?;
            // Python's dict keeps the first position and takes the last value.
            map.insert(key, value);
            self.skip_ws();
            if self.eat(",") {
                continue;
            }
            if self.eat("}") {
                return Ok(Value::Object(map));
            }
            return Err(self.error("expected ',' or '}'"));
        }
    }

    fn array(&mut self) -> Result<Value, JsonError> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.eat("]") {
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value()?);
            self.skip_ws();
            if self.eat(",") {
                continue;
            }
            if self.eat("]") {
                return Ok(Value::Array(items));
            }
            return Err(self.error("expected ',' or ']'"));
        }
    }

    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.pos;
        if self.bytes[self.pos] == b'-' {
            self.pos += 1;
        }
        match self.bytes.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error("expected digits")),
        }
        let mut is_float = false;
        if self.bytes.get(self.pos) == Some(&b'.')
            && matches!(self.bytes.get(self.pos + 1), Some(b'0'..=b'9'))
        {
            is_float = true;
            self.pos += 1;
            self.digits();
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.pos) {
            let save = self.pos;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.pos) {
                self.pos += 1;
            }
            if matches!(self.bytes.get(self.pos), Some(b'0'..=b'9')) {
                is_float = true;
                self.digits();
            } else {
                // Python's scanner stops before a bare `e`; the caller then sees extra data.
                self.pos = save;
            }
        }
        let text = &self.text[start..self.pos];
        if is_float {
            // Python's float() overflows to infinity like Rust's parser does.
            let f: f64 = text.parse().map_err(|_| self.error("bad float"))?;
            Ok(Value::Number(f.into()))
        } else {
            Number::from_integer_text(text)
                .map(Value::Number)
                .ok_or_else(|| self.error("bad integer"))
        }
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn hex4(&mut self) -> Result<u16, JsonError> {
        let hex = self
            .text
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.error("truncated \\u escape"))?;
        let v = u16::from_str_radix(hex, 16).map_err(|_| self.error("bad \\u escape"))?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(self.error("bad \\u escape"));
        }
        self.pos += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let run_start = self.pos;
            while let Some(&b) = self.bytes.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(&self.text[run_start..self.pos]);
            match self.bytes.get(self.pos) {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let esc = *self
                        .bytes
                        .get(self.pos)
                        .ok_or_else(|| self.error("unterminated escape"))?;
                    self.pos += 1;
                    match esc {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let unit = self.hex4()?;
                            let c = if (0xD800..0xDC00).contains(&unit) {
                                if !self.eat("\\u") {
                                    return Err(self.error("lone surrogate"));
                                }
                                let low = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&low) {
                                    return Err(self.error("lone surrogate"));
                                }
                                let code = 0x10000
                                    + ((u32::from(unit) - 0xD800) << 10)
                                    + (u32::from(low) - 0xDC00);
                                char::from_u32(code)
                            } else {
                                char::from_u32(u32::from(unit))
                            };
                            out.push(c.ok_or_else(|| self.error("lone surrogate"))?);
                        }
                        _ => return Err(self.error("bad escape")),
                    }
                }
                Some(_) => return Err(self.error("control character in string")),
            }
        }
    }
}

// ---- serde -------------------------------------------------------------------------------

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Number(n) => match &n.0 {
                N::Int(i) => serializer.serialize_i64(*i),
                N::BigInt(s) => match s.parse::<i128>() {
                    Ok(i) => serializer.serialize_i128(i),
                    Err(_) => match s.parse::<u128>() {
                        Ok(u) => serializer.serialize_u128(u),
                        Err(_) => serializer.serialize_f64(n.as_f64()),
                    },
                },
                N::Float(f) => serializer.serialize_f64(*f),
            },
            Value::String(s) => serializer.serialize_str(s),
            Value::Array(items) => items.serialize(serializer),
            Value::Object(map) => map.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        struct ValueVisitor;
        impl<'de> Visitor<'de> for ValueVisitor {
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON-shaped value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
                Ok(Value::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
                Ok(Value::Number(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
                Ok(Value::Number(v.into()))
            }
            fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
                Ok(Value::Number(v.into()))
            }
            fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
                Ok(Value::Number(
                    Number::from_integer_text(&v.to_string()).unwrap_or(Number(N::Int(0))),
                ))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
                Ok(Value::Number(v.into()))
            }
            fn visit_str<E>(self, v: &str) -> Result<Value, E> {
                Ok(Value::String(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Value, E> {
                Ok(Value::String(v))
            }
            fn visit_char<E>(self, v: char) -> Result<Value, E> {
                Ok(Value::String(v.to_string()))
            }
            fn visit_unit<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_none<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
                Value::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Value::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
                let mut map = Map::new();
                while let Some((k, v)) = access.next_entry::<String, Value>()? {
                    map.insert(k, v);
                }
                Ok(Value::Object(map))
            }
        }
        deserializer.deserialize_any(ValueVisitor)
    }
}

/// Converts any serializable value into a session [`Value`].
///
/// ```
/// use session_core::value::{to_value, Value};
/// #[derive(serde::Serialize)]
/// struct Cart { items: Vec<u32> }
/// let v = to_value(&Cart { items: vec![1, 2] }).unwrap();
/// assert_eq!(v.to_python_json(), r#"{"items":[1,2]}"#);
/// ```
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, serde_json::Error> {
    // serde_json's own Value would reorder keys and drop NaN; go through Python JSON text
    // only for floats that serde_json cannot hold.
    let json = serde_json::to_value(value)?;
    Ok(from_serde_json(json))
}

/// Converts a session [`Value`] into any deserializable type.
///
/// NaN and the infinities become `null` on this path (serde's data model has them, JSON
/// does not); read them through [`Value`] directly.
pub fn from_value<T: serde::de::DeserializeOwned>(value: &Value) -> Result<T, serde_json::Error> {
    serde_json::from_value(into_serde_json(value))
}

fn from_serde_json(v: serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => Value::Number(if let Some(i) = n.as_i64() {
            i.into()
        } else if let Some(u) = n.as_u64() {
            u.into()
        } else {
            n.as_f64().unwrap_or(f64::NAN).into()
        }),
        serde_json::Value::String(s) => Value::String(s),
        serde_json::Value::Array(a) => Value::Array(a.into_iter().map(from_serde_json).collect()),
        serde_json::Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k, from_serde_json(v)))
                .collect(),
        ),
    }
}

fn into_serde_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Number(n) => match &n.0 {
            N::Int(i) => (*i).into(),
            N::BigInt(s) => match s.parse::<u64>() {
                Ok(u) => u.into(),
                Err(_) => serde_json::Number::from_f64(n.as_f64())
                    .map(serde_json::Value::Number)
                    .unwrap_or(serde_json::Value::Null),
            },
            N::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
        },
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::Array(a) => serde_json::Value::Array(a.iter().map(into_serde_json).collect()),
        Value::Object(m) => serde_json::Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), into_serde_json(v)))
                .collect(),
        ),
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Value { Value::Number(i64::from(v).into()) }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32);

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
