from django.urls import path

from .shell_views import PortalHomeView

app_name = "portal"
urlpatterns = [path("", PortalHomeView.as_view(), name="home")]
