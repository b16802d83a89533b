#!/usr/bin/env bash
# The declared MSRV (workspace rust-version) is honest: no older toolchain can be installed
# on our machines, so it is checked two ways instead — clippy's `incompatible_msrv` lint (on
# in `.ci/run`'s clippy step) flags our own use of newer std APIs, and this script fails when
# any dependency in Cargo.lock declares a newer rust-version than ours.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo metadata --format-version 1 --locked 2>/dev/null | python3 -c '
import json, sys
meta = json.load(sys.stdin)
def v(s): return (tuple(int(x) for x in (s or "0").split(".")) + (0, 0, 0))[:3]
ours = max(v(p.get("rust_version")) for p in meta["packages"] if p["source"] is None)
newer = ["%s %s needs %s" % (p["name"], p["version"], p["rust_version"]) for p in meta["packages"]
         if p["source"] is not None and v(p.get("rust_version")) > ours]
if newer:
    sys.exit("dependencies newer than our MSRV " + ".".join(map(str, ours)) + ":\n" + "\n".join(newer))
print("MSRV " + ".".join(map(str, ours)) + ": every dependency declares it or older")
'
