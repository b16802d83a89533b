//! A strict pickle subset: the plain containers and scalars a session dict is made of.
//!
//! Django's cache backends store the session dict pickled (protocol 5 on its Redis backend).
//! This module reads any protocol 2–5 stream built from `dict`, `list`, `tuple`, `str`, `bytes`,
//! `int` (any size), `float`, `bool`, `None`, memo references and frames, and writes protocol 5
//! the way CPython does for such data (byte-identical for sessions under 64 KiB).
//!
//! Nothing is ever executed: opcodes that import a global or build an object (`GLOBAL`,
//! `STACK_GLOBAL`, `REDUCE`, `BUILD`, `NEWOBJ`, `INST`, `OBJ`, `PERSID`, …) are refused, and so
//! is anything that does not fit the session's JSON model (bytes, sets, non-string keys).
//!
//! ```
//! use session_cache::pickle::{dumps, loads};
//! use session_core::{Map, Value};
//! let mut m = Map::new();
//! m.insert("a".into(), Value::from(1));
//! let bytes = dumps(&m);
//! assert_eq!(bytes, b"\x80\x05\x95\x0a\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01a\x94K\x01s.");
//! assert_eq!(loads(&bytes).unwrap(), m);
//! ```

use std::collections::HashMap;

use session_core::value::Number;
use session_core::{Map, Value};

/// Why a pickle was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PickleError {
    /// The stream ended early or is malformed.
    #[error("malformed pickle: {0}")]
    Malformed(&'static str),
    /// An opcode outside the safe subset (it would import or build an object).
    #[error("refused pickle opcode 0x{0:02x}")]
    Refused(u8),
    /// Valid pickle, but not a JSON-shaped session (bytes, sets, non-string keys, not a dict).
    #[error("not a JSON-shaped session: {0}")]
    NotJsonShaped(&'static str),
    /// Nesting or size beyond the limits.
    #[error("pickle exceeds limits: {0}")]
    TooLarge(&'static str),
}

const MAX_DEPTH: usize = 256;
const MAX_LONG_BYTES: usize = 4096;

#[derive(Debug, Clone)]
enum Obj {
    Leaf(Value),
    Bytes,
    List(Vec<usize>),
    Tuple(Vec<usize>),
    Dict(Vec<(usize, usize)>),
    Set(Vec<usize>),
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], PickleError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(PickleError::Malformed("length overflow"))?;
        let s = self
            .data
            .get(self.pos..end)
            .ok_or(PickleError::Malformed("truncated"))?;
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, PickleError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, PickleError> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().unwrap_or_default(),
        ))
    }
    fn u32(&mut self) -> Result<u32, PickleError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().unwrap_or_default(),
        ))
    }
    fn u64(&mut self) -> Result<u64, PickleError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().unwrap_or_default(),
        ))
    }
    fn len64(&mut self) -> Result<usize, PickleError> {
        usize::try_from(self.u64()?).map_err(|_| PickleError::TooLarge("length"))
    }
}

/// Decodes a pickled session dict.
pub fn loads(data: &[u8]) -> Result<Map, PickleError> {
    let mut r = Reader { data, pos: 0 };
    let mut arena: Vec<Obj> = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    let mut marks: Vec<usize> = Vec::new();
    let mut memo: HashMap<u32, usize> = HashMap::new();
    let push = |arena: &mut Vec<Obj>, stack: &mut Vec<usize>, o: Obj| {
        arena.push(o);
        stack.push(arena.len() - 1);
    };
    macro_rules! pop {
        () => {
            stack
                .pop()
                .ok_or(PickleError::Malformed("stack underflow"))?
        };
    }
    macro_rules! top {
        () => {
            *stack.last().ok_or(PickleError::Malformed("empty stack"))?
        };
    }
    macro_rules! since_mark {
        () => {{
            let m = marks.pop().ok_or(PickleError::Malformed("no mark"))?;
            if m > stack.len() {
                return Err(PickleError::Malformed("bad mark"));
            }
            stack.split_off(m)
        }};
    }
    loop {
        let op = r.u8()?;
        match op {
            0x80 => {
                let proto = r.u8()?;
                if proto > 5 {
                    return Err(PickleError::Malformed("unsupported protocol"));
                }
            }
            0x95 => {
                r.u64()?;
            }
            b'.' => break,
            b'(' => marks.push(stack.len()),
            b'}' => push(&mut arena, &mut stack, Obj::Dict(Vec::new())),
            b']' => push(&mut arena, &mut stack, Obj::List(Vec::new())),
            b')' => push(&mut arena, &mut stack, Obj::Tuple(Vec::new())),
            0x8f => push(&mut arena, &mut stack, Obj::Set(Vec::new())),
            b'd' => {
                let items = since_mark!();
                if items.len() % 2 != 0 {
                    return Err(PickleError::Malformed("odd dict items"));
                }
                let pairs = items.chunks(2).map(|c| (c[0], c[1])).collect();
                push(&mut arena, &mut stack, Obj::Dict(pairs));
            }
            b'l' => {
                let items = since_mark!();
                push(&mut arena, &mut stack, Obj::List(items));
            }
            b't' => {
                let items = since_mark!();
                push(&mut arena, &mut stack, Obj::Tuple(items));
            }
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                if stack.len() < n {
                    return Err(PickleError::Malformed("stack underflow"));
                }
                let items = stack.split_off(stack.len() - n);
                push(&mut arena, &mut stack, Obj::Tuple(items));
            }
            b's' => {
                let v = pop!();
                let k = pop!();
                match arena.get_mut(top!()) {
                    Some(Obj::Dict(d)) => d.push((k, v)),
                    _ => return Err(PickleError::Malformed("SETITEM on a non-dict")),
                }
            }
            b'u' => {
                let items = since_mark!();
                if items.len() % 2 != 0 {
                    return Err(PickleError::Malformed("odd dict items"));
                }
                match arena.get_mut(top!()) {
                    Some(Obj::Dict(d)) => d.extend(items.chunks(2).map(|c| (c[0], c[1]))),
                    _ => return Err(PickleError::Malformed("SETITEMS on a non-dict")),
                }
            }
            b'a' => {
                let v = pop!();
                match arena.get_mut(top!()) {
                    Some(Obj::List(l)) => l.push(v),
                    _ => return Err(PickleError::Malformed("APPEND on a non-list")),
                }
            }
            b'e' => {
                let items = since_mark!();
                match arena.get_mut(top!()) {
                    Some(Obj::List(l)) => l.extend(items),
                    _ => return Err(PickleError::Malformed("APPENDS on a non-list")),
                }
            }
            0x90 => {
                let items = since_mark!();
                match arena.get_mut(top!()) {
                    Some(Obj::Set(s)) => s.extend(items),
                    _ => return Err(PickleError::Malformed("ADDITEMS on a non-set")),
                }
            }
            0x91 => {
                let items = since_mark!();
                push(&mut arena, &mut stack, Obj::Set(items));
            }
            0x8c | b'X' | 0x8d => {
                let n = match op {
                    0x8c => r.u8()? as usize,
                    b'X' => r.u32()? as usize,
                    _ => r.len64()?,
                };
                let s = std::str::from_utf8(r.take(n)?)
                    .map_err(|_| PickleError::Malformed("bad UTF-8"))?;
                push(
                    &mut arena,
                    &mut stack,
                    Obj::Leaf(Value::String(s.to_owned())),
                );
            }
            b'C' | b'B' | 0x8e => {
                let n = match op {
                    b'C' => r.u8()? as usize,
                    b'B' => r.u32()? as usize,
                    _ => r.len64()?,
                };
                r.take(n)?;
                push(&mut arena, &mut stack, Obj::Bytes);
            }
            b'K' => {
                let v = r.u8()?;
                push(&mut arena, &mut stack, Obj::Leaf(Value::from(i64::from(v))));
            }
            b'M' => {
                let v = r.u16()?;
                push(&mut arena, &mut stack, Obj::Leaf(Value::from(i64::from(v))));
            }
            b'J' => {
                let v = r.u32()? as i32;
                push(&mut arena, &mut stack, Obj::Leaf(Value::from(i64::from(v))));
            }
            0x8a | 0x8b => {
                let n = if op == 0x8a {
                    r.u8()? as usize
                } else {
                    r.u32()? as usize
                };
                if n > MAX_LONG_BYTES {
                    return Err(PickleError::TooLarge("integer"));
                }
                let bytes = r.take(n)?;
                let text = long_to_decimal(bytes);
                let num =
                    Number::from_integer_text(&text).ok_or(PickleError::Malformed("bad long"))?;
                push(&mut arena, &mut stack, Obj::Leaf(Value::Number(num)));
            }
            b'G' => {
                let f = f64::from_be_bytes(r.take(8)?.try_into().unwrap_or_default());
                push(&mut arena, &mut stack, Obj::Leaf(Value::from(f)));
            }
            b'N' => push(&mut arena, &mut stack, Obj::Leaf(Value::Null)),
            0x88 => push(&mut arena, &mut stack, Obj::Leaf(Value::Bool(true))),
            0x89 => push(&mut arena, &mut stack, Obj::Leaf(Value::Bool(false))),
            0x94 => {
                let id = memo.len() as u32;
                memo.insert(id, top!());
            }
            b'q' => {
                let i = u32::from(r.u8()?);
                memo.insert(i, top!());
            }
            b'r' => {
                let i = r.u32()?;
                memo.insert(i, top!());
            }
            b'h' | b'j' => {
                let i = if op == b'h' {
                    u32::from(r.u8()?)
                } else {
                    r.u32()?
                };
                let obj = *memo.get(&i).ok_or(PickleError::Malformed("unknown memo"))?;
                stack.push(obj);
            }
            other => return Err(PickleError::Refused(other)),
        }
        if arena.len() > data.len() + 16 {
            return Err(PickleError::Malformed("more objects than bytes"));
        }
    }
    let root = stack.pop().ok_or(PickleError::Malformed("empty pickle"))?;
    match materialize(&arena, root, 0)? {
        Value::Object(m) => Ok(m),
        _ => Err(PickleError::NotJsonShaped(
            "the pickled value is not a dict",
        )),
    }
}

fn materialize(arena: &[Obj], id: usize, depth: usize) -> Result<Value, PickleError> {
    if depth > MAX_DEPTH {
        return Err(PickleError::TooLarge("nesting (or a reference cycle)"));
    }
    Ok(match &arena[id] {
        Obj::Leaf(v) => v.clone(),
        Obj::Bytes => return Err(PickleError::NotJsonShaped("bytes")),
        Obj::Set(_) => return Err(PickleError::NotJsonShaped("set")),
        Obj::List(items) | Obj::Tuple(items) => Value::Array(
            items
                .iter()
                .map(|i| materialize(arena, *i, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Obj::Dict(pairs) => {
            let mut m = Map::with_capacity(pairs.len());
            for (k, v) in pairs {
                let Obj::Leaf(Value::String(k)) = &arena[*k] else {
                    return Err(PickleError::NotJsonShaped("non-string dict key"));
                };
                m.insert(k.clone(), materialize(arena, *v, depth + 1)?);
            }
            Value::Object(m)
        }
    })
}

/// Two's-complement little-endian bytes → decimal text.
fn long_to_decimal(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "0".into();
    }
    let negative = bytes[bytes.len() - 1] & 0x80 != 0;
    let mut mag: Vec<u8> = bytes.to_vec();
    if negative {
        // Magnitude = two's complement negation.
        let mut carry = 1u16;
        for b in mag.iter_mut() {
            let v = u16::from(!*b) + carry;
            *b = v as u8;
            carry = v >> 8;
        }
    }
    // Big-endian base-256 digits, divided by 10 repeatedly.
    let mut digits: Vec<u8> = mag.into_iter().rev().collect();
    let mut out = Vec::new();
    while digits.iter().any(|d| *d != 0) {
        let mut rem = 0u16;
        for d in digits.iter_mut() {
            let cur = (rem << 8) | u16::from(*d);
            *d = (cur / 10) as u8;
            rem = cur % 10;
        }
        out.push(b'0' + rem as u8);
    }
    if out.is_empty() {
        out.push(b'0');
    }
    if negative {
        out.push(b'-');
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Decimal text → minimal two's-complement little-endian bytes (CPython's `encode_long`).
fn decimal_to_long(text: &str) -> Vec<u8> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text),
    };
    // Little-endian base-256 magnitude.
    let mut mag: Vec<u8> = vec![0];
    for d in digits.bytes() {
        let mut carry = u16::from(d - b'0');
        for b in mag.iter_mut() {
            let v = u16::from(*b) * 10 + carry;
            *b = v as u8;
            carry = v >> 8;
        }
        if carry > 0 {
            mag.push(carry as u8);
        }
    }
    while mag.len() > 1 && mag[mag.len() - 1] == 0 {
        mag.pop();
    }
    if negative {
        let mut carry = 1u16;
        for b in mag.iter_mut() {
            let v = u16::from(!*b) + carry;
            *b = v as u8;
            carry = v >> 8;
        }
        if mag[mag.len() - 1] & 0x80 == 0 {
            mag.push(0xff);
        }
        // Drop redundant sign bytes (…ff with the next byte's top bit set).
        while mag.len() > 1 && mag[mag.len() - 1] == 0xff && mag[mag.len() - 2] & 0x80 != 0 {
            mag.pop();
        }
    } else if mag[mag.len() - 1] & 0x80 != 0 {
        mag.push(0);
    }
    mag
}

/// Pickles a session dict as CPython's `pickle.dumps(d, protocol=5)` does.
pub fn dumps(map: &Map) -> Vec<u8> {
    let mut body = Vec::with_capacity(64);
    write_dict(map, &mut body);
    body.push(b'.');
    let mut out = Vec::with_capacity(body.len() + 11);
    out.extend_from_slice(&[0x80, 5]);
    // CPython frames a payload (STOP included) of at least 4 bytes.
    if body.len() >= 4 {
        out.push(0x95);
        out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    }
    out.extend_from_slice(&body);
    out
}

fn write_str(s: &str, out: &mut Vec<u8>) {
    let b = s.as_bytes();
    if b.len() < 256 {
        out.push(0x8c);
        out.push(b.len() as u8);
    } else if let Ok(n) = u32::try_from(b.len()) {
        out.push(b'X');
        out.extend_from_slice(&n.to_le_bytes());
    } else {
        out.push(0x8d);
        out.extend_from_slice(&(b.len() as u64).to_le_bytes());
    }
    out.extend_from_slice(b);
    out.push(0x94);
}

fn write_dict(map: &Map, out: &mut Vec<u8>) {
    out.extend_from_slice(&[b'}', 0x94]);
    let items: Vec<_> = map.iter().collect();
    for batch in items.chunks(1000) {
        if batch.len() > 1 {
            out.push(b'(');
        }
        for (k, v) in batch {
            write_str(k, out);
            write_value(v, out);
        }
        out.push(if batch.len() > 1 { b'u' } else { b's' });
    }
}

fn write_value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.push(b'N'),
        Value::Bool(true) => out.push(0x88),
        Value::Bool(false) => out.push(0x89),
        Value::String(s) => write_str(s, out),
        Value::Object(m) => write_dict(m, out),
        Value::Array(items) => {
            out.extend_from_slice(&[b']', 0x94]);
            for batch in items.chunks(1000) {
                if batch.len() > 1 {
                    out.push(b'(');
                }
                for item in batch {
                    write_value(item, out);
                }
                out.push(if batch.len() > 1 { b'e' } else { b'a' });
            }
        }
        Value::Number(n) if !n.is_integer() => {
            out.push(b'G');
            out.extend_from_slice(&n.as_f64().to_be_bytes());
        }
        Value::Number(n) => match n.as_i64() {
            Some(i) if (0..256).contains(&i) => out.extend_from_slice(&[b'K', i as u8]),
            Some(i) if (0..65536).contains(&i) => {
                out.push(b'M');
                out.extend_from_slice(&(i as u16).to_le_bytes());
            }
            Some(i) if i32::try_from(i).is_ok() => {
                out.push(b'J');
                out.extend_from_slice(&(i as i32).to_le_bytes());
            }
            _ => {
                let bytes = decimal_to_long(&n.to_python_text());
                if bytes.len() < 256 {
                    out.extend_from_slice(&[0x8a, bytes.len() as u8]);
                } else {
                    out.push(0x8b);
                    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
                }
                out.extend_from_slice(&bytes);
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longs_round_trip() {
        for text in [
            "0",
            "1",
            "-1",
            "127",
            "128",
            "-128",
            "-129",
            "255",
            "4294967296",
            "-9223372036854775809",
            "100000000000000000000",
            "-100000000000000000000",
        ] {
            assert_eq!(long_to_decimal(&decimal_to_long(text)), text, "{text}");
        }
        // CPython: encode_long(128) == b'\x80\x00', encode_long(-128) == b'\x80'.
        assert_eq!(decimal_to_long("128"), vec![0x80, 0x00]);
        assert_eq!(decimal_to_long("-128"), vec![0x80]);
        assert_eq!(decimal_to_long("-256"), vec![0x00, 0xff]);
    }

    #[test]
    fn globals_and_objects_are_refused() {
        // pickle.dumps(datetime.date(2026, 1, 2)) and a REDUCE of os.system.
        let date = b"\x80\x04\x95\x20\x00\x00\x00\x00\x00\x00\x00\x8c\x08datetime\x94\x8c\x04date\x94\x93\x94C\x04\x07\xea\x01\x02\x94\x85\x94R\x94.";
        assert_eq!(loads(date), Err(PickleError::Refused(0x93)));
        let system = b"cos\nsystem\n(S'true'\ntR.";
        assert_eq!(loads(system), Err(PickleError::Refused(b'c')));
    }

    #[test]
    fn shared_and_cyclic_containers() {
        // l = [1]; pickle.dumps({"a": l, "b": l}) -> BINGET of a list memoized before APPEND.
        let shared = b"\x80\x05\x95\x17\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x01a\x94]\x94K\x01a\x8c\x01b\x94h\x02u.";
        let m = loads(shared).unwrap();
        assert_eq!(Value::Object(m).to_python_json(), r#"{"a":[1],"b":[1]}"#);
        // l = []; l.append(l): a cycle is refused, not followed forever.
        let cyclic = b"\x80\x05\x95\x0b\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01a\x94]\x94h\x02as.";
        assert!(matches!(loads(cyclic), Err(PickleError::TooLarge(_))));
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let seed = dumps(&{
            let mut m = Map::new();
            m.insert(
                "k".into(),
                Value::from(vec![Value::from(1), Value::from("é"), Value::from(1.5)]),
            );
            m.insert("n".into(), Value::Null);
            m
        });
        for _ in 0..20_000 {
            let mut bytes = seed.clone();
            for _ in 0..(next() % 4 + 1) {
                let i = (next() as usize) % bytes.len();
                bytes[i] = next() as u8;
            }
            let _ = loads(&bytes);
            let len = (next() % 40) as usize;
            let noise: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let _ = loads(&noise);
        }
    }
}
