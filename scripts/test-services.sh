#!/usr/bin/env bash
# Starts the servers the test suites use on 127.0.0.1 — PostgreSQL, MariaDB, Redis — installing
# them from Debian packages when missing, and prepares the databases and users. Idempotent: on a
# machine where they already run it only checks them. Prints the URLs the tests read.
set -euo pipefail
say() { printf '[test-services] %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || need+=(postgresql)
[ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  say "starting redis"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/tests.log
fi

pgver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$pgver" ]; then
  pgver=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
  as_root pg_createcluster "$pgver" main >/dev/null
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  say "starting postgresql $pgver"
  as_root pg_ctlcluster --skip-systemctl-redirect "$pgver" main start
  for _ in $(seq 60); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
fi
pgsql() { as_root su postgres -c "psql -qAtc \"$1\""; }
pgsql "ALTER USER postgres PASSWORD 'postgres'" >/dev/null
for db in test sessions_test; do
  [ "$(pgsql "SELECT 1 FROM pg_database WHERE datname='$db'")" = 1 ] || as_root su postgres -c "createdb $db"
done

if ! mariadb-admin --protocol=socket -u root ping >/dev/null 2>&1; then
  say "starting mariadb"
  as_root mkdir -p /run/mysqld
  as_root chown mysql:mysql /run/mysqld 2>/dev/null || true
  as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- \
    --user=mysql --bind-address=127.0.0.1
  for _ in $(seq 120); do mariadb-admin --protocol=socket -u root ping >/dev/null 2>&1 && break; sleep 0.5; done
fi
as_root mariadb --protocol=socket -u root <<'SQL'
CREATE DATABASE IF NOT EXISTS test;
CREATE DATABASE IF NOT EXISTS sessions_test;
CREATE USER IF NOT EXISTS 'sessions'@'127.0.0.1' IDENTIFIED BY 'sessions';
CREATE USER IF NOT EXISTS 'sessions'@'localhost' IDENTIFIED BY 'sessions';
GRANT ALL PRIVILEGES ON sessions_test.* TO 'sessions'@'127.0.0.1';
GRANT ALL PRIVILEGES ON sessions_test.* TO 'sessions'@'localhost';
GRANT ALL PRIVILEGES ON test.* TO 'sessions'@'127.0.0.1';
GRANT ALL PRIVILEGES ON test.* TO 'sessions'@'localhost';
FLUSH PRIVILEGES;
SQL

# A three-master Redis Cluster on 7000-7002 for the cluster configuration.
"$(dirname "$0")/redis-cluster.sh" >/dev/null

cat <<'URLS'
POSTGRES_URL=postgres://postgres:postgres@127.0.0.1:5432/sessions_test
MYSQL_URL=mysql://sessions:sessions@127.0.0.1:3306/sessions_test
REDIS_URL=redis://127.0.0.1:6379/0
REDIS_CLUSTER_URL=redis-cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002
URLS
