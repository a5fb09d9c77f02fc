"""Deadlines: which policy applies to a stage, when it falls due in working time, and the periodic
sweep that warns, supervises and escalates.

A case carries the running deadline of its current stage (``warn_at``, ``due_at``) and the flags
the sweep sets (``warned_at``, ``overdue_at``); every stage's clock is also kept as a
``CaseDeadline`` row (the deadline history, and the basis of on-time rates). The sweep reads only
the cases whose warning or due time passed since its previous run (a range of the running clocks'
indexes, from its ``SweepMark``) and whose flag is still unset, so its cost grows with the due
cases, not with all cases, and a second run finds nothing to do. The flags are in no index: on
PostgreSQL, setting them is a heap-only update of the case row."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, connections, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from civicgrid.core import bulk, context
from civicgrid.core.workcalendar import get_calendar

from . import tallies
from .choices import DeadlineOutcome, OverdueAction, TimeUnit
from .models import Case, CaseDeadline, Category, DeadlinePolicy, SweepMark

#: Seconds a process keeps the policy table before reading it again (edits show within this time).
POLICY_TTL = 10.0

_lock = threading.Lock()
_policies: list[DeadlinePolicy] | None = None
_loaded_at = 0.0


def active_policies() -> list[DeadlinePolicy]:
    global _policies, _loaded_at
    with _lock:
        if _policies is None or time.monotonic() - _loaded_at > POLICY_TTL:
            _policies = list(DeadlinePolicy.objects.filter(is_active=True).order_by("-priority", "id"))
            _loaded_at = time.monotonic()
        return _policies


def clear_policy_cache() -> None:
    global _policies
    with _lock:
        _policies = None


def resolve_policy(*, stage: str, category: Category, channel: str, level: str, urgency: str):
    """The active policy for this stage of a case like this (None: no clock): the highest priority,
    then the most specific. Remembered per kind of case for as long as the policies are kept."""
    global _resolved
    policies = active_policies()
    source, memo = _resolved  # read once: another thread may pair a newer list with a new memo
    if source is not policies:  # read again: what was resolved from the old list is dropped
        memo = {}
        _resolved = (policies, memo)
    key = (stage, category.pk, category.parent_id, channel, level, urgency)
    if key not in memo:
        memo[key] = _best_policy(policies, stage, category, channel, level, urgency)
    return memo[key]


#: The policy list ``resolve_policy`` last resolved from, and what it resolved, by kind of case.
_resolved: tuple[list[DeadlinePolicy] | None, dict[tuple, DeadlinePolicy | None]] = (None, {})


def _best_policy(policies, stage, category, channel, level, urgency) -> DeadlinePolicy | None:
    best, best_key = None, None
    for policy in policies:
        if policy.matches(stage=stage, category=category, channel=channel, level=level, urgency=urgency):
            # Priority first (a category's own limit beats a channel's general rule), then the
            # most specific; a policy for the exact category beats one for its parent.
            exact = 1 if policy.category_id == category.pk else 0
            key = (policy.priority, policy.specificity(), exact)
            if best_key is None or key > best_key:
                best, best_key = policy, key
    return best


@dataclass(frozen=True)
class Clock:
    policy: DeadlinePolicy
    started_at: datetime
    warn_at: datetime
    due_at: datetime


def clock_for(policy: DeadlinePolicy, start: datetime) -> Clock:
    """When a stage started at ``start`` under ``policy`` warns and falls due, in working time."""
    cal = get_calendar()
    amount = float(policy.amount)
    allowed = amount * 3600 if policy.unit == TimeUnit.HOURS else amount * cal.working_day_seconds()
    return Clock(
        policy=policy,
        started_at=start,
        warn_at=cal.add_working_time(start, allowed * policy.warn_ratio),
        due_at=cal.add_working_time(start, allowed),
    )


def end_deadline(case: Case, now: datetime, *, cancelled: bool = False) -> list[str]:
    """Stop the running clock (its history row gets its outcome); returns the case fields changed."""
    if not case.deadline_stage:
        return []
    if cancelled:
        outcome = DeadlineOutcome.CANCELLED
    else:
        outcome = DeadlineOutcome.LATE if case.due_at and now > case.due_at else DeadlineOutcome.MET
    end_clocks([case.pk], now, outcome)
    return end_deadline_fields(case)


def end_clocks(case_ids: list[int], now: datetime, outcome: str) -> None:
    """End the open clocks of these cases at ``now`` with ``outcome``, and count the handling clocks
    among them in the on-time tallies."""
    if not case_ids:
        return
    delta = tallies.Delta()
    send_end_clocks(case_ids, now, outcome)(delta)
    delta.apply()


def send_end_clocks(case_ids: list[int], now: datetime, outcome: str) -> Callable[[tallies.Delta], None]:
    """``end_clocks`` in two steps, for a caller inside ``core.bulk.pipelined``: one ``UPDATE …
    RETURNING`` what the tallies need is sent now, and the function returned reads its rows and
    adds the handling clocks among them to a tallies delta. Called once the caller's other
    statements are sent, it lets the server end the clocks meanwhile. (Where the database cannot
    return rows from an UPDATE: a read and an update, both now.)"""
    if not case_ids:
        return lambda delta: None
    clocks = CaseDeadline.objects.filter(case_id__any=case_ids, outcome=DeadlineOutcome.OPEN)
    if not connection.features.can_return_rows_from_bulk_insert:  # SQLite before 3.35
        rows = list(clocks.values_list("stage", "area_code", "department_id"))
        clocks.update(ended_at=now, outcome=outcome)
        return lambda delta: tallies.record_clocks(rows, now, outcome, delta)
    qn = connection.ops.quote_name
    ended_at = CaseDeadline._meta.get_field("ended_at").get_db_prep_save(now, connection)
    field = CaseDeadline._meta.get_field("case")
    among, ids = bulk.any_sql(qn(field.column), case_ids, field)
    cursor = connection.cursor()
    cursor.execute(
        f"UPDATE {qn(CaseDeadline._meta.db_table)} SET ended_at = %s, outcome = %s "  # noqa: S608
        f"WHERE outcome = %s AND {among} RETURNING stage, area_code, department_id",
        [ended_at, outcome, DeadlineOutcome.OPEN, *ids],
    )

    def collect(delta: tallies.Delta) -> None:
        with cursor:
            tallies.record_clocks(cursor.fetchall(), now, outcome, delta)

    return collect


def end_deadline_fields(case: Case) -> list[str]:
    """Clear the case's running clock (its history row is ended by the caller); the fields changed."""
    case.deadline_stage, case.warn_at, case.due_at, case.overdue_action = "", None, None, ""
    case.warned_at = case.overdue_at = None
    return ["deadline_stage", "warn_at", "due_at", "overdue_action", "warned_at", "overdue_at"]


def plan_deadline(case: Case, stage: str, now: datetime) -> CaseDeadline | None:
    """Set the case's clock for ``stage`` from its policy (no query but the cached policies) and
    return the history row to save once the case has an id; None when no policy applies."""
    row = plan_clock(case, stage, now)
    return None if row is None else CaseDeadline(**row)


def plan_clock(case: Case, stage: str, now: datetime, *, memo: dict | None = None) -> dict | None:
    """``plan_deadline``'s work, the history row as field values (for ``core.bulk.insert_values``).
    ``memo`` (a dict kept over a batch of cases) remembers each policy's clock from ``now``: the
    working-time arithmetic is done once per policy (``resolve_policy`` remembers the policies)."""
    memo = {} if memo is None else memo
    policy = resolve_policy(
        stage=stage, category=case.category, channel=case.channel, level=case.level, urgency=case.urgency
    )
    if policy is None:
        return None
    if (policy.pk, now) not in memo:
        memo[(policy.pk, now)] = clock_for(policy, now)
    clock = memo[(policy.pk, now)]
    case.deadline_stage, case.warn_at, case.due_at = stage, clock.warn_at, clock.due_at
    case.overdue_action = policy.on_overdue
    case.warned_at = case.overdue_at = None
    return {
        "case_id": case.pk,
        "stage": stage,
        "level": case.level,
        "department_id": case.department_id,
        "policy_id": policy.pk,
        "area_code": case.area_code,
        "started_at": now,
        "warn_at": clock.warn_at,
        "due_at": clock.due_at,
    }


def start_deadline(case: Case, stage: str, now: datetime) -> list[str]:
    """End the running clock and start ``stage``'s, as its policy says; returns the fields changed."""
    fields = end_deadline(case, now)
    row = plan_deadline(case, stage, now)
    if row is None:
        return fields
    row.save()
    return ["deadline_stage", "warn_at", "due_at", "overdue_action", "warned_at", "overdue_at"]


@dataclass
class SweepResult:
    warned: int = 0
    supervised: int = 0
    escalated: int = 0
    overdue: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


#: Cases handled per transaction by the sweep (a lock is never held for long).
SWEEP_BATCH = 1000
#: Connections the sweep writes its batches on at once, on PostgreSQL (``_in_batches``).
SWEEP_CONNECTIONS = 2
#: A sweep reads the clocks due after the previous sweep's time less this: a clock written by a
#: transaction still open while that sweep ran is not missed (a stage's warning is hours after its
#: start, never before the transaction that starts it commits).
SWEEP_OVERLAP = timedelta(hours=1)


def _in_batches(step: Callable, ids: list[int], now: datetime, checkpoint: Callable[[], None]) -> list:
    """``step(batch, now=now)`` for each ``SWEEP_BATCH`` of ``ids``, each batch a transaction of its
    own with its writes pipelined; the results, in no particular order. On PostgreSQL, outside a
    transaction, the batches are shared among ``SWEEP_CONNECTIONS`` threads, each on a connection
    of its own: while one thread's batch waits for the database, another's is prepared, and the
    server writes two batches at once. The batches touch different cases; the tallies they share
    are upserted in one order (``tallies.Delta``), so one batch at most waits for the other's
    commit there. If a batch fails, no thread starts another, and the error is raised once the
    batches under way have ended (those committed stay: the next sweep carries on from them).
    SQLite takes one writer at a time, and a transaction already open can't be shared: there the
    batches run one after the other, ``checkpoint`` called after each commit."""

    def one(batch: list[int]):
        with transaction.atomic(), bulk.pipelined():
            return step(batch, now=now)

    batches = [ids[start : start + SWEEP_BATCH] for start in range(0, len(ids), SWEEP_BATCH)]
    threads = min(SWEEP_CONNECTIONS, len(batches))
    if threads < 2 or connection.vendor != "postgresql" or connection.in_atomic_block:
        results = []
        for batch in batches:
            results.append(one(batch))
            checkpoint()
        return results
    todo = queue.SimpleQueue()
    for batch in batches:
        todo.put(batch)
    failed = threading.Event()

    # The threads act for the caller: the change log's actor and request id. Only that is carried
    # over, not the whole context (whose copy may hold this thread's database connections).
    caller = context.current()

    def work() -> list:
        done = []
        try:
            with context.running(caller):
                while not failed.is_set():
                    try:
                        batch = todo.get_nowait()
                    except queue.Empty:
                        break
                    done.append(one(batch))
        except BaseException:
            failed.set()
            raise
        finally:
            connections.close_all()  # this thread's own
        return done

    with ThreadPoolExecutor(threads, thread_name_prefix="sweep") as pool:
        futures = [pool.submit(work) for _ in range(threads)]
    return [done for future in futures for done in future.result()]


def _swept_since() -> datetime | None:
    """From when this sweep reads due clocks: the previous sweep's mark less the overlap (None: no
    sweep yet, so every running clock is read once)."""
    mark = SweepMark.objects.filter(pk=1).values_list("swept_to", flat=True).first()
    return None if mark is None else mark - SWEEP_OVERLAP


def _mark_swept(now: datetime) -> None:
    """Record that clocks due up to ``now`` are dealt with. The mark never moves back, nor past the
    present (a sweep run "at" a later time, as tests do, must not hide clocks set before it)."""
    ran_at = timezone.now()
    swept_to = min(now, ran_at)
    moved = SweepMark.objects.filter(pk=1).update(
        swept_to=Greatest(F("swept_to"), Value(swept_to)), ran_at=ran_at
    )
    if not moved:
        SweepMark.objects.get_or_create(pk=1, defaults={"swept_to": swept_to, "ran_at": ran_at})


def _due_ids(time_field: str, flag: str, since: datetime | None, now: datetime, **also) -> list[int]:
    """The cases whose ``time_field`` passed in (since, now] and whose ``flag`` is not set yet, in
    time order: a range of that time's index; the flags are checked on the rows found."""
    qs = Case.objects.filter(**{f"{time_field}__lte": now, f"{flag}__isnull": True}, **also)
    if since is not None:
        qs = qs.filter(**{f"{time_field}__gt": since})
    return list(qs.order_by(time_field).values_list("pk", flat=True))


def sweep(now: datetime | None = None) -> SweepResult:
    """Warn the cases past their warning time and act on the overdue ones (supervise, escalate or
    only record), once each: the flags set here make a second run a no-op. Only clocks due since
    the previous sweep are read (``SweepMark``), so the cost grows with what fell due, not with the
    overdue cases still open; after an outage the next sweep catches up on all of it."""
    from . import services

    now = now or timezone.now()
    since = _swept_since()
    result = SweepResult()
    # Overdue first: a case past both times is warned and acted on in one step (one UPDATE, one
    # notice to its unit), as after an outage of the task queue.
    overdue = _due_ids("due_at", "overdue_at", since, now)
    # Each batch's writes are sent without waiting for each (``bulk.pipelined``): the database
    # writes while Python prepares the next rows. On PostgreSQL the batches are also written on
    # ``SWEEP_CONNECTIONS`` connections at once (``_in_batches``). On SQLite each commit's log is
    # copied into the database by a thread of its own while the next batch is prepared
    # (``bulk.checkpoints_aside``).
    with bulk.checkpoints_aside() as checkpoint:
        for done in _in_batches(services.deadline_overdue, overdue, now, checkpoint):
            result.warned += done["warned"]
            result.overdue += sum(done[action] for action in OverdueAction.values)
            result.supervised += done[OverdueAction.SUPERVISE]
            result.escalated += done[OverdueAction.ESCALATE]
        # Only cases not due yet: the overdue pass warned those that are.
        warn = _due_ids("warn_at", "warned_at", since, now, due_at__gt=now)
        for warned in _in_batches(services.deadline_warn, warn, now, checkpoint):
            result.warned += warned
    _mark_swept(now)
    return result
