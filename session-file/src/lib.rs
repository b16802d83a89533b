#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use session_core::{Session, SessionConfig, Settings};
//! use session_file::FileStore;
//! let dir = tempfile::tempdir().unwrap();
//! let mut settings = Settings::new("change-me").unwrap();
//! settings.file_path = Some(dir.path().to_path_buf());
//! let store = Arc::new(FileStore::from_settings(&settings).unwrap());
//! let mut s = Session::new(store, SessionConfig::from_settings(&settings), None);
//! s.insert_value("num_visits", 1).await.unwrap();
//! s.save(false).await.unwrap();
//! let file = dir.path().join(format!("sessionid{}", s.session_key().unwrap()));
//! assert!(file.exists());
//! # });
//! ```

use std::collections::hash_map::DefaultHasher;
use std::fs::{self, File, OpenOptions};
use std::hash::{Hash, Hasher};
use std::io::{self, ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use session_core::codec::{Signer, decode_or_empty};
use session_core::expiry::{ExpiryPolicy, StoredExpiry, SystemClock};
use session_core::key::is_acceptable_key;
use session_core::{Clock, ConfigError, Error, Map, Record, SessionStore, Settings, SettingsGroup};

const ENGINE: &str = "file";

session_core::settings_table! {
    /// The file engine's own settings (`SESSION_FILE_PATH` is Django's, in core).
    #[derive(Debug, Clone)]
    pub struct FileSettings {
        /// `SESSION_FILE_ALLOW_SHARED_DIR` (not a Django setting, default false): accept a
        /// session directory that every local user can write to.
        allow_shared_dir: bool = "SESSION_FILE_ALLOW_SHARED_DIR" => false,
        /// `SESSION_FILE_FSYNC` (not a Django setting, default true): fsync each written file
        /// and its directory, so an acknowledged save survives a power loss. Django's file
        /// engine does not (false gives Django's durability, at several times the speed).
        fsync: bool = "SESSION_FILE_FSYNC" => true,
    }
}

/// Whether every user of the machine may create files in `dir`.
fn is_world_writable(dir: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o002 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        false
    }
}

/// The file engine: one file per session, named `SESSION_COOKIE_NAME + key`, holding the
/// encoded session (no newline), as Django writes it.
#[derive(Debug, Clone)]
pub struct FileStore {
    inner: Arc<Inner>,
}

#[derive(Debug, Clone)]
struct Inner {
    dir: PathBuf,
    prefix: String,
    signer: Signer,
    policy: ExpiryPolicy,
    clock: Arc<dyn Clock>,
    durable: bool,
    /// Striped per-key locks: within one process an update's existence check and its rename
    /// are atomic with respect to a delete of the same key.
    locks: Arc<[Mutex<()>; 64]>,
}

impl Inner {
    fn lock(&self, path: &Path) -> std::sync::MutexGuard<'_, ()> {
        let mut h = DefaultHasher::new();
        path.hash(&mut h);
        let stripe = (h.finish() % 64) as usize;
        self.locks[stripe].lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn io_error(e: io::Error) -> Error {
    let transient = matches!(
        e.kind(),
        ErrorKind::Interrupted | ErrorKind::WouldBlock | ErrorKind::TimedOut
    );
    if transient {
        Error::transient(ENGINE, e)
    } else {
        Error::permanent(ENGINE, e)
    }
}

/// Errors that mean "there is no such session file", not a failure: missing, or a name the
/// file system cannot even hold.
fn is_absent(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::NotFound | ErrorKind::InvalidFilename)
        || e.raw_os_error() == Some(36) // ENAMETOOLONG on Linux
}

impl FileStore {
    /// The engine for these settings: `SESSION_FILE_PATH` (default: the OS temp dir) must be
    /// an existing directory.
    ///
    /// A directory anyone may write to (the OS temp dir usually is) is refused unless
    /// `SESSION_FILE_ALLOW_SHARED_DIR` is true: another local user could plant or read
    /// session files there.
    pub fn from_settings(settings: &Settings) -> Result<FileStore, ConfigError> {
        let own = FileSettings::from_settings(settings)?;
        let dir = settings
            .file_path
            .clone()
            .unwrap_or_else(std::env::temp_dir);
        if !own.allow_shared_dir && is_world_writable(&dir) {
            return Err(ConfigError::Invalid {
                setting: "SESSION_FILE_PATH",
                reason: format!(
                    "{} is writable by every user of this machine (the OS temp dir, unless SESSION_FILE_PATH is set); choose a private directory or set SESSION_FILE_ALLOW_SHARED_DIR = true",
                    dir.display()
                ),
            });
        }
        Ok(FileStore::new(
            dir,
            &settings.cookie.name,
            settings.session_signer(),
            ExpiryPolicy::from_settings(settings),
            Arc::new(SystemClock),
        )?
        .with_durability(own.fsync))
    }

    /// The engine from its parts.
    pub fn new(
        dir: impl AsRef<Path>,
        cookie_name: &str,
        signer: Signer,
        policy: ExpiryPolicy,
        clock: Arc<dyn Clock>,
    ) -> Result<FileStore, ConfigError> {
        let dir = dir.as_ref().to_path_buf();
        if !dir.is_dir() {
            return Err(ConfigError::Invalid {
                setting: "SESSION_FILE_PATH",
                reason: format!("{} does not exist or is not a directory", dir.display()),
            });
        }
        Ok(FileStore {
            inner: Arc::new(Inner {
                dir,
                prefix: cookie_name.to_owned(),
                signer,
                policy,
                clock,
                durable: true,
                locks: Arc::new(std::array::from_fn(|_| Mutex::new(()))),
            }),
        })
    }

    /// Turns the fsync of every write (file and directory) on or off (default on).
    pub fn with_durability(self, durable: bool) -> FileStore {
        let mut inner = (*self.inner).clone();
        inner.durable = durable;
        FileStore {
            inner: Arc::new(inner),
        }
    }

    /// Whether writes are fsynced (`SESSION_FILE_FSYNC`).
    pub fn is_durable(&self) -> bool {
        self.inner.durable
    }

    /// The directory sessions live in.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The file for `key`, or [`Error::InvalidKey`] for a key other than 8–40 characters of
    /// `[a-z0-9]` (all Django generates) — checked
    /// before any path is built, so no key can name a file outside the directory.
    pub fn path_for(&self, key: &str) -> Result<PathBuf, Error> {
        if !is_acceptable_key(key) {
            return Err(Error::InvalidKey("not a key this engine generates"));
        }
        Ok(self.inner.dir.join(format!("{}{key}", self.inner.prefix)))
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Inner) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| Error::permanent(ENGINE, e))?
    }
}

/// A temporary file (`<name>_out_<random>`, Django's pattern too) older than this is an
/// orphan of a writer that died: `clear_expired` removes it. A live writer holds its
/// temporary file for the few milliseconds of one write, so an hour never races one.
pub const TEMP_FILE_MAX_AGE: Duration = Duration::from_secs(3600);

impl Inner {
    /// Django's `clear_expired` for this directory: removes expired sessions and orphaned
    /// temporary files. An entry that cannot be read is skipped and reported (a warning),
    /// never a reason to stop.
    fn clear_expired(&self) -> Result<u64, Error> {
        let now = self.clock.now();
        let mut removed = 0;
        let mut skipped = 0u64;
        for entry in fs::read_dir(&self.dir).map_err(io_error)? {
            let entry = match entry {
                Ok(e) => e,
                Err(e) if is_absent(&e) => continue,
                Err(_) => {
                    skipped += 1;
                    continue;
                }
            };
            let name = entry.file_name();
            let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(&self.prefix)) else {
                continue;
            };
            let path = entry.path();
            if let Some((key, _)) = rest.split_once("_out_") {
                if is_acceptable_key(key) && self.is_orphan(&path, now) {
                    match fs::remove_file(&path) {
                        Ok(()) => removed += 1,
                        Err(e) if is_absent(&e) => {}
                        Err(_) => skipped += 1,
                    }
                }
                continue;
            }
            if !is_acceptable_key(rest) {
                continue;
            }
            // Held across the check and the removal: a save racing us is not deleted.
            let _guard = self.lock(&path);
            match self.read(&path) {
                Ok(Some(_)) => {}
                Ok(None) if !path.is_file() => skipped += 1,
                Ok(None) => match fs::remove_file(&path) {
                    Ok(()) => removed += 1,
                    Err(e) if is_absent(&e) => {}
                    Err(_) => skipped += 1,
                },
                Err(_) => skipped += 1,
            }
        }
        if skipped > 0 {
            tracing::warn!(target: "django.contrib.sessions", engine = ENGINE, skipped, removed, "clear_expired skipped entries it could not read or remove");
        }
        Ok(removed)
    }

    /// Whether a temporary file was last written over [`TEMP_FILE_MAX_AGE`] ago.
    fn is_orphan(&self, path: &Path, now: DateTime<Utc>) -> bool {
        let Ok(mtime) = fs::symlink_metadata(path).and_then(|m| m.modified()) else {
            return false;
        };
        let age = now.signed_duration_since(DateTime::<Utc>::from(mtime));
        age.to_std().is_ok_and(|a| a > TEMP_FILE_MAX_AGE)
    }

    /// Reads a session file: `Ok(None)` when absent or expired.
    fn read(&self, path: &Path) -> Result<Option<Map>, Error> {
        Ok(self.read_with_expiry(path)?.map(|(data, _)| data))
    }

    /// Extends a live session file's life: its modification time becomes the clock's now
    /// (what Django's file engine and this one count the expiry from). No data is written.
    fn touch(&self, path: &Path) -> Result<(), Error> {
        let _guard = self.lock(path);
        if self.read_with_expiry(path)?.is_none() {
            return Err(Error::Gone);
        }
        let now = std::time::SystemTime::from(self.clock.now());
        match fs::File::options().write(true).open(path) {
            Ok(f) => f.set_modified(now).map_err(io_error),
            Err(e) if is_absent(&e) => Err(Error::Gone),
            Err(e) => Err(io_error(e)),
        }
    }

    fn read_with_expiry(&self, path: &Path) -> Result<Option<(Map, DateTime<Utc>)>, Error> {
        match fs::symlink_metadata(path) {
            Ok(m) if !m.is_file() => {
                // A directory, a link, a device: never a session Django or we wrote.
                tracing::warn!(target: "django.contrib.sessions", engine = ENGINE, "a session path that is not a regular file treated as no session");
                return Ok(None);
            }
            Ok(_) => {}
            Err(e) if is_absent(&e) => return Ok(None),
            Err(e) => return Err(io_error(e)),
        }
        let (text, mtime) =
            match fs::read(path).and_then(|b| Ok((b, fs::metadata(path)?.modified()?))) {
                Ok(v) => v,
                Err(e) if is_absent(&e) => return Ok(None),
                Err(e) => return Err(io_error(e)),
            };
        let now = self.clock.now();
        // An empty file is Django's placeholder for `{}`.
        let data = if text.is_empty() {
            Map::new()
        } else {
            match std::str::from_utf8(&text) {
                Ok(t) => decode_or_empty(&self.signer, t, None, now),
                Err(_) => {
                    tracing::warn!(target: "django.contrib.sessions", engine = ENGINE, "session file that is not UTF-8 treated as empty");
                    Map::new()
                }
            }
        };
        // Its custom expiry, else mtime + cookie age. Unlike Django, an integer
        // `_session_expiry` counts from the last write (Django never expires such a file).
        let Ok(expiry) = StoredExpiry::of(&data) else {
            tracing::warn!(target: "django.contrib.sessions", engine = ENGINE, "session file with an out-of-range _session_expiry treated as missing");
            return Ok(None);
        };
        let expires = self
            .policy
            .expiry_date(DateTime::<Utc>::from(mtime), expiry);
        if self.policy.is_expired(expires, now) {
            return Ok(None);
        }
        Ok(Some((data, expires)))
    }

    /// Writes `content` to a temporary file in the directory, stamped with the clock's time,
    /// then either renames it over `target` (update) or links it into place only if `target`
    /// does not exist (create). The temporary file is removed in every case.
    fn write(&self, target: &Path, content: &str, create: bool) -> Result<(), Error> {
        let name = target
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        // Django's temp-file pattern: its clear_expired and ours skip these names.
        let tmp = self.dir.join(format!(
            "{name}_out_{}",
            &session_core::key::generate_key()[..12]
        ));
        let result = self.write_tmp(&tmp, content).and_then(|()| {
            if create {
                fs::hard_link(&tmp, target).map_err(|e| {
                    if e.kind() == ErrorKind::AlreadyExists {
                        Error::Duplicate
                    } else {
                        io_error(e)
                    }
                })
            } else {
                let _guard = self.lock(target);
                match fs::metadata(target) {
                    Ok(_) => fs::rename(&tmp, target).map_err(io_error),
                    Err(e) if is_absent(&e) => Err(Error::Gone),
                    Err(e) => Err(io_error(e)),
                }
            }
        });
        // After a rename the temporary name is gone already; after a link or a failure it is
        // removed here. The session's fate is decided: a failed clean-up is only logged.
        if let Err(e) = fs::remove_file(&tmp) {
            if e.kind() != ErrorKind::NotFound {
                tracing::warn!(target: "django.contrib.sessions", error = %e, "could not remove a temporary session file");
            }
        }
        result?;
        if self.durable {
            File::open(&self.dir)
                .and_then(|d| d.sync_all())
                .map_err(io_error)?;
        }
        Ok(())
    }

    fn write_tmp(&self, tmp: &Path, content: &str) -> Result<(), Error> {
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(tmp).map_err(io_error)?;
        f.write_all(content.as_bytes()).map_err(io_error)?;
        f.set_modified(SystemTime::from(self.clock.now()))
            .map_err(io_error)?;
        if self.durable {
            f.sync_all().map_err(io_error)?;
        }
        Ok(())
    }
}

#[async_trait]
impl SessionStore for FileStore {
    fn engine_name(&self) -> &'static str {
        ENGINE
    }

    fn stores_data_in_cookie(&self) -> bool {
        false
    }

    async fn load(&self, key: &str) -> Result<Option<Map>, Error> {
        let Ok(path) = self.path_for(key) else {
            return Ok(None);
        };
        self.blocking(move |inner| inner.read(&path)).await
    }

    async fn load_with_expiry(
        &self,
        key: &str,
    ) -> Result<Option<(Map, Option<DateTime<Utc>>)>, Error> {
        let Ok(path) = self.path_for(key) else {
            return Ok(None);
        };
        self.blocking(move |inner| {
            Ok(inner
                .read_with_expiry(&path)?
                .map(|(data, at)| (data, Some(at))))
        })
        .await
    }

    /// Sets the file's modification time (one `open` + `futimens`, no data written).
    async fn touch(&self, record: &Record<'_>) -> Result<String, Error> {
        let path = self.path_for(record.key).map_err(|_| Error::Gone)?;
        self.blocking(move |inner| inner.touch(&path)).await?;
        Ok(record.key.to_owned())
    }

    /// Session files in key order (a directory listing per page); the cursor is the last
    /// key of the page. Expired files are listed too (their load finds nothing).
    async fn list_keys(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Option<session_core::KeyPage>, Error> {
        let cursor = cursor.map(str::to_owned);
        let limit = limit.max(1);
        self.blocking(move |inner| {
            let mut keys = Vec::new();
            for entry in fs::read_dir(&inner.dir).map_err(io_error)? {
                let Ok(entry) = entry else { continue };
                let name = entry.file_name();
                let Some(key) = name.to_str().and_then(|n| n.strip_prefix(&inner.prefix)) else {
                    continue;
                };
                if is_acceptable_key(key) && cursor.as_deref().is_none_or(|c| key > c) {
                    keys.push(key.to_owned());
                }
            }
            keys.sort();
            keys.truncate(limit);
            let next = if keys.len() >= limit {
                keys.last().cloned()
            } else {
                None
            };
            Ok(Some(session_core::KeyPage { keys, next }))
        })
        .await
    }

    async fn exists(&self, key: &str) -> Result<bool, Error> {
        let Ok(path) = self.path_for(key) else {
            return Ok(false);
        };
        self.blocking(move |_| match fs::metadata(&path) {
            Ok(_) => Ok(true),
            Err(e) if is_absent(&e) => Ok(false),
            Err(e) => Err(io_error(e)),
        })
        .await
    }

    async fn create(&self, record: &Record<'_>) -> Result<String, Error> {
        let path = self.path_for(record.key)?;
        let content = self
            .inner
            .signer
            .sign_map(record.data, self.inner.clock.now());
        self.blocking(move |inner| inner.write(&path, &content, true))
            .await?;
        Ok(record.key.to_owned())
    }

    async fn save(&self, record: &Record<'_>) -> Result<String, Error> {
        let Ok(path) = self.path_for(record.key) else {
            return Err(Error::Gone);
        };
        let content = self
            .inner
            .signer
            .sign_map(record.data, self.inner.clock.now());
        self.blocking(move |inner| inner.write(&path, &content, false))
            .await?;
        Ok(record.key.to_owned())
    }

    async fn delete(&self, key: &str) -> Result<(), Error> {
        // A key this engine never generates names no session: nothing to delete.
        let Ok(path) = self.path_for(key) else {
            return Ok(());
        };
        self.blocking(move |inner| {
            let _guard = inner.lock(&path);
            match fs::remove_file(&path) {
                Ok(()) => Ok(()),
                Err(e) if is_absent(&e) => Ok(()),
                Err(e) => Err(io_error(e)),
            }
        })
        .await
    }

    async fn clear_expired(&self) -> Result<Option<u64>, Error> {
        self.blocking(|inner| inner.clear_expired().map(Some)).await
    }
}
