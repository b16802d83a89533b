#!/usr/bin/env bash
# Makes .venv-django: a virtualenv with real Django for the live interop tests (and selenium,
# which drives Debian's Chromium in the demo's browser test).
# Django 6.1 needs Python >= 3.12 (pyenv's 3.12 when present); on Python 3.11 it falls back to
# Django 5.2, whose session format is the same. Idempotent. Prints the interpreter's path.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv-django"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import django, psycopg, pymysql, redis, selenium, pymemcache' 2>/dev/null; then
  echo "$venv/bin/python"; exit 0
fi
py=""
if command -v pyenv >/dev/null 2>&1 && PYENV_VERSION=3.12.1 python3.12 -V >/dev/null 2>&1; then
  py="env PYENV_VERSION=3.12.1 python3.12"
elif command -v python3.12 >/dev/null 2>&1; then
  py="python3.12"
else
  py="python3"
fi
$py -m venv "$venv" >&2
if "$venv/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then
  django='Django==6.1.3'
else
  django='Django>=5.2,<5.3'
fi
"$venv/bin/pip" install -q --disable-pip-version-check "$django" 'psycopg[binary]' pymysql redis pymemcache 'selenium>=4.20' >&2
echo "$venv/bin/python"
