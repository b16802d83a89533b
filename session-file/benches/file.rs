//! File engine speed: create, load, load + modify + save (with and without fsync), beside the
//! floor — a plain read, then a temp-file write and rename of the same bytes.
#![allow(missing_docs)]

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use session_core::{Session, SessionConfig, Settings};
use session_file::FileStore;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::new("bench-secret").unwrap();
    settings.file_path = Some(dir.path().to_path_buf());
    let config = SessionConfig::from_settings(&settings);
    let mut group = c.benchmark_group("file");
    for durable in [false, true] {
        let store = Arc::new(
            FileStore::from_settings(&settings)
                .unwrap()
                .with_durability(durable),
        );
        let tag = if durable { "fsync" } else { "no_fsync" };
        let key = rt.block_on(async {
            let mut s = Session::new(store.clone(), config.clone(), None);
            s.insert_value("num_visits", 1).await.unwrap();
            s.save(false).await.unwrap();
            s.session_key().unwrap().to_owned()
        });
        group.bench_function(format!("create/{tag}"), |b| {
            b.to_async(&rt).iter(|| async {
                let mut s = Session::new(store.clone(), config.clone(), None);
                s.insert_value("num_visits", 1).await.unwrap();
                s.save(false).await.unwrap();
            })
        });
        group.bench_function(format!("load_modify_save/{tag}"), |b| {
            b.to_async(&rt).iter(|| async {
                let mut s = Session::new(store.clone(), config.clone(), Some(&key));
                let n = s.get::<i64>("num_visits").await.unwrap().unwrap_or(0);
                s.insert_value("num_visits", n + 1).await.unwrap();
                s.save(false).await.unwrap();
            })
        });
        if !durable {
            group.bench_function("load", |b| {
                b.to_async(&rt).iter(|| async {
                    let mut s = Session::new(store.clone(), config.clone(), Some(&key));
                    s.get_value("num_visits").await.unwrap();
                })
            });
            let path = dir.path().join(format!("sessionid{key}"));
            let tmp = dir.path().join("floor_tmp");
            group.bench_function("floor_read_write_rename", |b| {
                b.to_async(&rt).iter(|| {
                    let (path, tmp) = (path.clone(), tmp.clone());
                    async move {
                        tokio::task::spawn_blocking(move || {
                            let bytes = std::fs::read(&path).unwrap();
                            std::fs::write(&tmp, &bytes).unwrap();
                            std::fs::rename(&tmp, &path).unwrap();
                        })
                        .await
                        .unwrap()
                    }
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
