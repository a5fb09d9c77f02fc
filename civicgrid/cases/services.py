"""Every step of a case's life is a service here: it checks that the actor may take the step on this
case in its current state, changes the case, writes the step's event (the timeline) and its
deadline in the same transaction, and tells the people concerned once the transaction commits.

Two people acting on one case at once: the case row is locked (``select_for_update``; SQLite
serialises writers with IMMEDIATE transactions), the second finds the state changed and gets a
``ConflictError`` naming the current state; a client that sends the ``version`` it saw gets a
conflict whenever somebody acted in between."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import DateTimeField, F, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.areas.choices import AreaLevel
from civicgrid.areas.models import Area
from civicgrid.areas.selectors import grid_index
from civicgrid.core import bulk, scope
from civicgrid.core.audit import Ref, changelog_rows, log_changes, serialize_instance
from civicgrid.core.models.audit import ChangeAction
from civicgrid.core.services import ConflictError
from civicgrid.core.validators import validate_mobile
from civicgrid.notify.services import notify, notify_many

from . import deadlines, tallies
from .choices import (
    FINAL_STATUSES,
    LEVEL_ORDER,
    Channel,
    DeadlineOutcome,
    EventKind,
    Level,
    OverdueAction,
    PhotoStage,
    QuestionType,
    Stage,
    Status,
    Urgency,
)
from .models import (
    Case,
    CaseDeadline,
    CaseEvent,
    CasePhoto,
    Category,
    Department,
    DepartmentMember,
    JointMeeting,
)
from .models.cases import DESCRIPTION_MAX
from .photos import validate_photo

#: Length of the scope code of an area at each handling level (a post at that level or above
#: may act on cases at that level).
LEVEL_CODE_LENGTH = {Level.COMMUNITY: 12, Level.STREET: 9, Level.DISTRICT: 6, Level.CITY: 4}

#: The choices the intake checks a report against, as sets: ``Channel.values`` builds a new list on
#: every read.
_CHANNELS = frozenset(Channel.values)
_URGENCIES = frozenset(Urgency.values)

PRE_DISPATCH = (Status.REPORTED, Status.RECORDED)
WORKING = (Status.DISPATCHED, Status.IN_PROGRESS)
ACTIVE = (*PRE_DISPATCH, *WORKING)


# ---- helpers ---------------------------------------------------------------------------------


def covers_at_level(user, perm: str, area_code: str, level: str) -> bool:
    """Whether a post of ``user`` grants ``perm`` over ``area_code`` at ``level`` or above
    (a community post may not dispatch a case escalated to the district)."""
    if user.is_superuser:
        return True
    longest = LEVEL_CODE_LENGTH[level]
    for post in scope.user_scopes(user):
        if perm not in post.perms:
            continue
        if post.data_scope == scope.DataScope.ALL:
            return True
        if (
            post.data_scope == scope.DataScope.SUBTREE
            and area_code.startswith(post.area_code)
            and len(post.area_code) <= longest
        ):
            return True
    return False


def _lock(
    case: Case | int, actor, action: str, allowed: Sequence[str], *, expected_version=None, level_check=False
) -> Case:
    """The case, locked for the rest of the transaction, after checking the actor's right to
    ``action`` on it and that its state allows the step."""
    pk = case if isinstance(case, int) else case.pk
    qs = Case.objects.select_for_update(of=("self",)).select_related("category", "department", "area")
    if actor is not None:
        qs = qs.visible_to(actor, action)
    try:
        fresh = qs.get(pk=pk)
    except Case.DoesNotExist:
        raise PermissionDenied(_("You may not do this on this case."))
    if actor is not None and level_check and not actor.is_superuser:
        perm = scope.permission_name(Case, action)
        if not covers_at_level(actor, perm, fresh.area_code, fresh.level):
            raise PermissionDenied(
                _("This case is handled at the %(level)s level.") % {"level": fresh.get_level_display()}
            )
    if expected_version is not None and int(expected_version) != fresh.version:
        raise ConflictError(
            _("Somebody changed this case in the meantime (it is now %(status)s); reload and try again.")
            % {"status": fresh.get_status_display()}
        )
    if fresh.status not in allowed:
        raise ConflictError(
            _("This step is not possible while the case is %(status)s.")
            % {"status": fresh.get_status_display()},
            code="invalid_state",
        )
    fresh.snapshot()
    tallies.remember(fresh)
    return fresh


def _save(case: Case, fields: Iterable[str]) -> None:
    case.version += 1
    case.full_clean(
        exclude=["category", "area", "department", "reporter", "dispatcher", "duplicate_of", "created_by"],
        validate_unique=False,
        validate_constraints=False,
    )
    case.save(update_fields={*fields, "version", "updated_at"})
    tallies.record_change(case)


def _event(
    case: Case, kind: str, actor, *, from_status: str = "", note: str = "", public: bool = True, data=None
):
    return CaseEvent.objects.create(
        case=case,
        kind=kind,
        actor=actor,
        from_status=from_status,
        to_status=case.status,
        department=case.department,
        note=note,
        is_public=public,
        data=data or {},
    )


def _case_url(case: Case) -> str:
    return reverse("cases:detail", args=[case.pk])


def _unit_members(department_ids: Iterable[int]) -> list[int]:
    return list(
        DepartmentMember.objects.filter(department_id__in=list(department_ids)).values_list(
            "user_id", flat=True
        )
    )


def _tell_reporter(case: Case, title: str) -> None:
    if case.reporter_id:
        notify(
            [case.reporter_id],
            kind="case_status",
            title=title,
            body=case.title,
            url=reverse("portal:case", args=[case.pk]),
        )


def _tell_unit(case: Case, title: str, *, departments: Iterable[int] | None = None) -> None:
    ids = list(departments) if departments is not None else [case.department_id]
    notify(
        _unit_members(i for i in ids if i),
        kind="case_unit",
        title=title,
        body=case.title,
        url=_case_url(case),
    )


def _tell_grid_worker(case: Case, title: str) -> None:
    worker = Area.objects.filter(pk=case.area_id).values_list("grid_worker_id", flat=True).first()
    if worker:
        notify([worker], kind="case_verify", title=title, body=case.title, url=_case_url(case))


def _require_text(value: str, field: str, message: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError({field: message})
    return value


def _add_photos(
    case: Case, photos, actor, stage: str, event: CaseEvent | int | None, *, keep_location=False
) -> None:
    event_id = event.pk if isinstance(event, CaseEvent) else event
    for upload in photos or ():
        content, size = validate_photo(upload, keep_location=keep_location)
        photo = CasePhoto(case=case, event_id=event_id, stage=stage, uploaded_by=actor, size=size)
        photo.image.save(content.name, content, save=False)
        photo.save()


# ---- intake ----------------------------------------------------------------------------------


def locate_report(*, lat, lng, address: str) -> tuple[Area, float | None, float | None]:
    """The grid of a report: from its point, or failing that from a registered building or
    compound whose address matches ``address``."""
    if lat is not None and lng is not None:
        try:
            lat, lng = float(lat), float(lng)
        except (TypeError, ValueError):
            raise ValidationError({"lat": _("Latitude and longitude must be numbers.")})
        if not (-90 <= lat <= 90 and -180 <= lng <= 180):
            raise ValidationError({"lat": _("Latitude and longitude are out of range.")})
        # The grid alone, without its boundary, and from the index's values: no query (loading it,
        # as locate_grid does with every ancestor's boundary, was a quarter of an Open311 POST).
        index = grid_index()
        grid_id = index.locate(lat, lng)
        grid = index.area(grid_id) if grid_id is not None else None
        if grid is None:
            raise ValidationError({"lat": _("This point is outside the city's grids.")})
        return grid, lat, lng
    address = (address or "").strip()
    if not address:
        raise ValidationError({"lat": _("Give the location (latitude and longitude) or an address.")})
    from civicgrid.registry.models import Building, Compound

    for model in (Building, Compound):
        place = (
            model.objects.filter(address__startswith=address[:60], lat__isnull=False)
            .select_related("area")
            .order_by("id")
            .first()
        )
        if place is not None:
            return place.area, place.lat, place.lng
    raise ValidationError(
        {"address_string": _("This address is not in the registry; give latitude and longitude instead.")}
    )


def clean_answers(category: Category, answers: dict | None) -> dict:
    """Check the answers to the category's extra questions; errors name ``attribute[code]``."""
    answers = dict(answers or {})
    questions = category.questions_by_code()
    errors: dict[str, str] = {}
    cleaned: dict = {}
    for code in answers:
        if code not in questions:
            errors[f"attribute[{code}]"] = _("This category has no such question.")
    for code, question in questions.items():
        value = answers.get(code)
        if value in (None, "", []):
            if question.required:
                errors[f"attribute[{code}]"] = _("This question must be answered.")
            continue
        keys = {str(v.get("key")) for v in question.values}
        if question.datatype == QuestionType.NUMBER:
            try:
                value = float(value)
            except (TypeError, ValueError):
                value = None
            if value is None or not math.isfinite(value):  # NaN/inf cannot be stored as JSON
                errors[f"attribute[{code}]"] = _("Give a number.")
                continue
        elif question.datatype == QuestionType.DATETIME:
            from django.utils.dateparse import parse_datetime

            try:
                when = parse_datetime(str(value))
            except ValueError:  # well formed but not a valid date, e.g. month 13
                when = None
            if when is None:
                errors[f"attribute[{code}]"] = _("Give a date and time (ISO 8601).")
                continue
            value = str(value)
        elif question.datatype == QuestionType.SINGLE:
            if str(value) not in keys:
                errors[f"attribute[{code}]"] = _("Choose one of the listed values.")
                continue
            value = str(value)
        elif question.datatype == QuestionType.MULTI:
            values = value if isinstance(value, list) else [value]
            if not values or any(str(v) not in keys for v in values):
                errors[f"attribute[{code}]"] = _("Choose among the listed values.")
                continue
            value = [str(v) for v in values]
        else:
            value = str(value)
            if len(value) > DESCRIPTION_MAX:
                errors[f"attribute[{code}]"] = _("This answer is too long.")
                continue
        cleaned[code] = value
    if errors:
        raise ValidationError(errors)
    return cleaned


def _by_idempotency_key(source: str, key: str) -> Case | None:
    """The case ``source`` already sent with ``key``. The ``exclude`` repeats the condition of the
    partial unique index ``cases_case_idempotent``: SQLite only uses a partial index when the query
    states its condition itself (PostgreSQL infers it from ``key`` not being empty)."""
    return Case.objects.filter(source=source, idempotency_key=key).exclude(idempotency_key="").first()


def case_report(
    *,
    actor,
    category: Category,
    description: str,
    channel: str,
    title: str = "",
    lat=None,
    lng=None,
    address: str = "",
    urgency: str = "",
    answers: dict | None = None,
    reporter_name: str = "",
    reporter_phone: str = "",
    source: str = "",
    idempotency_key: str = "",
    photos=(),
    keep_photo_location: bool = False,
    reported_at: datetime | None = None,
) -> tuple[Case, bool]:
    """Take in a report; returns ``(case, created)``. A retry with the same ``source`` and
    ``idempotency_key`` returns the case the first attempt made (``created`` False).

    The retry is found by the unique (source, key) index refusing the second INSERT, not by a
    lookup first: the first attempt, by far the commonest, costs no extra query. A retry that
    no longer passes the checks (say its category was retired since) is looked up before the
    error is given, so it still gets its case."""
    idempotency_key = (idempotency_key or "").strip()[:100]
    try:
        return _take_in(
            actor=actor,
            category=category,
            description=description,
            channel=channel,
            title=title,
            lat=lat,
            lng=lng,
            address=address,
            urgency=urgency,
            answers=answers,
            reporter_name=reporter_name,
            reporter_phone=reporter_phone,
            source=source,
            idempotency_key=idempotency_key,
            photos=photos,
            keep_photo_location=keep_photo_location,
            reported_at=reported_at,
        )
    except ValidationError:
        # A key or source PostgreSQL cannot hold (NUL) was never stored: nothing to look up.
        retry = idempotency_key and "\x00" not in idempotency_key + source
        existing = _by_idempotency_key(source, idempotency_key) if retry else None
        if existing is None:
            raise
        return existing, False


def _take_in(
    *,
    actor,
    category,
    description,
    channel,
    title,
    lat,
    lng,
    address,
    urgency,
    answers,
    reporter_name,
    reporter_phone,
    source,
    idempotency_key,
    photos,
    keep_photo_location,
    reported_at,
) -> tuple[Case, bool]:
    if category is None or not category.is_active:
        raise ValidationError({"category": _("Choose an active category.")})
    description = _require_text(description, "description", _("Describe the problem."))
    if len(description) > DESCRIPTION_MAX:
        raise ValidationError(
            {
                "description": _("At most %(n)d characters (this has %(m)d).")
                % {"n": DESCRIPTION_MAX, "m": len(description)}
            }
        )
    if channel not in _CHANNELS:
        raise ValidationError({"channel": _("Unknown channel.")})
    reporter_phone = (reporter_phone or "").strip()
    if reporter_phone:
        try:
            validate_mobile(reporter_phone)
        except ValidationError as exc:
            raise ValidationError({"phone": exc.messages})
    grid, lat, lng = locate_report(lat=lat, lng=lng, address=address)
    cleaned = clean_answers(category, answers)
    now = timezone.now()
    reporter = actor if actor is not None and actor.is_authenticated else None
    case = bulk.new_object(
        Case,
        {
            "area": grid,
            "title": (title or "").strip()[:200] or description[:40],
            "description": description,
            "category": category,
            "urgency": urgency or category.default_urgency,
            "channel": channel,
            "lat": lat,
            "lng": lng,
            "address": (address or "").strip()[:200],
            "answers": cleaned,
            "reporter": reporter,
            "reporter_name": (reporter_name or "").strip()[:50],
            "reporter_phone": reporter_phone,
            "source": source[:60],
            "idempotency_key": idempotency_key,
            "is_public": category.is_public,
            "reported_at": reported_at or now,
            "created_by": reporter,
        },
    )
    _check_report_fields(case)
    case.area_code = grid.scope_code
    clock = deadlines.plan_clock(case, Stage.RECORD, now)  # set before the INSERT: no second write
    # The intake is the busiest write, so its rows — the case, its tallies, clock, change-log row
    # and "reported" event — are plain rows (core.bulk), prepared before the transaction (the case
    # id comes from a block reserved beforehand) and written together: on PostgreSQL as one
    # statement, atomic by itself (a transaction only when photos follow or a caller's transaction
    # needs a savepoint); on SQLite in a transaction whose first INSERT takes the write lock
    # (``bulk.write_first``), so the lock is held only while they are written.
    statements = _intake_statements(case, clock)
    alone = bulk.vendor() == "postgresql" and not photos and not connection.in_atomic_block
    try:
        with nullcontext() if alone else bulk.write_first():
            [(event_id,)] = bulk.execute_together(statements)
            if photos:
                _add_photos(
                    case, photos, reporter, PhotoStage.REPORT, event_id, keep_location=keep_photo_location
                )
    except IntegrityError:
        if not idempotency_key:
            raise
        existing = _by_idempotency_key(source, idempotency_key)
        if existing is None:
            raise
        return existing, False
    return case, True


#: The text fields of a new case that come from the report.
_REPORT_TEXTS = (
    "description", "title", "address", "reporter_name", "reporter_phone", "source", "idempotency_key",
)  # fmt: skip


def _check_report_fields(case: Case) -> None:
    """What the model's own validation would still find wrong in a new case, once ``_take_in`` has
    checked the description, channel, phone, place and answers and cut the other texts to their
    fields' lengths: an urgency that is not one of the choices, a NUL character in a text (which
    PostgreSQL cannot store). Checked by hand: ``full_clean`` over these fields cost a report
    about 0.03 ms, the intake's busiest validation for nothing it had not checked already."""
    if case.urgency not in _URGENCIES:
        raise ValidationError({"urgency": _("Unknown urgency.")})
    for name in _REPORT_TEXTS:
        if "\x00" in getattr(case, name):
            raise ValidationError({name: _("Null characters are not allowed.")})


#: The intake's case ids, reserved a few at a time (``core.bulk.IdBlocks``).
_CASE_IDS = bulk.IdBlocks(Case)


def _intake_statements(case: Case, clock: dict | None) -> list[tuple[str, list]]:
    """The statements that write a new case: the case (its id taken here), its tallies, its clock,
    its change-log row and its "reported" event (returning the event's id), last."""
    statements = [bulk.insert_sql(*bulk.object_rows([case], ids=[_CASE_IDS.take()]))]
    statements += tallies.new_case_statements(case)
    if clock is not None:
        statements.append(bulk.values_sql(CaseDeadline, [{**clock, "case_id": case.pk}]))
    after = serialize_instance(case)
    case._audit_before = after
    statements.append(bulk.insert_sql(*changelog_rows([(case, ChangeAction.CREATE, None, after)])))
    event = {
        "case_id": case.pk,
        "kind": EventKind.REPORTED,
        "actor_id": case.reporter_id,
        "to_status": case.status,
        "department_id": case.department_id,
        "data": {"channel": case.channel},
    }
    statements.append(bulk.values_sql(CaseEvent, [event], returning="id"))
    return statements


# ---- triage ----------------------------------------------------------------------------------


def case_record(
    *, case, actor, category: Category | None = None, urgency: str = "", note: str = "", expected_version=None
) -> Case:
    """立案: accept a report as a case (optionally correcting its category and urgency)."""
    with transaction.atomic():
        case = _lock(
            case, actor, "record", (Status.REPORTED,), expected_version=expected_version, level_check=True
        )
        fields = _record(case, actor, category=category, urgency=urgency, note=note)
        _save(case, fields)
    return case


def _record(case: Case, actor, *, category=None, urgency="", note="") -> list[str]:
    now = timezone.now()
    fields = ["status", "recorded_at"]
    if category is not None and category.pk != case.category_id:
        if not category.is_active:
            raise ValidationError({"category": _("Choose an active category.")})
        case.category, case.is_public = category, category.is_public
        fields += ["category", "is_public"]
    if urgency:
        case.urgency = urgency
        fields.append("urgency")
    case.status, case.recorded_at = Status.RECORDED, now
    fields += deadlines.start_deadline(case, Stage.DISPATCH, now)
    _event(case, EventKind.RECORDED, actor, from_status=Status.REPORTED, note=note)
    _tell_reporter(case, _("Your report was accepted"))
    return fields


def case_reject(*, case, actor, reason: str, expected_version=None) -> Case:
    """不予受理: refuse a report, saying why (the reporter is told)."""
    reason = _require_text(reason, "reason", _("Say why the report is not accepted."))
    with transaction.atomic():
        case = _lock(
            case, actor, "record", (Status.REPORTED,), expected_version=expected_version, level_check=True
        )
        now = timezone.now()
        case.status, case.reason, case.closed_at = Status.REJECTED, reason[:500], now
        fields = ["status", "reason", "closed_at", *deadlines.end_deadline(case, now)]
        _save(case, fields)
        _event(case, EventKind.REJECTED, actor, from_status=Status.REPORTED, note=reason)
        _tell_reporter(case, _("Your report was not accepted"))
    return case


def case_merge(*, case, actor, into: Case, note: str = "", expected_version=None) -> Case:
    """Merge a duplicate report into the case that already covers it."""
    if into is None or into.pk == getattr(case, "pk", case):
        raise ValidationError({"into": _("Choose another case to merge into.")})
    with transaction.atomic():
        case = _lock(case, actor, "record", PRE_DISPATCH, expected_version=expected_version)
        target = _lock(into, actor, "view", [s for s in Status.values if s not in FINAL_STATUSES])
        now = timezone.now()
        previous = case.status
        case.status, case.duplicate_of, case.closed_at = Status.MERGED, target, now
        fields = ["status", "duplicate_of", "closed_at", *deadlines.end_deadline(case, now, cancelled=True)]
        _save(case, fields)
        _event(case, EventKind.MERGED, actor, from_status=previous, note=note, data={"into": target.pk})
        _event(
            target,
            EventKind.DUPLICATE_ADDED,
            actor,
            from_status=target.status,
            public=False,
            data={"case": case.pk},
        )
        _tell_reporter(case, _("Your report joins a case already being handled"))
    return case


# ---- dispatch and handling -------------------------------------------------------------------


def _check_unit(department: Department | None, field: str = "department") -> Department:
    if department is None or not department.is_active:
        raise ValidationError({field: _("Choose an active unit.")})
    return department


def case_dispatch(
    *,
    case,
    actor,
    department: Department,
    assisting: Iterable[Department] = (),
    note: str = "",
    expected_version=None,
) -> Case:
    """派遣: send a case to the unit that will handle it (a reported case is recorded on the way)."""
    department = _check_unit(department)
    assisting = [d for d in assisting if d.pk != department.pk]
    for unit in assisting:
        _check_unit(unit, "assisting")
    with transaction.atomic():
        case = _lock(
            case, actor, "dispatch", PRE_DISPATCH, expected_version=expected_version, level_check=True
        )
        fields = []
        if case.status == Status.REPORTED:
            fields += _record(case, actor)
        fields += _dispatch(case, actor, department, assisting, note)
        _save(case, fields)
    return case


def _dispatch(
    case: Case, actor, department: Department, assisting, note: str, *, kind=EventKind.DISPATCHED, data=None
) -> list[str]:
    now = timezone.now()
    previous = case.status
    case.status, case.department, case.dispatched_at = Status.DISPATCHED, department, now
    if actor is not None:
        case.dispatcher = actor
    fields = ["status", "department", "dispatched_at", "dispatcher"]
    # An escalated case's handling clock (137) already runs at its new level: keep it, and make it
    # this unit's (it started without one), so on-time rates per unit count it.
    if case.deadline_stage != Stage.HANDLE:
        fields += deadlines.start_deadline(case, Stage.HANDLE, now)
    else:
        CaseDeadline.objects.filter(case=case, stage=Stage.HANDLE, outcome=DeadlineOutcome.OPEN).update(
            department=department
        )
    case.assisting_departments.set(assisting)
    _event(
        case,
        kind,
        actor,
        from_status=previous,
        note=note,
        data={**(data or {}), **({"assisting": [d.pk for d in assisting]} if assisting else {})},
    )
    _tell_unit(
        case, _("A case was dispatched to your unit"), departments=[department.pk, *(d.pk for d in assisting)]
    )
    _tell_reporter(case, _("Your report was sent to %(unit)s") % {"unit": department.name})
    return fields


def case_return(*, case, actor, reason: str, expected_version=None) -> Case:
    """A unit sends a case back as not theirs (wrongly dispatched); the dispatcher re-dispatches."""
    reason = _require_text(reason, "reason", _("Say why the case is not your unit's."))
    with transaction.atomic():
        case = _lock(case, actor, "handle", WORKING, expected_version=expected_version)
        now = timezone.now()
        previous, unit = case.status, case.department
        case.status, case.department = Status.RECORDED, None
        # The unit's handling clock did not run its course: it counts neither as met nor as late.
        fields = ["status", "department", *deadlines.end_deadline(case, now, cancelled=True)]
        fields += deadlines.start_deadline(case, Stage.DISPATCH, now)
        _save(case, fields)
        case.assisting_departments.clear()
        _event(
            case,
            EventKind.RETURNED,
            actor,
            from_status=previous,
            note=reason,
            public=False,
            data={"unit": unit.pk},
        )
        if case.dispatcher_id:
            notify(
                [case.dispatcher_id],
                kind="case_returned",
                title=_("A case was returned"),
                body=case.title,
                url=_case_url(case),
            )
    return case


def case_start(*, case, actor, note: str = "", expected_version=None) -> Case:
    with transaction.atomic():
        case = _lock(case, actor, "handle", (Status.DISPATCHED,), expected_version=expected_version)
        case.status = Status.IN_PROGRESS
        _save(case, ["status"])
        _event(case, EventKind.STARTED, actor, from_status=Status.DISPATCHED, note=note)
    return case


def case_handle(*, case, actor, result: str, photos=(), expected_version=None) -> Case:
    """处置: the unit reports what it did (with photos); the grid worker is asked to verify."""
    result = _require_text(result, "result", _("Say what was done."))
    if len(result) > DESCRIPTION_MAX:
        raise ValidationError({"result": _("At most %(n)d characters.") % {"n": DESCRIPTION_MAX}})
    with transaction.atomic():
        case = _lock(case, actor, "handle", WORKING, expected_version=expected_version)
        now = timezone.now()
        previous = case.status
        case.status, case.result, case.handled_at = Status.HANDLED, result, now
        fields = ["status", "result", "handled_at", *deadlines.start_deadline(case, Stage.VERIFY, now)]
        _save(case, fields)
        event = _event(case, EventKind.HANDLED, actor, from_status=previous, note=result)
        _add_photos(case, photos, actor, PhotoStage.HANDLE, event)
        _tell_grid_worker(case, _("A handled case waits for your verification"))
        _tell_reporter(case, _("Your report was handled"))
    return case


def case_verify(
    *, case, actor, passed: bool, note: str = "", photos=(), expected_version=None, idempotency_key: str = ""
) -> Case:
    """核查: check the result on site. Failing sends the case back to its unit (re-dispatch).
    ``idempotency_key`` (a verification queued on a phone) is kept on the event, so a replay can be
    recognised."""
    data = {"idempotency_key": idempotency_key[:100]} if idempotency_key else {}
    if not passed:
        note = _require_text(note, "note", _("Say what is still wrong."))
    with transaction.atomic():
        case = _lock(case, actor, "verify", (Status.HANDLED,), expected_version=expected_version)
        now = timezone.now()
        if passed:
            case.status = Status.VERIFIED
            fields = ["status", *deadlines.start_deadline(case, Stage.CLOSE, now)]
            _save(case, fields)
            event = _event(case, EventKind.VERIFIED, actor, from_status=Status.HANDLED, note=note, data=data)
        else:
            case.status, case.reopen_count = Status.DISPATCHED, case.reopen_count + 1
            fields = ["status", "reopen_count", *deadlines.start_deadline(case, Stage.HANDLE, now)]
            _save(case, fields)
            event = _event(
                case, EventKind.VERIFICATION_FAILED, actor, from_status=Status.HANDLED, note=note, data=data
            )
            _tell_unit(case, _("Verification failed: the case is back with your unit"))
        _add_photos(case, photos, actor, PhotoStage.VERIFY, event)
    return case


def case_close(*, case, actor, note: str = "", expected_version=None) -> Case:
    """结案: close a verified case; the reporter is told the result (必反馈) and may rate it."""
    with transaction.atomic():
        case = _lock(case, actor, "close", (Status.VERIFIED,), expected_version=expected_version)
        now = timezone.now()
        case.status, case.closed_at = Status.CLOSED, now
        _save(case, ["status", "closed_at", *deadlines.end_deadline(case, now)])
        _event(case, EventKind.CLOSED, actor, from_status=Status.VERIFIED, note=note or case.result)
        _tell_reporter(case, _("Your report is closed: please rate the result"))
    return case


def case_rate(*, case, actor, rating: int | None, comment: str = "", solved: bool = True) -> Case:
    """评价: the reporter rates a closed case (1–5 stars and a comment), or says it is not solved,
    which reopens it with its unit. Staff with the right to record cases may enter the rating
    of a follow-up call (回访)."""
    if solved:
        try:
            rating = int(rating)
        except (TypeError, ValueError):
            raise ValidationError({"rating": _("Give 1 to 5 stars.")})
        if not 1 <= rating <= 5:
            raise ValidationError({"rating": _("Give 1 to 5 stars.")})
    comment = (comment or "").strip()[:500]
    if not solved and not comment:
        raise ValidationError({"comment": _("Say what is not solved.")})
    with transaction.atomic():
        fresh = _lock(case, None, "view", (Status.CLOSED,))
        is_reporter = actor is not None and fresh.reporter_id == actor.pk
        if not is_reporter and not Case.objects.visible_to(actor, "record").filter(pk=fresh.pk).exists():
            raise PermissionDenied(_("Only the reporter rates a case."))
        now = timezone.now()
        if solved:
            fresh.rating, fresh.rating_comment, fresh.rated_at = rating, comment, now
            _save(fresh, ["rating", "rating_comment", "rated_at"])
            _event(
                fresh,
                EventKind.RATED,
                actor,
                from_status=Status.CLOSED,
                note=comment,
                data={"rating": rating},
            )
            if fresh.department_id:
                _tell_unit(fresh, _("A resident rated a case of your unit %(n)d/5") % {"n": rating})
        else:
            _reopen(fresh, actor, comment, now)
    return fresh


def _reopen(case: Case, actor, reason: str, now) -> None:
    previous = case.status
    case.reopen_count += 1
    case.rating = None
    case.rated_at = None
    case.closed_at = None
    if case.department_id:
        case.status = Status.DISPATCHED
        stage = Stage.HANDLE
    else:
        case.status = Status.RECORDED
        stage = Stage.DISPATCH
    fields = [
        "status",
        "reopen_count",
        "rating",
        "rated_at",
        "closed_at",
        *deadlines.start_deadline(case, stage, now),
    ]
    _save(case, fields)
    _event(case, EventKind.REOPENED, actor, from_status=previous, note=reason)
    tallies.record_reopen(case, now)
    if case.department_id:
        _tell_unit(case, _("A case of your unit was reopened"))


def case_reopen(*, case, actor, reason: str, expected_version=None) -> Case:
    """Reopen a closed case (the resident is not satisfied, or a follow-up finds it unsolved)."""
    reason = _require_text(reason, "reason", _("Say why the case is reopened."))
    with transaction.atomic():
        case = _lock(case, actor, "record", (Status.CLOSED,), expected_version=expected_version)
        _reopen(case, actor, reason, timezone.now())
    return case


# ---- oversight -------------------------------------------------------------------------------


def _next_level(level: str) -> str | None:
    i = LEVEL_ORDER.index(level)
    return LEVEL_ORDER[i + 1] if i + 1 < len(LEVEL_ORDER) else None


def _escalate(case: Case, actor, reason: str, now) -> list[str]:
    up = _next_level(case.level)
    if up is None:
        raise ConflictError(_("The case is already at the city level."), code="invalid_state")
    previous, old_level = case.status, case.level
    case.level, case.escalation_count = up, case.escalation_count + 1
    case.status, case.department = Status.RECORDED, None
    fields = ["level", "escalation_count", "status", "department"]
    # The 137 clock of the new level: the street solves in 1 working day, the district 3, the city 7.
    fields += deadlines.start_deadline(case, Stage.HANDLE, now)
    case.assisting_departments.clear()
    _event(
        case,
        EventKind.ESCALATED,
        actor,
        from_status=previous,
        note=reason,
        data={"from": old_level, "to": up},
    )
    _tell_reporter(case, _escalated_title(case))
    return fields


def _escalated_title(case: Case) -> str:
    return str(_("Your report was passed up to the %(level)s level") % {"level": case.get_level_display()})


def case_escalate(*, case, actor, reason: str, expected_version=None) -> Case:
    """Pass a case up one level (community → street → district → city)."""
    reason = _require_text(reason, "reason", _("Say why the case goes up a level."))
    with transaction.atomic():
        case = _lock(case, actor, "escalate", ACTIVE, expected_version=expected_version)
        _save(case, _escalate(case, actor, reason, timezone.now()))
    return case


def case_supervise(*, case, actor, note: str, expected_version=None) -> Case:
    """督办: press the unit (and the dispatcher) on an open case."""
    note = _require_text(note, "note", _("Say what is expected."))
    with transaction.atomic():
        case = _lock(case, actor, "supervise", ACTIVE, expected_version=expected_version)
        case.supervision_count += 1
        _save(case, ["supervision_count"])
        _event(case, EventKind.SUPERVISED, actor, from_status=case.status, note=note, public=False)
        _tell_unit(case, _("Supervision: %(note)s") % {"note": note[:80]})
    return case


def case_coordinate(
    *,
    case,
    actor,
    lead: Department,
    assisting: Iterable[Department],
    meeting: JointMeeting | None = None,
    note: str = "",
    expected_version=None,
) -> Case:
    """Cross-unit case: a lead unit and assisting units, agreed at a joint meeting (党建联席会,
    民情分析会) whose record is linked to the case."""
    lead = _check_unit(lead, "lead")
    assisting = [d for d in assisting if d.pk != lead.pk]
    if not assisting:
        raise ValidationError({"assisting": _("Name at least one assisting unit.")})
    for unit in assisting:
        _check_unit(unit, "assisting")
    with transaction.atomic():
        case = _lock(case, actor, "coordinate", ACTIVE, expected_version=expected_version, level_check=True)
        fields = []
        if case.status == Status.REPORTED:
            fields += _record(case, actor)
        if meeting is not None:
            meeting.cases.add(case)
        fields += _dispatch(
            case,
            actor,
            lead,
            assisting,
            note,
            kind=EventKind.COORDINATED,
            data={"meeting": meeting.pk} if meeting else {},
        )
        _save(case, fields)
    return case


def case_defer(*, case, actor, reason: str, expected_version=None) -> Case:
    """Cannot be solved now: keep it as a risk point / public-sentiment record, filed with the
    street party committee and reviewed periodically."""
    reason = _require_text(reason, "reason", _("Say why the case cannot be solved now."))
    with transaction.atomic():
        case = _lock(case, actor, "defer", ACTIVE, expected_version=expected_version, level_check=True)
        now = timezone.now()
        previous = case.status
        case.status = Status.DEFERRED
        fields = ["status", *deadlines.start_deadline(case, Stage.REVIEW, now)]
        _save(case, fields)
        street = case.area_code[:9]
        _event(
            case, EventKind.DEFERRED, actor, from_status=previous, note=reason, data={"filed_with": street}
        )
        _tell_reporter(case, _("Your report is kept as a risk point for later handling"))
    return case


def case_review(*, case, actor, note: str, reactivate: bool = False, expected_version=None) -> Case:
    """Periodic review of a risk point: keep it (a new review period starts) or take it up again."""
    note = _require_text(note, "note", _("Record what the review found."))
    with transaction.atomic():
        case = _lock(case, actor, "defer", (Status.DEFERRED,), expected_version=expected_version)
        now = timezone.now()
        if reactivate:
            case.status = Status.RECORDED
            fields = ["status", *deadlines.start_deadline(case, Stage.DISPATCH, now)]
        else:
            fields = deadlines.start_deadline(case, Stage.REVIEW, now)
        _save(case, fields)
        _event(
            case,
            EventKind.REVIEWED,
            actor,
            from_status=Status.DEFERRED,
            note=note,
            public=False,
            data={"reactivated": reactivate},
        )
    return case


def case_comment(*, case, actor, note: str, public: bool = False) -> CaseEvent:
    note = _require_text(note, "note", _("Write the note."))
    with transaction.atomic():
        case = _lock(case, actor, "view", Status.values)
        return _event(
            case,
            EventKind.COMMENT,
            actor,
            from_status=case.status,
            note=note[:DESCRIPTION_MAX],
            public=public,
        )


def meeting_create(
    *,
    actor,
    area: Area,
    kind: str,
    held_at,
    topic: str,
    place: str = "",
    attendees: str = "",
    minutes: str = "",
    decisions: str = "",
    departments: Iterable[Department] = (),
    cases: Iterable[Case] = (),
) -> JointMeeting:
    if area.level == AreaLevel.GRID:
        area = area.parent
    if actor is not None and not scope.covers_area(actor, "cases.add_jointmeeting", area.scope_code):
        raise ValidationError({"area": _("This is outside your data scope.")})
    meeting = JointMeeting(
        area=area,
        kind=kind,
        held_at=held_at,
        topic=topic,
        place=place,
        attendees=attendees,
        minutes=minutes,
        decisions=decisions,
        created_by=actor,
    )
    meeting.full_clean(exclude=["area", "created_by"])
    with transaction.atomic():
        meeting.save()
        meeting.departments.set(list(departments))
        meeting.cases.set(list(cases))
    return meeting


# ---- the deadline sweep's steps (called by deadlines.sweep in batches) -----------------------
#
# A batch is a few statements whatever its size: the cases are updated together, and their events,
# clocks and change-log rows go in with ``core.bulk`` (no model instance per row). A sweep after an
# outage handles thousands of cases; these steps must cost little more than the rows they write.
# A warning or a supervision changes no indexed column of the case (not ``updated_at`` either: the
# live map finds a light that changed by the times, not by these marks), so on PostgreSQL it is a
# heap-only update: none of the case's indexes is written (``cases_case`` keeps room for it on
# each page, migration 0006).

#: The columns a batch reads of its cases.
_SWEPT = ("pk", "reported_at", "title", "version", "department_id", "dispatcher_id", "status")


def _ref(row: dict) -> Ref:
    return Ref(Case, row["pk"], f"{Case.number_of(row['pk'], row['reported_at'])} {row['title']}"[:200])


def _url_for_each(name: str):
    """``reverse(name, args=[pk])`` for many ids: the URL is reversed once, the id formatted in."""
    marker = "987654321"
    template = reverse(name, args=[int(marker)]).replace(marker, "{}")
    return template.format


def _tell_units(rows: list[dict], members: dict[int, list[int]], kind: str, message: str) -> None:
    """Tell each case's unit (``members``: from ``_members_by_unit``) and dispatcher (one task for
    the batch); ``message`` has a %(title)s."""
    url = _url_for_each("cases:detail")
    notify_many(
        (
            [*members.get(r["department_id"], ()), r["dispatcher_id"]],
            {"kind": kind, "title": message % {"title": r["title"][:60]}, "body": "", "url": url(r["pk"])},
        )
        for r in rows
    )


def deadline_warn(ids: list[int], *, now) -> int:
    """Mark the cases whose warning time passed and tell their unit and dispatcher (one statement
    for the batch). The reads come first: the sweep sends the writes without waiting for each
    (``core.bulk.pipelined``)."""
    rows = list(
        Case.objects.select_for_update()
        .filter(pk__any=ids, warned_at__isnull=True, warn_at__lte=now)
        .values(*_SWEPT)
    )
    if not rows:
        return 0
    members = _members_by_unit({r["department_id"] for r in rows})
    pks = [r["pk"] for r in rows]
    Case.objects.filter(pk__any=pks).update(warned_at=now, version=F("version") + 1)
    _mark_events(pks, EventKind.WARNED)
    log_changes(
        (
            _ref(r),
            ChangeAction.UPDATE,
            {"warned_at": None, "version": r["version"]},
            {"warned_at": now, "version": r["version"] + 1},
        )
        for r in rows
    )
    _tell_units(rows, members, "case_warning", _("Deadline close: %(title)s"))
    return len(rows)


def _members_by_unit(unit_ids: set) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for dept, user in DepartmentMember.objects.filter(
        department_id__in=[u for u in unit_ids if u]
    ).values_list("department_id", "user_id"):
        out.setdefault(dept, []).append(user)
    return out


def deadline_overdue(ids: list[int], *, now) -> dict[str, int]:
    """Act on the overdue cases as their policy says: record it, supervise (督办) or escalate.
    Warn-only and supervision are one statement per batch; escalation a few per batch. A case whose
    warning was never given (the task queue was down, or the stage was shorter than a sweep's
    interval) is marked warned in the same statement, with its "warned" event, and its unit is told
    once, that it is overdue. ``done["warned"]`` counts those. Everything the batch reads is read
    first; then the writes, which the sweep sends without waiting for each
    (``core.bulk.pipelined``) while the rows to write are prepared."""
    rows = list(
        Case.objects.select_for_update()
        .filter(pk__any=ids, overdue_at__isnull=True, due_at__lte=now)
        .values(*_SWEPT, "overdue_action", "level", "supervision_count", "warned_at")
    )
    done = {OverdueAction.WARN: 0, OverdueAction.SUPERVISE: 0, OverdueAction.ESCALATE: 0, "warned": 0}
    if not rows:
        return done
    unwarned = [r for r in rows if r["warned_at"] is None]
    warned_at = Coalesce(F("warned_at"), Value(now), output_field=DateTimeField())
    escalate = [
        r
        for r in rows
        if r["overdue_action"] == OverdueAction.ESCALATE
        and r["level"] != Level.CITY
        and r["status"] in ACTIVE
    ]
    escalate_ids = {r["pk"] for r in escalate}
    rest = [r for r in rows if r["pk"] not in escalate_ids]
    supervise = [r for r in rest if r["overdue_action"] != OverdueAction.WARN]
    supervised = {r["pk"] for r in supervise}
    warn = [r for r in rest if r["overdue_action"] == OverdueAction.WARN]
    members = _members_by_unit({r["department_id"] for r in rows})
    escalating = _escalation_reads([r["pk"] for r in escalate])
    if supervise:
        Case.objects.filter(pk__any=supervised).update(
            overdue_at=now,
            warned_at=warned_at,
            supervision_count=F("supervision_count") + 1,
            version=F("version") + 1,
        )
    if warn:
        Case.objects.filter(pk__any=[r["pk"] for r in warn]).update(
            overdue_at=now, warned_at=warned_at, version=F("version") + 1
        )
    # The events of the marks before the escalation changes the rows they copy (status, unit).
    _mark_events([r["pk"] for r in unwarned], EventKind.WARNED)
    _mark_events(sorted(supervised), EventKind.SUPERVISED, note=str(_("Overdue: supervised automatically")))
    _mark_events([r["pk"] for r in warn], EventKind.OVERDUE)
    finish_escalations = _escalate_overdue(escalating, now)
    log_changes(
        (
            _ref(r),
            ChangeAction.UPDATE,
            {
                "overdue_at": None,
                "warned_at": r["warned_at"],
                "version": r["version"],
                "supervision_count": r["supervision_count"],
            },
            {
                "overdue_at": now,
                "warned_at": r["warned_at"] or now,
                "version": r["version"] + 1,
                "supervision_count": r["supervision_count"] + (1 if r["pk"] in supervised else 0),
            },
        )
        for r in rest
    )
    # Every overdue case's unit and dispatcher are told, the escalated ones' too (the case leaves
    # the unit; the reporter hears of the new level from the escalation).
    _tell_units(rows, members, "case_overdue", _("Overdue: %(title)s"))
    # The batch's one wait for the database, once everything else is sent and prepared: the
    # escalations' ended clocks, for the tallies.
    finish_escalations()
    done[OverdueAction.ESCALATE] = len(escalating)
    done[OverdueAction.SUPERVISE] = len(supervise)
    done[OverdueAction.WARN] = len(warn)
    done["warned"] = len(unwarned)
    return done


def _mark_events(pks: list[int], kind: str, note: str = "") -> None:
    """The timeline's event of a mark the sweep set on these cases (warned, supervised, overdue):
    not public, the status unchanged, the case's unit; written by the database from the case rows."""
    bulk.insert_select(
        CaseEvent,
        Case,
        pks,
        columns={"case": "id", "from_status": "status", "to_status": "status", "department": "department"},
        values={"kind": kind, "is_public": False, "note": note},
    )


#: The fields an escalation changes, as the change log records them.
_ESCALATED_FIELDS = (
    "level",
    "escalation_count",
    "status",
    "department_id",
    "deadline_stage",
    "warn_at",
    "due_at",
    "overdue_action",
    "warned_at",
    "overdue_at",
    "version",
)
#: What an escalation reads of a case: the fields it changes, the tallies' facts, the policy's
#: inputs, and the reporter to tell.
_ESCALATION_READS = (
    *_ESCALATED_FIELDS,
    "title",
    "category",
    "channel",
    "urgency",
    "area_code",
    "reported_at",
    "rating",
    "rated_at",
    "reporter_id",
)


def _drop_assisting_units(ids: list[int]) -> None:
    """Remove the assisting units of these cases by one DELETE (the links are not audited; through
    the ORM each link would be read first for the delete signals)."""
    through = Case.assisting_departments.through
    qn = connection.ops.quote_name
    field = through._meta.get_field("case")
    among, params = bulk.any_sql(qn(field.column), ids, field)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {qn(through._meta.db_table)} WHERE {among}", params)  # noqa: S608


def _escalation_reads(ids: list[int]) -> list[Case]:
    """What ``_escalate_overdue`` reads of these cases (locked by the caller), read before any
    write of the batch."""
    if not ids:
        return []
    cases = bulk.read_objects(Case.objects.filter(pk__any=ids), _ESCALATION_READS)
    # The few categories once each, not joined onto every case (a category instance per case).
    categories = Category.objects.in_bulk({c.category_id for c in cases})
    for case in cases:
        case.category = categories[case.category_id]
    return cases


def _escalate_overdue(cases: list[Case], now) -> Callable[[], None]:
    """``_escalate`` for a batch of overdue cases (read by ``_escalation_reads``), in a few
    statements: the running clocks end late, each case goes up a level with its new level's clock
    (cases that get the same clock are updated together: one statement per level and policy),
    assisting units are dropped, and the events, clocks, change-log rows and the reporters'
    notifications are written in bulk. Nothing is read back but the ended clocks, by the function
    returned: the caller calls it once it has sent the rest of its batch, so that inside
    ``core.bulk.pipelined`` the database keeps writing while Python prepares that rest."""
    if not cases:
        return lambda: None
    ids = [c.pk for c in cases]
    reason = str(_("Overdue: escalated automatically"))
    befores = {c.pk: {f: getattr(c, f) for f in _ESCALATED_FIELDS} for c in cases}
    delta = tallies.Delta()
    ended = [
        deadlines.send_end_clocks(
            [c.pk for c in cases if c.deadline_stage and (c.due_at is not None and now > c.due_at) is late],
            now,
            outcome,
        )
        for outcome, late in ((DeadlineOutcome.LATE, True), (DeadlineOutcome.MET, False))
    ]
    groups: dict[tuple, list[int]] = {}
    clocks, events, memo = [], [], {}
    for case in cases:
        delta.add_facts(tallies.facts(case), -1)
        previous, old_level = case.status, case.level
        deadlines.end_deadline_fields(case)
        case.level, case.escalation_count = _next_level(old_level), case.escalation_count + 1
        case.status, case.department_id, case.version = Status.RECORDED, None, case.version + 1
        row = deadlines.plan_clock(case, Stage.HANDLE, now, memo=memo)
        if row is not None:
            clocks.append(row)
        delta.add_facts(tallies.facts(case), 1)
        key = (case.level, case.deadline_stage, case.warn_at, case.due_at, case.overdue_action)
        groups.setdefault(key, []).append(case.pk)
        events.append(
            {
                "case_id": case.pk,
                "kind": EventKind.ESCALATED,
                "from_status": previous,
                "to_status": case.status,
                "note": reason,
                "data": {"from": old_level, "to": case.level},
            }
        )
    for (level, stage, warn_at, due_at, action), pks in groups.items():
        Case.objects.filter(pk__any=pks).update(
            level=level,
            escalation_count=F("escalation_count") + 1,
            status=Status.RECORDED,
            department=None,
            deadline_stage=stage,
            warn_at=warn_at,
            due_at=due_at,
            overdue_action=action,
            warned_at=None,
            overdue_at=None,
            version=F("version") + 1,
            updated_at=now,
        )
    _drop_assisting_units(ids)
    bulk.insert_values(CaseDeadline, clocks, ids=False)
    bulk.insert_values(CaseEvent, events, ids=False)
    log_changes(
        (case, ChangeAction.UPDATE, befores[case.pk], {f: getattr(case, f) for f in _ESCALATED_FIELDS})
        for case in cases
    )
    url = _url_for_each("portal:case")
    titles: dict[str, str] = {}
    notify_many(
        (
            [case.reporter_id],
            {
                "kind": "case_status",
                "title": titles.get(case.level) or titles.setdefault(case.level, _escalated_title(case)),
                "body": case.title,
                "url": url(case.pk),
            },
        )
        for case in cases
        if case.reporter_id
    )

    def finish() -> None:
        for collect in ended:
            collect(delta)
        delta.apply()

    return finish
