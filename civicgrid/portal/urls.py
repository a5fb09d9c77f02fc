from django.urls import path
from django.utils.translation import gettext_lazy as _

from civicgrid.core import navigation

from . import views

app_name = "portal"

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("login/", views.PhoneLoginView.as_view(), name="login"),
    path("login/code/", views.CodeLoginView.as_view(), name="verify"),
    path("community/", views.CommunityView.as_view(), name="community"),
    path("report/", views.ReportView.as_view(), name="report"),
    path("cases/", views.MyCasesView.as_view(), name="cases"),
    path("cases/<int:pk>/", views.CaseView.as_view(), name="case"),
    path("photos/<int:pk>/", views.PhotoView.as_view(), name="photo"),
    path("notices/", views.NoticeListView.as_view(), name="notices"),
    path("notices/<int:pk>/", views.NoticeView.as_view(), name="notice"),
    path("notices/manage/", views.NoticeManageView.as_view(), name="notice_manage"),
    path("notifications/", views.NotificationsView.as_view(), name="notifications"),
    path("notifications/<int:pk>/open/", views.OpenNotificationView.as_view(), name="notification_open"),
]

navigation.register("services", _("Notices to residents"), "portal:notice_manage", "portal.view_notice")
