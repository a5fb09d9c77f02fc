"""The two audit layers: a change log of every create/update/delete and an access log of sensitive
reads and exports. Both are append-only; a background step seals them into hash chains."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AppendOnlyError(Exception):
    """Raised on any attempt to change or remove an audit row through the application."""


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only")

    def delete(self):
        raise AppendOnlyError(f"{self.model.__name__} rows are append-only")

    _raw_delete = delete


class AppendOnlyModel(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError(f"{type(self).__name__} rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{type(self).__name__} rows are append-only")


class ChangeAction(models.TextChoices):
    CREATE = "create", _("Create")
    UPDATE = "update", _("Update")
    DELETE = "delete", _("Delete")


class AccessKind(models.TextChoices):
    SENSITIVE_READ = "read", _("Sensitive read")
    REVEAL = "reveal", _("Reveal of masked data")
    EXPORT = "export", _("Export")
    LOGIN = "login", _("Login")
    LOGIN_FAILED = "login_failed", _("Failed login")
    LOGOUT = "logout", _("Logout")


class ChangeLog(AppendOnlyModel):
    """One create, update or delete of a record, with who did it, from where, and the state
    before and after."""

    time = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # core_changelog_user: only rows with a user
    )
    username = models.CharField(_("username"), max_length=150, blank=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    action = models.CharField(_("action"), max_length=10, choices=ChangeAction.choices)
    # No database constraint: every audited write would lock the one row of its model's type in
    # django_content_type until it commits (the constraint's check), and concurrent writers of a
    # model then share that lock, which PostgreSQL records as a multixact — the busiest writes,
    # the intake's, all name the same type. Content types are Django's own and never deleted while
    # rows point to them (PROTECT, enforced by the ORM).
    content_type = models.ForeignKey(
        ContentType,
        verbose_name=_("object type"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # core_changelog_object leads with it
        db_constraint=False,
    )
    object_id = models.CharField(_("object id"), max_length=64)
    object_repr = models.CharField(_("object"), max_length=200)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)

    class Meta:
        verbose_name = _("change log entry")
        verbose_name_plural = _("change log")
        ordering = ["-id"]
        # Every audited write adds a row, so the table carries only the indexes its filters use
        # (no pattern-matching twins of the text columns, nothing duplicating a composite's lead).
        indexes = [
            models.Index(fields=["content_type", "object_id"], name="core_changelog_object"),
            models.Index(fields=["object_id"], name="core_changelog_object_id"),
            # Only rows written in a request: the deadline sweep's thousands have none.
            models.Index(
                fields=["request_id"], condition=~models.Q(request_id=""), name="core_changelog_request"
            ),
            models.Index(fields=["user"], condition=models.Q(user__isnull=False), name="core_changelog_user"),
        ]

    def __str__(self) -> str:
        return f"{self.time:%Y-%m-%d %H:%M:%S} {self.username} {self.action} {self.object_repr}"


class AccessLog(AppendOnlyModel):
    """A sensitive read, a reveal of masked data, an export or a login event."""

    time = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    username = models.CharField(_("username"), max_length=150, blank=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True, db_index=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=AccessKind.choices, db_index=True)
    content_type = models.ForeignKey(
        ContentType,
        verbose_name=_("object type"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    class Meta:
        verbose_name = _("access log entry")
        verbose_name_plural = _("access log")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.time:%Y-%m-%d %H:%M:%S} {self.username} {self.kind} {self.object_repr}"


class SealBase(AppendOnlyModel):
    seq = models.BigIntegerField(unique=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    sealed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"#{self.seq} {self.hash[:12]}"


class ChangeLogSeal(SealBase):
    """A link of the change log's hash chain. No database constraint ties it to its entry, so a
    deleted entry leaves a dangling seal that ``audit_verify`` reports."""

    entry = models.OneToOneField(
        ChangeLog, primary_key=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="seal"
    )

    class Meta:
        verbose_name = _("change log seal")


class AccessLogSeal(SealBase):
    """A link of the access log's hash chain."""

    entry = models.OneToOneField(
        AccessLog, primary_key=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="seal"
    )

    class Meta:
        verbose_name = _("access log seal")


class AuditChainHead(models.Model):
    """The end of each chain: last sequence number and hash. Locked while sealing so that one
    sealer at a time extends a chain; ordinary writes never touch it."""

    stream = models.CharField(max_length=16, primary_key=True)
    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)

    class Meta:
        verbose_name = _("audit chain head")

    def __str__(self) -> str:
        return f"{self.stream}@{self.last_seq}"
