"""Sign-in, the confidentiality agreement, API tokens, and the user/role administration pages."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.db.models import Prefetch, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import ListView

from civicgrid.core.middleware import client_ip
from civicgrid.core.views import StaffPageMixin, add_form_errors

from . import services
from .choices import UserType
from .forms import (
    AgreementForm,
    LoginForm,
    PasswordSetForm,
    PostForm,
    RoleForm,
    TokenForm,
    UserCreateForm,
    UserEditForm,
)
from .models import Agreement, ApiToken, Post, Role, User
from .selectors import current_agreement


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


class AgreementView(LoginRequiredMixin, View):
    template_name = "accounts/agreement.html"

    def _next(self, request):
        target = request.POST.get("next") or request.GET.get("next") or reverse("home")
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            target = reverse("home")
        return target

    def get(self, request):
        agreement = current_agreement()
        accepted = agreement is not None and agreement.acceptances.filter(user=request.user).first()
        return render(
            request,
            self.template_name,
            {"agreement": agreement, "accepted": accepted, "next": self._next(request)},
        )

    def post(self, request):
        agreement = current_agreement()
        if agreement is None or str(agreement.pk) != request.POST.get("agreement"):
            messages.error(
                request, _("The agreement changed while you were reading it; please read it again.")
            )
            return redirect(reverse("accounts:agreement"))
        if request.POST.get("accept") != "1":
            messages.error(request, _("Tick the box to confirm that you accept the agreement."))
            return redirect(reverse("accounts:agreement"))
        services.agreement_accept(user=request.user, agreement=agreement, ip=client_ip(request))
        return redirect(self._next(request))


class TokenListView(StaffPageMixin, View):
    template_name = "accounts/tokens.html"

    def get(self, request, form=None, new_key=None):
        tokens = ApiToken.objects.filter(user=request.user)
        return render(
            request, self.template_name, {"tokens": tokens, "form": form or TokenForm(), "new_key": new_key}
        )

    def post(self, request):
        if "revoke" in request.POST:
            token = get_object_or_404(ApiToken, pk=request.POST["revoke"], user=request.user)
            services.api_token_revoke(actor=request.user, token=token)
            messages.success(request, _("Token revoked."))
            return redirect("accounts:tokens")
        form = TokenForm(request.POST)
        if form.is_valid():
            try:
                _token, key = services.api_token_create(
                    user=request.user,
                    name=form.cleaned_data["name"],
                    expires_at=form.cleaned_data["expires_at"],
                )
            except ValidationError as exc:
                add_form_errors(form, exc)
            else:
                return self.get(request, new_key=key)
        return self.get(request, form=form)


class UserListView(StaffPageMixin, ListView):
    template_name = "accounts/user_list.html"
    paginate_by = 50
    required_perms = ("accounts.view_user",)

    def get_queryset(self):
        qs = User.objects.visible_to(self.request.user).prefetch_related(
            Prefetch("posts", queryset=Post.objects.filter(is_active=True).select_related("role", "area"))
        )
        q = self.request.GET.get("q", "").strip()
        if q:
            qs = qs.filter(Q(username__icontains=q) | Q(display_name__icontains=q))
        role = self.request.GET.get("role")
        if role:
            qs = qs.filter(posts__role__code=role, posts__is_active=True).distinct()
        return qs.order_by("username")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["roles"] = Role.objects.all()
        ctx["can_add"] = self.request.user.has_perm("accounts.add_user")
        return ctx


class UserCreateView(StaffPageMixin, View):
    required_perms = ("accounts.add_user",)

    def get(self, request, form=None):
        return render(request, "accounts/user_form.html", {"form": form or UserCreateForm()})

    def post(self, request):
        form = UserCreateForm(request.POST)
        if form.is_valid():
            try:
                user = services.user_create(actor=request.user, **form.cleaned_data)
            except ValidationError as exc:
                add_form_errors(form, exc)
            else:
                messages.success(request, _("User created. Give them a post so they can work."))
                return redirect("accounts:user_detail", pk=user.pk)
        return self.get(request, form)


class UserDetailView(StaffPageMixin, View):
    required_perms = ("accounts.view_user",)

    def get_user(self, request, action="view"):
        return get_object_or_404(User.objects.visible_to(request.user, action), pk=self.kwargs["pk"])

    def get(self, request, pk, edit_form=None, post_form=None, password_form=None, wechat_form=None):
        target = self.get_user(request)
        posts = target.posts.select_related("role", "area").order_by("-is_active", "id")
        return render(
            request,
            "accounts/user_detail.html",
            {
                "target": target,
                "posts": posts,
                **self.address_context(request, target, wechat_form),
                "can_change": request.user.has_perm("accounts.change_user"),
                "can_add_post": request.user.has_perm("accounts.add_post"),
                "edit_form": edit_form
                or UserEditForm(
                    initial={
                        "display_name": target.display_name,
                        "email": target.email,
                        "is_active": target.is_active,
                    }
                ),
                "post_form": post_form or PostForm(user=request.user),
                "password_form": password_form or PasswordSetForm(),
            },
        )

    def post(self, request, pk):
        op = request.POST.get("op")
        if op == "add_post":
            if not request.user.has_perm("accounts.add_post"):
                return self.get(request, pk)
            target = self.get_user(request)
            form = PostForm(request.POST, user=request.user)
            if form.is_valid():
                try:
                    services.post_create(actor=request.user, user=target, **form.cleaned_data)
                except ValidationError as exc:
                    add_form_errors(form, exc)
                else:
                    messages.success(request, _("Post added."))
                    return redirect("accounts:user_detail", pk=pk)
            return self.get(request, pk, post_form=form)
        if op == "end_post":
            post = get_object_or_404(
                Post.objects.visible_to(request.user, "change"), pk=request.POST.get("post"), user_id=pk
            )
            services.post_end(actor=request.user, post=post)
            messages.success(request, _("Post ended."))
            return redirect("accounts:user_detail", pk=pk)
        target = self.get_user(request, "change")
        if op in ("wechat", "remove_address"):
            return self.post_address(request, target, op)
        if op == "password":
            form = PasswordSetForm(request.POST)
            if form.is_valid():
                try:
                    services.user_set_password(
                        actor=request.user, user=target, password=form.cleaned_data["password"]
                    )
                except ValidationError as exc:
                    add_form_errors(form, exc)
                else:
                    messages.success(request, _("Password changed."))
                    return redirect("accounts:user_detail", pk=pk)
            return self.get(request, pk, password_form=form)
        form = UserEditForm(request.POST)
        if form.is_valid():
            services.user_update(actor=request.user, user=target, **form.cleaned_data)
            messages.success(request, _("Saved."))
            return redirect("accounts:user_detail", pk=pk)
        return self.get(request, pk, edit_form=form)

    # ---- the user's notification addresses (civicgrid.notify) --------------------------------

    def address_context(self, request, target, wechat_form=None) -> dict:
        from civicgrid.notify.forms import WeChatOpenidForm
        from civicgrid.notify.selectors import addresses_of

        if not request.user.has_perm("notify.view_channeladdress"):
            return {}
        return {
            "show_addresses": True,
            "addresses": addresses_of(target),
            "can_manage_addresses": request.user.has_perm("notify.change_channeladdress")
            and request.user.has_perm("accounts.change_user")
            and target.user_type == UserType.STAFF,
            "wechat_form": wechat_form or WeChatOpenidForm(),
        }

    def post_address(self, request, target, op):
        from civicgrid.notify import services as notify_services
        from civicgrid.notify.forms import AddressRemoveForm, WeChatOpenidForm

        if op == "remove_address":
            form = AddressRemoveForm(request.POST)
            if form.is_valid():
                try:
                    notify_services.address_delete(
                        actor=request.user, user=target, channel=form.cleaned_data["channel"]
                    )
                except ValidationError as exc:
                    messages.error(request, " ".join(exc.messages))
                else:
                    messages.success(request, _("Address removed."))
            return redirect("accounts:user_detail", pk=target.pk)
        form = WeChatOpenidForm(request.POST)
        if form.is_valid():
            try:
                notify_services.wechat_openid_set(
                    actor=request.user, user=target, openid=form.cleaned_data["openid"]
                )
            except ValidationError as exc:
                add_form_errors(form, exc)
            else:
                messages.success(request, _("WeChat account bound: notifications routed to WeChat go to it."))
                return redirect("accounts:user_detail", pk=target.pk)
        return self.get(request, target.pk, wechat_form=form)


class RoleListView(StaffPageMixin, ListView):
    template_name = "accounts/role_list.html"
    required_perms = ("accounts.view_role",)

    def get_queryset(self):
        return Role.objects.prefetch_related("permissions__content_type")


class RoleEditView(StaffPageMixin, View):
    required_perms = ("accounts.add_role", "accounts.change_role")

    def get(self, request, pk=None, form=None):
        role = get_object_or_404(Role, pk=pk) if pk else None
        if form is None:
            form = RoleForm(instance=role)
        return render(request, "accounts/role_form.html", {"form": form, "role": role})

    def post(self, request, pk=None):
        role = get_object_or_404(Role, pk=pk) if pk else None
        form = RoleForm(request.POST, instance=role)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.role_save(
                    actor=request.user,
                    role=role,
                    code=data["code"],
                    name=data["name"],
                    description=data["description"],
                    default_scope=data["default_scope"],
                    permissions=data["permissions"],
                )
            except ValidationError as exc:
                add_form_errors(form, exc)
            else:
                messages.success(request, _("Role saved."))
                return redirect("accounts:roles")
        return self.get(request, pk, form)


class AgreementAdminView(StaffPageMixin, View):
    required_perms = ("accounts.add_agreement",)

    def get(self, request, form=None):
        agreements = Agreement.objects.all()
        return render(
            request,
            "accounts/agreement_admin.html",
            {"agreements": agreements, "form": form or AgreementForm()},
        )

    def post(self, request):
        form = AgreementForm(request.POST)
        if form.is_valid():
            try:
                services.agreement_publish(actor=request.user, **form.cleaned_data)
            except ValidationError as exc:
                add_form_errors(form, exc)
            else:
                messages.success(request, _("New agreement version published; staff must accept it."))
                return redirect("accounts:agreements")
        return self.get(request, form)
