"""Event-handling API: cases (the reporter's phone always masked), their timeline and deadlines,
the bodies of the steps, and the rules (categories, units, deadline policies) as read-only data."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from civicgrid.core.masking import mask, mask_mobile

from ..choices import Channel, Light, Urgency
from ..forms import MAX_PHOTOS
from ..models import (
    Case,
    CaseDeadline,
    CaseEvent,
    Category,
    CategoryQuestion,
    DeadlinePolicy,
    Department,
    JointMeeting,
)
from ..models.cases import DESCRIPTION_MAX

LIGHT_LABELS = dict(Light.choices)


def _unit(dept: Department | None) -> dict | None:
    return {"id": dept.pk, "name": dept.name, "level": dept.level} if dept is not None else None


class CaseSerializer(serializers.ModelSerializer):
    """A case as the API shows it. ``reporter_phone`` is masked (138****5678) and
    ``reporter_name`` keeps its first character; the full values are never sent."""

    number = serializers.CharField(read_only=True)
    category_code = serializers.CharField(source="category.service_code", read_only=True)
    category_name = serializers.CharField(source="category.name", read_only=True)
    top_category = serializers.SerializerMethodField()
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    channel_label = serializers.CharField(source="get_channel_display", read_only=True)
    level_label = serializers.CharField(source="get_level_display", read_only=True)
    grid = serializers.CharField(source="area.name", read_only=True)
    unit = serializers.SerializerMethodField()
    assisting_units = serializers.SerializerMethodField()
    deadline = serializers.SerializerMethodField()
    light = serializers.CharField(read_only=True)
    light_label = serializers.SerializerMethodField()
    reporter_name = serializers.SerializerMethodField()
    reporter_phone = serializers.SerializerMethodField()
    actions = serializers.SerializerMethodField()

    class Meta:
        model = Case
        fields = [
            "id",
            "number",
            "version",
            "title",
            "description",
            "category",
            "category_code",
            "category_name",
            "top_category",
            "urgency",
            "channel",
            "channel_label",
            "status",
            "status_label",
            "level",
            "level_label",
            "area",
            "area_code",
            "grid",
            "lat",
            "lng",
            "address",
            "answers",
            "reporter",
            "reporter_name",
            "reporter_phone",
            "unit",
            "assisting_units",
            "duplicate_of",
            "result",
            "reason",
            "reported_at",
            "recorded_at",
            "dispatched_at",
            "handled_at",
            "closed_at",
            "deadline",
            "light",
            "light_label",
            "supervision_count",
            "escalation_count",
            "reopen_count",
            "rating",
            "rating_comment",
            "rated_at",
            "is_public",
            "updated_at",
            "actions",
        ]
        read_only_fields = fields

    def get_top_category(self, obj) -> dict:
        top = obj.category.parent if obj.category.parent_id else obj.category
        return {"id": top.pk, "code": top.code, "name": top.name}

    def get_unit(self, obj) -> dict | None:
        return _unit(obj.department)

    def get_assisting_units(self, obj) -> list[dict]:
        return [_unit(d) for d in obj.assisting_departments.all()]

    def get_deadline(self, obj) -> dict | None:
        if not obj.deadline_stage:
            return None
        return {
            "stage": obj.deadline_stage,
            "warn_at": serializers.DateTimeField().to_representation(obj.warn_at) if obj.warn_at else None,
            "due_at": serializers.DateTimeField().to_representation(obj.due_at) if obj.due_at else None,
            "when_overdue": obj.overdue_action,
            "warned": obj.warned_at is not None,
            "overdue": obj.overdue_at is not None,
        }

    def get_light_label(self, obj) -> str:
        return str(LIGHT_LABELS.get(obj.light, ""))

    def get_reporter_name(self, obj) -> str:
        return mask(obj.reporter_name, 1, 0)

    def get_reporter_phone(self, obj) -> str:
        return mask_mobile(obj.reporter_phone)

    def get_actions(self, obj) -> list[str]:
        """The steps the caller may take on the case now (what a client offers as buttons)."""
        return self.context.get("actions", {}).get(obj.pk, [])


class PhotoSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    stage = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    event = serializers.IntegerField(source="event_id", allow_null=True)
    url = serializers.SerializerMethodField()

    def get_url(self, obj) -> str:
        return reverse("api:case-photo", kwargs={"pk": obj.case_id, "photo_id": obj.pk})


class CaseDetailSerializer(CaseSerializer):
    photos = serializers.SerializerMethodField()

    class Meta(CaseSerializer.Meta):
        fields = [*CaseSerializer.Meta.fields, "photos"]
        read_only_fields = fields

    def get_photos(self, obj) -> list[dict]:
        photos = self.context.get("photos")
        if photos is None:
            photos = obj.photos.all()
        return PhotoSerializer(photos, many=True).data


class EventSerializer(serializers.ModelSerializer):
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    actor_name = serializers.SerializerMethodField()
    unit = serializers.SerializerMethodField()
    photos = serializers.SerializerMethodField()

    class Meta:
        model = CaseEvent
        fields = [
            "id",
            "kind",
            "kind_label",
            "from_status",
            "to_status",
            "actor_name",
            "unit",
            "note",
            "is_public",
            "data",
            "photos",
            "created_at",
        ]
        read_only_fields = fields

    def get_actor_name(self, obj) -> str:
        """Staff see who acted; the reporter sees only what happened."""
        if self.context.get("public_only") or obj.actor is None:
            return ""
        return obj.actor.display_name or obj.actor.get_username()

    def get_unit(self, obj) -> dict | None:
        return _unit(obj.department)

    def get_photos(self, obj) -> list[dict]:
        return PhotoSerializer(obj.photos.all(), many=True).data


class DeadlineSerializer(serializers.ModelSerializer):
    stage_label = serializers.CharField(source="get_stage_display", read_only=True)
    outcome_label = serializers.CharField(source="get_outcome_display", read_only=True)
    unit = serializers.SerializerMethodField()
    policy_name = serializers.CharField(source="policy.name", default=None, read_only=True)

    class Meta:
        model = CaseDeadline
        fields = [
            "id",
            "stage",
            "stage_label",
            "level",
            "unit",
            "policy",
            "policy_name",
            "started_at",
            "warn_at",
            "due_at",
            "ended_at",
            "outcome",
            "outcome_label",
        ]
        read_only_fields = fields

    def get_unit(self, obj) -> dict | None:
        return _unit(obj.department)


# ---- writing -----------------------------------------------------------------------------------


class ScopedCaseField(serializers.PrimaryKeyRelatedField):
    """Another case the caller can see (others answer "does not exist", like a missing id)."""

    def get_queryset(self):
        return Case.objects.visible_to(self.context["request"].user, "view")


class ScopedMeetingField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self):
        return JointMeeting.objects.visible_to(self.context["request"].user, "view")


def _active_units():
    return Department.objects.filter(is_active=True)


def _text(max_length: int = 1000, **kwargs) -> serializers.CharField:
    kwargs.setdefault("required", False)
    kwargs.setdefault("allow_blank", True)
    kwargs.setdefault("default", "")
    return serializers.CharField(max_length=max_length, **kwargs)


def _required_text(max_length: int = 1000) -> serializers.CharField:
    return serializers.CharField(max_length=max_length)


def _photos() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.FileField(), required=False, default=list, max_length=MAX_PHOTOS
    )


class CaseReportSerializer(serializers.Serializer):
    """A report (``multipart/form-data`` when it carries photos). ``channel`` is set by the kind of
    user: residents report as "resident", grid workers as "grid_worker" and other staff as "staff",
    unless a staff member names another channel (e.g. a hotline call taken down)."""

    category = serializers.PrimaryKeyRelatedField(queryset=Category.objects.filter(is_active=True))
    description = serializers.CharField(max_length=DESCRIPTION_MAX)
    title = _text(200)
    lat = serializers.FloatField(required=False, allow_null=True, default=None)
    lng = serializers.FloatField(required=False, allow_null=True, default=None)
    address = _text(200)
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False, allow_blank=True, default="")
    channel = serializers.ChoiceField(choices=Channel.choices, required=False, allow_blank=True, default="")
    answers = serializers.DictField(required=False, default=dict)
    reporter_name = _text(50)
    reporter_phone = _text(20)
    photos = _photos()
    keep_photo_location = serializers.BooleanField(required=False, default=False)


class StepSerializer(serializers.Serializer):
    """What every step takes: the ``version`` of the case the client saw. When somebody acted on
    the case since, the step answers 409 (reload and decide again)."""

    expected_version = serializers.IntegerField(
        min_value=1,
        required=False,
        allow_null=True,
        default=None,
        help_text=_("The case's version as the client last read it; a stale one gets 409."),
    )


class RecordSerializer(StepSerializer):
    category = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.filter(is_active=True), required=False, allow_null=True, default=None
    )
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False, allow_blank=True, default="")
    note = _text()


class ReasonSerializer(StepSerializer):
    reason = _required_text(500)


class NoteSerializer(StepSerializer):
    note = _text()


class RequiredNoteSerializer(StepSerializer):
    note = _required_text(DESCRIPTION_MAX)


class MergeSerializer(StepSerializer):
    into = ScopedCaseField()
    note = _text()


class DispatchSerializer(StepSerializer):
    department = serializers.PrimaryKeyRelatedField(queryset=_active_units())
    assisting = serializers.PrimaryKeyRelatedField(
        queryset=_active_units(), many=True, required=False, default=list
    )
    note = _text()


class HandleSerializer(StepSerializer):
    result = _required_text(DESCRIPTION_MAX)
    photos = _photos()


class VerifySerializer(StepSerializer):
    passed = serializers.BooleanField()
    note = _text()
    photos = _photos()


class RateSerializer(StepSerializer):
    """The reporter's rating of a closed case (or, with ``solved`` false, what is not solved: that
    reopens it). Staff who record cases may enter the rating of a follow-up call."""

    rating = serializers.IntegerField(min_value=1, max_value=5, required=False, allow_null=True, default=None)
    comment = _text(500)
    solved = serializers.BooleanField(required=False, default=True)

    def validate(self, attrs):
        if attrs["solved"] and attrs["rating"] is None:
            raise serializers.ValidationError({"rating": [_("Give 1 to 5 stars.")]})
        return attrs


class CoordinateSerializer(StepSerializer):
    lead = serializers.PrimaryKeyRelatedField(queryset=_active_units())
    assisting = serializers.PrimaryKeyRelatedField(queryset=_active_units(), many=True)
    meeting = ScopedMeetingField(required=False, allow_null=True, default=None)
    note = _text()


class ReviewSerializer(StepSerializer):
    note = _required_text(DESCRIPTION_MAX)
    reactivate = serializers.BooleanField(required=False, default=False)


class CommentSerializer(StepSerializer):
    note = _required_text(DESCRIPTION_MAX)
    public = serializers.BooleanField(required=False, default=False)


# ---- triage --------------------------------------------------------------------------------------


class TriageSerializer(CaseSerializer):
    """A reported case with the triage hints: the suggested category and unit (keywords of the
    rules), and open cases nearby of the same category (candidates to merge into)."""

    suggestion = serializers.SerializerMethodField()
    duplicates = serializers.SerializerMethodField()

    class Meta(CaseSerializer.Meta):
        fields = [*CaseSerializer.Meta.fields, "suggestion", "duplicates"]
        read_only_fields = fields

    def get_suggestion(self, obj) -> dict | None:
        hint = self.context.get("hints", {}).get(obj.pk)
        if hint is None or hint.category is None:
            return None
        return {
            "category": {
                "id": hint.category.pk,
                "code": hint.category.service_code,
                "name": hint.category.name,
            },
            "unit": _unit(hint.department),
            "keywords": hint.keywords,
        }

    def get_duplicates(self, obj) -> list[dict]:
        found = self.context.get("duplicates", {}).get(obj.pk, [])
        return [
            {
                "id": other.pk,
                "number": other.number,
                "title": other.title,
                "status": other.status,
                "metres": m,
            }
            for other, m in found
        ]


# ---- rules ---------------------------------------------------------------------------------------


class QuestionSerializer(serializers.ModelSerializer):
    class Meta:
        model = CategoryQuestion
        fields = ["code", "datatype", "label", "description", "required", "values", "order"]


class CategorySerializer(serializers.ModelSerializer):
    questions = QuestionSerializer(many=True, read_only=True)

    class Meta:
        model = Category
        fields = [
            "id",
            "kind",
            "code",
            "service_code",
            "name",
            "parent",
            "description",
            "keywords",
            "default_function",
            "default_urgency",
            "is_public",
            "is_active",
            "questions",
        ]


class DepartmentSerializer(serializers.ModelSerializer):
    area_code = serializers.CharField(source="area.scope_code", read_only=True)
    area_name = serializers.CharField(source="area.name", read_only=True)

    class Meta:
        model = Department
        fields = [
            "id",
            "code",
            "name",
            "level",
            "function",
            "area",
            "area_code",
            "area_name",
            "phone",
            "is_active",
        ]


class DeadlinePolicySerializer(serializers.ModelSerializer):
    category_name = serializers.CharField(source="category.name", default=None, read_only=True)
    amount = serializers.DecimalField(max_digits=6, decimal_places=2, read_only=True)

    class Meta:
        model = DeadlinePolicy
        fields = [
            "id",
            "name",
            "stage",
            "category",
            "category_name",
            "channel",
            "level",
            "urgency",
            "amount",
            "unit",
            "warn_ratio",
            "on_overdue",
            "priority",
            "is_active",
        ]


# ---- statistics ----------------------------------------------------------------------------------


class StatisticsQuerySerializer(serializers.Serializer):
    area = serializers.IntegerField(
        required=False, help_text=_("An area in your scope (default: your top area).")
    )
    start = serializers.DateField(required=False, help_text=_("First day (default: 1 January this year)."))
    end = serializers.DateField(required=False, help_text=_("Last day (default: 31 December this year)."))
