"""Statistics of event handling: every figure equals a plain recount over a small history made through
the services; the reader's scope bounds them; a fixed number of queries; the statistics page."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from civicgrid.areas.models import Area
from civicgrid.cases.choices import OPEN_STATUSES, EventKind, Stage
from civicgrid.cases.models import Case, CaseDeadline, CaseEvent, Category
from civicgrid.cases.statistics import Period, case_statistics, make_period, this_year
from civicgrid.cases.testing import C1, G1, G2, STREET
from civicgrid.core.testing import count_queries, make_user

pytestmark = pytest.mark.django_db


def recount(area: Area, period: Period, now) -> dict:
    """The same figures, counted the plain way: every row looked at in Python."""
    start, end = period.bounds()

    def inside(code):
        return code.startswith(area.scope_code)

    children = list(Area.objects.filter(parent=area).order_by("scope_code"))
    cases = [
        c
        for c in Case.objects.select_related("category")
        if inside(c.area_code) and start <= c.reported_at < end
    ]
    out = {
        "total": len(cases),
        "by_leaf": Counter(c.category_id for c in cases),
        "by_top": Counter(c.category.parent_id or c.category_id for c in cases),
        "by_channel": Counter(c.channel for c in cases),
        "by_status": Counter(c.status for c in cases),
        "by_light": Counter(c.light_at(now) for c in cases if c.status in OPEN_STATUSES),
        "areas": {
            ch.scope_code: sum(1 for c in cases if c.area_code.startswith(ch.scope_code)) for ch in children
        },
    }
    unit = defaultdict(Counter)
    place = defaultdict(Counter)

    def add(dept, code, key, n=1):
        unit[dept][key] += n
        for ch in children:
            if code.startswith(ch.scope_code):
                place[ch.scope_code][key] += n

    for d in CaseDeadline.objects.filter(stage=Stage.HANDLE):
        if inside(d.area_code) and d.ended_at and start <= d.ended_at < end and d.outcome in ("met", "late"):
            add(d.department_id, d.area_code, d.outcome)
    for c in Case.objects.all():
        if not inside(c.area_code):
            continue
        if (
            c.status in OPEN_STATUSES
            and c.deadline_stage == Stage.HANDLE
            and start <= c.due_at < min(end, now)
        ):
            add(c.department_id, c.area_code, "overdue")
        if c.rating is not None and start <= c.rated_at < end:
            add(c.department_id, c.area_code, "ratings")
            add(c.department_id, c.area_code, "total", c.rating)
            add(c.department_id, c.area_code, "good", int(c.rating >= 4))
            add(c.department_id, c.area_code, "praise", int(c.rating == 5))
    for e in CaseEvent.objects.filter(kind=EventKind.REOPENED).select_related("case"):
        if inside(e.case.area_code) and start <= e.created_at < end:
            add(e.department_id, e.case.area_code, "reopened")
    out["units"] = {k: v for k, v in unit.items() if k is not None}
    out["places"] = place
    return out


def _perf(counter) -> dict:
    assessed = counter["met"] + counter["late"] + counter["overdue"]
    ratings = counter["ratings"]
    return {
        "on_time": {
            "met": counter["met"],
            "late": counter["late"],
            "overdue": counter["overdue"],
            "assessed": assessed,
            "rate": round(counter["met"] / assessed, 4) if assessed else None,
        },
        "satisfaction": {
            "ratings": ratings,
            "average": round(counter["total"] / ratings, 2) if ratings else None,
            "good_share": round(counter["good"] / ratings, 4) if ratings else None,
            "praise": counter["praise"],
            "reopened": counter["reopened"],
        },
    }


def _nonzero(rows) -> dict:
    return {r["value"]: r["count"] for r in rows if r["count"]}


@pytest.mark.parametrize("code", ["450403", STREET, C1, "450400"])
def test_statistics_equal_a_plain_recount(history, people, code):
    area = Area.objects.get(code=code)
    period, now = this_year(), timezone.now()
    data = case_statistics(people["dispatcher"], area, period, now=now)
    expected = recount(area, period, now)
    assert data["total"] == expected["total"]
    assert {r["id"]: r["count"] for r in data["by_leaf_category"]} == dict(expected["by_leaf"])
    assert {r["id"]: r["count"] for r in data["by_category"]} == dict(expected["by_top"])
    assert _nonzero(data["by_channel"]) == dict(expected["by_channel"])
    assert _nonzero(data["by_status"]) == dict(expected["by_status"])
    assert _nonzero(data["by_light"]) == dict(expected["by_light"])
    assert data["open"] == sum(n for s, n in expected["by_status"].items() if s in OPEN_STATUSES)
    assert {r["scope_code"]: r["cases"] for r in data["areas"]} == expected["areas"]
    units = {r["id"]: {"on_time": r["on_time"], "satisfaction": r["satisfaction"]} for r in data["units"]}
    assert units == {pk: _perf(c) for pk, c in expected["units"].items()}
    for row in data["areas"]:
        got = {"on_time": row["on_time"], "satisfaction": row["satisfaction"]}
        assert got == _perf(expected["places"][row["scope_code"]]), row["name"]


def test_the_history_holds_what_the_assessment_needs(history, people, units):
    """The fixture is not vacuous: late, overdue, met, ratings and a reopening are all there."""
    data = case_statistics(people["dispatcher"], Area.objects.get(code=STREET), this_year())
    by_unit = {r["id"]: r for r in data["units"]}
    a, b = by_unit[units["D450403-01"].pk], by_unit[units["D450403-02"].pk]
    assert a["on_time"]["met"] == 2 and a["on_time"]["late"] == 1 and a["on_time"]["rate"] == round(2 / 3, 4)
    assert a["satisfaction"] == {"ratings": 2, "average": 4.0, "good_share": 0.5, "praise": 1, "reopened": 0}
    assert b["on_time"]["overdue"] == 1 and b["satisfaction"]["reopened"] == 1
    assert data["total"] == 7  # a, b, c, d, e, f, i — not g (elsewhere) nor h (last year)
    # The escalated case's clock belongs to the unit that handled it, not to "no unit".
    assert data["no_unit"] is None or data["no_unit"]["on_time"]["assessed"] == 0


def test_a_period_excludes_what_happened_outside_it(history, people):
    area = Area.objects.get(code=STREET)
    last_year = Period(date(timezone.localdate().year - 1, 1, 1), date(timezone.localdate().year - 1, 12, 31))
    data = case_statistics(people["dispatcher"], area, last_year)
    assert data["total"] == 1  # h
    assert data["overall"]["on_time"]["assessed"] == 0 and data["overall"]["satisfaction"]["ratings"] == 0


def test_scope_bounds_the_statistics(history, people):
    period = this_year()
    c1 = Area.objects.get(code=C1)
    community = case_statistics(people["community"], None, period)
    whole = case_statistics(people["dispatcher"], c1, period)
    # Asked for the street, a community official still counts only their community.
    street = case_statistics(people["community"], Area.objects.get(code=STREET), period)
    assert community["total"] == whole["total"] == street["total"]
    assert [r["scope_code"] for r in street["areas"]] == [C1]
    grid = case_statistics(people["grid_worker"], Area.objects.get(code=G1), period)
    assert grid["total"] == sum(
        1 for c in Case.objects.filter(area_code=G1) if c.reported_at.year == period.start.year
    )
    mine = case_statistics(people["resident"], Area.objects.get(code=C1), period)
    assert (
        mine["total"]
        == Case.objects.filter(reporter=people["resident"], area_code__startswith=C1)
        .exclude(pk=history["h"].pk)
        .count()
    )
    assert case_statistics(people["handler"], Area.objects.get(code=STREET), period)["total"] == 0


def test_query_count_does_not_grow_with_cases(report, people):
    area = Area.objects.get(code=STREET)
    user = people["dispatcher"]
    report()
    case_statistics(user, area, this_year())
    before = count_queries(lambda: case_statistics(user, area, this_year()))
    for n in range(4):
        report(grid=G2, code="0201" if n % 2 else "0102")
    assert count_queries(lambda: case_statistics(user, area, this_year())) == before


def test_period_rules():
    today = date(2026, 5, 4)
    assert make_period(None, None, today=today) == Period(date(2026, 1, 1), date(2026, 12, 31))
    assert make_period(date(2025, 3, 1), None, today=today) == Period(date(2025, 3, 1), date(2025, 12, 31))
    with pytest.raises(ValidationError) as exc:
        make_period(date(2026, 2, 1), date(2026, 1, 1))
    assert "end" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        make_period(date(2020, 1, 1), date(2026, 1, 1))
    assert "end" in exc.value.message_dict


# ---- the page ---------------------------------------------------------------------------------------


PAGE = "/command/statistics/"


def test_page_shows_the_area_and_its_tables(client, history, people):
    client.force_login(people["dispatcher"])
    res = client.get(PAGE)
    assert res.status_code == 200
    html = res.content.decode()
    assert (
        'id="chart-category"' in html and 'id="by-unit"' in html and "vendor/echarts/echarts.min.js" in html
    )
    assert reverse("case_stats:statistics") in html  # the command module's nav entry
    street = Area.objects.get(code=STREET)
    res = client.get(PAGE, {"area": street.pk, "start": f"{timezone.localdate().year}-01-01"})
    html = res.content.decode()
    assert res.context["area"] == street and 'id="by-area"' in html
    assert "三角嘴社区" in html and 'id="export-statistics"' in html
    assert res.context["stats"]["total"] == 7


def test_page_scope_and_bad_input(client, history, people):
    client.force_login(people["community"])
    elsewhere = Area.objects.get(code="450405")
    res = client.get(PAGE, {"area": elsewhere.pk})
    assert res.status_code == 200 and res.context["area"].code == C1  # not theirs: their own area instead
    res = client.get(PAGE, {"start": "2026-05-01", "end": "2026-01-01"})
    assert res.status_code == 200 and res.context["form"].errors
    res = client.get(PAGE, {"start": "soon"})
    assert res.status_code == 200 and "start" in res.context["form"].errors


@pytest.mark.parametrize("who", ["handler", "resident"])
def test_page_refuses_who_may_not_see_it(client, people, who):
    client.force_login(people[who])
    assert client.get(PAGE).status_code == 403


def test_page_needs_a_sign_in(client, wuzhou):
    assert client.get(PAGE).status_code == 302


def test_page_query_count_is_constant(client, report, people):
    client.force_login(people["dispatcher"])
    report()
    client.get(PAGE)
    before = count_queries(lambda: client.get(PAGE))
    for _n in range(3):
        report(grid=G2)
    assert count_queries(lambda: client.get(PAGE)) == before


def test_grid_worker_sees_their_grid(client, history, people):
    user = make_user("t_gw_page", "grid_worker")
    client.force_login(user)
    res = client.get(PAGE)
    assert res.status_code == 200 and res.context["area"].code == G1
    assert Category.objects.exists()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_charts_draw_in_a_browser(page, live_server, report, people):
    from civicgrid.accounts.services import agreement_accept, agreement_publish

    report()
    report(grid=G2, code="0201")
    user = people["dispatcher"]
    agreement_accept(
        user=user, agreement=agreement_publish(actor=None, version="v", title="t", body="b"), ip=None
    )
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    street = Area.objects.get(code=STREET)
    page.goto(f"{live_server.url}/accounts/login/?next={PAGE}?area={street.pk}")
    page.fill("#id_username", user.username)
    page.fill("#id_password", "correct-horse-battery-9")
    page.click("button.primary")
    page.wait_for_selector("#chart-category canvas")
    page.wait_for_selector("#chart-area canvas")
    assert page.text_content("#total").strip() == "2"
    assert not errors
