"""/api/v1/diary/ (included by config.api_urls)."""

from rest_framework.routers import SimpleRouter

from .views import RecordViewSet

router = SimpleRouter()
router.register("records", RecordViewSet, basename="diary-record")

urlpatterns = router.urls
