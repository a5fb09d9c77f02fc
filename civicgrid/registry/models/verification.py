"""Annual centralised verification (集中核实): every record in an area becomes a check for its
grid's worker, who confirms or corrects it."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _

from civicgrid.core.models import ScopedModel
from civicgrid.core.scope import scope_indexes


class CampaignStatus(models.TextChoices):
    OPEN = "open", _("In progress")
    CLOSED = "closed", _("Closed")


class CheckStatus(models.TextChoices):
    PENDING = "pending", _("Not verified")
    CONFIRMED = "confirmed", _("Confirmed")
    CORRECTED = "corrected", _("Corrected")
    GONE = "gone", _("No longer here")


class VerificationCampaign(ScopedModel):
    """A verification round over an area (the campaign's ``area``) and everything below it."""

    name = models.CharField(_("name"), max_length=100)
    year = models.PositiveSmallIntegerField(_("year"))
    status = models.CharField(
        _("status"), max_length=8, choices=CampaignStatus.choices, default=CampaignStatus.OPEN, db_index=True
    )
    due_date = models.DateField(_("due date"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    check_count = models.PositiveIntegerField(_("checks"), default=0)

    class Meta:
        verbose_name = _("verification campaign")
        verbose_name_plural = _("verification campaigns")
        ordering = ["-id"]
        indexes = scope_indexes("reg_campaign")

    def __str__(self) -> str:
        return self.name


class VerificationCheck(ScopedModel):
    """One record to verify, in its grid (``area``), assigned to that grid's worker."""

    campaign = models.ForeignKey(
        VerificationCampaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="checks"
    )
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.PositiveBigIntegerField()
    object_repr = models.CharField(_("record"), max_length=200)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned to"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="verification_checks",
    )
    status = models.CharField(
        _("status"), max_length=10, choices=CheckStatus.choices, default=CheckStatus.PENDING
    )
    note = models.CharField(_("note"), max_length=500, blank=True)
    checked_at = models.DateTimeField(_("checked at"), null=True, blank=True)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("checked by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        verbose_name = _("verification check")
        verbose_name_plural = _("verification checks")
        ordering = ["area_code", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "content_type", "object_id"], name="registry_check_once_per_campaign"
            )
        ]
        indexes = [
            *scope_indexes("reg_check"),
            models.Index(fields=["campaign", "area_code", "status"], name="registry_check_progress"),
            models.Index(fields=["assignee", "status"], name="registry_check_assignee"),
            # Checks done in some grids over a period: patrol coverage counts them as visits.
            models.Index(
                fields=["area_code", "checked_at"],
                condition=models.Q(checked_at__isnull=False),
                name="registry_check_done",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.object_repr}"
