from django.db.models import Count, Q
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from civicgrid.core.api.views import ScopedModelViewSet, ScopedViewSetMixin
from civicgrid.core.audit import log_access
from civicgrid.core.models.audit import AccessKind
from civicgrid.registry import selectors, services
from civicgrid.registry.models import (
    Building,
    Compound,
    Facility,
    House,
    Household,
    Organisation,
    Person,
    Shop,
)

from .serializers import (
    BuildingSerializer,
    CompoundSerializer,
    FacilitySerializer,
    FacilityWriteSerializer,
    HouseholdSerializer,
    HouseSerializer,
    LeaveSerializer,
    MoveSerializer,
    OrganisationSerializer,
    OrganisationWriteSerializer,
    PersonEventSerializer,
    PersonSerializer,
    PersonUpdateSerializer,
    PersonWriteSerializer,
    RevealSerializer,
    ShopSerializer,
    ShopWriteSerializer,
)


class PersonViewSet(ScopedModelViewSet):
    """People living in the caller's scope. ``?q=`` searches name, pinyin initials, phone suffix or
    full number, document number; filters: ``grid`` (area id), ``person_type``, ``tag`` (code),
    ``address``, ``status``."""

    queryset = Person.objects.select_related("area").order_by("-id")
    http_method_names = ["get", "post", "patch", "head", "options"]
    action_permissions = {
        "reveal": "registry.reveal_person",
        "history": "view",
        "move_in": "change",
        "move_out": "change",
        "change_house": "change",
        "death": "change",
    }

    def get_queryset(self):
        qs = super().get_queryset()
        user = self.request.user
        qs = selectors.with_visible_tags(qs, user)
        if self.action == "list":
            params = self.request.query_params
            grid = None
            if params.get("grid"):
                from civicgrid.areas.models import Area

                grid = Area.objects.visible_to(user).filter(pk=params["grid"]).first() or Area(scope_code="-")
            qs = selectors.filter_people(
                qs,
                user=user,
                grid=grid,
                person_type=params.get("person_type", ""),
                tag=params.get("tag", ""),
                address=params.get("address", ""),
                status=params.get("status", ""),
            )
            qs = selectors.search_people(qs, params.get("q", ""))
        return qs

    def get_serializer_class(self):
        return {"create": PersonWriteSerializer, "partial_update": PersonUpdateSerializer}.get(
            self.action, PersonSerializer
        )

    def get_serializer_context(self):
        ctx = super().get_serializer_context()
        ctx["tag_ids"] = set(selectors.visible_tags(self.request.user).values_list("pk", flat=True))
        return ctx

    def _out(self, person, status=200):
        """The written person as a reader sees it (re-read: the write may have changed its tags)."""
        person = selectors.with_visible_tags(Person.objects.select_related("area"), self.request.user).get(
            pk=person.pk
        )
        return Response(PersonSerializer(person, context=self.get_serializer_context()).data, status=status)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        return self._out(serializer.instance, 201)

    def partial_update(self, request, *args, **kwargs):
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        self.perform_update(serializer)
        return self._out(serializer.instance)

    def create_object(self, data):
        return services.person_register(actor=self.request.user, **data)

    def update_object(self, instance, data):
        return services.person_update(actor=self.request.user, person=instance, **data)

    @extend_schema(request=RevealSerializer, responses={200: dict})
    @action(detail=True, methods=["post"])
    def reveal(self, request, pk=None):
        """The full document and phone numbers, for a stated reason (written to the access log)."""
        person = self.get_object()
        body = RevealSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        log_access(
            AccessKind.REVEAL,
            obj=person,
            reason=body.validated_data["reason"],
            detail={"fields": ["id_number", "phone"]},
        )
        return Response({"id_number": person.id_number, "phone": person.phone})

    @extend_schema(responses=PersonEventSerializer(many=True))
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        person = self.get_object()
        events = person.events.select_related("from_house", "to_house")
        return Response(PersonEventSerializer(events, many=True).data)

    @extend_schema(request=MoveSerializer, responses=PersonSerializer)
    @action(detail=True, methods=["post"], url_path="move-in")
    def move_in(self, request, pk=None):
        person, data = self.get_object(), self._body(MoveSerializer)
        services.person_move_in(
            actor=request.user,
            person=person,
            house=data["house"],
            household=data["household"],
            relation=data["relation"],
            on=data["date"],
        )
        return self._out(person)

    @extend_schema(request=MoveSerializer, responses=PersonSerializer)
    @action(detail=True, methods=["post"], url_path="change-house")
    def change_house(self, request, pk=None):
        person, data = self.get_object(), self._body(MoveSerializer)
        services.person_change_house(
            actor=request.user,
            person=person,
            house=data["house"],
            household=data["household"],
            on=data["date"],
        )
        return self._out(person)

    @extend_schema(request=LeaveSerializer, responses=PersonSerializer)
    @action(detail=True, methods=["post"], url_path="move-out")
    def move_out(self, request, pk=None):
        person, data = self.get_object(), self._body(LeaveSerializer)
        services.person_move_out(actor=request.user, person=person, on=data["date"], note=data["note"])
        return self._out(person)

    @extend_schema(request=LeaveSerializer, responses=PersonSerializer)
    @action(detail=True, methods=["post"])
    def death(self, request, pk=None):
        person, data = self.get_object(), self._body(LeaveSerializer)
        services.person_death(actor=request.user, person=person, on=data["date"], note=data["note"])
        return self._out(person)

    def _body(self, serializer_class):
        body = serializer_class(data=self.request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        return body.validated_data


class CompoundViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = (
        Compound.objects.select_related("area").annotate(building_count=Count("buildings")).order_by("id")
    )
    serializer_class = CompoundSerializer
    filterset_fields = ["area"]


class BuildingViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Building.objects.select_related("area").annotate(house_count=Count("houses")).order_by("id")
    serializer_class = BuildingSerializer
    filterset_fields = ["compound", "area"]


class HouseViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = House.objects.annotate(
        resident_count=Count("residents", filter=Q(residents__status="active"))
    ).order_by("building_id", "unit_no", "room_no")
    serializer_class = HouseSerializer
    filterset_fields = ["building", "unit_no", "use"]


class HouseholdViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Household.objects.select_related("head").order_by("id")
    serializer_class = HouseholdSerializer
    filterset_fields = ["house", "is_active"]


class PlaceRecordViewSet(ScopedModelViewSet):
    """Organisations, shops and facilities: list (``?q=`` name or code, ``?area=`` grid), read, create."""

    http_method_names = ["get", "post", "head", "options"]
    write_serializer = None
    create_service = None
    search_fields: tuple[str, ...] = ("name",)

    def get_serializer_class(self):
        return self.write_serializer if self.action == "create" else self.serializer_class

    def get_queryset(self):
        qs = super().get_queryset()
        q = self.request.query_params.get("q", "").strip()
        if self.action == "list" and q:
            cond = Q()
            for field in self.search_fields:
                cond |= Q(**{f"{field}__contains": q})
            qs = qs.filter(cond)
        return qs

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        return Response(self.serializer_class(serializer.instance).data, status=201)

    def create_object(self, data):
        return type(self).create_service(actor=self.request.user, **data)


class OrganisationViewSet(PlaceRecordViewSet):
    queryset = Organisation.objects.select_related("area").order_by("id")
    serializer_class = OrganisationSerializer
    write_serializer = OrganisationWriteSerializer
    create_service = staticmethod(services.organisation_create)
    filterset_fields = ["area", "kind", "uscc"]
    search_fields = ("name", "uscc")


class ShopViewSet(PlaceRecordViewSet):
    queryset = Shop.objects.select_related("area").order_by("id")
    serializer_class = ShopSerializer
    write_serializer = ShopWriteSerializer
    create_service = staticmethod(services.shop_create)
    filterset_fields = ["area", "business"]


class FacilityViewSet(PlaceRecordViewSet):
    queryset = Facility.objects.select_related("area", "category").order_by("id")
    serializer_class = FacilitySerializer
    write_serializer = FacilityWriteSerializer
    create_service = staticmethod(services.facility_create)
    filterset_fields = ["area", "category", "status"]
    search_fields = ("name", "code")
