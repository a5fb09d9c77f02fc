"""Serializers of the work-dynamics API."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from civicgrid.areas.models import Area

from ..choices import PictureKind
from ..models import BODY_MAX, MAX_PICTURES, REASON_MAX, TITLE_MAX, Post, PostEvent, PostPicture
from ..selectors import available_steps


class DynamicsPictureSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = PostPicture
        fields = ["id", "kind", "position", "width", "height", "size", "url", "thumbnail_url"]
        read_only_fields = fields

    def _url(self, obj) -> str:
        return reverse("api:dynamics-post-picture", kwargs={"pk": obj.post_id, "picture_id": obj.pk})

    def get_url(self, obj) -> str:
        return self._url(obj)

    def get_thumbnail_url(self, obj) -> str:
        return self._url(obj) + "?size=thumb"


class DynamicsPostSerializer(serializers.ModelSerializer):
    """A post as staff see it. ``actions`` are the steps the caller may take on it now."""

    area_name = serializers.CharField(source="area.name", read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    author = serializers.SerializerMethodField()
    cover = serializers.SerializerMethodField()
    pictures = serializers.SerializerMethodField()
    actions = serializers.SerializerMethodField()

    class Meta:
        model = Post
        fields = [
            "id",
            "area",
            "area_code",
            "area_name",
            "title",
            "body",
            "status",
            "status_label",
            "author",
            "published_at",
            "withdrawn_at",
            "withdraw_reason",
            "pinned",
            "pinned_at",
            "view_count",
            "version",
            "created_at",
            "updated_at",
            "cover",
            "pictures",
            "actions",
        ]
        read_only_fields = fields

    def _pictures(self, obj) -> list[PostPicture]:
        return list(obj.pictures.all())  # prefetched by the view

    def get_author(self, obj) -> str:
        return obj.author.get_username() if obj.author_id else ""

    def get_cover(self, obj) -> dict | None:
        cover = next((p for p in self._pictures(obj) if p.kind == PictureKind.COVER), None)
        return DynamicsPictureSerializer(cover).data if cover else None

    def get_pictures(self, obj) -> list[dict]:
        return DynamicsPictureSerializer(
            [p for p in self._pictures(obj) if p.kind == PictureKind.PICTURE], many=True
        ).data

    def get_actions(self, obj) -> list[str]:
        request = self.context.get("request")
        if request is None:
            return []
        return [name for name, ok in available_steps(obj, request.user).items() if ok]


def _pictures_field() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.FileField(),
        required=False,
        default=list,
        max_length=MAX_PICTURES,
        help_text=_("Up to %(n)d pictures (multipart/form-data).") % {"n": MAX_PICTURES},
    )


class AreaField(serializers.PrimaryKeyRelatedField):
    def __init__(self, **kwargs):
        kwargs.setdefault("queryset", Area.objects.defer("geometry"))
        super().__init__(**kwargs)


class DynamicsPostCreateSerializer(serializers.Serializer):
    """A new post, saved as a draft (``publish`` true publishes it at once). ``multipart/form-data``
    when it carries pictures."""

    area = AreaField(help_text=_("The community or street that posts it."))
    title = serializers.CharField(max_length=TITLE_MAX)
    body = serializers.CharField(max_length=BODY_MAX, required=False, allow_blank=True, default="")
    cover = serializers.FileField(required=False, allow_null=True, default=None)
    pictures = _pictures_field()
    publish = serializers.BooleanField(required=False, default=False)


class DynamicsPostUpdateSerializer(serializers.Serializer):
    """Changes to a post: only the fields sent change. ``pictures`` are added after the ones kept;
    ``remove_pictures`` lists ids of pictures to remove."""

    area = AreaField(required=False, help_text=_("Drafts only."))
    title = serializers.CharField(max_length=TITLE_MAX, required=False)
    body = serializers.CharField(max_length=BODY_MAX, required=False, allow_blank=True)
    cover = serializers.FileField(required=False, allow_null=True, default=None)
    remove_cover = serializers.BooleanField(required=False, default=False)
    pictures = _pictures_field()
    remove_pictures = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, default=list, max_length=MAX_PICTURES + 1
    )
    expected_version = serializers.IntegerField(
        min_value=1,
        required=False,
        allow_null=True,
        default=None,
        help_text=_("The post's version as the client last read it; a stale one gets 409."),
    )


class DynamicsStepSerializer(serializers.Serializer):
    expected_version = serializers.IntegerField(
        min_value=1,
        required=False,
        allow_null=True,
        default=None,
        help_text=_("The post's version as the client last read it; a stale one gets 409."),
    )


class DynamicsWithdrawSerializer(DynamicsStepSerializer):
    reason = serializers.CharField(max_length=REASON_MAX)


class DynamicsPinSerializer(DynamicsStepSerializer):
    pinned = serializers.BooleanField(required=False, default=True)


class DynamicsEventSerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)

    class Meta:
        model = PostEvent
        fields = [
            "id",
            "kind",
            "kind_label",
            "actor",
            "from_status",
            "to_status",
            "note",
            "data",
            "created_at",
        ]
        read_only_fields = fields

    def get_actor(self, obj) -> str:
        return obj.actor.get_username() if obj.actor_id else ""
