from django.contrib.auth import get_user_model
from django.db.models import Count
from django.utils.translation import gettext as _
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers as drf_serializers
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from civicgrid.areas import selectors, services
from civicgrid.areas.choices import AreaLevel
from civicgrid.areas.models import Area
from civicgrid.core.api.views import ScopedModelViewSet

from .serializers import (
    AreaGeoSerializer,
    AreaSerializer,
    AreaUpdateSerializer,
    AreaWriteSerializer,
    GridWorkerSerializer,
    LocateQuerySerializer,
    LocateResultSerializer,
)


class AreaFilter(filters.FilterSet):
    level = filters.ChoiceFilter(choices=AreaLevel.choices)
    parent = filters.NumberFilter(field_name="parent_id")
    code = filters.CharFilter(field_name="code")
    root = filters.BooleanFilter(method="filter_root", label="top visible areas only")
    q = filters.CharFilter(field_name="name", lookup_expr="icontains")

    class Meta:
        model = Area
        fields = ["level", "parent", "code"]

    def filter_root(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.exclude(parent__in=Area.objects.visible_to(self.request.user))


class AreaViewSet(ScopedModelViewSet):
    """The area tree. ``?geometry=1`` adds each boundary (GeoJSON, WGS-84)."""

    queryset = (
        Area.objects.select_related("grid_worker")
        .annotate(child_count=Count("children"))
        .order_by("scope_code")
    )
    filterset_class = AreaFilter
    action_permissions = {"locate": "view", "grid_worker": "areas.assign_gridworker"}
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_serializer_class(self):
        if self.action == "create":
            return AreaWriteSerializer
        if self.action == "partial_update":
            return AreaUpdateSerializer
        if self.request.query_params.get("geometry") in ("1", "true") or self.action == "retrieve":
            return AreaGeoSerializer
        return AreaSerializer

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        return Response(AreaGeoSerializer(serializer.instance).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        self.perform_update(serializer)
        return Response(AreaGeoSerializer(serializer.instance).data)

    def create_object(self, data):
        centre = (data["centre_lat"], data["centre_lng"]) if "centre_lat" in data else None
        return services.area_create(
            actor=self.request.user,
            code=data["code"],
            name=data["name"],
            level=data["level"],
            parent=data.get("parent"),
            geometry=data.get("geometry"),
            centre=centre,
        )

    def update_object(self, instance, data):
        centre = (data["centre_lat"], data["centre_lng"]) if "centre_lat" in data else None
        return services.area_update(
            actor=self.request.user,
            area=instance,
            name=data.get("name"),
            geometry=data.get("geometry"),
            centre=centre,
            is_active=data.get("is_active"),
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("lat", OpenApiTypes.DOUBLE, required=True, description="WGS-84 latitude"),
            OpenApiParameter("lng", OpenApiTypes.DOUBLE, required=True, description="WGS-84 longitude"),
        ],
        responses=LocateResultSerializer,
    )
    @action(detail=False, methods=["get"])
    def locate(self, request):
        """Resolve a WGS-84 point to its unit grid and the grid's ancestors."""
        query = LocateQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        grid = selectors.locate_grid(query.validated_data["lat"], query.validated_data["lng"])
        if grid is None:
            return Response(
                {"detail": _("This point is outside every grid of the city."), "code": "outside_city"},
                status=status.HTTP_404_NOT_FOUND,
            )
        return Response(LocateResultSerializer({"grid": grid, "ancestors": selectors.ancestors(grid)}).data)

    @extend_schema(request=GridWorkerSerializer, responses=AreaSerializer)
    @action(detail=True, methods=["post"], url_path="grid-worker")
    def grid_worker(self, request, pk=None):
        """Assign (or with ``null``, remove) the grid's worker."""
        grid = self.get_object()
        body = GridWorkerSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = None
        if body.validated_data["user"] is not None:
            user = get_user_model().objects.filter(pk=body.validated_data["user"], is_active=True).first()
            if user is None:
                raise drf_serializers.ValidationError({"user": _("Unknown or inactive user.")})
        grid = services.grid_worker_assign(actor=request.user, grid=grid, user=user)
        return Response(AreaSerializer(self.get_queryset().get(pk=grid.pk)).data)
