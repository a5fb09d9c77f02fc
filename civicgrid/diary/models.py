"""The public-sentiment diary (民情日记): what grid workers and community staff saw and heard on
household visits, at joint meetings and on their rounds, linked to the registry's people, households,
houses and places; a record can become a case."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from civicgrid.core.models import BaseModel, ScopedModel
from civicgrid.core.scope import scope_indexes

from .choices import Mood, RecordKind, Severity

#: Longest text of a record (characters).
CONTENT_MAX = 10_000
#: Longest list of attendees' names (characters).
ATTENDEES_MAX = 2_000


class DiaryRecord(ScopedModel):
    """One diary record. The area is the grid (or community) where it happened; ``created_by`` is
    its author, the only one who may change or void it. ``idempotency_key`` is the key the author's
    phone gave the record when it was made (offline): a replay returns the first record. ``case``
    is the case the record became (at most one). ``version`` is bumped by every change."""

    kind = models.CharField(_("kind"), max_length=16, choices=RecordKind.choices)
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    place = models.CharField(_("place"), max_length=200, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    summary = models.CharField(_("summary"), max_length=200)
    content = models.TextField(_("details"), blank=True, validators=[MaxLengthValidator(CONTENT_MAX)])
    mood = models.CharField(_("mood"), max_length=10, choices=Mood.choices, blank=True)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices, blank=True)
    follow_up = models.BooleanField(_("follow-up needed"), default=False)
    follow_up_note = models.CharField(_("follow-up"), max_length=500, blank=True)
    attendee_names = models.TextField(
        _("attendees"), blank=True, validators=[MaxLengthValidator(ATTENDEES_MAX)]
    )

    people = models.ManyToManyField(
        "registry.Person", verbose_name=_("people"), blank=True, related_name="diary_records"
    )
    households = models.ManyToManyField(
        "registry.Household", verbose_name=_("households"), blank=True, related_name="diary_records"
    )
    houses = models.ManyToManyField(
        "registry.House", verbose_name=_("houses"), blank=True, related_name="diary_records"
    )
    buildings = models.ManyToManyField(
        "registry.Building", verbose_name=_("buildings"), blank=True, related_name="diary_records"
    )
    organisations = models.ManyToManyField(
        "registry.Organisation", verbose_name=_("organisations"), blank=True, related_name="diary_records"
    )
    shops = models.ManyToManyField(
        "registry.Shop", verbose_name=_("shops"), blank=True, related_name="diary_records"
    )
    facilities = models.ManyToManyField(
        "registry.Facility", verbose_name=_("facilities"), blank=True, related_name="diary_records"
    )
    attendees = models.ManyToManyField(
        "registry.Person", verbose_name=_("attending people"), blank=True, related_name="diary_meetings"
    )

    idempotency_key = models.CharField(_("idempotency key"), max_length=100, blank=True)
    case = models.OneToOneField(
        "cases.Case",
        verbose_name=_("case"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="diary_record",
    )
    case_made_at = models.DateTimeField(_("turned into a case at"), null=True, blank=True)
    version = models.PositiveIntegerField(_("version"), default=1)
    voided_at = models.DateTimeField(_("voided at"), null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("voided by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    void_reason = models.CharField(_("reason for voiding"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("diary record")
        verbose_name_plural = _("diary records")
        ordering = ["-id"]
        permissions = [("case_diaryrecord", _("Can turn diary records into cases"))]
        indexes = [
            *scope_indexes("diary_record"),
            # "My records" (the phone's list) and the author filter.
            models.Index(fields=["created_by", "id"], name="diary_record_author"),
            # Records of an area in a period (date filters, statistics).
            models.Index(fields=["area_code", "occurred_at"], name="diary_record_when"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["created_by", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="diary_record_idempotent",
            ),
            models.CheckConstraint(
                condition=Q(lat__isnull=True, lng__isnull=True) | Q(lat__isnull=False, lng__isnull=False),
                name="diary_record_point",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.summary}"

    @property
    def is_void(self) -> bool:
        return self.voided_at is not None

    @property
    def is_meeting(self) -> bool:
        from .choices import MEETING_KINDS

        return self.kind in MEETING_KINDS


def photo_path(instance, filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else "jpg"
    stamp = timezone.localtime()
    return f"diary/{stamp:%Y/%m}/{instance.record_id}-{stamp:%d%H%M%S%f}.{ext}"


class DiaryPhoto(BaseModel):
    """A photo of a diary record (checked and stripped of its location like a case photo)."""

    record = models.ForeignKey(
        DiaryRecord, verbose_name=_("record"), on_delete=models.CASCADE, related_name="photos"
    )
    image = models.ImageField(_("image"), upload_to=photo_path, width_field="width", height_field="height")
    width = models.PositiveIntegerField(_("width"), default=0)
    height = models.PositiveIntegerField(_("height"), default=0)
    size = models.PositiveIntegerField(_("size (bytes)"), default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        verbose_name = _("diary photo")
        verbose_name_plural = _("diary photos")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.image.name
