"""``scope_list``: what data scope costs a paginated list on the BenchRecord table.

One operation is exactly what a list page or API list does for a request (``ScopedListView`` and
DRF's ``StandardPagination`` both use ``CappedPaginator``): ``BenchRecord.objects.visible_to(user)
.order_by("-id")``, ``CappedPaginator(qs, 50)``, its count (which stops at ``COUNT_CAP`` + 1 rows:
the list then says "10,000+"), then page 1. Each persona in ``dataset.PERSONAS`` runs it:

- the unscoped baseline: a sysadmin whose post has scope "all" (no WHERE clause at all);
- city / district / street / community officials (subtree: ``core.scope.prefix_q`` filters the level
  prefix, ``SUBSTR(area_code, 1, n) = prefix``, served in id order by the ``(SUBSTR(area_code, 1, n),
  id)`` index of ``scope_indexes``);
- a grid worker (node: ``area_code IN (<grid>)``, served by ``(area_code, id)``).

Target: each scoped persona's p95 ≤ 1.2 × the unscoped p95. Two ways of doing it are timed:

- ``orm``: the production path above;
- ``raw``: the floor: the same two queries written by hand (``SELECT COUNT(*) FROM (SELECT 1 … WHERE
  SUBSTR(area_code, 1, n) = %s LIMIT 10001)`` and ``SELECT … ORDER BY id DESC LIMIT 50``) through
  ``cursor.execute``, so the ORM's share is visible.

Before timing, every persona's page and count are checked against the plain definition of the
scope (``area_code`` range, exact count). Count-only and page-only timings (parts of the same
operation) show which query is responsible when a persona is slow. Jobs run round-robin in a
shuffled order on every repetition, so a burst of load on the machine hits them alike. Each user's
posts are loaded once before timing (they are loaded once per request). The plans of the exact
queries the ORM runs (EXPLAIN QUERY PLAN on SQLite, EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL) are kept
with the results.
"""

from __future__ import annotations

import random
import time

from django.db import connection

from bench.dataset import COLUMNS, PERSONAS, Persona, table_name
from bench.plans import explain_queries
from bench.scales import Scale
from bench.timing import Result, Stats

PAGE_SIZE = 50
TARGET_RATIO = 1.2
SEED = 11
KINDS = ("orm", "raw")
PARTS = ("", "_count", "_page")


class Variant:
    """One persona's list: through the ORM as production does it, and as hand-written SQL."""

    def __init__(self, persona: Persona, user):
        from civicgrid.accounts.roles import BUILTIN_ROLES
        from civicgrid.areas.models import Area
        from civicgrid.core.pagination import COUNT_CAP

        self.persona = persona
        self.user = user
        self.data_scope = BUILTIN_ROLES[persona.role].scope
        self.code = Area.objects.get(code=persona.area_code).scope_code
        table = table_name()
        where, self.params = self._raw_where()
        self.count_sql = f"SELECT COUNT(*) FROM (SELECT 1 FROM {table}{where} LIMIT {COUNT_CAP + 1}) capped"
        self.page_sql = f"SELECT {', '.join(COLUMNS)} FROM {table}{where} ORDER BY id DESC LIMIT {PAGE_SIZE}"
        self.rows_in_scope = 0
        self.samples: dict[str, list[float]] = {f"{kind}{part}": [] for kind in KINDS for part in PARTS}

    @property
    def key(self) -> str:
        return self.persona.key

    def _raw_where(self) -> tuple[str, list[str]]:
        """The WHERE clause the production scope filter amounts to, written by hand."""
        from civicgrid.core.scope import GRID_CODE_LENGTH, LEVEL_PREFIX_LENGTHS, DataScope

        if self.data_scope == DataScope.ALL:
            return "", []
        if self.data_scope == DataScope.NODE or len(self.code) == GRID_CODE_LENGTH:
            return " WHERE area_code = %s", [self.code]
        if len(self.code) not in LEVEL_PREFIX_LENGTHS:
            raise ValueError(f"{self.key}: {self.code!r} is not a level prefix")
        return f" WHERE SUBSTR(area_code, 1, {len(self.code)}) = %s", [self.code]

    def _range_where(self) -> tuple[str, list[str]]:
        """The scope's plain definition (for checking): a node, or the range of codes under a prefix."""
        from civicgrid.core.scope import DataScope, next_prefix

        if self.data_scope == DataScope.ALL:
            return "", []
        if self.data_scope == DataScope.NODE:
            return " WHERE area_code = %s", [self.code]
        return " WHERE area_code >= %s AND area_code < %s", [self.code, next_prefix(self.code)]

    # --- the two ways -----------------------------------------------------------------------------

    def queryset(self):
        from bench.scopebench.models import BenchRecord

        return BenchRecord.objects.visible_to(self.user).order_by("-id")

    def orm(self, cursor=None) -> tuple[int, list[int], float, float, float]:
        """(count, page ids, seconds in all, seconds to the count, seconds for the page); building the
        queryset (visible_to: the scope filter itself) counts towards the count's part."""
        from civicgrid.core.pagination import CappedPaginator

        clock = time.perf_counter
        t0 = clock()
        paginator = CappedPaginator(self.queryset(), PAGE_SIZE)
        total = paginator.count
        t1 = clock()
        rows = list(paginator.page(1).object_list)
        t2 = clock()
        return total, [r.pk for r in rows], t2 - t0, t1 - t0, t2 - t1

    def raw(self, cursor) -> tuple[int, list[int], float, float, float]:
        clock = time.perf_counter
        t0 = clock()
        cursor.execute(self.count_sql, self.params)
        total = cursor.fetchone()[0]
        t1 = clock()
        cursor.execute(self.page_sql, self.params)
        rows = cursor.fetchall()
        t2 = clock()
        return total, [r[0] for r in rows], t2 - t0, t1 - t0, t2 - t1

    def expected(self, cursor) -> tuple[int, list[int]]:
        """The exact number of rows in scope and the first page, by the scope's plain definition."""
        table = table_name()
        where, params = self._range_where()
        cursor.execute(f"SELECT COUNT(*) FROM {table}{where}", params)
        total = cursor.fetchone()[0]
        cursor.execute(f"SELECT id FROM {table}{where} ORDER BY id DESC LIMIT {PAGE_SIZE}", params)
        return total, [r[0] for r in cursor.fetchall()]

    def record(self, kind: str, timings: tuple[float, float, float]) -> None:
        for part, seconds in zip(PARTS, timings, strict=True):
            self.samples[f"{kind}{part}"].append(seconds)

    def stats(self, key: str) -> Stats:
        return Stats.of(self.samples[key])

    def plans(self) -> dict[str, str]:
        """The plan of each query the production path runs, in order (count, then page)."""
        return explain_queries(self.orm, ("count", "page"))


def _check(variants: list[Variant], cursor) -> None:
    """The production path and the floor list the rows the scope's definition says, and count them
    up to the cap."""
    from civicgrid.core.pagination import COUNT_CAP
    from civicgrid.core.scope import user_scopes

    for v in variants:
        user_scopes(v.user)  # posts load once per request; not what is measured here
        exact, expected_ids = v.expected(cursor)
        capped = min(exact, COUNT_CAP + 1)
        for kind in KINDS:
            total, ids, *_ = getattr(v, kind)(cursor)
            if (total, ids) != (capped, expected_ids):
                raise AssertionError(
                    f"{v.key}: {kind} lists other rows than the scope's definition "
                    f"({total} counted, {capped} expected)"
                )
        v.rows_in_scope = exact


def run(scale: Scale, users: dict) -> tuple[list[Result], dict]:
    from civicgrid.core.pagination import COUNT_CAP

    variants = [Variant(p, users[p.key]) for p in PERSONAS]
    cursor = connection.cursor()
    _check(variants, cursor)

    rng = random.Random(SEED)
    jobs = [(v, kind) for v in variants for kind in KINDS]
    for rep in range(scale.warmup + scale.repetitions):
        rng.shuffle(jobs)
        for v, kind in jobs:
            _total, _ids, *timings = getattr(v, kind)(cursor)
            if rep >= scale.warmup:
                v.record(kind, timings)
    cursor.close()

    base, scoped = variants[0], variants[1:]
    results = [_main_row(v, base) for v in variants]
    results += [_raw_row(v, base) for v in variants]
    for part in ("count", "page"):
        results += [_part_row(v, base, part) for v in variants]

    missed = [v.key for v in scoped if not _within(v, base)]
    plans = {v.key: v.plans() for v in variants}
    notes = {"plans": plans, "missed": missed, "compare_with": base.key, "count_cap": COUNT_CAP}
    return results, notes


def _within(v: Variant, base: Variant) -> bool:
    return v.stats("orm").p95_ms <= TARGET_RATIO * base.stats("orm").p95_ms


def _main_row(v: Variant, base: Variant) -> Result:
    stats, raw = v.stats("orm"), v.stats("raw")
    extra: dict = {
        "rows_in_scope": v.rows_in_scope,
        "orm_to_raw_p95": round(stats.p95_ms / raw.p95_ms, 3),
        "orm_to_raw_median": round(stats.median_ms / raw.median_ms, 3),
    }
    label = f"page+count [{v.key}] {v.persona.label}"
    if v is base:
        return Result(
            "scope_list",
            label,
            stats,
            ratio=stats.p95_ms / raw.p95_ms,
            ratio_to="raw SQL floor",
            ratio_basis="p95",
            target="baseline",
            extra=extra,
        )
    base_stats = base.stats("orm")
    extra["ratio_to_unscoped_median"] = round(stats.median_ms / base_stats.median_ms, 3)
    return Result(
        "scope_list",
        label,
        stats,
        ratio=stats.p95_ms / base_stats.p95_ms,
        ratio_to="unscoped",
        ratio_basis="p95",
        target=f"≤ {TARGET_RATIO:.2f}× unscoped",
        passed=_within(v, base),
        extra=extra,
    )


def _raw_row(v: Variant, base: Variant) -> Result:
    stats = v.stats("raw")
    return Result(
        "scope_list",
        f"raw SQL floor [{v.key}]",
        stats,
        ratio=None if v is base else stats.p95_ms / base.stats("raw").p95_ms,
        ratio_to="" if v is base else "unscoped raw",
        ratio_basis="p95",
        extra={"rows_in_scope": v.rows_in_scope},
    )


def _part_row(v: Variant, base: Variant, part: str) -> Result:
    stats = v.stats(f"orm_{part}")
    label = "capped count only" if part == "count" else f"page only ({PAGE_SIZE} rows)"
    return Result(
        "scope_list",
        f"{label} [{v.key}]",
        stats,
        ratio=None if v is base else stats.p95_ms / base.stats(f"orm_{part}").p95_ms,
        ratio_to="" if v is base else f"unscoped {part}",
        ratio_basis="p95",
        extra={"raw_p95_ms": round(v.stats(f"raw_{part}").p95_ms, 3)},
    )
