#!/usr/bin/env bash
# The servers the test suites use, one line per step on stderr; the URLs the tests read on
# stdout (NAME=value lines, which scripts/test.sh exports).
#
# Each server is either given or local:
#   given  — POSTGRES_URL, MYSQL_URL, REDIS_URL, REDIS_CLUSTER_URL, MEMCACHED_URL (and the TLS servers'
#            POSTGRES_TLS_URL, MYSQL_TLS_URL, REDIS_TLS_URL, REDIS_CLUSTER_TLS_URL) are used as
#            they are: nothing is installed, started or changed; the script checks they answer.
#   local  — on 127.0.0.1, installed from Debian/Ubuntu packages when missing (needs root or
#            sudo), started when stopped, and given the test databases and the users this
#            script creates (`sessions` on PostgreSQL and MariaDB). It never changes the
#            password of a user it did not create.
# Idempotent: servers already answering are only checked.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
step() { printf '[test-services] %s\n' "$*" >&2; }
die() { step "error: $*"; exit 1; }
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "'$*' needs root or sudo; or give the servers by URL (see the README)"; fi
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
urls=()

can_root() { [ "$(id -u)" = 0 ] || command -v sudo >/dev/null 2>&1; }

install_missing() {
  local need=()
  if [ -z "${REDIS_URL:-}" ] || [ -z "${REDIS_CLUSTER_URL:-}" ] || [ -z "${REDIS_TLS_URL:-}" ]; then
    command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
  fi
  if [ -z "${POSTGRES_URL:-}" ] || [ -z "${POSTGRES_TLS_URL:-}" ]; then
    compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || need+=(postgresql)
  fi
  if [ -z "${MYSQL_URL:-}" ] || [ -z "${MYSQL_TLS_URL:-}" ]; then
    [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
  fi
  if [ -z "${MEMCACHED_URL:-}" ]; then
    [ -x /usr/bin/memcached ] || need+=(memcached)
  fi
  command -v openssl >/dev/null 2>&1 || need+=(openssl)
  # The demo's browser test drives Debian's Chromium (never a downloaded one). Without root
  # it is not installed: the browser test then says so (and fails under CI=true).
  local browser=()
  [ -x /usr/bin/chromium ] || browser+=(chromium)
  [ -x /usr/bin/chromedriver ] || browser+=(chromium-driver)
  if [ ${#browser[@]} -gt 0 ]; then
    if [ -n "${SKIP_BROWSER:-}" ] || ! can_root || ! command -v apt-get >/dev/null 2>&1; then
      step "Chromium: not installed and not installing it (no root, no apt-get or SKIP_BROWSER): the browser test will report it"
    else
      need+=("${browser[@]}")
    fi
  fi
  [ ${#need[@]} -eq 0 ] && return
  command -v apt-get >/dev/null 2>&1 ||
    die "missing ${need[*]} and no apt-get: install them, or give every server by URL"
  step "installing ${need[*]} (apt-get)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
}

setup_redis() {
  if [ -n "${REDIS_URL:-}" ]; then
    step "Redis: using REDIS_URL as given"
    urls+=("REDIS_URL=$REDIS_URL")
    return
  fi
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    step "Redis: answering on 127.0.0.1:6379"
  else
    step "Redis: starting on 127.0.0.1:6379 (in memory)"
    as_root mkdir -p /var/lib/redis /var/log/redis
    as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/tests.log
  fi
  urls+=("REDIS_URL=redis://127.0.0.1:6379/0")
}

setup_memcached() {
  if [ -n "${MEMCACHED_URL:-}" ]; then
    step "Memcached: using MEMCACHED_URL as given"
    urls+=("MEMCACHED_URL=$MEMCACHED_URL")
    return
  fi
  if port_open 11211; then
    step "Memcached: answering on 127.0.0.1:11211"
  else
    step "Memcached: starting on 127.0.0.1:11211 (64 MB)"
    # -u: memcached refuses to run as root without a user to drop to.
    local user=()
    if [ "$(id -u)" = 0 ]; then id memcache >/dev/null 2>&1 && user=(-u memcache) || user=(-u nobody); fi
    memcached -d -l 127.0.0.1 -p 11211 -m 64 "${user[@]}"
    local i
    for i in $(seq 50); do port_open 11211 && break; sleep 0.1; done
    port_open 11211 || die "Memcached did not start on 127.0.0.1:11211"
  fi
  urls+=("MEMCACHED_URL=memcached://127.0.0.1:11211")
}

setup_redis_cluster() {
  if [ -n "${REDIS_CLUSTER_URL:-}" ]; then
    step "Redis Cluster: using REDIS_CLUSTER_URL as given"
    urls+=("REDIS_CLUSTER_URL=$REDIS_CLUSTER_URL")
    return
  fi
  step "Redis Cluster: three masters on 127.0.0.1:7000-7002"
  urls+=("$("$here/redis-cluster.sh")")
}

setup_postgres() {
  if [ -n "${POSTGRES_URL:-}" ]; then
    step "PostgreSQL: using POSTGRES_URL as given"
    if command -v psql >/dev/null 2>&1; then
      psql "$POSTGRES_URL" -qAtc 'SELECT 1' >/dev/null || die "PostgreSQL at POSTGRES_URL does not answer"
    fi
    urls+=("POSTGRES_URL=$POSTGRES_URL")
    return
  fi
  local ver
  ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$ver" ]; then
    ver=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
    step "PostgreSQL: creating cluster $ver/main"
    as_root pg_createcluster "$ver" main >/dev/null
  fi
  if pg_isready -q -h 127.0.0.1 -p 5432; then
    step "PostgreSQL: answering on 127.0.0.1:5432"
  else
    step "PostgreSQL: starting $ver/main on 127.0.0.1:5432"
    as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start
    for _ in $(seq 60); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
  fi
  # Where `postgres` logs in over TCP with the documented password (or trust), use it.
  # Otherwise use a role of our own: `sessions`, created here (never `postgres`'s password).
  local url=postgres://postgres:postgres@127.0.0.1:5432/sessions_test
  local admin=postgres
  if ! PGPASSWORD=postgres PGCONNECT_TIMEOUT=5 psql -h 127.0.0.1 -U postgres -d postgres -qAtc 'SELECT 1' >/dev/null 2>&1; then
    step "PostgreSQL: postgres needs a password we do not know; using our own role sessions"
    as_root su postgres -c "psql -qAtc \"DO \\\$\\\$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sessions') THEN CREATE ROLE sessions LOGIN CREATEROLE PASSWORD 'sessions'; END IF; END\\\$\\\$\"" >/dev/null
    url=postgres://sessions:sessions@127.0.0.1:5432/sessions_test
    admin=sessions
  fi
  for db in test sessions_test; do
    if [ "$(as_root su postgres -c "psql -qAtc \"SELECT 1 FROM pg_database WHERE datname='$db'\"")" != 1 ]; then
      step "PostgreSQL: creating database $db (owner $admin)"
      as_root su postgres -c "createdb -O $admin $db"
    fi
  done
  urls+=("POSTGRES_URL=$url")
}

setup_mariadb() {
  if [ -n "${MYSQL_URL:-}" ]; then
    step "MariaDB: using MYSQL_URL as given"
    urls+=("MYSQL_URL=$MYSQL_URL")
    return
  fi
  if mariadb-admin --protocol=socket -u root ping >/dev/null 2>&1; then
    step "MariaDB: answering"
  else
    step "MariaDB: starting on 127.0.0.1:3306"
    as_root mkdir -p /run/mysqld
    as_root chown mysql:mysql /run/mysqld 2>/dev/null || true
    as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- \
      --user=mysql --bind-address=127.0.0.1
    for _ in $(seq 120); do mariadb-admin --protocol=socket -u root ping >/dev/null 2>&1 && break; sleep 0.5; done
  fi
  step "MariaDB: databases test and sessions_test, user sessions (ours; may create data-only users for the tests)"
  as_root mariadb --protocol=socket -u root <<'SQL'
CREATE DATABASE IF NOT EXISTS test;
CREATE DATABASE IF NOT EXISTS sessions_test;
CREATE USER IF NOT EXISTS 'sessions'@'127.0.0.1' IDENTIFIED BY 'sessions';
CREATE USER IF NOT EXISTS 'sessions'@'localhost' IDENTIFIED BY 'sessions';
GRANT ALL PRIVILEGES ON sessions_test.* TO 'sessions'@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON sessions_test.* TO 'sessions'@'localhost' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON test.* TO 'sessions'@'127.0.0.1';
GRANT ALL PRIVILEGES ON test.* TO 'sessions'@'localhost';
GRANT CREATE USER ON *.* TO 'sessions'@'127.0.0.1';
GRANT CREATE USER ON *.* TO 'sessions'@'localhost';
FLUSH PRIVILEGES;
SQL
  urls+=("MYSQL_URL=mysql://sessions:sessions@127.0.0.1:3306/sessions_test")
}

setup_tls() {
  if [ -n "${POSTGRES_TLS_URL:-}" ] && [ -n "${MYSQL_TLS_URL:-}" ] && [ -n "${REDIS_TLS_URL:-}" ] &&
    [ -n "${REDIS_CLUSTER_TLS_URL:-}" ]; then
    step "TLS servers: using the *_TLS_URLs as given"
  else
    step "TLS servers: private PostgreSQL 5433, MariaDB 3307, Redis 6380, Redis Cluster 6390 (throwaway CA)"
  fi
  while IFS= read -r line; do urls+=("$line"); done < <("$here/tls-servers.sh")
}

install_missing
setup_redis
setup_memcached
setup_redis_cluster
setup_postgres
setup_mariadb
setup_tls
step "ready"
printf '%s\n' "${urls[@]}"
