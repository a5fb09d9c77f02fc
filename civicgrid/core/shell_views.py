"""The resident portal shell and the grid workers' mobile shell. Their features arrive with the
field and resident channels; the shells already carry sign-in, language and the user's area."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.views.generic import TemplateView

from civicgrid.areas.models import Area

from .views import StaffPageMixin


class PortalHomeView(LoginRequiredMixin, TemplateView):
    template_name = "portal/home.html"


class MobileHomeView(StaffPageMixin, TemplateView):
    template_name = "mobile/home.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        ctx["grid"] = Area.objects.filter(grid_worker=user).select_related("parent__parent").first()
        return ctx
