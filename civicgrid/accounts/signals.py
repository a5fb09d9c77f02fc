"""Sign-in events go to the access log."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from civicgrid.core.audit import log_access
from civicgrid.core.models.audit import AccessKind


@receiver(user_logged_in)
def on_login(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        request.session["last_seen"] = None
    log_access(AccessKind.LOGIN, user=user)


@receiver(user_logged_out)
def on_logout(sender, request, user, **kwargs):
    if user is not None:
        log_access(AccessKind.LOGOUT, user=user)


@receiver(user_login_failed)
def on_login_failed(sender, credentials, request=None, **kwargs):
    log_access(AccessKind.LOGIN_FAILED, detail={"username": str(credentials.get("username", ""))[:150]})
