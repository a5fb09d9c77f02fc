from django.urls import path
from django.utils.translation import gettext_lazy as _

from civicgrid.core import navigation

from . import views

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
