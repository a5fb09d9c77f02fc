"""/command/statistics/: the statistics page of event handling and its exports."""

from django.urls import path
from django.utils.translation import gettext_lazy as _

from civicgrid.core import navigation

from . import stats_views

app_name = "case_stats"

urlpatterns = [
    path("", stats_views.StatisticsView.as_view(), name="statistics"),
    path("export/", stats_views.ExportStatisticsView.as_view(), name="export_statistics"),
    path("export/cases/", stats_views.ExportCasesView.as_view(), name="export_cases"),
    path("exports/<int:pk>/", stats_views.ExportDetailView.as_view(), name="export"),
    path("exports/<int:pk>/status/", stats_views.ExportStatusView.as_view(), name="export_status"),
    path("exports/<int:pk>/download/", stats_views.ExportDownloadView.as_view(), name="export_download"),
]

navigation.register("command", _("Statistics"), "case_stats:statistics", "cases.view_case")
