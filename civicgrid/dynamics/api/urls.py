"""/api/v1/dynamics/ (included by config.api_urls)."""

from rest_framework.routers import SimpleRouter

from .views import DynamicsPostViewSet

router = SimpleRouter()
router.register("posts", DynamicsPostViewSet, basename="dynamics-post")

urlpatterns = router.urls
