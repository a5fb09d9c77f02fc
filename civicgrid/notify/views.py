"""The notification centre pages: a user's own notifications, newest first; mark read, mark all
read; open one (marks it read and follows its link). Residents have the same centre in the portal.
Staff bind their own addresses ("My notification channels"); administrators see the routing table."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import ListView

from civicgrid.accounts.choices import UserType
from civicgrid.core.crypto import decrypt, encrypt
from civicgrid.core.middleware import client_ip
from civicgrid.core.views import StaffPageMixin, add_form_errors

from . import otp, selectors, services
from .backends import configured_channels, mask_address
from .choices import Audience, Channel, CodePurpose, DeliveryStatus, Kind
from .forms import AddressRemoveForm, CodeForm, MarkReadForm, PhoneForm
from .models import Notification, NotificationRoute

KIND_LABELS = dict(Kind.choices)


class NotificationCentreMixin:
    """Shared by the staff page and the portal page; subclasses set the template and URL names."""

    template_name = "notify/list.html"
    paginate_by = 30
    list_url_name = "notify:list"
    open_url_name = "notify:open"

    def get_queryset(self):
        return selectors.inbox(self.request.user, unread_only=self.request.GET.get("unread") == "1")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        for n in ctx["object_list"]:
            n.kind_label = KIND_LABELS.get(n.kind, n.kind)
        ctx.update(
            unread_only=self.request.GET.get("unread") == "1",
            unread=selectors.unread_count(self.request.user),
            list_url_name=self.list_url_name,
            open_url_name=self.open_url_name,
        )
        return ctx

    def post(self, request, *args, **kwargs):
        form = MarkReadForm(request.POST)
        if form.is_valid():
            ids = None if form.cleaned_data["all"] else form.cleaned_data["ids"]
            n = services.mark_read(user=request.user, ids=ids)
            messages.success(request, _("%(n)d notifications marked read.") % {"n": n})
        else:
            messages.error(request, " ".join(form.non_field_errors()))
        target = reverse(self.list_url_name)
        if request.GET.get("unread") == "1":
            target += "?unread=1"
        return redirect(target)


class OpenNotificationMixin:
    list_url_name = "notify:list"

    def get(self, request, pk):
        notification = get_object_or_404(Notification, pk=pk, recipient=request.user)
        services.mark_read(user=request.user, ids=[notification.pk])
        url = notification.url
        if url and url_has_allowed_host_and_scheme(url, {request.get_host()}, request.is_secure()):
            return redirect(url)
        return redirect(self.list_url_name)


class NotificationListView(LoginRequiredMixin, NotificationCentreMixin, ListView):
    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and request.user.user_type == UserType.RESIDENT:
            return redirect("portal:notifications")
        return super().dispatch(request, *args, **kwargs)


class OpenNotificationView(LoginRequiredMixin, OpenNotificationMixin, View):
    pass


class ChannelSettingsView(StaffPageMixin, View):
    """The routing table (which kinds go out on which channels, for residents and for staff) and
    the latest deliveries, failed ones first on request."""

    required_perms = ("notify.change_notificationroute",)
    template_name = "notify/channels.html"

    def get(self, request):
        active = set(
            NotificationRoute.objects.filter(is_active=True).values_list("kind", "audience", "channel")
        )
        rows = [
            {
                "kind": kind,
                "label": label,
                "cells": [
                    {
                        "audience": audience,
                        "channel": channel,
                        "on": (kind, audience, channel) in active,
                        "name": f"{kind}:{audience}:{channel}",
                    }
                    for audience in Audience.values
                    for channel in Channel.values
                ],
            }
            for kind, label in Kind.choices
        ]
        status = request.GET.get("status", "")
        deliveries = selectors.recent_deliveries(status=status if status in DeliveryStatus.values else "")
        return render(
            request,
            self.template_name,
            {
                "rows": rows,
                "columns": [
                    (a_label, c_label) for _a, a_label in Audience.choices for _c, c_label in Channel.choices
                ],
                "configured": configured_channels(),
                "deliveries": deliveries[:50],
                "status": status,
                "statuses": DeliveryStatus.choices,
            },
        )

    def post(self, request):
        wanted = set(request.POST.getlist("route"))
        current = {(r.kind, r.audience, r.channel): r.is_active for r in NotificationRoute.objects.all()}
        for kind in Kind.values:
            for audience in Audience.values:
                for channel in Channel.values:
                    on = f"{kind}:{audience}:{channel}" in wanted
                    if current.get((kind, audience, channel), False) != on:
                        services.route_set(
                            actor=request.user, kind=kind, audience=audience, channel=channel, active=on
                        )
        messages.success(request, _("Notification channels saved."))
        return redirect("notify:channels")


class MyAddressesView(LoginRequiredMixin, View):
    """A staff member's "My notification channels": where they are reached beyond the notification
    centre. SMS: enter a mobile number, receive a one-time code, enter it; the number is then
    verified (the previous one stays in use until then). WeChat: bound by an administrator on the
    user's page. Either can be removed. The number being verified waits in the session between the
    steps, encrypted like the stored addresses."""

    template_name = "notify/addresses.html"
    SESSION_PHONE = "notify_pending_phone"

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        if user.is_authenticated and user.user_type == UserType.RESIDENT:
            return redirect("portal:home")  # a resident's number is how they sign in: not changed here
        if user.is_authenticated and user.user_type != UserType.STAFF:
            raise PermissionDenied(_("Only staff bind their notification addresses here."))
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, phone_form=None, code_form=None, status=200):
        rows = {row.channel: row for row in selectors.addresses_of(request.user)}
        configured = set(configured_channels())
        pending = self._pending(request)
        channels = [
            {"channel": value, "label": label, "address": rows.get(value), "configured": value in configured}
            for value, label in Channel.choices
        ]
        return render(
            request,
            self.template_name,
            {
                "channels": channels,
                "pending_phone": mask_address(pending) if pending else "",
                "phone_form": phone_form or PhoneForm(),
                "code_form": code_form or CodeForm(),
                "ttl_minutes": max(1, otp.policy(CodePurpose.ADDRESS).ttl // 60),
            },
            status=status,
        )

    def post(self, request):
        op = request.POST.get("op")
        if op in ("send", "resend"):
            return self._send(request, resend=op == "resend")
        if op == "confirm":
            return self._confirm(request)
        if op == "cancel":
            request.session.pop(self.SESSION_PHONE, None)
            return redirect("notify:addresses")
        if op == "delete":
            return self._delete(request)
        return redirect("notify:addresses")

    def _send(self, request, *, resend: bool):
        data = request.POST
        pending = self._pending(request)
        if resend:
            if not pending:
                return redirect("notify:addresses")
            data = {"phone": pending}
        form = PhoneForm(data)
        if not form.is_valid():
            return self.get(request, phone_form=form, status=400)
        phone = form.cleaned_data["phone"]
        try:
            services.sms_verification_start(user=request.user, phone=phone, ip=client_ip(request))
        except ValidationError as exc:
            add_form_errors(form, exc)
            return self.get(request, phone_form=form, status=400)
        except otp.RateLimited as exc:
            if resend:
                messages.error(request, exc.message)
                response = self.get(request, status=429)
            else:
                form.add_error("phone", exc.message)
                response = self.get(request, phone_form=form, status=429)
            response["Retry-After"] = str(exc.retry_after)
            return response
        except otp.SendFailed:
            form.add_error(None, _("The code could not be sent just now. Please try again in a minute."))
            return self.get(request, phone_form=form, status=503)
        request.session[self.SESSION_PHONE] = encrypt(phone)
        messages.success(request, _("A code was sent to %(phone)s.") % {"phone": mask_address(phone)})
        return redirect("notify:addresses")

    def _pending(self, request) -> str | None:
        """The number waiting for its code, if any (a token from an old key counts as none)."""
        token = request.session.get(self.SESSION_PHONE)
        if not token:
            return None
        try:
            return decrypt(token)
        except (TypeError, ValueError):
            request.session.pop(self.SESSION_PHONE, None)
            return None

    def _confirm(self, request):
        phone = self._pending(request)
        if not phone:
            messages.warning(request, _("Enter your mobile number first."))
            return redirect("notify:addresses")
        form = CodeForm(request.POST)
        if form.is_valid():
            try:
                services.sms_verification_confirm(
                    user=request.user, phone=phone, code=form.cleaned_data["code"]
                )
            except ValidationError as exc:
                if "phone" in getattr(exc, "message_dict", {}):
                    # The number itself cannot be bound (taken meanwhile): start again with it.
                    request.session.pop(self.SESSION_PHONE, None)
                    phone_form = PhoneForm({"phone": phone})
                    phone_form.is_valid()
                    add_form_errors(phone_form, exc)
                    return self.get(request, phone_form=phone_form, status=400)
                add_form_errors(form, exc)
            else:
                request.session.pop(self.SESSION_PHONE, None)
                messages.success(
                    request,
                    _("%(phone)s is verified: SMS notifications go to this number.")
                    % {"phone": mask_address(phone)},
                )
                return redirect("notify:addresses")
        return self.get(request, code_form=form, status=400)

    def _delete(self, request):
        form = AddressRemoveForm(request.POST)
        if form.is_valid():
            channel = form.cleaned_data["channel"]
            try:
                services.address_delete(actor=request.user, user=request.user, channel=channel)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(
                    request,
                    _("Removed: nothing is sent to you by %(channel)s any more.")
                    % {"channel": Channel(channel).label},
                )
        return redirect("notify:addresses")
