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

/// The most bytes a pickled integer may have: enough for `session_core::value::MAX_INT_DIGITS` decimal digits
/// (4300 × log₂10 / 8 ≈ 1786); longer ones are refused before any conversion.
const MAX_LONG_BYTES: usize = 1786;

/// The most values (containers and scalars) one pickle may expand to, counting a shared
/// reference once per use: a 264-byte pickle of nested shared lists would otherwise expand
/// to 2⁴⁰ values.
pub const MAX_VALUES: usize = 50_000;

/// The most bytes of strings one pickle may expand to, counting each use of a shared string.
pub const MAX_STRING_BYTES: usize = 8 * 1024 * 1024;

/// The most integer bytes one pickle may hold in total (each costs a conversion to decimal).
const MAX_TOTAL_LONG_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone)]
enum Obj {
    /// Boxed so an object costs 32 bytes in the arena, not a whole `Value`'s size.
    Leaf(Box<Value>),
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
    fn len32(&mut self) -> Result<usize, PickleError> {
        usize::try_from(self.u32()?).map_err(|_| PickleError::TooLarge("length"))
    }
    fn len64(&mut self) -> Result<usize, PickleError> {
        usize::try_from(self.u64()?).map_err(|_| PickleError::TooLarge("length"))
    }
}

/// Decodes a pickled session dict.
// Long on purpose: one loop over the opcodes of a stack machine, one short arm each; split
// up, the stack, marks and memo would travel through every piece. (The file is over 600
// lines for the same reason: the reader and the writer of one format.)
pub fn loads(data: &[u8]) -> Result<Map, PickleError> {
    let mut r = Reader { data, pos: 0 };
    let mut arena: Vec<Obj> = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    let mut marks: Vec<usize> = Vec::new();
    let mut memo: HashMap<u32, usize> = HashMap::new();
    let mut long_bytes = 0usize;
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
                let n = usize::from(op - 0x84);
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
                    0x8c => usize::from(r.u8()?),
                    b'X' => r.len32()?,
                    _ => r.len64()?,
                };
                let s = std::str::from_utf8(r.take(n)?)
                    .map_err(|_| PickleError::Malformed("bad UTF-8"))?;
                push(
                    &mut arena,
                    &mut stack,
                    Obj::Leaf(Box::new(Value::String(s.to_owned()))),
                );
            }
            b'C' | b'B' | 0x8e => {
                let n = match op {
                    b'C' => usize::from(r.u8()?),
                    b'B' => r.len32()?,
                    _ => r.len64()?,
                };
                r.take(n)?;
                push(&mut arena, &mut stack, Obj::Bytes);
            }
            b'K' => {
                let v = r.u8()?;
                push(
                    &mut arena,
                    &mut stack,
                    Obj::Leaf(Box::new(Value::from(i64::from(v)))),
                );
            }
            b'M' => {
                let v = r.u16()?;
                push(
                    &mut arena,
                    &mut stack,
                    Obj::Leaf(Box::new(Value::from(i64::from(v)))),
                );
            }
            b'J' => {
                let v = i32::from_le_bytes(r.u32()?.to_le_bytes());
                push(
                    &mut arena,
                    &mut stack,
                    Obj::Leaf(Box::new(Value::from(i64::from(v)))),
                );
            }
            0x8a | 0x8b => {
                let n = if op == 0x8a {
                    usize::from(r.u8()?)
                } else {
                    r.len32()?
                };
                long_bytes = long_bytes.saturating_add(n);
                if n > MAX_LONG_BYTES || long_bytes > MAX_TOTAL_LONG_BYTES {
                    return Err(PickleError::TooLarge("integer"));
                }
                let bytes = r.take(n)?;
                let text = long_to_decimal(bytes);
                let num =
                    Number::from_integer_text(&text).ok_or(PickleError::Malformed("bad long"))?;
                push(
                    &mut arena,
                    &mut stack,
                    Obj::Leaf(Box::new(Value::Number(num))),
                );
            }
            b'G' => {
                let f = f64::from_be_bytes(r.take(8)?.try_into().unwrap_or_default());
                push(&mut arena, &mut stack, Obj::Leaf(Box::new(Value::from(f))));
            }
            b'N' => push(&mut arena, &mut stack, Obj::Leaf(Box::new(Value::Null))),
            0x88 => push(
                &mut arena,
                &mut stack,
                Obj::Leaf(Box::new(Value::Bool(true))),
            ),
            0x89 => push(
                &mut arena,
                &mut stack,
                Obj::Leaf(Box::new(Value::Bool(false))),
            ),
            0x94 => {
                let id = u32::try_from(memo.len()).map_err(|_| PickleError::TooLarge("memo"))?;
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
        if arena.len() > MAX_VALUES {
            return Err(PickleError::TooLarge("too many values"));
        }
    }
    let root = stack.pop().ok_or(PickleError::Malformed("empty pickle"))?;
    let mut budget = Budget {
        values: MAX_VALUES,
        string_bytes: MAX_STRING_BYTES,
    };
    match materialize(&arena, root, 0, &mut budget)? {
        Value::Object(m) => Ok(m),
        _ => Err(PickleError::NotJsonShaped(
            "the pickled value is not a dict",
        )),
    }
}

/// What is left to spend on building values.
struct Budget {
    values: usize,
    string_bytes: usize,
}

fn materialize(
    arena: &[Obj],
    id: usize,
    depth: usize,
    budget: &mut Budget,
) -> Result<Value, PickleError> {
    if depth > MAX_DEPTH {
        return Err(PickleError::TooLarge("nesting (or a reference cycle)"));
    }
    budget.values = budget
        .values
        .checked_sub(1)
        .ok_or(PickleError::TooLarge("too many values"))?;
    let obj = arena
        .get(id)
        .ok_or(PickleError::Malformed("bad reference"))?;
    Ok(match obj {
        Obj::Leaf(v) => {
            if let Value::String(s) = &**v {
                budget.string_bytes = budget
                    .string_bytes
                    .checked_sub(s.len())
                    .ok_or(PickleError::TooLarge("too many string bytes"))?;
            }
            (**v).clone()
        }
        Obj::Bytes => return Err(PickleError::NotJsonShaped("bytes")),
        Obj::Set(_) => return Err(PickleError::NotJsonShaped("set")),
        Obj::List(items) | Obj::Tuple(items) => Value::Array(
            items
                .iter()
                .map(|i| materialize(arena, *i, depth + 1, budget))
                .collect::<Result<_, _>>()?,
        ),
        Obj::Dict(pairs) => {
            let mut m = Map::with_capacity(pairs.len());
            for (k, v) in pairs {
                let Some(Value::String(k)) = arena.get(*k).and_then(|o| match o {
                    Obj::Leaf(v) => Some(&**v),
                    _ => None,
                }) else {
                    return Err(PickleError::NotJsonShaped("non-string dict key"));
                };
                budget.string_bytes = budget
                    .string_bytes
                    .checked_sub(k.len())
                    .ok_or(PickleError::TooLarge("too many string bytes"))?;
                m.insert(k.clone(), materialize(arena, *v, depth + 1, budget)?);
            }
            Value::Object(m)
        }
    })
}

/// Decimal digits per limb in the conversions below.
const LIMB_DIGITS: usize = 9;
const LIMB: u64 = 1_000_000_000;

/// Two's-complement little-endian bytes → decimal text. Works on base-2³² and base-10⁹
/// limbs, so a 1786-byte integer costs about 200 000 multiply-adds, not millions.
fn long_to_decimal(bytes: &[u8]) -> String {
    let Some(&last) = bytes.last() else {
        return "0".into();
    };
    let negative = last & 0x80 != 0;
    let mut mag: Vec<u8> = bytes.to_vec();
    if negative {
        negate_twos_complement(&mut mag);
    }
    // Base-2³² limbs, most significant first.
    let mut words: Vec<u32> = mag
        .chunks(4)
        .rev()
        .map(|c| {
            let mut w = [0u8; 4];
            w[..c.len()].copy_from_slice(c);
            u32::from_le_bytes(w)
        })
        .collect();
    // Repeated division by 10⁹ gives base-10⁹ limbs, least significant first.
    let mut limbs: Vec<u32> = Vec::new();
    while words.iter().any(|w| *w != 0) {
        let mut rem = 0u64;
        for w in words.iter_mut() {
            let cur = (rem << 32) | u64::from(*w);
            // cur < 10⁹·2³², so the quotient fits in 32 bits.
            *w = u32::try_from(cur / LIMB).unwrap_or(u32::MAX);
            rem = cur % LIMB;
        }
        limbs.push(u32::try_from(rem).unwrap_or(0));
        while words.first() == Some(&0) {
            words.remove(0);
        }
    }
    let mut out = String::with_capacity(limbs.len() * LIMB_DIGITS + 1);
    if negative {
        out.push('-');
    }
    match limbs.split_last() {
        None => out.push('0'),
        Some((top, rest)) => {
            out.push_str(&top.to_string());
            for l in rest.iter().rev() {
                out.push_str(&format!("{l:09}"));
            }
        }
    }
    out
}

/// Two's-complement negation in place (little-endian).
fn negate_twos_complement(mag: &mut [u8]) {
    let mut carry = true;
    for b in mag.iter_mut() {
        let (v, c) = (!*b).overflowing_add(u8::from(carry));
        *b = v;
        carry = c;
    }
}

/// Decimal text → minimal two's-complement little-endian bytes (CPython's `encode_long`),
/// through base-10⁹ chunks and base-2³² limbs.
fn decimal_to_long(text: &str) -> Vec<u8> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text),
    };
    // Little-endian base-2³² magnitude.
    let mut words: Vec<u32> = vec![0];
    let first = digits.len() % LIMB_DIGITS;
    let chunks = std::iter::once(&digits[..first])
        .filter(|c| !c.is_empty())
        .chain(
            digits.as_bytes()[first..]
                .chunks(LIMB_DIGITS)
                .filter_map(|c| std::str::from_utf8(c).ok()),
        );
    for chunk in chunks {
        let scale = 10u64.pow(u32::try_from(chunk.len()).unwrap_or(0));
        let mut carry: u64 = chunk.parse().unwrap_or(0);
        for w in words.iter_mut() {
            let v = u64::from(*w) * scale + carry;
            *w = u32::try_from(v & 0xffff_ffff).unwrap_or(0);
            carry = v >> 32;
        }
        if carry > 0 {
            words.push(u32::try_from(carry).unwrap_or(0));
        }
    }
    let mut mag: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    while mag.len() > 1 && mag[mag.len() - 1] == 0 {
        mag.pop();
    }
    if negative {
        negate_twos_complement(&mut mag);
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
        out.extend_from_slice(&u64::try_from(body.len()).unwrap_or(u64::MAX).to_le_bytes());
    }
    out.extend_from_slice(&body);
    out
}

fn write_str(s: &str, out: &mut Vec<u8>) {
    let b = s.as_bytes();
    if let Ok(n) = u8::try_from(b.len()) {
        out.push(0x8c);
        out.push(n);
    } else if let Ok(n) = u32::try_from(b.len()) {
        out.push(b'X');
        out.extend_from_slice(&n.to_le_bytes());
    } else {
        out.push(0x8d);
        out.extend_from_slice(&u64::try_from(b.len()).unwrap_or(u64::MAX).to_le_bytes());
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
        Value::Number(n) => {
            let i = n.as_i64();
            if let Some(b) = i.and_then(|i| u8::try_from(i).ok()) {
                out.extend_from_slice(&[b'K', b]);
            } else if let Some(h) = i.and_then(|i| u16::try_from(i).ok()) {
                out.push(b'M');
                out.extend_from_slice(&h.to_le_bytes());
            } else if let Some(w) = i.and_then(|i| i32::try_from(i).ok()) {
                out.push(b'J');
                out.extend_from_slice(&w.to_le_bytes());
            } else {
                let bytes = decimal_to_long(&n.to_python_text());
                if let Ok(len) = u8::try_from(bytes.len()) {
                    out.extend_from_slice(&[0x8a, len]);
                } else {
                    out.push(0x8b);
                    // Numbers hold at most MAX_INT_DIGITS digits: far below 4 GiB.
                    out.extend_from_slice(
                        &u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_le_bytes(),
                    );
                }
                out.extend_from_slice(&bytes);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation)] // a random-byte generator truncates on purpose
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

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn fuzz_findings_stay_fixed() {
        // 268 bytes of nested shared lists expanding to ~70 000 values: over the budget.
        let wide = unhex(
            "8004953f010000000000007d948c0161945d94285d94285d94285d944b016168056805680568056805680568056805680568056805680568056805680568056805680565680468046804680468046804680468046804680468046804680468046804680468046804680468046804680468046804680468046804680468046804680468046804680468046805680468046804680468046804680468046804680468046804680465680368036803680368036803680368036803680368036803680368036803680368036803680368036803680368036803680368036803680368036803680368036803680368036803680368036803680368036803680368036803680368036803680365732e",
        );
        assert_eq!(loads(&wide), Err(PickleError::TooLarge("too many values")));
        // 64 KiB of one-byte objects: refused at the value budget, before the arena grows
        // into one large allocation.
        let mut many = vec![0x80, 5, b'}', 0x94, 0x8c, 1, b'a', 0x94, b']', 0x94, b'('];
        many.extend(std::iter::repeat_n(b'N', 65_000));
        many.extend_from_slice(b"es.");
        assert_eq!(loads(&many), Err(PickleError::TooLarge("too many values")));
        assert!(std::mem::size_of::<Obj>() <= 32);
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
