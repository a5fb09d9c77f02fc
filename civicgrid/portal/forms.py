"""Forms of the resident portal. Every field is validated again by the services; the forms give
the mobile widgets and name the field that is wrong."""

from __future__ import annotations

import uuid

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from civicgrid.areas.choices import AreaLevel
from civicgrid.areas.models import Area
from civicgrid.cases.choices import CategoryKind, QuestionType
from civicgrid.cases.forms import MAX_PHOTOS, MultiplePhotoField
from civicgrid.cases.models import Category
from civicgrid.cases.models.cases import DESCRIPTION_MAX
from civicgrid.cases.photos import validate_photo
from civicgrid.notify.forms import CodeForm, PhoneForm  # noqa: F401 (shared with staff binding a phone)

from .models import NOTICE_BODY_MAX


class CommunityForm(forms.Form):
    community = forms.TypedChoiceField(coerce=int, label=_("your community"))

    def __init__(self, *args, communities=(), **kwargs):
        super().__init__(*args, **kwargs)
        groups: dict[str, list[tuple[int, str]]] = {}
        for c in communities:
            street = c.parent
            district = street.parent if street is not None else None
            label = " · ".join(a.name for a in (district, street) if a is not None)
            groups.setdefault(label, []).append((c.pk, c.name))
        self.fields["community"].choices = [("", _("Choose your community"))] + list(groups.items())

    def clean_community(self):
        pk = self.cleaned_data["community"]
        area = Area.objects.filter(pk=pk, level=AreaLevel.COMMUNITY, is_active=True).first()
        if area is None:
            raise ValidationError(_("Choose a community."))
        return area


def _question_field(q) -> forms.Field:
    common = {"required": False, "label": q.label, "help_text": q.description}
    choices = [(str(v.get("key")), v.get("name") or v.get("key")) for v in q.values]
    if q.datatype == QuestionType.NUMBER:
        return forms.FloatField(widget=forms.NumberInput(attrs={"inputmode": "decimal"}), **common)
    if q.datatype == QuestionType.DATETIME:
        return forms.DateTimeField(
            widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"), **common
        )
    if q.datatype == QuestionType.SINGLE:
        return forms.ChoiceField(choices=choices, widget=forms.RadioSelect, **common)
    if q.datatype == QuestionType.MULTI:
        return forms.MultipleChoiceField(choices=choices, widget=forms.CheckboxSelectMultiple, **common)
    if q.datatype == QuestionType.TEXT:
        return forms.CharField(max_length=DESCRIPTION_MAX, widget=forms.Textarea(attrs={"rows": 3}), **common)
    return forms.CharField(max_length=200, **common)


class ReportForm(forms.Form):
    """Report a problem: a public category (with its extra questions), a description, photos and
    the place. ``report_key`` is generated per form load: submitting twice makes one case."""

    report_key = forms.UUIDField(widget=forms.HiddenInput)
    category = forms.TypedChoiceField(coerce=int, label=_("what kind of problem"))
    description = forms.CharField(
        max_length=DESCRIPTION_MAX,
        label=_("describe the problem"),
        widget=forms.Textarea(
            attrs={"rows": 4, "placeholder": _("What is wrong, since when, exactly where?")}
        ),
    )
    photos = MultiplePhotoField(label=_("photos"), help_text=_("Up to 9 photos."))
    keep_photo_location = forms.BooleanField(
        required=False,
        label=_("Keep the location stored in my photos"),
        help_text=_("Otherwise the GPS position is removed from the photos before they are stored."),
    )
    lat = forms.FloatField(required=False, widget=forms.HiddenInput, min_value=-90, max_value=90)
    lng = forms.FloatField(required=False, widget=forms.HiddenInput, min_value=-180, max_value=180)
    address = forms.CharField(
        max_length=200,
        required=False,
        label=_("address or landmark"),
        widget=forms.TextInput(attrs={"placeholder": _("e.g. No. 12 Xijiang Road, by the school gate")}),
    )

    def __init__(self, *args, groups=(), **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("report_key", uuid.uuid4())
        kinds = dict(CategoryKind.choices)
        self.categories: dict[int, Category] = {}
        choices = [("", _("Choose…"))]
        self.question_fields: dict[int, list[tuple[str, object]]] = {}
        for parent, leaves in groups:
            choices.append(
                (f"{kinds.get(parent.kind, parent.kind)} · {parent.name}", [(c.pk, c.name) for c in leaves])
            )
            for leaf in leaves:
                self.categories[leaf.pk] = leaf
                for q in leaf.questions.all():
                    name = f"q_{q.pk}"
                    self.fields[name] = _question_field(q)
                    self.question_fields.setdefault(leaf.pk, []).append((name, q))
        self.fields["category"].choices = choices

    def question_groups(self):
        """(category, [bound fields]) of the categories that ask extra questions."""
        return [
            (self.categories[cid], [self[name] for name, _q in fields])
            for cid, fields in self.question_fields.items()
        ]

    def clean_category(self):
        category = self.categories.get(self.cleaned_data["category"])
        if category is None:
            raise ValidationError(_("Choose one of the listed kinds."))
        return category

    def clean_photos(self):
        photos = self.cleaned_data.get("photos") or []
        if len(photos) > MAX_PHOTOS:
            raise ValidationError(_("At most %(n)d photos.") % {"n": MAX_PHOTOS})
        for upload in photos:
            try:
                validate_photo(upload, keep_location=True)
            except ValidationError as exc:
                raise ValidationError(
                    _("%(name)s: %(problem)s") % {"name": upload.name, "problem": " ".join(exc.messages)}
                )
            upload.seek(0)
        return photos

    def clean(self):
        data = super().clean()
        if (data.get("lat") is None) != (data.get("lng") is None):
            self.add_error("lat", _("The location is incomplete; set it again on the map."))
        return data

    def answers(self) -> dict:
        """The answers to the chosen category's questions, as the case service takes them."""
        category = self.cleaned_data.get("category")
        out = {}
        for name, q in self.question_fields.get(category.pk if category else None, []):
            value = self.cleaned_data.get(name)
            if value in (None, "", []):
                continue
            out[q.code] = value.isoformat() if hasattr(value, "isoformat") else value
        return out

    def add_service_errors(self, exc: ValidationError) -> None:
        """Show the case service's errors on the fields they name (``attribute[code]`` is the
        question with that code of the chosen category)."""
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc.messages)
            return
        category = self.cleaned_data.get("category")
        by_code = {
            q.code: name for name, q in self.question_fields.get(category.pk if category else None, [])
        }
        aliases = {"address_string": "address", "phone": None}
        for key, messages in exc.message_dict.items():
            field = key
            if key.startswith("attribute[") and key.endswith("]"):
                field = by_code.get(key[len("attribute[") : -1])
            else:
                field = aliases.get(key, key)
            if field not in self.fields:
                field = None
            if field is not None and field in self.cleaned_data:
                del self.cleaned_data[field]
            self.add_error(field, messages)


class RateForm(forms.Form):
    rating = forms.TypedChoiceField(
        coerce=int,
        choices=[(i, str(i)) for i in range(5, 0, -1)],
        widget=forms.RadioSelect,
        label=_("stars"),
    )
    comment = forms.CharField(
        max_length=500, required=False, label=_("comment"), widget=forms.Textarea(attrs={"rows": 2})
    )


class NotSolvedForm(forms.Form):
    comment = forms.CharField(
        max_length=500,
        label=_("what is still wrong"),
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class NoticeForm(forms.Form):
    area = forms.ModelChoiceField(Area.objects.none(), label=_("area"))
    title = forms.CharField(max_length=200, label=_("title"))
    body = forms.CharField(
        max_length=NOTICE_BODY_MAX, label=_("text"), widget=forms.Textarea(attrs={"rows": 6})
    )
    published_at = forms.DateTimeField(
        required=False,
        label=_("publish at"),
        help_text=_("Leave empty to publish now."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        qs = (
            Area.objects.visible_to(user)
            .exclude(level=AreaLevel.GRID)
            .defer("geometry")
            .order_by("scope_code")
        )
        self.fields["area"].queryset = qs
        self.fields["area"].label_from_instance = lambda a: f"{a.name} ({a.get_level_display()})"
