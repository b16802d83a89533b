//! Drives real Django (through `tests/django/helper.py`) for live interop tests: Django
//! writes, Rust reads and modifies, Django reads back.
//!
//! The interpreter is `$DJANGO_PYTHON`, else `.venv-django/bin/python` at the workspace
//! root, which `scripts/django-venv.sh` creates. When neither exists the test is skipped
//! locally and fails under `CI=true` (see [`crate::unavailable`]).

use std::path::PathBuf;
use std::process::Stdio;

use serde_json::Value as Json;
use tokio::io::AsyncWriteExt;

/// A Django configuration to run the helper with.
#[derive(Debug, Clone)]
pub struct Django {
    python: PathBuf,
    config: Json,
}

fn helper() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/django/helper.py"))
}

fn default_python() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../.venv-django/bin/python"
    ))
}

impl Django {
    /// Django configured by `config` (see the helper's docstring for the fields), or `None`
    /// (after [`crate::unavailable`]) when no Django interpreter is installed.
    pub fn locate(label: &str, config: Json) -> Option<Django> {
        let python = std::env::var_os("DJANGO_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(default_python);
        if !python.exists() {
            crate::unavailable(
                label,
                &format!(
                    "no Django interpreter at {} (run scripts/django-venv.sh)",
                    python.display()
                ),
            );
            return None;
        }
        Some(Django { python, config })
    }

    /// Starts the helper's `serve` command: Django's own `SessionMiddleware` serving the
    /// tutorial's visit counter at `/` on `127.0.0.1:port`. The server stops when the returned
    /// child is dropped.
    pub async fn serve(&self, port: u16) -> tokio::process::Child {
        use tokio::io::AsyncBufReadExt as _;
        let mut child = tokio::process::Command::new(&self.python)
            .arg(helper())
            .arg(self.config.to_string())
            .arg("serve")
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("Django interpreter starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        tokio::io::BufReader::new(stdout)
            .read_line(&mut line)
            .await
            .expect("Django server output");
        assert_eq!(line.trim(), "ready", "Django server did not start");
        child
    }

    /// Runs one helper command; panics (failing the test) when Django fails.
    pub async fn run(&self, command: &str, args: &[&str], stdin: &str) -> Json {
        let mut child = tokio::process::Command::new(&self.python)
            .arg(helper())
            .arg(self.config.to_string())
            .arg(command)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the Django helper");
        let mut input = child.stdin.take().expect("stdin");
        input
            .write_all(stdin.as_bytes())
            .await
            .expect("write stdin");
        drop(input);
        let out = child
            .wait_with_output()
            .await
            .expect("Django helper output");
        assert!(
            out.status.success(),
            "Django helper {command} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("Django helper prints JSON")
    }
}
