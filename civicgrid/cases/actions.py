"""Which steps a user may take on a case now: the same permission, scope, level and state rules as
the services (``services._lock``), read in bulk so a list shows each row's buttons with one query per
kind of step, not per row. Pages show only these; the services still decide (and refuse the rest)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import EmptyResultSet
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .choices import Level, Status
from .models import Case
from .models.cases import UNIT_ACTIONS, unit_ids
from .services import ACTIVE, PRE_DISPATCH, WORKING, covers_at_level

ANY_STATUS = tuple(Status.values)


@dataclass(frozen=True)
class Action:
    name: str
    label: object
    scope_action: str  # the ``visible_to`` action (and permission) the service locks the case with
    statuses: tuple[str, ...]
    level_check: bool = False  # the service also checks the post covers the case's handling level


#: Every step the case page offers, in the order the page shows them.
ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action("record", pgettext_lazy("case", "Record"), "record", (Status.REPORTED,), level_check=True),
        Action("dispatch", _("Dispatch"), "dispatch", PRE_DISPATCH, level_check=True),
        Action("reject", _("Reject"), "record", (Status.REPORTED,), level_check=True),
        Action("merge", _("Merge into another case"), "record", PRE_DISPATCH),
        Action("start", _("Start handling"), "handle", (Status.DISPATCHED,)),
        Action("handle", _("Report the result"), "handle", WORKING),
        Action("return", _("Return as wrongly dispatched"), "handle", WORKING),
        Action("verify", _("Verify on site"), "verify", (Status.HANDLED,)),
        Action("close", _("Close"), "close", (Status.VERIFIED,)),
        Action("rate", _("Record the follow-up rating"), "record", (Status.CLOSED,)),
        Action("reopen", _("Reopen"), "record", (Status.CLOSED,)),
        Action("supervise", _("Supervise"), "supervise", ACTIVE),
        Action("escalate", _("Escalate"), "escalate", ACTIVE),
        Action("coordinate", _("Coordinate across units"), "coordinate", ACTIVE, level_check=True),
        Action("defer", _("Defer as a risk point"), "defer", ACTIVE, level_check=True),
        Action("review", _("Review the risk point"), "defer", (Status.DEFERRED,)),
        Action("comment", _("Add a note"), "view", ANY_STATUS),
    )
}


def _may_hold(user, scope_action: str) -> bool:
    """Cheap pre-check (no query): could ``visible_to(user, scope_action)`` be non-empty at all?"""
    if user.is_superuser or user.has_perm(f"cases.{scope_action}_case"):
        return True
    return scope_action in UNIT_ACTIONS and bool(unit_ids(user))


def _state_allows(action: Action, case: Case) -> bool:
    if case.status not in action.statuses:
        return False
    # The service refuses to escalate a city-level case: there is no level above it.
    return not (action.name == "escalate" and case.level == Level.CITY)


def available_actions_bulk(cases: Iterable[Case], user) -> dict[int, list[str]]:
    """For each case (by pk) the names of the steps ``user`` may take on it now, in page order."""
    cases = [c for c in cases if c.pk is not None]
    out: dict[int, list[str]] = {c.pk: [] for c in cases}
    if not cases or user is None or not user.is_authenticated:
        return out
    ids = [c.pk for c in cases]
    visible: dict[str, set[int]] = {}  # by scope action
    by_sql: dict[str, set[int]] = {}  # most posts grant several actions over the same areas: one query
    for action in ACTIONS.values():
        candidates = [c for c in cases if _state_allows(action, c)]
        if not candidates or not _may_hold(user, action.scope_action):
            continue
        if action.scope_action not in visible:
            qs = Case.objects.visible_to(user, action.scope_action).filter(pk__in=ids)
            qs = qs.values_list("pk", flat=True)
            try:
                sql, params = qs.query.sql_with_params()
            except EmptyResultSet:  # visible_to(...) is none()
                visible[action.scope_action] = set()
                continue
            key = f"{sql}|{params!r}"
            if key not in by_sql:
                by_sql[key] = set(qs)
            visible[action.scope_action] = by_sql[key]
        perm = f"cases.{action.scope_action}_case"
        for case in candidates:
            if case.pk not in visible[action.scope_action]:
                continue
            if (
                action.level_check
                and not user.is_superuser
                and not covers_at_level(user, perm, case.area_code, case.level)
            ):
                continue
            out[case.pk].append(action.name)
    return out


def available_actions(case: Case, user) -> list[str]:
    """The names of the steps ``user`` may take on ``case`` now, in page order."""
    return available_actions_bulk([case], user)[case.pk]
