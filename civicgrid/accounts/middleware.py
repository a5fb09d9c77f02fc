"""Session idle timeout and the confidentiality-agreement gate."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from .selectors import needs_agreement

#: Paths that stay open without an accepted agreement (signing in and out, the agreement itself).
OPEN_PREFIXES = ("/accounts/", "/static/", "/healthz", "/i18n/", "/favicon.ico")
#: The API checks the agreement in its permission class, after token or session authentication.
API_PREFIX = "/api/"


class SessionIdleTimeoutMiddleware:
    """Signs a session out after SESSION_IDLE_TIMEOUT seconds without a request."""

    TOUCH_EVERY = 60

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated and hasattr(request, "session"):
            now = int(time.time())
            last = request.session.get("last_seen")
            if last is not None and now - last > settings.SESSION_IDLE_TIMEOUT:
                logout(request)
                if request.path.startswith("/api/"):
                    return JsonResponse(
                        {
                            "detail": _("Your session has expired. Please sign in again."),
                            "code": "session_expired",
                        },
                        status=401,
                    )
                messages.warning(request, _("Your session has expired. Please sign in again."))
                return redirect(f"{reverse(settings.LOGIN_URL)}?next={request.path}")
            if last is None or now - last > self.TOUCH_EVERY:
                request.session["last_seen"] = now
        return self.get_response(request)


class AgreementRequiredMiddleware:
    """Staff see no data page until they accept the current confidentiality agreement
    (StaffAPIPermission does the same for the API)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path
        if (
            request.user.is_authenticated
            and not path.startswith(OPEN_PREFIXES)
            and not path.startswith(API_PREFIX)
            and needs_agreement(request.user)
        ):
            return redirect(f"{reverse('accounts:agreement')}?next={path}")
        return self.get_response(request)
