//! SIGTERM stops the demo gracefully: no new connections, requests in flight finish, pools
//! close, exit status 0.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_session-demo"))
        .current_dir(dir.path())
        .env("PORT", port.to_string())
        .env("SECRET_KEY", "shutdown-test-secret")
        .env_remove("SESSION_ENGINE")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it serves.
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("serving on"), "{line}");
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/");
    // Requests in flight while the signal arrives.
    let mut requests = Vec::new();
    for _ in 0..32 {
        let (client, url) = (client.clone(), url.clone());
        requests.push(tokio::spawn(async move {
            client.get(url).send().await.map(|r| r.status())
        }));
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut answered = 0;
    for r in requests {
        match r.await.unwrap() {
            Ok(status) => {
                assert!(status.is_success(), "{status}");
                answered += 1;
            }
            // Sent after the listener closed: refused, never half-served.
            Err(e) => assert!(e.is_connect() || e.is_request(), "{e}"),
        }
    }
    assert!(answered > 0, "requests in flight were answered");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "exit status");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("stopped"), "{stderr}");
    // Refused afterwards.
    assert!(client.get(&url).send().await.is_err());
}
