from django.urls import path

from .shell_views import MobileHomeView

app_name = "mobile"
urlpatterns = [path("", MobileHomeView.as_view(), name="home")]
