"""Notifications: what a user was told (the in-app notification centre), where else it was sent
(one delivery per channel), the routing table that says which kinds go to which channels, the
addresses (phone, WeChat openid) of each user on each channel, and the one-time codes sent by SMS
that prove a phone is the user's."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from civicgrid.core.fields import EncryptedTextField
from civicgrid.core.models import BaseModel

from .choices import Audience, Channel, CodePurpose, DeliveryStatus


class Notification(models.Model):
    """A message to one user (staff or resident), shown in their notification centre."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipient"),
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    kind = models.CharField(_("kind"), max_length=40)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"), blank=True)
    url = models.CharField(_("link"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-id"]
        indexes = [models.Index(fields=["recipient", "read_at", "id"], name="notify_inbox")]

    def __str__(self) -> str:
        return self.title


class NotificationRoute(BaseModel):
    """One row of the routing table: notifications of ``kind`` to users of ``audience`` also go out
    on ``channel`` (the in-app notification is always created). Seeded with defaults; an
    administrator switches rows on and off."""

    kind = models.CharField(_("kind"), max_length=40)
    audience = models.CharField(_("audience"), max_length=10, choices=Audience.choices)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("notification route")
        verbose_name_plural = _("notification routes")
        ordering = ["kind", "audience", "channel"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "audience", "channel"], name="notify_route_unique")
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.audience} · {self.channel}"


class ChannelAddress(BaseModel):
    """Where a user is reached on a channel: a mobile number for SMS, an openid for WeChat.
    Stored encrypted, with a blind index for exact lookups (a resident signs in with a verified
    phone). Only verified addresses receive messages; a verified address belongs to one user."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="channel_addresses",
    )
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    address = EncryptedTextField(_("address"))
    address_index = models.CharField(_("address index"), max_length=32, editable=False)
    verified = models.BooleanField(_("verified"), default=False)
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)

    audit_exclude = ("address",)

    class Meta:
        verbose_name = _("channel address")
        verbose_name_plural = _("channel addresses")
        ordering = ["user", "channel"]
        indexes = [models.Index(fields=["channel", "address_index"], name="notify_address_lookup")]
        constraints = [
            models.UniqueConstraint(fields=["user", "channel"], name="notify_address_one_per_channel"),
            models.UniqueConstraint(
                fields=["channel", "address_index"],
                condition=Q(verified=True),
                name="notify_address_verified_owner",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.channel}"


class Delivery(BaseModel):
    """One notification sent (or being sent) on one channel: what was sent (``payload``, without
    the plain address), how often it was tried and how it ended."""

    audit_enabled = False  # operational record, written by the task queue

    notification = models.ForeignKey(
        Notification, verbose_name=_("notification"), on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "updated_at"], name="notify_delivery_status")]
        constraints = [
            models.UniqueConstraint(fields=["notification", "channel"], name="notify_delivery_once")
        ]

    def __str__(self) -> str:
        return f"{self.notification_id} {self.channel} {self.status}"


class OneTimeCode(models.Model):
    """A code sent by SMS to a phone: a resident signs in with it (the portal), or a user proves
    they hold the number they bind for notifications (then ``user`` is who asked). Only a keyed
    hash of the code is kept, and the phone only as its blind index. A code expires after a few
    minutes, allows a few attempts and works once; the rows also count requests for the rate
    limits (per phone, per client address and per user). Not change-logged: nothing in it is a
    record of the business, and the rows are deleted after a day (``otp.purge``)."""

    purpose = models.CharField(_("purpose"), max_length=20, choices=CodePurpose.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # led by the (user, created_at) index
    )
    phone_index = models.CharField(_("phone index"), max_length=32)
    code_hash = models.CharField(_("code hash"), max_length=64)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("one-time code")
        verbose_name_plural = _("one-time codes")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["phone_index", "created_at"], name="notify_otp_phone"),
            models.Index(fields=["ip", "created_at"], name="notify_otp_ip"),
            models.Index(fields=["user", "created_at"], name="notify_otp_user"),
            models.Index(fields=["created_at"], name="notify_otp_created"),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} {self.phone_index[:8]}… {self.created_at:%Y-%m-%d %H:%M}"
