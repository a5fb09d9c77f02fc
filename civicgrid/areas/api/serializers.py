from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from civicgrid.areas.choices import AreaLevel
from civicgrid.areas.models import Area


class AreaBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Area
        fields = ["id", "code", "name", "level"]


class AreaSerializer(serializers.ModelSerializer):
    centre = serializers.SerializerMethodField()
    child_count = serializers.IntegerField(read_only=True, required=False)
    grid_worker_name = serializers.SerializerMethodField()

    class Meta:
        model = Area
        fields = [
            "id",
            "code",
            "scope_code",
            "name",
            "level",
            "parent",
            "centre",
            "is_active",
            "grid_worker",
            "grid_worker_name",
            "child_count",
        ]

    def get_centre(self, obj) -> list[float] | None:
        return [obj.centre_lat, obj.centre_lng] if obj.centre else None

    def get_grid_worker_name(self, obj) -> str | None:
        return str(obj.grid_worker) if obj.grid_worker_id else None


class AreaGeoSerializer(AreaSerializer):
    class Meta(AreaSerializer.Meta):
        fields = [*AreaSerializer.Meta.fields, "geometry"]


class AreaWriteSerializer(serializers.Serializer):
    code = serializers.RegexField(
        r"^\d{6}(\d{6}(\d{3})?)?$",
        max_length=15,
        required=True,
        error_messages={"invalid": _("An area code is 6, 12 or 15 digits.")},
    )
    name = serializers.CharField(max_length=64)
    level = serializers.ChoiceField(choices=AreaLevel.choices)
    parent = serializers.PrimaryKeyRelatedField(queryset=Area.objects.all(), allow_null=True, required=False)
    geometry = serializers.JSONField(required=False, allow_null=True)
    centre_lat = serializers.FloatField(required=False, min_value=-90, max_value=90)
    centre_lng = serializers.FloatField(required=False, min_value=-180, max_value=180)

    def validate_parent(self, value):
        request = self.context["request"]
        if value is not None and not Area.objects.visible_to(request.user).filter(pk=value.pk).exists():
            raise serializers.ValidationError(_("Unknown area."))
        return value

    def validate(self, attrs):
        if ("centre_lat" in attrs) != ("centre_lng" in attrs):
            raise serializers.ValidationError({"centre_lat": _("Give both centre_lat and centre_lng.")})
        return attrs


class AreaUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=64, required=False)
    geometry = serializers.JSONField(required=False)
    centre_lat = serializers.FloatField(required=False, min_value=-90, max_value=90)
    centre_lng = serializers.FloatField(required=False, min_value=-180, max_value=180)
    is_active = serializers.BooleanField(required=False)

    validate = AreaWriteSerializer.validate


class LocateQuerySerializer(serializers.Serializer):
    lat = serializers.FloatField(min_value=-90, max_value=90)
    lng = serializers.FloatField(min_value=-180, max_value=180)


class LocateResultSerializer(serializers.Serializer):
    grid = AreaSerializer()
    ancestors = AreaBriefSerializer(many=True)


class GridWorkerSerializer(serializers.Serializer):
    user = serializers.IntegerField(allow_null=True)
