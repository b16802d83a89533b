//! The suite validates itself: it passes on the in-memory reference engine and catches
//! engines that break the contract.

use std::sync::Arc;

use async_trait::async_trait;
use session_conformance::{Capabilities, Harness, Status};
use session_core::memory::MemoryStore;
use session_core::{Clock, DynSessionStore, Error, Map, Record, SessionStore};

fn memory_harness() -> Harness {
    Harness::new(
        "memory",
        Capabilities::SERVER_SIDE,
        |clock: Arc<dyn Clock>| async move {
            Ok(Arc::new(MemoryStore::with_clock(clock)) as Arc<DynSessionStore>)
        },
    )
}

#[tokio::test]
async fn reference_engine_passes_every_case() {
    let report = memory_harness().run_and_assert().await;
    assert_eq!(
        report.skipped, 7,
        "only the data-in-cookie cases, the size-bound case and the user-index cases are skipped"
    );
    assert!(report.passed >= 48);
}

/// The reference engine with the in-memory user index: every case runs but the cookie and
/// size-bound ones.
#[tokio::test]
async fn reference_engine_with_a_user_index_passes_every_case() {
    let report = Harness::new(
        "memory-indexed",
        Capabilities {
            user_index: true,
            ..Capabilities::SERVER_SIDE
        },
        |clock: Arc<dyn Clock>| async move {
            Ok(Arc::new(session_core::users::IndexedStore::new(
                Arc::new(MemoryStore::with_clock(clock.clone())),
                Arc::new(session_core::users::MemoryUserIndex::default()),
                session_core::ExpiryPolicy::default(),
                clock,
            )) as Arc<DynSessionStore>)
        },
    )
    .run_and_assert()
    .await;
    assert_eq!(report.skipped, 3);
}

#[derive(Debug, Clone, Copy)]
enum Bug {
    /// `save` inserts when the record is missing (brings back deleted sessions).
    SaveUpserts,
    /// `load` ignores the expiry date.
    IgnoresExpiry,
    /// `create` overwrites an existing record.
    CreateOverwrites,
    /// `delete` does nothing.
    DeleteIsNoop,
}

#[derive(Debug)]
struct Mutant {
    inner: MemoryStore,
    bug: Bug,
}

#[async_trait]
impl SessionStore for Mutant {
    fn engine_name(&self) -> &'static str {
        "mutant"
    }
    fn stores_data_in_cookie(&self) -> bool {
        false
    }
    async fn load(&self, key: &str) -> Result<Option<Map>, Error> {
        self.inner.load(key).await
    }
    async fn exists(&self, key: &str) -> Result<bool, Error> {
        self.inner.exists(key).await
    }
    async fn create(&self, record: &Record<'_>) -> Result<String, Error> {
        if let Bug::CreateOverwrites = self.bug {
            self.inner.delete(record.key).await?;
        }
        self.inner.create(record).await
    }
    async fn save(&self, record: &Record<'_>) -> Result<String, Error> {
        match (self.bug, self.inner.save(record).await) {
            (Bug::SaveUpserts, Err(Error::Gone)) => self.inner.create(record).await,
            (_, r) => r,
        }
    }
    async fn delete(&self, key: &str) -> Result<(), Error> {
        if let Bug::DeleteIsNoop = self.bug {
            return Ok(());
        }
        self.inner.delete(key).await
    }
    async fn clear_expired(&self) -> Result<Option<u64>, Error> {
        self.inner.clear_expired().await
    }
}

async fn run_mutant(bug: Bug) -> session_conformance::Report {
    Harness::new(
        format!("mutant-{bug:?}"),
        Capabilities::SERVER_SIDE,
        move |clock: Arc<dyn Clock>| async move {
            // The expiry-ignoring mutant judges expiry by a clock stuck at the Unix epoch, so
            // nothing it holds ever looks expired.
            let clock = match bug {
                Bug::IgnoresExpiry => Arc::new(session_core::ManualClock::at_unix(0.0)),
                _ => clock,
            };
            Ok(Arc::new(Mutant {
                inner: MemoryStore::with_clock(clock),
                bug,
            }) as Arc<DynSessionStore>)
        },
    )
    .run()
    .await
}

#[tokio::test]
async fn upserting_save_fails_no_resurrection() {
    let r = run_mutant(Bug::SaveUpserts).await;
    assert_eq!(
        r.status_of("save_does_not_resurrect_session_deleted_elsewhere"),
        Some(Status::Failed)
    );
    assert_eq!(
        r.status_of("store_save_of_missing_record_is_gone"),
        Some(Status::Failed)
    );
}

#[tokio::test]
async fn expiry_ignoring_load_fails_expiry_cases() {
    let r = run_mutant(Bug::IgnoresExpiry).await;
    assert_eq!(r.status_of("actual_expiry"), Some(Status::Failed));
    assert_eq!(r.status_of("expiry_boundaries"), Some(Status::Failed));
}

#[tokio::test]
async fn overwriting_create_fails_collision_case() {
    let r = run_mutant(Bug::CreateOverwrites).await;
    assert_eq!(
        r.status_of("create_collision_never_overwrites"),
        Some(Status::Failed)
    );
    assert_eq!(
        r.status_of("must_create_on_taken_key_is_duplicate"),
        Some(Status::Failed)
    );
}

#[tokio::test]
async fn noop_delete_fails_lifecycle_cases() {
    let r = run_mutant(Bug::DeleteIsNoop).await;
    for case in [
        "delete",
        "flush",
        "cycle",
        "save_does_not_resurrect_session_deleted_elsewhere",
    ] {
        assert_eq!(r.status_of(case), Some(Status::Failed), "{case}");
    }
}

#[tokio::test]
async fn capabilities_skip_with_reasons() {
    let caps = Capabilities {
        data_in_cookie: true,
        clear_expired: false,
        ..Capabilities::SERVER_SIDE
    };
    let r = Harness::new(
        "memory-as-cookie",
        caps,
        |clock: Arc<dyn Clock>| async move {
            Ok(Arc::new(MemoryStore::with_clock(clock)) as Arc<DynSessionStore>)
        },
    )
    .run()
    .await;
    let skipped: Vec<_> = r
        .cases
        .iter()
        .filter(|c| c.status == Status::Skipped)
        .collect();
    assert!(
        skipped
            .iter()
            .all(|c| c.reason.as_deref().is_some_and(|s| !s.is_empty()))
    );
    assert_eq!(
        r.status_of("save_does_not_resurrect_session_deleted_elsewhere"),
        Some(Status::Skipped)
    );
    assert_eq!(r.status_of("clear_expired"), Some(Status::Skipped));
    assert_eq!(r.passed + r.failed + r.skipped, r.cases.len());
}
