from django.urls import path
from django.utils.translation import gettext_lazy as _

from . import audit_views, calendar_views, navigation, views

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("system/audit/changes/", audit_views.ChangeLogView.as_view(), name="audit_changes"),
    path("system/audit/access/", audit_views.AccessLogView.as_view(), name="audit_access"),
    path("system/calendar/", calendar_views.WorkCalendarView.as_view(), name="work_calendar"),
]

navigation.register("system", _("Change log"), "audit_changes", "core.view_changelog")
navigation.register("system", _("Access log"), "audit_access", "core.view_accesslog")
navigation.register("system", _("Work calendar"), "work_calendar", "core.change_calendaroverride")
