#!/usr/bin/env bash
# Test servers that speak TLS only, signed by a throwaway CA made here with openssl:
#   PostgreSQL on 127.0.0.1:5433, MariaDB on 3307, Redis on 6380
#   (TLS port only) and a one-node Redis Cluster on 6390 (TLS port and TLS bus only).
# They are private servers in $STATE (default /tmp/django-sessions-rs-tests), separate from
# the shared ones, so turning TLS on changes nothing for anyone else. Idempotent: servers
# already answering are kept. Prints the URLs the TLS tests read (each names the CA file).
# A URL given in the environment (POSTGRES_TLS_URL, MYSQL_TLS_URL, REDIS_TLS_URL,
# REDIS_CLUSTER_TLS_URL) is used as it is and its server is not started.
set -euo pipefail
STATE=${SESSION_TEST_STATE:-/tmp/django-sessions-rs-tests}
TLS=$STATE/tls
say() { printf '[tls-servers] %s\n' "$*" >&2; }
as_user() { # runs "$2..." as user $1 when we are root, else as ourselves
  local user=$1; shift
  if [ "$(id -u)" = 0 ]; then runuser -u "$user" -- "$@"; else "$@"; fi
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

mkdir -p "$TLS"
chmod 755 "$STATE" "$TLS"
if [ ! -s "$TLS/ca.pem" ] || [ ! -s "$TLS/server.pem" ] || [ ! -s "$TLS/other-ca.pem" ]; then
  say "making a throwaway CA and a server certificate for localhost / 127.0.0.1 in $TLS"
  (
    cd "$TLS"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=django-sessions-rs test CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout ca.key -out ca.pem 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr 2>/dev/null
    printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=CA:FALSE" \
      "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" > server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile server.ext -out server.pem 2>/dev/null
    # A CA that signed nothing here: the "wrong CA" tests trust it instead.
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=some other CA" \
      -addext "basicConstraints=critical,CA:TRUE" -keyout other-ca.key -out other-ca.pem 2>/dev/null
    chmod 644 ca.pem server.pem other-ca.pem
  )
fi

pg_url="postgres://postgres@localhost:5433/postgres?sslmode=verify-full&sslrootcert=$TLS/ca.pem"
if [ -z "${POSTGRES_TLS_URL:-}" ] && ! port_open 5433; then
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$bin" ] || { say "PostgreSQL is not installed: no TLS PostgreSQL"; exit 1; }
  user=$([ "$(id -u)" = 0 ] && echo postgres || id -un)
  dir=$STATE/pg-tls
  if [ ! -s "$dir/data/PG_VERSION" ]; then
    say "creating a PostgreSQL cluster for TLS in $dir"
    rm -rf "$dir"; mkdir -p "$dir"
    cp "$TLS/server.pem" "$TLS/server.key" "$dir/"
    chmod 600 "$dir/server.key"
    [ "$(id -u)" = 0 ] && chown -R "$user" "$dir"
    as_user "$user" "$bin/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
  fi
  say "starting PostgreSQL with ssl=on on 127.0.0.1:5433"
  # A server killed moments ago may still hold its lock file: try a few times.
  for attempt in 1 2 3; do
    as_user "$user" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w start -o \
      "-p 5433 -k $dir -c listen_addresses=127.0.0.1 -c ssl=on -c ssl_cert_file=$dir/server.pem -c ssl_key_file=$dir/server.key" \
      >/dev/null 2>&1 && break
    [ "$attempt" = 3 ] && { say "PostgreSQL did not start: see $dir/log"; exit 1; }
    sleep 2
  done
fi

my_url="mysql://root@localhost:3307/sessions_test?ssl-mode=verify_identity&ssl-ca=$TLS/ca.pem"
if [ -z "${MYSQL_TLS_URL:-}" ] && ! port_open 3307; then
  [ -x /usr/sbin/mariadbd ] || { say "MariaDB is not installed: no TLS MariaDB"; exit 1; }
  user=$([ "$(id -u)" = 0 ] && echo mysql || id -un)
  dir=$STATE/mariadb-tls
  if [ ! -d "$dir/data/mysql" ]; then
    say "creating a MariaDB data directory for TLS in $dir"
    rm -rf "$dir"; mkdir -p "$dir"
    cp "$TLS/server.pem" "$TLS/server.key" "$TLS/ca.pem" "$dir/"
    [ "$(id -u)" = 0 ] && chown -R "$user" "$dir"
    mariadb-install-db --no-defaults --datadir="$dir/data" --user="$user" \
      --auth-root-authentication-method=normal --skip-test-db >/dev/null 2>&1
  fi
  say "starting MariaDB with TLS on 127.0.0.1:3307"
  rm -f "$dir/sock" "$dir/pid" # left behind when a previous server was killed
  /usr/sbin/mariadbd --no-defaults --datadir="$dir/data" --socket="$dir/sock" --pid-file="$dir/pid" \
    --port=3307 --bind-address=127.0.0.1 --user="$user" --skip-grant-tables \
    --ssl-cert="$dir/server.pem" --ssl-key="$dir/server.key" --ssl-ca="$dir/ca.pem" \
    >"$dir/log" 2>&1 &
  for _ in $(seq 120); do
    mariadb-admin --no-defaults --socket="$dir/sock" -u root ping >/dev/null 2>&1 && break
    sleep 0.5
  done
  mariadb --no-defaults --socket="$dir/sock" -u root -e "CREATE DATABASE IF NOT EXISTS sessions_test" >/dev/null
fi

redis_url="rediss://localhost:6380/0?ssl_ca_certs=$TLS/ca.pem"
redis_tls() { # port, extra args...
  local port=$1; shift
  mkdir -p "$STATE/redis-$port"
  redis-server --daemonize yes --bind 127.0.0.1 --port 0 --tls-port "$port" \
    --tls-cert-file "$TLS/server.pem" --tls-key-file "$TLS/server.key" --tls-ca-cert-file "$TLS/ca.pem" \
    --tls-auth-clients no --save "" --appendonly no --dir "$STATE/redis-$port" \
    --logfile "$STATE/redis-$port/log" "$@"
}
if [ -z "${REDIS_TLS_URL:-}" ] && ! port_open 6380; then
  say "starting Redis with a TLS port only on 127.0.0.1:6380"
  chmod 644 "$TLS/server.key" # redis-server reads it as whoever we are
  redis_tls 6380
fi

cluster_url="rediss-cluster://localhost:6390?ssl_ca_certs=$TLS/ca.pem"
if [ -z "${REDIS_CLUSTER_TLS_URL:-}" ] && ! port_open 6390; then
  say "starting a one-node Redis Cluster with TLS (clients and bus) on 127.0.0.1:6390"
  rm -f "$STATE/redis-6390/nodes.conf"
  redis_tls 6390 --cluster-enabled yes --tls-cluster yes --cluster-config-file "$STATE/redis-6390/nodes.conf"
  for _ in $(seq 50); do port_open 6390 && break; sleep 0.1; done
  rcli() { redis-cli --tls --cacert "$TLS/ca.pem" -h 127.0.0.1 -p 6390 "$@"; }
  rcli cluster addslotsrange 0 16383 >/dev/null
  for _ in $(seq 100); do rcli cluster info | grep -q cluster_state:ok && break; sleep 0.1; done
fi

cat <<URLS
POSTGRES_TLS_URL=${POSTGRES_TLS_URL:-$pg_url}
MYSQL_TLS_URL=${MYSQL_TLS_URL:-$my_url}
REDIS_TLS_URL=${REDIS_TLS_URL:-$redis_url}
REDIS_CLUSTER_TLS_URL=${REDIS_CLUSTER_TLS_URL:-$cluster_url}
TLS_WRONG_CA=$TLS/other-ca.pem
URLS
