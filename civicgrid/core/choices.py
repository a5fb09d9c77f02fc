"""Choice classes of the core app."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class DaySource(models.TextChoices):
    """Why the work calendar treats a day as it does (the first rule that applies wins)."""

    OVERRIDE = "override", _("Override")
    HOLIDAY = "holiday", _("Statutory holiday")
    ADJUSTED_WORKDAY = "adjusted_workday", _("Adjusted working day")
    WEEKEND = "weekend", _("Weekend")
    WORKDAY = "workday", _("Working day")
