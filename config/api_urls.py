"""/api/v1/ routes."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from civicgrid.accounts.api.views import MeView, PostViewSet, RoleViewSet, UserViewSet
from civicgrid.areas.api.views import AreaViewSet
from civicgrid.cases.api.views import CaseViewSet, CategoryViewSet, DeadlinePolicyViewSet, DepartmentViewSet
from civicgrid.core.api.audit import AccessLogViewSet, ChangeLogViewSet
from civicgrid.core.api.calendar import CalendarView, DeadlineView
from civicgrid.registry.api.verification import CampaignViewSet, CheckViewSet
from civicgrid.registry.api.views import (
    BuildingViewSet,
    CompoundViewSet,
    FacilityViewSet,
    HouseholdViewSet,
    HouseViewSet,
    OrganisationViewSet,
    PersonViewSet,
    ShopViewSet,
)

router = DefaultRouter()
router.register("areas", AreaViewSet, basename="area")
router.register("users", UserViewSet, basename="user")
router.register("posts", PostViewSet, basename="post")
router.register("roles", RoleViewSet, basename="role")
router.register("registry/people", PersonViewSet, basename="person")
router.register("registry/compounds", CompoundViewSet, basename="compound")
router.register("registry/buildings", BuildingViewSet, basename="building")
router.register("registry/houses", HouseViewSet, basename="house")
router.register("registry/households", HouseholdViewSet, basename="household")
router.register("registry/organisations", OrganisationViewSet, basename="organisation")
router.register("registry/shops", ShopViewSet, basename="shop")
router.register("registry/facilities", FacilityViewSet, basename="facility")
router.register("registry/checks", CheckViewSet, basename="verificationcheck")
router.register("registry/campaigns", CampaignViewSet, basename="verificationcampaign")
# Event handling: the rules before the cases (``cases/<id>/`` takes digits only).
router.register("cases/categories", CategoryViewSet, basename="case-category")
router.register("cases/departments", DepartmentViewSet, basename="case-department")
router.register("cases/deadline-policies", DeadlinePolicyViewSet, basename="case-deadlinepolicy")
router.register("cases", CaseViewSet, basename="case")
router.register("audit/changes", ChangeLogViewSet, basename="changelog")
router.register("audit/access", AccessLogViewSet, basename="accesslog")

urlpatterns = [
    path("me/", MeView.as_view(), name="me"),
    path("calendar/", CalendarView.as_view(), name="calendar"),
    path("calendar/deadline/", DeadlineView.as_view(), name="calendar-deadline"),
    path("notifications/", include("civicgrid.notify.api.urls")),
    path("diary/", include("civicgrid.diary.api.urls")),
    path("patrol/", include("civicgrid.patrol.api.urls")),
    path("dynamics/", include("civicgrid.dynamics.api.urls")),
    *router.urls,
]
