from django.db import models
from django.utils.translation import gettext_lazy as _


class Kind(models.TextChoices):
    """What a notification is about (the routing table sends each kind to its channels)."""

    CASE_STATUS = "case_status", _("Progress of my report")
    CASE_UNIT = "case_unit", _("Case for my unit")
    CASE_VERIFY = "case_verify", _("Verification task")
    CASE_WARNING = "case_warning", _("Deadline warning")
    CASE_OVERDUE = "case_overdue", _("Overdue case")
    CASE_RETURNED = "case_returned", _("Case returned to dispatch")


class Channel(models.TextChoices):
    """Channels beyond the in-app notification centre (which always gets every notification).
    Each channel's backend is named in ``settings.NOTIFY_CHANNELS``."""

    SMS = "sms", _("SMS")
    WECHAT = "wechat", _("WeChat template message")


class Audience(models.TextChoices):
    RESIDENT = "resident", _("Residents")
    STAFF = "staff", _("Staff")


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class CodePurpose(models.TextChoices):
    """What a one-time code sent by SMS proves: a resident signs in with it, or a user shows they
    hold the mobile number they bind for notifications."""

    SIGN_IN = "sign_in", _("Sign-in")
    ADDRESS = "address", _("Verification of a mobile number")
