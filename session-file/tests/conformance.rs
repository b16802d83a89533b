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
