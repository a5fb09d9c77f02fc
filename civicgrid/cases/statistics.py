"""Statistics of event handling for an area and a period: the basis of performance assessment (考核).

What is counted
- Cases reported in the period (``reported_at``), in the area, within the reader's data scope: by
  category (top level and leaf), by child area, by channel, by status, and the open ones by light.
- On-time rate per unit and per child area: the handling clocks (``CaseDeadline`` of stage
  "handle") that ended in the period, met or late, plus the clocks still running whose due time
  fell in the period and has passed (counted as late). Cancelled clocks do not count.
  ``rate = met / (met + late + overdue)``.
- Satisfaction per unit and per child area: the ratings given in the period (``rated_at``): their
  number, the average, the share of 4–5 stars, the 5-star "praise" count; and the "not solved"
  reopenings (``CaseEvent`` of kind "reopened") in the period.

Scope is the reader's area scope for ``cases.view_case`` (their posts; "own records" posts count
the cases they reported). Unit membership does not widen statistics: they describe areas.

How it is read
Above the community, for a reader who sees the whole area (the usual case: a street, district or
city official), the period's whole calendar months come from the monthly tallies per community
(``civicgrid.cases.tallies``, kept in step by the services): a district's year is a few thousand
tally rows instead of a few hundred thousand cases. The partial first and last months of a period,
and every period of a community or grid, or of a reader with a narrower scope, are counted from the
cases themselves, as below; a partial month longer than half its month as the month's tally less
the days it leaves out (``plan_reads``). Open cases by light and running clocks overdue now are
always read from the few open cases (they change by the minute).

Counted from the cases, every figure comes from a grouped aggregate in SQL; Python only adds up the
grouped rows (their number is bounded by categories × child areas × channels × statuses, not by
cases). Area filters are code ranges (``area_code >= p AND area_code < next(p)``), so each
aggregate is a range scan of an index that holds every column it reads (an index-only scan on
PostgreSQL, a covering index on SQLite):

- cases by category/area/channel/status: ``cases_case_stats`` (area_code, reported_at, category,
  channel, status) — one pass;
- open cases by light: ``cases_case_status`` (status, area_code, id), the few open rows read;
- on-time: ``cases_dl_stats`` (stage, area_code, ended_at, outcome, department) for the ended
  clocks; the running ones are the open cases' own clocks (``cases_case_status``: few rows);
- ratings: ``cases_case_rated`` (area_code, rated_at, department, rating), partial: rated cases only;
- reopenings: ``cases_event_reopened`` (created_at, case, department), partial: kind "reopened".
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db.models import CharField, Count, DateTimeField, Q, QuerySet, Sum
from django.db.models.lookups import GreaterThanOrEqual, LessThan
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.areas.models import Area
from civicgrid.areas.selectors import top_visible_areas
from civicgrid.core import scope
from civicgrid.core.expressions import CodePrefix, Unindexed

from . import tallies
from .choices import OPEN_STATUSES, Channel, DeadlineOutcome, EventKind, Light, Stage, Status
from .models import Case, CaseDeadline, CaseEvent, CaseTally, Category, Department, UnitTally

VIEW_PERM = "cases.view_case"
#: Longest period one request may cover (the aggregates' cost grows with it).
MAX_DAYS = 3 * 366


@dataclass(frozen=True)
class Period:
    """Whole days, ``start`` to ``end`` inclusive, in the local time zone."""

    start: date
    end: date

    def bounds(self) -> tuple[datetime, datetime]:
        tz = timezone.get_current_timezone()
        return (
            datetime.combine(self.start, time.min, tzinfo=tz),
            datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=tz),
        )

    def as_dict(self) -> dict:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


def this_year(today: date | None = None) -> Period:
    today = today or timezone.localdate()
    return Period(date(today.year, 1, 1), date(today.year, 12, 31))


def make_period(start: date | None, end: date | None, *, today: date | None = None) -> Period:
    """The period from optional first and last days (default: this calendar year); a
    ValidationError naming ``end`` when it is before ``start`` or the span is too long."""
    default = this_year(today)
    if start and not end:
        end = date(start.year, 12, 31)
    if end and not start:
        start = date(end.year, 1, 1)
    period = Period(start or default.start, end or default.end)
    if period.end < period.start:
        raise ValidationError({"end": _("The end date is before the start date.")})
    if (period.end - period.start).days >= MAX_DAYS:
        raise ValidationError({"end": _("Choose a period of at most three years.")})
    return period


def default_area(user) -> Area | None:
    """The area the statistics open on: the reader's highest visible area."""
    return top_visible_areas(user).order_by("scope_code").first()


def child_areas(user, area: Area | None) -> list[Area]:
    if area is None:
        return []
    return list(Area.objects.visible_to(user).filter(parent=area).order_by("scope_code"))


# ---- the filtered row sets ----------------------------------------------------------------------


def _ranged(qs: QuerySet) -> QuerySet:
    """``qs`` unordered with its level-prefix tests as code ranges (see ``scope.prefixes_as_ranges``):
    the shape an aggregate reads from a range of an index. Call after the last area filter."""
    qs = qs.order_by()
    qs.query.where = scope.prefixes_as_ranges(qs.query.where)
    return qs


def _covers(user, area: Area) -> bool:
    """Whether the reader sees every case in ``area`` (a post over it and below, or over all):
    then the scope filter adds nothing to the area's own range and is left out of the query."""
    if user.is_superuser:
        return True
    for post in scope.user_scopes(user):
        if VIEW_PERM not in post.perms:
            continue
        if post.data_scope == scope.DataScope.ALL:
            return True
        if post.data_scope == scope.DataScope.SUBTREE and area.scope_code.startswith(post.area_code):
            return True
    return False


def _scoped(model, user, area: Area | None, *, code_field: str, owner_field: str) -> QuerySet:
    if area is not None and user.is_active and _covers(user, area):
        return model.objects.filter(scope.prefix_q(code_field, area.scope_code))
    q = scope.scope_filter(user, VIEW_PERM, field=code_field, owner_field=owner_field)
    if q is None:
        return model.objects.none()
    qs = model.objects.filter(q) if q else model.objects.all()
    if area is not None:
        qs = qs.filter(scope.prefix_q(code_field, area.scope_code))
    return qs


def reported_cases(user, area: Area | None, period: Period) -> QuerySet:
    """The cases the statistics count: reported in the period, in the area and the reader's scope."""
    start, end = period.bounds()
    qs = _scoped(Case, user, area, code_field="area_code", owner_field="reporter")
    if area is not None and len(area.scope_code) >= tallies.COMMUNITY_LENGTH:
        # A community or a grid: its own range of ``cases_case_stats`` is the short way; keep
        # SQLite from reading the whole city's period through ``cases_case_cat_time`` instead.
        reported = Unindexed("reported_at", output_field=DateTimeField())
        return _ranged(qs.filter(GreaterThanOrEqual(reported, start), LessThan(reported, end)))
    return _ranged(qs.filter(reported_at__gte=start, reported_at__lt=end))


# ---- aggregates ----------------------------------------------------------------------------------


def _child(field: str, length: int):
    return CodePrefix(field, length) if length else None


def _grouped(qs: QuerySet, groups: list[str], child_field: str, length: int, **aggregates) -> list[dict]:
    if length:
        qs = qs.annotate(child=_child(child_field, length))
        groups = [*groups, "child"]
    return list(qs.values(*groups).annotate(**aggregates).order_by())


def case_counts(cases: QuerySet, length: int) -> list[dict]:
    """One grouped pass: rows of (category, channel, status[, child area prefix], n)."""
    return _grouped(cases, ["category_id", "channel", "status"], "area_code", length, n=Count("*"))


def light_counts(cases: QuerySet, now: datetime) -> dict[str, int]:
    rows = cases.filter(status__in=OPEN_STATUSES).with_light(now).values("light").annotate(n=Count("*"))
    return {r["light"]: r["n"] for r in rows.order_by()}


#: A part of a period this short, over an area above the community (the days of a month around
#: its tally), reads the clocks by their end time rather than by the area.
FEW_DAYS = 16


def ended_clock_rows(user, area: Area | None, period: Period, length: int) -> list[dict]:
    """Handling clocks that ended in the period, by (unit, outcome[, child]). For a few days of a
    large area, the clocks that ended then (``cases_dl_unit``: a day of the city's is ~1,000) are
    fewer than the area's clocks of all time, the range of ``cases_dl_stats`` SQLite would read:
    its area test is written on ``+area_code`` to leave it the time's range. PostgreSQL estimates
    both ranges and takes the time's itself."""
    start, end = period.bounds()
    if (
        area is not None
        and len(area.scope_code) < tallies.COMMUNITY_LENGTH
        and (period.end - period.start).days < FEW_DAYS
        and user.is_active
        and _covers(user, area)
    ):
        clocks = CaseDeadline.objects.alias(code=Unindexed("area_code", output_field=CharField()))
        clocks = clocks.filter(scope.range_q("code", area.scope_code))
    else:
        clocks = _scoped(CaseDeadline, user, area, code_field="area_code", owner_field="case__reporter")
    ended = _ranged(
        clocks.filter(
            stage=Stage.HANDLE,
            ended_at__gte=start,
            ended_at__lt=end,
            outcome__in=[DeadlineOutcome.MET, DeadlineOutcome.LATE],
        )
    )
    return _grouped(ended, ["department_id", "outcome"], "area_code", length, n=Count("*"))


def overdue_clock_rows(user, area: Area | None, period: Period, length: int, now: datetime) -> list[dict]:
    """The running handling clocks overdue now whose due time fell in the period, by (unit[, child])
    with outcome "overdue". A running clock is the case's own (``deadline_stage``, ``due_at``, the
    same as its open ``CaseDeadline`` row): read from the few open cases rather than from every
    clock of the area."""
    start, end = period.bounds()
    rows = []
    due_until = min(end, now)
    if due_until > start:
        running = _scoped(Case, user, area, code_field="area_code", owner_field="reporter")
        running = _ranged(
            running.filter(
                status__in=OPEN_STATUSES,
                deadline_stage=Stage.HANDLE,
                due_at__gte=start,
                due_at__lt=due_until,
            )
        )
        for row in _grouped(running, ["department_id"], "area_code", length, n=Count("*")):
            rows.append({**row, "outcome": "overdue"})
    return rows


def rating_rows(user, area: Area | None, period: Period, length: int) -> list[dict]:
    start, end = period.bounds()
    rated = _scoped(Case, user, area, code_field="area_code", owner_field="reporter")
    rated = _ranged(rated.filter(rated_at__gte=start, rated_at__lt=end, rating__isnull=False))
    return _grouped(
        rated,
        ["department_id"],
        "area_code",
        length,
        n=Count("*"),
        total=Sum("rating"),
        good=Count("rating", filter=Q(rating__gte=4)),
        praise=Count("rating", filter=Q(rating=5)),
    )


def reopen_rows(user, area: Area | None, period: Period, length: int) -> list[dict]:
    start, end = period.bounds()
    events = _scoped(CaseEvent, user, area, code_field="case__area_code", owner_field="case__reporter")
    events = _ranged(events.filter(kind=EventKind.REOPENED, created_at__gte=start, created_at__lt=end))
    return _grouped(events, ["department_id"], "case__area_code", length, n=Count("*"))


# ---- the monthly tallies ---------------------------------------------------------------------------


def split_months(period: Period) -> tuple[list[date], list[Period]]:
    """The whole calendar months inside ``period`` (their first days) and the rest of it (at most
    a partial first and a partial last month)."""
    months, rest = [], []
    day = period.start
    while day <= period.end:
        first = day.replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        until = min(last, period.end)
        if day == first and until == last:
            months.append(first)
        else:
            rest.append(Period(day, until))
        day = until + timedelta(days=1)
    return months, rest


def plan_reads(period: Period) -> tuple[list[date], list[tuple[Period, int]]]:
    """What to read for ``period`` when its whole months come from the tallies: those months, and
    the parts to count from the cases, each with its sign. A partial month that covers more than
    half of its month is read as the month's tally less the days it leaves out, which hold fewer
    cases to count: a year from 2 November is November's tally less 1 November, not 29 days of
    cases. The months are consecutive (only the period's first and last months can be partial)."""
    months, rest = split_months(period)
    parts: list[tuple[Period, int]] = []
    for part in rest:
        first = part.start.replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        before = Period(first, part.start - timedelta(days=1))
        after = Period(part.end + timedelta(days=1), last)
        outside = [p for p in (before, after) if p.start <= p.end]
        if (part.end - part.start).days + 1 > sum((p.end - p.start).days + 1 for p in outside):
            months.append(first)
            parts.extend((p, -1) for p in outside)
        else:
            parts.append((part, 1))
    return sorted(months), parts


def uses_tallies(user, area: Area | None) -> bool:
    """Whether the figures of ``area`` can come from the tallies: an area above the community (its
    children are communities or larger, the tallies' grain) that the reader sees whole."""
    return (
        area is not None
        and len(area.scope_code) < tallies.COMMUNITY_LENGTH
        and user.is_active
        and _covers(user, area)
    )


def _tallied(model, area: Area, months: list[date]) -> QuerySet:
    qs = model.objects.filter(month__gte=months[0], month__lte=months[-1])
    return _ranged(qs.filter(scope.prefix_q("area_code", area.scope_code)))


def tally_case_rows(area: Area, months: list[date], length: int) -> list[dict]:
    """Rows of (dimension, value[, child], n) for the cases reported in ``months``."""
    qs = _tallied(CaseTally, area, months)
    return _grouped(qs, ["dimension", "value"], "area_code", length, n=Sum("n"))


def tally_unit_rows(area: Area, months: list[date], length: int) -> list[dict]:
    """Rows of (department_id, measure[, child], n, total, good, praise) for ``months``; the
    department of cases without a unit as None, as in the rows read from the cases."""
    qs = _tallied(UnitTally, area, months)
    rows = _grouped(
        qs,
        ["department_id", "measure"],
        "area_code",
        length,
        n=Sum("n"),
        total=Sum("total"),
        good=Sum("good"),
        praise=Sum("praise"),
    )
    for row in rows:
        row["department_id"] = row["department_id"] or None
    return rows


# ---- putting it together ---------------------------------------------------------------------------


#: The columns of a grouped row that add up (counts and sums), as opposed to its keys.
_SUMMED = frozenset({"n", "total", "good", "praise"})


def _signed(row: dict, sign: int) -> dict:
    """A grouped row's counts and sums times ``sign`` (-1: days left out of a tallied month)."""
    if sign == 1:
        return row
    return {k: -v if k in _SUMMED and v is not None else v for k, v in row.items()}


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


@dataclass
class Performance:
    """On-time and satisfaction figures of one unit or area."""

    met: int = 0
    late: int = 0
    overdue: int = 0
    ratings: int = 0
    rating_total: int = 0
    good: int = 0
    praise: int = 0
    reopened: int = 0

    def as_dict(self) -> dict:
        assessed = self.met + self.late + self.overdue
        return {
            "on_time": {
                "met": self.met,
                "late": self.late,
                "overdue": self.overdue,
                "assessed": assessed,
                "rate": _rate(self.met, assessed),
            },
            "satisfaction": {
                "ratings": self.ratings,
                "average": round(self.rating_total / self.ratings, 2) if self.ratings else None,
                "good_share": _rate(self.good, self.ratings),
                "praise": self.praise,
                "reopened": self.reopened,
            },
        }


def _labelled(counts: dict, choices) -> list[dict]:
    return [{"value": value, "label": str(label), "count": counts.get(value, 0)} for value, label in choices]


def case_statistics(
    user, area: Area | None, period: Period, *, now: datetime | None = None, tallied: bool = True
) -> dict:
    """Everything the statistics page, its export and the API show for ``area`` (an area the reader
    may see; None: the whole scope) and ``period``. Above the community, for a reader who sees the
    whole area, the period's whole months come from the monthly tallies and only its partial first
    and last months from the cases (``tallied=False``: everything from the cases)."""
    now = now or timezone.now()
    children = child_areas(user, area)
    length = len(children[0].scope_code) if children else 0
    months, live = plan_reads(period) if tallied and uses_tallies(user, area) else ([], [(period, 1)])

    by_leaf: dict[int, int] = defaultdict(int)
    by_channel: dict[str, int] = defaultdict(int)
    by_status: dict[str, int] = defaultdict(int)
    by_child: dict[str, dict[str, int]] = defaultdict(lambda: {"cases": 0, "open": 0, "closed": 0})

    def count_status(row: dict, status: str, n: int) -> None:
        by_status[status] += n
        if length:
            child = by_child[row["child"]]
            child["cases"] += n
            if status in OPEN_STATUSES:
                child["open"] += n
            elif status == Status.CLOSED:
                child["closed"] += n

    for part, sign in live:
        for row in case_counts(reported_cases(user, area, part), length):
            n = sign * row["n"]
            by_leaf[row["category_id"]] += n
            by_channel[row["channel"]] += n
            count_status(row, row["status"], n)
    if months:
        for row in tally_case_rows(area, months, length):
            if row["dimension"] == "category":
                by_leaf[int(row["value"])] += row["n"]
            elif row["dimension"] == "channel":
                by_channel[row["value"]] += row["n"]
            else:
                count_status(row, row["value"], row["n"])
    total = sum(by_status.values())

    units: dict[int | None, Performance] = defaultdict(Performance)
    places: dict[str, Performance] = defaultdict(Performance)
    overall = Performance()

    def targets(row):
        yield units[row["department_id"]]
        yield overall
        if length:
            yield places[row["child"]]

    def add_clocks(row, outcome):
        for perf in targets(row):
            setattr(perf, outcome, getattr(perf, outcome) + row["n"])

    def add_ratings(row):
        for perf in targets(row):
            perf.ratings += row["n"]
            perf.rating_total += row["total"] or 0
            perf.good += row["good"]
            perf.praise += row["praise"]

    def add_reopened(row):
        for perf in targets(row):
            perf.reopened += row["n"]

    for part, sign in live:
        for row in ended_clock_rows(user, area, part, length):
            add_clocks(_signed(row, sign), row["outcome"])
        for row in rating_rows(user, area, part, length):
            add_ratings(_signed(row, sign))
        for row in reopen_rows(user, area, part, length):
            add_reopened(_signed(row, sign))
    if months:
        for row in tally_unit_rows(area, months, length):
            if row["measure"] == tallies.RATED:
                add_ratings(row)
            elif row["measure"] == tallies.REOPENED:
                add_reopened(row)
            else:
                add_clocks(row, row["measure"])
    for row in overdue_clock_rows(user, area, period, length, now):
        add_clocks(row, "overdue")

    # A month's tally less the days a period leaves out can leave a category or a unit at nothing:
    # shown as when it had no cases in the period.
    by_leaf = {pk: n for pk, n in by_leaf.items() if n}
    units = {pk: perf for pk, perf in units.items() if perf != Performance()}
    categories = Category.objects.in_bulk(list(by_leaf))
    parent_ids = {c.parent_id for c in categories.values() if c.parent_id} - categories.keys()
    categories.update(Category.objects.in_bulk(parent_ids))
    by_top: dict[int, int] = defaultdict(int)
    for leaf_id, n in by_leaf.items():
        leaf = categories[leaf_id]
        by_top[leaf.parent_id or leaf.pk] += n

    def category_row(pk: int, n: int) -> dict:
        c = categories[pk]
        return {
            "id": pk,
            "kind": c.kind,
            "code": c.code,
            "service_code": c.service_code,
            "name": c.name,
            "parent": c.parent_id,
            "count": n,
        }

    departments = Department.objects.in_bulk([pk for pk in units if pk is not None])
    unit_rows = sorted(
        (
            {"id": pk, "name": departments[pk].name, "level": departments[pk].level, **perf.as_dict()}
            for pk, perf in units.items()
            if pk is not None and pk in departments
        ),
        key=lambda r: (r["level"], r["name"]),
    )
    unassigned = units.get(None)

    area_rows = [
        {
            "id": child.pk,
            "code": child.code,
            "scope_code": child.scope_code,
            "name": child.name,
            "level": child.level,
            **by_child.get(child.scope_code, {"cases": 0, "open": 0, "closed": 0}),
            **places[child.scope_code].as_dict(),
        }
        for child in children
    ]
    return {
        "area": (
            {"id": area.pk, "code": area.code, "name": area.name, "level": area.level}
            if area is not None
            else None
        ),
        "period": period.as_dict(),
        "total": total,
        "open": sum(n for s, n in by_status.items() if s in OPEN_STATUSES),
        "by_category": sorted(
            (category_row(pk, n) for pk, n in by_top.items()), key=lambda r: (-r["count"], r["service_code"])
        ),
        "by_leaf_category": sorted(
            (category_row(pk, n) for pk, n in by_leaf.items()), key=lambda r: (-r["count"], r["service_code"])
        ),
        "by_channel": _labelled(by_channel, Channel.choices),
        "by_status": _labelled(by_status, Status.choices),
        "by_light": _labelled(light_counts(reported_cases(user, area, period), now), Light.choices),
        "overall": overall.as_dict(),
        "units": unit_rows,
        "no_unit": unassigned.as_dict() if unassigned is not None else None,
        "areas": area_rows,
    }
