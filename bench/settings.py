"""Settings for benchmark workers: the project's settings plus the ``scopebench`` app and a database
of the benchmark's own, chosen by environment variables the runner sets (see ``bench.scales``):

- ``BENCH_DB=sqlite`` (default): ``var/bench/bench-<scale>.sqlite3`` (or ``BENCH_SQLITE_PATH``) with the
  same connection OPTIONS as the project's SQLite database (WAL, synchronous=NORMAL, …);
- ``BENCH_DB=postgres``: ``BENCH_PG_URL`` (default ``postgresql://postgres@127.0.0.1:5432/civicgrid_bench``),
  with the tables of each scale in a schema of their own (``bench_<scale>``, via ``search_path``).

DEBUG is off, as in production: with DEBUG on Django records every query, which would be measured too.
"""

import os

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.settings import *  # noqa: F403
from config.settings import DATABASES as PROJECT_DATABASES
from config.settings import HUEY, INSTALLED_APPS, VAR_DIR

from .scales import DATABASES as BENCH_DATABASES
from .scales import (
    DEFAULT_PG_URL,
    ENV_DB,
    ENV_PG_URL,
    ENV_QUEUE_PATH,
    ENV_SCALE,
    ENV_SQLITE_PATH,
    SCALES,
    pg_schema,
)

BENCH_SCALE = os.environ.get(ENV_SCALE, "small")
BENCH_DB = os.environ.get(ENV_DB, "sqlite")
if BENCH_SCALE not in SCALES:
    raise ImproperlyConfigured(f"{ENV_SCALE} must be one of {', '.join(SCALES)}")
if BENCH_DB not in BENCH_DATABASES:
    raise ImproperlyConfigured(f"{ENV_DB} must be one of {', '.join(BENCH_DATABASES)}")

INSTALLED_APPS = [*INSTALLED_APPS, "bench.scopebench"]
DEBUG = False

if BENCH_DB == "postgres":
    _db = dj_database_url.parse(os.environ.get(ENV_PG_URL, DEFAULT_PG_URL))
    _db["OPTIONS"] = {**_db.get("OPTIONS", {}), "options": f"-c search_path={pg_schema(BENCH_SCALE)}"}
    DATABASES = {"default": _db}
else:
    _project_db = PROJECT_DATABASES["default"]
    if _project_db["ENGINE"] != "django.db.backends.sqlite3":
        raise ImproperlyConfigured("unset DATABASE_URL: bench.settings takes the project's SQLite OPTIONS")
    _path = os.environ.get(ENV_SQLITE_PATH) or str(VAR_DIR / "bench" / f"bench-{BENCH_SCALE}.sqlite3")
    os.makedirs(os.path.dirname(os.path.abspath(_path)), exist_ok=True)
    DATABASES = {"default": {**_project_db, "NAME": _path}}

# Nothing the benchmark does should reach the shared task queue file or spend time hashing passwords.
# Tasks run at once, in the caller's thread; or, with BENCH_QUEUE_PATH, they are queued in that file
# for the benchmark to run later, as production queues them for the consumer.
if os.environ.get(ENV_QUEUE_PATH):
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "bench",
        "filename": os.environ[ENV_QUEUE_PATH],
        "immediate": False,
        "utc": True,
    }
else:
    HUEY = {**HUEY, "immediate": True}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The HTTP timings sign a user in through the test client: django-axes would log every such login.
LOGGING = {**LOGGING, "loggers": {**LOGGING["loggers"], "axes": {"level": "WARNING"}}}  # noqa: F405
