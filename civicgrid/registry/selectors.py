"""Reads over the registry: search within scope, statistics by area (aggregated in SQL).

Searches match the *start* of a name or an address (``lookups.Prefix``): an index range scan on
either database, where a match anywhere inside (``LIKE '%q%'``) reads every person in scope.
Statistics filter the area as a plain code range (``ScopedQuerySet.for_count``) so that each pass is
an index-only range scan of a narrow covering index (``reg_person_stats``, ``reg_house_use``),
grouped in the index's own order."""

from __future__ import annotations

import re
from datetime import date

from django.db.models import Count, Exists, F, Max, OuterRef, Prefetch, Q, QuerySet

from civicgrid.areas.models import Area
from civicgrid.core.validators import normalise_resident_id

from .choices import HouseUse, PersonStatus, PersonType
from .lookups import Prefix
from .models import House, Person, PersonTag, Tag
from .services import document_index, phone_index

ID_LIKE = re.compile(r"^[0-9A-Za-z]{6,20}$")
INITIALS = re.compile(r"^[A-Za-z]{1,10}$")
WHITESPACE = re.compile(r"\s+")
#: Age bands in whole years, contiguous (each starts the year after the previous one ends).
AGE_BANDS = ((0, 17), (18, 34), (35, 59), (60, 79), (80, 200))


def visible_tags(user) -> QuerySet[Tag]:
    tags = Tag.objects.all()
    if not user.has_perm("registry.view_sensitive_tags"):
        tags = tags.filter(is_sensitive=False)
    return tags


def with_visible_tags(people: QuerySet[Person], user) -> QuerySet[Person]:
    """Prefetch each person's tags that ``user`` may see (sensitive ones need their permission)."""
    tags = PersonTag.objects.select_related("tag").filter(tag__in=visible_tags(user))
    return people.prefetch_related(Prefetch("person_tags", queryset=tags))


def search_people(qs: QuerySet[Person], q: str) -> QuerySet[Person]:
    """One search box: an 11-digit mobile or a document number (exact, through the blind index), 4
    digits (phone suffix), latin letters (pinyin initials: ``zs`` finds 张三), else the start of the
    name (``孙华`` finds 孙华 and 孙华明, not 王孙华: staff type a name from its surname; the initials
    find the rest)."""
    q = (q or "").strip()
    if not q:
        return qs
    compact = q.replace(" ", "")
    if compact.isdigit() and len(compact) == 4:
        return qs.filter(phone_suffix=compact)
    if compact.isdigit() and len(compact) == 11 and compact.startswith("1"):
        return qs.filter(phone_index=phone_index(compact))
    if INITIALS.match(compact):
        return qs.filter(Prefix(F("name_initials"), compact.lower()))
    if ID_LIKE.match(compact) and any(c.isdigit() for c in compact):
        number = normalise_resident_id(compact) if len(compact) == 18 else compact.upper()
        return qs.filter(id_index=document_index(number))
    return qs.filter(Prefix(F("name"), WHITESPACE.sub(" ", q)))


def filter_people(
    qs: QuerySet[Person],
    *,
    user,
    grid=None,
    person_type: str = "",
    tag: str = "",
    address: str = "",
    status: str = "",
) -> QuerySet[Person]:
    """The people page's filters. ``address`` matches the start of the address as houses write it
    (``鸳江花园 8栋 1单元 502``: compound, building, unit, room, one space apart)."""
    if grid is not None:
        qs = qs.in_area(grid.scope_code)
    if person_type:
        qs = qs.filter(person_type=person_type)
    if status:
        qs = qs.filter(status=status)
    if tag:
        tag_obj = visible_tags(user).filter(code=tag).first()
        qs = qs.filter(person_tags__tag=tag_obj) if tag_obj else qs.none()
    address = WHITESPACE.sub(" ", address or "").strip()
    if address:
        qs = qs.filter(Prefix(F("address"), address))
    return qs


def _years_ago(today: date, years: int) -> date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def _band_label(low: int, high: int) -> str:
    return f"{low}-{high}" if high < 200 else f"{low}+"


def _born_after(today: date) -> list[date]:
    """The age bands' edges as dates of birth, youngest first: band *i* holds the people born after
    edge *i + 1* and on or before edge *i* (the bands are contiguous)."""
    edges = [_years_ago(today, low) for low, _high in AGE_BANDS]
    return [*edges, _years_ago(today, AGE_BANDS[-1][1] + 1)]


def _as_ranges(qs: QuerySet) -> QuerySet:
    """``qs`` unordered, with its area filters as code ranges (the shape an aggregate reads from a
    covering index; call it after the last filter)."""
    return qs.for_count() if hasattr(qs, "for_count") else qs.order_by()


def population_statistics(people: QuerySet[Person], user, today: date | None = None, *, children=()) -> dict:
    """Counts of people living here by type, age band and (visible) tag, and — given ``children``,
    sub-areas sharing one code length — by sub-area (``by_child``: scope code -> head count).

    One grouped query reads the covering index ``reg_person_stats`` (status, area code, type, date of
    birth) in its own order: a row per grid and type, with the count born after each band edge
    (``COUNT(…) FILTER``); bands, types and sub-areas are sums of those rows. Grouping by the band
    itself would make SQLite sort every person. A second query counts the tags (``_tag_counts``)."""
    today = today or date.today()
    living = _as_ranges(people.filter(status=PersonStatus.ACTIVE))
    edges = _born_after(today)
    counts = {"n": Count("*"), "undated": Count("id", filter=Q(birth_date__isnull=True))}
    counts.update({f"after{i}": Count("id", filter=Q(birth_date__gt=edge)) for i, edge in enumerate(edges)})
    length = len(children[0].scope_code) if children else 0
    by_type: dict[str, int] = {}
    by_child: dict[str, int] = {}
    ages = dict.fromkeys(["unknown", *(_band_label(low, high) for low, high in AGE_BANDS)], 0)
    for row in living.values("area_code", "person_type").annotate(**counts).order_by():
        n = row["n"]
        by_type[row["person_type"]] = by_type.get(row["person_type"], 0) + n
        if length:
            child = row["area_code"][:length]
            by_child[child] = by_child.get(child, 0) + n
        ages["unknown"] += row["undated"]
        for i, (low, high) in enumerate(AGE_BANDS):
            ages[_band_label(low, high)] += row[f"after{i + 1}"] - row[f"after{i}"]
    total = sum(by_type.values())
    stats = {
        "total": total,
        "by_type": {str(label): by_type.get(value, 0) for value, label in PersonType.choices},
        "by_age": ages,
        "by_tag": _tag_counts(living, user, total),
    }
    if children:
        stats["by_child"] = {child.scope_code: by_child.get(child.scope_code, 0) for child in children}
    return stats


def _tag_counts(living: QuerySet[Person], user, people: int) -> dict[str, int]:
    """Tags (visible to ``user``) of the ``people`` people of ``living``, by name, in one query that
    starts from the smaller side: each person's tags (an index probe per person) for a small area,
    each tag row's person (a primary-key lookup per tag row) for a big one. SQLite cannot tell the
    two apart (it has no statistics of ranges) and would probe the tags of every person of a
    district."""
    tags = visible_tags(user)
    # The size of the tag table, from its highest id (one index probe: an exact count would read
    # every tag row of the city on each page view); deleted tags only make it a little larger.
    tag_rows = PersonTag.objects.aggregate(top=Max("id"))["top"] or 0
    if people > tag_rows:
        rows = PersonTag.objects.filter(tag__in=tags).filter(Exists(living.filter(pk=OuterRef("person_id"))))
        name = "tag__name"
    else:
        rows, name = living.filter(person_tags__tag__in=tags), "person_tags__tag__name"
    return dict(rows.values_list(name).annotate(n=Count("*")).values_list(name, "n").order_by())


def house_statistics(houses: QuerySet[House]) -> dict:
    """Houses by use: one query over the covering index ``reg_house_use``, grouped in the index's
    order (area code, use: no sort) and summed here."""
    counts: dict[str, int] = {}
    for _code, use, n in _as_ranges(houses).values_list("area_code", "use").annotate(n=Count("*")).order_by():
        counts[use] = counts.get(use, 0) + n
    return {str(label): counts.get(value, 0) for value, label in HouseUse.choices}


def area_statistics(user, area) -> dict:
    """What the statistics page shows for ``area`` within ``user``'s scope: the population
    (``population_statistics``, with the head count of each visible sub-area) and houses by use.
    Three queries besides the sub-areas' own."""
    children = list(Area.objects.visible_to(user).filter(parent=area).order_by("scope_code"))
    people = Person.objects.visible_to(user).in_area(area.scope_code)
    stats = population_statistics(people, user, children=children)
    by_child = stats.pop("by_child", {})
    return {
        "stats": stats,
        "house_stats": house_statistics(House.objects.visible_to(user).in_area(area.scope_code)),
        "rows": [(child, by_child[child.scope_code]) for child in children],
    }
