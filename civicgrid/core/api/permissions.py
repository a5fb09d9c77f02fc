"""API permission: authenticated, holding a post (or superuser), function permission per action."""

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, permissions

ACTION_BY_METHOD = {
    "GET": "view",
    "HEAD": "view",
    "OPTIONS": "view",
    "POST": "add",
    "PUT": "change",
    "PATCH": "change",
    "DELETE": "delete",
}


class NoPost(exceptions.PermissionDenied):
    default_detail = _("Your account has no post yet. Ask an administrator to assign one.")
    default_code = "no_post"


class AgreementRequired(exceptions.PermissionDenied):
    default_detail = _("Accept the data-confidentiality agreement before using the API.")
    default_code = "agreement_required"


class StaffAPIPermission(permissions.BasePermission):
    """Signed in, with at least one post. Views with a scoped model also need the model's function
    permission for the request's action; the rows themselves are filtered by ``visible_to``."""

    def has_permission(self, request, view):
        user = request.user
        if not user or not user.is_authenticated:
            return False
        from civicgrid.accounts.selectors import has_any_post, needs_agreement

        if not has_any_post(user):
            raise NoPost()
        if needs_agreement(user):
            raise AgreementRequired()
        perm = view.required_permission(request) if hasattr(view, "required_permission") else None
        return perm is None or user.has_perm(perm)
