"""Cases (事件) and their history: events (the timeline), deadlines, photos, joint meetings."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from civicgrid.core import scope
from civicgrid.core.fields import EncryptedTextField
from civicgrid.core.models import BaseModel, ScopedModel
from civicgrid.core.models.base import ScopedManager, ScopedQuerySet, area_field, created_by_field
from civicgrid.core.scope import scope_indexes

from ..choices import (
    FINAL_STATUSES,
    Channel,
    DeadlineOutcome,
    EventKind,
    Level,
    Light,
    MeetingKind,
    OverdueAction,
    PhotoStage,
    Stage,
    Status,
    Urgency,
)
from .rules import Category, DeadlinePolicy, Department, DepartmentMember

#: Longest description accepted (characters).
DESCRIPTION_MAX = 4000

#: Actions a department handler takes on the cases of their unit, wherever the case is.
UNIT_ACTIONS = {"view", "handle"}


class CaseQuerySet(ScopedQuerySet):
    def visible_to(self, user, action: str = "view") -> CaseQuerySet:
        """Area scope as for every record (posts; residents see their own reports), plus, for
        department handlers, the cases dispatched to their unit (as lead or assisting unit).
        Handling (``handle``) is only ever by unit."""
        if user is not None and user.is_authenticated and user.is_superuser and user.is_active:
            return self.all()
        perm = scope.permission_name(self.model, action)
        q = None
        if action != "handle":
            q = scope.scope_filter(user, perm, field="area_code", owner_field="reporter")
            if q is not None and not q:  # Q(): everything
                return self.all()
        units = unit_ids(user) if action in UNIT_ACTIONS else []
        if units:
            through = Case.assisting_departments.through
            # ``__any``, not ``__in``: on PostgreSQL both sides of the OR are then read from indexes
            # (the unit's cases from cases_case_unit, the assisted ones by id), instead of a walk of
            # the whole table by id testing each row against the assisted cases.
            unit_q = Q(department_id__in=units) | Q(
                pk__any=through.objects.filter(department_id__in=units).values("case_id")
            )
            q = unit_q if q is None else q | unit_q
        if q is None:
            return self.none()
        return self.filter(q)

    def with_light(self, now=None):
        now = now or timezone.now()
        return self.annotate(
            light=models.Case(
                models.When(due_at__isnull=True, then=models.Value(Light.NONE)),
                models.When(due_at__lte=now, then=models.Value(Light.RED)),
                models.When(warn_at__lte=now, then=models.Value(Light.YELLOW)),
                default=models.Value(Light.GREEN),
                output_field=models.CharField(),
            )
        )

    def in_light(self, light: str, now=None):
        now = now or timezone.now()
        if light == Light.RED:
            return self.filter(due_at__lte=now)
        if light == Light.YELLOW:
            return self.filter(warn_at__lte=now, due_at__gt=now)
        if light == Light.GREEN:
            return self.filter(warn_at__gt=now)
        if light == Light.NONE:
            return self.filter(due_at__isnull=True)
        return self


def unit_ids(user) -> list[int]:
    """The departments whose cases ``user`` sees and handles as a member: only for holders of
    ``cases.handle_case`` (cached on the user)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return []
    cached = getattr(user, "_civic_units", None)
    if cached is None:
        cached = list(
            DepartmentMember.objects.filter(user=user, department__is_active=True).values_list(
                "department_id", flat=True
            )
        )
        user._civic_units = cached
    if not cached or not user.has_perm("cases.handle_case"):
        return []
    return cached


class Case(ScopedModel):
    """A reported problem and its handling, from report to rating. The area is the grid where it
    happened; ``department`` is the unit handling it now; ``level`` the level responsible
    (community → street → district → city). ``due_at``/``warn_at`` are the running deadline of the
    current stage (None when no clock runs); the light is derived from them."""

    # The scoped base's foreign keys without their plain indexes: nothing reads cases by area id
    # (the scope indexes read area_code) or by creator (the reporter, indexed below), and each
    # index is one more entry for every report written and every case the sweep escalates. Only
    # deleting an area or a user (refused while cases point to it) scans the table to find out.
    area = area_field(db_index=False)
    created_by = created_by_field(db_index=False)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), validators=[MaxLengthValidator(DESCRIPTION_MAX)])
    # The foreign keys whose column leads a composite index below have no index of their own:
    # every write of a case would keep a second one up to date for nothing.
    category = models.ForeignKey(
        Category, verbose_name=_("category"), on_delete=models.PROTECT, related_name="+", db_index=False
    )
    urgency = models.CharField(_("urgency"), max_length=10, choices=Urgency.choices, default=Urgency.NORMAL)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.REPORTED)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices, default=Level.COMMUNITY)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    answers = models.JSONField(_("answers to the category's questions"), default=dict, blank=True)

    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reporter"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reported_cases",
        db_index=False,
    )
    reporter_name = models.CharField(_("reporter's name"), max_length=50, blank=True)
    reporter_phone = EncryptedTextField(_("reporter's phone"), blank=True)
    #: Who sent it (an Open311 client's key, "user:<id>", an external system) and the sender's key
    #: for this report: a retry with the same pair returns the same case.
    source = models.CharField(_("source"), max_length=60, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=100, blank=True)

    department = models.ForeignKey(
        Department,
        verbose_name=_("handling unit"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cases",
        db_index=False,
    )
    dispatcher = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("dispatched by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Who dispatched it last: told of its deadline warnings."),
        db_index=False,
    )
    assisting_departments = models.ManyToManyField(
        Department, verbose_name=_("assisting units"), blank=True, related_name="assisted_cases"
    )
    duplicate_of = models.ForeignKey(
        "self",
        verbose_name=_("duplicate of"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="duplicates",
        db_index=False,
    )
    result = models.TextField(
        _("handling result"), blank=True, validators=[MaxLengthValidator(DESCRIPTION_MAX)]
    )
    reason = models.CharField(_("reason"), max_length=500, blank=True)

    reported_at = models.DateTimeField(_("reported at"), default=timezone.now)
    recorded_at = models.DateTimeField(_("recorded at"), null=True, blank=True)
    dispatched_at = models.DateTimeField(_("dispatched at"), null=True, blank=True)
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    deadline_stage = models.CharField(_("deadline stage"), max_length=10, choices=Stage.choices, blank=True)
    warn_at = models.DateTimeField(_("warning at"), null=True, blank=True)
    due_at = models.DateTimeField(_("due at"), null=True, blank=True)
    overdue_action = models.CharField(
        _("when overdue"), max_length=10, choices=OverdueAction.choices, blank=True
    )
    warned_at = models.DateTimeField(_("warned at"), null=True, blank=True)
    overdue_at = models.DateTimeField(_("overdue noticed at"), null=True, blank=True)
    supervision_count = models.PositiveSmallIntegerField(_("supervisions"), default=0)
    escalation_count = models.PositiveSmallIntegerField(_("escalations"), default=0)
    reopen_count = models.PositiveSmallIntegerField(_("reopenings"), default=0)

    rating = models.PositiveSmallIntegerField(
        _("rating"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    rating_comment = models.CharField(_("rating comment"), max_length=500, blank=True)
    rated_at = models.DateTimeField(_("rated at"), null=True, blank=True)
    is_public = models.BooleanField(_("public"), default=True)
    #: Bumped by every transition; a client that sends the version it saw gets a conflict when
    #: somebody acted in between.
    version = models.PositiveIntegerField(_("version"), default=1)

    owner_field = "reporter"
    objects = ScopedManager.from_queryset(CaseQuerySet)()

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["-id"]
        permissions = [
            ("record_case", _("Can record or reject reported cases")),
            ("dispatch_case", _("Can dispatch cases")),
            ("handle_case", _("Can handle cases of the unit")),
            ("verify_case", _("Can verify handled cases on site")),
            ("close_case", _("Can close cases")),
            ("supervise_case", _("Can supervise cases")),
            ("escalate_case", _("Can escalate cases")),
            ("coordinate_case", _("Can coordinate cases across units")),
            ("defer_case", _("Can defer cases as risk points")),
            ("export_case", _("Can export cases")),
        ]
        indexes = [
            *scope_indexes("cases_case"),
            # The clock's times after the key: the command center's counts of open cases by light
            # (``selectors.case_counts_by_light``) read this index alone, not each case's row. The
            # sweep's marks (warned_at, overdue_at) are not in it, so they stay heap-only.
            models.Index(fields=["status", "area_code", "id", "warn_at", "due_at"], name="cases_case_status"),
            # Indexes on columns that are often empty leave the empty rows out (a new report has no
            # unit, a resident's report via Open311 no account): every case written — each intake,
            # each case the deadline sweep updates — writes fewer index entries.
            models.Index(
                fields=["department", "status", "id"],
                condition=Q(department__isnull=False),
                name="cases_case_unit",
            ),
            models.Index(
                fields=["reporter", "id"], condition=Q(reporter__isnull=False), name="cases_case_reporter"
            ),
            models.Index(
                fields=["dispatcher"], condition=Q(dispatcher__isnull=False), name="cases_case_dispatcher"
            ),
            models.Index(
                fields=["duplicate_of"], condition=Q(duplicate_of__isnull=False), name="cases_case_duplicate"
            ),
            models.Index(fields=["category", "reported_at"], name="cases_case_cat_time"),
            models.Index(fields=["updated_at"], name="cases_case_updated"),
            # The deadline sweep reads only what fell due since its previous run (``SweepMark``): a
            # range of these, so its cost grows with due cases, not all cases. Only running clocks
            # are in them. The flags it sets (warned_at, overdue_at) are in no index, so marking a
            # case costs PostgreSQL a heap-only (HOT) update instead of an entry in every index.
            # due_at beside warn_at: the warning pass skips, in the index, the cases already due
            # (the overdue pass before it dealt with them).
            models.Index(
                fields=["warn_at", "due_at"], condition=Q(warn_at__isnull=False), name="cases_case_warn"
            ),
            models.Index(fields=["due_at"], condition=Q(due_at__isnull=False), name="cases_case_due"),
            # Statistics (civicgrid.cases.statistics) read these and nothing else: index-only range scans.
            models.Index(
                fields=["area_code", "reported_at", "category", "channel", "status"], name="cases_case_stats"
            ),
            models.Index(
                fields=["area_code", "rated_at", "department", "rating"],
                condition=Q(rated_at__isnull=False),
                name="cases_case_rated",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="cases_case_idempotent",
            ),
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5), name="cases_case_rating"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def number(self) -> str:
        """The case number people quote: report date and id (2026112700000123)."""
        return self.number_of(self.pk, self.reported_at)

    @staticmethod
    def number_of(pk: int | None, reported_at) -> str:
        """The number of case ``pk`` reported at ``reported_at``: its date in the platform's time zone
        (``TIME_ZONE``, not the zone active for a request, so a case keeps its number)."""
        when = timezone.localtime(reported_at or timezone.now(), timezone.get_default_timezone())
        # Not ``f"{when:%Y%m%d}"``: strftime is the slower part of the sweep's thousands of numbers.
        return f"{when.year:04d}{when.month:02d}{when.day:02d}{pk or 0:08d}"

    @property
    def is_open(self) -> bool:
        return self.status not in FINAL_STATUSES

    def light_at(self, now=None) -> str:
        now = now or timezone.now()
        if self.due_at is None:
            return Light.NONE
        if self.due_at <= now:
            return Light.RED
        if self.warn_at is not None and self.warn_at <= now:
            return Light.YELLOW
        return Light.GREEN

    @property
    def light(self) -> str:
        return self.__dict__.get("_light") or self.light_at()

    @light.setter
    def light(self, value: str) -> None:  # set by CaseQuerySet.with_light
        self.__dict__["_light"] = value


class CaseEvent(BaseModel):
    """One step in a case's life (its timeline), written by the service that took the step, in the
    same transaction. ``is_public`` events are shown to the reporter and to Open311 clients."""

    audit_enabled = False  # the event itself is the record of the change

    case = models.ForeignKey(  # cases_event_case leads with it
        Case, verbose_name=_("case"), on_delete=models.CASCADE, related_name="events", db_index=False
    )
    kind = models.CharField(_("kind"), max_length=20, choices=EventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # cases_event_actor, without the sweep's and Open311's events (no actor)
    )
    from_status = models.CharField(_("from"), max_length=12, choices=Status.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=12, choices=Status.choices, blank=True)
    department = models.ForeignKey(
        Department,
        verbose_name=pgettext_lazy("case", "unit"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        # No index: nothing reads events by unit (the statistics' reopenings read
        # cases_event_reopened), and the sweep writes thousands of events at once. Deleting a unit
        # (rare: units are deactivated) scans the events to find out whether any names it.
        db_index=False,
    )
    note = models.TextField(_("note"), blank=True)
    is_public = models.BooleanField(_("public"), default=True)
    data = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("case event")
        verbose_name_plural = _("case events")
        ordering = ["id"]
        indexes = [
            models.Index(fields=["case", "id"], name="cases_event_case"),
            models.Index(fields=["actor"], condition=Q(actor__isnull=False), name="cases_event_actor"),
            # "Not solved" reopenings in a period (statistics).
            models.Index(
                fields=["created_at", "case", "department"],
                condition=Q(kind=EventKind.REOPENED),
                name="cases_event_reopened",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind}"


class CaseDeadline(BaseModel):
    """One stage's clock: when it started, when it warned and fell due, and how it ended. The
    history of a case's deadlines, and the basis of on-time rates per unit and area."""

    audit_enabled = False

    case = models.ForeignKey(  # cases_dl_case leads with it
        Case, verbose_name=_("case"), on_delete=models.CASCADE, related_name="deadlines", db_index=False
    )
    stage = models.CharField(_("stage"), max_length=10, choices=Stage.choices)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices)
    # No plain indexes on the unit and the policy: the statistics read the unit through cases_dl_unit
    # and cases_dl_stats, nothing reads clocks by policy, and every report writes a clock. Deleting a
    # unit or a policy (rare; policies are usually deactivated) scans the history to find its clocks.
    department = models.ForeignKey(
        Department,
        verbose_name=pgettext_lazy("case", "unit"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    # No database constraint, as for the change log's content type: a handful of policies govern
    # every clock, and the constraint's check would lock a policy's row for each report until it
    # commits, shared between concurrent reports (a multixact on PostgreSQL). Deleting a policy
    # sets its clocks' policy to NULL through the ORM (SET_NULL).
    policy = models.ForeignKey(
        DeadlinePolicy,
        verbose_name=_("policy"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    area_code = models.CharField(_("area code"), max_length=24)
    started_at = models.DateTimeField(_("started at"))
    warn_at = models.DateTimeField(_("warning at"))
    due_at = models.DateTimeField(_("due at"))
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    outcome = models.CharField(
        _("outcome"), max_length=10, choices=DeadlineOutcome.choices, default=DeadlineOutcome.OPEN
    )

    class Meta:
        verbose_name = _("case deadline")
        verbose_name_plural = _("case deadlines")
        ordering = ["id"]
        indexes = [
            models.Index(fields=["case", "id"], name="cases_dl_case"),
            # Both hold ended clocks only (what the statistics read): a running clock — one per
            # report, one per escalation — writes no entry in them until it ends.
            models.Index(
                fields=["stage", "ended_at", "department"],
                condition=Q(ended_at__isnull=False),
                name="cases_dl_unit",
            ),
            # On-time rates (statistics): every column the aggregate reads.
            models.Index(
                fields=["stage", "area_code", "ended_at", "outcome", "department"],
                condition=Q(ended_at__isnull=False),
                name="cases_dl_stats",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.stage} → {self.due_at:%Y-%m-%d %H:%M}"


class SweepMark(models.Model):
    """How far the deadline sweep has looked (one row): the next sweep reads the clocks that fell
    due after this time (less ``deadlines.SWEEP_OVERLAP``), not every overdue case still open. Not
    in the change log: it is the sweep's bookmark, not a record of the city's; what the sweep did
    is in the cases' timelines and the change log."""

    swept_to = models.DateTimeField(_("swept up to"))
    ran_at = models.DateTimeField(_("last run at"))

    class Meta:
        verbose_name = _("deadline sweep mark")
        verbose_name_plural = _("deadline sweep marks")

    def __str__(self) -> str:
        return f"{self.swept_to:%Y-%m-%d %H:%M:%S}"


def photo_path(instance, filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else "jpg"
    stamp = timezone.localtime()
    return f"cases/{stamp:%Y/%m}/{instance.case_id}-{instance.stage}-{stamp:%d%H%M%S%f}.{ext}"


class CasePhoto(BaseModel):
    """A photo of a case: as reported, after handling, or taken when verifying on site."""

    case = models.ForeignKey(Case, verbose_name=_("case"), on_delete=models.CASCADE, related_name="photos")
    event = models.ForeignKey(
        CaseEvent,
        verbose_name=_("event"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="photos",
    )
    stage = models.CharField(_("stage"), max_length=10, choices=PhotoStage.choices, default=PhotoStage.REPORT)
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
    )

    class Meta:
        verbose_name = _("case photo")
        verbose_name_plural = _("case photos")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.image.name


class JointMeeting(ScopedModel):
    """A coordination meeting (党建联席会, 民情分析会, 邻里议事会) held by an area, with the units that
    attended, its minutes and decisions, and the cases it took up."""

    kind = models.CharField(_("kind"), max_length=15, choices=MeetingKind.choices)
    held_at = models.DateTimeField(_("held at"))
    place = models.CharField(_("place"), max_length=100, blank=True)
    topic = models.CharField(_("topic"), max_length=200)
    attendees = models.TextField(_("attendees"), blank=True)
    minutes = models.TextField(_("minutes"), blank=True, validators=[MaxLengthValidator(20_000)])
    decisions = models.TextField(_("decisions"), blank=True, validators=[MaxLengthValidator(DESCRIPTION_MAX)])
    departments = models.ManyToManyField(
        Department, verbose_name=_("units"), blank=True, related_name="meetings"
    )
    cases = models.ManyToManyField(Case, verbose_name=_("cases"), blank=True, related_name="meetings")

    class Meta:
        verbose_name = _("joint meeting")
        verbose_name_plural = _("joint meetings")
        ordering = ["-held_at"]
        indexes = scope_indexes("cases_meeting")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.topic}"
