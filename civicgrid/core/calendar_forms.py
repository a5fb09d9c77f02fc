"""Forms of the work-calendar page (they validate input; the services write)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .calendar_services import office_periods_validate


class OverrideForm(forms.Form):
    day = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    is_workday = forms.TypedChoiceField(
        label=_("Status"),
        choices=[("0", _("Day off")), ("1", _("Working day"))],
        coerce=lambda value: value == "1",
        empty_value=None,
    )
    name = forms.CharField(
        label=pgettext_lazy("calendar day", "Name"),
        max_length=100,
        help_text=_("Shown on the calendar, e.g. “Typhoon closure” or “Adjusted working day”."),
    )
    note = forms.CharField(label=_("Note"), max_length=500, required=False)


class PeriodForm(forms.Form):
    start = forms.TimeField(
        label=pgettext_lazy("office hours", "Start"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    end = forms.TimeField(
        label=pgettext_lazy("office hours", "End"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start is None and end is None:
            return data
        if start is None and "start" not in self.errors:
            self.add_error("start", _("Give both the start and the end, or neither."))
        elif end is None and "end" not in self.errors:
            self.add_error("end", _("Give both the start and the end, or neither."))
        elif start is not None and end is not None and end <= start:
            self.add_error("end", _("The end must be after the start."))
        return data


class BasePeriodFormSet(forms.BaseFormSet):
    def periods(self) -> list[tuple]:
        """The filled-in rows as (start, end) pairs (call after ``is_valid``)."""
        return [
            (f.cleaned_data["start"], f.cleaned_data["end"])
            for f in self.forms
            if f.cleaned_data.get("start") is not None and f.cleaned_data.get("end") is not None
        ]

    def clean(self):
        if any(self.errors):
            return
        try:
            office_periods_validate(self.periods())
        except ValidationError as exc:
            raise ValidationError(exc.messages)


PeriodFormSet = forms.formset_factory(
    PeriodForm, formset=BasePeriodFormSet, extra=0, max_num=8, absolute_max=8
)
