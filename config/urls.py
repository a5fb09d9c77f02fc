from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("", include("civicgrid.core.urls")),
    path("", include("civicgrid.accounts.urls")),
    path("", include("civicgrid.areas.urls")),
    path("", include("civicgrid.registry.urls")),
    path("portal/", include("civicgrid.core.portal_urls")),
    path("m/", include("civicgrid.core.mobile_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include(("config.api_urls", "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api_docs"),
]
