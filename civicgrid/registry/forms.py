from django import forms
from django.utils.translation import gettext_lazy as _

from civicgrid.areas.models import Area

from .choices import PersonStatus, PersonType


class PersonFilterForm(forms.Form):
    q = forms.CharField(
        required=False,
        label=_("Search"),
        widget=forms.TextInput(attrs={"placeholder": _("name, initials, ID, phone"), "type": "search"}),
    )
    grid = forms.ModelChoiceField(
        Area.objects.none(), required=False, label=_("area"), empty_label=_("all my areas")
    )
    person_type = forms.ChoiceField(
        choices=[("", _("all types"))] + list(PersonType.choices), required=False, label=_("person type")
    )
    tag = forms.ChoiceField(choices=[], required=False, label=_("tag"))
    status = forms.ChoiceField(
        choices=[("", _("any status"))] + list(PersonStatus.choices),
        required=False,
        label=_("status"),
        initial=PersonStatus.ACTIVE,
    )
    # Matched from its start, as houses write it (compound, building, unit, room): the example is
    # data, Chinese in every interface language, like the addresses themselves.
    address = forms.CharField(
        required=False,
        label=_("address"),
        widget=forms.TextInput(attrs={"placeholder": "鸳江花园 8栋 1单元"}),
    )

    def __init__(self, *args, user, tags, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["grid"].queryset = (
            Area.objects.visible_to(user).exclude(level="city").order_by("scope_code")
        )
        self.fields["grid"].label_from_instance = lambda a: f"{a.name} ({a.code})"
        self.fields["tag"].choices = [("", _("any tag"))] + [(t.code, t.name) for t in tags]


class RevealForm(forms.Form):
    reason = forms.CharField(min_length=2, max_length=500, label=_("Reason for viewing"))


class LeaveForm(forms.Form):
    kind = forms.ChoiceField(choices=[("move_out", _("Moved out")), ("death", _("Death"))], label=_("event"))
    date = forms.DateField(required=False, label=_("date"), widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(required=False, max_length=500, label=_("note"))
