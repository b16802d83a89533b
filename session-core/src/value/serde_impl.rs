//! serde for [`Value`]: Rust types in and out of session values.

use super::*;

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
