#!/usr/bin/env bash
# The README's test command: servers up (or given by URL, see scripts/test-services.sh),
# Django venv ready, then every test of the workspace. Under CI=true a missing server or
# Django fails the run instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
# Every NAME=value line the services script prints becomes an environment variable.
urls=$(scripts/test-services.sh)
while IFS= read -r line; do
  if [[ $line == *=* ]]; then export "${line?}"; fi
done <<<"$urls"
echo "[test] Django venv" >&2
scripts/django-venv.sh >/dev/null
echo "[test] cargo test --workspace --all-targets" >&2
cargo test --workspace --all-targets "$@"
echo "[test] cargo test --workspace --doc" >&2
cargo test --workspace --doc
