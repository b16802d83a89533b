//! The user index's own rules: a session it never saw is refused after a log-out-everywhere
//! of its user unless saved after it; a user change on the same key is followed.

use std::sync::Arc;

use session_core::memory::MemoryStore;
use session_core::users::{IndexedStore, MemoryUserIndex};
use session_core::{
    DynSessionStore, ExpiryPolicy, ManualClock, Session, SessionConfig, SessionStore, Value,
};

fn setup() -> (
    ManualClock,
    Arc<MemoryStore>,
    Arc<IndexedStore>,
    SessionConfig,
) {
    let clock = ManualClock::at_unix(1_800_000_000.0);
    let inner = Arc::new(MemoryStore::with_clock(Arc::new(clock.clone())));
    let store = Arc::new(IndexedStore::new(
        inner.clone(),
        Arc::new(MemoryUserIndex::default()),
        ExpiryPolicy::default(),
        Arc::new(clock.clone()),
    ));
    let config = SessionConfig::default().with_clock(Arc::new(clock.clone()));
    (clock, inner, store, config)
}

async fn login(store: Arc<DynSessionStore>, config: &SessionConfig, user: &str) -> String {
    let mut s = Session::new(store, config.clone(), None);
    s.insert_value("_auth_user_id", Value::from(user))
        .await
        .unwrap();
    s.save(false).await.unwrap();
    s.session_key().unwrap().to_owned()
}

#[tokio::test]
async fn a_session_the_index_never_saw_is_refused_after_a_log_out_everywhere() {
    let (clock, inner, store, config) = setup();
    // Made behind the index's back (as Django does), never read through it.
    let unseen = login(inner.clone(), &config, "7").await;
    clock.advance_secs(10);
    assert_eq!(store.log_out_everywhere("7", None).await.unwrap(), Some(0));
    assert!(
        store.load(&unseen).await.unwrap().is_none(),
        "refused on its first read"
    );
    assert!(!inner.exists(&unseen).await.unwrap(), "and deleted");
    // A login after the log-out, made behind the index's back too, is accepted.
    clock.advance_secs(2);
    let later = login(inner.clone(), &config, "7").await;
    assert!(store.load(&later).await.unwrap().is_some());
    assert_eq!(store.sessions_of("7").await.unwrap(), Some(vec![later]));
}

#[tokio::test]
async fn a_new_user_on_the_same_key_is_indexed_again() {
    let (_clock, _inner, store, config) = setup();
    let key = login(store.clone(), &config, "1").await;
    let mut s = Session::new(store.clone(), config.clone(), Some(&key));
    s.insert_value("_auth_user_id", Value::from("2"))
        .await
        .unwrap();
    s.save(false).await.unwrap();
    assert_eq!(
        store.sessions_of("2").await.unwrap(),
        Some(vec![key.clone()])
    );
    assert_eq!(
        store.sessions_of("1").await.unwrap(),
        Some(vec![]),
        "pruned from the old user"
    );
    assert_eq!(store.log_out_everywhere("2", None).await.unwrap(), Some(1));
    assert!(store.load(&key).await.unwrap().is_none());
}
