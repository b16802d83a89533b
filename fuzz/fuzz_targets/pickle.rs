//! The strict pickle reader on arbitrary bytes; what it accepts must round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_cache::pickle::{dumps, loads};

fuzz_target!(|data: &[u8]| {
    if let Ok(map) = loads(data) {
        assert_eq!(loads(&dumps(&map)).ok(), Some(map));
    }
});
