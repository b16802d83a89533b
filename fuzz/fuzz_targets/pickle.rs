//! The strict pickle reader on arbitrary bytes; what it accepts must round-trip (compared as
//! Python-exact JSON text, so a NaN equals itself).
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_cache::pickle::{dumps, loads};
use session_core::Value;

fuzz_target!(|data: &[u8]| {
    if let Ok(map) = loads(data) {
        let again = loads(&dumps(&map)).expect("what we write, we read");
        assert_eq!(
            Value::Object(again).to_python_json(),
            Value::Object(map).to_python_json()
        );
    }
});
