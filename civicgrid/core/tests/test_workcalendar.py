"""The work calendar: Chinese holidays and 调休, overrides, office hours, working-time arithmetic,
the per-process cache, the administrators' page and the read API."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from civicgrid.core import workcalendar
from civicgrid.core.calendar_services import (
    calendar_override_delete,
    calendar_override_set,
    office_periods_set,
)
from civicgrid.core.choices import DaySource
from civicgrid.core.models import CalendarOverride, ChangeLog, OfficePeriod
from civicgrid.core.testing import api_client, make_user
from civicgrid.core.workcalendar import CalendarError, WorkCalendar, get_calendar

SH = ZoneInfo("Asia/Shanghai")
DAY = 6.5 * 3600  # 08:30–12:00 and 14:30–17:30
PASSWORD = "correct-horse-battery-9"


def at(y, m, d, hh=0, mm=0, ss=0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=SH)


@pytest.fixture(autouse=True)
def fresh_calendar():
    """Each test starts and ends without a cached calendar (rolled-back rows must not linger)."""
    workcalendar.invalidate()
    yield
    workcalendar.invalidate()


# -- days -----------------------------------------------------------------------------------------


def test_2026_spring_festival_and_national_day_are_days_off():
    cal = WorkCalendar()
    for d in range(15, 24):  # 春节: 15–23 February 2026
        assert not cal.is_workday(date(2026, 2, d)), d
    for d in range(1, 8):  # 国庆节 and 中秋: 1–7 October 2026
        assert not cal.is_workday(date(2026, 10, d)), d
    assert cal.is_workday(date(2026, 2, 24))  # back to work on Tuesday
    assert cal.is_workday(date(2026, 10, 8))
    info = cal.day_info(date(2026, 2, 17), language="zh-hans")
    assert info.source == DaySource.HOLIDAY and info.name == "春节"
    assert cal.day_info(date(2026, 10, 1), language="en").name == "National Day"


def test_adjusted_weekend_days_are_working_days():
    cal = WorkCalendar()
    for d in (date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 9, 20), date(2026, 10, 10)):
        assert d.weekday() >= 5
        assert cal.is_workday(d), d
        assert cal.day_info(d).source == DaySource.ADJUSTED_WORKDAY
    assert cal.is_workday(date(2025, 1, 26)) and cal.is_workday(date(2025, 9, 28))  # 2025's 调休 too
    plain_saturday = date(2026, 3, 7)
    assert not cal.is_workday(plain_saturday)
    assert cal.day_info(plain_saturday).source == DaySource.WEEKEND
    assert cal.day_info(date(2026, 3, 9)).source == DaySource.WORKDAY


def test_override_flips_a_day_both_ways():
    flips = {date(2026, 12, 7): False, date(2026, 12, 12): True, date(2026, 2, 14): False}
    cal = WorkCalendar(overrides=flips)
    assert not cal.is_workday(date(2026, 12, 7))  # a Monday off (typhoon closure)
    assert cal.is_workday(date(2026, 12, 12))  # a Saturday at work
    assert not cal.is_workday(date(2026, 2, 14))  # an override beats the package's 调休
    assert cal.day_info(date(2026, 12, 7)).source == DaySource.OVERRIDE


@pytest.mark.django_db
def test_overrides_through_the_service_flip_days_and_are_logged(wuzhou):
    admin = make_user("t_cal_admin", "sysadmin")
    monday, saturday = date(2026, 12, 7), date(2026, 12, 12)
    assert get_calendar().is_workday(monday) and not get_calendar().is_workday(saturday)
    off = calendar_override_set(day=monday, is_workday=False, name="台风停工", actor=admin)
    on = calendar_override_set(day=saturday, is_workday=True, name="加班", actor=admin)
    assert not get_calendar().is_workday(monday)
    assert get_calendar().is_workday(saturday)
    # Setting the same day again changes the existing override.
    again = calendar_override_set(day=monday, is_workday=True, name="复工", actor=admin)
    assert again.pk == off.pk and get_calendar().is_workday(monday)
    assert CalendarOverride.objects.count() == 2
    calendar_override_delete(override=on, actor=admin)
    assert not get_calendar().is_workday(saturday)
    entries = ChangeLog.objects.filter(content_type__model="calendaroverride")
    assert entries.count() == 4  # create, create, update, delete
    assert set(entries.values_list("username", flat=True)) == {admin.username}


# -- working time ---------------------------------------------------------------------------------


def test_office_periods_default_and_day_length():
    cal = WorkCalendar()
    assert cal.office_periods() == [(time(8, 30), time(12, 0)), (time(14, 30), time(17, 30))]
    assert cal.working_day_seconds() == DAY


@pytest.mark.django_db
def test_seeded_office_periods():
    assert list(OfficePeriod.objects.values_list("start", "end")) == [
        (time(8, 30), time(12, 0)),
        (time(14, 30), time(17, 30)),
    ]
    assert get_calendar().working_day_seconds() == DAY


def test_one_working_day_before_a_long_holiday_lands_after_it_at_the_same_time():
    cal = WorkCalendar()
    # Thursday before the 2026 Labour Day holiday (1–5 May): lands on Wednesday 6 May.
    assert cal.add_working_days(at(2026, 4, 30, 15), 1) == at(2026, 5, 6, 15)
    # Friday before the Spring Festival: Saturday 14 February is a 调休 working day, then nine days off.
    assert cal.add_working_days(at(2026, 2, 13, 15), 1) == at(2026, 2, 14, 15)
    assert cal.add_working_days(at(2026, 2, 13, 15), 2) == at(2026, 2, 24, 15)
    # With the 调休 Saturday overridden to a day off, one day from Friday lands after the holiday.
    closed = WorkCalendar(overrides={date(2026, 2, 14): False})
    assert closed.add_working_days(at(2026, 2, 13, 15), 1) == at(2026, 2, 24, 15)


def test_half_a_day_from_four_pm():
    cal = WorkCalendar()
    # 1.5 h today (16:00–17:30), 1.75 h tomorrow from 08:30.
    assert cal.add_working_days(at(2026, 11, 26, 16), 0.5) == at(2026, 11, 27, 10, 15)
    assert cal.add_working_days(at(2026, 11, 27, 16), 0.5) == at(2026, 11, 30, 10, 15)  # Friday → Monday


def test_start_outside_office_hours_counts_from_the_next_opening():
    cal = WorkCalendar()
    sunday = at(2026, 11, 29, 10)
    assert cal.add_working_hours(sunday, 1) == at(2026, 11, 30, 9, 30)
    assert cal.add_working_time(sunday, 0) == at(2026, 11, 30, 8, 30)
    assert cal.add_working_hours(at(2026, 11, 30, 12, 30), 1) == at(2026, 11, 30, 15, 30)  # lunch
    assert cal.add_working_hours(at(2026, 11, 30, 7), 3.5) == at(2026, 11, 30, 12)  # ends at the break
    assert cal.add_working_hours(at(2026, 11, 30, 19), 0.5) == at(2026, 12, 1, 9)
    assert cal.add_working_time(at(2026, 11, 30, 10), 0) == at(2026, 11, 30, 10)
    assert cal.working_seconds_between(sunday, at(2026, 11, 30, 8, 30)) == 0
    # Results are aware, in Asia/Shanghai, whatever the zone of the start.
    utc_start = datetime(2026, 11, 30, 1, 0, tzinfo=ZoneInfo("UTC"))  # 09:00 in Shanghai
    result = cal.add_working_hours(utc_start, 1)
    assert result == at(2026, 11, 30, 10) and result.utcoffset() == timedelta(hours=8)


def test_bad_arguments():
    cal = WorkCalendar()
    with pytest.raises(ValueError):
        cal.add_working_time(datetime(2026, 1, 5, 9), 60)  # naive
    with pytest.raises(ValueError):
        cal.add_working_time(at(2026, 1, 5, 9), -1)
    with pytest.raises(ValueError):
        cal.add_working_time(at(2026, 1, 5, 9), float("inf"))
    with pytest.raises(ValueError):
        cal.add_working_days(at(2026, 1, 5, 9), 10**9)


def test_a_calendar_without_working_days_raises_instead_of_looping():
    start = date(2026, 1, 1)
    everything_off = {start + timedelta(days=n): False for n in range(4 * 366)}
    cal = WorkCalendar(overrides=everything_off)
    with pytest.raises(CalendarError):
        cal.add_working_days(at(2026, 1, 1, 9), 1)


def test_overlapping_table_rows_are_merged_not_counted_twice():
    cal = WorkCalendar(periods=[(time(9), time(12)), (time(11), time(13)), (time(14), time(17))])
    assert cal.working_day_seconds() == 7 * 3600


def test_working_seconds_between():
    cal = WorkCalendar()
    assert cal.working_seconds_between(at(2026, 11, 30, 8, 30), at(2026, 11, 30, 17, 30)) == DAY
    assert cal.working_seconds_between(at(2026, 11, 27, 17), at(2026, 11, 30, 9)) == 3600  # over a weekend
    assert cal.working_seconds_between(at(2026, 11, 30, 9), at(2026, 11, 27, 17)) == -3600
    assert cal.working_seconds_between(at(2026, 2, 13, 8), at(2026, 2, 25, 8)) == 3 * DAY  # 13, 14, 24 Feb


starts = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 31, 23, 59, 59), timezones=st.just(SH)
)
amounts = st.integers(min_value=0, max_value=int(60 * DAY) * 10**6).map(lambda us: us / 1e6)  # to the µs
_CAL = WorkCalendar()


@settings(max_examples=400, database=None, deadline=None)
@given(starts, amounts)
def test_working_seconds_between_inverts_add_working_time(start, seconds):
    due = _CAL.add_working_time(start, seconds)
    assert due >= start
    assert _CAL.working_seconds_between(start, due) == pytest.approx(seconds, abs=1e-5)
    if seconds > 0:
        assert _CAL.is_office_time(due - timedelta(microseconds=1))  # only office time counts
        assert _CAL.working_seconds_between(start, due - timedelta(seconds=1)) < seconds


@settings(max_examples=300, database=None, deadline=None)
@given(starts, starts)
def test_add_working_time_inverts_working_seconds_between(a, b):
    a, b = min(a, b), max(a, b)
    elapsed = _CAL.working_seconds_between(a, b)
    assert elapsed >= 0
    back = _CAL.add_working_time(a, elapsed)
    if elapsed > 0:  # (0 from outside office hours gives the next opening, which may be after b)
        assert back <= b + timedelta(microseconds=1)
    assert _CAL.working_seconds_between(back, b) == pytest.approx(0, abs=1e-5)


# -- cache ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_cache_sees_changes(wuzhou, monkeypatch, django_assert_num_queries):
    admin = make_user("t_cal_cache", "sysadmin")
    day = date(2026, 12, 8)
    cal = get_calendar()
    assert cal.is_workday(day)
    with django_assert_num_queries(0):  # cached: no query per deadline
        for _ in range(100):
            get_calendar().add_working_days(at(2026, 12, 1, 9), 3)
    # A change made through the service is seen at once in this process.
    calendar_override_set(day=day, is_workday=False, name="停电", actor=admin)
    assert not get_calendar().is_workday(day)
    # A change made by another process (no signal here) is seen once the check interval has passed.
    other = date(2026, 12, 9)
    CalendarOverride.objects.bulk_create([CalendarOverride(day=other, is_workday=False, name="x")])
    assert get_calendar().is_workday(other)  # still trusted within CHECK_SECONDS
    monkeypatch.setattr(workcalendar, "_checked_at", 0.0)
    assert not get_calendar().is_workday(other)
    # Office hours changed through the service are seen at once too.
    office_periods_set(periods=[(time(9), time(12)), (time(13), time(18))], actor=admin)
    assert get_calendar().working_day_seconds() == 8 * 3600


# -- services: validation -------------------------------------------------------------------------


@pytest.mark.django_db
def test_office_periods_set_validates_with_field_names(wuzhou):
    admin = make_user("t_cal_periods", "sysadmin")
    with pytest.raises(ValidationError) as exc:
        office_periods_set(periods=[(time(8, 30), time(12)), (time(11), time(14))], actor=admin)
    assert "periods" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        office_periods_set(periods=[(time(12), time(8))], actor=admin)
    assert "end" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        office_periods_set(periods=[], actor=admin)
    assert "periods" in exc.value.message_dict
    assert OfficePeriod.objects.count() == 2  # unchanged
    rows = office_periods_set(periods=[(time(14), time(17, 30)), (time(8), time(12))], actor=admin)
    assert [(r.start, r.end) for r in rows] == [(time(8), time(12)), (time(14), time(17, 30))]
    assert OfficePeriod.objects.count() == 2
    office_periods_set(periods=[(time(9), time(17))], actor=admin)
    assert list(OfficePeriod.objects.values_list("start", "end")) == [(time(9), time(17))]


@pytest.mark.django_db
def test_calendar_override_set_validates(wuzhou):
    admin = make_user("t_cal_bad", "sysadmin")
    with pytest.raises(ValidationError) as exc:
        calendar_override_set(day=date(2026, 12, 7), is_workday=False, name="  ", actor=admin)
    assert "name" in exc.value.message_dict


# -- page ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_page_requires_the_permission(wuzhou, client):
    assert client.get("/system/calendar/").status_code == 302  # anonymous: to sign in
    client.force_login(make_user("t_cal_worker", "grid_worker"))
    assert client.get("/system/calendar/").status_code in (403, 302)
    data = {"op": "override", "day": "2026-12-07", "is_workday": "0", "name": "x"}
    res = client.post("/system/calendar/", data)
    assert res.status_code in (403, 302)
    assert not CalendarOverride.objects.exists()


@pytest.mark.django_db
def test_admin_sees_the_month_and_adds_an_override(wuzhou, client):
    client.force_login(make_user("t_cal_page", "sysadmin"))
    res = client.get("/system/calendar/?year=2026&month=10")
    assert res.status_code == 200
    body = res.content.decode()
    assert 'data-day="2026-10-01"' in body and 'data-day="2026-10-10"' in body
    assert 'href="/system/calendar/"' in body  # in the system module's navigation
    res = client.post(
        "/system/calendar/",
        {"op": "override", "day": "2026-12-07", "is_workday": "0", "name": "台风停工", "note": "市政府通知"},
    )
    assert res.status_code == 302 and "year=2026&month=12" in res["Location"]
    override = CalendarOverride.objects.get(day=date(2026, 12, 7))
    assert not override.is_workday and override.updated_by.username == "t_cal_page"
    body = client.get(res["Location"]).content.decode()
    assert "台风停工" in body
    assert 'data-day="2026-12-07" class="off source-override"' in body
    # Bad input names the field and changes nothing.
    bad = {"op": "override", "day": "2026-13-40", "is_workday": "1", "name": ""}
    res = client.post("/system/calendar/", bad)
    assert res.status_code == 200
    form = res.context["override_form"]
    assert "day" in form.errors and "name" in form.errors
    # Removing the override.
    remove = {"op": "delete", "override": override.pk, "year": 2026, "month": 12}
    res = client.post("/system/calendar/", remove)
    assert res.status_code == 302 and not CalendarOverride.objects.exists()


@pytest.mark.django_db
def test_admin_edits_office_hours_on_the_page(wuzhou, client):
    client.force_login(make_user("t_cal_hours", "sysadmin"))

    def post(rows):
        data = {"op": "periods", "periods-TOTAL_FORMS": len(rows), "periods-INITIAL_FORMS": 0}
        for i, (start, end) in enumerate(rows):
            data[f"periods-{i}-start"], data[f"periods-{i}-end"] = start, end
        return client.post("/system/calendar/", data)

    res = post([("08:30", "12:00"), ("11:00", "13:00")])
    assert res.status_code == 200 and res.context["period_formset"].non_form_errors()
    res = post([("12:00", "08:00"), ("", "")])
    assert res.status_code == 200 and "end" in res.context["period_formset"].forms[0].errors
    res = post([("", ""), ("", "")])
    assert res.status_code == 200 and res.context["period_formset"].non_form_errors()
    assert OfficePeriod.objects.count() == 2
    res = post([("09:00", "12:00"), ("13:30", "17:00"), ("", "")])
    assert res.status_code == 302
    saved = list(OfficePeriod.objects.values_list("start", "end"))
    assert saved == [(time(9), time(12)), (time(13, 30), time(17))]
    assert get_calendar().working_day_seconds() == 6.5 * 3600


# -- API -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_year(wuzhou):
    client = api_client(make_user("t_cal_api", "grid_worker"))
    res = client.get("/api/v1/calendar/", {"year": 2026})
    assert res.status_code == 200, res.content
    body = res.json()
    assert body["working_day_seconds"] == DAY
    assert body["office_periods"] == [{"start": "08:30", "end": "12:00"}, {"start": "14:30", "end": "17:30"}]
    exceptions = {e["date"]: e for e in body["exceptions"]}
    assert exceptions["2026-02-14"]["is_workday"] and exceptions["2026-02-14"]["source"] == "adjusted_workday"
    assert not exceptions["2026-10-01"]["is_workday"] and exceptions["2026-10-01"]["source"] == "holiday"
    assert "2026-03-07" not in exceptions  # an ordinary Saturday is no exception
    assert body["working_days"] == 365 - 104 - 19 + 6  # 104 weekend days, 19 weekdays off, 6 调休
    assert body["overrides"] == []
    bad = client.get("/api/v1/calendar/", {"year": "abc"})
    assert bad.status_code == 400 and "year" in bad.json()
    assert api_client(None).get("/api/v1/calendar/").status_code in (401, 403)


@pytest.mark.django_db
def test_api_deadline(wuzhou):
    client = api_client(make_user("t_cal_dl", "dispatcher"))
    res = client.get("/api/v1/calendar/deadline/", {"start": "2026-04-30T15:00:00+08:00", "days": 1})
    assert res.status_code == 200, res.content
    assert datetime.fromisoformat(res.json()["due"]) == at(2026, 5, 6, 15)
    # A start without offset is taken in Asia/Shanghai.
    res = client.get("/api/v1/calendar/deadline/", {"start": "2026-11-29T10:00:00", "hours": 1})
    assert datetime.fromisoformat(res.json()["due"]) == at(2026, 11, 30, 9, 30)
    bad = client.get("/api/v1/calendar/deadline/", {"start": "2026-02-30T09:00", "days": 1})
    assert bad.status_code == 400 and "start" in bad.json()
    bad = client.get("/api/v1/calendar/deadline/", {"start": "2026-02-03T09:00"})
    assert bad.status_code == 400 and "days" in bad.json()
    bad = client.get("/api/v1/calendar/deadline/", {"hours": -1})
    assert bad.status_code == 400 and "hours" in bad.json()


# -- browser -------------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_admin_adds_an_override_in_the_browser(page, live_server, wuzhou):
    from civicgrid.accounts.services import agreement_publish

    agreement_publish(actor=None, version="t1", title="数据保密责任书", body="测试正文")
    admin = make_user("t_cal_browser", "sysadmin")
    page.goto(f"{live_server.url}/")
    page.fill("#id_username", admin.username)
    page.fill("#id_password", PASSWORD)
    page.click("button.primary")
    page.wait_for_url("**/accounts/agreement/**")
    page.check("input[name=accept]")
    page.click("button.primary")
    page.goto(f"{live_server.url}/system/calendar/?year=2026&month=12")
    cell = page.locator('td[data-day="2026-12-07"]')
    assert cell.get_attribute("data-workday") == "1"
    cell.locator("a").click()  # prefills the form with this day
    page.wait_for_url("**day=2026-12-07**")
    assert page.input_value("#id_day") == "2026-12-07"
    assert page.input_value("#id_is_workday") == "0"
    page.fill("#id_name", "台风停工")
    page.click("#override-form button.primary")
    page.wait_for_selector('td[data-day="2026-12-07"][data-workday="0"]')
    cell = page.locator('td[data-day="2026-12-07"]')
    assert "台风停工" in cell.text_content()
    assert page.locator('#overrides tr[data-day="2026-12-07"]').count() == 1
