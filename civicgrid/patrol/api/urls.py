"""/api/v1/patrol/ (included by config.api_urls)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("shifts", views.ShiftViewSet, basename="patrol-shift")
router.register("consents", views.ConsentViewSet, basename="patrol-consent")
router.register("consent-texts", views.ConsentTextViewSet, basename="patrol-consenttext")

urlpatterns = [
    path("me/", views.MyStateView.as_view(), name="patrol-me"),
    path("me/consent/", views.ConsentGiveView.as_view(), name="patrol-consent-give"),
    path("me/consent/withdraw/", views.ConsentWithdrawView.as_view(), name="patrol-consent-withdraw"),
    path("me/shifts/", views.MyShiftsView.as_view(), name="patrol-my-shifts"),
    path("me/shifts/<int:pk>/end/", views.MyShiftEndView.as_view(), name="patrol-shift-end"),
    path("me/shifts/<int:pk>/points/", views.MyPointsView.as_view(), name="patrol-points"),
    path("workers/<int:pk>/days/<str:day>/", views.WorkerDayView.as_view(), name="patrol-worker-day"),
    path("coverage/", views.CoverageView.as_view(), name="patrol-coverage"),
    *router.urls,
]
