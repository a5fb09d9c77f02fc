"""Monthly tallies of event handling per community: what the statistics of a street, a district or
the city add up instead of reading every case (see ``civicgrid.cases.tallies``)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from civicgrid.core.fields import AreaCodeField


class CaseTally(models.Model):
    """The cases reported in ``month`` in one community, counted along one dimension: by leaf
    category, by channel or by current status (``value`` is the category id, the channel or the
    status)."""

    month = models.DateField(_("month"))
    area_code = AreaCodeField(_("community code"), max_length=15)
    dimension = models.CharField(_("dimension"), max_length=10)
    value = models.CharField(_("value"), max_length=40)
    n = models.IntegerField(_("cases"), default=0)

    class Meta:
        verbose_name = _("case tally")
        verbose_name_plural = _("case tallies")
        constraints = [
            models.UniqueConstraint(
                fields=["month", "area_code", "dimension", "value"], name="cases_casetally_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.area_code} {self.dimension}={self.value}: {self.n}"


class UnitTally(models.Model):
    """Per month, community and handling unit (``department_id`` 0: none): handling clocks ended on
    time (``met``) or late (``late``), ratings given (``rated``: their number, star total, 4–5 star
    and 5 star counts) and "not solved" reopenings (``reopened``)."""

    month = models.DateField(_("month"))
    area_code = AreaCodeField(_("community code"), max_length=15)
    department_id = models.BigIntegerField(pgettext_lazy("case", "unit"), default=0)
    measure = models.CharField(_("measure"), max_length=10)
    n = models.IntegerField(_("count"), default=0)
    total = models.IntegerField(_("star total"), default=0)
    good = models.IntegerField(_("4–5 stars"), default=0)
    praise = models.IntegerField(_("5 stars"), default=0)

    class Meta:
        verbose_name = _("unit tally")
        verbose_name_plural = _("unit tallies")
        constraints = [
            models.UniqueConstraint(
                fields=["month", "area_code", "department_id", "measure"], name="cases_unittally_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.area_code} unit {self.department_id} {self.measure}: {self.n}"
