"""Triage hints for a page of cases at once: the suggested category and unit (the rules of
``selectors.suggest_categories`` / ``suggest_department``) and possible duplicates (the rule of
``selectors.possible_duplicates``), read with a fixed number of queries whatever the page size."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Q

from .choices import LEVEL_ORDER, OPEN_STATUSES
from .models import Case, Category, Department
from .selectors import (
    DUPLICATE_DAYS,
    DUPLICATE_RADIUS_M,
    LEVEL_PREFIX,
    _distance_m,
    _keyword_rules,
)

#: At most this many candidate rows are read for the duplicate hints of one page.
DUPLICATE_SCAN_LIMIT = 2000


@dataclass
class Hint:
    category: Category | None = None
    department: Department | None = None
    keywords: list[str] = field(default_factory=list)
    duplicates: list[tuple[Case, int]] = field(default_factory=list)  # (case, metres)


def _best_rule(text: str):
    text = (text or "").lower()
    best = None
    for words, category_id, department_id, priority in _keyword_rules():
        hits = [w for w in words if w.lower() in text]
        if not hits:
            continue
        score = sum(len(w) for w in hits) + priority
        if best is None or score > best[0]:
            best = (score, category_id, department_id, hits)
    return best


def _function_of(category: Category) -> str:
    return category.default_function or (category.parent.default_function if category.parent_id else "")


def suggestions(cases: list[Case]) -> dict[int, Hint]:
    """Per case: the best category for its text (or its own category when no keyword matches) and
    the nearest active unit, going up from its community, whose function that category asks for.
    Needs ``case.area`` loaded (select_related)."""
    hints: dict[int, Hint] = {}
    picks: dict[int, tuple[int, int | None, list[str]]] = {}
    for case in cases:
        best = _best_rule(f"{case.title} {case.description}")
        if best is None:
            picks[case.pk] = (case.category_id, None, [])
        else:
            picks[case.pk] = (best[1], best[2], best[3])
    categories = Category.objects.select_related("parent").in_bulk({p[0] for p in picks.values()})
    fixed_units = Department.objects.filter(is_active=True).in_bulk({p[1] for p in picks.values() if p[1]})
    functions: set[str] = set()
    prefixes: set[str] = set()
    for case in cases:
        category = categories.get(picks[case.pk][0])
        if category is not None and not picks[case.pk][1]:
            functions.add(_function_of(category))
            code = case.area.scope_code
            prefixes.update(code[: LEVEL_PREFIX[lv]] for lv in LEVEL_ORDER[LEVEL_ORDER.index(case.level) :])
    functions.discard("")
    by_place: dict[tuple[str, str], list[Department]] = {}
    if functions:
        for dept in Department.objects.filter(
            function__in=functions, is_active=True, area__scope_code__in=prefixes
        ).select_related("area"):
            by_place.setdefault((dept.function, dept.area.scope_code), []).append(dept)
    for case in cases:
        category_id, department_id, hits = picks[case.pk]
        category = categories.get(category_id)
        unit = fixed_units.get(department_id) if department_id else None
        if unit is None and category is not None:
            function = _function_of(category)
            code = case.area.scope_code
            levels = LEVEL_ORDER[LEVEL_ORDER.index(case.level) :]
            found = [d for lv in levels for d in by_place.get((function, code[: LEVEL_PREFIX[lv]]), [])]
            if found:
                unit = max(found, key=lambda d: (len(d.area.scope_code), -d.pk))
        hints[case.pk] = Hint(category=category, department=unit, keywords=hits)
    return hints


def duplicates(
    cases: list[Case],
    user,
    *,
    radius_m: float = DUPLICATE_RADIUS_M,
    days: int = DUPLICATE_DAYS,
    limit: int = 5,
) -> dict[int, list[tuple[Case, int]]]:
    """Per case: other open cases of the same category within ``radius_m`` reported within ``days``
    of it, that ``user`` may see (candidates to merge into), nearest first, with their distance."""
    located = [c for c in cases if c.lat is not None and c.lng is not None]
    out: dict[int, list[tuple[Case, int]]] = {c.pk: [] for c in cases}
    if not located:
        return out
    boxes = Q()
    for case in located:
        dlat = radius_m / 111_000
        dlng = radius_m / (111_000 * max(math.cos(math.radians(case.lat)), 0.1))
        boxes |= Q(
            category_id=case.category_id,
            reported_at__gte=case.reported_at - timedelta(days=days),
            reported_at__lte=case.reported_at + timedelta(days=days),
            lat__range=(case.lat - dlat, case.lat + dlat),
            lng__range=(case.lng - dlng, case.lng + dlng),
        )
    rows = list(
        Case.objects.visible_to(user, "view")
        .filter(boxes)
        .filter(status__in=OPEN_STATUSES)
        .only("id", "title", "status", "lat", "lng", "category_id", "reported_at", "area_code")
        .order_by("-id")[:DUPLICATE_SCAN_LIMIT]
    )
    window = timedelta(days=days)
    for case in located:
        found = []
        for other in rows:
            if other.pk == case.pk or other.category_id != case.category_id:
                continue
            if abs(other.reported_at - case.reported_at) > window:
                continue
            distance = _distance_m(case.lat, case.lng, other.lat, other.lng)
            if distance <= radius_m:
                found.append((other, round(distance)))
        found.sort(key=lambda pair: pair[1])
        out[case.pk] = found[:limit]
    return out
