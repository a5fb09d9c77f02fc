"""Forms of the notification centre and of binding one's addresses. The services check every
value again; the forms give the widgets and name the field that is wrong."""

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from civicgrid.core.validators import validate_mobile

from .choices import Channel


class MarkReadForm(forms.Form):
    """Mark some notifications (``ids``) or all of them (``all``) read."""

    ids = forms.TypedMultipleChoiceField(coerce=int, required=False, label=_("notifications"))
    all = forms.BooleanField(required=False, label=_("all"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Any integers: only the caller's own notifications are ever marked (see services.mark_read).
        self.fields["ids"].valid_value = lambda value: str(value).isdigit()

    def clean(self):
        data = super().clean()
        if not data.get("all") and not data.get("ids"):
            raise forms.ValidationError(_("Choose the notifications to mark read."))
        return data


class PhoneForm(forms.Form):
    """A mainland mobile number (the portal's sign-in and staff binding their number)."""

    phone = forms.CharField(
        max_length=20,
        label=_("mobile number"),
        widget=forms.TextInput(
            attrs={
                "type": "tel",
                "inputmode": "numeric",
                "autocomplete": "tel",
                "placeholder": "138 0000 0000",
            }
        ),
    )

    def clean_phone(self):
        return validate_mobile(self.cleaned_data["phone"])


class CodeForm(forms.Form):
    code = forms.CharField(
        max_length=6,
        min_length=6,
        label=pgettext_lazy("one-time code", "code"),
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "one-time-code",
                "pattern": "[0-9]*",
                "maxlength": "6",
                "class": "code-input",
            }
        ),
    )


class WeChatOpenidForm(forms.Form):
    """An administrator binds a staff member's WeChat account by its openid."""

    openid = forms.CharField(
        max_length=64,
        label=_("WeChat openid"),
        help_text=_(
            "The user's openid under the platform's official account (about 28 characters), from "
            "the official account's follower list."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


class AddressRemoveForm(forms.Form):
    channel = forms.ChoiceField(choices=Channel.choices, label=_("channel"))
