//! Hostile rows in `django_session`: each reads as an empty session plus a warning — never a
//! panic, an error (a 500), or a stall. One test function per database: the warning log is
//! process-wide.

// Built with SQLite only, the server helpers go unused.
#![cfg_attr(
    not(any(feature = "postgres", feature = "mysql")),
    allow(dead_code, unused_imports, unused_variables)
)]

use std::sync::Arc;

use session_conformance::hostile::{WarningLog, expect_unreadable};
use session_conformance::{service_url, unavailable};
use session_core::key::generate_key;
use session_core::{DynSessionStore, Map, Settings, SystemClock, Value};
use session_db::{DbOptions, DbStore};

const SECRET: &str = "hostile-rows-secret";

/// Signed payloads that verify but must not be used.
fn signed_hostile() -> Vec<(&'static str, String)> {
    let signer = Settings::new(SECRET).unwrap().session_signer();
    let now = chrono::Utc::now();
    let with_expiry = |v: Value| {
        let mut m = Map::new();
        m.insert("user".into(), Value::from("ada"));
        m.insert("_session_expiry".into(), v);
        signer.sign_map(&m, now)
    };
    // A 5000-digit integer: Python refuses to parse it (over sys.int_info's 4300 digits).
    let json = format!("{{\"n\":{}}}", "7".repeat(5000));
    let big_int = {
        use base64::Engine as _;
        let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&json);
        let ts = session_core::codec::base62_encode(now.timestamp());
        // Sign by hand: the codec refuses to build such a value.
        let key = session_core::codec::derive_key(
            session_core::codec::SESSION_SALT,
            &session_core::Secret::new(SECRET),
        );
        use hmac::Mac as _;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
        let signed = format!("{body}:{ts}");
        mac.update(signed.as_bytes());
        let sig =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{signed}:{sig}")
    };
    vec![
        ("not signed at all", "garbage".to_owned()),
        (
            "other secret",
            Settings::new("other")
                .unwrap()
                .session_signer()
                .sign_map(&Map::new(), now),
        ),
        ("_session_expiry = 1e300", with_expiry(Value::from(1e300))),
        ("_session_expiry = -1e300", with_expiry(Value::from(-1e300))),
        (
            "_session_expiry = 9e12",
            with_expiry(Value::from(9_000_000_000_000i64)),
        ),
        ("5000-digit integer", big_int),
    ]
}

async fn store_at(url: &str) -> Option<DbStore> {
    let store = DbStore::connect_with(
        url,
        Settings::new(SECRET).unwrap().session_signer(),
        Arc::new(SystemClock),
        DbOptions {
            table: format!("hostile_{}", &generate_key()[..8]),
            ..DbOptions::default()
        },
    )
    .await;
    match store {
        Ok(s) => {
            s.ensure_schema().await.unwrap();
            Some(s)
        }
        Err(e) => {
            unavailable("db hostile rows", &e);
            None
        }
    }
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_rows_read_as_empty_sessions() {
    let _serial = session_conformance::hostile::serial().await;
    let log = WarningLog::install();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/h.sqlite3", dir.path().display());
    let store = store_at(&url).await.unwrap();
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let table = store.table().to_owned();
    let dyn_store: Arc<DynSessionStore> = Arc::new(store.clone());
    let insert = |data: Vec<u8>, exp: &str, blob: bool| {
        let (pool, table) = (pool.clone(), table.clone());
        let exp = exp.to_owned();
        async move {
            let key = generate_key();
            let sql = format!("INSERT INTO \"{table}\" VALUES (?, ?, ?)");
            let q = sqlx::query(&sql).bind(&key);
            let q = if blob {
                q.bind(data)
            } else {
                q.bind(String::from_utf8(data).unwrap())
            };
            q.bind(exp).execute(&pool).await.unwrap();
            key
        }
    };
    for (label, data) in signed_hostile() {
        let key = insert(data.into_bytes(), "2999-01-01 00:00:00", false).await;
        expect_unreadable(&dyn_store, &key, &format!("sqlite: {label}"), &log).await;
    }
    // A BLOB session_data (Django reads it as unreadable data: an empty session).
    let good = Settings::new(SECRET)
        .unwrap()
        .session_signer()
        .sign_map(&Map::new(), chrono::DateTime::UNIX_EPOCH);
    let key = insert(vec![0xff, 0xfe, 0x00, 0x01], "2999-01-01 00:00:00", true).await;
    expect_unreadable(&dyn_store, &key, "sqlite: BLOB data", &log).await;
    let key = insert(b"\xff\xfe not utf-8".to_vec(), "2999-01-01 00:00:00", true).await;
    expect_unreadable(&dyn_store, &key, "sqlite: non-UTF-8 data", &log).await;
    // An expiry that is not a date at all.
    let key = insert(good.clone().into_bytes(), "9999-99-99 not a date", false).await;
    expect_unreadable(&dyn_store, &key, "sqlite: unreadable expire_date", &log).await;

    // Every date format Django's SQLite adapter reads is a live session, not "no session".
    let mut m = Map::new();
    m.insert("user".into(), Value::from("ada"));
    let data = Settings::new(SECRET)
        .unwrap()
        .session_signer()
        .sign_map(&m, chrono::Utc::now());
    for exp in [
        "2999-01-01T00:00:00",
        "2999-01-01 00:00:00+00:00",
        "2999-01-01T00:00:00.123456+00:00",
        "2999-01-01 00:00:00.5",
    ] {
        let key = insert(data.clone().into_bytes(), exp, false).await;
        let loaded = store_load(&dyn_store, &key).await;
        assert_eq!(
            loaded.get("user"),
            Some(&Value::from("ada")),
            "expire_date {exp:?}"
        );
    }
}

async fn store_load(store: &Arc<DynSessionStore>, key: &str) -> Map {
    store.load(key).await.unwrap().unwrap_or_default()
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_postgres_rows_read_as_empty_sessions() {
    let _serial = session_conformance::hostile::serial().await;
    let log = WarningLog::install();
    let url = service_url(
        "POSTGRES_URL",
        "postgres://postgres:postgres@127.0.0.1:5432/sessions_test",
    );
    let Some(store) = store_at(&url).await else {
        return;
    };
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let table = store.table().to_owned();
    let dyn_store: Arc<DynSessionStore> = Arc::new(store.clone());
    let insert = |data: String, exp: &'static str| {
        let (pool, table) = (pool.clone(), table.clone());
        async move {
            let key = generate_key();
            sqlx::query(&format!(
                "INSERT INTO \"{table}\" VALUES ($1, $2, $3::timestamptz)"
            ))
            .bind(&key)
            .bind(data)
            .bind(exp)
            .execute(&pool)
            .await
            .unwrap();
            key
        }
    };
    for (label, data) in signed_hostile() {
        let key = insert(data, "2999-01-01 00:00:00+00").await;
        expect_unreadable(&dyn_store, &key, &format!("postgres: {label}"), &log).await;
    }
    let good = Settings::new(SECRET)
        .unwrap()
        .session_signer()
        .sign_map(&Map::new(), chrono::DateTime::UNIX_EPOCH);
    for exp in ["infinity", "200000-01-01 00:00:00+00"] {
        let key = insert(good.clone(), exp).await;
        expect_unreadable(
            &dyn_store,
            &key,
            &format!("postgres: expire_date {exp}"),
            &log,
        )
        .await;
        // Tooling reads of the raw row do not panic either.
        assert_eq!(store.raw_row(&key).await.unwrap(), None);
    }
    store.drop_table().await.unwrap();
}
