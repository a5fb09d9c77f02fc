from django.urls import path
from django.utils.translation import gettext_lazy as _

from civicgrid.core import navigation

from . import import_views, verification_views, views

app_name = "registry"

urlpatterns = [
    path("basedata/people/", views.PersonListView.as_view(), name="people"),
    path("basedata/people/<int:pk>/", views.PersonDetailView.as_view(), name="person"),
    path("basedata/places/", views.PlacesView.as_view(), name="places"),
    path("basedata/statistics/", views.StatisticsView.as_view(), name="statistics"),
]

navigation.register("basedata", _("People"), "registry:people", "registry.view_person")
navigation.register("basedata", _("Houses and buildings"), "registry:places", "registry.view_building")
navigation.register("basedata", _("Statistics"), "registry:statistics", "registry.view_person")

# Annual verification (B3)
urlpatterns += [
    path("basedata/verification/", verification_views.CampaignListView.as_view(), name="verification"),
    path("basedata/verification/my/", verification_views.MyChecksView.as_view(), name="verification_my"),
    path("basedata/verification/<int:pk>/", verification_views.CampaignDetailView.as_view(), name="campaign"),
]
navigation.register(
    "basedata", _("Verification"), "registry:verification", "registry.view_verificationcampaign"
)
navigation.register(
    "basedata", _("My checks"), "registry:verification_my", "registry.change_verificationcheck"
)

# Spreadsheet import and export of people (B4/X3)
urlpatterns += [
    path("basedata/imports/", import_views.ImportListView.as_view(), name="imports"),
    path("basedata/imports/template.xlsx", import_views.ImportTemplateView.as_view(), name="import_template"),
    path("basedata/imports/<int:pk>/", import_views.ImportDetailView.as_view(), name="import"),
    path("basedata/imports/<int:pk>/status/", import_views.ImportStatusView.as_view(), name="import_status"),
    path(
        "basedata/imports/<int:pk>/errors.xlsx", import_views.ImportErrorsView.as_view(), name="import_errors"
    ),
    path("basedata/exports/new/", import_views.ExportStartView.as_view(), name="export_people"),
    path("basedata/exports/<int:pk>/", import_views.ExportDetailView.as_view(), name="export"),
    path("basedata/exports/<int:pk>/status/", import_views.ExportStatusView.as_view(), name="export_status"),
    path(
        "basedata/exports/<int:pk>/download/",
        import_views.ExportDownloadView.as_view(),
        name="export_download",
    ),
]
navigation.register("basedata", _("Import"), "registry:imports", "registry.import_person")
