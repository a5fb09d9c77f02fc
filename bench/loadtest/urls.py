"""The project's URLs plus the floor endpoint of the Open311 throughput test (bench only)."""

from django.urls import include, path

from . import floor

urlpatterns = [
    path("bench/floor/", floor.insert_one),
    path("", include("config.urls")),
]
