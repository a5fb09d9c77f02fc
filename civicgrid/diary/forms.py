"""Forms of the diary pages: the record form with its registry pickers, the list's filters (also read
by the API), voiding, and turning a record into a case."""

from __future__ import annotations

import re

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from civicgrid.areas.choices import AreaLevel
from civicgrid.areas.models import Area
from civicgrid.cases.choices import QuestionType, Urgency
from civicgrid.cases.forms import CategoryChoiceField, MultiplePhotoField
from civicgrid.cases.models import Category

from .choices import Mood, RecordKind, Severity
from .models import ATTENDEES_MAX, CONTENT_MAX
from .services import MAX_LINKS, RECORD_LEVELS

SEPARATORS = re.compile(r"[\s,，、;；]+")
DATETIME_INPUT = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]

#: The picker fields of the record form, with their labels.
PICKERS = {
    "people": _("people"),
    "households": _("households"),
    "houses": _("houses"),
    "buildings": _("buildings"),
    "organisations": _("organisations"),
    "shops": _("shops"),
    "facilities": _("facilities"),
    "attendees": _("attending people"),
}


class IdListField(forms.CharField):
    """Ids of registry records, separated by commas (a picker fills it in; without JavaScript the
    ids can be typed). The service checks that each one is in the user's scope."""

    def __init__(self, *args, picker: str, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 2000)
        kwargs.setdefault(
            "widget",
            forms.TextInput(attrs={"data-picker": picker, "inputmode": "numeric", "autocomplete": "off"}),
        )
        kwargs.setdefault("help_text", _("Search by name, ID or address; or type ids separated by commas."))
        super().__init__(*args, **kwargs)

    def prepare_value(self, value):
        if isinstance(value, (list, tuple)):
            return ",".join(str(getattr(v, "pk", v)) for v in value)
        return value

    def clean(self, value):
        value = super().clean(value)
        ids = []
        for part in filter(None, SEPARATORS.split(value or "")):
            if not part.isdigit() or int(part) <= 0:
                raise forms.ValidationError(_("%(value)s is not an id.") % {"value": part})
            if int(part) not in ids:
                ids.append(int(part))
        if len(ids) > MAX_LINKS:
            raise forms.ValidationError(_("At most %(n)d per record.") % {"n": MAX_LINKS})
        return ids


class AreaChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return (
            f"{obj.parent.name} · {obj.name}" if obj.level == AreaLevel.GRID and obj.parent_id else obj.name
        )


def recording_areas(user):
    """The grids and communities ``user`` may record in."""
    return (
        Area.objects.visible_to(user, "view")
        .filter(level__in=RECORD_LEVELS, is_active=True)
        .select_related("parent")
        .order_by("scope_code")
    )


class RecordForm(forms.Form):
    kind = forms.ChoiceField(choices=[("", "—"), *RecordKind.choices], label=_("kind"))
    occurred_at = forms.DateTimeField(
        label=_("when"),
        input_formats=DATETIME_INPUT,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    area = AreaChoiceField(
        Area.objects.none(),
        required=False,
        label=_("grid or community"),
        empty_label=_("from the location or the household"),
    )
    place = forms.CharField(required=False, max_length=200, label=_("place"))
    summary = forms.CharField(max_length=200, label=_("summary"))
    content = forms.CharField(
        required=False, max_length=CONTENT_MAX, label=_("details"), widget=forms.Textarea(attrs={"rows": 5})
    )
    mood = forms.ChoiceField(
        required=False,
        choices=[("", "—"), *Mood.choices],
        label=_("mood"),
        help_text=_("Visits, public sentiment and party situation."),
    )
    severity = forms.ChoiceField(
        required=False,
        choices=[("", "—"), *Severity.choices],
        label=_("severity"),
        help_text=_("Disputes and hazards."),
    )
    follow_up = forms.BooleanField(required=False, label=_("follow-up needed"))
    follow_up_note = forms.CharField(required=False, max_length=500, label=_("follow-up"))
    attendee_names = forms.CharField(
        required=False,
        max_length=ATTENDEES_MAX,
        label=_("attendees"),
        help_text=_("Meetings: names of those present, one per line."),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    people = IdListField(label=PICKERS["people"], picker="people")
    households = IdListField(label=PICKERS["households"], picker="households")
    houses = IdListField(label=PICKERS["houses"], picker="houses")
    buildings = IdListField(label=PICKERS["buildings"], picker="buildings")
    organisations = IdListField(label=PICKERS["organisations"], picker="organisations")
    shops = IdListField(label=PICKERS["shops"], picker="shops")
    facilities = IdListField(label=PICKERS["facilities"], picker="facilities")
    attendees = IdListField(label=PICKERS["attendees"], picker="people")
    lat = forms.FloatField(required=False, label=_("latitude"), min_value=-90, max_value=90)
    lng = forms.FloatField(required=False, label=_("longitude"), min_value=-180, max_value=180)
    photos = MultiplePhotoField(label=_("photos"))

    def __init__(self, *args, user, record=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user, self.record = user, record
        areas = recording_areas(user)
        self.fields["area"].queryset = areas
        if record is not None:
            self.fields["expected_version"] = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
            photos = list(record.photos.order_by("id"))
            if photos:
                self.fields["remove_photos"] = forms.TypedMultipleChoiceField(
                    required=False,
                    coerce=int,
                    choices=[(p.pk, _("photo %(n)d") % {"n": i + 1}) for i, p in enumerate(photos)],
                    widget=forms.CheckboxSelectMultiple,
                    label=_("remove photos"),
                )
        if not self.is_bound:
            if record is None:
                self.initial.setdefault("occurred_at", timezone.localtime().replace(second=0, microsecond=0))
                own = Area.objects.filter(grid_worker=user).first()
                if own is not None:
                    self.initial.setdefault("area", own.pk)
            else:
                self.initial.update(
                    {
                        "kind": record.kind,
                        "occurred_at": timezone.localtime(record.occurred_at).replace(
                            second=0, microsecond=0
                        ),
                        "area": record.area_id,
                        "place": record.place,
                        "summary": record.summary,
                        "content": record.content,
                        "mood": record.mood,
                        "severity": record.severity,
                        "follow_up": record.follow_up,
                        "follow_up_note": record.follow_up_note,
                        "attendee_names": record.attendee_names,
                        "lat": record.lat,
                        "lng": record.lng,
                        "expected_version": record.version,
                        **{
                            name: list(getattr(record, name).values_list("pk", flat=True)) for name in PICKERS
                        },
                    }
                )

    def service_arguments(self) -> dict:
        """The cleaned data as the services' keyword arguments."""
        d = dict(self.cleaned_data)
        d.pop("expected_version", None)
        d.pop("remove_photos", None)
        d.pop("photos", None)
        return d


class RecordFilterForm(forms.Form):
    q = forms.CharField(
        required=False,
        max_length=100,
        label=_("Search"),
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("summary or place")}),
    )
    kind = forms.ChoiceField(
        required=False, choices=[("", _("all kinds")), *RecordKind.choices], label=_("kind")
    )
    area = forms.ModelChoiceField(
        Area.objects.none(), required=False, label=_("area"), empty_label=_("all my areas")
    )
    date_from = forms.DateField(
        required=False, label=_("from"), widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label=_("until"), widget=forms.DateInput(attrs={"type": "date"})
    )
    author = forms.CharField(required=False, max_length=150, label=_("author"))
    mine = forms.BooleanField(required=False, label=_("only mine"))
    follow_up = forms.ChoiceField(
        required=False,
        choices=[("", _("any")), ("yes", _("follow-up needed")), ("no", _("no follow-up"))],
        label=_("follow-up"),
    )
    has_case = forms.ChoiceField(
        required=False,
        choices=[("", _("any")), ("yes", _("became a case")), ("no", _("not a case"))],
        label=_("case"),
    )
    voided = forms.BooleanField(required=False, label=_("include voided"))
    person = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    household = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["area"].queryset = (
            Area.objects.visible_to(user).exclude(level=AreaLevel.CITY).order_by("scope_code")
        )
        self.fields["area"].label_from_instance = lambda a: f"{a.name} ({a.code})"

    def clean_person(self):
        from civicgrid.registry.models import Person

        pk = self.cleaned_data.get("person")
        if pk is None:
            return None
        person = Person.objects.visible_to(self.user, "view").filter(pk=pk).first()
        if person is None:
            raise forms.ValidationError(_("No such person in your scope."))
        return person

    def clean_household(self):
        from civicgrid.registry.models import Household

        pk = self.cleaned_data.get("household")
        if pk is None:
            return None
        household = Household.objects.visible_to(self.user, "view").filter(pk=pk).first()
        if household is None:
            raise forms.ValidationError(_("No such household in your scope."))
        return household

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date is before the start date."))
        return data


class VoidForm(forms.Form):
    reason = forms.CharField(max_length=500, label=_("reason"), widget=forms.TextInput)
    expected_version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


def question_field(question) -> forms.Field:
    """A form field for one of a category's extra questions (the service checks the answer)."""
    kwargs = {"label": question.label, "required": question.required, "help_text": question.description}
    choices = [(str(v.get("key")), v.get("name") or v.get("key")) for v in question.values]
    if question.datatype == QuestionType.SINGLE:
        return forms.ChoiceField(choices=[("", "—"), *choices], **kwargs)
    if question.datatype == QuestionType.MULTI:
        return forms.MultipleChoiceField(choices=choices, widget=forms.CheckboxSelectMultiple, **kwargs)
    if question.datatype == QuestionType.NUMBER:
        return forms.FloatField(**kwargs)
    if question.datatype == QuestionType.DATETIME:
        return forms.DateTimeField(
            input_formats=DATETIME_INPUT,
            widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
            **kwargs,
        )
    if question.datatype == QuestionType.TEXT:
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), **kwargs)
    return forms.CharField(max_length=4000, **kwargs)


class ToCaseForm(forms.Form):
    """The case's category (preset for disputes, hazards and public sentiment) and urgency, and the
    category's extra questions: when another category is chosen, the form comes back asking its
    questions before the case is made."""

    category = CategoryChoiceField(Category.objects.none(), label=_("category"))
    urgency = forms.ChoiceField(
        required=False, choices=[("", _("the category's default")), *Urgency.choices], label=_("urgency")
    )
    asked = forms.IntegerField(required=False, widget=forms.HiddenInput)

    PREFIX = "q_"

    def __init__(self, *args, default_category=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = (
            Category.objects.filter(is_active=True).select_related("parent").order_by("kind", "code")
        )
        self.fields["category"].label_from_instance = lambda c: (
            f"{c.service_code} {c.parent.name} · {c.name}" if c.parent_id else f"{c.service_code} {c.name}"
        )
        chosen = default_category
        if self.is_bound:
            try:
                chosen = Category.objects.filter(
                    pk=int(self.data.get("category") or 0), is_active=True
                ).first()
            except (TypeError, ValueError):
                chosen = None
        elif default_category is not None:
            self.initial.setdefault("category", default_category.pk)
        self.chosen = chosen
        self.questions = list(chosen.questions.all()) if chosen is not None else []
        if not self.is_bound and chosen is not None:
            self.initial["asked"] = chosen.pk
        # Questions not shown yet are not required on this submission: the form comes back to ask them.
        self.first_ask = (
            self.is_bound and chosen is not None and str(self.data.get("asked")) != str(chosen.pk)
        )
        for question in self.questions:
            field = question_field(question)
            if self.first_ask:
                field.required = False
            self.fields[self.PREFIX + question.code] = field

    @property
    def needs_answers(self) -> bool:
        """The category changed since the form was shown and it asks questions: show them first."""
        return bool(self.questions) and self.first_ask

    def asking(self) -> ToCaseForm:
        """The form again, unbound, for the chosen category with its questions."""
        return ToCaseForm(
            initial={"category": self.chosen.pk, "urgency": self.cleaned_data.get("urgency", "")},
            default_category=self.chosen,
        )

    def answers(self) -> dict:
        out = {}
        for question in self.questions:
            value = self.cleaned_data.get(self.PREFIX + question.code)
            if value in (None, "", []):
                continue
            if hasattr(value, "isoformat"):
                value = value.isoformat()
            out[question.code] = value
        return out

    def add_service_errors(self, exc) -> None:
        """A service's ValidationError on the form: ``attribute[code]`` on the question's field."""
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc.messages)
            return
        for key, errors in exc.message_dict.items():
            name = key
            if key.startswith("attribute[") and key.endswith("]"):
                name = self.PREFIX + key[len("attribute[") : -1]
            self.add_error(name if name in self.fields else None, errors)
