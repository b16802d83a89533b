//! Redis, one node (`redis://`, `rediss://`) or a Cluster (`redis-cluster://h:p,h:p`).
//!
//! TLS: `rediss://host:port/db` (and `rediss-cluster://h:p,h:p`) verify the server against the
//! system's trust store, or against the CA file named by redis-py's query parameter
//! `?ssl_ca_certs=/path/ca.pem`; `?ssl_cert_reqs=none` (or `#insecure`) skips verification,
//! only when asked.
//!
//! Every operation is one command: `add` is `SET NX EX`, `replace` is `SET XX EX`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use session_core::Error;

use super::{CacheBackend, Connecting, ENGINE, invalid_url};

/// A Redis connection attempt gives up after this long (the connection is retried in the
/// background; a request never waits on a dead server for longer than these bounds).
pub const REDIS_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// A Redis command gives up after this long: a transient error, never a hang.
pub const REDIS_RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Commands per pipelined round trip in the batch operations.
const BATCH: usize = 500;

/// `SADD key member`, then `EXPIRE key ttl` unless the set already lives longer.
const SET_ADD: &str = "redis.call('SADD', KEYS[1], ARGV[1]) \
if redis.call('TTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) end return 1";

/// `SET key value EX ttl` unless the key holds `guard`: 1 when written, 0 when guarded.
const SET_UNLESS: &str = "if redis.call('GET', KEYS[1]) == ARGV[3] then return 0 end \
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) return 1";

fn redis_error_is_transient(e: &redis::RedisError) -> bool {
    (e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_cluster_error())
        && !session_core::error::is_certificate_failure(&e.to_string())
}

pub(crate) fn redis_error(e: redis::RedisError) -> Error {
    if redis_error_is_transient(&e) {
        Error::transient(ENGINE, e)
    } else {
        Error::permanent(ENGINE, e)
    }
}

/// A Redis connection (node or Cluster) that reconnects by itself.
#[derive(Clone)]
pub struct Redis<C> {
    conn: C,
    kind: &'static str,
}

impl<C> fmt::Debug for Redis<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redis").field("kind", &self.kind).finish()
    }
}

impl Redis<ConnectionManager> {
    /// A backend over an existing connection manager (sharing the app's connection).
    pub fn node(conn: ConnectionManager) -> Self {
        Redis {
            conn,
            kind: "redis",
        }
    }
}

impl Redis<ClusterConnection> {
    /// A backend over an existing Cluster connection.
    pub fn cluster(conn: ClusterConnection) -> Self {
        Redis {
            conn,
            kind: "redis-cluster",
        }
    }
}

/// What a Redis URL asks of TLS beyond what redis-rs reads itself: the CA file (redis-py's
/// `ssl_ca_certs` query parameter) and whether to skip verification (`ssl_cert_reqs=none`,
/// `insecure`, or redis-rs's `#insecure` fragment — only when asked).
#[derive(Debug, Default, PartialEq)]
struct TlsParams {
    ca_file: Option<String>,
    insecure: bool,
}

/// Splits our TLS parameters off `url` (the rest goes to redis-rs as it is).
fn tls_params(url: &str) -> Result<(String, TlsParams), Error> {
    let (base, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let mut params = TlsParams {
        insecure: fragment == Some("insecure"),
        ..TlsParams::default()
    };
    let (path, query) = base.split_once('?').unwrap_or((base, ""));
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "ssl_ca_certs" | "ssl_ca_cert" => params.ca_file = Some(v.to_owned()),
            "ssl_cert_reqs" => match v.to_ascii_lowercase().as_str() {
                "none" | "cert_none" => params.insecure = true,
                "required" | "cert_required" => {}
                other => {
                    return Err(invalid_url(format!(
                        "ssl_cert_reqs={other:?}: use required (the default) or none"
                    )));
                }
            },
            "insecure" => params.insecure = true,
            _ => kept.push(pair),
        }
    }
    let tls = path.starts_with("rediss://") || path.starts_with("rediss-cluster://");
    if !tls && (params.ca_file.is_some() || params.insecure) {
        return Err(invalid_url(
            "ssl_ca_certs / ssl_cert_reqs / insecure need a TLS URL (rediss:// or rediss-cluster://)"
                .into(),
        ));
    }
    let mut rest = path.to_owned();
    if !kept.is_empty() {
        rest.push('?');
        rest.push_str(&kept.join("&"));
    }
    Ok((rest, params))
}

/// The CA file's bytes, for redis-rs's TLS configuration.
#[cfg(feature = "rustls")]
fn certificates(params: &TlsParams) -> Result<Option<redis::TlsCertificates>, Error> {
    let Some(path) = &params.ca_file else {
        return Ok(None);
    };
    let root = std::fs::read(path)
        .map_err(|e| invalid_url(format!("ssl_ca_certs: cannot read {path}: {e}")))?;
    Ok(Some(redis::TlsCertificates {
        client_tls: None,
        root_cert: Some(root),
    }))
}

#[cfg(not(feature = "rustls"))]
fn certificates(params: &TlsParams) -> Result<Option<()>, Error> {
    match &params.ca_file {
        None => Ok(None),
        Some(_) => Err(invalid_url(
            "ssl_ca_certs needs session-cache's `rustls` feature (with native-tls, install the CA in the system's trust store)".into(),
        )),
    }
}

fn no_tls_in_build(url: &str) -> Result<(), Error> {
    let tls = url.starts_with("rediss://") || url.starts_with("rediss-cluster://");
    if tls && !cfg!(any(feature = "rustls", feature = "native-tls")) {
        return Err(invalid_url(
            "rediss:// needs TLS, which this build left out (enable session-cache's `rustls` or `native-tls` feature)".into(),
        ));
    }
    Ok(())
}

/// `host:port` of a Redis URL, for error messages (never the password).
fn address(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.split(['/', '?', '#']).next().unwrap_or_default();
    rest.rsplit_once('@').map_or(rest, |(_, h)| h).to_owned()
}

/// A connection failure, worded with the server's address and what to do about a
/// certificate problem (which is permanent: retrying cannot cure it).
fn connect_error(service: &'static str, url: &str, e: redis::RedisError) -> Error {
    let text = e.to_string();
    let err = session_core::error::ServiceError::new(service, address(url), "CACHE_URL");
    if session_core::error::is_certificate_failure(&text) {
        return Error::permanent(
            ENGINE,
            err.problem(session_core::error::certificate_problem(
                &text,
                "ssl_ca_certs=<file> in CACHE_URL",
            )),
        );
    }
    let transient = redis_error_is_transient(&e);
    let err = err.problem("cannot connect").caused_by(e);
    if transient {
        Error::transient(ENGINE, err)
    } else {
        Error::permanent(ENGINE, err)
    }
}

pub(crate) fn connect_node(url: &str) -> Connecting {
    let url = url.to_owned();
    Box::pin(async move {
        no_tls_in_build(&url)?;
        let (rest, params) = tls_params(&url)?;
        let rest = if params.insecure {
            format!("{rest}#insecure")
        } else {
            rest
        };
        let client = match certificates(&params)? {
            #[cfg(feature = "rustls")]
            Some(certs) => redis::Client::build_with_tls(rest.as_str(), certs),
            #[cfg(not(feature = "rustls"))]
            Some(()) => unreachable!("certificates() refuses a CA file without rustls"),
            None => redis::Client::open(rest.as_str()),
        }
        .map_err(|e| invalid_url(e.to_string()))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(REDIS_CONNECT_TIMEOUT)
            .set_response_timeout(REDIS_RESPONSE_TIMEOUT)
            .set_number_of_retries(2)
            .set_max_delay(500);
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| connect_error("Redis", &url, e))?;
        Ok(Arc::new(Redis::node(conn)) as Arc<dyn CacheBackend>)
    })
}

pub(crate) fn connect_cluster(url: &str) -> Connecting {
    let url = url.to_owned();
    Box::pin(async move {
        no_tls_in_build(&url)?;
        let (rest, params) = tls_params(&url)?;
        let (scheme, hosts) = match rest.split_once("://") {
            Some(("rediss-cluster", h)) => ("rediss", h),
            Some((_, h)) => ("redis", h),
            None => ("redis", rest.as_str()),
        };
        let nodes: Vec<String> = hosts
            .split(['/', '?'])
            .next()
            .unwrap_or_default()
            .split(',')
            .map(|n| format!("{scheme}://{n}"))
            .collect();
        #[allow(unused_mut)]
        let mut builder = redis::cluster::ClusterClientBuilder::new(nodes)
            .connection_timeout(REDIS_CONNECT_TIMEOUT)
            .response_timeout(REDIS_RESPONSE_TIMEOUT)
            .retries(2);
        #[cfg(any(feature = "rustls", feature = "native-tls"))]
        if scheme == "rediss" {
            builder = builder.tls(if params.insecure {
                redis::TlsMode::Insecure
            } else {
                redis::TlsMode::Secure
            });
        }
        #[cfg(feature = "rustls")]
        if let Some(certs) = certificates(&params)? {
            builder = builder.certs(certs);
        }
        #[cfg(not(feature = "rustls"))]
        certificates(&params)?;
        let client = builder.build().map_err(|e| invalid_url(e.to_string()))?;
        let conn = client
            .get_async_connection()
            .await
            .map_err(|e| connect_error("Redis Cluster", &url, e))?;
        Ok(Arc::new(Cluster {
            client,
            current: std::sync::RwLock::new(Redis::cluster(conn)),
            reseeded_at: std::sync::Mutex::new(None),
        }) as Arc<dyn CacheBackend>)
    })
}

/// How often at most a Cluster connection is rebuilt from the seed nodes.
const RESEED_EVERY: Duration = Duration::from_secs(1);

/// A Redis Cluster connection that rebuilds itself from the seed nodes after connection
/// errors. The client reconnects to a failed node's address and refreshes its slot map only
/// on a `MOVED` reply, which a dead master never sends: after a failover (a replica
/// promoted) it would keep failing for that master's slots. A fresh connection reads the
/// slot map from any seed that answers.
struct Cluster {
    client: redis::cluster::ClusterClient,
    current: std::sync::RwLock<Redis<ClusterConnection>>,
    reseeded_at: std::sync::Mutex<Option<std::time::Instant>>,
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster").finish_non_exhaustive()
    }
}

impl Cluster {
    fn conn(&self) -> Redis<ClusterConnection> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// After a transient error: rebuilds the connection (at most once per second).
    async fn after<T>(&self, r: Result<T, Error>) -> Result<T, Error> {
        if let Err(e) = &r {
            if e.is_transient() {
                let due = {
                    let mut at = self
                        .reseeded_at
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    let due = at.is_none_or(|t| t.elapsed() >= RESEED_EVERY);
                    if due {
                        *at = Some(std::time::Instant::now());
                    }
                    due
                };
                if due {
                    if let Ok(Ok(conn)) = tokio::time::timeout(
                        REDIS_CONNECT_TIMEOUT * 2,
                        self.client.get_async_connection(),
                    )
                    .await
                    {
                        *self
                            .current
                            .write()
                            .unwrap_or_else(std::sync::PoisonError::into_inner) =
                            Redis::cluster(conn);
                    }
                }
            }
        }
        r
    }
}

#[async_trait]
impl CacheBackend for Cluster {
    fn kind(&self) -> &'static str {
        "redis-cluster"
    }
    fn is_in_process(&self) -> bool {
        false
    }
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        self.after(self.conn().get(key).await).await
    }
    async fn add(&self, key: &str, value: &[u8], ttl: u64) -> Result<bool, Error> {
        self.after(self.conn().add(key, value, ttl).await).await
    }
    async fn replace(&self, key: &str, value: &[u8], ttl: u64) -> Result<bool, Error> {
        self.after(self.conn().replace(key, value, ttl).await).await
    }
    async fn set(&self, key: &str, value: &[u8], ttl: u64) -> Result<(), Error> {
        self.after(self.conn().set(key, value, ttl).await).await
    }
    async fn set_unless(
        &self,
        key: &str,
        value: &[u8],
        ttl: u64,
        guard: &[u8],
    ) -> Result<bool, Error> {
        self.after(self.conn().set_unless(key, value, ttl, guard).await)
            .await
    }
    async fn set_many(&self, keys: &[String], value: &[u8], ttl: u64) -> Result<(), Error> {
        self.after(self.conn().set_many(keys, value, ttl).await)
            .await
    }
    async fn delete(&self, key: &str) -> Result<bool, Error> {
        self.after(self.conn().delete(key).await).await
    }
    async fn delete_many(&self, keys: &[String]) -> Result<u64, Error> {
        self.after(self.conn().delete_many(keys).await).await
    }
    async fn exists(&self, key: &str) -> Result<bool, Error> {
        self.after(self.conn().exists(key).await).await
    }
    async fn get_with_ttl(&self, key: &str) -> Result<Option<(Vec<u8>, Option<i64>)>, Error> {
        self.after(self.conn().get_with_ttl(key).await).await
    }
    async fn touch(&self, key: &str, ttl: u64) -> Result<Option<bool>, Error> {
        self.after(self.conn().touch(key, ttl).await).await
    }
    async fn set_add(&self, key: &str, member: &str, ttl: u64) -> Result<Option<()>, Error> {
        self.after(self.conn().set_add(key, member, ttl).await)
            .await
    }
    async fn set_members(&self, key: &str) -> Result<Option<Vec<String>>, Error> {
        self.after(self.conn().set_members(key).await).await
    }
    async fn set_remove(&self, key: &str, member: &str) -> Result<Option<()>, Error> {
        self.after(self.conn().set_remove(key, member).await).await
    }
}

impl<C: ConnectionLike + Clone + Send + Sync> Redis<C> {
    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, Error> {
        cmd.query_async(&mut self.conn.clone())
            .await
            .map_err(redis_error)
    }

    async fn set_if(
        &self,
        key: &str,
        value: &[u8],
        ttl: u64,
        condition: Option<&str>,
    ) -> Result<bool, Error> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(value);
        if let Some(c) = condition {
            cmd.arg(c);
        }
        cmd.arg("EX").arg(ttl);
        let r: Option<String> = self.query(&cmd).await?;
        Ok(r.is_some())
    }
}

#[async_trait]
impl<C: ConnectionLike + Clone + Send + Sync + 'static> CacheBackend for Redis<C> {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn is_in_process(&self) -> bool {
        false
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        self.query(redis::cmd("GET").arg(key)).await
    }

    /// `GET` and `TTL` pipelined: one round trip.
    async fn get_with_ttl(&self, key: &str) -> Result<Option<(Vec<u8>, Option<i64>)>, Error> {
        let (value, ttl): (Option<Vec<u8>>, i64) = redis::pipe()
            .cmd("GET")
            .arg(key)
            .cmd("TTL")
            .arg(key)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(redis_error)?;
        Ok(value.map(|v| (v, (ttl >= 0).then_some(ttl))))
    }

    /// `SADD`, then the set's TTL raised to `ttl` if lower (one script, one round trip).
    async fn set_add(&self, key: &str, member: &str, ttl: u64) -> Result<Option<()>, Error> {
        let _: i64 = redis::Script::new(SET_ADD)
            .key(key)
            .arg(member)
            .arg(ttl)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(redis_error)?;
        Ok(Some(()))
    }

    async fn set_members(&self, key: &str) -> Result<Option<Vec<String>>, Error> {
        self.query(redis::cmd("SMEMBERS").arg(key)).await.map(Some)
    }

    async fn set_remove(&self, key: &str, member: &str) -> Result<Option<()>, Error> {
        self.query::<i64>(redis::cmd("SREM").arg(key).arg(member))
            .await
            .map(|_| Some(()))
    }

    /// `EXPIRE key ttl`: 0 when the key is gone.
    async fn touch(&self, key: &str, ttl: u64) -> Result<Option<bool>, Error> {
        let done: i64 = self.query(redis::cmd("EXPIRE").arg(key).arg(ttl)).await?;
        Ok(Some(done == 1))
    }

    /// `SCAN cursor MATCH prefix* COUNT n` on one node (a Cluster's keys live on many nodes:
    /// not listed). A page may be empty before the end; keys may repeat across pages.
    async fn scan(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        count: usize,
    ) -> Result<Option<(Vec<String>, Option<String>)>, Error> {
        if self.kind != "redis" {
            return Ok(None);
        }
        let mut pattern = String::with_capacity(prefix.len() + 1);
        for c in prefix.chars() {
            if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('*');
        let (next, keys): (String, Vec<String>) = self
            .query(
                redis::cmd("SCAN")
                    .arg(cursor.unwrap_or("0"))
                    .arg("MATCH")
                    .arg(pattern)
                    .arg("COUNT")
                    .arg(count.max(1)),
            )
            .await?;
        Ok(Some((keys, (next != "0").then_some(next))))
    }

    async fn add(&self, key: &str, value: &[u8], ttl: u64) -> Result<bool, Error> {
        self.set_if(key, value, ttl, Some("NX")).await
    }

    async fn replace(&self, key: &str, value: &[u8], ttl: u64) -> Result<bool, Error> {
        self.set_if(key, value, ttl, Some("XX")).await
    }

    async fn set(&self, key: &str, value: &[u8], ttl: u64) -> Result<(), Error> {
        self.set_if(key, value, ttl, None).await.map(drop)
    }

    async fn delete(&self, key: &str) -> Result<bool, Error> {
        Ok(self.query::<i64>(redis::cmd("DEL").arg(key)).await? > 0)
    }

    async fn set_unless(
        &self,
        key: &str,
        value: &[u8],
        ttl: u64,
        guard: &[u8],
    ) -> Result<bool, Error> {
        // EVALSHA, loading the script on first use (one round trip once loaded).
        let written: i64 = redis::Script::new(SET_UNLESS)
            .key(key)
            .arg(value)
            .arg(ttl)
            .arg(guard)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(redis_error)?;
        Ok(written == 1)
    }

    async fn set_many(&self, keys: &[String], value: &[u8], ttl: u64) -> Result<(), Error> {
        for chunk in keys.chunks(BATCH) {
            let mut pipe = redis::pipe();
            for k in chunk {
                pipe.cmd("SET")
                    .arg(k)
                    .arg(value)
                    .arg("EX")
                    .arg(ttl)
                    .ignore();
            }
            pipe.query_async::<()>(&mut self.conn.clone())
                .await
                .map_err(redis_error)?;
        }
        Ok(())
    }

    async fn delete_many(&self, keys: &[String]) -> Result<u64, Error> {
        let mut removed = 0u64;
        for chunk in keys.chunks(BATCH) {
            // One pipelined round trip per chunk; one DEL per key keeps Cluster slots apart.
            let mut pipe = redis::pipe();
            for k in chunk {
                pipe.cmd("DEL").arg(k);
            }
            let counts: Vec<i64> = pipe
                .query_async(&mut self.conn.clone())
                .await
                .map_err(redis_error)?;
            removed += counts
                .iter()
                .map(|&c| u64::try_from(c).unwrap_or(0))
                .sum::<u64>();
        }
        Ok(removed)
    }

    async fn exists(&self, key: &str) -> Result<bool, Error> {
        Ok(self.query::<i64>(redis::cmd("EXISTS").arg(key)).await? > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_are_read_and_the_rest_kept() {
        let (rest, p) =
            tls_params("rediss://u:pw@h:6380/2?ssl_ca_certs=/etc/ca.pem&protocol=resp3").unwrap();
        assert_eq!(rest, "rediss://u:pw@h:6380/2?protocol=resp3");
        assert_eq!(p.ca_file.as_deref(), Some("/etc/ca.pem"));
        assert!(!p.insecure);
        let (_, p) = tls_params("rediss://h/0?ssl_cert_reqs=none").unwrap();
        assert!(p.insecure);
        let (rest, p) = tls_params("rediss://h/0#insecure").unwrap();
        assert!(p.insecure);
        assert_eq!(rest, "rediss://h/0");
        assert_eq!(
            tls_params("redis://h/0").unwrap(),
            ("redis://h/0".into(), TlsParams::default())
        );
    }

    #[test]
    fn tls_parameters_on_a_plain_url_or_a_bad_value_are_refused() {
        let e = tls_params("redis://h/0?ssl_ca_certs=/x").unwrap_err();
        assert!(session_core::error::report(&e).contains("rediss://"), "{e}");
        assert!(tls_params("rediss://h/0?ssl_cert_reqs=maybe").is_err());
    }

    #[test]
    fn addresses_never_show_the_password() {
        assert_eq!(
            address("rediss://user:secret@cache.example:6380/0"),
            "cache.example:6380"
        );
        assert_eq!(address("redis-cluster://a:7000,b:7001"), "a:7000,b:7001");
    }
}
