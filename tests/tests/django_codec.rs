//! Our encoder's output — compressed and not, both salts — decodes in real Django, and
//! Django's encoder output decodes in ours.

use serde_json::json;
use session_conformance::django::Django;
use session_core::codec::{SESSION_SALT, Secret, Signer};
use session_core::{Map, Value};

const SECRET: &str = "codec-interop-secret";

fn samples() -> Vec<(&'static str, String)> {
    vec![
        ("empty", "{}".to_owned()),
        (
            "unicode",
            r#"{"k":"é 😀 ☃","ключ":[1,2.5,true,null]}"#.to_owned(),
        ),
        (
            "big ints and floats",
            r#"{"i":100000000000000000000,"f":[1e+16,1e-05,0.1,-0.0]}"#.to_owned(),
        ),
        (
            "compressible",
            format!(
                r#"{{"rep":"{}","cart":[{}]}}"#,
                "ab".repeat(500),
                (0..100)
                    .map(|i| format!(r#"{{"id":{i}}}"#))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        ),
    ]
}

#[tokio::test]
async fn our_encoding_decodes_in_django_and_back() {
    let Some(django) = Django::locate("codec interop", json!({"engine": "db", "secret": SECRET}))
    else {
        return;
    };
    let signer = Signer::new(SESSION_SALT, &Secret::new(SECRET), &[]);
    let now = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp(), 0).unwrap();
    for (name, text) in samples() {
        let Value::Object(map) = Value::from_python_json(&text).unwrap() else {
            panic!()
        };
        let ours = signer.sign_map(&map, now);
        if name == "compressible" {
            assert!(
                ours.starts_with('.'),
                "the sample must exercise compression"
            );
        }
        let decoded = django.run("decode", &[], &ours).await;
        let expected: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            decoded["data"], expected,
            "{name}: Django decodes our string"
        );
        let theirs = django.run("encode", &[], &text).await;
        let back: Map = signer
            .unsign_map(theirs["encoded"].as_str().unwrap(), None, now)
            .unwrap();
        assert_eq!(
            Value::Object(back).to_python_json(),
            Value::Object(map).to_python_json(),
            "{name}"
        );
    }
}
