"""Statistics of event handling (``civicgrid.cases.statistics.case_statistics``, what the statistics
page, its export and the API compute) over the year before the dataset's ``ANCHOR``:

- **district** 万秀区 450403 as its district official — target **p95 < 500 ms**;
- street 角嘴街道 and community 450403005001 as the same official, and the whole city as the city
  official (the page's default area for that official) — no target, for the shape of the cost.

Checked before timing: the total equals a plain count of the cases reported in the period in the
area, and the child areas' counts add up to it. The plans of its queries are kept in the JSON."""

from __future__ import annotations

from datetime import timedelta

from bench.plans import explain_queries
from bench.timing import Result

from .cases_lists import Job, time_round_robin

TARGET_MS = 500.0
#: (key, persona, area code, label, target)
AREAS = (
    ("district", "district", "450403", "district 万秀区 450403", TARGET_MS),
    ("street", "district", "450403005000", "street 角嘴街道 450403005000", None),
    ("community", "district", "450403005001", "community 450403005001", None),
    ("city", "city", "450400", "city 梧州市 450400 (city official)", None),
)


def year_before(anchor):
    from django.utils import timezone

    from civicgrid.cases.statistics import Period

    last = timezone.localtime(anchor).date() - timedelta(days=1)
    return Period(last - timedelta(days=364), last)


def _check(job: Job, user, area, period, data: dict) -> None:
    from civicgrid.cases.models import Case
    from civicgrid.core.scope import range_q

    start, end = period.bounds()
    exact = Case.objects.filter(
        range_q("area_code", area.scope_code), reported_at__gte=start, reported_at__lt=end
    ).count()
    if data["total"] != exact:
        raise AssertionError(f"{job.key}: total {data['total']} but {exact} cases were reported there")
    by_child = sum(row["cases"] for row in data["areas"])
    if data["areas"] and by_child != exact:
        raise AssertionError(f"{job.key}: child areas add up to {by_child}, not {exact}")
    on_time = data["overall"]["on_time"]
    job.extra.update(
        cases=exact, rows_in_scope=exact, children=len(data["areas"]), units=len(data["units"]),
        on_time_rate=on_time["rate"], assessed=on_time["assessed"],
    )  # fmt: skip


def run(size, users: dict, now) -> tuple[list[Result], dict]:
    from civicgrid.areas.models import Area
    from civicgrid.cases.statistics import case_statistics
    from civicgrid.core.scope import user_scopes

    period = year_before(now)
    jobs = []
    for key, persona, code, label, target in AREAS:
        user = users[persona]
        user_scopes(user)
        area = Area.objects.get(code=code)
        job = Job(
            f"statistics/{key}",
            f"statistics, {period.start}..{period.end}: {label}",
            lambda u=user, a=area: case_statistics(u, a, period, now=now),
            target,
        )
        _check(job, user, area, period, job.fn())
        jobs.append(job)
    time_round_robin(jobs, size.stats_warmup, size.stats_reps)
    results, plans, missed = [], {}, []
    for job in jobs:
        results.append(
            Result(
                "cases",
                job.label,
                job.stats,
                target=f"p95 < {job.target_ms:.0f} ms" if job.target_ms else "",
                passed=job.passed,
                extra=dict(job.extra),
            )
        )
        plans[job.key] = explain_queries(job.fn)  # q1, q2, … in the order case_statistics runs them
        if job.passed is False:
            missed.append(job.key)
    return results, {"plans": plans, "missed": missed, "period": period.as_dict()}
