"""API token authentication: ``Authorization: Bearer cg_…`` (or ``Token cg_…``)."""

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from .services import api_token_lookup


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keywords = ("bearer", "token")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace").lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Invalid Authorization header: expected a token."))
        token = api_token_lookup(header[1].decode(errors="replace"))
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid, expired or revoked token."))
        return token.user, token

    def authenticate_header(self, request):
        return "Bearer"
