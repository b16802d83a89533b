"""Drives real Django sessions for the Rust interop tests.

Usage: helper.py CONFIG_JSON COMMAND [ARG]

CONFIG_JSON: {"engine": "db"|"file"|"signed_cookies"|"cache"|"cached_db",
              "secret": str, "fallbacks": [str], "database_url": str, "table": str,
              "file_path": str, "cache_url": str (redis://… → RedisCache,
              memcached://h:p[,h:p] → PyMemcacheCache), "key_prefix": str, "cookie_age": int}

Commands (JSON on stdin where a dict is needed; results as one JSON line on stdout):
  create            stdin dict -> {"key": new key}
  load KEY          -> {"key": key after load (null if reset), "data": dict}
  update KEY        stdin dict merged into the loaded session, saved -> {"ok": true}
                    or {"error": "UpdateError"}
  delete KEY        -> {"ok": true}
  set_expiry KEY N  sets an expiry of N seconds and saves -> {"ok": true}
  clear_expired     -> {"ok": true}
  encode            stdin dict -> {"encoded": SessionStore().encode(dict)}
  decode            stdin text -> {"data": SessionStore().decode(text)}
  serve PORT        serves the seed tutorial's visit counter at / through Django's own
                    SessionMiddleware on 127.0.0.1:PORT until killed; prints "ready" first
  cache_raw KEY     -> {"b64": base64 of the raw cache bytes or null} (Redis); with a
                    memcached:// cache_url: {"server": the host:port pymemcache's HashClient
                    picked, "reply": base64 of that server's raw reply to `gets <key>`}

With "auth": true in CONFIG_JSON, django.contrib.auth is installed too:
  auth_setup              migrates contenttypes and auth (and sessions) -> {"ok": true}
  create_user NAME PW     -> {"id": str(pk)}
  login KEY|- NAME        django.contrib.auth.login into session KEY (or a new one), saved
                          -> {"key": the session key after login}
  get_user KEY            django.contrib.auth.get_user on session KEY, saved when changed
                          -> {"id": str(pk) or null, "key": the key after}
  set_password NAME PW    -> {"ok": true}
"""

import base64
import json
import sys
from urllib.parse import unquote, urlparse


def database_settings(url):
    u = urlparse(url)
    if u.scheme == "sqlite":
        path = url[len("sqlite://"):]
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": path}
    common = {
        "NAME": u.path.lstrip("/"),
        "USER": unquote(u.username or ""),
        "PASSWORD": unquote(u.password or ""),
        "HOST": u.hostname or "127.0.0.1",
        "PORT": str(u.port or ""),
    }
    if u.scheme in ("postgres", "postgresql"):
        return {"ENGINE": "django.db.backends.postgresql", **common}
    if u.scheme in ("mysql", "mariadb"):
        import pymysql

        # Django asks for mysqlclient >= 2.2.1; PyMySQL speaks the same DB-API.
        pymysql.version_info = (2, 2, 1, "final", 0)
        pymysql.install_as_MySQLdb()
        return {"ENGINE": "django.db.backends.mysql", **common}
    raise SystemExit(f"unsupported database url scheme {u.scheme}")


def configure(cfg):
    from django.conf import settings

    engine = cfg["engine"]
    opts = {
        "SECRET_KEY": cfg["secret"],
        "SECRET_KEY_FALLBACKS": cfg.get("fallbacks", []),
        "USE_TZ": True,
        "TIME_ZONE": "UTC",
        "INSTALLED_APPS": ["django.contrib.sessions"]
        + (["django.contrib.contenttypes", "django.contrib.auth"] if cfg.get("auth") else []),
        # Fast hashing for tests: the session auth hash covers whatever the hash is.
        "PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"],
        "SESSION_ENGINE": "django.contrib.sessions.backends." + engine,
        "SESSION_COOKIE_AGE": cfg.get("cookie_age", 1209600),
        "DATABASES": {},
        "CACHES": {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
    }
    if cfg.get("_serve"):
        opts.update(
            ROOT_URLCONF=__name__,
            MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware"],
            ALLOWED_HOSTS=["127.0.0.1", "localhost"],
            DEBUG=False,
        )
    if cfg.get("database_url"):
        opts["DATABASES"] = {"default": database_settings(cfg["database_url"])}
    if cfg.get("file_path"):
        opts["SESSION_FILE_PATH"] = cfg["file_path"]
    if cfg.get("cache_url"):
        url = cfg["cache_url"]
        if url.startswith("memcached://"):
            # The seed tutorial's cache: PyMemcacheCache, servers as "host:port" strings.
            hosts = url[len("memcached://"):].split("?")[0].rstrip("/")
            opts["CACHES"] = {
                "default": {
                    "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
                    "LOCATION": [h for h in hosts.split(",") if h],
                    "KEY_PREFIX": cfg.get("key_prefix", ""),
                }
            }
        else:
            opts["CACHES"] = {
                "default": {
                    "BACKEND": "django.core.cache.backends.redis.RedisCache",
                    "LOCATION": url,
                    "KEY_PREFIX": cfg.get("key_prefix", ""),
                }
            }
    settings.configure(**opts)
    import django

    django.setup()


def store_class(cfg):
    from importlib import import_module

    module = import_module("django.contrib.sessions.backends." + cfg["engine"])
    base = module.SessionStore
    table = cfg.get("table")
    if cfg["engine"] in ("db", "cached_db") and table and table != "django_session":
        from django.contrib.sessions.base_session import AbstractBaseSession

        class InteropSession(AbstractBaseSession):
            class Meta:
                app_label = "sessions"
                db_table = table

        # Named SessionStore so the salt stays django.contrib.sessions.SessionStore.
        class SessionStore(base):
            @classmethod
            def get_model_class(cls):
                return InteropSession

        # The salt is built from __qualname__, which would otherwise name this function.
        SessionStore.__qualname__ = "SessionStore"
        return SessionStore
    return base


def serve(port):
    """The tutorial's visit counter behind Django's own SessionMiddleware (wsgiref)."""
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from django.core.handlers.wsgi import WSGIHandler
    from django.http import HttpResponse
    from django.urls import path

    def index(request):
        visits = request.session.get("num_visits", 0) + 1
        request.session["num_visits"] = visits
        return HttpResponse(f"Visit count: {visits}", content_type="text/plain")

    sys.modules[__name__].urlpatterns = [path("", index)]

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = make_server("127.0.0.1", port, WSGIHandler(), handler_class=Quiet)
    print("ready", flush=True)
    server.serve_forever()


def main():
    cfg = json.loads(sys.argv[1])
    command = sys.argv[2]
    args = sys.argv[3:]
    if command == "serve":
        cfg = {**cfg, "_serve": True}
    configure(cfg)
    if command == "serve":
        serve(int(args[0]))
        return
    Store = store_class(cfg)
    from django.contrib.sessions.backends.base import UpdateError

    out = {}
    if command == "create":
        s = Store()
        s.update(json.load(sys.stdin))
        if cfg["engine"] == "signed_cookies":
            s.save()  # the cookie value only exists once the data is signed
        else:
            s.create()
        out = {"key": s.session_key}
    elif command == "flush_and_save":
        s = Store(args[0])
        s.flush()
        s.save()
        out = {"key": s.session_key}
    elif command == "load":
        s = Store(args[0])
        data = s.load()
        out = {"key": s.session_key, "data": data}
    elif command == "update":
        s = Store(args[0])
        s.update(json.load(sys.stdin))
        try:
            s.save()
            out = {"ok": True}
        except UpdateError:
            out = {"error": "UpdateError"}
    elif command == "delete":
        Store().delete(args[0])
        out = {"ok": True}
    elif command == "set_expiry":
        s = Store(args[0])
        s.set_expiry(int(args[1]))
        s.save()
        out = {"ok": True}
    elif command == "clear_expired":
        Store.clear_expired()
        out = {"ok": True}
    elif command == "encode":
        out = {"encoded": Store().encode(json.load(sys.stdin))}
    elif command == "decode":
        out = {"data": Store().decode(sys.stdin.read())}
    elif command == "auth_setup":
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        out = {"ok": True}
    elif command == "create_user":
        from django.contrib.auth.models import User

        user = User.objects.create_user(args[0], password=args[1])
        out = {"id": str(user.pk)}
    elif command in ("login", "get_user"):
        from django.contrib import auth
        from django.contrib.auth.models import User
        from django.test import RequestFactory

        request = RequestFactory().get("/")
        key = args[0] if args[0] != "-" else None
        request.session = Store(key)
        if command == "login":
            auth.login(request, User.objects.get(username=args[1]))
            request.session.save()
            out = {"key": request.session.session_key}
        else:
            user = auth.get_user(request)
            if request.session.modified:
                request.session.save()
            uid = str(user.pk) if user.is_authenticated else None
            out = {"id": uid, "key": request.session.session_key}
    elif command == "set_password":
        from django.contrib.auth.models import User

        user = User.objects.get(username=args[0])
        user.set_password(args[1])
        user.save()
        out = {"ok": True}
    elif command == "cache_raw":
        from django.core.cache import caches

        cache = caches["default"]
        key = cache.make_and_validate_key(args[0])
        if cfg["cache_url"].startswith("memcached://"):
            # The bytes and flags word as stored, and the server HashClient picked.
            client = cache._cache
            node = client.hasher.get_node(key)
            raw = client.clients[node].raw_command(f"gets {key}".encode(), b"END\r\n")
            out = {"server": node, "reply": base64.b64encode(raw).decode()}
        else:
            client = cache._cache.get_client(None, write=False)
            raw = client.get(key)
            out = {"b64": base64.b64encode(raw).decode() if raw is not None else None}
    else:
        raise SystemExit(f"unknown command {command}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
