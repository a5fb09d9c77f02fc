"""The duty bar of the phone app: included once by ``templates/mobile/app_base.html``."""

from django import template
from django.urls import reverse
from django.utils.translation import gettext as _

from .. import conf

register = template.Library()


def track_strings() -> dict:
    return {
        "recording": _("Recording track"),
        "onDutySince": _("on duty %(time)s · %(n)s points"),
        "waiting": _("%(n)s points waiting to upload"),
        "allSent": _("All points uploaded."),
        "starting": _("Starting duty…"),
        "started": _("On duty: your track is being recorded."),
        "ended": _("Duty ended. Recording stopped."),
        "endedElsewhere": _(
            "Your duty was ended (consent withdrawn, or closed after a long time without points)."
        ),
        "needSignal": _("Starting or ending duty needs signal; try again in a moment."),
        "noGeo": _("This phone does not share its location: no track can be recorded."),
        "geoDenied": _(
            "Location permission was refused: no track is recorded. Allow location for this site."
        ),
        "consentStale": _("The consent text has changed; read the new version."),
        "withdrawConfirm": _(
            "Withdraw your consent? Recording stops at once and you cannot start duty until you agree again."
        ),
        "withdrawn": _("Consent withdrawn. Nothing is recorded."),
        "signIn": _("Sign in again to upload your track."),
        "failed": _("Not accepted: %(detail)s"),
        "offDuty": _("Off duty"),
        "onDuty": _("On duty"),
    }


@register.inclusion_tag("patrol/mobile/_duty_bar_inner.html", takes_context=True)
def patrol_duty_bar(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.has_perm("patrol.record_track"):
        return {"show": False}
    return {
        "show": True,
        "config": {
            "userId": user.pk,
            "meUrl": reverse("api:patrol-me"),
            "consentUrl": reverse("api:patrol-consent-give"),
            "withdrawUrl": reverse("api:patrol-consent-withdraw"),
            "shiftsUrl": reverse("api:patrol-my-shifts"),
            "endUrl": reverse("api:patrol-shift-end", args=[0]),
            "pointsUrl": reverse("api:patrol-points", args=[0]),
            "dutyUrl": reverse("patrol:duty"),
            "minIntervalMs": int(conf.get("PATROL_MIN_INTERVAL_S") * 1000),
            "uploadEveryMs": int(conf.get("PATROL_UPLOAD_EVERY_S") * 1000),
            "strings": track_strings(),
        },
    }
