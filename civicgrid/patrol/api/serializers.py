from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..models import ConsentText, PatrolShift, TrackingConsent
from ..services import MAX_BATCH


class PointSerializer(serializers.Serializer):
    """A recorded position: ``t`` is the phone's time in milliseconds since 1970-01-01 UTC (the
    ``timestamp`` of the browser's Geolocation API), ``acc`` the accuracy radius in metres."""

    t = serializers.IntegerField(min_value=946_684_800_000, max_value=4_102_444_800_000)
    lat = serializers.FloatField(min_value=-90, max_value=90)
    lng = serializers.FloatField(min_value=-180, max_value=180)
    acc = serializers.FloatField(min_value=0, max_value=100_000)
    speed = serializers.FloatField(min_value=0, max_value=1000, required=False, allow_null=True)


class BatchSerializer(serializers.Serializer):
    key = serializers.UUIDField(
        help_text=_("Made on the phone for this batch; a replay with it stores nothing.")
    )
    points = serializers.ListField(child=PointSerializer(), min_length=1, max_length=MAX_BATCH)


class UploadResultSerializer(serializers.Serializer):
    batch = serializers.UUIDField()
    created = serializers.BooleanField()
    received = serializers.IntegerField()
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.IntegerField()
    shift = serializers.DictField()


class ConsentGiveSerializer(serializers.Serializer):
    version = serializers.CharField(
        max_length=20, help_text=_("The version of the consent text the worker read.")
    )


class ShiftStartSerializer(serializers.Serializer):
    key = serializers.UUIDField(
        required=False, help_text=_("Made on the phone; a repeated start returns the same shift.")
    )


class ShiftEndSerializer(serializers.Serializer):
    ended_at = serializers.DateTimeField(
        required=False, help_text=_("When the worker ended duty (default: now).")
    )


@extend_schema_field(
    {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}
)
class PersonField(serializers.Field):
    def to_representation(self, value):
        return {"id": value.pk, "name": str(value)}


class ShiftSerializer(serializers.ModelSerializer):
    worker = PersonField(read_only=True)
    grid = serializers.SerializerMethodField()
    on_duty = serializers.SerializerMethodField()
    distance_m = serializers.SerializerMethodField()

    class Meta:
        model = PatrolShift
        fields = [
            "id",
            "worker",
            "grid",
            "started_at",
            "ended_at",
            "end_reason",
            "on_duty",
            "point_count",
            "rejected_count",
            "distance_m",
            "first_point_at",
            "last_point_at",
        ]

    def get_grid(self, obj) -> dict:
        return {"id": obj.area_id, "code": obj.area.code, "name": obj.area.name}

    def get_on_duty(self, obj) -> bool:
        return obj.ended_at is None

    def get_distance_m(self, obj) -> int:
        return round(obj.distance_m)


class ConsentRecordSerializer(serializers.ModelSerializer):
    worker = PersonField(read_only=True)
    version = serializers.CharField(source="text.version", read_only=True)
    grid = serializers.CharField(source="area.name", read_only=True)
    in_force = serializers.BooleanField(read_only=True)

    class Meta:
        model = TrackingConsent
        fields = ["id", "worker", "version", "grid", "given_at", "withdrawn_at", "end_reason", "in_force"]


class ConsentTextSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConsentText
        fields = ["id", "version", "title", "body", "is_current", "published_at"]
        read_only_fields = ["id", "is_current", "published_at"]
