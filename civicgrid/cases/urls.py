from django.urls import path
from django.utils.translation import gettext_lazy as _

from civicgrid.core import navigation

from . import views

app_name = "cases"

urlpatterns = [
    path("", views.TriageView.as_view(), name="triage"),
    path("cases/", views.CaseListView.as_view(), name="list"),
    path("cases/<int:pk>/", views.CaseDetailView.as_view(), name="detail"),
    path("photos/<int:pk>/", views.PhotoView.as_view(), name="photo"),
    path("map/", views.MapView.as_view(), name="map"),
    path("map/feed/", views.MapFeedView.as_view(), name="map_feed"),
    path("unit/", views.UnitCasesView.as_view(), name="unit"),
    path("meetings/", views.MeetingListView.as_view(), name="meetings"),
    path("meetings/<int:pk>/", views.MeetingDetailView.as_view(), name="meeting"),
    path("risks/", views.RiskListView.as_view(), name="risks"),
]

navigation.register("command", _("Triage queue"), "cases:triage", "cases.record_case", "cases.dispatch_case")
navigation.register("command", _("Cases"), "cases:list", "cases.view_case")
navigation.register("command", _("Live map"), "cases:map", "cases.view_case")
navigation.register("command", _("My unit's cases"), "cases:unit", "cases.handle_case")
navigation.register("command", _("Joint meetings"), "cases:meetings", "cases.view_jointmeeting")
navigation.register("command", _("Risk points"), "cases:risks", "cases.view_case")
