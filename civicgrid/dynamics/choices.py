from django.db import models
from django.utils.translation import gettext_lazy as _


class Status(models.TextChoices):
    """Where a post stands: only published posts are shown to residents."""

    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class PictureKind(models.TextChoices):
    COVER = "cover", _("Cover picture")
    PICTURE = "picture", _("Picture")


class EventKind(models.TextChoices):
    """The steps in a post's history (each written by the service that took it)."""

    DRAFTED = "drafted", _("Drafted")
    EDITED = "edited", _("Edited")
    PUBLISHED = "published", _("Published")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    PINNED = "pinned", _("Pinned")
    UNPINNED = "unpinned", _("Unpinned")
