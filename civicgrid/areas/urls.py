from django.urls import path
from django.utils.translation import gettext_lazy as _

from civicgrid.core import navigation

from . import views

app_name = "areas"

urlpatterns = [
    path("gis/map/", views.MapView.as_view(), name="map"),
    path("system/areas/", views.AreaBrowseView.as_view(), name="browse"),
    path("system/areas/<int:pk>/", views.AreaBrowseView.as_view(), name="browse_node"),
    path("system/areas/<int:pk>/edit/", views.AreaEditView.as_view(), name="edit"),
    path("system/areas/<int:parent_pk>/new/", views.AreaCreateView.as_view(), name="create"),
]

navigation.register("gis", _("Grid map"), "areas:map", "areas.view_area")
navigation.register("system", _("Areas and grids"), "areas:browse", "areas.view_area")
