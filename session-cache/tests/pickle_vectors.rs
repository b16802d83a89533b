//! Django's Redis cache values (cache-values.json, made by Django 6.1.3 / CPython 3.12):
//! we read every one, and what we write reads back equal (byte-identical where CPython's
//! output depends only on the data).

use base64::Engine as _;
use session_cache::pickle::{dumps, loads};
use session_core::Value;

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../session-core/tests/vectors/cache-values.json"
    );
    Value::from_python_json(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn django_redis_values_round_trip() {
    let doc = vectors();
    let values = match &doc.as_object().unwrap()["values"] {
        Value::Array(a) => a.clone(),
        _ => panic!(),
    };
    let mut identical = 0;
    for case in &values {
        let o = case.as_object().unwrap();
        let name = o["name"].as_str().unwrap();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(o["redis_value_b64"].as_str().unwrap())
            .unwrap();
        let ours = loads(&raw).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            Value::Object(ours.clone()).to_python_json(),
            o["data"].to_python_json(),
            "{name}: decoded"
        );
        let written = dumps(&ours);
        assert_eq!(
            loads(&written).unwrap(),
            ours,
            "{name}: our pickle reads back"
        );
        if written == raw {
            identical += 1;
        } else {
            eprintln!("{name}: not byte-identical (CPython shares interned strings)");
        }
    }
    assert!(
        identical * 2 >= values.len(),
        "most vectors are byte-identical ({identical}/{})",
        values.len()
    );
}
