#!/usr/bin/env bash
# Fails when `cargo run -p session-demo` / `-p sessionctl` would resolve a crate's features
# differently from the workspace's tests (two builds instead of one): then add the features
# it prints to workspace-hack/Cargo.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
features() { cargo tree "$@" -f '{p}|{f}' -e normal --prefix none 2>/dev/null | sed 's/ (\*)//' | sort -u; }
ws=$(features --workspace -e dev)
status=0
for bin in session-demo sessionctl; do
  diff=$(python3 - "$bin" <<PY
import sys
def load(text):
    d = {}
    for line in text.splitlines():
        if '|' in line:
            k, f = line.split('|', 1)
            d.setdefault(k, set()).update(x for x in f.split(',') if x)
    return d
ws = load('''$ws''')
one = load('''$(features -p "$bin")''')
for k in sorted(one):
    if k in ws and one[k] != ws[k]:
        print(f"{sys.argv[1]}: {k} lacks {sorted(ws[k] - one[k])}")
PY
)
  if [ -n "$diff" ]; then echo "$diff"; status=1; fi
done
[ $status = 0 ] && echo "one build: the binaries and the tests resolve every crate's features alike"
exit $status
