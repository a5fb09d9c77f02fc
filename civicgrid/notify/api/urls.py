"""/api/v1/notifications/ (included by config.api_urls)."""

from django.urls import path

from .views import (
    AddressDetailView,
    AddressListView,
    NotificationListView,
    NotificationReadView,
    SMSConfirmView,
    SMSVerificationView,
)

urlpatterns = [
    path("", NotificationListView.as_view(), name="notification-list"),
    path("read/", NotificationReadView.as_view(), name="notification-read"),
    path("addresses/", AddressListView.as_view(), name="notification-address-list"),
    path("addresses/sms/verify/", SMSVerificationView.as_view(), name="notification-address-sms-verify"),
    path("addresses/sms/confirm/", SMSConfirmView.as_view(), name="notification-address-sms-confirm"),
    path("addresses/<str:channel>/", AddressDetailView.as_view(), name="notification-address-detail"),
]
