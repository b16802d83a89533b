//! No resurrection: under every interleaving of save, delete and a miss's refill — in one
//! process and across instances sharing one cache — a deleted session is never served
//! again. Each operation is paused between its database step and its cache step (a gate
//! in front of the cache backend), the other runs, then the first resumes.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use session_cache::backend::memory::{MemoryBound, MemoryCache};
use session_cache::{Cache, CacheBackend, ValueFormat};
use session_cached_db::CachedDbStore;
use session_conformance::{service_url, unavailable};
use session_core::key::generate_key;
use session_core::{
    Clock, Error, Session, SessionConfig, SessionStore, Settings, SystemClock, Value,
};
use session_db::{DbOptions, DbStore};
use tokio::sync::Notify;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// A miss's refill (`add`).
    Refill,
    /// A save's cache write (`set_unless`).
    SaveWrite,
    /// A delete's tombstone (`set`).
    Tombstone,
}

impl Step {
    /// A write of a tombstone is a delete's; of anything else, a save's.
    fn of(value: &[u8]) -> Step {
        if value == ValueFormat::Pickle.tombstone() {
            Step::Tombstone
        } else {
            Step::SaveWrite
        }
    }
}

/// Holds the next cache step of one kind until released.
#[derive(Debug, Default)]
struct Gate {
    armed: Mutex<Option<Step>>,
    reached: Notify,
    release: Notify,
}

impl Gate {
    fn arm(&self, step: Step) {
        *self.armed.lock().unwrap() = Some(step);
    }
    /// Waits until the armed step is reached (bounded: a step never reached fails the test).
    async fn wait(&self) {
        tokio::time::timeout(std::time::Duration::from_secs(10), self.reached.notified())
            .await
            .expect("the paused operation never reached its cache step");
    }
    async fn pass(&self, step: Step) {
        let hold = {
            let mut armed = self.armed.lock().unwrap();
            if *armed == Some(step) {
                *armed = None;
                true
            } else {
                false
            }
        };
        if hold {
            self.reached.notify_one();
            self.release.notified().await;
        }
    }
}

#[derive(Debug)]
struct Gated {
    inner: Arc<dyn CacheBackend>,
    gate: Arc<Gate>,
}

#[async_trait]
impl CacheBackend for Gated {
    fn kind(&self) -> &'static str {
        "gated"
    }
    fn is_in_process(&self) -> bool {
        self.inner.is_in_process()
    }
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        self.inner.get(key).await
    }
    async fn add(&self, key: &str, value: &[u8], ttl: u64) -> Result<bool, Error> {
        self.gate.pass(Step::Refill).await;
        self.inner.add(key, value, ttl).await
    }
    async fn replace(&self, key: &str, value: &[u8], ttl: u64) -> Result<bool, Error> {
        self.inner.replace(key, value, ttl).await
    }
    async fn set(&self, key: &str, value: &[u8], ttl: u64) -> Result<(), Error> {
        self.gate.pass(Step::of(value)).await;
        self.inner.set(key, value, ttl).await
    }
    async fn set_unless(
        &self,
        key: &str,
        value: &[u8],
        ttl: u64,
        guard: &[u8],
    ) -> Result<bool, Error> {
        self.gate.pass(Step::of(value)).await;
        self.inner.set_unless(key, value, ttl, guard).await
    }
    async fn delete(&self, key: &str) -> Result<bool, Error> {
        self.inner.delete(key).await
    }
    async fn exists(&self, key: &str) -> Result<bool, Error> {
        self.inner.exists(key).await
    }
}

/// Two instances over one database and one cache: `paused` has the gate, `other` does not.
struct Pair {
    paused: Arc<CachedDbStore>,
    other: Arc<CachedDbStore>,
    gate: Arc<Gate>,
    _dir: tempfile::TempDir,
}

async fn db(path: &std::path::Path) -> DbStore {
    let db = DbStore::connect_with(
        &format!("sqlite://{}", path.display()),
        Settings::new("races-secret").unwrap().session_signer(),
        Arc::new(SystemClock) as Arc<dyn Clock>,
        DbOptions::default(),
    )
    .await
    .unwrap();
    db.ensure_schema().await.unwrap();
    db
}

/// `second` is the other instance's view of the same cache (the same in-process cache, or its own
/// connection to the same Redis).
async fn pair(first: Arc<dyn CacheBackend>, second: Arc<dyn CacheBackend>, prefix: &str) -> Pair {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let gate = Arc::new(Gate::default());
    let gated = Arc::new(Gated {
        inner: first,
        gate: gate.clone(),
    });
    let make = |db: DbStore, backend: Arc<dyn CacheBackend>| {
        Arc::new(CachedDbStore::new(
            db,
            Cache::new(backend, prefix, 1),
            ValueFormat::Pickle,
            None,
        ))
    };
    Pair {
        paused: make(db(&path).await, gated),
        other: make(db(&path).await, second),
        gate,
        _dir: dir,
    }
}

async fn create(store: &Arc<CachedDbStore>) -> String {
    let mut s = Session::new(store.clone(), SessionConfig::default(), None);
    s.insert_value("user", "ada").await.unwrap();
    s.save(false).await.unwrap();
    s.session_key().unwrap().to_owned()
}

async fn save(store: Arc<CachedDbStore>, key: String) -> Result<(), Error> {
    let mut s = Session::new(store, SessionConfig::default(), Some(&key));
    s.insert_value("n", 1).await?;
    s.save(false).await
}

async fn assert_gone(p: &Pair, key: &str, case: &str) {
    for (name, store) in [("paused", &p.paused), ("other", &p.other)] {
        // Twice: the first read may refill, the second is served from the cache.
        for round in 0..2 {
            assert_eq!(
                store.load(key).await.unwrap(),
                None,
                "{case}: the deleted session was served again by the {name} instance (read {round})"
            );
        }
    }
    let raw = p.other.cache().get(&p.other.cache_key(key)).await.unwrap();
    assert!(
        raw.is_none() || raw.as_deref() == Some(ValueFormat::Pickle.tombstone()),
        "{case}: the cache holds a live copy"
    );
}

async fn every_interleaving(make: impl AsyncFn() -> Pair, label: &str) {
    // A save's database step, then the whole delete, then the save's cache step.
    let p = make().await;
    let key = create(&p.other).await;
    p.gate.arm(Step::SaveWrite);
    let task = tokio::spawn(save(p.paused.clone(), key.clone()));
    p.gate.wait().await;
    p.other.delete(&key).await.unwrap();
    p.gate.release.notify_one();
    task.await
        .unwrap()
        .expect("the save's UPDATE ran before the delete");
    assert_gone(&p, &key, &format!("{label}: save | delete")).await;

    // A miss's SELECT, then the whole delete, then the refill.
    let p = make().await;
    let key = create(&p.other).await;
    p.other
        .cache()
        .delete(&p.other.cache_key(&key))
        .await
        .unwrap();
    p.gate.arm(Step::Refill);
    let paused = p.paused.clone();
    let k = key.clone();
    let task = tokio::spawn(async move { paused.load(&k).await });
    p.gate.wait().await;
    p.other.delete(&key).await.unwrap();
    p.gate.release.notify_one();
    assert!(
        task.await.unwrap().unwrap().is_some(),
        "the SELECT ran before the delete"
    );
    assert_gone(&p, &key, &format!("{label}: refill | delete")).await;

    // A delete's database step, then a whole save (Gone), then the tombstone.
    let p = make().await;
    let key = create(&p.other).await;
    p.gate.arm(Step::Tombstone);
    let paused = p.paused.clone();
    let k = key.clone();
    let task = tokio::spawn(async move { paused.delete(&k).await });
    p.gate.wait().await;
    assert!(matches!(
        save(p.other.clone(), key.clone()).await,
        Err(Error::Gone)
    ));
    p.gate.release.notify_one();
    task.await.unwrap().unwrap();
    assert_gone(&p, &key, &format!("{label}: delete | save")).await;

    // A delete's database step, then a miss on the other instance, then the tombstone.
    let p = make().await;
    let key = create(&p.other).await;
    p.other
        .cache()
        .delete(&p.other.cache_key(&key))
        .await
        .unwrap();
    p.gate.arm(Step::Tombstone);
    let paused = p.paused.clone();
    let k = key.clone();
    let task = tokio::spawn(async move { paused.delete(&k).await });
    p.gate.wait().await;
    assert_eq!(p.other.load(&key).await.unwrap(), None);
    p.gate.release.notify_one();
    task.await.unwrap().unwrap();
    assert_gone(&p, &key, &format!("{label}: delete | refill")).await;
}

#[tokio::test]
async fn no_interleaving_brings_a_deleted_session_back_in_process() {
    every_interleaving(
        async || {
            let memory: Arc<dyn CacheBackend> =
                Arc::new(MemoryCache::new(MemoryBound::Entries(1000)));
            pair(memory.clone(), memory, "").await
        },
        "memory",
    )
    .await;
}

fn redis_url() -> String {
    service_url("REDIS_URL", "redis://127.0.0.1:6379/0")
}

async fn redis_backend() -> Option<Arc<dyn CacheBackend>> {
    match session_cache::backend::connect(&redis_url()).await {
        Ok(b) => Some(b),
        Err(e) => {
            unavailable("cached_db races on redis", &e);
            None
        }
    }
}

#[tokio::test]
async fn no_interleaving_brings_a_deleted_session_back_across_instances() {
    if redis_backend().await.is_none() {
        return;
    }
    every_interleaving(
        async || {
            let prefix = format!("race{}", &generate_key()[..8]);
            let (a, b) = (
                redis_backend().await.unwrap(),
                redis_backend().await.unwrap(),
            );
            pair(a, b, &prefix).await
        },
        "redis, two instances",
    )
    .await;
}

/// 16 requests modify one session on two instances while a logout lands among them; over
/// many rounds the deleted session is never readable afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_saves_never_undo_a_logout() {
    let Some(_) = redis_backend().await else {
        return;
    };
    for round in 0..30 {
        let prefix = format!("rl{}", &generate_key()[..8]);
        let p = pair(
            redis_backend().await.unwrap(),
            redis_backend().await.unwrap(),
            &prefix,
        )
        .await;
        let key = create(&p.other).await;
        let mut tasks = Vec::new();
        for i in 0..16 {
            let store = if i % 2 == 0 {
                p.paused.clone()
            } else {
                p.other.clone()
            };
            tasks.push(tokio::spawn(save(store, key.clone())));
            if i == 8 {
                let store = p.other.clone();
                let k = key.clone();
                tasks.push(tokio::spawn(async move { store.delete(&k).await }));
            }
        }
        for t in tasks {
            match t.await.unwrap() {
                Ok(()) | Err(Error::Gone) => {}
                Err(e) => panic!("round {round}: {e}"),
            }
        }
        assert_gone(&p, &key, &format!("round {round}")).await;
        let mut s = Session::new(p.other.clone(), SessionConfig::default(), Some(&key));
        assert_eq!(s.get_value("user").await.unwrap(), None::<Value>);
    }
}
