"""Forms of the command center: the case filters and one form per step of a case. Every step form
carries the case ``version`` the user saw (hidden ``expected_version``); the service refuses the
step when somebody acted in between."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from civicgrid.areas.choices import AreaLevel
from civicgrid.areas.models import Area

from .choices import Channel, Level, Light, MeetingKind, Status, Urgency
from .models import Case, Category, Department, JointMeeting
from .selectors import open_cases


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultiplePhotoField(forms.FileField):
    """Several photos in one input; the service checks each is a real image within the limits."""

    widget = MultipleFileInput

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


MAX_PHOTOS = 9


def _unit_label(dept: Department) -> str:
    return f"{dept.name} ({dept.get_level_display()})"


def active_units():
    return Department.objects.filter(is_active=True).order_by("level", "code")


class UnitChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return _unit_label(obj)


class UnitMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return _unit_label(obj)


class CategoryChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.service_code} {obj.name}"


def find_case(user, value: str, *, action: str = "view") -> Case | None:
    """A case the user may see, by its number (20261127 00000123) or id."""
    value = (value or "").strip().replace(" ", "")
    if not value.isdigit():
        return None
    pk = int(value[8:]) if len(value) == 16 else int(value)
    case = Case.objects.visible_to(user, action).filter(pk=pk).first()
    if case is not None and len(value) == 16 and case.number != value:
        return None
    return case


# ---- filters ---------------------------------------------------------------------------------


class CaseFilterForm(forms.Form):
    q = forms.CharField(
        required=False,
        label=_("Search"),
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("title or case number")}),
    )
    area = forms.CharField(required=False, label=_("area code"), max_length=15, widget=forms.HiddenInput)
    category = CategoryChoiceField(
        Category.objects.none(), required=False, label=_("category"), empty_label=_("all categories")
    )
    status = forms.ChoiceField(required=False, label=_("status"))
    channel = forms.ChoiceField(
        choices=[("", _("all channels")), *Channel.choices], required=False, label=_("channel")
    )
    light = forms.ChoiceField(
        choices=[("", _("all lights")), *Light.choices], required=False, label=_("light")
    )
    level = forms.ChoiceField(
        choices=[("", _("all levels")), *Level.choices], required=False, label=_("level")
    )
    unit = UnitChoiceField(
        Department.objects.none(),
        required=False,
        label=pgettext_lazy("case", "unit"),
        empty_label=_("all units"),
    )
    date_from = forms.DateField(
        required=False, label=_("reported from"), widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label=_("reported until"), widget=forms.DateInput(attrs={"type": "date"})
    )

    OPEN = "open"

    def __init__(self, *args, user, open_default: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["category"].queryset = Category.objects.filter(is_active=True).order_by("kind", "code")
        self.fields["unit"].queryset = active_units()
        self.fields["status"].choices = [("", _("any status")), (self.OPEN, _("all open")), *Status.choices]
        self.area_obj = None

    def clean_area(self):
        code = self.cleaned_data.get("area", "")
        if not code:
            return ""
        area = Area.objects.visible_to(self.user).filter(code=code).first()
        if area is None:
            raise forms.ValidationError(_("No such area in your scope."))
        self.area_obj = area
        return code

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date is before the start date."))
        return data

    def apply(self, qs, *, now=None):
        """``qs`` narrowed by the valid filters."""
        data = self.cleaned_data
        if self.area_obj is not None:
            qs = qs.in_area(self.area_obj.scope_code)
        if data.get("category"):
            category = data["category"]
            if category.is_leaf:
                qs = qs.filter(category=category)
            else:
                qs = qs.filter(category__in=[category, *category.children.all()])
        status = data.get("status")
        if status == self.OPEN:
            qs = open_cases(qs)
        elif status:
            qs = qs.filter(status=status)
        if data.get("channel"):
            qs = qs.filter(channel=data["channel"])
        if data.get("light"):
            qs = qs.in_light(data["light"], now)
        if data.get("level"):
            qs = qs.filter(level=data["level"])
        if data.get("unit"):
            qs = qs.filter(department=data["unit"])
        tz = timezone.get_current_timezone()
        if data.get("date_from"):
            start = datetime.combine(data["date_from"], time.min, tzinfo=tz)
            qs = qs.filter(reported_at__gte=start)
        if data.get("date_to"):
            end = datetime.combine(data["date_to"], time.min, tzinfo=tz) + timedelta(days=1)
            qs = qs.filter(reported_at__lt=end)
        text = (data.get("q") or "").strip()
        if text:
            number = text.replace(" ", "")
            if number.isdigit() and len(number) == 16:
                qs = qs.filter(pk=int(number[8:]))
            elif number.isdigit() and len(number) <= 10:
                qs = qs.filter(Q(pk=int(number)) | Q(title__icontains=text))
            else:
                qs = qs.filter(title__icontains=text)
        return qs


# ---- the steps of a case ----------------------------------------------------------------------


class CaseActionForm(forms.Form):
    """Base of the step forms: the version the user saw."""

    expected_version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args, case: Case, user, **kwargs):
        kwargs.setdefault("auto_id", f"id_{self.action}_%s")
        super().__init__(*args, **kwargs)
        self.case, self.user = case, user
        if not self.is_bound:
            self.initial.setdefault("expected_version", case.version)


class RecordForm(CaseActionForm):
    action = "record"
    category = CategoryChoiceField(
        Category.objects.none(),
        required=False,
        label=_("category"),
        empty_label=_("keep the reported category"),
    )
    urgency = forms.ChoiceField(
        choices=[("", _("keep the urgency")), *Urgency.choices], required=False, label=_("urgency")
    )
    note = forms.CharField(required=False, max_length=1000, label=_("note"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = Category.objects.filter(is_active=True).order_by("kind", "code")


class ReasonForm(CaseActionForm):
    reason = forms.CharField(max_length=500, label=_("reason"), widget=forms.Textarea(attrs={"rows": 2}))


class RejectForm(ReasonForm):
    action = "reject"


class ReturnForm(ReasonForm):
    action = "return"


class ReopenForm(ReasonForm):
    action = "reopen"


class EscalateForm(ReasonForm):
    action = "escalate"


class DeferForm(ReasonForm):
    action = "defer"


class MergeForm(CaseActionForm):
    action = "merge"
    into = forms.CharField(
        max_length=20,
        label=_("merge into case (number or id)"),
        widget=forms.TextInput(attrs={"list": "duplicates-list"}),
    )
    note = forms.CharField(required=False, max_length=1000, label=_("note"))

    def clean_into(self):
        target = find_case(self.user, self.cleaned_data["into"])
        if target is None:
            raise forms.ValidationError(_("No such case in your scope."))
        if target.pk == self.case.pk:
            raise forms.ValidationError(_("Choose another case to merge into."))
        return target


class DispatchForm(CaseActionForm):
    action = "dispatch"
    department = UnitChoiceField(Department.objects.none(), label=_("handling unit"))
    assisting = UnitMultipleChoiceField(
        Department.objects.none(),
        required=False,
        label=_("assisting units"),
        widget=forms.SelectMultiple(attrs={"size": 4}),
    )
    note = forms.CharField(required=False, max_length=1000, label=_("instructions"))

    def __init__(self, *args, suggested: Department | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = active_units()
        self.fields["assisting"].queryset = active_units()
        if suggested is not None and not self.is_bound:
            self.initial.setdefault("department", suggested.pk)


class NoteForm(CaseActionForm):
    note = forms.CharField(required=False, max_length=1000, label=_("note"))


class StartForm(NoteForm):
    action = "start"


class CloseForm(NoteForm):
    action = "close"


class SuperviseForm(CaseActionForm):
    action = "supervise"
    note = forms.CharField(
        max_length=1000, label=_("what is expected"), widget=forms.Textarea(attrs={"rows": 2})
    )


class HandleForm(CaseActionForm):
    action = "handle"
    result = forms.CharField(
        max_length=4000, label=_("handling result"), widget=forms.Textarea(attrs={"rows": 3})
    )
    photos = MultiplePhotoField(label=_("photos"))

    def clean_photos(self):
        photos = self.cleaned_data["photos"]
        if len(photos) > MAX_PHOTOS:
            raise forms.ValidationError(_("At most %(n)d photos.") % {"n": MAX_PHOTOS})
        return photos


class VerifyForm(HandleForm):
    action = "verify"
    result = None
    passed = forms.TypedChoiceField(
        choices=[("1", _("Passed: the problem is solved")), ("0", _("Failed: send it back to the unit"))],
        coerce=lambda v: v == "1",
        widget=forms.RadioSelect,
        label=_("verification"),
        initial="1",
    )
    note = forms.CharField(
        required=False,
        max_length=1000,
        label=_("note"),
        help_text=_("Required when it failed."),
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    field_order = ["expected_version", "passed", "note", "photos"]


class RateForm(CaseActionForm):
    action = "rate"
    rating = forms.TypedChoiceField(
        choices=[(str(n), "★" * n) for n in range(5, 0, -1)], coerce=int, label=_("rating")
    )
    comment = forms.CharField(required=False, max_length=500, label=_("comment"))


class ReviewForm(CaseActionForm):
    action = "review"
    note = forms.CharField(
        max_length=1000, label=_("what the review found"), widget=forms.Textarea(attrs={"rows": 2})
    )
    reactivate = forms.BooleanField(required=False, label=_("take it up again now"))


class CommentForm(CaseActionForm):
    action = "comment"
    note = forms.CharField(max_length=4000, label=_("note"), widget=forms.Textarea(attrs={"rows": 2}))
    public = forms.BooleanField(required=False, label=_("visible to the reporter"))


class MeetingFieldsMixin(forms.Form):
    """The record of a joint meeting (党建联席会, 民情分析会, 邻里议事会)."""

    kind = forms.ChoiceField(choices=MeetingKind.choices, label=_("meeting kind"))
    held_at = forms.DateTimeField(
        label=_("held at"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    place = forms.CharField(required=False, max_length=100, label=_("place"))
    topic = forms.CharField(max_length=200, label=_("topic"))
    attendees = forms.CharField(
        required=False, max_length=2000, label=_("attendees"), widget=forms.Textarea(attrs={"rows": 2})
    )
    minutes = forms.CharField(
        required=False, max_length=20000, label=_("minutes"), widget=forms.Textarea(attrs={"rows": 4})
    )
    decisions = forms.CharField(
        required=False, max_length=4000, label=_("decisions"), widget=forms.Textarea(attrs={"rows": 2})
    )


class CoordinateForm(CaseActionForm):
    action = "coordinate"
    lead = UnitChoiceField(Department.objects.none(), label=_("lead unit"))
    assisting = UnitMultipleChoiceField(
        Department.objects.none(), label=_("assisting units"), widget=forms.SelectMultiple(attrs={"size": 4})
    )
    note = forms.CharField(required=False, max_length=1000, label=_("instructions"))
    meeting = forms.ModelChoiceField(
        JointMeeting.objects.none(),
        required=False,
        label=_("joint meeting already recorded"),
        empty_label=_("record a new meeting below, or none"),
    )
    # A new meeting's record (optional: give its topic to record it).
    kind = forms.ChoiceField(choices=MeetingKind.choices, required=False, label=_("meeting kind"))
    held_at = forms.DateTimeField(
        required=False,
        label=_("held at"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    topic = forms.CharField(required=False, max_length=200, label=_("topic"))
    attendees = forms.CharField(
        required=False, max_length=2000, label=_("attendees"), widget=forms.Textarea(attrs={"rows": 2})
    )
    minutes = forms.CharField(
        required=False, max_length=20000, label=_("minutes"), widget=forms.Textarea(attrs={"rows": 3})
    )
    decisions = forms.CharField(
        required=False, max_length=4000, label=_("decisions"), widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lead"].queryset = active_units()
        self.fields["assisting"].queryset = active_units()
        self.fields["meeting"].queryset = JointMeeting.objects.visible_to(self.user).order_by("-held_at")
        if not self.is_bound:
            self.initial.setdefault("held_at", timezone.localtime().replace(second=0, microsecond=0))

    def clean(self):
        data = super().clean()
        if data.get("meeting") and data.get("topic"):
            self.add_error("topic", _("Choose a recorded meeting or record a new one, not both."))
        elif data.get("topic") and not data.get("held_at"):
            self.add_error("held_at", _("When was the meeting held?"))
        return data

    @property
    def new_meeting(self) -> dict | None:
        data = self.cleaned_data
        if not data.get("topic"):
            return None
        return {k: data.get(k) or "" for k in ("kind", "topic", "attendees", "minutes", "decisions")} | {
            "held_at": data["held_at"]
        }


#: The step forms by action name.
ACTION_FORMS: dict[str, type[CaseActionForm]] = {
    f.action: f
    for f in (
        RecordForm,
        DispatchForm,
        RejectForm,
        MergeForm,
        StartForm,
        HandleForm,
        ReturnForm,
        VerifyForm,
        CloseForm,
        RateForm,
        ReopenForm,
        SuperviseForm,
        EscalateForm,
        CoordinateForm,
        DeferForm,
        ReviewForm,
        CommentForm,
    )
}


# ---- joint meetings --------------------------------------------------------------------------


class AreaChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name} ({obj.code})"


class MeetingForm(MeetingFieldsMixin):
    area = AreaChoiceField(Area.objects.none(), label=_("held by (area)"))
    departments = UnitMultipleChoiceField(
        Department.objects.none(),
        required=False,
        label=_("units attending"),
        widget=forms.SelectMultiple(attrs={"size": 5}),
    )
    cases = forms.CharField(
        required=False,
        max_length=1000,
        label=_("cases taken up"),
        help_text=_("Case numbers, separated by commas."),
    )
    field_order = [
        *("kind", "held_at", "area", "place", "topic", "attendees"),
        *("departments", "minutes", "decisions", "cases"),
    ]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["area"].queryset = (
            Area.objects.visible_to(user).exclude(level=AreaLevel.GRID).order_by("scope_code")
        )
        self.fields["departments"].queryset = active_units()
        if not self.is_bound:
            self.initial.setdefault("held_at", timezone.localtime().replace(second=0, microsecond=0))

    def clean_cases(self):
        raw = (self.cleaned_data.get("cases") or "").replace("，", ",")
        found, missing = [], []
        for part in filter(None, (p.strip() for p in raw.split(","))):
            case = find_case(self.user, part)
            (found if case else missing).append(case or part)
        if missing:
            raise forms.ValidationError(
                _("No such case in your scope: %(numbers)s") % {"numbers": ", ".join(missing)}
            )
        return found
