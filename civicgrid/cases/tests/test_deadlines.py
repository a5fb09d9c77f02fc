"""Deadline policies, working-time clocks, lights and the sweep."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from civicgrid.cases import deadlines, services
from civicgrid.cases.choices import EventKind, Level, Light, OverdueAction, Stage, Status
from civicgrid.cases.models import Case, CaseEvent, Category, DeadlinePolicy
from civicgrid.core.audit import _json_safe
from civicgrid.core.models.audit import ChangeLog
from civicgrid.core.testing import count_queries
from civicgrid.core.workcalendar import get_calendar

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def fresh_policies():
    deadlines.clear_policy_cache()
    yield
    deadlines.clear_policy_cache()


def resolve(code="0102", kind="event", **kw):
    category = Category.objects.get(kind=kind, code=code)
    args = {"stage": Stage.HANDLE, "channel": "grid_worker", "level": Level.COMMUNITY, "urgency": "normal"}
    args.update(kw)
    return deadlines.resolve_policy(category=category, **args)


def test_policy_resolution_follows_priority_then_specificity(wuzhou):
    assert resolve().name.startswith("半天响应")  # community level
    assert "街道1个工作日" in resolve(level=Level.STREET).name
    assert "城区3个工作日" in resolve(level=Level.DISTRICT).name
    assert "市级7个工作日" in resolve(level=Level.CITY).name
    assert "5个工作日" in resolve(channel="resident").name  # WeChat reports: solved within 5 days
    assert resolve(stage=Stage.RECORD).amount == Decimal("0.5")  # 半天响应
    assert resolve(stage=Stage.RECORD, channel="resident").amount == Decimal("1")
    # A category's own limit beats the channel's general rule; critical urgency beats the level's.
    assert resolve("0401", channel="resident").category.code == "0401"
    assert resolve(urgency="critical").urgency == "critical"
    # Rules are data: a new, more specific policy takes over at once.
    category = Category.objects.get(kind="event", code="0102")
    DeadlinePolicy.objects.create(
        name="垃圾：4小时", stage=Stage.HANDLE, category=category.parent, amount=4, unit="hours", priority=10
    )
    deadlines.clear_policy_cache()
    assert resolve().name == "垃圾：4小时"


def test_clock_counts_working_time_only(wuzhou):
    policy = DeadlinePolicy(amount=Decimal("1"), unit="days", warn_ratio=0.8)
    cal = get_calendar()
    # Wednesday 2026-09-30 is the eve of the National Day holiday: one working day ends after it.
    start = datetime(2026, 9, 30, 16, 0, tzinfo=SHANGHAI)
    clock = deadlines.clock_for(policy, start)
    assert clock.due_at == cal.add_working_time(start, cal.working_day_seconds())
    assert clock.due_at.astimezone(SHANGHAI).date() > datetime(2026, 10, 7).date()
    assert cal.working_seconds_between(start, clock.warn_at) == pytest.approx(
        0.8 * cal.working_day_seconds(), abs=1
    )
    half = deadlines.clock_for(DeadlinePolicy(amount=Decimal("0.5"), unit="days", warn_ratio=0.8), start)
    assert cal.working_seconds_between(start, half.due_at) == pytest.approx(
        cal.working_day_seconds() / 2, abs=1
    )
    hours = deadlines.clock_for(DeadlinePolicy(amount=Decimal("2"), unit="hours", warn_ratio=0.5), start)
    assert cal.working_seconds_between(start, hours.due_at) == pytest.approx(7200, abs=1)


def test_light_turns_yellow_then_red(people, report):
    case = report()
    assert case.light_at(case.reported_at) == Light.GREEN
    assert case.light_at(case.warn_at) == Light.YELLOW
    assert case.light_at(case.due_at) == Light.RED
    qs = Case.objects.filter(pk=case.pk)
    assert qs.with_light(case.warn_at).get().light == Light.YELLOW
    assert qs.in_light(Light.RED, case.due_at + timedelta(seconds=1)).exists()
    assert not qs.in_light(Light.RED, case.warn_at).exists()


def test_counts_by_light_read_the_status_index_alone(people, report):
    """The open cases' counts by light (the command center's list) come from the status index,
    which holds the clock's times: no case row is read."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from civicgrid.cases.selectors import case_counts_by_light

    case = report()
    qs = Case.objects.visible_to(people["street_dispatcher"])
    with CaptureQueriesContext(connection) as captured:
        assert case_counts_by_light(qs, case.warn_at) == {Light.YELLOW: 1}
    sql = captured.captured_queries[-1]["sql"]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
            plan = " ".join(str(row) for row in cursor.fetchall())
            assert "COVERING INDEX cases_case_status" in plan, plan
        else:  # with a handful of rows PostgreSQL's choice of index is arbitrary: the index's
            # columns here, its use at scale in the benchmark (bench/README.md)
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'cases_case_status'")
            assert cursor.fetchone()[0].endswith("(status, area_code, id, warn_at, due_at)")


def test_sweep_warns_supervises_and_escalates_once(people, units, report, django_capture_on_commit_callbacks):
    from civicgrid.notify.models import Notification

    p = people
    waiting = report()  # record stage: supervised when overdue
    dispatched = report(channel="grid_worker", actor=p["grid_worker"])
    services.case_dispatch(case=dispatched, actor=p["community"], department=units["D450403-01"])
    dispatched.refresh_from_db()
    assert dispatched.overdue_action == OverdueAction.ESCALATE  # 半天响应 at community level, then 137
    not_due = report()
    far = max(waiting.due_at, dispatched.due_at) + timedelta(minutes=1)
    Case.objects.filter(pk=not_due.pk).update(
        warn_at=far + timedelta(days=30), due_at=far + timedelta(days=40)
    )

    with django_capture_on_commit_callbacks(execute=True):
        result = deadlines.sweep(far)
    assert result.warned == 2 and result.overdue == 2
    assert result.supervised == 1 and result.escalated == 1
    waiting.refresh_from_db()
    dispatched.refresh_from_db()
    assert waiting.supervision_count == 1 and waiting.overdue_at == far and waiting.warned_at == far
    assert dispatched.level == Level.STREET and dispatched.status == Status.RECORDED
    assert dispatched.deadline_stage == Stage.HANDLE and dispatched.due_at > far  # the street's 1-day clock
    assert dispatched.department is None
    assert set(CaseEvent.objects.filter(case=dispatched).values_list("kind", flat=True)) >= {
        EventKind.WARNED,
        EventKind.ESCALATED,
    }
    # Past both times at once: one notice, that it is overdue (not a warning too); the warning is
    # still recorded on the case and in its timeline.
    assert Notification.objects.filter(recipient=p["handler"], kind="case_overdue").exists()
    assert not Notification.objects.filter(recipient=p["handler"], kind="case_warning").exists()
    assert CaseEvent.objects.filter(case=waiting, kind=EventKind.WARNED).count() == 1
    # The change log names each case as everywhere else and holds the times as log_change does.
    case_log = ChangeLog.objects.filter(content_type=ContentType.objects.get_for_model(Case))
    logged = case_log.filter(object_id=str(waiting.pk), after__supervision_count=1).get()
    assert logged.object_repr == str(waiting) and logged.action == "update"
    assert logged.after["overdue_at"] == _json_safe(far)  # as log_change writes a time
    assert logged.before["supervision_count"] == 0 and logged.after["supervision_count"] == 1
    up = case_log.filter(object_id=str(dispatched.pk), after__level=Level.STREET).get()
    assert up.object_repr == str(dispatched) and up.before["level"] == Level.COMMUNITY
    # The same instant, to the millisecond (as the change log writes times).
    assert datetime.fromisoformat(up.after["due_at"]) == datetime.fromisoformat(_json_safe(dispatched.due_at))
    # Running it again changes nothing more.
    events = CaseEvent.objects.count()
    again = deadlines.sweep(far)
    assert again.as_dict() == {"warned": 0, "supervised": 0, "escalated": 0, "overdue": 0}
    assert CaseEvent.objects.count() == events
    not_due.refresh_from_db()
    assert not_due.warned_at is None and not_due.overdue_at is None


def test_warning_then_overdue_in_two_sweeps(people, units, report, django_capture_on_commit_callbacks):
    """In the ordinary course the warning comes first (its own notice), the deadline later: the
    overdue step keeps the warning's time and writes no second "warned" event."""
    case = report()
    case.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        first = deadlines.sweep(case.warn_at + timedelta(seconds=1))
    assert (first.warned, first.overdue) == (1, 0)
    case.refresh_from_db()
    warned_at = case.warned_at
    assert warned_at is not None and case.overdue_at is None
    with django_capture_on_commit_callbacks(execute=True):
        second = deadlines.sweep(case.due_at + timedelta(seconds=1))
    assert (second.warned, second.overdue) == (0, 1)
    case.refresh_from_db()
    assert case.warned_at == warned_at and case.overdue_at is not None
    assert CaseEvent.objects.filter(case=case, kind=EventKind.WARNED).count() == 1


def test_sweep_escalates_a_batch_like_one_escalation(
    people, units, report, django_capture_on_commit_callbacks, monkeypatch
):
    """Overdue cases whose policy escalates go up in bulk and leave what a manual escalation leaves:
    the old clock ended late, the new level's clock, the events in order, the change log, the
    reporter told, assisting units dropped; the statements do not grow with the number of cases.
    The rows go in as they do for a large batch (on PostgreSQL: arrays, the batch pipelined)."""
    from civicgrid.cases.models import CaseDeadline
    from civicgrid.core import bulk
    from civicgrid.core.models.audit import ChangeLog
    from civicgrid.notify.models import Notification

    monkeypatch.setattr(bulk, "COPY_FROM", 2)
    p = people

    def dispatched_cases(n):
        out = []
        for _ in range(n):
            case = report(channel="grid_worker", actor=p["grid_worker"])
            services.case_dispatch(
                case=case,
                actor=p["community"],
                department=units["D450403-01"],
                assisting=[units["D450405-01"]],
            )
            out.append(case)
        return out

    def sweep_counted(cases):
        far = max(c.due_at for c in Case.objects.filter(pk__in=[c.pk for c in cases])) + timedelta(minutes=1)
        with django_capture_on_commit_callbacks(execute=True):
            queries = count_queries(lambda: deadlines.sweep(far))
        return far, queries

    deadlines.sweep()  # the sweep's mark exists, as after its first run
    first = dispatched_cases(2)
    _far, few = sweep_counted(first)
    cases = dispatched_cases(5)
    far, many = sweep_counted(cases)
    assert many == few
    for case in cases:
        case.refresh_from_db()
        assert case.level == Level.STREET and case.status == Status.RECORDED and case.department is None
        assert case.escalation_count == 1 and case.assisting_departments.count() == 0
        clocks = list(CaseDeadline.objects.filter(case=case, stage=Stage.HANDLE).order_by("id"))
        assert [c.outcome for c in clocks] == ["late", "open"] and clocks[0].ended_at == far
        assert clocks[1].level == Level.STREET and clocks[1].due_at == case.due_at > far
        kinds = list(case.events.order_by("id").values_list("kind", flat=True))
        assert kinds[-2:] == [EventKind.WARNED, EventKind.ESCALATED]
        event = CaseEvent.objects.get(case=case, kind=EventKind.ESCALATED)
        assert (
            event.data == {"from": Level.COMMUNITY, "to": Level.STREET} and event.to_status == Status.RECORDED
        )
        change = ChangeLog.objects.get(
            content_type__model="case", object_id=str(case.pk), after__level=Level.STREET
        )
        assert change.before["level"] == Level.COMMUNITY and change.after["version"] == case.version
    assert Notification.objects.filter(recipient=p["grid_worker"], kind="case_status").count() >= 5


def test_sweep_cost_does_not_grow_with_cases_not_due(people, report):
    for _ in range(3):
        report()
    now = timezone.now()
    Case.objects.update(warn_at=now + timedelta(days=1), due_at=now + timedelta(days=2))
    deadlines.sweep(now)  # the sweep's mark exists, as after its first run
    few = count_queries(lambda: deadlines.sweep(now))
    for _ in range(10):
        report()
    Case.objects.update(warn_at=now + timedelta(days=1), due_at=now + timedelta(days=2))
    # The mark read and moved, and the two ranges of due clocks.
    assert count_queries(lambda: deadlines.sweep(now)) == few == 4


def test_sweep_reads_from_its_mark_and_catches_up_after_an_outage(people, report):
    """A sweep records how far it looked; the next one reads the clocks due since then (less the
    overlap), so one due while the sweep was down is still acted on, and the mark never moves back
    nor past the present."""
    from civicgrid.cases.models import SweepMark

    case = report()
    case.refresh_from_db()
    now = timezone.now()
    deadlines.sweep(now)
    mark = SweepMark.objects.get()
    assert mark.swept_to == now
    # Three hours of outage: the case fell due in them, after the mark.
    later = now + timedelta(hours=3)
    Case.objects.filter(pk=case.pk).update(warn_at=now + timedelta(hours=1), due_at=now + timedelta(hours=2))
    assert deadlines.sweep(later).overdue == 1
    # A sweep "at" a later time (as tests and the benchmarks run it) marks the present, not that time.
    assert now <= SweepMark.objects.get().swept_to <= timezone.now()
    # An earlier time does not move it back.
    before = SweepMark.objects.get().swept_to
    deadlines.sweep(now - timedelta(days=1))
    assert SweepMark.objects.get().swept_to == before


def test_a_clock_written_just_before_the_mark_is_not_missed(people, report):
    """A clock due a little before the previous sweep's mark (its transaction committed after that
    sweep read) is within the overlap and is acted on; one due long before the mark is not read
    again (the sweep's cost does not grow with the overdue cases still open)."""
    from civicgrid.cases.models import SweepMark

    late, old = report(), report()
    now = timezone.now()
    SweepMark.objects.create(pk=1, swept_to=now, ran_at=now)
    just_before = now - deadlines.SWEEP_OVERLAP / 2
    Case.objects.filter(pk=late.pk).update(warn_at=just_before, due_at=just_before)
    long_before = now - deadlines.SWEEP_OVERLAP * 2
    Case.objects.filter(pk=old.pk).update(warn_at=long_before, due_at=long_before)
    result = deadlines.sweep(now + timedelta(minutes=1))
    assert (result.overdue, result.warned) == (1, 1)
    late.refresh_from_db()
    old.refresh_from_db()
    assert late.overdue_at is not None and old.overdue_at is None


def test_warning_and_supervision_write_no_index_entry_on_postgresql(people, report):
    """The sweep's marks change no indexed column: PostgreSQL updates the case row in place (HOT)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("heap-only updates are PostgreSQL's")

    def updates():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = 'cases_case'"
            )
            return cursor.fetchone() or (0, 0)

    case = report()  # record stage: supervised when overdue
    case.refresh_from_db()
    upd, hot = updates()
    deadlines.sweep(case.warn_at + timedelta(seconds=1))  # the warning
    deadlines.sweep(case.due_at + timedelta(seconds=1))  # the supervision
    case.refresh_from_db()
    assert case.warned_at is not None and case.supervision_count == 1
    after_upd, after_hot = updates()
    assert after_upd - upd == 2 and after_hot - hot == 2


def test_closed_case_has_no_clock_and_the_history_keeps_outcomes(people, units, report):
    from civicgrid.cases.models import CaseDeadline

    case = report()
    services.case_record(case=case, actor=people["community"])
    late = CaseDeadline.objects.get(case=case, stage=Stage.DISPATCH)
    Case.objects.filter(pk=case.pk).update(due_at=timezone.now() - timedelta(minutes=1))
    CaseDeadline.objects.filter(pk=late.pk).update(due_at=timezone.now() - timedelta(minutes=1))
    services.case_dispatch(case=case, actor=people["community"], department=units["D450403-01"])
    late.refresh_from_db()
    assert late.outcome == "late" and late.ended_at is not None
    services.case_handle(case=case, actor=people["handler"], result="已处理")
    services.case_verify(case=case, actor=people["grid_worker"], passed=True)
    case = services.case_close(case=case, actor=people["community"])
    assert case.due_at is None and case.light == Light.NONE
    assert not CaseDeadline.objects.filter(case=case, outcome="open").exists()


@pytest.mark.parametrize("returning", [True, False], ids=["update-returning", "read-then-update"])
def test_ending_clocks_counts_the_handling_ones_either_way(people, units, report, monkeypatch, returning):
    """``end_clocks`` ends the open clocks with their outcome and counts the handling ones in the
    unit tallies, by ``UPDATE … RETURNING`` or, where the database cannot, a read and an update."""
    from django.db import connection

    from civicgrid.cases.models import CaseDeadline, UnitTally

    monkeypatch.setattr(type(connection.features), "can_return_rows_from_bulk_insert", returning)
    handling = report(channel="grid_worker", actor=people["grid_worker"])
    services.case_dispatch(case=handling, actor=people["community"], department=units["D450403-01"])
    waiting = report()  # its open clock is the recording stage's: not counted
    now = timezone.now()
    late_before = sum(UnitTally.objects.filter(measure="late").values_list("n", flat=True))
    deadlines.end_clocks([handling.pk, waiting.pk], now, "late")
    ended = CaseDeadline.objects.filter(case__in=[handling, waiting], ended_at=now)
    assert sorted(ended.values_list("stage", "outcome")) == [(Stage.HANDLE, "late"), (Stage.RECORD, "late")]
    assert not CaseDeadline.objects.filter(case__in=[handling, waiting], outcome="open").exists()
    assert sum(UnitTally.objects.filter(measure="late").values_list("n", flat=True)) == late_before + 1
    deadlines.end_clocks([], now, "late")  # nothing to end


def _many_overdue(people, units, report, n: int) -> tuple[list[Case], datetime]:
    """``n`` cases overdue at the time returned: every other one dispatched (escalated when overdue),
    the others still to be recorded (supervised)."""
    cases = []
    for i in range(n):
        case = report(channel="grid_worker", actor=people["grid_worker"])
        if i % 2:
            services.case_dispatch(case=case, actor=people["community"], department=units["D450403-01"])
        cases.append(case)
    far = max(Case.objects.filter(pk__in=[c.pk for c in cases]).values_list("due_at", flat=True))
    return cases, far + timedelta(minutes=1)


@pytest.mark.django_db(transaction=True)
def test_sweep_writes_its_batches_on_two_connections_on_postgresql(people, units, report, monkeypatch):
    """On PostgreSQL, outside a transaction, the batches are shared by two threads, each on a
    connection of its own: every case is acted on once, the tallies stay equal to a count, the
    change log keeps the sweep's actor and request id, and the threads' connections are closed."""
    from django.db import connection

    from civicgrid.cases import tallies
    from civicgrid.core.context import acting_as

    if connection.vendor != "postgresql":
        pytest.skip("SQLite takes one writer at a time: there the batches run one after the other")
    monkeypatch.setattr(deadlines, "SWEEP_BATCH", 2)
    cases, far = _many_overdue(people, units, report, 9)
    backends, threads = set(), set()
    overdue = services.deadline_overdue

    def recorded(ids, *, now):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backends.add(cursor.fetchone()[0])
        threads.add(threading.get_ident())
        return overdue(ids, now=now)

    monkeypatch.setattr(services, "deadline_overdue", recorded)
    with acting_as(None, request_id="sweep-in-threads"):
        result = deadlines.sweep(far)
    assert result.as_dict() == {"warned": 9, "supervised": 5, "escalated": 4, "overdue": 9}
    assert len(threads) == 2 and len(backends) == 2  # five batches of two, on two connections
    for case in cases:
        kinds = list(CaseEvent.objects.filter(case=case).values_list("kind", flat=True))
        assert kinds.count(EventKind.WARNED) == 1
        assert kinds.count(EventKind.ESCALATED) + kinds.count(EventKind.SUPERVISED) == 1
    assert tallies.check() == []
    logged = ChangeLog.objects.filter(request_id="sweep-in-threads").values_list("object_id", flat=True)
    assert sorted(logged) == sorted(str(c.pk) for c in cases)  # one row each, in the sweep's context
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", [list(backends)])
        assert cursor.fetchone()[0] == 0
    assert deadlines.sweep(far).as_dict() == {"warned": 0, "supervised": 0, "escalated": 0, "overdue": 0}


@pytest.mark.django_db(transaction=True)
def test_a_failed_batch_stops_the_sweep_and_keeps_its_mark(people, units, report, monkeypatch):
    """A batch that fails is rolled back alone and its error raised; no further batch starts and
    the mark stays, so the next sweep acts on the cases left (on PostgreSQL the batches run on two
    connections, on SQLite one after the other)."""
    from civicgrid.cases.models import SweepMark

    monkeypatch.setattr(deadlines, "SWEEP_BATCH", 2)
    deadlines.sweep()  # the sweep's mark exists, as after its first run
    mark = SweepMark.objects.get(pk=1).swept_to
    cases, far = _many_overdue(people, units, report, 9)
    overdue = services.deadline_overdue
    calls, failed, lock = [], [], threading.Lock()

    def failing(ids, *, now):
        with lock:
            first = not calls
            calls.append(ids)
        done = overdue(ids, now=now)
        if first:  # the first batch started fails, after its writes
            failed.append(ids)
            raise RuntimeError("the database went away")
        return done

    def warned(ids):
        return CaseEvent.objects.filter(case_id__in=ids, kind=EventKind.WARNED).count()

    monkeypatch.setattr(services, "deadline_overdue", failing)
    with pytest.raises(RuntimeError, match="went away"):
        deadlines.sweep(far)
    # Five batches: on SQLite none after the failed one; on PostgreSQL the other thread ends the
    # one or two it started meanwhile, and takes no more.
    assert len(calls) < 5
    assert SweepMark.objects.get(pk=1).swept_to == mark
    assert warned(failed[0]) == 0  # the failed batch left nothing behind
    done = [pk for ids in calls if ids is not failed[0] for pk in ids]
    assert warned(done) == len(done)
    monkeypatch.setattr(services, "deadline_overdue", overdue)
    assert deadlines.sweep(far).overdue == 9 - len(done)
    assert warned([c.pk for c in cases]) == 9
