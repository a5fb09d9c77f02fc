"""Work trajectory (工作轨迹, D2): a grid worker's consent to be tracked, duty sessions (shifts) with
the points the phone recorded, and the buildings the worker came within reach of.

Tracking needs the worker's consent to the current consent text; withdrawing it ends the running
shift. Shifts, consents and visits belong to a grid (the worker's grid; for a visit, the building's),
so officials see those of their area only. Points and upload batches are read through their shift."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from civicgrid.core.models import BaseModel, ScopedModel
from civicgrid.core.scope import scope_indexes

from .choices import ConsentEnd, PointStatus, ShiftEnd


class ConsentText(BaseModel):
    """A version of the text a worker agrees to before their patrol is tracked. Publishing a new
    version asks every worker to agree again before their next shift."""

    version = models.CharField(_("version"), max_length=20, unique=True)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"))
    is_current = models.BooleanField(_("current"), default=False)
    published_at = models.DateTimeField(_("published at"), default=timezone.now)

    class Meta:
        verbose_name = _("tracking consent text")
        verbose_name_plural = _("tracking consent texts")
        ordering = ["-published_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_current"], condition=Q(is_current=True), name="patrol_consenttext_one_current"
            )
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.version})"


class TrackingConsent(ScopedModel):
    """A worker's consent to have their patrol tracked while on duty, to one version of the text.
    In force while ``withdrawn_at`` is empty; at most one per worker is in force."""

    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("worker"),
        on_delete=models.PROTECT,
        related_name="tracking_consents",
    )
    text = models.ForeignKey(
        ConsentText, verbose_name=_("consent text"), on_delete=models.PROTECT, related_name="consents"
    )
    given_at = models.DateTimeField(_("given at"), default=timezone.now)
    withdrawn_at = models.DateTimeField(_("no longer in force since"), null=True, blank=True)
    end_reason = models.CharField(_("ended because"), max_length=12, choices=ConsentEnd.choices, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    owner_field = "worker"

    class Meta:
        verbose_name = _("tracking consent")
        verbose_name_plural = _("tracking consents")
        ordering = ["-given_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["worker"], condition=Q(withdrawn_at__isnull=True), name="patrol_consent_one_in_force"
            )
        ]
        indexes = [
            *scope_indexes("patrol_consent"),
            models.Index(fields=["worker", "given_at"], name="patrol_consent_worker"),
        ]

    def __str__(self) -> str:
        return f"{self.worker_id} · {self.text_id} · {self.given_at:%Y-%m-%d}"

    @property
    def in_force(self) -> bool:
        return self.withdrawn_at is None


class PatrolShift(ScopedModel):
    """An on-duty session (在岗) of a grid worker, in the worker's grid, during which the phone
    records the track. ``point_count``, ``distance_m`` and the point times are maintained by the
    upload service (kept points only) and are not change-logged."""

    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("worker"),
        on_delete=models.PROTECT,
        related_name="patrol_shifts",
    )
    consent = models.ForeignKey(
        TrackingConsent, verbose_name=_("consent"), on_delete=models.PROTECT, related_name="shifts"
    )
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    end_reason = models.CharField(_("ended because"), max_length=20, choices=ShiftEnd.choices, blank=True)
    #: The phone's key for "start duty": a repeated request returns the same shift.
    client_key = models.CharField(_("client key"), max_length=36, blank=True)
    point_count = models.PositiveIntegerField(_("points"), default=0)
    rejected_count = models.PositiveIntegerField(_("points refused"), default=0)
    distance_m = models.FloatField(_("distance (m)"), default=0)
    first_point_at = models.DateTimeField(_("first point at"), null=True, blank=True)
    last_point_at = models.DateTimeField(_("last point at"), null=True, blank=True)
    #: Where the distance count stands (``geometry.Odometer.state``): the next upload carries on.
    odometer = models.JSONField(null=True, blank=True, editable=False)

    owner_field = "worker"
    audit_exclude = (
        "point_count",
        "rejected_count",
        "distance_m",
        "first_point_at",
        "last_point_at",
        "odometer",
    )

    class Meta:
        verbose_name = _("patrol shift")
        verbose_name_plural = _("patrol shifts")
        ordering = ["-started_at", "-id"]
        permissions = [("record_track", _("Can record own patrol track"))]
        constraints = [
            models.UniqueConstraint(
                fields=["worker"], condition=Q(ended_at__isnull=True), name="patrol_shift_one_open"
            ),
            models.UniqueConstraint(
                fields=["worker", "client_key"], condition=~Q(client_key=""), name="patrol_shift_client_key"
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="patrol_shift_ends_after_start",
            ),
        ]
        indexes = [
            *scope_indexes("patrol_shift"),
            # A worker's shifts of a day; the retention sweep (older than a date).
            models.Index(fields=["worker", "started_at"], name="patrol_shift_worker"),
            models.Index(fields=["started_at"], name="patrol_shift_started"),
            # The stale-shift sweep reads open shifts only.
            models.Index(fields=["started_at"], condition=Q(ended_at__isnull=True), name="patrol_shift_open"),
        ]

    def __str__(self) -> str:
        return f"{self.worker_id} {timezone.localtime(self.started_at):%Y-%m-%d %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.ended_at is None


class TrackBatch(BaseModel):
    """One upload of points from the phone, under the phone's idempotency key: a replayed batch is
    answered from here and writes nothing."""

    audit_enabled = False  # machine data; the shift is the audited record

    shift = models.ForeignKey(
        PatrolShift, verbose_name=_("shift"), on_delete=models.CASCADE, related_name="batches"
    )
    key = models.UUIDField(_("batch key"))
    received = models.PositiveIntegerField(_("points received"), default=0)
    accepted = models.PositiveIntegerField(_("points accepted"), default=0)
    duplicates = models.PositiveIntegerField(_("duplicate points"), default=0)
    rejected = models.PositiveIntegerField(_("points refused"), default=0)

    class Meta:
        verbose_name = _("track upload")
        verbose_name_plural = _("track uploads")
        constraints = [models.UniqueConstraint(fields=["shift", "key"], name="patrol_batch_once")]

    def __str__(self) -> str:
        return f"{self.shift_id}:{self.key}"


class TrackPoint(models.Model):
    """A position the phone recorded during a shift (WGS-84, ``recorded_at`` is the phone's time).
    One point per shift and instant: a point sent twice is stored once."""

    shift = models.ForeignKey(
        PatrolShift, verbose_name=_("shift"), on_delete=models.CASCADE, related_name="points", db_index=False
    )
    recorded_at = models.DateTimeField(_("recorded at"))
    lat = models.FloatField(_("latitude"))
    lng = models.FloatField(_("longitude"))
    accuracy = models.FloatField(_("accuracy (m)"))
    speed = models.FloatField(_("speed (m/s)"), null=True, blank=True)
    status = models.PositiveSmallIntegerField(
        _("status"), choices=PointStatus.choices, default=PointStatus.OK
    )

    class Meta:
        verbose_name = _("track point")
        verbose_name_plural = _("track points")
        # The unique index on (shift, recorded_at) also serves every read: a shift's points in order.
        constraints = [models.UniqueConstraint(fields=["shift", "recorded_at"], name="patrol_point_once")]

    def __str__(self) -> str:
        return f"{self.shift_id} {self.recorded_at:%H:%M:%S} {self.lat:.6f},{self.lng:.6f}"


class BuildingVisit(ScopedModel):
    """A worker's track came within reach (``PATROL_VISIT_RADIUS_M``) of a building on a day: the
    first time and the closest approach. In the building's grid, so coverage reads per grid."""

    audit_enabled = False  # derived from the points, like them deleted after the retention period

    building = models.ForeignKey(
        "registry.Building", verbose_name=_("building"), on_delete=models.CASCADE, related_name="+"
    )
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("worker"), on_delete=models.PROTECT, related_name="+"
    )
    shift = models.ForeignKey(
        PatrolShift, verbose_name=_("shift"), on_delete=models.CASCADE, related_name="visits"
    )
    visited_on = models.DateField(_("date"))
    first_at = models.DateTimeField(_("first within reach at"))
    distance_m = models.FloatField(_("closest approach (m)"))

    owner_field = "worker"

    class Meta:
        verbose_name = _("building visit")
        verbose_name_plural = _("building visits")
        ordering = ["-visited_on", "first_at"]
        constraints = [
            models.UniqueConstraint(fields=["building", "worker", "visited_on"], name="patrol_visit_once")
        ]
        indexes = [
            *scope_indexes("patrol_visit"),
            # Coverage of a grid in a month; a worker's day; the retention sweep.
            models.Index(fields=["area_code", "visited_on"], name="patrol_visit_grid_day"),
            models.Index(fields=["worker", "visited_on"], name="patrol_visit_worker_day"),
            models.Index(fields=["visited_on"], name="patrol_visit_day"),
        ]

    def __str__(self) -> str:
        return f"{self.building_id} {self.worker_id} {self.visited_on}"
