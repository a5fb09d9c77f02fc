"""Monthly tallies per community, kept in step with the cases by the services.

The statistics of a street, a district or the city over a year would otherwise read every case,
clock, rating and reopening of the area (hundreds of thousands of rows at city scale). The tallies
hold the same figures per calendar month (local time) and community:

- ``CaseTally``: cases reported in the month, by leaf category, by channel and by current status;
- ``UnitTally``: per handling unit, handling clocks ended met / late in the month, ratings given
  in the month (number, star total, 4–5 stars, 5 stars), "not solved" reopenings in the month.

How they stay right
Every write that changes one of these facts goes through the services, which apply the difference
in the same transaction (an ``INSERT … ON CONFLICT DO UPDATE SET n = n + excluded.n`` per changed
row, on SQLite and PostgreSQL alike):

- a case's facts (month, community, category, channel, status; its rating) are taken when it is
  locked (``remember``) and compared after it is saved (``record_change``), so every transition,
  whatever it changes, moves exactly the counts it should;
- a new case adds its facts (``new_case_statements``, run with the case's INSERT); a clock that
  ends adds met/late (``record_clock``); a reopening adds itself (``record_reopen``); the deadline
  sweep's bulk escalation does the same for its batch.

Data loaded around the services (the demo's back-dated history, a bulk import, the benchmark's
dataset) is tallied with ``rebuild()`` (``manage.py cases_tallies --rebuild``); ``check()`` compares
the stored tallies with a fresh count (``--check``).

How they are read: see ``civicgrid.cases.statistics`` — whole months from the tallies, the days of
a period's first and last month that are not a whole month from the cases themselves.
"""

from __future__ import annotations

import functools
from collections import Counter, defaultdict
from datetime import date, datetime

from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from civicgrid.areas.choices import LEVEL_RULES, AreaLevel
from civicgrid.core import bulk
from civicgrid.core.bulk import plain_str
from civicgrid.core.expressions import CodePrefix

from .choices import DeadlineOutcome, EventKind, Stage
from .models import Case, CaseDeadline, CaseEvent, CaseTally, UnitTally

#: Length of a community's scope code: tallies are kept per community.
COMMUNITY_LENGTH = LEVEL_RULES[AreaLevel.COMMUNITY][2]
DIMENSIONS = ("category", "channel", "status")
MET, LATE, RATED, REOPENED = "met", "late", "rated", "reopened"
CASE_KEY = ["month", "area_code", "dimension", "value"]
UNIT_KEY = ["month", "area_code", "department_id", "measure"]
#: Rows per upsert statement (well under the databases' limits on parameters).
UPSERT_ROWS = 1000
#: From this many rows an upsert on PostgreSQL sends one array per column (``_upsert``).
ARRAYS_FROM = 8


def month_of(moment: datetime) -> date:
    """The first day of ``moment``'s month in the platform's time zone (``TIME_ZONE``: the tallies
    do not depend on the zone active when they are written)."""
    return timezone.localtime(moment, timezone.get_default_timezone()).date().replace(day=1)


def community_of(area_code: str) -> str:
    return (area_code or "")[:COMMUNITY_LENGTH]


class Delta:
    """Changes to the tallies, summed up, then written in one statement per table."""

    def __init__(self):
        self.cases: Counter = Counter()
        self.units: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])

    def add_facts(self, facts: tuple, sign: int) -> None:
        case_keys, rating = facts
        for key in case_keys:
            self.cases[key] += sign
        if rating is not None:
            key, stars = rating
            self.unit(key, sign, stars)

    def unit(self, key: tuple, sign: int = 1, stars: int | None = None) -> None:
        row = self.units[key]
        row[0] += sign
        if stars is not None:
            row[1] += sign * stars
            row[2] += sign * (stars >= 4)
            row[3] += sign * (stars == 5)

    def apply(self) -> None:
        with connection.cursor() as cursor:
            for statement in self.statements():
                cursor.execute(*statement)

    def statements(self) -> list[tuple[str, list]]:
        """The upserts that apply these changes (SQL and parameters), not yet run."""
        # Sorted: concurrent transactions take the row locks in one order (no deadlock).
        cases = sorted((*key, n) for key, n in self.cases.items() if n)
        units = sorted((*key, *vals) for key, vals in self.units.items() if any(vals))
        sums = ["n", "total", "good", "praise"]
        step = UPSERT_ROWS
        return [
            *(_upsert(CaseTally, CASE_KEY, ["n"], cases[i : i + step]) for i in range(0, len(cases), step)),
            *(_upsert(UnitTally, UNIT_KEY, sums, units[i : i + step]) for i in range(0, len(units), step)),
        ]


def _upsert(model, keys: list[str], sums: list[str], rows: list[tuple]) -> tuple[str, list]:
    """One ``INSERT … ON CONFLICT (keys) DO UPDATE`` adding each new row's ``sums`` to the stored
    ones; the SQL and its parameters. The rows are ``VALUES (…), (…)``; on PostgreSQL, from
    ``ARRAYS_FROM`` rows, one array per column (``unnest``): the statement then reads the same for
    any number of rows, so neither psycopg nor the server parses thousands of placeholders again
    for each batch of the sweep. A few rows (a new case's three) stay plain values, which psycopg
    writes in C, where each array costs it several Python calls. Names come from the model, never
    from input; values are parameters."""
    if bulk.vendor() == "postgresql" and len(rows) >= ARRAYS_FROM:
        sql = _upsert_text(model, tuple(keys), tuple(sums), 0)
        return sql, [list(column) for column in zip(*rows, strict=True)]
    sql = _upsert_text(model, tuple(keys), tuple(sums), len(rows))
    return sql, [value for row in rows for value in row]


@functools.lru_cache(maxsize=256)
def _upsert_text(model, keys: tuple, sums: tuple, count: int) -> str:
    """``_upsert``'s statement (the same few recur on every report): ``count`` rows of ``VALUES``,
    or (``count`` 0, PostgreSQL) the arrays of the columns' types."""
    table = model._meta.db_table
    columns = [*keys, *sums]
    if not count:
        types = [model._meta.get_field(c).cast_db_type(connection) for c in columns]
        source = f"SELECT * FROM unnest({', '.join(f'%s::{t}[]' for t in types)})"  # noqa: S608
    else:
        one = f"({', '.join(['%s'] * len(columns))})"
        source = f"VALUES {', '.join([one] * count)}"
    added = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in sums)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) {source} "  # noqa: S608
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {added}"
    )


def facts(case: Case) -> tuple:
    """What ``case`` contributes to the tallies: its three case-tally keys, and its rating."""
    if case.reported_at is None or not case.area_code:
        return ((), None)
    month, code = month_of(case.reported_at), community_of(case.area_code)
    keys = (
        (month, code, "category", str(case.category_id)),
        (month, code, "channel", plain_str(case.channel)),
        (month, code, "status", plain_str(case.status)),
    )
    rating = None
    if case.rating is not None and case.rated_at is not None:
        rating = ((month_of(case.rated_at), code, case.department_id or 0, RATED), case.rating)
    return (keys, rating)


def remember(case: Case) -> None:
    """Note the case's facts before a service changes it (called when the case is locked)."""
    case._tally_facts = facts(case)


def record_change(case: Case) -> None:
    """Move the counts from the facts remembered to the case's facts now."""
    before = getattr(case, "_tally_facts", None)
    after = facts(case)
    if before == after:
        return
    delta = Delta()
    if before is not None:
        delta.add_facts(before, -1)
    delta.add_facts(after, 1)
    delta.apply()
    case._tally_facts = after


def new_case_statements(case: Case) -> list[tuple[str, list]]:
    """The upserts that count a new case (for a service that runs them with its own rows); the
    case's facts are remembered, as ``remember`` does, for its later changes."""
    case._tally_facts = keys, rating = facts(case)
    if rating is None:  # as Delta.statements would write them, without summing up first
        return [_upsert(CaseTally, CASE_KEY, ["n"], sorted((*key, 1) for key in keys))] if keys else []
    delta = Delta()
    delta.add_facts(case._tally_facts, 1)
    return delta.statements()


def clock_key(ended_at: datetime, area_code: str, department_id: int | None, outcome: str) -> tuple | None:
    if outcome not in (DeadlineOutcome.MET, DeadlineOutcome.LATE):
        return None
    return (month_of(ended_at), community_of(area_code), department_id or 0, outcome)


def record_clocks(
    rows: list[tuple[str, str, int | None]], ended_at: datetime, outcome: str, delta: Delta | None = None
) -> None:
    """Handling clocks ended at ``ended_at`` with ``outcome``: ``(stage, area_code, department_id)``
    of each (clocks of other stages are not tallied). Added to ``delta`` (the caller applies it),
    or written now."""
    target = Delta() if delta is None else delta
    for stage, area_code, department_id in rows:
        key = clock_key(ended_at, area_code, department_id, outcome)
        if stage == Stage.HANDLE and key is not None:
            target.unit(key)
    if delta is None:
        target.apply()


def record_reopen(case: Case, at: datetime) -> None:
    delta = Delta()
    delta.unit((month_of(at), community_of(case.area_code), case.department_id or 0, REOPENED))
    delta.apply()


# ---- rebuilding and checking ------------------------------------------------------------------------


def _month(field: str):
    return TruncMonth(field, tzinfo=timezone.get_default_timezone())


def _as_date(value) -> date:
    return value.date() if isinstance(value, datetime) else value


def count_from_cases() -> tuple[Counter, dict]:
    """The tallies as a fresh count from the cases, clocks and events (grouped queries)."""
    cases: Counter = Counter()
    prefix = CodePrefix("area_code", COMMUNITY_LENGTH)
    base = Case.objects.order_by().annotate(m=_month("reported_at"), c=prefix)
    for dimension, field in (("category", "category_id"), ("channel", "channel"), ("status", "status")):
        for row in base.values("m", "c", field).annotate(n=Count("*")):
            cases[(_as_date(row["m"]), row["c"], dimension, str(row[field]))] += row["n"]
    units: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    clocks = (
        CaseDeadline.objects.order_by()
        .filter(stage=Stage.HANDLE, outcome__in=[DeadlineOutcome.MET, DeadlineOutcome.LATE])
        .annotate(m=_month("ended_at"), c=prefix)
        .values("m", "c", "department_id", "outcome")
        .annotate(n=Count("*"))
    )
    for row in clocks:
        units[(_as_date(row["m"]), row["c"], row["department_id"] or 0, row["outcome"])][0] += row["n"]
    rated = (
        Case.objects.order_by()
        .filter(rating__isnull=False, rated_at__isnull=False)
        .annotate(m=_month("rated_at"), c=prefix)
        .values("m", "c", "department_id")
        .annotate(
            n=Count("*"),
            total=Sum("rating"),
            good=Count("rating", filter=Q(rating__gte=4)),
            praise=Count("rating", filter=Q(rating=5)),
        )
    )
    for row in rated:
        units[(_as_date(row["m"]), row["c"], row["department_id"] or 0, RATED)] = [
            row["n"],
            row["total"] or 0,
            row["good"],
            row["praise"],
        ]
    reopened = (
        CaseEvent.objects.order_by()
        .filter(kind=EventKind.REOPENED)
        .annotate(m=_month("created_at"), c=CodePrefix("case__area_code", COMMUNITY_LENGTH))
        .values("m", "c", "department_id")
        .annotate(n=Count("*"))
    )
    for row in reopened:
        units[(_as_date(row["m"]), row["c"], row["department_id"] or 0, REOPENED)][0] += row["n"]
    return cases, dict(units)


def stored() -> tuple[Counter, dict]:
    cases = Counter(
        {(r.month, r.area_code, r.dimension, r.value): r.n for r in CaseTally.objects.exclude(n=0).order_by()}
    )
    units = {
        (r.month, r.area_code, r.department_id, r.measure): [r.n, r.total, r.good, r.praise]
        for r in UnitTally.objects.order_by()
        if any((r.n, r.total, r.good, r.praise))
    }
    return cases, units


def check() -> list[str]:
    """The differences between the stored tallies and a fresh count (empty: they agree)."""
    fresh_cases, fresh_units = count_from_cases()
    have_cases, have_units = stored()
    out = []
    for key in sorted(set(fresh_cases) | set(have_cases), key=str):
        if fresh_cases.get(key, 0) != have_cases.get(key, 0):
            out.append(
                f"case tally {key}: stored {have_cases.get(key, 0)}, counted {fresh_cases.get(key, 0)}"
            )
    for key in sorted(set(fresh_units) | set(have_units), key=str):
        if fresh_units.get(key, [0] * 4) != have_units.get(key, [0] * 4):
            out.append(f"unit tally {key}: stored {have_units.get(key)}, counted {fresh_units.get(key)}")
    return out


@transaction.atomic
def rebuild() -> dict[str, int]:
    """Replace the tallies with a fresh count; the number of rows written per table."""
    cases, units = count_from_cases()
    CaseTally.objects.all().delete()
    UnitTally.objects.all().delete()
    CaseTally.objects.bulk_create(
        (
            CaseTally(month=m, area_code=a, dimension=d, value=v, n=n)
            for (m, a, d, v), n in cases.items()
            if n
        ),
        batch_size=5000,
    )
    UnitTally.objects.bulk_create(
        (
            UnitTally(
                month=m,
                area_code=a,
                department_id=dep,
                measure=meas,
                n=n,
                total=total,
                good=good,
                praise=praise,
            )
            for (m, a, dep, meas), (n, total, good, praise) in units.items()
        ),
        batch_size=5000,
    )
    return {"case_tallies": len(cases), "unit_tallies": len(units)}
