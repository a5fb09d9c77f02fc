"""The area tree: city → district/county → street/town → community/village → unit grid."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from civicgrid.core.models import BaseModel, ScopedManager

from .choices import AreaLevel


class Area(BaseModel):
    """An administrative area or unit grid with its official code, boundary (GeoJSON, WGS-84) and
    centre. ``scope_code`` is the hierarchical code (a prefix of every descendant's) used for data
    scope: city 4 digits, district 6, street 9, community 12, grid 15."""

    code = models.CharField(_("official code"), max_length=15, unique=True)
    scope_code = models.CharField(_("hierarchical code"), max_length=15, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=64)
    level = models.CharField(_("level"), max_length=10, choices=AreaLevel.choices, db_index=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    geometry = models.JSONField(_("boundary (GeoJSON)"), null=True, blank=True)
    centre_lat = models.FloatField(_("centre latitude"), null=True, blank=True)
    centre_lng = models.FloatField(_("centre longitude"), null=True, blank=True)
    grid_worker = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("grid worker"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="grid",
    )
    is_active = models.BooleanField(_("active"), default=True)

    scope_field = "scope_code"
    owner_field = None

    objects = ScopedManager()

    class Meta:
        verbose_name = _("area")
        verbose_name_plural = _("areas")
        ordering = ["scope_code"]
        permissions = [("assign_gridworker", _("Can assign grid workers"))]

    def __str__(self) -> str:
        return self.name

    @property
    def centre(self) -> tuple[float, float] | None:
        if self.centre_lat is None or self.centre_lng is None:
            return None
        return (self.centre_lat, self.centre_lng)
