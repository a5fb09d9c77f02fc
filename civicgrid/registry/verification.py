"""Annual verification (集中核实, B3): services (writes) and selectors (reads) for campaigns and checks.

An official starts a campaign for an area; every record living there (active people, houses,
organisations, shops) becomes a check in its grid, assigned to the grid's worker. The worker confirms
the record, corrects it (people: through ``services.person_update``) or reports it gone (people:
``services.person_move_out``). Progress is counted per grid and per community in SQL; what is left
pending when the campaign closes is listed.

Check creation runs synchronously, inside the campaign's own transaction: a campaign is never visible
half-built, and a failure leaves nothing behind. The checks are written by the database itself, one
``INSERT … SELECT`` per kind of record (the SELECT built and scoped by the ORM). Measured on a
district of 50.6k people (76.6k checks with its houses, organisations and shops): 0.9 s on SQLite,
about 3 s on PostgreSQL (most of it maintaining the check table's indexes). Campaigns are started by
street and community officials, whose areas are a fraction of that, so no Huey task: it would also
need a "preparing" campaign status so that workers never see a partial list. Revisit if city-wide
campaigns are wanted (≈400k checks, ≈15 s on PostgreSQL).

Concurrency: starting locks the campaign area and its ancestors (``select_for_update``) so two
overlapping campaigns cannot start at once on PostgreSQL (SQLite serialises writers anyway). A result
locks its check row, so a phone sending the same result twice is recorded once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    Count,
    DateTimeField,
    Expression,
    F,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Cast, Concat, Left, Substr
from django.utils import timezone
from django.utils.translation import gettext as _

from civicgrid.areas.models import Area
from civicgrid.core import scope
from civicgrid.core.services import OutOfScopeError

from . import services
from .choices import PersonEventKind, PersonStatus
from .models import House, Organisation, Person, PersonEvent, Shop, VerificationCampaign, VerificationCheck
from .models.verification import CampaignStatus, CheckStatus

#: Fields of a person a grid worker may correct during verification (``services.person_update`` does it).
CORRECTABLE = ("name", "phone", "person_type", "id_kind", "id_number", "birth_date", "sex", "nationality",
               "ethnicity", "relation")  # fmt: skip
#: Progress grouping: how many leading digits of a grid's hierarchical code name the group.
GROUP_LENGTH = {"grid": 15, "community": 12}
DONE = (CheckStatus.CONFIRMED, CheckStatus.CORRECTED, CheckStatus.GONE)


# ---- what a campaign covers ---------------------------------------------------------------------


def _name_and_address() -> Expression:
    return Case(
        When(address="", then=F("name")),
        default=Concat(F("name"), Value(" · "), F("address"), output_field=CharField()),
        output_field=CharField(),
    )


def _house_label() -> Expression:
    return Case(
        When(~Q(address=""), then=F("address")),
        default=Concat(
            F("building__name"), Value(" "), F("unit_no"), Value("-"), F("room_no"), output_field=CharField()
        ),
        output_field=CharField(),
    )


#: Every kind of record a campaign verifies: the model, which of its rows count, and the check's label.
SOURCES: tuple[tuple[type, Q, Callable[[], Expression]], ...] = (
    (Person, Q(status=PersonStatus.ACTIVE), _name_and_address),
    (House, Q(), _house_label),
    (Organisation, Q(), _name_and_address),
    (Shop, Q(), _name_and_address),
)


def _prefixes(code: str) -> list[str]:
    """The code and every prefix of it: the hierarchical codes of the area and all its ancestors."""
    return [code[:n] for n in range(1, len(code) + 1)]


def _overlapping_open(area: Area) -> QuerySet:
    """Open campaigns over this area, one of its ancestors or one of its descendants."""
    code = area.scope_code
    return VerificationCampaign.objects.filter(status=CampaignStatus.OPEN).filter(
        Q(area_code__in=_prefixes(code)) | scope.prefix_q("area_code", code)
    )


# ---- campaign services ----------------------------------------------------------------------------


@transaction.atomic
def campaign_start(
    *, actor, area: Area, name: str, year: int, due_date: date | None = None
) -> VerificationCampaign:
    """Start verifying everything in ``area``: one check per active person, house, organisation and
    shop, in the record's grid, assigned to that grid's worker. One open campaign per part of the
    tree: an open campaign over the area, an ancestor or a descendant refuses the new one."""
    if actor is not None and not scope.covers_area(
        actor, "registry.add_verificationcampaign", area.scope_code
    ):
        raise ValidationError({"area": _("This area is outside your data scope.")})
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("Give the campaign a name.")})
    if due_date is not None and due_date < timezone.localdate():
        raise ValidationError({"due_date": _("The due date is in the past.")})
    # Lock the area and its ancestors (top down): overlapping starts wait for each other.
    list(
        Area.objects.select_for_update()
        .filter(scope_code__in=_prefixes(area.scope_code))
        .order_by("scope_code")
    )
    other = _overlapping_open(area).select_related("area").first()
    if other is not None:
        raise ValidationError(
            {
                "area": _("The campaign “%(name)s” over %(area)s is still in progress here; close it first.")
                % {"name": other.name, "area": other.area.name}
            }
        )
    campaign = VerificationCampaign(
        name=name, year=year, due_date=due_date, area=area, area_code=area.scope_code, created_by=actor
    )
    campaign.full_clean()
    campaign.save()
    campaign.check_count = _create_checks(campaign, actor)
    campaign.save(update_fields=["check_count", "updated_at"])
    return campaign


def _create_checks(campaign: VerificationCampaign, actor) -> int:
    """Write the campaign's checks with one ``INSERT … SELECT`` per kind of record: the database
    copies the rows itself (the SELECT is built and scoped by the ORM, so it is the same query a
    list would run). No model objects, no rows through Python: 50k people and their houses take a
    fraction of a second. Like bulk_create, it writes no change-log rows; the campaign's own are."""
    now = timezone.now()
    table = connection.ops.quote_name(VerificationCheck._meta.db_table)
    total = 0
    for model, condition, label in SOURCES:
        values = {
            "created_at": Value(now, output_field=DateTimeField()),
            "updated_at": Value(now, output_field=DateTimeField()),
            "campaign": Value(campaign.pk, output_field=BigIntegerField()),
            "content_type": Value(ContentType.objects.get_for_model(model).pk, output_field=IntegerField()),
            "object_id": F("pk"),
            "object_repr": Left(label(), 200),
            "area": F("area_id"),
            "area_code": F("area_code"),
            "assignee": F("area__grid_worker_id"),
            # Cast: PostgreSQL types a bare NULL in a SELECT list as text.
            "created_by": Cast(Value(actor.pk if actor is not None else None), BigIntegerField()),
            "status": Value(CheckStatus.PENDING, output_field=CharField()),
            "note": Value("", output_field=CharField()),
        }
        # Aliases in column order; selecting only annotations keeps that order in the SQL.
        aliases = {f"c{i}": expression for i, expression in enumerate(values.values())}
        select = model.objects.in_area(campaign.area_code).filter(condition).order_by().annotate(**aliases)
        sql, params = select.values(*aliases).query.get_compiler(connection=connection).as_sql()
        columns = ", ".join(
            connection.ops.quote_name(VerificationCheck._meta.get_field(name).column) for name in values
        )
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {table} ({columns}) {sql}", params)
            total += cursor.rowcount
    return total


@transaction.atomic
def campaign_close(*, actor, campaign: VerificationCampaign) -> VerificationCampaign:
    """Close the campaign: results are no longer accepted; what is still pending stays listed as
    unverified. Closing a closed campaign changes nothing."""
    qs = VerificationCampaign.objects.select_for_update()
    if actor is not None:
        qs = qs.visible_to(actor, "change")
    locked = qs.filter(pk=campaign.pk).first()
    if locked is None:
        raise OutOfScopeError(_("This campaign is outside your data scope."))
    if locked.status == CampaignStatus.CLOSED:
        return locked
    locked.snapshot()
    locked.status, locked.closed_at = CampaignStatus.CLOSED, timezone.now()
    locked.save(update_fields=["status", "closed_at", "updated_at"])
    return locked


# ---- check services (the grid worker's results) --------------------------------------------------


def _lock_check(actor, check: VerificationCheck) -> VerificationCheck:
    """The check, locked and re-read; refused when out of the actor's scope or the campaign is closed."""
    qs = VerificationCheck.objects.select_for_update()
    if actor is not None:
        qs = qs.visible_to(actor, "change")
    locked = qs.filter(pk=check.pk).first()
    if locked is None:
        raise OutOfScopeError(_("This check is outside your data scope."))
    locked.campaign = VerificationCampaign.objects.get(pk=locked.campaign_id)
    if locked.campaign.status != CampaignStatus.OPEN:
        raise ValidationError({"campaign": _("This campaign is closed; results are no longer accepted.")})
    return locked


def _target(check: VerificationCheck):
    """The record the check is about (None if it has been deleted since)."""
    model = ContentType.objects.get_for_id(check.content_type_id).model_class()
    qs = model.objects.all()
    if model is Person:
        qs = qs.select_related("area", "household")
    return qs.filter(pk=check.object_id).first()


def is_person(check: VerificationCheck) -> bool:
    return check.content_type_id == ContentType.objects.get_for_model(Person).pk


def _record_result(check: VerificationCheck, actor, status: str, note: str) -> VerificationCheck:
    check.snapshot()
    check.status, check.note = status, (note or "")[:500]
    check.checked_at, check.checked_by = timezone.now(), actor
    check.save(update_fields=["status", "note", "checked_at", "checked_by", "updated_at"])
    return check


def _mark_verified(person: Person, actor, *, event: bool, note: str = "") -> None:
    """Stamp the person as verified now; ``event``: also write a VERIFIED history row."""
    if getattr(person, "_audit_before", None) is None:
        person.snapshot()
    person.verified_at = timezone.now()
    person.save(update_fields=["verified_at", "updated_at"])
    if event:
        PersonEvent.objects.create(
            person=person,
            kind=PersonEventKind.VERIFIED,
            date=timezone.localdate(),
            area=person.area,
            created_by=actor,
            note=(note or "")[:500],
        )


def _refuse_if_gone(check: VerificationCheck) -> None:
    if check.status == CheckStatus.GONE:
        raise ValidationError({"status": _("This record was already reported as no longer here.")})


@transaction.atomic
def check_confirm(*, actor, check: VerificationCheck, note: str = "") -> VerificationCheck:
    """The record is right. Confirming a confirmed (or corrected) check again changes nothing."""
    check = _lock_check(actor, check)
    if check.status in (CheckStatus.CONFIRMED, CheckStatus.CORRECTED):
        return check
    _refuse_if_gone(check)
    target = _target(check)
    if target is None:
        raise ValidationError({"check": _("This record no longer exists; report it as gone.")})
    if isinstance(target, Person):
        if target.status != PersonStatus.ACTIVE:
            raise ValidationError({"check": _("This person no longer lives here; report them as gone.")})
        _mark_verified(target, actor, event=True, note=note)
    return _record_result(check, actor, CheckStatus.CONFIRMED, note)


def _differs(person: Person, field: str, value) -> bool:
    if field == "phone":
        return services.clean_phone(value or "") != (person.phone or "")
    if field == "name":
        return (value or "").strip() != person.name
    if field in ("id_number", "nationality") and isinstance(value, str):
        return value.strip().upper() != (getattr(person, field) or "").upper()
    return value != getattr(person, field)


@transaction.atomic
def check_correct(*, actor, check: VerificationCheck, changes: dict, note: str = "") -> VerificationCheck:
    """The record is wrong. For a person, ``changes`` (name, phone, person type …) are applied through
    ``services.person_update``, which writes the CORRECTED history row. For other records the note
    says what is wrong (their own pages fix them). Sending the same correction twice changes nothing."""
    if not isinstance(changes, dict):
        raise ValidationError({"changes": _("Give the corrections as field: value pairs.")})
    check = _lock_check(actor, check)
    _refuse_if_gone(check)
    target = _target(check)
    if target is None:
        raise ValidationError({"check": _("This record no longer exists; report it as gone.")})
    if not isinstance(target, Person):
        if changes:
            raise ValidationError(
                {"changes": _("Only people's details are corrected here; describe the problem in the note.")}
            )
        note = (note or "").strip()
        if not note:
            raise ValidationError({"note": _("Say what is wrong with this record.")})
        if check.status == CheckStatus.CORRECTED and check.note == note[:500]:
            return check
        return _record_result(check, actor, CheckStatus.CORRECTED, note)
    unknown = set(changes) - set(CORRECTABLE)
    if unknown:
        raise ValidationError({f: _("This field cannot be corrected here.") for f in sorted(unknown)})
    diff = {field: value for field, value in changes.items() if _differs(target, field, value)}
    if not diff:
        if check.status == CheckStatus.CORRECTED:
            return check
        raise ValidationError({"changes": _("Nothing differs from the record; confirm it instead.")})
    services.person_update(actor=actor, person=target, **diff)
    _mark_verified(target, actor, event=False)
    fields = ", ".join(str(Person._meta.get_field(f).verbose_name) for f in sorted(diff))
    return _record_result(check, actor, CheckStatus.CORRECTED, note or _("Corrected: %(f)s") % {"f": fields})


@transaction.atomic
def check_gone(*, actor, check: VerificationCheck, note: str = "") -> VerificationCheck:
    """The record is no longer here. A person still living here is moved out (their history keeps
    them); other records are flagged for the office. Reporting it twice changes nothing."""
    check = _lock_check(actor, check)
    if check.status == CheckStatus.GONE:
        return check
    target = _target(check)
    if isinstance(target, Person):
        if target.status == PersonStatus.ACTIVE:
            services.person_move_out(
                actor=actor, person=target, note=note or _("Not found during verification")
            )
        _mark_verified(target, actor, event=False)
    return _record_result(check, actor, CheckStatus.GONE, note)


# ---- selectors -------------------------------------------------------------------------------------


def _covering_codes(user) -> list[str]:
    """Hierarchical codes of the areas above the user's posts that grant viewing campaigns."""
    codes: set[str] = set()
    for post in scope.user_scopes(user):
        if "registry.view_verificationcampaign" in post.perms:
            codes.update(_prefixes(post.area_code)[:-1])
    return sorted(codes)


def campaigns_for(user, queryset: QuerySet | None = None) -> QuerySet:
    """Campaigns the user may see: those in their scope, and those over an area above one of their
    posts (a street campaign is visible to the community official, who sees only their part of its
    progress, since checks stay scoped)."""
    qs = queryset if queryset is not None else VerificationCampaign.objects.all()
    q = scope.scope_filter(
        user,
        "registry.view_verificationcampaign",
        field=VerificationCampaign.scope_field,
        owner_field=VerificationCampaign.owner_field,
    )
    if q is not None and not q:  # everything
        return qs
    covering = _covering_codes(user) if user.is_authenticated and user.is_active else []
    if covering:
        q = Q(area_code__in=covering) if q is None else q | Q(area_code__in=covering)
    return qs.none() if q is None else qs.filter(q)


def campaign_progress(campaign: VerificationCampaign, *, by: str = "grid", user) -> list[dict]:
    """Per grid or per community in the viewer's scope: total, confirmed, corrected, gone, pending and
    percent done. One grouped query for the counts, one for the area names."""
    if by not in GROUP_LENGTH:
        raise ValidationError({"by": _("Group by “grid” or “community”.")})
    rows = list(
        VerificationCheck.objects.visible_to(user, "view")
        .filter(campaign=campaign)
        .annotate(key=Substr("area_code", 1, GROUP_LENGTH[by]))
        .values("key")
        .annotate(
            total=Count("id"),
            confirmed=Count("id", filter=Q(status=CheckStatus.CONFIRMED)),
            corrected=Count("id", filter=Q(status=CheckStatus.CORRECTED)),
            gone=Count("id", filter=Q(status=CheckStatus.GONE)),
            pending=Count("id", filter=Q(status=CheckStatus.PENDING)),
        )
        .order_by("key")
    )
    areas = {
        a["scope_code"]: a
        for a in Area.objects.filter(scope_code__in=[r["key"] for r in rows]).values(
            "pk", "scope_code", "code", "name", "grid_worker__display_name", "grid_worker__username"
        )
    }
    result = []
    for row in rows:
        area = areas.get(row["key"], {})
        result.append(
            {
                "area_id": area.get("pk"),
                "code": area.get("code", row["key"]),
                "name": area.get("name", row["key"]),
                "worker": area.get("grid_worker__display_name") or area.get("grid_worker__username") or "",
                **{k: row[k] for k in ("total", "confirmed", "corrected", "gone", "pending")},
                "percent": _percent(row),
            }
        )
    return result


def _percent(row: dict) -> float:
    done = row["confirmed"] + row["corrected"] + row["gone"]
    return round(100 * done / row["total"], 1) if row["total"] else 0.0


def progress_totals(rows: Iterable[dict]) -> dict:
    """The sum of progress rows (over the viewer's part of the campaign)."""
    totals = dict.fromkeys(("total", "confirmed", "corrected", "gone", "pending"), 0)
    for row in rows:
        for key in totals:
            totals[key] += row[key]
    totals["percent"] = _percent(totals)
    return totals


def campaign_summaries(campaign_ids: list[int], user) -> dict[int, dict]:
    """Total and done per campaign in the viewer's scope (one grouped query), for campaign lists."""
    rows = (
        VerificationCheck.objects.visible_to(user, "view")
        .filter(campaign_id__in=campaign_ids)
        .values("campaign_id")
        .annotate(total=Count("id"), done=Count("id", filter=Q(status__in=DONE)))
        .order_by()
    )
    return {
        r["campaign_id"]: {**r, "percent": round(100 * r["done"] / r["total"], 1) if r["total"] else 0.0}
        for r in rows
    }


def unverified(campaign: VerificationCampaign, user) -> QuerySet:
    """The campaign's checks still pending, in the viewer's scope, by grid (paginate it)."""
    return (
        VerificationCheck.objects.visible_to(user, "view")
        .filter(campaign=campaign, status=CheckStatus.PENDING)
        .select_related("area", "assignee", "content_type")
        .order_by("area_code", "content_type_id", "id")
    )


def my_checks(user, *, status: str | None = CheckStatus.PENDING) -> QuerySet:
    """The checks the user may act on in open campaigns (a grid worker: their grid's)."""
    qs = VerificationCheck.objects.visible_to(user, "change").filter(campaign__status=CampaignStatus.OPEN)
    if status:
        qs = qs.filter(status=status)
    return qs.select_related("campaign", "content_type").order_by("content_type_id", "object_repr", "id")
