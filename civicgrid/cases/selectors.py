"""Reads of event handling: triage suggestions (category by keywords, unit by function and place),
possible duplicates, a case's timeline, the lists of the command center."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from civicgrid.areas.models import Area

from .choices import LEVEL_ORDER, OPEN_STATUSES
from .models import Case, Category, Department, TriageRule

#: Reports closer than this (metres), of the same category and recent, are shown as possible duplicates.
DUPLICATE_RADIUS_M = 150
DUPLICATE_DAYS = 7
RULES_TTL = 10.0

#: Length of an area's scope code at each level: city 4, district 6, street 9, community 12.
LEVEL_PREFIX = {"city": 4, "district": 6, "street": 9, "community": 12}


def suggest_department(category: Category, area: Area, *, level: str | None = None) -> Department | None:
    """The unit that should handle a case of ``category`` at ``area``: the nearest active
    department, going up from the case's community, whose function the category asks for (a
    top-level category's function when the leaf has none). ``level`` starts the search higher up
    (an escalated case)."""
    function = category.default_function or (category.parent.default_function if category.parent_id else "")
    if not function:
        return None
    code = area.scope_code
    levels = LEVEL_ORDER[LEVEL_ORDER.index(level) :] if level else LEVEL_ORDER
    prefixes = [code[: LEVEL_PREFIX[lv]] for lv in levels]
    candidates = list(
        Department.objects.filter(
            function=function, is_active=True, area__scope_code__in=prefixes
        ).select_related("area")
    )
    if not candidates:
        return None
    return max(candidates, key=lambda d: (len(d.area.scope_code), -d.pk))


@dataclass
class Suggestion:
    category: Category
    score: float
    keywords: list[str]
    department: Department | None = None


_rules_lock = threading.Lock()
_rules: list[tuple[list[str], int, int | None, int]] | None = None
_rules_at = 0.0


def _keyword_rules() -> list[tuple[list[str], int, int | None, int]]:
    """(keywords, category id, department id, priority) from the triage rules and the categories'
    own keywords; kept for RULES_TTL seconds."""
    global _rules, _rules_at
    with _rules_lock:
        if _rules is None or time.monotonic() - _rules_at > RULES_TTL:
            rows = []
            for rule in TriageRule.objects.filter(is_active=True, category__is_active=True):
                rows.append((rule.keyword_list(), rule.category_id, rule.department_id, rule.priority))
            for cat in Category.objects.filter(is_active=True).exclude(keywords=""):
                words = [k.strip() for k in cat.keywords.replace("，", ",").split(",") if k.strip()]
                rows.append((words, cat.pk, None, 0))
            _rules, _rules_at = rows, time.monotonic()
        return _rules


def clear_rule_cache() -> None:
    global _rules
    with _rules_lock:
        _rules = None


def suggest_categories(text: str, area: Area | None = None, *, limit: int = 3) -> list[Suggestion]:
    """Categories whose keywords occur in ``text``, best first (longer and more keywords score
    higher; a rule's priority adds), each with the unit suggested for ``area``."""
    text = (text or "").lower()
    scores: dict[int, tuple[float, list[str], int | None]] = {}
    for words, category_id, department_id, priority in _keyword_rules():
        hits = [w for w in words if w.lower() in text]
        if not hits:
            continue
        score = sum(len(w) for w in hits) + priority
        best = scores.get(category_id)
        if best is None or score > best[0]:
            scores[category_id] = (score, hits, department_id)
    ranked = sorted(scores.items(), key=lambda kv: -kv[1][0])[:limit]
    categories = Category.objects.select_related("parent").in_bulk([cid for cid, _ in ranked])
    units = Department.objects.in_bulk([d for _, (_, _, d) in ranked if d])
    out = []
    for category_id, (score, hits, department_id) in ranked:
        category = categories[category_id]
        unit = units.get(department_id) if department_id else None
        if unit is None and area is not None:
            unit = suggest_department(category, area)
        out.append(Suggestion(category, score, hits, unit))
    return out


def _distance_m(lat1, lng1, lat2, lng2) -> float:
    """Equirectangular distance, accurate to well under a metre at these ranges."""
    x = math.radians(lng2 - lng1) * math.cos(math.radians((lat1 + lat2) / 2))
    y = math.radians(lat2 - lat1)
    return 6_371_000 * math.hypot(x, y)


def possible_duplicates(
    case: Case, *, radius_m: float = DUPLICATE_RADIUS_M, days: int = DUPLICATE_DAYS, limit: int = 5
):
    """Other recent cases of the same category near this one, nearest first, with their distance
    (metres): candidates to merge into. Read through the case's street (indexed prefix) and the
    category's recent reports."""
    if case.lat is None or case.lng is None:
        return []
    since = case.reported_at - timedelta(days=days)
    dlat = radius_m / 111_000
    dlng = radius_m / (111_000 * max(math.cos(math.radians(case.lat)), 0.1))
    rows = (
        Case.objects.filter(
            category_id=case.category_id,
            reported_at__gte=since,
            reported_at__lte=case.reported_at + timedelta(days=days),
            lat__range=(case.lat - dlat, case.lat + dlat),
            lng__range=(case.lng - dlng, case.lng + dlng),
        )
        .exclude(pk=case.pk)
        .filter(status__in=OPEN_STATUSES)
        .order_by("-id")[:50]
    )
    found = []
    for other in rows:
        distance = _distance_m(case.lat, case.lng, other.lat, other.lng)
        if distance <= radius_m:
            found.append((other, round(distance)))
    found.sort(key=lambda pair: pair[1])
    return found[:limit]


def timeline(case: Case, *, public_only: bool = False) -> QuerySet:
    events = case.events.select_related("actor", "department").prefetch_related("photos")
    if public_only:
        events = events.filter(is_public=True)
    return events.order_by("id")


def open_cases(qs: QuerySet) -> QuerySet:
    """The open cases of ``qs``, as a positive list of statuses: each is a range of the
    (status, area_code, id) index, where "not final" would scan every case."""
    return qs.filter(status__in=OPEN_STATUSES)


def case_counts_by_light(qs: QuerySet, now=None) -> dict[str, int]:
    from django.db.models import Count

    qs = open_cases(qs)
    if hasattr(qs, "for_count"):  # the scope as code ranges: the status index's ranges, not a scan
        qs = qs.for_count()
    return dict(qs.with_light(now).order_by().values_list("light").annotate(n=Count("id")))


def recent_changes(qs: QuerySet, since, now=None) -> QuerySet:
    """Cases changed after ``since`` (the live map polls this), and those whose light changed by
    itself since then (their warning or due time passed; the sweep's marks are not a change)."""
    now = now or timezone.now()
    crossed = Q(warn_at__gt=since, warn_at__lte=now) | Q(due_at__gt=since, due_at__lte=now)
    return qs.filter(Q(updated_at__gt=since) | crossed).order_by("updated_at")
