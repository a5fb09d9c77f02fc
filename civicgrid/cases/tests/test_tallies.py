"""The monthly statistics tallies: every service step keeps them equal to a fresh count, the
statistics read from them equal the statistics counted from the cases, and the command checks and
rebuilds them."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F
from django.utils import timezone

from civicgrid.areas.models import Area
from civicgrid.cases import deadlines, services, tallies
from civicgrid.cases.models import Case, CaseDeadline, CaseEvent, CaseTally, UnitTally
from civicgrid.cases.statistics import Period, case_statistics, plan_reads, split_months, uses_tallies
from civicgrid.cases.testing import STREET

pytestmark = pytest.mark.django_db


def test_split_months():
    assert split_months(Period(date(2026, 1, 1), date(2026, 12, 31))) == (
        [date(2026, m, 1) for m in range(1, 13)],
        [],
    )
    months, rest = split_months(Period(date(2025, 11, 2), date(2026, 2, 1)))
    assert months == [date(2025, 12, 1), date(2026, 1, 1)]
    assert rest == [Period(date(2025, 11, 2), date(2025, 11, 30)), Period(date(2026, 2, 1), date(2026, 2, 1))]
    assert split_months(Period(date(2024, 2, 3), date(2024, 2, 29))) == (
        [],
        [Period(date(2024, 2, 3), date(2024, 2, 29))],
    )


def test_a_long_partial_month_is_its_tally_less_the_days_left_out():
    year = Period(date(2025, 11, 2), date(2026, 11, 1))
    months, parts = plan_reads(year)
    assert months == [date(2025, 11, 1)] + [date(2025 + (m > 12), (m - 1) % 12 + 1, 1) for m in range(12, 23)]
    assert parts == [
        (Period(date(2025, 11, 1), date(2025, 11, 1)), -1),
        (Period(date(2026, 11, 1), date(2026, 11, 1)), 1),
    ]
    # Inside one month: the month less both ends; half a month or less is counted as it is.
    assert plan_reads(Period(date(2026, 2, 3), date(2026, 2, 26))) == (
        [date(2026, 2, 1)],
        [
            (Period(date(2026, 2, 1), date(2026, 2, 2)), -1),
            (Period(date(2026, 2, 27), date(2026, 2, 28)), -1),
        ],
    )
    assert plan_reads(Period(date(2026, 4, 16), date(2026, 5, 15))) == (
        [],
        [(Period(date(2026, 4, 16), date(2026, 4, 30)), 1), (Period(date(2026, 5, 1), date(2026, 5, 15)), 1)],
    )


def test_statistics_less_the_days_left_out_equal_the_counted_ones(history, people):
    """Cases, clocks, ratings and reopenings on the 1st of last month, and a period from the 2nd: that
    month is its tally less the 1st, and nothing of the 1st may remain in the figures."""
    area = Area.objects.get(code="450403")
    user = people["dispatcher"]
    first = (timezone.localdate().replace(day=1) - timedelta(days=1)).replace(day=1)
    noon = datetime.combine(first, time(12), tzinfo=timezone.get_current_timezone())
    moved = [history[k].pk for k in ("a", "b", "d")]
    Case.objects.filter(pk__in=moved).update(reported_at=noon, rated_at=noon)
    CaseDeadline.objects.filter(case_id__in=moved, ended_at__isnull=False).update(ended_at=noon)
    CaseEvent.objects.filter(case_id__in=moved).update(created_at=noon)
    call_command("cases_tallies", "--rebuild")
    period = Period(first + timedelta(days=1), timezone.localdate())
    assert plan_reads(period)[1][0] == (Period(first, first), -1)
    now = timezone.now()
    tallied = case_statistics(user, area, period, now=now)
    assert tallied == case_statistics(user, area, period, now=now, tallied=False)
    whole = case_statistics(user, area, Period(first, timezone.localdate()), now=now)
    assert whole["total"] == tallied["total"] + 3
    assert whole["overall"]["satisfaction"]["ratings"] > tallied["overall"]["satisfaction"]["ratings"]
    assert whole["overall"]["on_time"]["assessed"] > tallied["overall"]["on_time"]["assessed"]


def test_a_few_days_of_a_district_read_the_clocks_by_their_end(history, people):
    """On SQLite, the clocks of a tallied month's edge are read by their end time (a day of the city's
    clocks), not through the district's clocks of all time; the figures are the same either way."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from civicgrid.cases.statistics import ended_clock_rows

    area = Area.objects.get(code="450403")
    user = people["dispatcher"]
    today = timezone.localdate()
    few, many = Period(today, today), Period(today - timedelta(days=40), today)
    with CaptureQueriesContext(connection) as queries:
        rows = ended_clock_rows(user, area, few, 9)
    assert rows and rows == ended_clock_rows(user, area, many, 9)
    assert sum(r["n"] for r in rows) == sum(
        r["n"] for r in ended_clock_rows(people["dispatcher"], Area.objects.get(code=STREET), few, 12)
    )
    # A community's period of weeks reads its own range of the (partial) cases_dl_stats.
    with CaptureQueriesContext(connection) as community:
        ended_clock_rows(user, Area.objects.get(code="450403005001"), many, 15)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            plans = []
            for captured in (queries, community):
                cursor.execute("EXPLAIN QUERY PLAN " + captured.captured_queries[-1]["sql"])
                plans.append(" ".join(str(row) for row in cursor.fetchall()))
        assert "cases_dl_unit" in plans[0] and "cases_dl_stats" in plans[1], plans


def test_every_step_keeps_the_tallies_equal_to_a_count(history, people, units):
    """The history went through report, record, dispatch, handle, verify, close, rate, "not
    solved", reject, escalate; then the sweep escalates an overdue case in bulk."""
    assert tallies.check() == []
    assert CaseTally.objects.filter(dimension="status").exists()
    assert set(UnitTally.objects.values_list("measure", flat=True)) >= {"met", "late", "rated", "reopened"}
    case = services.case_report(
        actor=people["grid_worker"],
        category=history["a"].category,
        description="路灯不亮",
        channel="grid_worker",
        lat=history["a"].lat,
        lng=history["a"].lng,
    )[0]
    services.case_dispatch(case=case, actor=people["community"], department=units["D450403-01"])
    far = Case.objects.get(pk=case.pk).due_at + timedelta(minutes=1)
    assert deadlines.sweep(far).escalated >= 1
    assert Case.objects.get(pk=case.pk).status == "recorded"
    assert tallies.check() == []


@pytest.mark.parametrize("code", ["450403", STREET])
def test_statistics_from_tallies_equal_the_counted_ones(history, people, code):
    area = Area.objects.get(code=code)
    user = people["dispatcher"]
    assert uses_tallies(user, area)
    today = timezone.localdate()
    first = today.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    whole_month = Period(first, last)
    with_an_edge = Period((first - timedelta(days=1)).replace(day=10), last)
    now = timezone.now()
    for period in (whole_month, with_an_edge):
        tallied = case_statistics(user, area, period, now=now)
        assert tallied == case_statistics(user, area, period, now=now, tallied=False)
    assert tallied["total"] > 0 and tallied["overall"]["on_time"]["assessed"] > 0
    # The whole month is read from the tallies: a wrong tally shows.
    CaseTally.objects.filter(dimension="status").update(n=F("n") + 1)
    assert case_statistics(user, area, whole_month, now=now)["total"] > tallied["total"]


def test_community_and_narrow_readers_count_the_cases(history, people):
    community = Area.objects.get(code="450403005001")
    assert not uses_tallies(people["dispatcher"], community)  # its children are grids
    assert not uses_tallies(people["grid_worker"], Area.objects.get(code=STREET))  # sees one grid


def test_command_checks_and_rebuilds(history, capsys):
    call_command("cases_tallies", "--check")
    CaseTally.objects.filter(dimension="channel").delete()
    UnitTally.objects.filter(measure="rated").update(total=F("total") + 2)
    with pytest.raises(CommandError, match="differ"):
        call_command("cases_tallies", "--check")
    call_command("cases_tallies", "--rebuild")
    call_command("cases_tallies", "--check")
    assert "agree" in capsys.readouterr().out


def test_upserts_add_to_the_stored_rows_whatever_the_text():
    """The upsert takes any text as a key (on PostgreSQL many rows go as one array per column) and
    adds to the row already stored; its statement for many rows reads the same for any number of
    rows there, and a few rows go as plain values."""
    month = date(2026, 11, 1)
    odd = ["a,b", 'say "hi"', "{x}", "back\\slash", "NULL", "", "社情民意", "tab\tnew\nline"]
    assert len(odd) >= tallies.ARRAYS_FROM  # arrays on PostgreSQL
    for sign in (1, 1, -1, 1):
        delta = tallies.Delta()
        for value in odd:
            delta.cases[(month, "450403001001", "status", value)] += sign
        delta.unit((month, "450403001001", 7, tallies.RATED), sign, 5)
        delta.apply()
    stored = dict(CaseTally.objects.filter(month=month).values_list("value", "n"))
    assert stored == dict.fromkeys(odd, 2)
    unit = UnitTally.objects.get(month=month, department_id=7, measure=tallies.RATED)
    assert (unit.n, unit.total, unit.good, unit.praise) == (2, 10, 2, 2)
    from django.db import connection

    if connection.vendor == "postgresql":
        row = (month, "4504", "status", "x", 1)
        least = tallies._upsert(CaseTally, tallies.CASE_KEY, ["n"], [row] * tallies.ARRAYS_FROM)
        many = tallies._upsert(CaseTally, tallies.CASE_KEY, ["n"], [row] * 1000)
        assert least[0] == many[0] and len(least[1]) == len(many[1]) == 5
        few = tallies._upsert(CaseTally, tallies.CASE_KEY, ["n"], [row] * 3)
        assert "unnest" not in few[0] and few[1] == list(row) * 3
