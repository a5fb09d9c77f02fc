from django.db import models
from django.utils.translation import gettext_lazy as _


class ConsentEnd(models.TextChoices):
    """Why a consent is no longer in force."""

    WITHDRAWN = "withdrawn", _("Withdrawn by the worker")
    SUPERSEDED = "superseded", _("Replaced by consent to a newer text")


class ShiftEnd(models.TextChoices):
    """How a duty session ended."""

    WORKER = "worker", _("Ended by the worker")
    CONSENT_WITHDRAWN = "consent_withdrawn", _("Consent withdrawn")
    STALE = "stale", _("Closed automatically (no points for a long time)")
    REASSIGNED = "reassigned", _("The worker left the grid")


class PointStatus(models.IntegerChoices):
    """Whether a recorded point is part of the drawn track. Filtered points are kept (they were
    recorded with consent, and the filter can be revisited) but never drawn or measured."""

    OK = 0, _("Kept")
    INACCURATE = 1, _("Too inaccurate")
    JUMP = 2, _("Implausible jump")


class VisitSource(models.TextChoices):
    """What shows that a worker was at a building."""

    TRACK = "track", _("Track passed within reach")
    CASE = "case", _("Case reported there")
    VERIFICATION = "verification", _("Case verified on site")
    REGISTRY = "registry", _("Registry record verified")
