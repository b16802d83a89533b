//! The machine-readable report: `target/conformance/<label>.json`.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// How a case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every expectation held.
    Passed,
    /// An expectation failed (the reason says which).
    Failed,
    /// A declared capability rules the case out (the reason says which).
    Skipped,
}

/// One case in the report.
#[derive(Debug, Clone, Serialize)]
pub struct CaseReport {
    /// Case name.
    pub name: String,
    /// Outcome.
    pub status: Status,
    /// Why it failed or was skipped.
    pub reason: Option<String>,
}

/// The whole run for one engine configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The configuration's label.
    pub engine: String,
    /// Cases passed.
    pub passed: usize,
    /// Cases failed.
    pub failed: usize,
    /// Cases skipped.
    pub skipped: usize,
    /// Every case, in suite order.
    pub cases: Vec<CaseReport>,
}

impl Report {
    pub(crate) fn new(label: &str) -> Report {
        Report {
            engine: label.to_owned(),
            passed: 0,
            failed: 0,
            skipped: 0,
            cases: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, name: &str, status: Status, reason: Option<String>) {
        match status {
            Status::Passed => self.passed += 1,
            Status::Failed => self.failed += 1,
            Status::Skipped => self.skipped += 1,
        }
        self.cases.push(CaseReport {
            name: name.to_owned(),
            status,
            reason,
        });
    }

    /// The status of a case by name.
    pub fn status_of(&self, name: &str) -> Option<Status> {
        self.cases.iter().find(|c| c.name == name).map(|c| c.status)
    }

    /// Writes the report to [`report_dir`]`/<label>.json`; returns the path.
    pub fn write(&self) -> std::io::Result<PathBuf> {
        let dir = report_dir();
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{}.json", self.engine));
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&path, json + "\n")?;
        Ok(path)
    }
}

/// `$CONFORMANCE_REPORT_DIR`, else `target/conformance` of the workspace around the current
/// directory (the directory holding `Cargo.lock`), else `./target/conformance`.
pub fn report_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("CONFORMANCE_REPORT_DIR") {
        return PathBuf::from(dir);
    }
    let target = std::env::var("CARGO_TARGET_DIR").ok().map(PathBuf::from);
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let root = cwd
        .ancestors()
        .find(|d| d.join("Cargo.lock").exists())
        .map(Path::to_path_buf)
        .unwrap_or(cwd);
    target
        .unwrap_or_else(|| root.join("target"))
        .join("conformance")
}
