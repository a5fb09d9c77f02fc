"""The grid workers' mobile shell. (The resident portal lives in ``civicgrid.portal``.)"""

from django.views.generic import TemplateView

from civicgrid.areas.models import Area

from .views import StaffPageMixin


class MobileHomeView(StaffPageMixin, TemplateView):
    template_name = "mobile/home.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        ctx["grid"] = Area.objects.filter(grid_worker=user).select_related("parent__parent").first()
        return ctx
