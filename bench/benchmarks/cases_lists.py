"""The command center's lists on the cases dataset: what each page asks the database for, per persona.

One operation is a page's database work, through the code the views run (``civicgrid/cases/views.py``):

- **case list** (``CaseListView``, no filter): ``Case.objects.visible_to(user).select_related("area__parent",
  "category", "department").order_by("-id")``, ``CappedPaginator(qs, 50)``: its count (stops at 10,001)
  and page 1, rows evaluated;
- **open cases** (the same list filtered "all open", ``CaseFilterForm``: ``selectors.open_cases``, the
  open statuses as a positive list);
- **light counts** (the same page's counts of the open cases by light, ``selectors.case_counts_by_light``);
- **triage queue** (``TriageView``): ``visible_to(user).filter(status="reported")`` oldest first
  (``order_by("reported_at", "id")``), ``CappedPaginator(qs, 30)``: count and page 1; and the page's
  **triage hints** (``triage.suggestions`` and ``triage.duplicates`` over its rows);
- **unit's cases** (``UnitCasesView``, the department handler): ``visible_to(user, "handle")``, open
  (dispatched, in progress, handled), newest first, count and page 1.

Personas: a sysadmin (scope all: the baseline), city / district / street / community officials, the
command-center dispatcher (city), a grid worker (one grid), a department handler (one unit, by
membership). Each page only for the personas who may open it (the views' ``required_perms``).
Target: **p95 < 150 ms** each. Every result is checked before timing against the plain definition
(an ``area_code`` range). "Now" (the lights) is the dataset's ``ANCHOR``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from bench.plans import explain_queries
from bench.timing import Result, Stats

TARGET_MS = 150.0
SEED = 29
LIST_PAGE = 50
TRIAGE_PAGE = 30
#: Personas of the case list (key in the users dict, label).
LIST_PERSONAS = ("unscoped", "city", "district", "street", "community", "dispatcher", "grid")
#: Personas who may open the triage queue (cases.record_case or cases.dispatch_case).
TRIAGE_PERSONAS = ("unscoped", "dispatcher", "street", "community")


class Job:
    """One timed operation and its samples."""

    def __init__(self, key: str, label: str, fn: Callable[[], object], target_ms: float | None):
        self.key, self.label, self.fn, self.target_ms = key, label, fn, target_ms
        self.samples: list[float] = []
        self.extra: dict = {}
        self.plan_names: tuple[str, ...] = ()

    def once(self) -> float:
        t0 = time.perf_counter()
        self.fn()
        return time.perf_counter() - t0

    @property
    def stats(self) -> Stats:
        return Stats.of(self.samples)

    @property
    def passed(self) -> bool | None:
        return None if self.target_ms is None else self.stats.p95_ms < self.target_ms


def time_round_robin(jobs: list[Job], warmup: int, repetitions: int, seed: int = SEED) -> None:
    """Every job once per round, in a shuffled order (load on the machine hits them alike)."""
    rng = random.Random(seed)
    order = list(jobs)
    for rep in range(warmup + repetitions):
        rng.shuffle(order)
        for job in order:
            seconds = job.once()
            if rep >= warmup:
                job.samples.append(seconds)


# ---- the pages' database work ------------------------------------------------------------------


def case_list(user, *, open_only: bool = False):
    from civicgrid.cases.models import Case
    from civicgrid.cases.selectors import open_cases

    qs = (
        Case.objects.visible_to(user).select_related("area__parent", "category", "department").order_by("-id")
    )
    return open_cases(qs) if open_only else qs


def page(qs, size: int) -> tuple[int, list]:
    """What the list view does with its queryset: the capped count, then page 1's rows."""
    from civicgrid.core.pagination import CappedPaginator

    paginator = CappedPaginator(qs, size)
    count = paginator.count
    return count, list(paginator.page(1).object_list)


def light_counts(user, now) -> dict:
    from civicgrid.cases.selectors import case_counts_by_light

    return case_counts_by_light(case_list(user), now)


def triage_queue(user):
    from civicgrid.cases.choices import Status
    from civicgrid.cases.models import Case

    return (
        Case.objects.visible_to(user)
        .filter(status=Status.REPORTED)
        .select_related("area__parent", "category")
        .order_by("reported_at", "id")
    )


def triage_hints(rows: list, user) -> tuple[dict, dict]:
    from civicgrid.cases import triage

    return triage.suggestions(rows), triage.duplicates(rows, user)


def unit_cases(user):
    from civicgrid.cases.models import Case
    from civicgrid.cases.views import UNIT_OPEN

    return (
        Case.objects.visible_to(user, "handle")
        .select_related("area__parent", "category", "department")
        .order_by("-id")
        .filter(status__in=UNIT_OPEN)
    )


# ---- checks ------------------------------------------------------------------------------------


def _scope_range(user):
    """The plain definition of the user's area scope over cases: a Q on area_code ranges."""
    from django.db.models import Q

    from civicgrid.core.scope import DataScope, range_q, user_scopes

    q = None
    for post in user_scopes(user):
        if "cases.view_case" not in post.perms:
            continue
        if post.data_scope == DataScope.ALL:
            return Q()
        part = (
            Q(area_code=post.area_code)
            if post.data_scope == DataScope.NODE
            else range_q("area_code", post.area_code)
        )
        q = part if q is None else q | part
    return q


def _check_list(job: Job, user, count: int, rows: list, *, open_only: bool) -> None:
    from civicgrid.cases.choices import FINAL_STATUSES
    from civicgrid.cases.models import Case
    from civicgrid.core.pagination import COUNT_CAP

    q = _scope_range(user)
    expected = Case.objects.filter(q) if q is not None else Case.objects.none()
    if open_only:
        expected = expected.exclude(status__in=FINAL_STATUSES)
    exact = expected.count()
    ids = list(expected.order_by("-id").values_list("pk", flat=True)[:LIST_PAGE])
    if count != min(exact, COUNT_CAP + 1) or [r.pk for r in rows] != ids:
        raise AssertionError(f"{job.key}: lists other cases than the scope's definition ({count} vs {exact})")
    job.extra.update(rows_in_scope=exact, found=f"{exact:,}")


def _check_triage(job: Job, user, count: int, rows: list) -> None:
    from civicgrid.cases.choices import Status
    from civicgrid.cases.models import Case

    q = _scope_range(user)
    expected = Case.objects.filter(q, status=Status.REPORTED)
    exact = expected.count()
    ids = list(expected.order_by("reported_at", "id").values_list("pk", flat=True)[:TRIAGE_PAGE])
    if count != min(exact, 10_001) or [r.pk for r in rows] != ids:
        raise AssertionError(f"{job.key}: the queue holds other cases than expected ({count} vs {exact})")
    job.extra.update(rows_in_scope=exact, found=f"{exact:,}")


def _check_unit(job: Job, user, count: int, rows: list) -> None:
    from django.db.models import Q

    from civicgrid.cases.models import Case
    from civicgrid.cases.models.cases import unit_ids
    from civicgrid.cases.views import UNIT_OPEN

    units = unit_ids(user)
    expected = Case.objects.filter(
        Q(department_id__in=units) | Q(assisting_departments__in=units), status__in=UNIT_OPEN
    ).distinct()
    exact = expected.count()
    ids = list(expected.order_by("-id").values_list("pk", flat=True)[:LIST_PAGE])
    if not units or count != min(exact, 10_001) or [r.pk for r in rows] != ids:
        raise AssertionError(
            f"{job.key}: the unit's page holds other cases than expected ({count} vs {exact})"
        )
    job.extra.update(rows_in_scope=exact, found=f"{exact:,}")


def _check_lights(job: Job, user, counts: dict) -> None:
    from civicgrid.cases.choices import FINAL_STATUSES
    from civicgrid.cases.models import Case

    exact = Case.objects.filter(_scope_range(user)).exclude(status__in=FINAL_STATUSES).count()
    if sum(counts.values()) != exact:
        raise AssertionError(f"{job.key}: lights add up to {sum(counts.values())}, not {exact} open cases")
    job.extra.update(rows_in_scope=exact, lights=dict(counts))


# ---- the benchmark -----------------------------------------------------------------------------


def jobs_for(users: dict, labels: dict[str, str], now) -> list[Job]:
    from civicgrid.core.scope import user_scopes

    jobs: list[Job] = []
    for key in (*LIST_PERSONAS, "handler"):
        user_scopes(users[key])  # posts load once per request; not what is measured here

    for key in LIST_PERSONAS:
        u = users[key]
        target = None if key == "unscoped" else TARGET_MS
        job = Job(f"list/{key}", f"case list, page 1 + count [{key}] {labels[key]}",
                  lambda u=u: page(case_list(u), LIST_PAGE), target)  # fmt: skip
        _check_list(job, u, *job.fn(), open_only=False)
        job.plan_names = ("count", "page")
        jobs.append(job)
        job = Job(f"open/{key}", f"open cases, page 1 + count [{key}]",
                  lambda u=u: page(case_list(u, open_only=True), LIST_PAGE), target)  # fmt: skip
        _check_list(job, u, *job.fn(), open_only=True)
        job.plan_names = ("count", "page")
        jobs.append(job)
        job = Job(
            f"lights/{key}", f"light counts of the list [{key}]", lambda u=u: light_counts(u, now), target
        )
        _check_lights(job, u, job.fn())
        job.plan_names = ("lights",)
        jobs.append(job)

    for key in TRIAGE_PERSONAS:
        u = users[key]
        target = None if key == "unscoped" else TARGET_MS
        job = Job(f"triage/{key}", f"triage queue, page 1 + count [{key}]",
                  lambda u=u: page(triage_queue(u), TRIAGE_PAGE), target)  # fmt: skip
        count, rows = job.fn()
        _check_triage(job, u, count, rows)
        job.plan_names = ("count", "page")
        jobs.append(job)
        hints = Job(f"hints/{key}", f"triage hints for the page ({len(rows)} cases) [{key}]",
                    lambda u=u, rows=rows: triage_hints(rows, u), target)  # fmt: skip
        hints.fn()
        jobs.append(hints)

    u = users["handler"]
    job = Job("unit/handler", f"unit's open cases, page 1 + count [handler] {labels['handler']}",
              lambda u=u: page(unit_cases(u), LIST_PAGE), TARGET_MS)  # fmt: skip
    count, rows = job.fn()
    _check_unit(job, u, count, rows)
    job.plan_names = ("count", "page")
    jobs.append(job)
    return jobs


def run(size, users: dict, labels: dict[str, str], now) -> tuple[list[Result], dict]:
    jobs = jobs_for(users, labels, now)
    time_round_robin(jobs, size.list_warmup, size.list_reps)
    results, plans, missed = [], {}, []
    base = {j.key.split("/")[0]: j for j in jobs if j.key.endswith("/unscoped")}
    for job in jobs:
        kind = job.key.split("/")[0]
        ref = base.get(kind)
        stats = job.stats
        extra = dict(job.extra)
        ratio = None
        if ref is not None and ref is not job:
            ratio = stats.p95_ms / ref.stats.p95_ms
        results.append(
            Result(
                "cases",
                job.label,
                stats,
                ratio=ratio,
                ratio_to="sysadmin (all)" if ratio is not None else "",
                ratio_basis="p95" if ratio is not None else "",
                target=f"p95 < {job.target_ms:.0f} ms" if job.target_ms else "baseline" if ref is job else "",
                passed=job.passed,
                extra=extra,
            )
        )
        plans[job.key] = explain_queries(job.fn, job.plan_names)
        if job.passed is False:
            missed.append(job.key)
    return results, {"plans": plans, "missed": missed}
