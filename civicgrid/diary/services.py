"""Writes to the diary. Every service checks the actor's function permission and data scope, runs in
one transaction and re-checks the result against the scope before it commits; the change log (the
audit layer of every model) records each create, change, link and void with who did it.

A record is its author's: only the author changes or voids it (``version`` guards against two
edits at once). A replay of the phone's outbox (the same author and idempotency key) returns the
first record, never a second one. A record becomes a case at most once: the second attempt gets a
``RecordAlreadyCase`` conflict carrying the existing case."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from civicgrid.areas.choices import AreaLevel
from civicgrid.areas.models import Area
from civicgrid.areas.selectors import grid_index
from civicgrid.core import scope
from civicgrid.core.services import ConflictError, ensure_in_scope

from .choices import (
    KIND_CASE_GROUP,
    MEETING_KINDS,
    MOOD_KINDS,
    SEVERITY_KINDS,
    SEVERITY_URGENCY,
    Mood,
    RecordKind,
    Severity,
)
from .models import ATTENDEES_MAX, CONTENT_MAX, DiaryPhoto, DiaryRecord
from .selectors import record_by_key

#: Most photos one record may carry.
MAX_PHOTOS = 9
#: Most registry records of one kind linked to a record.
MAX_LINKS = 50
#: How far ahead of the server's clock a phone's clock may run before a time counts as future.
CLOCK_SKEW = timedelta(minutes=10)
#: Areas a record may belong to: where it happened, a grid or (meetings, rounds) a community.
RECORD_LEVELS = (AreaLevel.GRID, AreaLevel.COMMUNITY)

#: The registry links of a record: argument/field name → (model path, label for messages).
LINKS = {
    "people": "Person",
    "households": "Household",
    "houses": "House",
    "buildings": "Building",
    "organisations": "Organisation",
    "shops": "Shop",
    "facilities": "Facility",
    "attendees": "Person",
}

#: Fields ``record_update`` may change.
EDITABLE = {
    "kind",
    "occurred_at",
    "area",
    "place",
    "lat",
    "lng",
    "summary",
    "content",
    "mood",
    "severity",
    "follow_up",
    "follow_up_note",
    "attendee_names",
    *LINKS,
}


class RecordAlreadyCase(ConflictError):
    """The record already became a case (``case``): a second case is never made."""

    def __init__(self, case):
        super().__init__(
            _("This record already became case %(number)s.") % {"number": case.number}, code="already_case"
        )
        self.case = case


# ---- helpers ---------------------------------------------------------------------------------


def _require_perm(actor, perm: str) -> None:
    if actor is None or not actor.is_authenticated or not actor.has_perm(perm):
        raise PermissionDenied(_("Your role does not allow this."))


def _registry_model(name: str):
    from civicgrid.registry import models as registry_models

    return getattr(registry_models, name)


def _ids(values, field: str) -> tuple[list[int], list]:
    """Ids and instances given for a link field (instances pass through; ids are checked)."""
    ids, instances = [], []
    if values is None:
        return ids, instances
    if isinstance(values, (str, int)):
        values = [values]
    for value in values:
        if hasattr(value, "pk"):
            instances.append(value)
            continue
        try:
            number = int(str(value).strip())
        except (TypeError, ValueError):
            raise ValidationError({field: _("%(value)s is not an id.") % {"value": value}})
        if number <= 0:
            raise ValidationError({field: _("%(value)s is not an id.") % {"value": value}})
        ids.append(number)
    return ids, instances


def resolve_links(actor, **given) -> dict[str, list]:
    """The registry records named by each link field (ids or instances), each one checked to be
    within what ``actor`` may see: a record out of scope is refused like a missing one, with the
    field named."""
    out: dict[str, list] = {}
    errors: dict[str, str] = {}
    for field, values in given.items():
        model = _registry_model(LINKS[field])
        ids, instances = _ids(values, field)
        wanted = list(dict.fromkeys([*ids, *(i.pk for i in instances)]))
        if len(wanted) > MAX_LINKS:
            errors[field] = _("At most %(n)d per record.") % {"n": MAX_LINKS}
            continue
        if not wanted:
            out[field] = []
            continue
        qs = model.objects.all()
        if actor is not None:
            qs = model.objects.visible_to(actor, "view")
        found = qs.in_bulk(wanted)
        missing = [str(pk) for pk in wanted if pk not in found]
        if missing:
            errors[field] = _("Not found in your data scope: %(ids)s.") % {"ids": ", ".join(missing)}
            continue
        out[field] = [found[pk] for pk in wanted]
    if errors:
        raise ValidationError(errors)
    return out


def _clean_time(value, field: str = "occurred_at") -> datetime:
    if value in (None, ""):
        return timezone.now()
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
        if parsed is None:
            raise ValidationError({field: _("Give a date and time (ISO 8601).")})
        value = parsed
    if not isinstance(value, datetime):
        raise ValidationError({field: _("Give a date and time (ISO 8601).")})
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    if value > timezone.now() + CLOCK_SKEW:
        raise ValidationError({field: _("This time is in the future.")})
    return value


def _clean_point(lat, lng) -> tuple[float | None, float | None]:
    if lat in (None, "") and lng in (None, ""):
        return None, None
    if lat in (None, "") or lng in (None, ""):
        raise ValidationError({"lat" if lat in (None, "") else "lng": _("Give both latitude and longitude.")})
    try:
        lat, lng = float(lat), float(lng)
    except (TypeError, ValueError):
        raise ValidationError({"lat": _("Latitude and longitude must be numbers.")})
    if not (-90 <= lat <= 90 and -180 <= lng <= 180) or lat != lat or lng != lng:
        raise ValidationError({"lat": _("Latitude and longitude are out of range.")})
    return lat, lng


def _text(value, field: str, limit: int, *, required_message: str | None = None) -> str:
    value = (value or "").strip() if isinstance(value, str) or value is None else str(value).strip()
    if required_message and not value:
        raise ValidationError({field: required_message})
    if len(value) > limit:
        raise ValidationError(
            {field: _("At most %(n)d characters (this has %(m)d).") % {"n": limit, "m": len(value)}}
        )
    return value


def _clean_fields(data: dict) -> dict:
    """Check a record's own fields as a whole (``data`` holds every field); errors name the field."""
    kind = data["kind"]
    if kind not in RecordKind.values:
        raise ValidationError({"kind": _("Choose one of the kinds of record.")})
    data["summary"] = _text(data["summary"], "summary", 200, required_message=_("Write what happened."))
    data["content"] = _text(data["content"], "content", CONTENT_MAX)
    data["place"] = _text(data["place"], "place", 200)
    data["follow_up_note"] = _text(data["follow_up_note"], "follow_up_note", 500)
    data["attendee_names"] = _text(data["attendee_names"], "attendee_names", ATTENDEES_MAX)
    data["mood"] = data["mood"] or ""
    data["severity"] = data["severity"] or ""
    if data["mood"] and data["mood"] not in Mood.values:
        raise ValidationError({"mood": _("Choose one of the listed moods.")})
    if data["mood"] and kind not in MOOD_KINDS:
        raise ValidationError({"mood": _("This kind of record has no mood.")})
    if data["severity"] and data["severity"] not in Severity.values:
        raise ValidationError({"severity": _("Choose one of the listed severities.")})
    if data["severity"] and kind not in SEVERITY_KINDS:
        raise ValidationError({"severity": _("Only disputes and hazards have a severity.")})
    if kind not in MEETING_KINDS and (data["attendee_names"] or data.get("attendees")):
        field = "attendee_names" if data["attendee_names"] else "attendees"
        raise ValidationError({field: _("Only meetings have attendees.")})
    data["follow_up"] = bool(data["follow_up"])
    if data["follow_up_note"] and not data["follow_up"]:
        data["follow_up"] = True
    data["lat"], data["lng"] = _clean_point(data["lat"], data["lng"])
    return data


def _area_of_links(links: dict[str, list]) -> Area | None:
    for field in ("households", "people", "houses", "buildings", "organisations", "shops", "facilities"):
        for obj in links.get(field, ()):
            return obj.area
    return None


def resolve_area(actor, *, area: Area | None, lat, lng, links: dict[str, list]) -> Area:
    """Where a record happened: the area given, else the grid of its point, else the grid of the
    first linked registry record, else the actor's own grid (a grid worker's). The area must be a
    grid or a community within the actor's scope for recording."""
    if area is None and lat is not None and lng is not None:
        grid_id = grid_index().locate(lat, lng)
        if grid_id is None:
            raise ValidationError({"lat": _("This point is outside the city's grids.")})
        area = Area.objects.get(pk=grid_id)
    if area is None:
        area = _area_of_links(links)
    if area is None and actor is not None:
        area = Area.objects.filter(grid_worker=actor).first()
    if area is None:
        raise ValidationError({"area": _("Say where it happened: the grid, a location or a household.")})
    if area.level not in RECORD_LEVELS:
        raise ValidationError({"area": _("A record belongs to a grid or a community.")})
    if actor is not None and not scope.covers_area(actor, "diary.add_diaryrecord", area.scope_code):
        raise ValidationError({"area": _("This is outside your data scope.")})
    return area


def _photo_uploads(photos) -> list:
    """The uploads checked (real images within the limits, location removed) before anything is
    written, as ``(content, size)`` pairs: a bad photo refuses the whole record, leaving no file."""
    from civicgrid.cases.photos import validate_photo

    photos = [p for p in (photos or ()) if p]
    if len(photos) > MAX_PHOTOS:
        raise ValidationError({"photos": _("At most %(n)d photos.") % {"n": MAX_PHOTOS}})
    return [validate_photo(upload) for upload in photos]


def _add_photos(record: DiaryRecord, photos, actor) -> None:
    for content, size in photos:
        photo = DiaryPhoto(record=record, uploaded_by=actor, size=size)
        photo.image.save(content.name, content, save=False)
        photo.save()


def _set_links(record: DiaryRecord, links: dict[str, list]) -> None:
    for field, objects in links.items():
        getattr(record, field).set(objects)


# ---- record, edit, void ----------------------------------------------------------------------


def record_create(
    *,
    actor,
    kind: str,
    summary: str,
    occurred_at=None,
    area: Area | None = None,
    place: str = "",
    lat=None,
    lng=None,
    content: str = "",
    mood: str = "",
    severity: str = "",
    follow_up: bool = False,
    follow_up_note: str = "",
    attendee_names: str = "",
    people: Iterable = (),
    households: Iterable = (),
    houses: Iterable = (),
    buildings: Iterable = (),
    organisations: Iterable = (),
    shops: Iterable = (),
    facilities: Iterable = (),
    attendees: Iterable = (),
    photos=(),
    idempotency_key: str = "",
) -> tuple[DiaryRecord, bool]:
    """Record what happened; returns ``(record, created)``. The same author sending the same
    ``idempotency_key`` again gets the first record back (``created`` False), whatever else it sends."""
    _require_perm(actor, "diary.add_diaryrecord")
    key = (idempotency_key or "").strip()
    if len(key) > 100:
        raise ValidationError({"idempotency_key": _("At most 100 characters.")})
    if key:
        existing = record_by_key(actor, key)
        if existing is not None:
            return existing, False
    data = _clean_fields(
        {
            "kind": kind,
            "summary": summary,
            "content": content,
            "place": place,
            "mood": mood,
            "severity": severity,
            "follow_up": follow_up,
            "follow_up_note": follow_up_note,
            "attendee_names": attendee_names,
            "attendees": list(attendees or ()),
            "lat": lat,
            "lng": lng,
        }
    )
    data.pop("attendees")
    when = _clean_time(occurred_at)
    photos = _photo_uploads(photos)
    links = resolve_links(
        actor,
        people=people,
        households=households,
        houses=houses,
        buildings=buildings,
        organisations=organisations,
        shops=shops,
        facilities=facilities,
        attendees=attendees,
    )
    area = resolve_area(actor, area=area, lat=data["lat"], lng=data["lng"], links=links)
    record = DiaryRecord(area=area, occurred_at=when, created_by=actor, idempotency_key=key, **data)
    record.full_clean(exclude=["area", "created_by", "case", "voided_by"], validate_constraints=False)
    try:
        with transaction.atomic():
            record.save()
            _set_links(record, {f: objs for f, objs in links.items() if objs})
            _add_photos(record, photos, actor)
            ensure_in_scope(record, actor, "add")
    except IntegrityError:
        if not key:
            raise
        existing = record_by_key(actor, key)  # the same item, sent twice at once
        if existing is None:
            raise
        return existing, False
    return record, True


def _lock(record: DiaryRecord | int, actor, action: str) -> DiaryRecord:
    """The record locked for the transaction, if ``actor`` may ``action`` it: in scope, and (for
    changes) their own and not voided."""
    pk = record if isinstance(record, int) else record.pk
    qs = DiaryRecord.objects.select_for_update(of=("self",)).select_related("area")
    if actor is not None:
        qs = qs.visible_to(actor, action)
    fresh = qs.filter(pk=pk).first()
    if fresh is None:
        raise PermissionDenied(_("You may not do this on this record."))
    return fresh


def _check_own(record: DiaryRecord, actor) -> None:
    if actor is not None and not actor.is_superuser and record.created_by_id != actor.pk:
        raise PermissionDenied(_("Only the author may change a record."))


def _check_version(record: DiaryRecord, expected_version) -> None:
    if expected_version in (None, ""):
        return
    try:
        expected = int(expected_version)
    except (TypeError, ValueError):
        raise ValidationError({"expected_version": _("Give the version number you saw.")})
    if expected != record.version:
        raise ConflictError(_("Somebody changed this record in the meantime; reload and try again."))


def record_update(
    *, actor, record: DiaryRecord | int, expected_version=None, add_photos=(), remove_photos=(), **fields
) -> DiaryRecord:
    """Correct one's own record. Only the fields given change; link fields replace the links of
    that kind. Refused on a voided record; ``expected_version`` (the version the author saw)
    turns a concurrent edit into a conflict."""
    _require_perm(actor, "diary.change_diaryrecord")
    unknown = set(fields) - EDITABLE
    if unknown:
        raise ValidationError({f: _("This field cannot be changed here.") for f in sorted(unknown)})
    photos = _photo_uploads(add_photos)
    with transaction.atomic():
        record = _lock(record, actor, "change")
        _check_own(record, actor)
        if record.is_void:
            raise ConflictError(_("This record is voided."), code="voided")
        _check_version(record, expected_version)
        record.snapshot()
        link_fields = {f: fields.pop(f) for f in list(fields) if f in LINKS}
        links = resolve_links(actor, **link_fields)
        current = {f: getattr(record, f) for f in EDITABLE - set(LINKS) - {"area", "occurred_at"}}
        current.update({k: v for k, v in fields.items() if k in current})
        current["attendees"] = links.get("attendees", [])
        if "attendees" not in links and "kind" in fields:
            current["attendees"] = list(record.attendees.all())
        data = _clean_fields(current)
        data.pop("attendees")
        if "occurred_at" in fields:
            record.occurred_at = _clean_time(fields["occurred_at"])
        area = record.area
        if "area" in fields:  # None: from the point or the links, as when recording
            area = resolve_area(actor, area=fields["area"], lat=data["lat"], lng=data["lng"], links=links)
        for name, value in data.items():
            setattr(record, name, value)
        record.area = area
        remove = {int(p) for p in (remove_photos or ()) if str(p).isdigit()}
        kept = record.photos.exclude(pk__in=remove).count()
        if kept + len(photos) > MAX_PHOTOS:
            raise ValidationError({"photos": _("At most %(n)d photos.") % {"n": MAX_PHOTOS}})
        record.version += 1
        record.full_clean(exclude=["area", "created_by", "case", "voided_by"], validate_constraints=False)
        record.save(update_fields=[*data, "area", "occurred_at", "version", "updated_at"])
        _set_links(record, links)
        if remove:
            for photo in record.photos.filter(pk__in=remove):
                storage, name = photo.image.storage, photo.image.name
                photo.delete()
                transaction.on_commit(lambda storage=storage, name=name: storage.delete(name))
        _add_photos(record, photos, actor)
        ensure_in_scope(record, actor, "change")
    return record


def record_void(*, actor, record: DiaryRecord | int, reason: str, expected_version=None) -> DiaryRecord:
    """Withdraw one's own record (作废), saying why. The record stays, marked void, with its history;
    lists leave it out unless asked. A record that became a case stays attached to the case."""
    _require_perm(actor, "diary.delete_diaryrecord")
    reason = _text(reason, "reason", 500, required_message=_("Say why the record is voided."))
    with transaction.atomic():
        record = _lock(record, actor, "delete")
        _check_own(record, actor)
        if record.is_void:
            raise ConflictError(_("This record is voided."), code="voided")
        _check_version(record, expected_version)
        record.snapshot()
        record.voided_at, record.voided_by, record.void_reason = timezone.now(), actor, reason
        record.version += 1
        record.save(update_fields=["voided_at", "voided_by", "void_reason", "version", "updated_at"])
    return record


# ---- a record becomes a case -----------------------------------------------------------------


def default_case_category(record: DiaryRecord):
    """The category a record of this kind becomes by default: the leaf of the kind's group whose
    keywords its text matches best (if that category asks no required question), else the group
    itself; None for kinds without a group (the user chooses)."""
    from civicgrid.cases.models import Category
    from civicgrid.cases.selectors import suggest_categories

    group_key = KIND_CASE_GROUP.get(record.kind)
    if group_key is None:
        return None
    tree, code = group_key
    group = Category.objects.filter(kind=tree, code=code, is_active=True).first()
    if group is None:
        return None
    for suggestion in suggest_categories(f"{record.summary} {record.content}", limit=5):
        category = suggestion.category
        if category.parent_id == group.pk and not category.questions.filter(required=True).exists():
            return category
    return group


def _channel_for(record: DiaryRecord, actor) -> str:
    from civicgrid.accounts.models import Post
    from civicgrid.cases.choices import Channel

    if record.kind == RecordKind.VISIT:
        return Channel.VISIT
    if record.kind in MEETING_KINDS:
        return Channel.MEETING
    if Post.objects.filter(user=actor, is_active=True, role__code="grid_worker").exists():
        return Channel.GRID_WORKER
    return Channel.STAFF


def _case_point(record: DiaryRecord) -> tuple[float | None, float | None]:
    """Where the case is: the record's point if it lies in the record's area, else the first
    located linked place (building, house's building, organisation, shop, facility, household's or
    person's house), else the centre of the record's area."""
    candidates: list[tuple[float | None, float | None]] = [(record.lat, record.lng)]
    for building in record.buildings.all():
        candidates.append((building.lat, building.lng))
    for house in record.houses.select_related("building"):
        candidates.append((house.building.lat, house.building.lng))
    for field in ("organisations", "shops", "facilities"):
        for place in getattr(record, field).all():
            candidates.append((place.lat, place.lng))
    for household in record.households.select_related("house__building"):
        if household.house_id:
            candidates.append((household.house.building.lat, household.house.building.lng))
    for person in record.people.select_related("house__building"):
        if person.house_id:
            candidates.append((person.house.building.lat, person.house.building.lng))
    index = grid_index()
    prefix = record.area.scope_code
    grids = dict(Area.objects.filter(level=AreaLevel.GRID).in_area(prefix).values_list("pk", "scope_code"))
    for lat, lng in candidates:
        if lat is None or lng is None:
            continue
        grid_id = index.locate(lat, lng)
        if grid_id in grids:
            return lat, lng
    area = record.area
    if area.centre_lat is not None:
        return area.centre_lat, area.centre_lng
    return None, None


def case_description(record: DiaryRecord) -> str:
    from civicgrid.cases.models.cases import DESCRIPTION_MAX

    when = timezone.localtime(record.occurred_at)
    head = _("%(kind)s on %(when)s") % {"kind": record.get_kind_display(), "when": f"{when:%Y-%m-%d %H:%M}"}
    parts = [f"{head}：{record.summary}"]
    if record.content:
        parts.append(record.content)
    if record.follow_up_note:
        parts.append(_("Follow-up: %(note)s") % {"note": record.follow_up_note})
    text = "\n".join(parts)
    return text[:DESCRIPTION_MAX]


#: Errors of the cases' intake named after its arguments, renamed to the record's fields.
REPORT_FIELDS = {"address_string": "place", "description": "summary"}


def _report(case_services, **kwargs):
    try:
        case, _created = case_services.case_report(**kwargs)
    except ValidationError as exc:
        if not hasattr(exc, "error_dict"):
            raise
        raise ValidationError({REPORT_FIELDS.get(k, k): v for k, v in exc.message_dict.items()})
    return case


def record_to_case(
    *, actor, record: DiaryRecord | int, category=None, answers: dict | None = None, urgency: str = ""
):
    """ "One tap": make a case of the record through the cases' intake (``case_report``) with the
    record's text, place and photos, and link it. ``category`` defaults to the kind's (see
    ``default_case_category``); kinds without one must name it. A record that already became a
    case raises ``RecordAlreadyCase`` (its ``case`` is the existing one)."""
    from civicgrid.cases import services as case_services
    from civicgrid.cases.choices import Urgency

    _require_perm(actor, "diary.case_diaryrecord")
    _require_perm(actor, "cases.add_case")
    if urgency and urgency not in Urgency.values:
        raise ValidationError({"urgency": _("Unknown urgency.")})
    with transaction.atomic():
        record = _lock(record, actor, "case")
        if record.case_id is not None:
            raise RecordAlreadyCase(record.case)
        if record.is_void:
            raise ConflictError(_("This record is voided."), code="voided")
        if category is None:
            category = default_case_category(record)
        if category is None:
            raise ValidationError({"category": _("Choose the category of the case.")})
        lat, lng = _case_point(record)
        photos = list(record.photos.order_by("id"))
        files = []
        try:
            for photo in photos:
                files.append(photo.image.open("rb"))
            case = _report(
                case_services,
                actor=actor,
                category=category,
                description=case_description(record),
                channel=_channel_for(record, actor),
                title=record.summary[:200],
                lat=lat,
                lng=lng,
                address=record.place,
                urgency=urgency or SEVERITY_URGENCY.get(record.severity, ""),
                answers=answers,
                source="diary",
                idempotency_key=f"record:{record.pk}",
                photos=files,
            )
        finally:
            for handle in files:
                handle.close()
        ensure_in_scope(case, actor, "add")
        record.snapshot()
        record.case, record.case_made_at = case, timezone.now()
        record.version += 1
        record.save(update_fields=["case", "case_made_at", "version", "updated_at"])
    return case
