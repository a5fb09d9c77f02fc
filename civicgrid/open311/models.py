"""Open311 GeoReport v2: the registered clients (who may POST service requests) and what a client
sent with a request that the case itself does not keep."""

from __future__ import annotations

from django.core.validators import URLValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from civicgrid.cases.models import Case
from civicgrid.core.fields import EncryptedTextField
from civicgrid.core.models import BaseModel

#: Longest ``media_url`` accepted (characters).
MEDIA_URL_MAX = 1000


class Open311Client(BaseModel):
    """An application allowed to create service requests (``POST requests``) with its ``api_key``.
    Only a SHA-256 digest of the key is stored; the key is shown once, when the client is created.
    Its reports carry ``source = "open311:<id>"``, which also scopes their idempotency keys."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    prefix = models.CharField(_("key prefix"), max_length=12)
    digest = models.CharField(_("key digest"), max_length=64, unique=True)
    jurisdiction_id = models.CharField(
        _("jurisdiction id"),
        max_length=100,
        blank=True,
        help_text=_("When set, requests of this client naming another jurisdiction_id are refused."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    audit_exclude = ("digest", "last_used_at")

    class Meta:
        verbose_name = _("Open311 client")
        verbose_name_plural = _("Open311 clients")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def source(self) -> str:
        """The ``Case.source`` of this client's reports."""
        return f"open311:{self.pk}"


class Open311Request(BaseModel):
    """The parts of an Open311 service request the case does not hold: the client's link to media
    (stored as given, never fetched), the submitter's e-mail (encrypted) and the client's own
    account and device ids. Written in the case's transaction, and only when the client sent one
    of them (the client and idempotency key of every Open311 case are on the case itself)."""

    audit_enabled = False  # written once with the case, whose creation is logged

    case = models.OneToOneField(
        Case, verbose_name=_("case"), primary_key=True, on_delete=models.CASCADE, related_name="open311"
    )
    client = models.ForeignKey(
        Open311Client, verbose_name=_("client"), on_delete=models.PROTECT, related_name="requests"
    )
    media_url = models.CharField(
        _("media URL"),
        max_length=MEDIA_URL_MAX,
        blank=True,
        validators=[URLValidator(schemes=["http", "https"])],
    )
    email = EncryptedTextField(_("e-mail"), blank=True)
    account_id = models.CharField(_("account id"), max_length=100, blank=True)
    device_id = models.CharField(_("device id"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("Open311 request")
        verbose_name_plural = _("Open311 requests")

    def __str__(self) -> str:
        return f"{self.case_id} ({self.client_id})"
