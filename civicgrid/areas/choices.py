from django.db import models
from django.utils.translation import gettext_lazy as _


class AreaLevel(models.TextChoices):
    CITY = "city", _("City")
    DISTRICT = "district", _("District / county")
    STREET = "street", _("Street / town")
    COMMUNITY = "community", _("Community / village")
    GRID = "grid", _("Unit grid")


#: Level -> (parent level, official code length, length of the hierarchical scope code).
LEVEL_RULES: dict[str, tuple[str | None, int, int]] = {
    AreaLevel.CITY: (None, 6, 4),
    AreaLevel.DISTRICT: (AreaLevel.CITY, 6, 6),
    AreaLevel.STREET: (AreaLevel.DISTRICT, 12, 9),
    AreaLevel.COMMUNITY: (AreaLevel.STREET, 12, 12),
    AreaLevel.GRID: (AreaLevel.COMMUNITY, 15, 15),
}

LEVEL_ORDER = [AreaLevel.CITY, AreaLevel.DISTRICT, AreaLevel.STREET, AreaLevel.COMMUNITY, AreaLevel.GRID]


def child_level(level: str) -> str | None:
    i = LEVEL_ORDER.index(level)
    return LEVEL_ORDER[i + 1] if i + 1 < len(LEVEL_ORDER) else None
