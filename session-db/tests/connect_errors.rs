//! Connection failures say which server, where, and which setting to look at; they are
//! transient only when retrying can cure them.

#![cfg(feature = "postgres")]

use std::sync::Arc;
use std::time::Duration;

use session_core::{Error, Settings, SystemClock, error::report};
use session_db::{DbOptions, DbStore};

fn signer() -> session_core::Signer {
    Settings::new("connect-errors-secret")
        .unwrap()
        .session_signer()
}

#[tokio::test]
async fn a_server_that_never_answers_times_the_pool_out_naming_the_setting() {
    // Accepts TCP connections and never says a word.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let options = DbOptions {
        acquire_timeout: Duration::from_secs(1),
        ..DbOptions::default()
    };
    let url = format!("postgres://app:pw-not-shown@127.0.0.1:{port}/db");
    let err = DbStore::connect_with(&url, signer(), Arc::new(SystemClock), options)
        .await
        .expect_err("no answer");
    let err = Error::from(err);
    let text = report(&err);
    assert!(
        text.contains(&format!(
            "PostgreSQL at 127.0.0.1:{port}: pool timed out after 1 s"
        )) && text.contains("(SESSION_DB_POOL_TIMEOUT)"),
        "{text}"
    );
    assert!(
        !text.contains("pw-not-shown"),
        "no password in errors: {text}"
    );
    assert!(err.is_transient(), "a busy or slow server may answer later");
    held.abort();
}

#[tokio::test]
async fn a_refused_connection_names_the_server_and_is_transient() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("postgres://app:pw-not-shown@127.0.0.1:{port}/db");
    let options = DbOptions {
        acquire_timeout: Duration::from_secs(1),
        ..DbOptions::default()
    };
    let err = Error::from(
        DbStore::connect_with(&url, signer(), Arc::new(SystemClock), options)
            .await
            .expect_err("nobody listens"),
    );
    let text = report(&err);
    // sqlx retries a refused connection until the pool's timeout.
    assert!(
        text.contains(&format!(
            "PostgreSQL at 127.0.0.1:{port}: pool timed out after 1 s"
        )),
        "{text}"
    );
    assert!(!text.contains("pw-not-shown"), "{text}");
    assert!(err.is_transient(), "{text}");
}

#[cfg(not(any(feature = "rustls", feature = "native-tls")))]
#[tokio::test]
async fn tls_asked_of_a_build_without_tls_is_permanent() {
    let err = Error::from(
        DbStore::connect(
            "postgres://u@127.0.0.1:1/db?sslmode=require",
            &Settings::new("x").unwrap(),
        )
        .await
        .expect_err("no TLS in this build"),
    );
    assert!(!err.is_transient(), "{}", report(&err));
}
