"""Reads of the diary: the list's filters (one definition for the pages and the API), the records of
a person or household, the registry pickers' search."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.db.models import F, Prefetch, Q, QuerySet
from django.utils import timezone

from civicgrid.core.masking import mask_document

from .models import DiaryPhoto, DiaryRecord

#: The link fields read with a record (names and ids only; one query each, whatever the page size).
LINK_FIELDS = (
    "people",
    "households",
    "houses",
    "buildings",
    "organisations",
    "shops",
    "facilities",
    "attendees",
)


def with_links(qs: QuerySet[DiaryRecord]) -> QuerySet[DiaryRecord]:
    """Records with their area, author, case, links and photos, in a fixed number of queries."""
    from civicgrid.registry.models import Building, Facility, House, Household, Person

    return qs.select_related("area__parent", "created_by", "case").prefetch_related(
        Prefetch("people", queryset=Person.objects.only("id", "name", "area_code").order_by("id")),
        Prefetch("attendees", queryset=Person.objects.only("id", "name", "area_code").order_by("id")),
        Prefetch("households", queryset=Household.objects.select_related("head")),
        Prefetch("houses", queryset=House.objects.select_related("building__compound")),
        Prefetch("buildings", queryset=Building.objects.select_related("compound")),
        "organisations",
        "shops",
        Prefetch("facilities", queryset=Facility.objects.select_related("category")),
        Prefetch("photos", queryset=DiaryPhoto.objects.order_by("id")),
    )


def filter_records(qs: QuerySet[DiaryRecord], data: dict, *, user) -> QuerySet[DiaryRecord]:
    """``qs`` narrowed by the cleaned filters of ``forms.RecordFilterForm`` (the page and the API)."""
    if data.get("area") is not None:
        qs = qs.in_area(data["area"].scope_code)
    if data.get("kind"):
        qs = qs.filter(kind=data["kind"])
    tz = timezone.get_current_timezone()
    if data.get("date_from"):
        qs = qs.filter(occurred_at__gte=datetime.combine(data["date_from"], time.min, tzinfo=tz))
    if data.get("date_to"):
        end = datetime.combine(data["date_to"], time.min, tzinfo=tz) + timedelta(days=1)
        qs = qs.filter(occurred_at__lt=end)
    if data.get("mine"):
        qs = qs.filter(created_by=user)
    author = (data.get("author") or "").strip()
    if author:
        qs = qs.filter(Q(created_by__username=author) | Q(created_by__display_name__startswith=author))
    if data.get("person") is not None:
        person = data["person"]
        links = Q(people=person) | Q(attendees=person)
        if person.household_id:
            links |= Q(households=person.household_id)
        qs = qs.filter(pk__in=DiaryRecord.objects.filter(links).values("pk"))
    if data.get("household") is not None:
        qs = qs.filter(households=data["household"])
    if data.get("follow_up") in ("yes", "no"):
        qs = qs.filter(follow_up=data["follow_up"] == "yes")
    if data.get("has_case") in ("yes", "no"):
        qs = qs.filter(case__isnull=data["has_case"] == "no")
    if not data.get("voided"):
        qs = qs.filter(voided_at__isnull=True)
    text = (data.get("q") or "").strip()
    if text:
        qs = qs.filter(Q(summary__icontains=text) | Q(place__icontains=text))
    return qs


def person_records(user, person, *, limit: int = 10) -> tuple[list[DiaryRecord], bool]:
    """The newest records ``user`` may see that name ``person``, list them as attending, or name
    their household; and whether there are more."""
    links = Q(people=person) | Q(attendees=person)
    if person.household_id:
        links |= Q(households=person.household_id)
    rows = list(
        DiaryRecord.objects.visible_to(user, "view")
        .filter(pk__in=DiaryRecord.objects.filter(links).values("pk"), voided_at__isnull=True)
        .select_related("created_by", "case")
        .order_by("-occurred_at", "-id")[: limit + 1]
    )
    return rows[:limit], len(rows) > limit


def record_by_key(author, key: str) -> DiaryRecord | None:
    """The record ``author`` made with the idempotency ``key`` (a replay of the phone's outbox or an
    API retry). The ``exclude`` repeats the condition of the partial unique index: SQLite only uses a
    partial index when the query states its condition."""
    if not key:
        return None
    return (
        DiaryRecord.objects.filter(created_by=author, idempotency_key=key).exclude(idempotency_key="").first()
    )


def my_records(user, *, limit: int = 50) -> list[DiaryRecord]:
    return list(
        DiaryRecord.objects.filter(created_by=user).select_related("area", "case").order_by("-id")[:limit]
    )


# ---- pickers ---------------------------------------------------------------------------------

#: What the pickers search, by the name of the link field.
LOOKUP_TYPES = ("people", "households", "houses", "buildings", "organisations", "shops", "facilities")
LOOKUP_LIMIT = 20


def _person_row(person) -> dict:
    detail = " · ".join(
        p for p in (mask_document(person.id_number, person.id_kind), person.address, person.area.name) if p
    )
    return {"id": person.pk, "label": person.name, "detail": detail}


def lookup(user, kind: str, q: str, *, limit: int = LOOKUP_LIMIT) -> list[dict]:
    """Registry records of ``kind`` that ``user`` may see matching ``q`` the way the registry
    searches them (people: start of the name, pinyin initials, phone, ID number; households: number
    or the head's name; places: start of the name or address), at most ``limit``."""
    from civicgrid.registry import selectors as registry_selectors
    from civicgrid.registry.lookups import Prefix
    from civicgrid.registry.models import Building, Facility, House, Household, Organisation, Person, Shop

    q = (q or "").strip()
    if not q or kind not in LOOKUP_TYPES:
        return []
    if kind == "people":
        qs = registry_selectors.search_people(
            Person.objects.visible_to(user, "view").filter(status="active").select_related("area"), q
        )
        return [_person_row(p) for p in qs.order_by("-id")[:limit]]
    if kind == "households":
        heads = registry_selectors.search_people(Person.objects.visible_to(user, "view"), q).values("pk")
        qs = (
            Household.objects.visible_to(user, "view")
            .filter(is_active=True)
            .filter(Q(number__startswith=q) | Q(head__in=heads))
            .select_related("head", "house", "area")
        )
        return [
            {
                "id": h.pk,
                "label": " · ".join(p for p in (h.number, h.head.name if h.head_id else "") if p)
                or f"#{h.pk}",
                "detail": " · ".join(p for p in (h.house.address if h.house_id else "", h.area.name) if p),
            }
            for h in qs.order_by("-id")[:limit]
        ]
    if kind == "houses":
        qs = House.objects.visible_to(user, "view").filter(Prefix(F("address"), q)).select_related("area")
        return [{"id": h.pk, "label": str(h), "detail": h.area.name} for h in qs.order_by("-id")[:limit]]
    if kind == "buildings":
        qs = (
            Building.objects.visible_to(user, "view")
            .filter(Q(name__startswith=q) | Q(address__startswith=q) | Q(compound__name__startswith=q))
            .select_related("compound", "area")
        )
        return [
            {"id": b.pk, "label": str(b), "detail": " · ".join(p for p in (b.address, b.area.name) if p)}
            for b in qs.order_by("-id")[:limit]
        ]
    if kind == "facilities":
        qs = (
            Facility.objects.visible_to(user, "view")
            .filter(Q(code__startswith=q) | Q(name__startswith=q))
            .select_related("category", "area")
        )
        return [{"id": f.pk, "label": str(f), "detail": f.area.name} for f in qs.order_by("-id")[:limit]]
    model = {"organisations": Organisation, "shops": Shop}[kind]
    qs = (
        model.objects.visible_to(user, "view")
        .filter(Q(name__startswith=q) | Q(address__startswith=q))
        .select_related("area")
    )
    return [
        {"id": o.pk, "label": o.name, "detail": " · ".join(p for p in (o.address, o.area.name) if p)}
        for o in qs.order_by("-id")[:limit]
    ]


def link_label(field: str, obj) -> str:
    """How a linked registry record is named on the pages and in the API."""
    if field == "households":
        head = obj.head.name if obj.head_id else ""
        return " · ".join(p for p in (obj.number, head) if p) or f"#{obj.pk}"
    return str(obj)


def links_of(record: DiaryRecord) -> list[tuple[str, list[dict]]]:
    """The record's links by field, each as ``{"id", "label"}`` (prefetched by ``with_links``)."""
    out = []
    for field in LINK_FIELDS:
        rows = [{"id": o.pk, "label": link_label(field, o)} for o in getattr(record, field).all()]
        out.append((field, rows))
    return out
