//! Signed-cookie engine: save (sign) and load (verify) of a ~200 B session, beside the codec
//! floor (HMAC-SHA256 + base64 of the same JSON).
#![allow(missing_docs)]

use std::sync::Arc;

use base64::Engine as _;
use criterion::{Criterion, criterion_group, criterion_main};
use session_cookie_signed::SignedCookieStore;
use session_core::{Session, SessionConfig, SessionStore, Settings, Value};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let settings = Settings::new("bench-secret").unwrap();
    let store = Arc::new(SignedCookieStore::from_settings(&settings));
    let config = SessionConfig::from_settings(&settings);
    let cookie = rt.block_on(async {
        let mut s = Session::new(store.clone(), config.clone(), None);
        s.insert_value("_auth_user_id", "42").await.unwrap();
        s.insert_value(
            "_auth_user_backend",
            "django.contrib.auth.backends.ModelBackend",
        )
        .await
        .unwrap();
        s.insert_value("num_visits", 7).await.unwrap();
        s.save(false).await.unwrap();
        s.session_key().unwrap().to_owned()
    });
    let json = Value::Object(rt.block_on(store.load(&cookie)).unwrap().unwrap()).to_python_json();
    let mut group = c.benchmark_group("signed_cookie");
    group.bench_function("load", |b| {
        b.iter(|| rt.block_on(store.load(&cookie)).unwrap())
    });
    group.bench_function("load_modify_save", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut s = Session::new(store.clone(), config.clone(), Some(&cookie));
                s.insert_value("num_visits", 8).await.unwrap();
                s.save(false).await.unwrap();
            })
        })
    });
    let key = session_core::codec::derive_key(
        session_core::codec::SIGNED_COOKIE_SALT,
        &settings.secret_key,
    );
    group.bench_function("floor_hmac_base64", |b| {
        b.iter(|| {
            use hmac::Mac;
            let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json.as_bytes());
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
            mac.update(payload.as_bytes());
            mac.finalize()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
