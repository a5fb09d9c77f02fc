from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import Permission
from django.utils.translation import gettext_lazy as _

from civicgrid.areas.models import Area

from .choices import DataScope, UserType
from .models import Role, User


class LoginForm(AuthenticationForm):
    error_messages = {
        "invalid_login": _("Wrong username or password. Repeated failures lock the account for a while."),
        "inactive": _("This account is disabled."),
    }


class UserCreateForm(forms.Form):
    username = forms.RegexField(r"^[\w.@+-]+$", max_length=150, label=_("username"))
    display_name = forms.CharField(max_length=64, label=_("name"))
    user_type = forms.ChoiceField(choices=UserType.choices, initial=UserType.STAFF, label=_("user type"))
    email = forms.EmailField(required=False, label=_("email"))
    password = forms.CharField(widget=forms.PasswordInput, label=_("initial password"), min_length=10)

    def clean_username(self):
        username = self.cleaned_data["username"]
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(_("This username is taken."))
        return username


class UserEditForm(forms.Form):
    display_name = forms.CharField(max_length=64, label=_("name"))
    email = forms.EmailField(required=False, label=_("email"))
    is_active = forms.BooleanField(required=False, label=_("active"))


class PasswordSetForm(forms.Form):
    password = forms.CharField(widget=forms.PasswordInput, label=_("new password"))


class PostForm(forms.Form):
    role = forms.ModelChoiceField(Role.objects.all(), label=_("role"))
    area = forms.ModelChoiceField(Area.objects.none(), label=_("area"))
    data_scope = forms.ChoiceField(
        choices=[("", _("role default"))] + list(DataScope.choices), required=False, label=_("data scope")
    )
    title = forms.CharField(max_length=64, required=False, label=_("title"))

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = Area.objects.visible_to(user).exclude(level="grid")
        self.fields["area"].label_from_instance = lambda a: f"{a.code} {a.name}"


class RoleForm(forms.ModelForm):
    permissions = forms.ModelMultipleChoiceField(
        Permission.objects.select_related("content_type").order_by("content_type__app_label", "codename"),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label=_("permissions"),
    )

    class Meta:
        model = Role
        fields = ["code", "name", "description", "default_scope", "permissions"]


class AgreementForm(forms.Form):
    version = forms.CharField(max_length=20, label=_("version"))
    title = forms.CharField(max_length=200, label=_("title"))
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 12}), label=_("text"))


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, label=_("token name"))
    expires_at = forms.DateTimeField(
        required=False, label=_("expires at"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
