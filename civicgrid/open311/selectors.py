"""Reads of the GeoReport v2 endpoint: the services (the active leaf categories with their
questions, kept per process for a few seconds), the public cases as service requests, tokens."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Max, OuterRef, Prefetch, QuerySet, Subquery

from civicgrid.cases.choices import FINAL_STATUSES
from civicgrid.cases.models import Case, CaseEvent, Category, CategoryQuestion

from .models import Open311Client

#: Seconds a process keeps the services before reading them again (edits show within this time).
SERVICES_TTL = 10.0

_lock = threading.Lock()
_services: dict[str, Category] | None = None
_loaded_at = 0.0


def services() -> dict[str, Category]:
    """The services by ``service_code``: active leaf categories (4-digit codes) in tree and code
    order, each with its parent and its questions loaded."""
    global _services, _loaded_at
    current = _services
    if current is not None and time.monotonic() - _loaded_at < SERVICES_TTL:
        return current
    with _lock:
        if _services is None or time.monotonic() - _loaded_at >= SERVICES_TTL:
            rows = (
                Category.objects.filter(is_active=True)
                .select_related("parent")
                .prefetch_related(
                    Prefetch("questions", queryset=CategoryQuestion.objects.order_by("order", "code"))
                )
                .order_by("kind", "code")
            )
            _services = {c.service_code: c for c in rows if c.is_leaf}
            _loaded_at = time.monotonic()
        return _services


def clear_cache() -> None:
    global _services
    with _lock:
        _services = None


def changeset() -> datetime | None:
    """When the services or their definitions last changed."""
    stamps = [
        Category.objects.aggregate(t=Max("updated_at"))["t"],
        CategoryQuestion.objects.aggregate(t=Max("updated_at"))["t"],
    ]
    stamps = [s for s in stamps if s is not None]
    return max(stamps) if stamps else None


#: The columns a service request shows (the reporter's name and phone are never read).
REQUEST_FIELDS = (
    "id",
    "status",
    "description",
    "address",
    "lat",
    "lng",
    "reported_at",
    "updated_at",
    "due_at",
    "category__service_code",
    "category__name",
    "department__name",
    "open311__media_url",
)


def public_requests() -> QuerySet:
    """Public cases as service requests, newest first, with what the output needs in one query:
    category, handling unit, media link and the note of the latest public event that has one."""
    latest_note = (
        CaseEvent.objects.filter(case=OuterRef("pk"), is_public=True)
        .exclude(note="")
        .order_by("-id")
        .values("note")[:1]
    )
    return (
        Case.objects.filter(is_public=True)
        .select_related("category", "department", "open311")
        .only(*REQUEST_FIELDS)
        .annotate(status_notes=Subquery(latest_note))
        .order_by("-id")
    )


def with_notes(qs: QuerySet) -> QuerySet:
    """Add the public timeline (``case.public_events``) in one more query."""
    events = CaseEvent.objects.filter(is_public=True).only("id", "case_id", "kind", "note", "created_at")
    return qs.prefetch_related(Prefetch("events", queryset=events.order_by("id"), to_attr="public_events"))


@dataclass
class RequestFilter:
    ids: list[int] | None = None
    service_codes: list[str] | None = None
    start: datetime | None = None
    end: datetime | None = None
    statuses: set[str] | None = None  # {"open", "closed"}


def filter_requests(qs: QuerySet, f: RequestFilter) -> QuerySet:
    if f.ids is not None:  # ids override every other argument (the spec)
        return qs.filter(pk__in=f.ids)
    if f.service_codes:
        qs = qs.filter(category__service_code__in=f.service_codes)
    if f.start is not None:
        qs = qs.filter(reported_at__gte=f.start)
    if f.end is not None:
        qs = qs.filter(reported_at__lte=f.end)
    if f.statuses and len(f.statuses) == 1:
        if "open" in f.statuses:
            qs = qs.exclude(status__in=FINAL_STATUSES)
        else:
            qs = qs.filter(status__in=FINAL_STATUSES)
    return qs


def token_requests(token: str) -> list[tuple[str, str]]:
    """``(service_request_id, token)`` of the public cases Open311 clients sent with ``token`` as
    their idempotency key (through the (source, key) index: one source per client)."""
    sources = [f"open311:{pk}" for pk in Open311Client.objects.values_list("pk", flat=True)]
    if not sources:
        return []
    rows = (
        Case.objects.filter(source__in=sources, idempotency_key=token, is_public=True)
        .exclude(idempotency_key="")  # the partial index's condition, for SQLite (see services)
        .only("id", "reported_at")
    )
    return [(case.number, token) for case in rows.order_by("id")]
