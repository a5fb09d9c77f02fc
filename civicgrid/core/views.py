"""Shell pages, health check and the generic page bases (scope applied once, here)."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import DetailView, ListView

from .navigation import modules_for
from .pagination import CappedPaginator
from .scope import permission_name


def add_form_errors(form, exc: ValidationError) -> None:
    """Show a service's ValidationError on the form, on the field it names when the form has it."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


class StaffPageMixin(LoginRequiredMixin):
    """A back-office page: signed in, holding a post, and (if set) one of ``required_perms``."""

    required_perms: tuple[str, ...] = ()

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        from civicgrid.accounts.selectors import has_any_post

        if not has_any_post(request.user):
            return render(request, "core/no_post.html", status=403)
        if self.required_perms and not any(request.user.has_perm(p) for p in self.required_perms):
            raise PermissionDenied(_("Your role does not include this page."))
        return super().dispatch(request, *args, **kwargs)


class ScopedQuerysetMixin:
    """Pages over a scoped model: the queryset is always ``visible_to(user, scope_action)``;
    an object outside the scope is a 404 like a missing one."""

    model = None
    scope_action = "view"

    def get_queryset(self):
        return super().get_queryset().visible_to(self.request.user, self.scope_action)

    @property
    def required_perms(self):
        return (permission_name(self.model, self.scope_action),)


class ScopedListView(ScopedQuerysetMixin, StaffPageMixin, ListView):
    paginate_by = 50
    paginator_class = CappedPaginator


class ScopedDetailView(ScopedQuerysetMixin, StaffPageMixin, DetailView):
    pass


class HomeView(LoginRequiredMixin, View):
    """Sends staff to their first module; residents to the portal."""

    def get(self, request):
        if request.user.user_type == "resident":
            return redirect("portal:home")
        modules = modules_for(request.user)
        if modules:
            return redirect(modules[0]["url"])
        return render(request, "core/no_post.html", status=403)


def healthz(request):
    """Database and task-queue state, for load balancers and monitoring."""
    from huey.contrib.djhuey import HUEY

    result = {"status": "ok", "database": {"vendor": connection.vendor}, "tasks": {}}
    code = 200
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        result["database"]["ok"] = True
    except Exception as exc:  # report, never raise, from a health check
        result["database"].update(ok=False, error=str(exc)[:200])
        result["status"], code = "error", 503
    try:
        result["tasks"] = {
            "backend": type(HUEY.storage).__name__,
            "immediate": HUEY.immediate,
            "pending": HUEY.pending_count(),
            "scheduled": HUEY.scheduled_count(),
            "ok": True,
        }
    except Exception as exc:
        result["tasks"] = {"ok": False, "error": str(exc)[:200]}
        result["status"], code = "error", 503
    return JsonResponse(result, status=code)
