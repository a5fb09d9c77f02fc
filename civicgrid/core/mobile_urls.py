from django.urls import path

from . import mobile_views
from .shell_views import MobileHomeView

app_name = "mobile"
urlpatterns = [
    path("", MobileHomeView.as_view(), name="home"),
    path("report/", mobile_views.MobileReportView.as_view(), name="report"),
    path("tasks/", mobile_views.MobileTasksView.as_view(), name="tasks"),
    path("cases/<int:pk>/verify/", mobile_views.MobileVerifyView.as_view(), name="verify"),
    path("api/reports/", mobile_views.ReportApiView.as_view(), name="api_report"),
    path("api/verify/", mobile_views.VerifyApiView.as_view(), name="api_verify"),
    path("sw.js", mobile_views.service_worker, name="sw"),
    path("manifest.webmanifest", mobile_views.manifest, name="manifest"),
]
