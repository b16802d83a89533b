//! `cargo bench -p session-db --bench clear_under_load [-- ROWS]`: what a large
//! `clear_expired` on SQLite does to live traffic. 8 clients load + save their sessions for
//! a few seconds, once alone and once while 1 000 000 expired rows (ROWS) are cleared in
//! batches; prints both p99 latencies, their ratio and the error counts (the goal: a ratio of
//! at most 2 and no error).

use std::sync::Arc;
use std::time::{Duration, Instant};

use session_core::{Clock, Session, SessionConfig, Settings, SystemClock};
use session_db::{DbOptions, DbStore};

async fn traffic(store: Arc<DbStore>, keys: Vec<String>, until: Instant) -> (Vec<Duration>, u64) {
    let mut times = Vec::new();
    let mut errors = 0;
    let mut i = 0;
    while Instant::now() < until {
        let key = &keys[i % keys.len()];
        i += 1;
        let t = Instant::now();
        let mut s = Session::new(store.clone(), SessionConfig::default(), Some(key));
        let n: i64 = s.get("n").await.ok().flatten().unwrap_or(0);
        let ok = s.insert("n", &(n + 1)).await.is_ok() && s.save(false).await.is_ok();
        if !ok {
            errors += 1;
        }
        times.push(t.elapsed());
    }
    (times, errors)
}

async fn measure(store: &Arc<DbStore>, keys: &[String], secs: u64) -> (Duration, u64, usize) {
    let until = Instant::now() + Duration::from_secs(secs);
    let tasks: Vec<_> = keys
        .chunks(keys.len() / 8)
        .map(|c| tokio::spawn(traffic(store.clone(), c.to_vec(), until)))
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (times, e) = t.await.unwrap();
        all.extend(times);
        errors += e;
    }
    all.sort();
    (all[all.len() * 99 / 100], errors, all.len())
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs a small smoke version.
    let bench = std::env::args().any(|a| a == "--bench");
    let rows: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(if bench { 1_000_000 } else { 2_000 });
    let secs = if bench { 4 } else { 1 };
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/clear.sqlite3", dir.path().display());
    let settings = Settings::new("bench-secret").unwrap();
    let store = Arc::new(
        DbStore::connect_with(
            &url,
            settings.session_signer(),
            Arc::new(SystemClock) as Arc<dyn Clock>,
            DbOptions::default(),
        )
        .await
        .unwrap(),
    );
    store.ensure_schema().await.unwrap();
    let mut keys = Vec::new();
    for _ in 0..64 {
        let mut s = Session::new(store.clone(), SessionConfig::default(), None);
        s.insert("n", &0).await.unwrap();
        s.save(false).await.unwrap();
        keys.push(s.session_key().unwrap().to_owned());
    }
    let (alone, alone_errors, alone_n) = measure(&store, &keys, secs).await;
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) \
         INSERT INTO django_session SELECT printf('expired%025d', i), 'x', '2000-01-01 00:00:00' FROM n",
    )
    .bind(i64::try_from(rows).unwrap())
    .execute(&pool)
    .await
    .unwrap();
    let clearing = {
        let store = store.clone();
        tokio::spawn(async move {
            let t = Instant::now();
            let n = store.clear_expired_with_progress(&|_| {}).await.unwrap();
            (n, t.elapsed())
        })
    };
    let (during, during_errors, during_n) = measure(&store, &keys, secs).await;
    let (cleared, took) = clearing.await.unwrap();
    println!("sqlite clear_expired under 8 clients ({rows} expired rows):");
    println!("  alone:  p99 {alone:?} over {alone_n} requests, {alone_errors} errors");
    println!("  during: p99 {during:?} over {during_n} requests, {during_errors} errors");
    println!(
        "  cleared {cleared} rows in {took:?}; p99 ratio {:.2}",
        during.as_secs_f64() / alone.as_secs_f64()
    );
}
