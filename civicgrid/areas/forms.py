import json

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _


class GeoJSONField(forms.CharField):
    widget = forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "class": "mono"})

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise forms.ValidationError(_("This is not valid JSON."))

    def prepare_value(self, value):
        if isinstance(value, dict):
            return json.dumps(value, ensure_ascii=False)
        return value


class AreaCreateForm(forms.Form):
    code = forms.RegexField(
        r"^\d{6}(\d{6}(\d{3})?)?$",
        label=_("official code"),
        error_messages={"invalid": _("An area code is 6, 12 or 15 digits.")},
    )
    name = forms.CharField(max_length=64, label=_("name"))
    geometry = GeoJSONField(required=False, label=_("boundary (GeoJSON)"))


class AreaEditForm(forms.Form):
    name = forms.CharField(max_length=64, label=_("name"))
    geometry = GeoJSONField(required=False, label=_("boundary (GeoJSON)"))
    is_active = forms.BooleanField(required=False, label=_("active"))


class GridWorkerForm(forms.Form):
    user = forms.ModelChoiceField(
        get_user_model().objects.none(), required=False, label=_("grid worker"), empty_label=_("(none)")
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = (
            get_user_model().objects.visible_to(user).filter(user_type="staff", is_active=True)
        )
