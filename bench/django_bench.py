"""Django's side of the side-by-side harness (bench/src/main.rs runs it once per round).

Usage: django_bench.py CONFIG_JSON
CONFIG_JSON: {"paths": [...], "secs": float, "redis": url or null, "postgres": url or null}

For each path the harness measures that Django can do too, runs the same workload as the
Rust side for `secs` seconds through Django's own SessionStore classes and prints one JSON
line: {"path", "ops", "secs", "lat_us": [per-operation latencies]}.
Workloads: create = a new session with 5 small keys, saved; load = open by key, read one
key; cycle = open, increment, save.
"""

import json
import os
import sys
import tempfile
import time
from importlib import import_module
from urllib.parse import unquote, urlparse

cfg = json.loads(sys.argv[1])
secs = float(cfg["secs"])
files = tempfile.mkdtemp(prefix="django-bench-")

from django.conf import settings  # noqa: E402

# LocMemCache culls at 300 entries by default: the create loop would evict the seeded one.
caches = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "OPTIONS": {"MAX_ENTRIES": 10_000_000},
    }
}
if cfg.get("redis"):
    caches["redis"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": cfg["redis"],
        "KEY_PREFIX": "djbench",
    }
databases = {}
if cfg.get("postgres"):
    u = urlparse(cfg["postgres"])
    databases["default"] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": u.path.lstrip("/"),
        "USER": unquote(u.username or ""),
        "PASSWORD": unquote(u.password or ""),
        "HOST": u.hostname or "127.0.0.1",
        "PORT": str(u.port or ""),
    }
settings.configure(
    SECRET_KEY="bench-secret-key",
    USE_TZ=True,
    INSTALLED_APPS=["django.contrib.sessions"],
    CACHES=caches,
    DATABASES=databases,
    SESSION_FILE_PATH=files,
)
import django  # noqa: E402

django.setup()
from django.core import signing  # noqa: E402

SMALL = {k: f"value-{i}" for i, k in enumerate("abcde")}


def codec_data(big):
    d = {
        "_auth_user_id": "42",
        "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
        "_auth_user_hash": "5f1233b323d122a8661900822ffc8de1eee5a07b9e62bc69d6ddfcad0b1bf9a2",
        "num_visits": 7,
    }
    if big:
        d["cart"] = [{"id": i, "name": f"item {i} é", "price": i * 1.25} for i in range(60)]
    return d


def measure(op):
    for _ in range(20):
        op()
    lat = []
    start = time.perf_counter()
    while time.perf_counter() - start < secs:
        t = time.perf_counter()
        op()
        lat.append((time.perf_counter() - t) * 1e6)
    return len(lat), time.perf_counter() - start, lat


def session_ops(engine, alias=None):
    backend = import_module(f"django.contrib.sessions.backends.{engine}").SessionStore

    def Store(**kwargs):
        # The cache engines read SESSION_CACHE_ALIAS when a store is made: set it each time
        # (locmem for "inproc", Redis for "redis").
        if alias:
            settings.SESSION_CACHE_ALIAS = alias
        return backend(**kwargs)

    def create():
        s = Store()
        for k, v in SMALL.items():
            s[k] = v
        s.save()

    seed = Store()
    seed.update(SMALL)
    seed.save()
    key = seed.session_key
    state = {"key": key}

    def load():
        s = Store(session_key=key)
        assert s.get("a") is not None

    def cycle():
        s = Store(session_key=state["key"])
        s["n"] = s.get("n", 0) + 1
        s.save()
        state["key"] = s.session_key

    return {"create": create, "load": load, "cycle": cycle}


ops = {}
for name, big in (("200B", False), ("4KB", True)):
    data = codec_data(big)
    encoded = signing.dumps(data, salt="django.contrib.sessions.SessionStore", compress=True)
    ops[f"codec/encode-{name}"] = (
        lambda d=data: signing.dumps(d, salt="django.contrib.sessions.SessionStore", compress=True)
    )
    ops[f"codec/decode-{name}"] = (
        lambda e=encoded: signing.loads(e, salt="django.contrib.sessions.SessionStore")
    )
groups = {"inproc": ("cache", "default"), "signed": ("signed_cookies", None), "file": ("file", None)}
if cfg.get("redis"):
    groups["redis"] = ("cache", "redis")
if cfg.get("postgres"):
    from django.contrib.sessions.models import Session
    from django.db import connection

    # Django's own table (made here when the test database has none yet).
    if Session._meta.db_table not in connection.introspection.table_names():
        with connection.schema_editor() as editor:
            editor.create_model(Session)
    groups["postgres"] = ("db", None)

wanted = set(cfg["paths"])
for group, (engine, alias) in groups.items():
    if not any(p.startswith(group + "/") for p in wanted):
        continue
    for op_name, op in session_ops(engine, alias).items():
        ops[f"{group}/{op_name}"] = op
    if group == "file":
        # Django's file engine never fsyncs: the same numbers stand beside file-fsync.
        for op_name in ("create", "load", "cycle"):
            ops[f"file-fsync/{op_name}"] = ops[f"file/{op_name}"]

for path in cfg["paths"]:
    if path in ops:
        n, elapsed, lat = measure(ops[path])
        print(json.dumps({"path": path, "ops": n, "secs": elapsed, "lat_us": lat}))
