"""The diary in the phone app, under /m/diary/ (the service worker's scope /m/ covers it)."""

from django.urls import path

from . import mobile_views

app_name = "diary_mobile"
urlpatterns = [
    path("", mobile_views.MobileDiaryListView.as_view(), name="list"),
    path("new/", mobile_views.MobileDiaryFormView.as_view(), name="new"),
    path("api/records/", mobile_views.DiaryRecordApiView.as_view(), name="api_records"),
]
