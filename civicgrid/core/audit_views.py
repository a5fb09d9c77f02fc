"""The auditors' pages: filterable change log and access log, with the chains' state."""

from django.views.generic import ListView

from .filters import AccessLogFilter, ChangeLogFilter
from .models import AccessLog, AuditChainHead, ChangeLog
from .views import StaffPageMixin


class AuditListView(StaffPageMixin, ListView):
    paginate_by = 50
    filterset_class = None
    template_name = "core/audit_list.html"
    kind = ""

    def get_queryset(self):
        qs = self.model.objects.select_related("content_type").order_by("-id")
        self.filterset = self.filterset_class(self.request.GET or None, queryset=qs)
        return self.filterset.qs if self.filterset.is_bound and self.filterset.is_valid() else qs

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        params = self.request.GET.copy()
        params.pop("page", None)
        ctx.update(
            filter=self.filterset,
            kind=self.kind,
            query=params.urlencode(),
            chain=AuditChainHead.objects.filter(stream=self.kind).first(),
        )
        return ctx


class ChangeLogView(AuditListView):
    model = ChangeLog
    filterset_class = ChangeLogFilter
    required_perms = ("core.view_changelog",)
    kind = "change"


class AccessLogView(AuditListView):
    model = AccessLog
    filterset_class = AccessLogFilter
    required_perms = ("core.view_accesslog",)
    kind = "access"
