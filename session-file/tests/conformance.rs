//! The shared conformance suite on the file engine, one fresh directory per case.

use std::sync::Arc;

use session_conformance::{Capabilities, Harness};
use session_core::{Clock, DynSessionStore, Settings};
use session_file::FileStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_file() {
    let root = tempfile::tempdir().unwrap();
    let base = root.path().to_path_buf();
    Harness::new(
        "file",
        Capabilities {
            expiry_by_own_settings: true,
            ..Capabilities::SERVER_SIDE
        },
        move |clock: Arc<dyn Clock>| {
            let dir = base.join(session_core::key::generate_key());
            async move {
                std::fs::create_dir(&dir).map_err(|e| session_core::Error::permanent("file", e))?;
                let settings = Settings::new("conformance-secret-key-0123456789abcdef").unwrap();
                let store = FileStore::new(
                    &dir,
                    "sessionid",
                    settings.session_signer(),
                    session_core::ExpiryPolicy::from_settings(&settings),
                    clock,
                )
                .map_err(|e| session_core::Error::permanent("file", e))?;
                Ok(Arc::new(store) as Arc<DynSessionStore>)
            }
        },
    )
    .run_and_assert()
    .await;
}

/// The file engine's user index is a scan of its directory (complete, O(sessions)).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_file_with_user_index() {
    let root = tempfile::tempdir().unwrap();
    let base = root.path().to_path_buf();
    Harness::new(
        "file-indexed",
        Capabilities {
            expiry_by_own_settings: true,
            user_index: true,
            ..Capabilities::SERVER_SIDE
        },
        move |clock: Arc<dyn Clock>| {
            let dir = base.join(session_core::key::generate_key());
            async move {
                std::fs::create_dir(&dir).map_err(|e| session_core::Error::permanent("file", e))?;
                let settings = Settings::new("conformance-secret-key-0123456789abcdef").unwrap();
                let store: Arc<DynSessionStore> = Arc::new(
                    FileStore::new(
                        &dir,
                        "sessionid",
                        settings.session_signer(),
                        session_core::ExpiryPolicy::from_settings(&settings),
                        clock.clone(),
                    )
                    .map_err(|e| session_core::Error::permanent("file", e))?,
                );
                let index = Arc::new(session_core::users::ScanUserIndex::new(store.clone()));
                Ok(Arc::new(session_core::users::IndexedStore::new(
                    store,
                    index,
                    session_core::ExpiryPolicy::from_settings(&settings),
                    clock,
                )) as Arc<DynSessionStore>)
            }
        },
    )
    .run_and_assert()
    .await;
}
