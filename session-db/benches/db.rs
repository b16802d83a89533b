//! db engine speed on SQLite and PostgreSQL: create, load, load + modify + save, beside the
//! floor — a raw sqlx `SELECT` + `UPDATE` by primary key on an identically configured pool.
#![allow(missing_docs)]

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use session_core::key::generate_key;
use session_core::{Session, SessionConfig, Settings, SystemClock};
use session_db::{DbOptions, DbStore};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pg = std::env::var("POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/sessions_test".into());
    let targets = [
        (
            "sqlite",
            format!("sqlite://{}/bench.sqlite3", dir.path().display()),
        ),
        ("postgres", pg),
    ];
    let settings = Settings::new("bench-secret").unwrap();
    for (name, url) in targets {
        let table = format!("bench_{}", &generate_key()[..8]);
        let options = DbOptions {
            table: table.clone(),
            ..DbOptions::default()
        };
        let Ok(store) = rt.block_on(DbStore::connect_with(
            &url,
            settings.session_signer(),
            Arc::new(SystemClock),
            options,
        )) else {
            eprintln!("skipping {name}: unreachable");
            continue;
        };
        rt.block_on(store.ensure_schema()).unwrap();
        let store = Arc::new(store);
        let config = SessionConfig::default();
        let key = rt.block_on(async {
            let mut s = Session::new(store.clone(), config.clone(), None);
            s.insert_value("num_visits", 1).await.unwrap();
            s.save(false).await.unwrap();
            s.session_key().unwrap().to_owned()
        });
        let mut group = c.benchmark_group(format!("db/{name}"));
        group.bench_function("create", |b| {
            b.to_async(&rt).iter(|| async {
                let mut s = Session::new(store.clone(), config.clone(), None);
                s.insert_value("num_visits", 1).await.unwrap();
                s.save(false).await.unwrap();
            })
        });
        group.bench_function("load", |b| {
            b.to_async(&rt).iter(|| async {
                let mut s = Session::new(store.clone(), config.clone(), Some(&key));
                s.get_value("num_visits").await.unwrap();
            })
        });
        group.bench_function("load_modify_save", |b| {
            b.to_async(&rt).iter(|| async {
                let mut s = Session::new(store.clone(), config.clone(), Some(&key));
                let n = s.get::<i64>("num_visits").await.unwrap().unwrap_or(0);
                s.insert_value("num_visits", n + 1).await.unwrap();
                s.save(false).await.unwrap();
            })
        });
        // The floor: the same two statements by primary key, no session logic or signing.
        let data = "eyJudW1fdmlzaXRzIjoxfQ:1vbVSP:X2vfQscbOej0ZIfOgNOC1r4J6Nvy69yIezgU_L6cWLM";
        if name == "sqlite" {
            let pool = rt
                .block_on(
                    sqlx::sqlite::SqlitePoolOptions::new()
                        .max_connections(10)
                        .connect(&url),
                )
                .unwrap();
            let select = format!(
                "SELECT session_data FROM \"{table}\" WHERE session_key = ? AND expire_date > ?"
            );
            let update = format!(
                "UPDATE \"{table}\" SET session_data = ?, expire_date = ? WHERE session_key = ?"
            );
            group.bench_function("floor_select_update", |b| {
                b.to_async(&rt).iter(|| async {
                    let _: Option<String> = sqlx::query_scalar(&select)
                        .bind(&key)
                        .bind("2000-01-01 00:00:00")
                        .fetch_optional(&pool)
                        .await
                        .unwrap();
                    sqlx::query(&update)
                        .bind(data)
                        .bind("2100-01-01 00:00:00")
                        .bind(&key)
                        .execute(&pool)
                        .await
                        .unwrap();
                })
            });
        } else {
            let pool = rt
                .block_on(
                    sqlx::postgres::PgPoolOptions::new()
                        .max_connections(10)
                        .connect(&url),
                )
                .unwrap();
            let select = format!(
                "SELECT session_data FROM \"{table}\" WHERE session_key = $1 AND expire_date > $2"
            );
            let update = format!(
                "UPDATE \"{table}\" SET session_data = $1, expire_date = $2 WHERE session_key = $3"
            );
            let now = chrono::Utc::now();
            group.bench_function("floor_select_update", |b| {
                b.to_async(&rt).iter(|| async {
                    let _: Option<String> = sqlx::query_scalar(&select)
                        .bind(&key)
                        .bind(now)
                        .fetch_optional(&pool)
                        .await
                        .unwrap();
                    sqlx::query(&update)
                        .bind(data)
                        .bind(now)
                        .bind(&key)
                        .execute(&pool)
                        .await
                        .unwrap();
                })
            });
        }
        group.finish();
        rt.block_on(store.drop_table()).unwrap();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
