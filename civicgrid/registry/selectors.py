"""Reads over the registry: search within scope, statistics by grid (aggregated in SQL)."""

from __future__ import annotations

import re
from datetime import date

from django.db.models import Count, Prefetch, Q, QuerySet
from django.db.models.functions import Substr

from civicgrid.core.validators import normalise_resident_id

from .choices import HouseUse, PersonStatus, PersonType
from .models import House, Person, PersonTag, Tag
from .services import document_index, phone_index

ID_LIKE = re.compile(r"^[0-9A-Za-z]{6,20}$")
INITIALS = re.compile(r"^[A-Za-z]{1,10}$")
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
    digits (phone suffix), latin letters (pinyin initials: ``zs`` finds 张三), else characters of the
    name."""
    q = (q or "").strip()
    if not q:
        return qs
    compact = q.replace(" ", "")
    if compact.isdigit() and len(compact) == 4:
        return qs.filter(phone_suffix=compact)
    if compact.isdigit() and len(compact) == 11 and compact.startswith("1"):
        return qs.filter(phone_index=phone_index(compact))
    if INITIALS.match(compact):
        return qs.filter(name_initials__startswith=compact.lower())
    if ID_LIKE.match(compact) and any(c.isdigit() for c in compact):
        number = normalise_resident_id(compact) if len(compact) == 18 else compact.upper()
        return qs.filter(id_index=document_index(number))
    return qs.filter(name__contains=q)


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
    if grid is not None:
        qs = qs.in_area(grid.scope_code)
    if person_type:
        qs = qs.filter(person_type=person_type)
    if status:
        qs = qs.filter(status=status)
    if tag:
        tag_obj = visible_tags(user).filter(code=tag).first()
        qs = qs.filter(person_tags__tag=tag_obj) if tag_obj else qs.none()
    if address:
        qs = qs.filter(address__contains=address.strip())
    return qs


def _years_ago(today: date, years: int) -> date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def population_statistics(people: QuerySet[Person], user, today: date | None = None) -> dict:
    """Counts of people living here by type, age band and (visible) tag; one SQL query each."""
    today = today or date.today()
    living = people.filter(status=PersonStatus.ACTIVE)
    by_type = dict(living.values_list("person_type").annotate(n=Count("id")).values_list("person_type", "n"))
    bands = {}
    for low, high in AGE_BANDS:
        bands[f"{low}-{high}" if high < 200 else f"{low}+"] = Count(
            "id", filter=Q(birth_date__lte=_years_ago(today, low), birth_date__gt=_years_ago(today, high + 1))
        )
    ages = living.aggregate(
        total=Count("id"), unknown=Count("id", filter=Q(birth_date__isnull=True)), **bands
    )
    tag_counts = dict(
        PersonTag.objects.filter(person__in=living, tag__in=visible_tags(user))
        .values("tag__name")
        .annotate(n=Count("id"))
        .values_list("tag__name", "n")
    )
    return {
        "total": ages.pop("total"),
        "by_type": {str(label): by_type.get(value, 0) for value, label in PersonType.choices},
        "by_age": ages,
        "by_tag": tag_counts,
    }


def house_statistics(houses: QuerySet[House]) -> dict:
    counts = dict(houses.values_list("use").annotate(n=Count("id")).values_list("use", "n"))
    return {str(label): counts.get(value, 0) for value, label in HouseUse.choices}


def counts_by_child_area(people: QuerySet[Person], children) -> dict[str, int]:
    """Head counts per child area in one grouped query (children share one code length)."""
    if not children:
        return {}
    length = len(children[0].scope_code)
    rows = (
        people.annotate(prefix=Substr("area_code", 1, length))
        .values("prefix")
        .annotate(n=Count("id"))
        .values_list("prefix", "n")
    )
    return dict(rows)
