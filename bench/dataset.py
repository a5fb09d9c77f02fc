"""The benchmark dataset: the Wuzhou area tree, users with posts of every reach, and BenchRecord rows.

Rows are written with raw SQL in bulk (``executemany`` in chunks on SQLite, ``COPY`` on PostgreSQL),
streamed from a generator so memory stays bounded at any scale. A dataset that already holds the
right number of rows is reused; either way the table is analysed before anything is measured.

A dataset built for an older shape of the ``scopebench`` table (other columns or indexes) is thrown
away and rebuilt: ``SCHEMA_VERSION`` is stored with the data (table ``bench_dataset``, kept by this
module outside Django's migrations), and a database whose stored version or applied ``scopebench``
migrations differ from the code's gets its ``scopebench`` tables dropped and migrated afresh.

The rows are deterministic (seeded): ids 1..N in time order, each in one of the active grids, picked
with lognormal weights so some grids are a few times busier than others. Ids are not clustered by
area, as in a real table where records arrive from everywhere over time.
"""

from __future__ import annotations

import itertools
import json
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.management import call_command
from django.db import connection, transaction

from .scales import Scale

SEED = 20240601
CHUNK = 20_000
#: Records are spread over two years, oldest first.
START = datetime(2024, 1, 1)  # naive UTC, the way Django stores datetimes on SQLite
SPAN_SECONDS = 2 * 365 * 86400
TITLES = ("占道经营", "垃圾堆放", "路灯损坏", "噪音扰民", "井盖缺失", "违章搭建", "消防通道堵塞", "邻里纠纷")
STATUSES = ("closed", "open", "assigned", "archived")
STATUS_CUM_WEIGHTS = tuple(itertools.accumulate((60, 15, 15, 10)))
#: Spread of the per-grid weights (lognormal sigma): the busiest grids get a few times the average.
GRID_SKEW = 0.5
COLUMNS = ("id", "created_at", "updated_at", "area_id", "area_code", "created_by_id", "title", "status")
#: The shape of the ``scopebench`` tables. Bump it whenever BenchRecord's columns or indexes change
#: (and regenerate its migration): datasets stored with another version are dropped and rebuilt.
#: 1: the bench's own level-prefix indexes (scopebench_code*_id) and a plain area_code index;
#: 2: the production ``scope_indexes("scopebench")``, no single-column area_code index.
#: 3: area_code in the "C" collation on PostgreSQL (core.fields.AreaCodeField).
SCHEMA_VERSION = 3
#: Where each dataset's version and build facts are kept (not a Django model: it must survive the
#: scopebench tables being dropped).
META_TABLE = "bench_dataset"


@dataclass(frozen=True)
class Persona:
    """A benchmark user: a built-in role held at one area of the Wuzhou tree."""

    key: str
    role: str
    area_code: str
    label: str


#: The users the scope benchmark lists records for (the unscoped baseline first).
PERSONAS = (
    Persona("unscoped", "sysadmin", "450400", "sysadmin, scope all"),
    Persona("city", "city_official", "450400", "city official 梧州市 450400, subtree"),
    Persona("district", "district_official", "450403", "district official 万秀区 450403, subtree"),
    Persona("street", "street_official", "450403005000", "street official 角嘴街道 450403005000, subtree"),
    Persona("community", "community_official", "450403005001", "community official 450403005001, subtree"),
    Persona("grid", "grid_worker", "450403005001001", "grid worker 450403005001001, node"),
)


def log(message: str) -> None:
    print(f"  · {message}", file=sys.stderr, flush=True)


def table_name() -> str:
    from bench.scopebench.models import BenchRecord

    return BenchRecord._meta.db_table


def grids() -> list[tuple[int, str]]:
    """(id, scope_code) of every active grid, in code order."""
    from civicgrid.areas.choices import AreaLevel
    from civicgrid.areas.models import Area

    return list(
        Area.objects.filter(level=AreaLevel.GRID, is_active=True)
        .order_by("scope_code")
        .values_list("pk", "scope_code")
    )


def generate_rows(grid_rows: list[tuple[int, str]], total: int, *, tz_suffix: str = "") -> Iterator[list]:
    """Yield the ``total`` rows in chunks of ``CHUNK`` tuples ordered like ``COLUMNS``."""
    rng = random.Random(SEED)
    cum_weights = list(itertools.accumulate(rng.lognormvariate(0.0, GRID_SKEW) for _ in grid_rows))
    step = SPAN_SECONDS / total
    for start in range(0, total, CHUNK):
        k = min(CHUNK, total - start)
        picks = rng.choices(grid_rows, cum_weights=cum_weights, k=k)
        statuses = rng.choices(STATUSES, cum_weights=STATUS_CUM_WEIGHTS, k=k)
        chunk = []
        for offset, (area_id, code), status in zip(range(k), picks, statuses, strict=True):
            row_id = start + offset + 1
            created = START + timedelta(seconds=int(row_id * step))
            updated = created + timedelta(seconds=int(rng.random() * 3 * 86400))
            title = f"{TITLES[row_id % len(TITLES)]} #{row_id}"
            chunk.append(
                (row_id, f"{created}{tz_suffix}", f"{updated}{tz_suffix}", area_id, code, None, title, status)
            )
        yield chunk


def _insert_sqlite(table: str, chunks: Iterator[list]) -> None:
    sql = f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"
    for chunk in chunks:
        # One transaction per chunk keeps the WAL file small; WAL + synchronous=NORMAL commits are cheap.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, chunk)


def _insert_postgres(table: str, chunks: Iterator[list]) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for chunk in chunks:
                for row in chunk:
                    copy.write_row(row)
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
        )


def _truncate(table: str) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {table} RESTART IDENTITY")
        else:
            cursor.execute(f"DELETE FROM {table}")
            cursor.execute("DELETE FROM sqlite_sequence WHERE name = %s", [table])


def analyze(*tables: str) -> None:
    """Refresh the planner's statistics (SQLite: of the whole database; PostgreSQL: ``tables``
    vacuumed and analysed, then the rest analysed)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # VACUUM also sets the visibility map, which index-only scans (COUNT) depend on.
            for table in tables:
                cursor.execute(f"VACUUM (ANALYZE) {connection.ops.quote_name(table)}")
            cursor.execute("ANALYZE")
        else:
            cursor.execute("ANALYZE")


# --- dataset bookkeeping ---------------------------------------------------------------------------


def _ensure_meta_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {META_TABLE} "
            "(name VARCHAR(40) PRIMARY KEY, version INTEGER NOT NULL, info TEXT NOT NULL)"
        )


def read_meta(name: str) -> tuple[int, dict] | None:
    """(version, info) stored for the dataset ``name``, or None."""
    if META_TABLE not in connection.introspection.table_names():
        return None
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT version, info FROM {META_TABLE} WHERE name = %s", [name])
        row = cursor.fetchone()
    return (row[0], json.loads(row[1])) if row else None


def write_meta(name: str, version: int, info: dict) -> None:
    _ensure_meta_table()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {META_TABLE} WHERE name = %s", [name])
        cursor.execute(
            f"INSERT INTO {META_TABLE} (name, version, info) VALUES (%s, %s, %s)",
            [name, version, json.dumps(info, ensure_ascii=False)],
        )


def delete_meta(name: str) -> None:
    if META_TABLE in connection.introspection.table_names():
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {META_TABLE} WHERE name = %s", [name])


def reset_stale_scopebench() -> str | None:
    """Drop the ``scopebench`` tables (and forget their migrations) when they were built for another
    shape than the code's; the ``migrate`` that follows creates them afresh. Returns why, or None."""
    from django.db.migrations.loader import MigrationLoader

    tables = connection.introspection.table_names()
    if "django_migrations" not in tables:
        return None  # a new database
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM django_migrations WHERE app = %s", ["scopebench"])
        applied = {row[0] for row in cursor.fetchall()}
    if not applied:
        return None
    on_disk = {name for app, name in MigrationLoader(None).disk_migrations if app == "scopebench"}
    meta = read_meta("benchrecord")
    version = meta[0] if meta else 1  # datasets from before the version was stored
    reasons = []
    if version != SCHEMA_VERSION:
        reasons.append(f"dataset schema version {version} → {SCHEMA_VERSION}")
    if applied != on_disk:
        reasons.append(f"scopebench migrations {sorted(applied)} → {sorted(on_disk)}")
    if not reasons:
        return None
    stale = sorted(t for t in tables if t.startswith("scopebench_"))
    with transaction.atomic(), connection.cursor() as cursor:
        for table in stale:
            cascade = " CASCADE" if connection.vendor == "postgresql" else ""
            cursor.execute(f"DROP TABLE {connection.ops.quote_name(table)}{cascade}")
        cursor.execute("DELETE FROM django_migrations WHERE app = %s", ["scopebench"])
    delete_meta("benchrecord")
    reason = "; ".join(reasons)
    log(f"dropped {', '.join(stale) or 'no tables'} to rebuild them ({reason})")
    return reason


def ensure_areas() -> dict:
    """Migrate (after dropping an outdated scopebench table) and load the Wuzhou tree (idempotent)."""
    from civicgrid.areas.demo import load_wuzhou

    t0 = time.perf_counter()
    reset = reset_stale_scopebench()
    call_command("migrate", interactive=False, verbosity=0)
    if read_meta("benchrecord") is None:
        # The scopebench table was just created by the current migrations: stamp its shape.
        write_meta("benchrecord", SCHEMA_VERSION, {})
    t1 = time.perf_counter()
    created = load_wuzhou()
    t2 = time.perf_counter()
    if created:
        log(f"loaded {created} Wuzhou areas in {t2 - t1:.1f} s")
    info = {"migrate_s": round(t1 - t0, 3), "areas_created": created, "load_areas_s": round(t2 - t1, 3)}
    info["schema_version"] = SCHEMA_VERSION
    if reset:
        info["rebuilt_because"] = reset
    return info


def ensure_rows(scale: Scale) -> dict:
    """Make the table hold exactly the scale's rows (reusing them when the count matches), then analyse."""
    from bench.scopebench.models import BenchRecord

    table = table_name()
    grid_rows = grids()
    existing = BenchRecord.objects.count()
    info: dict = {"rows": scale.rows, "grids": len(grid_rows), "reused": existing == scale.rows}
    if existing != scale.rows:
        log(f"building {scale.rows:,} rows over {len(grid_rows)} grids (table had {existing:,})…")
        t0 = time.perf_counter()
        _truncate(table)
        if connection.vendor == "postgresql":
            _insert_postgres(table, generate_rows(grid_rows, scale.rows, tz_suffix="+00"))
        else:
            _insert_sqlite(table, generate_rows(grid_rows, scale.rows))
        info["insert_s"] = round(time.perf_counter() - t0, 3)
        log(f"inserted in {info['insert_s']:.1f} s")
    else:
        log(f"reusing {existing:,} rows")
    write_meta("benchrecord", SCHEMA_VERSION, {"rows": scale.rows})
    t0 = time.perf_counter()
    analyze(table)
    info["analyze_s"] = round(time.perf_counter() - t0, 3)
    info["indexes"] = index_summary(table)
    return info


def index_summary(table: str) -> list[str]:
    """The table's index definitions, so every result says which indexes it ran with."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s"
                " ORDER BY indexname",
                [table],
            )
        else:
            cursor.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s AND sql IS NOT NULL"
                " ORDER BY name",
                [table],
            )
        return [row[0] for row in cursor.fetchall()]


def ensure_users() -> dict:
    """One user per persona (created once, reused afterwards)."""
    from civicgrid.accounts.models import User
    from civicgrid.core.testing import make_user

    users = {}
    for persona in PERSONAS:
        username = f"bench_{persona.key}"
        user = User.objects.filter(username=username).first()
        if user is None:
            user = make_user(username, persona.role, persona.area_code)
        users[persona.key] = user
    return users


def describe_database() -> dict:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT version()")
            about = {"version": cursor.fetchone()[0]}
            for name in ("shared_buffers", "work_mem", "max_parallel_workers_per_gather", "random_page_cost"):
                cursor.execute(f"SHOW {name}")
                about[name] = cursor.fetchone()[0]
            cursor.execute("SELECT current_schema()")
            about["schema"] = cursor.fetchone()[0]
            return about
        cursor.execute("SELECT sqlite_version()")
        about = {"version": cursor.fetchone()[0], "path": str(connection.settings_dict["NAME"])}
        for name in ("journal_mode", "synchronous", "cache_size"):
            cursor.execute(f"PRAGMA {name}")
            about[name] = cursor.fetchone()[0]
        return about
