"""Read-only audit API for auditors."""

from rest_framework import serializers, viewsets

from civicgrid.core.filters import AccessLogFilter, ChangeLogFilter
from civicgrid.core.models import AccessLog, ChangeLog


class ChangeLogSerializer(serializers.ModelSerializer):
    object_type = serializers.CharField(source="content_type.model", read_only=True)

    class Meta:
        model = ChangeLog
        fields = [
            "id",
            "time",
            "user",
            "username",
            "request_id",
            "ip",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "before",
            "after",
        ]


class AccessLogSerializer(serializers.ModelSerializer):
    object_type = serializers.CharField(source="content_type.model", read_only=True, default=None)

    class Meta:
        model = AccessLog
        fields = [
            "id",
            "time",
            "user",
            "username",
            "request_id",
            "ip",
            "kind",
            "object_type",
            "object_id",
            "object_repr",
            "reason",
            "detail",
        ]


class ChangeLogViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = ChangeLog.objects.select_related("content_type").order_by("-id")
    serializer_class = ChangeLogSerializer
    filterset_class = ChangeLogFilter

    def required_permission(self, request):
        return "core.view_changelog"


class AccessLogViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = AccessLog.objects.select_related("content_type").order_by("-id")
    serializer_class = AccessLogSerializer
    filterset_class = AccessLogFilter

    def required_permission(self, request):
        return "core.view_accesslog"
