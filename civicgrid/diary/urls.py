from django.urls import path
from django.utils.translation import gettext_lazy as _

from civicgrid.core import navigation

from . import views

app_name = "diary"

urlpatterns = [
    path("", views.RecordListView.as_view(), name="list"),
    path("new/", views.RecordCreateView.as_view(), name="create"),
    path("<int:pk>/", views.RecordDetailView.as_view(), name="detail"),
    path("<int:pk>/edit/", views.RecordEditView.as_view(), name="edit"),
    path("photos/<int:pk>/", views.PhotoView.as_view(), name="photo"),
    path("lookup/", views.LookupView.as_view(), name="lookup"),
]

navigation.register("diary", _("Diary records"), "diary:list", "diary.view_diaryrecord")
navigation.register("diary", _("New record"), "diary:create", "diary.add_diaryrecord")
