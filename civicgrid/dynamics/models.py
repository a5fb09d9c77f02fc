"""Work-dynamics posts (工作动态): news of a community's or a street's work, with pictures, shown to
the residents of that community (and, for a street's posts, of every community in the street)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from civicgrid.core.models import BaseModel, ScopedModel
from civicgrid.core.scope import scope_indexes

from .choices import EventKind, PictureKind, Status

TITLE_MAX = 200
BODY_MAX = 20_000
REASON_MAX = 500
#: Pictures a post may carry besides its cover.
MAX_PICTURES = 9


class Post(ScopedModel):
    """A work-dynamics post. The area is the community or street that posts it; residents see the
    published posts of their community and of its street. ``body`` is plain text (paragraphs
    separated by blank lines), always shown escaped. ``version`` grows with every change, so an
    editor working on an old copy gets a conflict instead of overwriting someone else's edit."""

    title = models.CharField(pgettext_lazy("work dynamics", "title"), max_length=TITLE_MAX)
    body = models.TextField(_("text"), blank=True, validators=[MaxLengthValidator(BODY_MAX)])
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("published by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    withdrawn_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("withdrawn by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    withdraw_reason = models.CharField(_("reason for withdrawal"), max_length=REASON_MAX, blank=True)
    pinned = models.BooleanField(_("pinned"), default=False)
    pinned_at = models.DateTimeField(_("pinned at"), null=True, blank=True)
    view_count = models.PositiveIntegerField(_("views"), default=0)
    version = models.PositiveIntegerField(_("version"), default=1)

    #: Views are counted with an UPDATE, not audited as changes.
    audit_exclude = ("view_count",)

    class Meta:
        verbose_name = _("work-dynamics post")
        verbose_name_plural = _("work-dynamics posts")
        ordering = ["-id"]
        permissions = [
            ("publish_post", _("Can publish work-dynamics posts")),
            ("withdraw_post", _("Can withdraw work-dynamics posts")),
            ("pin_post", _("Can pin work-dynamics posts")),
        ]
        indexes = [
            *scope_indexes("dyn_post"),
            # The residents' feed: the published posts of two area codes, pinned first, newest first.
            models.Index(fields=["area_code", "status", "pinned", "published_at"], name="dyn_post_feed"),
            models.Index(fields=["status", "published_at"], name="dyn_post_published"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status=Status.DRAFT) | Q(published_at__isnull=False),
                name="dyn_post_published_at",
            ),
            models.CheckConstraint(
                condition=Q(pinned=False) | Q(status=Status.PUBLISHED), name="dyn_post_pinned_published"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_published(self) -> bool:
        return self.status == Status.PUBLISHED

    @property
    def list_picture(self) -> PostPicture | None:
        """The picture shown in lists: the cover, else the first picture (from the prefetched
        ``lead_pictures`` when the selector loaded them)."""
        pictures = getattr(self, "lead_pictures", None)
        if pictures is None:
            pictures = list(self.pictures.filter(Q(kind=PictureKind.COVER) | Q(position=0)))
        cover = next((p for p in pictures if p.kind == PictureKind.COVER), None)
        return cover or next((p for p in pictures if p.kind == PictureKind.PICTURE), None)


def _stamp() -> str:
    return f"{timezone.localtime():%Y/%m}"


def picture_path(instance, filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else "jpg"
    return f"dynamics/{_stamp()}/{instance.post_id}-{instance.kind}-{timezone.now():%d%H%M%S%f}.{ext}"


def thumbnail_path(instance, filename: str) -> str:
    return f"dynamics/{_stamp()}/{instance.post_id}-{instance.kind}-{timezone.now():%d%H%M%S%f}-thumb.jpg"


class PostPicture(BaseModel):
    """A picture of a post: its cover (at most one) or one of up to nine pictures shown below the
    text in ``position`` order. Stored re-encoded (smaller, without EXIF data, location included)
    together with a small JPEG thumbnail for lists; served only through views that check the
    reader may see the post."""

    post = models.ForeignKey(
        Post, verbose_name=_("work-dynamics post"), on_delete=models.CASCADE, related_name="pictures"
    )
    kind = models.CharField(
        _("kind"), max_length=10, choices=PictureKind.choices, default=PictureKind.PICTURE
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    image = models.ImageField(_("image"), upload_to=picture_path, width_field="width", height_field="height")
    thumbnail = models.ImageField(_("thumbnail"), upload_to=thumbnail_path, blank=True)
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
        verbose_name = _("post picture")
        verbose_name_plural = _("post pictures")
        ordering = ["kind", "position", "id"]
        indexes = [models.Index(fields=["post", "kind", "position"], name="dyn_picture_post")]
        constraints = [
            models.UniqueConstraint(
                fields=["post"], condition=Q(kind=PictureKind.COVER), name="dyn_picture_one_cover"
            ),
        ]

    def __str__(self) -> str:
        return self.image.name


class PostEvent(BaseModel):
    """One step in a post's history (drafted, edited, published, withdrawn with its reason,
    pinned), written by the service that took it in the same transaction."""

    audit_enabled = False  # the event is itself the record; the post's own changes are change-logged

    post = models.ForeignKey(
        Post, verbose_name=_("work-dynamics post"), on_delete=models.CASCADE, related_name="events"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=EventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    from_status = models.CharField(_("from status"), max_length=10, choices=Status.choices, blank=True)
    to_status = models.CharField(_("to status"), max_length=10, choices=Status.choices, blank=True)
    note = models.CharField(_("note"), max_length=REASON_MAX, blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("post event")
        verbose_name_plural = _("post events")
        ordering = ["id"]
        indexes = [models.Index(fields=["post", "id"], name="dyn_event_post")]

    def __str__(self) -> str:
        return f"{self.post_id} {self.kind}"
