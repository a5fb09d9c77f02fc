"""The work calendar's data: days that differ from the national calendar, and office hours.

Read through ``civicgrid.core.workcalendar`` (cached per process); written through
``civicgrid.core.calendar_services``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from .base import BaseModel


class CalendarOverride(BaseModel):
    """One date whose status an administrator has set by hand, taking precedence over the
    statutory holidays and adjusted workdays of the ``holidays`` package and over the weekend:
    a local day off (e.g. a city-wide typhoon closure) or an extra working day (e.g. next
    year's 调休 weekend workday before the package knows it)."""

    day = models.DateField(_("date"), unique=True)
    is_workday = models.BooleanField(_("working day"))
    name = models.CharField(_("name"), max_length=100)
    note = models.CharField(_("note"), max_length=500, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("updated by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["day"]
        verbose_name = _("calendar override")
        verbose_name_plural = _("calendar overrides")

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d} {self.name}"


class OfficePeriod(BaseModel):
    """One opening period of the working day (e.g. 08:30–12:00). A working day's length is the sum
    of all periods; deadlines count only time inside them. Periods never overlap (checked by the
    service that replaces the set)."""

    start = models.TimeField(_("start"))
    end = models.TimeField(_("end"))

    class Meta:
        ordering = ["start"]
        verbose_name = _("office period")
        verbose_name_plural = _("office periods")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")),
                name="core_officeperiod_end_after_start",
                violation_error_message=_("The end must be after the start."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"

    def clean(self) -> None:
        super().clean()
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValidationError({"end": _("The end must be after the start.")})
