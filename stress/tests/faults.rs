//! Fault runs: a private server (its own port and data directory — the shared services are
//! never touched) is killed with SIGKILL under load and restarted. Checked: no acknowledged
//! write lost, no deleted session served again, the engine recovers by itself, and no
//! operation waits longer than the configured timeouts. Figures go to
//! `target/reliability/<name>.json` (quoted in RELIABILITY.md).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use session_conformance::unavailable;
use session_core::{DynSessionStore, Settings};
use session_stress::{Outcome, Plan, run};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A free port whose Cluster bus port (the port + 10 000) is free and valid too.
fn free_cluster_port() -> u16 {
    loop {
        let p = free_port();
        if p < 55_000 && std::net::TcpListener::bind(("127.0.0.1", p + 10_000)).is_ok() {
            return p;
        }
    }
}

fn which(bin: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([
            PathBuf::from("/usr/sbin"),
            PathBuf::from("/usr/lib/postgresql/15/bin"),
        ])
        .map(|d| d.join(bin))
        .find(|p| p.is_file())
}

/// Server processes killed when the test ends, even by a failed assertion (no private server
/// outlives its test).
#[derive(Default)]
struct Reaper(Vec<Child>);

impl Drop for Reaper {
    fn drop(&mut self) {
        for child in &mut self.0 {
            kill9(child);
        }
    }
}

/// Runs a shell command when dropped (stops a server that is not our child process).
struct OnDrop(Option<Box<dyn FnOnce()>>);

impl Drop for OnDrop {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

fn kill9(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

async fn wait_port(port: u16, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// What a fault run measured.
#[derive(Debug, serde::Serialize)]
struct Figures {
    name: String,
    outcome: Outcome,
    /// From the restart to the first successful operation.
    recovery_ms: u64,
}

fn record(f: &Figures) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/reliability");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(
        dir.join(format!("{}.json", f.name)),
        serde_json::to_string_pretty(f).unwrap(),
    );
    eprintln!("{}", serde_json::to_string(f).unwrap());
}

/// Runs load on `store`; after 2 s `kill` kills the server, 2 s later `restart` starts it
/// again; then the load finishes and every invariant is checked.
async fn under_fault(
    name: &str,
    store: Arc<DynSessionStore>,
    kill: impl FnOnce(),
    restart: impl FnOnce(),
    max_wait: Duration,
) {
    let plan = Plan {
        tasks: 16,
        operations: 40_000,
        time_limit: Duration::from_secs(14),
    };
    let load = tokio::spawn({
        let store = store.clone();
        async move { run(store, &plan).await }
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    kill();
    tokio::time::sleep(Duration::from_secs(2)).await;
    restart();
    let restarted = Instant::now();
    let mut recovery_ms = u64::MAX;
    while restarted.elapsed() < Duration::from_secs(30) {
        if store.exists("probeprobeprobe1").await.is_ok() {
            recovery_ms = u64::try_from(restarted.elapsed().as_millis()).unwrap_or(u64::MAX);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let outcome = load.await.unwrap();
    let f = Figures {
        name: name.to_owned(),
        outcome,
        recovery_ms,
    };
    record(&f);
    let o = &f.outcome;
    assert!(
        o.resurrections == 0 && o.collisions == 0 && o.panics == 0,
        "{name}: {f:?}"
    );
    assert_eq!((o.lost_writes, o.missing_reads), (0, 0), "{name}: {f:?}");
    // Felt as errors, or as operations that waited for the server to come back.
    assert!(
        o.errors > 0 || o.max_latency_ms >= 1000,
        "{name}: the fault was felt: {f:?}"
    );
    assert!(recovery_ms < 30_000, "{name}: recovered by itself: {f:?}");
    assert!(
        Duration::from_millis(f.outcome.max_latency_ms) <= max_wait,
        "{name}: an operation waited {} ms, over {max_wait:?}: {f:?}",
        f.outcome.max_latency_ms
    );
}

/// Starts a server process with `start`, builds the engine `pairs` (plus the URL made from
/// the port) describe, and runs the load while the process is killed and started again.
async fn kill_and_restart(
    name: &str,
    start: impl Fn() -> Child + Send + Sync + 'static,
    port: u16,
    pairs: &[(&str, &str)],
    max_wait: Duration,
) {
    let start = Arc::new(start);
    let server = Arc::new(std::sync::Mutex::new(Reaper(vec![start()])));
    assert!(
        wait_port(port, Duration::from_secs(30)).await,
        "{name}: the server started"
    );
    let store = session_registry::build_store(&settings(pairs))
        .await
        .unwrap();
    let (s1, s2) = (server.clone(), server.clone());
    under_fault(
        name,
        store,
        move || {
            for c in &mut s1.lock().unwrap().0 {
                kill9(c);
            }
        },
        move || s2.lock().unwrap().0.push(start()),
        max_wait,
    )
    .await;
}

fn settings(pairs: &[(&str, &str)]) -> Settings {
    let mut all = vec![("SECRET_KEY", "fault-secret")];
    all.extend_from_slice(pairs);
    Settings::from_pairs(all).unwrap()
}

fn redis_server(port: u16, dir: &Path) -> Child {
    Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
        ])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_and_restarted_under_load() {
    if which("redis-server").is_none() {
        return unavailable("fault: redis", &"redis-server is not installed");
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}/0");
    let path = dir.path().to_path_buf();
    kill_and_restart(
        "cache-redis-kill9",
        move || redis_server(port, &path),
        port,
        &[("SESSION_ENGINE", "cache"), ("CACHE_URL", &url)],
        // One connect (1 s) plus one response timeout (2 s), with retries, and slack.
        Duration::from_secs(8),
    )
    .await;
}

/// The last lines a failed setup command printed (why it failed).
fn tail(output: &[u8]) -> String {
    let text = String::from_utf8_lossy(output);
    let lines: Vec<&str> = text.lines().rev().take(3).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join(" / ")
}

fn as_postgres(cmd: &str) -> bool {
    Command::new("runuser")
        .args(["-u", "postgres", "--", "sh", "-c", cmd])
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_killed_and_restarted_under_load() {
    let (Some(initdb), Some(pg_ctl)) = (which("initdb"), which("pg_ctl")) else {
        return unavailable("fault: postgres", &"initdb/pg_ctl are not installed");
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let _stop = OnDrop(Some(Box::new({
        let (pg_ctl, data) = (pg_ctl.clone(), data.clone());
        move || {
            as_postgres(&format!(
                "{} -D {} stop -m immediate >/dev/null 2>&1",
                pg_ctl.display(),
                data.display()
            ));
        }
    })));
    let _ = Command::new("chown")
        .args(["-R", "postgres"])
        .arg(dir.path())
        .status();
    let port = free_port();
    let made = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(&initdb)
        .arg("-D")
        .arg(&data)
        .args(["-A", "trust", "-U", "postgres"])
        .output();
    match made {
        Ok(out) if out.status.success() => {}
        // Say why (no postgres user, no root, a full disk…), not a guess.
        Ok(out) => {
            return unavailable(
                "fault: postgres",
                &format!("initdb failed: {}", tail(&out.stderr)),
            );
        }
        Err(e) => return unavailable("fault: postgres", &format!("runuser: {e}")),
    }
    let start = format!(
        "{} -D {} -o '-p {port} -k {} -c listen_addresses=127.0.0.1' -l {}/log start >/dev/null",
        pg_ctl.display(),
        data.display(),
        dir.path().display(),
        dir.path().display()
    );
    assert!(as_postgres(&start));
    assert!(wait_port(port, Duration::from_secs(20)).await);
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let store = session_registry::build_store(&settings(&[
        ("SESSION_ENGINE", "db"),
        ("DATABASE_URL", &url),
        ("SESSION_DB_CREATE_TABLE", "true"),
    ]))
    .await
    .unwrap();
    let pidfile = data.join("postmaster.pid");
    under_fault(
        "db-postgres-kill9",
        store,
        move || {
            let pid = std::fs::read_to_string(&pidfile).unwrap();
            let pid = pid.lines().next().unwrap().trim().to_owned();
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
        },
        {
            let start = start.clone();
            move || {
                // The postmaster is gone; its children exit on their own. Start again
                // (crash recovery replays the WAL).
                std::thread::sleep(Duration::from_millis(300));
                assert!(as_postgres(&start));
            }
        },
        // The pool's acquire timeout (5 s) plus slack.
        Duration::from_secs(8),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_writer_killed_mid_write_leaves_every_session_readable() {
    // The writer is a separate process (session-stress on the file engine), killed with
    // SIGKILL while its 64 tasks write; afterwards every session file must read as a whole
    // session, and clear_expired must be able to run.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().display().to_string();
    let mut writer = Command::new(env!("CARGO_BIN_EXE_session-stress"))
        .args(["10000000", "64", "60"])
        .env("SECRET_KEY", "fault-secret")
        .env("SESSION_ENGINE", "file")
        .env("SESSION_FILE_PATH", &path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    kill9(&mut writer);
    let store = session_registry::build_store(&settings(&[
        ("SESSION_ENGINE", "file"),
        ("SESSION_FILE_PATH", &path),
    ]))
    .await
    .unwrap();
    let mut sessions = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let Some(key) = name.strip_prefix("sessionid") else {
            continue;
        };
        if key.contains("_out_") {
            continue; // an orphaned temporary file: never read as a session
        }
        let data = store
            .load(key)
            .await
            .unwrap()
            .expect("a whole session, never a torn one");
        assert!(data.contains_key("n"), "{key}");
        sessions += 1;
    }
    assert!(sessions > 0, "the writer wrote");
    store.clear_expired().await.unwrap();
    eprintln!("{{\"name\":\"file-writer-kill9\",\"sessions_checked\":{sessions}}}");
}

fn mariadbd(port: u16, dir: &Path) -> Child {
    Command::new(which("mariadbd").unwrap())
        .arg("--no-defaults")
        .arg(format!("--datadir={}", dir.join("data").display()))
        .arg(format!("--socket={}", dir.join("sock").display()))
        .arg(format!("--pid-file={}", dir.join("pid").display()))
        .args([
            &format!("--port={port}"),
            "--bind-address=127.0.0.1",
            "--user=mysql",
            "--skip-grant-tables",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_killed_and_restarted_under_load() {
    let (Some(install), Some(_)) = (which("mariadb-install-db"), which("mariadbd")) else {
        return unavailable(
            "fault: mariadb",
            &"mariadb-install-db/mariadbd are not installed",
        );
    };
    let dir = tempfile::tempdir().unwrap();
    let _ = Command::new("chown")
        .args(["-R", "mysql"])
        .arg(dir.path())
        .status();
    let installed = Command::new(install)
        .arg("--no-defaults")
        .arg(format!("--datadir={}", dir.path().join("data").display()))
        .args([
            "--user=mysql",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ])
        .output();
    match installed {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            let why = format!("{}{}", tail(&out.stdout), tail(&out.stderr));
            return unavailable(
                "fault: mariadb",
                &format!("mariadb-install-db failed: {why}"),
            );
        }
        Err(e) => return unavailable("fault: mariadb", &format!("mariadb-install-db: {e}")),
    }
    let port = free_port();
    let url = format!("mysql://root@127.0.0.1:{port}/mysql");
    let path = dir.path().to_path_buf();
    kill_and_restart(
        "db-mariadb-kill9",
        move || mariadbd(port, &path),
        port,
        &[
            ("SESSION_ENGINE", "db"),
            ("DATABASE_URL", &url),
            ("SESSION_DB_CREATE_TABLE", "true"),
        ],
        // One early run reported 16 "lost" writes here: a gap in the stress model (a delete
        // that committed although the client saw the connection die, then a save on the
        // vanished session that created a new one, counted against the old key). The model
        // now stops at such a read; every run since has lost nothing.
        Duration::from_secs(8),
    )
    .await;
}

fn cluster_node(port: u16, dir: &Path) -> Child {
    let d = dir.join(port.to_string());
    std::fs::create_dir_all(&d).unwrap();
    Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--cluster-enabled",
            "yes",
        ])
        .args([
            "--cluster-node-timeout",
            "1000",
            "--cluster-replica-validity-factor",
            "0",
        ])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--cluster-config-file")
        .arg(d.join("nodes.conf"))
        .arg("--dir")
        .arg(&d)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// A Redis Cluster of three masters with a replica each; one master is killed under load
/// and its replica promoted. Redis replicates asynchronously, so a write the master
/// acknowledged just before dying may be missing on the promoted replica: the run reports
/// such losses (RELIABILITY.md) instead of asserting none (every run so far lost none). Asserted: the engine keeps
/// working through the failover by itself, no panic, no key collision.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_failover_under_load() {
    if which("redis-server").is_none() || which("redis-cli").is_none() {
        return unavailable(
            "fault: redis cluster",
            &"redis-server/redis-cli are not installed",
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let ports: Vec<u16> = (0..6).map(|_| free_cluster_port()).collect();
    let mut nodes = Reaper(ports.iter().map(|p| cluster_node(*p, dir.path())).collect());
    for p in &ports {
        assert!(wait_port(*p, Duration::from_secs(10)).await);
    }
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let created = Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(&addrs)
        .args(["--cluster-replicas", "1", "--cluster-yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(created.success());
    let ok = |port: u16| {
        Command::new("redis-cli")
            .args(["-p", &port.to_string(), "cluster", "info"])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("cluster_state:ok"))
    };
    let start = Instant::now();
    while !ok(ports[0]) && start.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Every replica in sync with its master before the load starts.
    let synced = |port: u16| {
        Command::new("redis-cli")
            .args(["-p", &port.to_string(), "info", "replication"])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("master_link_status:up"))
    };
    let start = Instant::now();
    while !ports[3..].iter().all(|p| synced(*p)) && start.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The first three nodes are the masters `--cluster create` picked.
    let url = format!("redis-cluster://{}", addrs[..3].join(","));
    let store = session_registry::build_store(&settings(&[
        ("SESSION_ENGINE", "cache"),
        ("CACHE_URL", &url),
    ]))
    .await
    .unwrap();
    let plan = Plan {
        tasks: 16,
        operations: 40_000,
        time_limit: Duration::from_secs(16),
    };
    let load = tokio::spawn({
        let store = store.clone();
        async move { run(store, &plan).await }
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    kill9(&mut nodes.0[0]);
    // Recovered when 32 reads of random keys (spread over every slot) all succeed.
    let killed = Instant::now();
    let mut recovery_ms = u64::MAX;
    while killed.elapsed() < Duration::from_secs(30) {
        let mut all = true;
        for _ in 0..32 {
            let key = session_core::key::generate_key();
            all &= store.exists(&key).await.is_ok();
        }
        if all {
            recovery_ms = u64::try_from(killed.elapsed().as_millis()).unwrap_or(u64::MAX);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let outcome = load.await.unwrap();
    let f = Figures {
        name: "cache-redis-cluster-failover".into(),
        outcome,
        recovery_ms,
    };
    record(&f);
    drop(nodes);
    assert!(
        f.recovery_ms < 30_000,
        "writes succeed again after the failover: {f:?}"
    );
    assert_eq!(f.outcome.panics, 0, "{f:?}");
    assert_eq!(f.outcome.collisions, 0, "{f:?}");
}
