//! Codec speed: encode and decode of a ~200 B and a ~4 KB session, beside the floor (one
//! HMAC-SHA256 and base64 of the same bytes, which any signed format must pay).
#![allow(missing_docs)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{BenchmarkId, Criterion, black_box, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use session_core::codec::{SESSION_SALT, Secret, Signer, derive_key};
use session_core::{Map, Value};
use sha2::Sha256;

fn small() -> Map {
    let Value::Object(m) = Value::from_python_json(
        r#"{"_auth_user_id":"42","_auth_user_backend":"django.contrib.auth.backends.ModelBackend","_auth_user_hash":"5f1233b323d122a8661900822ffc8de1eee5a07b9e62bc69d6ddfcad0b1bf9a2","num_visits":7}"#,
    )
    .unwrap() else {
        unreachable!()
    };
    m
}

fn large() -> Map {
    let mut m = small();
    let cart: Vec<Value> = (0..60)
        .map(|i| {
            let mut item = Map::new();
            item.insert("id".into(), i.into());
            item.insert("name".into(), format!("item {i} é").into());
            item.insert("price".into(), (i as f64 * 1.25).into());
            Value::Object(item)
        })
        .collect();
    m.insert("cart".into(), Value::Array(cart));
    m
}

fn bench(c: &mut Criterion) {
    let secret = Secret::new("bench-secret-key");
    let signer = Signer::new(SESSION_SALT, &secret, &[]);
    let key = derive_key(SESSION_SALT, &secret);
    let at = chrono::DateTime::from_timestamp(1_767_323_045, 0).unwrap();
    for (name, data) in [("200B", small()), ("4KB", large())] {
        let json = Value::Object(data.clone()).to_python_json();
        let encoded = signer.sign_map(&data, at);
        let mut group = c.benchmark_group(format!("codec/{name}"));
        group.bench_function(BenchmarkId::new("encode", json.len()), |b| {
            b.iter(|| signer.sign_map(black_box(&data), at))
        });
        group.bench_function(BenchmarkId::new("decode", json.len()), |b| {
            b.iter(|| signer.unsign_map(black_box(&encoded), None, at).unwrap())
        });
        group.bench_function(BenchmarkId::new("floor_hmac_base64", json.len()), |b| {
            b.iter(|| {
                let payload = URL_SAFE_NO_PAD.encode(black_box(json.as_bytes()));
                let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
                mac.update(payload.as_bytes());
                URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
