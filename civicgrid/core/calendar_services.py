"""Writes to the work calendar: overrides of single days, and the office hours.

Keyword-only, validated with ``full_clean`` (errors name the field), atomic. Each save writes its
change-log row through the models' signals, and the same signals drop the cached calendar
(``civicgrid.core.workcalendar``), so a deadline computed right after the write already uses it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, time

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from . import context
from .models.calendar import CalendarOverride, OfficePeriod


@contextmanager
def _acting(actor) -> Iterator[None]:
    """Attribute the change-log rows to ``actor`` when no request already names the user."""
    current = context.current()
    if actor is None or current.user is not None:
        yield
        return
    with context.acting_as(actor, request_id=current.request_id or None, ip=current.ip):
        yield


@transaction.atomic
def calendar_override_set(
    *, day: date, is_workday: bool, name: str, actor, note: str = ""
) -> CalendarOverride:
    """Make ``day`` a working day or a day off, whatever the holidays package and the weekend say
    (creates the override, or changes the one the day already has)."""
    with _acting(actor):
        override = CalendarOverride.objects.select_for_update().filter(day=day).first()
        if override is None:
            override = CalendarOverride(day=day)
        else:
            override.snapshot()
        override.is_workday = is_workday
        override.name = (name or "").strip()
        override.note = (note or "").strip()
        override.updated_by = actor
        override.full_clean()
        if override.pk is None:
            override.save()
        else:
            override.save(update_fields=["is_workday", "name", "note", "updated_by", "updated_at"])
        return override


@transaction.atomic
def calendar_override_delete(*, override: CalendarOverride, actor) -> None:
    """Remove an override: the day follows the holidays package and the weekend again."""
    with _acting(actor):
        override.delete()


def office_periods_validate(periods: Sequence[tuple[time, time]]) -> list[OfficePeriod]:
    """Unsaved rows for ``periods``, sorted; ValidationError naming the field if they are unusable."""
    if not periods:
        raise ValidationError({"periods": _("At least one office period is required.")})
    rows = []
    for number, (start, end) in enumerate(periods, 1):
        row = OfficePeriod(start=start, end=end)
        try:
            row.full_clean(validate_constraints=False)
        except ValidationError as exc:
            raise ValidationError(
                {
                    field: [
                        _("Office period %(number)s: %(error)s") % {"number": number, "error": message}
                        for message in messages
                    ]
                    for field, messages in exc.message_dict.items()
                }
            )
        rows.append(row)
    rows.sort(key=lambda r: r.start)
    for earlier, later in zip(rows, rows[1:], strict=False):
        if later.start < earlier.end:
            raise ValidationError(
                {
                    "periods": _("The office periods %(first)s and %(second)s overlap.")
                    % {"first": earlier, "second": later}
                }
            )
    return rows


@transaction.atomic
def office_periods_set(*, periods: Sequence[tuple[time, time]], actor) -> list[OfficePeriod]:
    """Replace the office hours with ``periods`` ((start, end) pairs): at least one, each ending
    after it starts, none overlapping. Unchanged rows are kept, so the change log shows only
    what changed."""
    wanted = office_periods_validate(periods)
    with _acting(actor):
        existing = list(OfficePeriod.objects.select_for_update().order_by("start", "id"))
        result = []
        for index, new in enumerate(wanted):
            if index < len(existing):
                row = existing[index]
                if (row.start, row.end) != (new.start, new.end):
                    row.snapshot()
                    row.start, row.end = new.start, new.end
                    row.full_clean()
                    row.save(update_fields=["start", "end", "updated_at"])
                result.append(row)
            else:
                new.full_clean()
                new.save()
                result.append(new)
        for row in existing[len(wanted) :]:
            row.delete()
        return result
