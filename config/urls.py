from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

# The machine-facing endpoints first: Django tries the patterns in order, and these take the
# busiest traffic (Open311 reports, the apps' API) without walking the pages' patterns.
urlpatterns = [
    path("open311/v2/", include("civicgrid.open311.urls")),
    path("api/v1/", include(("config.api_urls", "api"), namespace="api")),
    path("", include("civicgrid.core.urls")),
    path("", include("civicgrid.accounts.urls")),
    path("", include("civicgrid.areas.urls")),
    path("", include("civicgrid.registry.urls")),
    path("command/statistics/", include("civicgrid.cases.stats_urls")),
    path("command/", include("civicgrid.cases.urls")),
    path("", include("civicgrid.notify.urls")),
    path("portal/", include("civicgrid.portal.urls")),
    path("", include("civicgrid.patrol.urls")),
    path("", include("civicgrid.dynamics.urls")),
    path("diary/", include("civicgrid.diary.urls")),
    path("m/diary/", include("civicgrid.diary.mobile_urls")),
    path("m/", include("civicgrid.core.mobile_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api_docs"),
]
