//! The migration store's own rules: copy forward on first read, the claim that keeps an old
//! copy from coming back, keep/delete, moving back, and a logout racing a first read.

use std::sync::Arc;

use async_trait::async_trait;
use session_core::memory::MemoryStore;
use session_core::migrate::{MOVED_KEY, MigratingStore, Moved, OldCopies};
use session_core::{
    DynSessionStore, Error, KeyPage, Map, Record, Session, SessionConfig, SessionStore, Value,
};

async fn saved(store: Arc<DynSessionStore>, user: i64) -> String {
    let mut s = Session::new(store, SessionConfig::default(), None);
    s.insert_value("user", user).await.unwrap();
    s.save(false).await.unwrap();
    s.session_key().unwrap().to_owned()
}

fn pair(mode: OldCopies) -> (Arc<MemoryStore>, Arc<MemoryStore>, Arc<MigratingStore>) {
    let (old, new) = (
        Arc::new(MemoryStore::default()),
        Arc::new(MemoryStore::default()),
    );
    let m = Arc::new(MigratingStore::new(
        new.clone(),
        old.clone(),
        mode,
        SessionConfig::default(),
    ));
    (old, new, m)
}

#[tokio::test]
async fn a_first_read_copies_forward_with_the_old_expiry_and_claims_the_old_record() {
    let (old, new, m) = pair(OldCopies::Keep);
    let key = saved(old.clone(), 7).await;
    let (_, old_expiry) = old.load_with_expiry(&key).await.unwrap().unwrap();
    let data = m.load(&key).await.unwrap().unwrap();
    assert_eq!(data.get("user"), Some(&Value::from(7)));
    assert!(data.get(MOVED_KEY).is_none(), "the copy carries no claim");
    let (copy, copy_expiry) = new.load_with_expiry(&key).await.unwrap().unwrap();
    assert_eq!(copy, data);
    assert_eq!(copy_expiry, old_expiry, "the session keeps its lifetime");
    // Keep: the old record stays readable (a Django app still on it keeps its user), claimed.
    let (kept, _) = old.load_with_expiry(&key).await.unwrap().unwrap();
    assert_eq!(kept.get("user"), Some(&Value::from(7)));
    assert_eq!(kept.get(MOVED_KEY), Some(&Value::from(key.as_str())));
    // Writes go to the new engine only.
    let mut s = Session::new(m.clone(), SessionConfig::default(), Some(&key));
    s.insert_value("cart", 3).await.unwrap();
    s.save(false).await.unwrap();
    assert_eq!(
        new.load(&key).await.unwrap().unwrap().get("cart"),
        Some(&Value::from(3))
    );
    assert!(old.load(&key).await.unwrap().unwrap().get("cart").is_none());
}

#[tokio::test]
async fn a_moved_session_never_comes_back_from_the_old_engine() {
    let (old, new, m) = pair(OldCopies::Keep);
    let key = saved(old.clone(), 1).await;
    assert!(m.load(&key).await.unwrap().is_some());
    // The new copy disappears without a delete through the store (eviction, expiry).
    new.delete(&key).await.unwrap();
    assert_eq!(
        m.load(&key).await.unwrap(),
        None,
        "the claimed old copy is not revived"
    );
    assert_eq!(m.migrate_key(&key).await.unwrap(), Moved::Nothing);
    // A logout through the store removes both.
    let other = saved(old.clone(), 2).await;
    assert!(m.load(&other).await.unwrap().is_some());
    m.delete(&other).await.unwrap();
    assert!(!old.exists(&other).await.unwrap() && !new.exists(&other).await.unwrap());
    assert_eq!(m.load(&other).await.unwrap(), None);
}

#[tokio::test]
async fn delete_mode_removes_the_old_record_after_the_copy() {
    let (old, new, m) = pair(OldCopies::Delete);
    let key = saved(old.clone(), 5).await;
    assert_eq!(m.migrate_key(&key).await.unwrap(), Moved::Copied);
    assert!(!old.exists(&key).await.unwrap());
    assert_eq!(
        new.load(&key).await.unwrap().unwrap().get("user"),
        Some(&Value::from(5))
    );
    assert_eq!(m.migrate_key(&key).await.unwrap(), Moved::AlreadyThere);
}

#[tokio::test]
async fn a_newer_session_on_the_target_is_never_overwritten() {
    let (old, new, m) = pair(OldCopies::Keep);
    let key = saved(old.clone(), 1).await;
    let mut newer = Map::new();
    newer.insert("user".into(), Value::from(99));
    let (at, age) = SessionConfig::default().expiry_for_save(&newer);
    new.create(&Record {
        key: &key,
        data: &std::sync::Arc::new(newer),
        expires_at: at,
        max_age: age,
    })
    .await
    .unwrap();
    assert_eq!(m.migrate_key(&key).await.unwrap(), Moved::AlreadyThere);
    assert_eq!(
        m.load(&key).await.unwrap().unwrap().get("user"),
        Some(&Value::from(99))
    );
    assert!(
        old.load(&key)
            .await
            .unwrap()
            .unwrap()
            .get(MOVED_KEY)
            .is_none(),
        "untouched"
    );
}

#[tokio::test]
async fn moving_back_replaces_the_claimed_leftovers() {
    let (a, b, forward) = pair(OldCopies::Keep);
    let key = saved(a.clone(), 1).await;
    assert_eq!(forward.migrate_key(&key).await.unwrap(), Moved::Copied);
    let mut s = Session::new(forward.clone(), SessionConfig::default(), Some(&key));
    s.insert_value("user", 2).await.unwrap();
    s.save(false).await.unwrap();
    // Back from b to a: a holds a claimed (stale) record under the key.
    let back = Arc::new(MigratingStore::new(
        a.clone(),
        b.clone(),
        OldCopies::Keep,
        SessionConfig::default(),
    ));
    assert_eq!(
        back.load(&key).await.unwrap().unwrap().get("user"),
        Some(&Value::from(2))
    );
    let now_in_a = a.load(&key).await.unwrap().unwrap();
    assert_eq!(now_in_a.get("user"), Some(&Value::from(2)));
    assert!(
        now_in_a.get(MOVED_KEY).is_none(),
        "the leftover was replaced"
    );
    assert_eq!(back.migrate_key(&key).await.unwrap(), Moved::AlreadyThere);
}

/// An old engine where a concurrent logout lands between the copy and the claim.
#[derive(Debug)]
struct LogoutDuringCopy(Arc<MemoryStore>);

#[async_trait]
impl SessionStore for LogoutDuringCopy {
    fn engine_name(&self) -> &'static str {
        "racing"
    }
    fn stores_data_in_cookie(&self) -> bool {
        false
    }
    async fn load(&self, key: &str) -> Result<Option<Map>, Error> {
        self.0.load(key).await
    }
    async fn load_with_expiry(
        &self,
        key: &str,
    ) -> Result<Option<(Map, Option<chrono::DateTime<chrono::Utc>>)>, Error> {
        self.0.load_with_expiry(key).await
    }
    async fn exists(&self, key: &str) -> Result<bool, Error> {
        self.0.exists(key).await
    }
    async fn create(&self, record: &Record<'_>) -> Result<String, Error> {
        self.0.create(record).await
    }
    async fn save(&self, record: &Record<'_>) -> Result<String, Error> {
        // The other request's delete commits just before our claim.
        self.0.delete(record.key).await?;
        self.0.save(record).await
    }
    async fn delete(&self, key: &str) -> Result<(), Error> {
        self.0.delete(key).await
    }
    async fn clear_expired(&self) -> Result<Option<u64>, Error> {
        Ok(Some(0))
    }
    async fn list_keys(&self, c: Option<&str>, n: usize) -> Result<Option<KeyPage>, Error> {
        self.0.list_keys(c, n).await
    }
}

#[tokio::test]
async fn a_logout_racing_a_first_read_wins() {
    let old = Arc::new(MemoryStore::default());
    let key = saved(old.clone(), 1).await;
    let new = Arc::new(MemoryStore::default());
    let m = MigratingStore::new(
        new.clone(),
        Arc::new(LogoutDuringCopy(old.clone())),
        OldCopies::Keep,
        SessionConfig::default(),
    );
    assert_eq!(
        m.load(&key).await.unwrap(),
        None,
        "the logged-out session is not served"
    );
    assert!(!new.exists(&key).await.unwrap(), "and its copy was undone");
}

#[tokio::test]
async fn pages_list_every_key_once() {
    let (old, _new, m) = pair(OldCopies::Keep);
    assert!(m.check().is_ok());
    let mut keys = Vec::new();
    for i in 0..25 {
        keys.push(saved(old.clone(), i).await);
    }
    keys.sort();
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = old.list_keys(cursor.as_deref(), 10).await.unwrap().unwrap();
        seen.extend(page.keys);
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, keys);
}
