"""The resident portal's records: public notices of an area. (The one-time codes residents sign in
with are ``civicgrid.notify.models.OneTimeCode``, shared with staff binding their phone; the name
stays importable from here.)"""

from __future__ import annotations

from django.core.validators import MaxLengthValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from civicgrid.core.models import ScopedModel
from civicgrid.core.scope import scope_indexes
from civicgrid.notify.models import OneTimeCode

__all__ = ["NOTICE_BODY_MAX", "Notice", "OneTimeCode"]

NOTICE_BODY_MAX = 10_000


class Notice(ScopedModel):
    """A public notice of an area (city, district, street or community) to its residents. A
    resident sees the notices of their community and of the street, district and city above it,
    from ``published_at`` on."""

    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"), validators=[MaxLengthValidator(NOTICE_BODY_MAX)])
    published_at = models.DateTimeField(_("published at"), default=timezone.now)

    class Meta:
        verbose_name = _("notice")
        verbose_name_plural = _("notices")
        ordering = ["-published_at", "-id"]
        indexes = [
            *scope_indexes("portal_notice"),
            models.Index(fields=["area_code", "published_at"], name="portal_notice_published"),
        ]

    def __str__(self) -> str:
        return self.title
