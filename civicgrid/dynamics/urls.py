"""Work-dynamics pages, included at the site root (one include in ``config.urls``): the staff pages
under ``/diary/dynamics/``, the residents' under ``/portal/dynamics/``, the grid workers' under
``/m/dynamics/`` and the pictures every reader goes through."""

from django.urls import path
from django.utils.translation import gettext_lazy as _

from civicgrid.core import navigation

from . import reader_views, views

app_name = "dynamics"

urlpatterns = [
    path("diary/dynamics/", views.PostListView.as_view(), name="list"),
    path("diary/dynamics/new/", views.PostCreateView.as_view(), name="create"),
    path("diary/dynamics/<int:pk>/", views.PostDetailView.as_view(), name="detail"),
    path("diary/dynamics/<int:pk>/edit/", views.PostEditView.as_view(), name="edit"),
    path("dynamics/pictures/<int:pk>/", views.PictureView.as_view(), name="picture"),
    path("portal/dynamics/", reader_views.PortalListView.as_view(), name="portal_list"),
    path("portal/dynamics/<int:pk>/", reader_views.PortalDetailView.as_view(), name="portal_detail"),
    path("m/dynamics/", reader_views.MobileListView.as_view(), name="mobile_list"),
    path("m/dynamics/<int:pk>/", reader_views.MobileDetailView.as_view(), name="mobile_detail"),
]

navigation.register("diary", _("Work dynamics"), "dynamics:list", "dynamics.view_post")
