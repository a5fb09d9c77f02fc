"""The resident portal (mobile H5 for the WeChat in-app browser, desktop too): sign in with a phone
and a one-time code, choose one's community, report a problem, follow and rate one's reports, read
the community's notices and one's notifications. Plus the staff page that publishes notices.

A resident only ever reads their own reports (``selectors.my_cases``): someone else's answers 404,
exactly like a missing one."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import ListView

from civicgrid.accounts.choices import UserType
from civicgrid.areas.choices import AreaLevel
from civicgrid.areas.models import Area
from civicgrid.cases import selectors as case_selectors
from civicgrid.cases import services as case_services
from civicgrid.cases.choices import Channel, Light, Status
from civicgrid.core.files import private_file_response
from civicgrid.core.middleware import client_ip
from civicgrid.core.services import ConflictError
from civicgrid.core.views import StaffPageMixin, add_form_errors
from civicgrid.notify.backends import mask_address
from civicgrid.notify.choices import Channel as NotifyChannel
from civicgrid.notify.models import ChannelAddress
from civicgrid.notify.views import NotificationCentreMixin, OpenNotificationMixin

from . import selectors, services
from .forms import CodeForm, CommunityForm, NoticeForm, NotSolvedForm, PhoneForm, RateForm, ReportForm
from .models import Notice

#: The backend that signs a resident in once their code is checked (function permissions from posts).
AUTH_BACKEND = "civicgrid.accounts.backends.PostPermissionBackend"
SESSION_PHONE = "portal_phone"
SESSION_NEXT = "portal_next"
LIGHT_LABELS = {
    Light.GREEN: gettext_lazy("on time"),
    Light.YELLOW: gettext_lazy("deadline close"),
    Light.RED: gettext_lazy("overdue"),
}


def _safe_next(request, value: str | None) -> str | None:
    if value and url_has_allowed_host_and_scheme(value, {request.get_host()}, request.is_secure()):
        return value
    return None


class ResidentMixin:
    """A resident's page: signed in (else the phone sign-in), a resident (staff get 403), and,
    unless ``needs_community`` is False, with a community chosen (else the chooser)."""

    needs_community = True

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("portal:login"))
        if user.user_type != UserType.RESIDENT:
            raise PermissionDenied(_("The resident portal is for residents; staff work in the back office."))
        if self.needs_community and not selectors.resident_communities(user):
            return redirect(f"{reverse('portal:community')}?{urlencode({'next': request.get_full_path()})}")
        return super().dispatch(request, *args, **kwargs)


# ---- sign-in ---------------------------------------------------------------------------------


class PhoneLoginView(View):
    """Step 1: the mobile number; a 6-digit code is sent to it."""

    template_name = "portal/login.html"

    def get(self, request, form=None, status=200):
        if request.user.is_authenticated and request.user.user_type == UserType.RESIDENT:
            return redirect(_safe_next(request, request.GET.get("next")) or "portal:home")
        next_url = _safe_next(request, request.GET.get("next") or request.POST.get("next"))
        return render(
            request,
            self.template_name,
            {
                "form": form or PhoneForm(initial={"phone": request.session.get(SESSION_PHONE, "")}),
                "next": next_url,
            },
            status=status,
        )

    def post(self, request):
        data = request.POST
        if data.get("resend") and request.session.get(SESSION_PHONE):  # "send a new code" on step 2
            data = data.copy()
            data["phone"] = request.session[SESSION_PHONE]
        form = PhoneForm(data)
        if not form.is_valid():
            return self.get(request, form)
        phone = form.cleaned_data["phone"]
        try:
            services.otp_request(phone=phone, ip=client_ip(request))
        except services.RateLimited as exc:
            form.add_error("phone", exc.message)
            response = self.get(request, form, status=429)
            response["Retry-After"] = str(exc.retry_after)
            return response
        except services.SendFailed:
            form.add_error(None, _("The code could not be sent just now. Please try again in a minute."))
            return self.get(request, form, status=503)
        request.session[SESSION_PHONE] = phone
        next_url = _safe_next(request, request.POST.get("next"))
        if next_url or not request.POST.get("resend"):
            request.session[SESSION_NEXT] = next_url or ""
        messages.success(request, _("A code was sent to %(phone)s.") % {"phone": mask_address(phone)})
        return redirect("portal:verify")


class CodeLoginView(View):
    """Step 2: the code from the SMS; the resident is signed in (their account is made on the
    first sign-in)."""

    template_name = "portal/verify.html"

    def get(self, request, form=None):
        phone = request.session.get(SESSION_PHONE)
        if not phone:
            return redirect("portal:login")
        return render(
            request,
            self.template_name,
            {"form": form or CodeForm(), "masked_phone": mask_address(phone)},
        )

    def post(self, request):
        phone = request.session.get(SESSION_PHONE)
        if not phone:
            messages.warning(request, _("Enter your mobile number first."))
            return redirect("portal:login")
        form = CodeForm(request.POST)
        if form.is_valid():
            try:
                services.otp_verify(phone=phone, code=form.cleaned_data["code"])
                user, created = services.resident_sign_in(phone=phone)
            except ValidationError as exc:
                add_form_errors(form, exc)
            else:
                next_url = request.session.pop(SESSION_NEXT, "") or reverse("portal:home")
                request.session.pop(SESSION_PHONE, None)
                login(request, user, backend=AUTH_BACKEND)
                if created:
                    messages.success(request, _("Welcome! Choose your community to start."))
                return redirect(next_url)
        return self.get(request, form)


class CommunityView(ResidentMixin, View):
    """Choose (or change) one's community: a resident post there."""

    needs_community = False
    template_name = "portal/community.html"

    def get(self, request, form=None):
        current = selectors.resident_communities(request.user)
        if form is None:
            form = CommunityForm(
                communities=selectors.communities(),
                initial={"community": current[0].pk if current else None},
            )
        return render(
            request,
            self.template_name,
            {"form": form, "community": current[0] if current else None, "next": request.GET.get("next", "")},
        )

    def post(self, request):
        form = CommunityForm(request.POST, communities=selectors.communities())
        if form.is_valid():
            try:
                services.resident_join_community(user=request.user, community=form.cleaned_data["community"])
            except ValidationError as exc:
                add_form_errors(form, exc)
            else:
                messages.success(
                    request, _("Your community is %(name)s.") % {"name": form.cleaned_data["community"].name}
                )
                return redirect(_safe_next(request, request.POST.get("next")) or "portal:home")
        return self.get(request, form)


# ---- home ------------------------------------------------------------------------------------


class HomeView(ResidentMixin, View):
    template_name = "portal/home.html"

    def get(self, request):
        cases = list(selectors.my_cases(request.user)[:3])
        decorate(cases)
        return render(
            request,
            self.template_name,
            {
                "community": selectors.resident_communities(request.user)[0],
                "cases": cases,
                "notices": list(selectors.notices_for(request.user)[:3]),
            },
        )


# ---- reporting -------------------------------------------------------------------------------


def decorate(cases, now=None) -> None:
    now = now or timezone.now()
    for case in cases:
        case.light_now = case.light_at(now) if case.is_open else Light.NONE
        case.light_label = LIGHT_LABELS.get(case.light_now, "")


def _map_context(community: Area) -> dict:
    """The resident's community and its grids as outlines for the report map (no tiles needed)."""
    grids = Area.objects.filter(parent=community, level=AreaLevel.GRID, is_active=True).only(
        "id", "name", "geometry"
    )
    return {
        "community": {
            "name": community.name,
            "centre": [community.centre_lat, community.centre_lng] if community.centre else None,
            "geometry": community.geometry,
        },
        "grids": [{"name": g.name, "geometry": g.geometry} for g in grids if g.geometry],
    }


class ReportView(ResidentMixin, View):
    template_name = "portal/report.html"

    def _form(self, data=None, files=None):
        return ReportForm(data, files, groups=selectors.report_categories())

    def get(self, request, form=None):
        community = Area.objects.get(pk=selectors.resident_communities(request.user)[0].pk)
        form = form or self._form()
        return render(
            request,
            self.template_name,
            {
                "form": form,
                "report_map": _map_context(community),
                "photos_lost": form.is_bound and bool(request.FILES),
            },
        )

    def post(self, request):
        form = self._form(request.POST, request.FILES)
        if form.is_valid():
            d = form.cleaned_data
            phone = (
                ChannelAddress.objects.filter(user=request.user, channel=NotifyChannel.SMS, verified=True)
                .values_list("address", flat=True)
                .first()
            )
            try:
                case, created = case_services.case_report(
                    actor=request.user,
                    category=d["category"],
                    description=d["description"],
                    channel=Channel.RESIDENT,
                    lat=d.get("lat"),
                    lng=d.get("lng"),
                    address=d.get("address", ""),
                    answers=form.answers(),
                    reporter_phone=phone or "",
                    source=f"user:{request.user.pk}",
                    idempotency_key=str(d["report_key"]),
                    photos=d["photos"],
                    keep_photo_location=d["keep_photo_location"],
                )
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                if created:
                    messages.success(
                        request,
                        _("Thank you. Your report %(number)s was received.") % {"number": case.number},
                    )
                else:
                    messages.info(request, _("This report was already received."))
                if case.reporter_id != request.user.pk:  # a key reused by someone else: never show it
                    raise Http404
                return redirect("portal:case", pk=case.pk)
        return self.get(request, form)


class MyCasesView(ResidentMixin, ListView):
    template_name = "portal/case_list.html"
    paginate_by = 20

    def get_queryset(self):
        return selectors.my_cases(self.request.user)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        decorate(ctx["object_list"])
        return ctx


class CaseView(ResidentMixin, View):
    """One of my reports: where it stands, its public timeline, deadline and unit; rate it or
    say it is not solved once it is closed."""

    template_name = "portal/case_detail.html"

    def get_case(self, pk):
        return get_object_or_404(selectors.my_cases(self.request.user), pk=pk)

    def get(self, request, pk, rate_form=None, not_solved_form=None, status=200):
        case = self.get_case(pk)
        decorate([case])
        events = list(case_selectors.timeline(case, public_only=True))
        closed = case.status == Status.CLOSED
        return render(
            request,
            self.template_name,
            {
                "case": case,
                "events": events,
                "photos": list(selectors.public_photos(case)),
                "can_rate": closed and case.rating is None,
                "can_reopen": closed,
                "rate_form": rate_form or RateForm(),
                "not_solved_form": not_solved_form or NotSolvedForm(),
            },
            status=status,
        )

    def post(self, request, pk):
        case = self.get_case(pk)
        solved = request.POST.get("op") != "not_solved"
        form = RateForm(request.POST) if solved else NotSolvedForm(request.POST)
        if form.is_valid():
            try:
                case_services.case_rate(
                    case=case,
                    actor=request.user,
                    rating=form.cleaned_data.get("rating") if solved else None,
                    comment=form.cleaned_data["comment"],
                    solved=solved,
                )
            except ValidationError as exc:
                add_form_errors(form, exc)
            except ConflictError as exc:
                messages.error(request, exc.message)
                return redirect("portal:case", pk=pk)
            except PermissionDenied:
                raise Http404
            else:
                if solved:
                    messages.success(request, _("Thank you for your rating."))
                else:
                    messages.success(request, _("Your report is open again; the unit will look at it again."))
                return redirect("portal:case", pk=pk)
        if solved:
            return self.get(request, pk, rate_form=form)
        return self.get(request, pk, not_solved_form=form)


class PhotoView(ResidentMixin, View):
    """A photo of one of my reports (their report photos and those of public steps)."""

    def get(self, request, pk):
        from civicgrid.cases.models import CasePhoto

        mine = selectors.my_cases(request.user).values("pk")
        photo = get_object_or_404(CasePhoto.objects.filter(case__in=mine).select_related("event"), pk=pk)
        if photo.event_id and not photo.event.is_public:
            raise Http404
        return private_file_response(photo.image)


# ---- notices and notifications ---------------------------------------------------------------


class NoticeListView(ResidentMixin, ListView):
    template_name = "portal/notices.html"
    paginate_by = 20

    def get_queryset(self):
        return selectors.notices_for(self.request.user)


class NoticeView(ResidentMixin, View):
    def get(self, request, pk):
        notice = get_object_or_404(selectors.notices_for(request.user), pk=pk)
        return render(request, "portal/notice_detail.html", {"notice": notice})


class NotificationsView(ResidentMixin, NotificationCentreMixin, ListView):
    template_name = "portal/notifications.html"
    list_url_name = "portal:notifications"
    open_url_name = "portal:notification_open"
    needs_community = False


class OpenNotificationView(ResidentMixin, OpenNotificationMixin, View):
    list_url_name = "portal:notifications"
    needs_community = False


class NoticeManageView(StaffPageMixin, View):
    """Staff publish notices to the residents of their area (and withdraw them)."""

    required_perms = ("portal.view_notice",)
    template_name = "portal/notice_manage.html"

    def get(self, request, form=None):
        from django.core.paginator import Paginator

        notices = Notice.objects.visible_to(request.user).select_related("area", "created_by").order_by("-id")
        page = Paginator(notices, 30).get_page(request.GET.get("page"))
        can_add = request.user.has_perm("portal.add_notice")
        return render(
            request,
            self.template_name,
            {
                "page_obj": page,
                "notices": page.object_list,
                "form": (form or NoticeForm(user=request.user)) if can_add else None,
                "can_delete": request.user.has_perm("portal.delete_notice"),
                "now": timezone.now(),
            },
        )

    def post(self, request):
        if request.POST.get("op") == "delete":
            notice = get_object_or_404(
                Notice.objects.visible_to(request.user, "delete"), pk=request.POST.get("notice")
            )
            services.notice_delete(actor=request.user, notice=notice)
            messages.success(request, _("Notice withdrawn."))
            return redirect("portal:notice_manage")
        if not request.user.has_perm("portal.add_notice"):
            raise PermissionDenied(_("Your role does not include this page."))
        form = NoticeForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                services.notice_create(actor=request.user, **form.cleaned_data)
            except ValidationError as exc:
                add_form_errors(form, exc)
            else:
                messages.success(request, _("Notice published."))
                return redirect("portal:notice_manage")
        return self.get(request, form)
