"""Verification API (集中核实, B3) for the grid workers' mobile app and the officials' dashboards.

Scope is applied by ScopedViewSetMixin: a check or campaign outside the caller's scope answers 404.
Results are recorded by the services in ``civicgrid.registry.verification``; sending the same result
twice (an offline phone retrying) is answered like the first time."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from civicgrid.areas.models import Area
from civicgrid.core.api.views import ScopedViewSetMixin
from civicgrid.registry import verification
from civicgrid.registry.choices import IdKind, PersonType, Relation, Sex
from civicgrid.registry.models import VerificationCampaign, VerificationCheck


class CheckSerializer(serializers.ModelSerializer):
    kind = serializers.SerializerMethodField()
    campaign_name = serializers.CharField(source="campaign.name", read_only=True)

    class Meta:
        model = VerificationCheck
        fields = [
            "id",
            "campaign",
            "campaign_name",
            "kind",
            "object_id",
            "object_repr",
            "area",
            "area_code",
            "assignee",
            "status",
            "note",
            "checked_at",
            "checked_by",
        ]
        read_only_fields = fields

    def get_kind(self, obj) -> str:
        """The record's model: person, house, organisation or shop."""
        return ContentType.objects.get_for_id(obj.content_type_id).model


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class PersonChangesSerializer(serializers.Serializer):
    """The corrected details of a person; only the fields that are wrong need be sent."""

    name = serializers.CharField(max_length=50, required=False)
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True)
    person_type = serializers.ChoiceField(PersonType.choices, required=False)
    id_kind = serializers.ChoiceField(IdKind.choices, required=False)
    id_number = serializers.CharField(max_length=40, required=False, allow_blank=True)
    birth_date = serializers.DateField(required=False, allow_null=True)
    sex = serializers.ChoiceField(Sex.choices, required=False, allow_blank=True)
    nationality = serializers.CharField(max_length=3, required=False, allow_blank=True)
    ethnicity = serializers.CharField(max_length=20, required=False, allow_blank=True)
    relation = serializers.ChoiceField(Relation.choices, required=False, allow_blank=True)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise ValidationError({f: [_("This field cannot be corrected here.")] for f in unknown})
        return super().to_internal_value(data)


class CorrectSerializer(NoteSerializer):
    changes = PersonChangesSerializer(required=False)


class CampaignSerializer(serializers.ModelSerializer):
    area = serializers.PrimaryKeyRelatedField(queryset=Area.objects.none())
    area_name = serializers.CharField(source="area.name", read_only=True)

    class Meta:
        model = VerificationCampaign
        fields = [
            "id",
            "name",
            "year",
            "area",
            "area_name",
            "area_code",
            "status",
            "due_date",
            "closed_at",
            "check_count",
            "created_at",
        ]
        read_only_fields = ["area_code", "status", "closed_at", "check_count", "created_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["area"].queryset = Area.objects.visible_to(request.user)


class ProgressRowSerializer(serializers.Serializer):
    area_id = serializers.IntegerField(allow_null=True)
    code = serializers.CharField()
    name = serializers.CharField()
    worker = serializers.CharField()
    total = serializers.IntegerField()
    confirmed = serializers.IntegerField()
    corrected = serializers.IntegerField()
    gone = serializers.IntegerField()
    pending = serializers.IntegerField()
    percent = serializers.FloatField()


class ProgressTotalsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    confirmed = serializers.IntegerField()
    corrected = serializers.IntegerField()
    gone = serializers.IntegerField()
    pending = serializers.IntegerField()
    percent = serializers.FloatField()


class ProgressSerializer(serializers.Serializer):
    by = serializers.ChoiceField(["grid", "community"])
    totals = ProgressTotalsSerializer()
    rows = ProgressRowSerializer(many=True)


class CheckViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Verification checks in the caller's scope (a grid worker: their grid's). Filters: ``status``,
    ``campaign``, ``campaign__status`` (``open`` for the checks still accepting results)."""

    queryset = VerificationCheck.objects.select_related("campaign").order_by("area_code", "id")
    serializer_class = CheckSerializer
    filterset_fields = ["status", "campaign", "campaign__status"]
    action_permissions = {"confirm": "change", "correct": "change", "gone": "change"}

    def _body(self, serializer_class) -> dict:
        body = serializer_class(data=self.request.data)
        body.is_valid(raise_exception=True)
        return body.validated_data

    def _out(self, check) -> Response:
        check = VerificationCheck.objects.select_related("campaign").get(pk=check.pk)
        return Response(CheckSerializer(check).data)

    @extend_schema(request=NoteSerializer, responses=CheckSerializer)
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        """The record is right (repeating it changes nothing)."""
        check, data = self.get_object(), self._body(NoteSerializer)
        return self._out(verification.check_confirm(actor=request.user, check=check, note=data["note"]))

    @extend_schema(request=CorrectSerializer, responses=CheckSerializer)
    @action(detail=True, methods=["post"])
    def correct(self, request, pk=None):
        """The record is wrong: ``changes`` for a person (name, phone, person_type …), a ``note``
        saying what is wrong for other records."""
        check, data = self.get_object(), self._body(CorrectSerializer)
        return self._out(
            verification.check_correct(
                actor=request.user, check=check, changes=data.get("changes") or {}, note=data["note"]
            )
        )

    @extend_schema(request=NoteSerializer, responses=CheckSerializer)
    @action(detail=True, methods=["post"])
    def gone(self, request, pk=None):
        """The record is no longer here (a person is recorded as moved out)."""
        check, data = self.get_object(), self._body(NoteSerializer)
        return self._out(verification.check_gone(actor=request.user, check=check, note=data["note"]))


class CampaignViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Verification campaigns: those in the caller's scope and those over an area above their post
    (whose progress they see for their part only). ``POST`` starts one; ``close`` ends it."""

    queryset = VerificationCampaign.objects.select_related("area").order_by("-id")
    serializer_class = CampaignSerializer
    filterset_fields = ["status", "year"]
    action_permissions = {"progress": "view", "close": "change"}

    def get_queryset(self):
        if self.scope_action() == "view":
            return verification.campaigns_for(self.request.user, self.queryset.all())
        return super().get_queryset()

    def perform_create(self, serializer):
        serializer.instance = verification.campaign_start(
            actor=self.request.user,
            area=serializer.validated_data["area"],
            name=serializer.validated_data["name"],
            year=serializer.validated_data["year"],
            due_date=serializer.validated_data.get("due_date"),
        )

    @extend_schema(request=None, responses=CampaignSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        campaign = verification.campaign_close(actor=request.user, campaign=self.get_object())
        return Response(self.get_serializer(campaign).data, status=status.HTTP_200_OK)

    @extend_schema(
        parameters=[OpenApiParameter("by", enum=["grid", "community"], default="grid")],
        responses=ProgressSerializer,
    )
    @action(detail=True, methods=["get"])
    def progress(self, request, pk=None):
        """Counts per grid or community (``?by=``) in the caller's scope, with the totals."""
        campaign = self.get_object()
        by = request.query_params.get("by", "grid")
        rows = verification.campaign_progress(campaign, by=by, user=request.user)
        return Response(
            ProgressSerializer({"by": by, "totals": verification.progress_totals(rows), "rows": rows}).data
        )
