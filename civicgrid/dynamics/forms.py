"""Forms of the work-dynamics pages. The services check everything again; the forms give the
widgets and name the field that is wrong."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from civicgrid.cases.forms import MultiplePhotoField

from . import selectors
from .choices import Status
from .models import BODY_MAX, MAX_PICTURES, REASON_MAX, TITLE_MAX


class AreaChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        parent = getattr(obj, "parent", None)
        if parent is not None and obj.level == "community":
            return f"{parent.name} · {obj.name}"
        return f"{obj.name} ({obj.get_level_display()})"


class PostFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label=_("title contains"))
    status = forms.ChoiceField(required=False, label=_("status"))
    area = AreaChoiceField(queryset=None, required=False, label=_("community or street"))
    pinned = forms.BooleanField(required=False, label=_("pinned only"))
    published_from = forms.DateField(
        required=False, label=_("published from"), widget=forms.DateInput(attrs={"type": "date"})
    )
    published_to = forms.DateField(
        required=False, label=_("published until"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", _("all")), *Status.choices]
        self.fields["area"].queryset = selectors.filter_areas(user).select_related("parent")
        self.fields["area"].empty_label = _("all")

    def apply(self, qs):
        """``qs`` narrowed by the (valid) filters."""
        d = self.cleaned_data
        if d.get("q"):
            qs = qs.filter(title__icontains=d["q"].strip())
        if d.get("status"):
            qs = qs.filter(status=d["status"])
        if d.get("area") is not None:
            qs = qs.in_area(d["area"].scope_code)
        if d.get("pinned"):
            qs = qs.filter(pinned=True)
        if d.get("published_from"):
            qs = qs.filter(published_at__gte=_day_start(d["published_from"]))
        if d.get("published_to"):
            qs = qs.filter(published_at__lt=_day_start(d["published_to"] + timedelta(days=1)))
        return qs


def _day_start(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


class PostForm(forms.Form):
    """Write or edit a post. ``remove_pictures`` lists the post's pictures (edit only)."""

    area = AreaChoiceField(queryset=None, label=_("posted by"))
    title = forms.CharField(max_length=TITLE_MAX, label=pgettext_lazy("work dynamics", "title"))
    body = forms.CharField(
        required=False,
        max_length=BODY_MAX,
        label=_("text"),
        help_text=_("Plain text. Leave an empty line between paragraphs."),
        widget=forms.Textarea(attrs={"rows": 12}),
    )
    cover = forms.FileField(
        required=False,
        label=_("cover picture"),
        help_text=_("Shown in lists and at the top of the post."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/*"}),
    )
    remove_cover = forms.BooleanField(required=False, label=_("remove the cover"))
    pictures = MultiplePhotoField(
        label=_("pictures"),
        help_text=_("Up to %(n)d pictures, shown below the text.") % {"n": MAX_PICTURES},
    )
    remove_pictures = forms.TypedMultipleChoiceField(
        coerce=int, required=False, label=_("remove pictures"), widget=forms.CheckboxSelectMultiple
    )
    expected_version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, user=None, post=None, existing=(), **kwargs):
        super().__init__(*args, **kwargs)
        # Editing: the post's own area stays choosable; only a draft moves to another area.
        self.fields["area"].queryset = selectors.authorable_areas(
            user, include=post.area_id if post is not None else None
        )
        if post is not None and post.status != Status.DRAFT:
            self.fields["area"].disabled = True
        if post is None:
            del self.fields["remove_cover"]
            del self.fields["remove_pictures"]
            del self.fields["expected_version"]
        else:
            self.fields["remove_pictures"].choices = [(p.pk, str(p.pk)) for p in existing]


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        max_length=REASON_MAX,
        label=_("reason for withdrawal"),
        help_text=_("Recorded in the post's history; the author is told."),
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    expected_version = forms.IntegerField(required=False, widget=forms.HiddenInput)
