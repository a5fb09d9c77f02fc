"""Diary API: records as the API shows them (links named, photos as URLs under their record), and the
bodies of the writes. The services check scope and permissions and name the field of a bad value."""

from __future__ import annotations

from django.urls import reverse
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from civicgrid.cases.choices import Urgency
from civicgrid.cases.models import Category

from .. import selectors
from ..choices import Mood, RecordKind, Severity
from ..models import ATTENDEES_MAX, CONTENT_MAX, DiaryRecord
from ..services import MAX_LINKS, MAX_PHOTOS

LINK_NAMES = selectors.LINK_FIELDS


class LinkSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField()


class LinksSerializer(serializers.Serializer):
    people = LinkSerializer(many=True)
    households = LinkSerializer(many=True)
    houses = LinkSerializer(many=True)
    buildings = LinkSerializer(many=True)
    organisations = LinkSerializer(many=True)
    shops = LinkSerializer(many=True)
    facilities = LinkSerializer(many=True)
    attendees = LinkSerializer(many=True)


class RecordSerializer(serializers.ModelSerializer):
    """A diary record. ``links`` names the linked registry records; ``case`` is the case it became
    (its id and number), null until then."""

    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    mood_label = serializers.CharField(source="get_mood_display", read_only=True)
    severity_label = serializers.CharField(source="get_severity_display", read_only=True)
    area_name = serializers.CharField(source="area.name", read_only=True)
    author = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()
    case = serializers.SerializerMethodField()
    photos = serializers.SerializerMethodField()
    is_void = serializers.BooleanField(read_only=True)

    class Meta:
        model = DiaryRecord
        fields = [
            "id",
            "version",
            "kind",
            "kind_label",
            "occurred_at",
            "area",
            "area_code",
            "area_name",
            "place",
            "lat",
            "lng",
            "summary",
            "content",
            "mood",
            "mood_label",
            "severity",
            "severity_label",
            "follow_up",
            "follow_up_note",
            "attendee_names",
            "links",
            "photos",
            "case",
            "case_made_at",
            "author",
            "created_at",
            "updated_at",
            "is_void",
            "voided_at",
            "void_reason",
        ]
        read_only_fields = fields

    def get_author(self, obj) -> dict | None:
        user = obj.created_by
        if user is None:
            return None
        return {"id": user.pk, "name": user.display_name or user.get_username()}

    @staticmethod
    def _links(obj) -> dict:
        return {field: rows for field, rows in selectors.links_of(obj)}

    def get_links(self, obj) -> LinksSerializer:
        return LinksSerializer(self._links(obj)).data

    def get_case(self, obj) -> dict | None:
        if obj.case_id is None:
            return None
        return {"id": obj.case_id, "number": obj.case.number, "status": obj.case.status}

    def get_photos(self, obj) -> list[dict]:
        return [
            {
                "id": p.pk,
                "width": p.width,
                "height": p.height,
                "url": reverse("api:diary-record-photo", kwargs={"pk": obj.pk, "photo_id": p.pk}),
            }
            for p in obj.photos.all()
        ]


def _id_list(label):
    return serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        max_length=MAX_LINKS,
        help_text=format_lazy(_("Ids of {what} in your scope."), what=label),
    )


class RecordWriteSerializer(serializers.Serializer):
    """The body of a new record (JSON, or multipart with ``photos``). Link fields are lists of ids
    of registry records in the caller's scope."""

    kind = serializers.ChoiceField(choices=RecordKind.choices)
    summary = serializers.CharField(max_length=200, allow_blank=True)
    occurred_at = serializers.DateTimeField(required=False, allow_null=True)
    area = serializers.IntegerField(
        required=False, allow_null=True, help_text=_("Grid or community (id); else from the point or links.")
    )
    place = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    lat = serializers.FloatField(required=False, allow_null=True, min_value=-90, max_value=90)
    lng = serializers.FloatField(required=False, allow_null=True, min_value=-180, max_value=180)
    content = serializers.CharField(required=False, allow_blank=True, max_length=CONTENT_MAX, default="")
    mood = serializers.ChoiceField(choices=Mood.choices, required=False, allow_blank=True, default="")
    severity = serializers.ChoiceField(choices=Severity.choices, required=False, allow_blank=True, default="")
    follow_up = serializers.BooleanField(required=False, default=False)
    follow_up_note = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")
    attendee_names = serializers.CharField(
        required=False, allow_blank=True, max_length=ATTENDEES_MAX, default=""
    )
    people = _id_list(_("people"))
    households = _id_list(_("households"))
    houses = _id_list(_("houses"))
    buildings = _id_list(_("buildings"))
    organisations = _id_list(_("organisations"))
    shops = _id_list(_("shops"))
    facilities = _id_list(_("facilities"))
    attendees = _id_list(_("attending people"))
    photos = serializers.ListField(
        child=serializers.ImageField(allow_empty_file=False),
        required=False,
        max_length=MAX_PHOTOS,
        default=list,
    )

    def validate_area(self, value):
        if value is None:
            return None
        from civicgrid.areas.models import Area

        area = Area.objects.visible_to(self.context["request"].user).filter(pk=value).first()
        if area is None:
            raise serializers.ValidationError(_("No such area in your scope."))
        return area


class RecordUpdateSerializer(RecordWriteSerializer):
    """A correction (PATCH): only the fields sent change; ``expected_version`` is the version the
    author saw (a stale one answers 409)."""

    expected_version = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    remove_photos = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False
            if hasattr(field, "default"):
                field.default = serializers.empty


class VoidSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)
    expected_version = serializers.IntegerField(required=False, allow_null=True, min_value=1)


class ToCaseSerializer(serializers.Serializer):
    """``category`` may be left out for disputes, hazards and public sentiment (the kind's default);
    ``answers`` answers the category's extra questions (``answers.<code>`` on error)."""

    category = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.filter(is_active=True), required=False, allow_null=True
    )
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False, allow_blank=True, default="")
    answers = serializers.DictField(required=False, default=dict)


class CaseLinkSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    status = serializers.CharField()
    url = serializers.CharField()


class ToCaseResultSerializer(serializers.Serializer):
    record = RecordSerializer()
    case = CaseLinkSerializer()
    created = serializers.BooleanField()
