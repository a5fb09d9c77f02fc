from django.urls import path
from django.utils.translation import gettext_lazy as _

from civicgrid.core import navigation

from . import views

app_name = "notify"

urlpatterns = [
    path("notifications/", views.NotificationListView.as_view(), name="list"),
    path("notifications/<int:pk>/open/", views.OpenNotificationView.as_view(), name="open"),
    path("notifications/addresses/", views.MyAddressesView.as_view(), name="addresses"),
    path("system/notifications/", views.ChannelSettingsView.as_view(), name="channels"),
]

navigation.register(
    "system", _("Notification channels"), "notify:channels", "notify.change_notificationroute"
)
