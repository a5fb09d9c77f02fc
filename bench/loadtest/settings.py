"""Settings of the server under load: ``bench.settings`` (the benchmark's database, chosen by
BENCH_DB / BENCH_SCALE as for the workers) plus the floor endpoint (``bench.loadtest.urls``), with
the task queue working as in production: tasks are queued (in a SQLite file of the bench's own, or
Redis when REDIS_URL is set, as the project's settings do) and run by the ``run_huey`` consumer that
``bench.loadtest.server`` starts, not inline in the request as in the benchmark workers."""

import os

from bench.settings import *  # noqa: F403
from bench.settings import BENCH_DB, BENCH_SCALE, DATABASES, HUEY, LOGGING, VAR_DIR

ROOT_URLCONF = "bench.loadtest.urls"

# Connections as the project's settings make them: on PostgreSQL (DATABASE_URL) persistent for 60 s
# with health checks; on SQLite one per request (CONN_MAX_AGE 0).
if BENCH_DB == "postgres":
    DATABASES = {"default": {**DATABASES["default"], "CONN_MAX_AGE": 60, "CONN_HEALTH_CHECKS": True}}
ALLOWED_HOSTS = ["*"]
DEBUG = False

HUEY = {**HUEY, "immediate": False}
if HUEY.get("huey_class") == "huey.SqliteHuey":
    HUEY["filename"] = os.environ.get(
        "BENCH_HUEY_PATH", str(VAR_DIR / "bench" / f"loadtest-huey-{BENCH_SCALE}-{BENCH_DB}.sqlite3")
    )
    HUEY["name"] = f"civicgrid-loadtest-{BENCH_SCALE}-{BENCH_DB}"

# Requests answered in error are logged by Django (django.request) and counted by the load test;
# the INFO lines of every start are not needed.
LOGGING = {**LOGGING, "root": {**LOGGING["root"], "level": "WARNING"}}
