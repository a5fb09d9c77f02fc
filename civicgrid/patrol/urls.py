from django.urls import path
from django.utils.translation import gettext_lazy as _

from civicgrid.core import navigation

from . import views

app_name = "patrol"

urlpatterns = [
    path("patrol/", views.IndexView.as_view(), name="index"),
    path("patrol/workers/<int:pk>/<str:day>/", views.WorkerDayView.as_view(), name="worker_day"),
    path("patrol/coverage/", views.CoverageView.as_view(), name="coverage"),
    path("patrol/coverage/<int:pk>/", views.CoverageGridView.as_view(), name="coverage_grid"),
    # The grid worker's duty page, inside the phone app's scope (/m/).
    path("m/patrol/", views.DutyView.as_view(), name="duty"),
]

navigation.register("diary", _("Work tracks"), "patrol:index", "patrol.view_patrolshift")
navigation.register("diary", _("Grid coverage"), "patrol:coverage", "patrol.view_buildingvisit")
