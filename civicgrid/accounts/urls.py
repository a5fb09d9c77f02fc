from django.contrib.auth import views as auth_views
from django.urls import path
from django.utils.translation import gettext_lazy as _

from civicgrid.core import navigation

from . import views

app_name = "accounts"

urlpatterns = [
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/agreement/", views.AgreementView.as_view(), name="agreement"),
    path("accounts/tokens/", views.TokenListView.as_view(), name="tokens"),
    path("system/users/", views.UserListView.as_view(), name="users"),
    path("system/users/new/", views.UserCreateView.as_view(), name="user_create"),
    path("system/users/<int:pk>/", views.UserDetailView.as_view(), name="user_detail"),
    path("system/roles/", views.RoleListView.as_view(), name="roles"),
    path("system/roles/new/", views.RoleEditView.as_view(), name="role_create"),
    path("system/roles/<int:pk>/", views.RoleEditView.as_view(), name="role_edit"),
    path("system/agreements/", views.AgreementAdminView.as_view(), name="agreements"),
]

navigation.register("system", _("Users"), "accounts:users", "accounts.view_user")
navigation.register("system", _("Roles"), "accounts:roles", "accounts.view_role")
navigation.register(
    "system", _("Confidentiality agreements"), "accounts:agreements", "accounts.add_agreement"
)
