from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from ..choices import Channel
from ..models import Notification


class NotificationSerializer(serializers.ModelSerializer):
    is_read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "url", "created_at", "read_at", "is_read"]
        read_only_fields = fields

    def get_is_read(self, obj) -> bool:
        return obj.read_at is not None


class MarkReadSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, max_length=1000)
    all = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        if not attrs.get("all") and not attrs.get("ids"):
            raise serializers.ValidationError({"ids": _("Give the ids to mark read, or all: true.")})
        return attrs


class MarkReadResultSerializer(serializers.Serializer):
    marked = serializers.IntegerField()
    unread = serializers.IntegerField()


class ChannelAddressSerializer(serializers.Serializer):
    """One of the caller's addresses, masked (the full number or openid is never sent back)."""

    channel = serializers.ChoiceField(choices=Channel.choices)
    channel_label = serializers.CharField(source="get_channel_display")
    masked_address = serializers.CharField(source="masked")
    verified = serializers.BooleanField()
    verified_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class PhoneSerializer(serializers.Serializer):
    phone = serializers.CharField(max_length=20, help_text=_("Mainland mobile number, 11 digits."))


class PhoneCodeSerializer(PhoneSerializer):
    code = serializers.CharField(max_length=12, help_text=_("The 6-digit code sent to the number."))


class VerificationStartedSerializer(serializers.Serializer):
    masked_phone = serializers.CharField()
    expires_at = serializers.DateTimeField()
