#!/usr/bin/env bash
# The README's test command: servers up, Django venv ready, then every test of the workspace.
# Under CI=true a missing server or Django fails the run instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/test-services.sh >/dev/null
scripts/django-venv.sh >/dev/null
export POSTGRES_URL=${POSTGRES_URL:-postgres://postgres:postgres@127.0.0.1:5432/sessions_test}
export MYSQL_URL=${MYSQL_URL:-mysql://sessions:sessions@127.0.0.1:3306/sessions_test}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export REDIS_CLUSTER_URL=${REDIS_CLUSTER_URL:-redis-cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002}
cargo test --workspace --all-targets "$@"
cargo test --workspace --doc
