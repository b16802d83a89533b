//! `SESSION_USER_INDEX`: off by default; on, every engine that can keep one does; refused
//! where it cannot work.

use session_core::{Session, SessionConfig, Settings, Value};

#[tokio::test]
async fn the_user_index_is_a_setting_refused_where_impossible() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("s.sqlite3").display());
    let build = |pairs: Vec<(&'static str, String)>| {
        let mut all = vec![
            ("SECRET_KEY", "index-secret".to_owned()),
            ("DATABASE_URL", db.clone()),
        ];
        all.extend(pairs);
        async move {
            let s = Settings::from_pairs(all.iter().map(|(k, v)| (*k, v.as_str()))).unwrap();
            session_registry::build_store(&s).await
        }
    };
    let plain = build(vec![]).await.unwrap();
    assert_eq!(
        plain.sessions_of("1").await.unwrap(),
        None,
        "off by default"
    );
    let indexed = build(vec![("SESSION_USER_INDEX", "true".into())])
        .await
        .unwrap();
    let mut s = Session::new(indexed.clone(), SessionConfig::default(), None);
    s.insert_value("_auth_user_id", Value::from("1"))
        .await
        .unwrap();
    s.save(false).await.unwrap();
    assert_eq!(
        indexed.sessions_of("1").await.unwrap(),
        Some(vec![s.session_key().unwrap().to_owned()])
    );
    for (engine, extra) in [
        ("signed_cookies", vec![]),
        (
            "cache",
            vec![("CACHE_URL", "memcached://127.0.0.1:1".to_owned())],
        ),
    ] {
        let mut pairs = vec![
            ("SESSION_ENGINE", engine.to_owned()),
            ("SESSION_USER_INDEX", "true".to_owned()),
        ];
        pairs.extend(extra);
        let err = build(pairs).await.unwrap_err().to_string();
        assert!(
            err.contains("SESSION_USER_INDEX") || err.contains("Memcached"),
            "{engine}: {err}"
        );
    }
}
