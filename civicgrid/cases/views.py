"""Command-center pages (指挥中心): the triage queue, the case list and case page with every step of
the loop, the live map and its feed, the unit's cases, joint meetings and risk points.

Every page reads cases through ``Case.objects.visible_to`` (via the scoped view bases); every step
goes through a service with the version the user saw, so two people acting on one case at once get
a clear conflict message instead of a double step."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, OuterRef, Subquery
from django.http import Http404, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import TemplateView

from civicgrid.accounts.choices import UserType
from civicgrid.areas.models import Area
from civicgrid.areas.selectors import ancestors, top_visible_areas
from civicgrid.core.files import private_file_response
from civicgrid.core.masking import mask_mobile
from civicgrid.core.services import ConflictError
from civicgrid.core.views import ScopedDetailView, ScopedListView, StaffPageMixin, add_form_errors

from . import selectors, services, triage
from .actions import ACTIONS, available_actions, available_actions_bulk
from .choices import EventKind, Light, Status
from .forms import ACTION_FORMS, CaseFilterForm, MeetingForm
from .models import Case, CaseEvent, CasePhoto, JointMeeting
from .models.cases import unit_ids

LIGHT_LABELS = dict(Light.choices)
#: Most markers the live map draws at once (the newest first); narrower filters show the rest.
MAP_LIMIT = 3000
#: Most changed cases one poll of the feed returns; beyond it the map reloads in full.
FEED_CHANGE_LIMIT = 1000
#: The feed's cursor trails the clock by this much, so a change committed a little after it was
#: stamped (or stamped by a web process whose clock runs behind) is still sent once more.
FEED_OVERLAP = timedelta(seconds=30)
#: Who may open a case page: area staff who see cases, and unit members who handle them.
CASE_PAGE_PERMS = ("cases.view_case", "cases.handle_case")


class NoResidentsMixin:
    """The command center is for staff; residents follow their reports in the portal."""

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        if user.is_authenticated and getattr(user, "user_type", "") == UserType.RESIDENT:
            raise PermissionDenied(_("Your role does not include this page."))
        return super().dispatch(request, *args, **kwargs)


def decorate(cases, now=None) -> None:
    """The light of each case now, with its label, for the templates."""
    now = now or timezone.now()
    for case in cases:
        case.light_now = case.light_at(now)
        case.light_label = LIGHT_LABELS[case.light_now]


def query_without_page(request) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


def safe_next(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return default


# ---- triage queue ----------------------------------------------------------------------------


class TriageView(NoResidentsMixin, ScopedListView):
    """Reported cases waiting to be recorded, oldest first, with triage hints."""

    model = Case
    template_name = "cases/triage.html"
    paginate_by = 30
    required_perms = ("cases.record_case", "cases.dispatch_case")

    def get_queryset(self):
        return (
            super()
            .get_queryset()
            .filter(status=Status.REPORTED)
            .select_related("area__parent", "category")
            .order_by("reported_at", "id")
        )

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        rows = list(ctx["object_list"])
        user = self.request.user
        hints = triage.suggestions(rows)
        dups = triage.duplicates(rows, user)
        actions = available_actions_bulk(rows, user)
        decorate(rows)
        for case in rows:
            case.hint, case.dups, case.actions = hints[case.pk], dups[case.pk], actions[case.pk]
        ctx.update(rows=rows, query=query_without_page(self.request), next_url=self.request.get_full_path())
        return ctx


# ---- case list -------------------------------------------------------------------------------


class CaseListView(NoResidentsMixin, ScopedListView):
    """Every case in scope, filtered; counts by light of the filtered open cases."""

    model = Case
    template_name = "cases/case_list.html"

    def get_queryset(self):
        user = self.request.user
        self.form = CaseFilterForm(self.request.GET or None, user=user)
        qs = super().get_queryset().select_related("area__parent", "category", "department").order_by("-id")
        self.unlit = qs
        if not self.form.is_bound:
            return qs
        if not self.form.is_valid():
            self.unlit = qs.none()
            return qs.none()
        self.now = timezone.now()
        light = self.form.cleaned_data.get("light")
        self.form.cleaned_data["light"] = ""
        self.unlit = self.form.apply(qs, now=self.now)
        self.form.cleaned_data["light"] = light
        return self.unlit.in_light(light, self.now) if light else self.unlit

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        rows = list(ctx["object_list"])
        decorate(rows)
        user = self.request.user
        area = self.form.area_obj if self.form.is_bound and self.form.is_valid() else None
        visible_areas = Area.objects.visible_to(user)
        children = visible_areas.filter(parent=area) if area else top_visible_areas(user)
        counts = selectors.case_counts_by_light(self.unlit)
        params = self.request.GET.copy()
        params.pop("page", None)
        without_area = params.copy()
        without_area.pop("area", None)
        light_links = []
        for value, label in Light.choices:
            params["light"] = value
            light_links.append(
                {"value": value, "label": label, "n": counts.get(value, 0), "query": params.urlencode()}
            )
        ctx.update(
            form=self.form,
            rows=rows,
            query=query_without_page(self.request),
            area=area,
            trail=[a for a in ancestors(area) if visible_areas.filter(pk=a.pk).exists()] if area else [],
            children=children.order_by("scope_code")[:100],
            light_links=light_links,
            area_query=without_area.urlencode(),
            open_total=sum(counts.values()),
        )
        return ctx


# ---- case page -------------------------------------------------------------------------------


def _answers(case: Case) -> list[tuple[str, str]]:
    """The answers to the category's questions as (question, answer) in the questions' order."""
    questions = list(case.category.questions.all())
    out = []
    seen = set()
    for q in questions:
        if q.code not in case.answers:
            continue
        seen.add(q.code)
        names = {str(v.get("key")): v.get("name") or v.get("key") for v in q.values}
        value = case.answers[q.code]
        values = value if isinstance(value, list) else [value]
        out.append((q.label, "、".join(str(names.get(str(v), v)) for v in values)))
    for code, value in case.answers.items():
        if code not in seen:
            out.append((code, str(value)))
    return out


def _run(name: str, case: Case, user, form) -> None:
    """Take the step ``name`` with the form's data through its service."""
    d = form.cleaned_data
    v = d["expected_version"]
    if name == "record":
        services.case_record(
            case=case,
            actor=user,
            category=d["category"],
            urgency=d["urgency"],
            note=d["note"],
            expected_version=v,
        )
    elif name == "dispatch":
        services.case_dispatch(
            case=case,
            actor=user,
            department=d["department"],
            assisting=list(d["assisting"]),
            note=d["note"],
            expected_version=v,
        )
    elif name == "reject":
        services.case_reject(case=case, actor=user, reason=d["reason"], expected_version=v)
    elif name == "merge":
        services.case_merge(case=case, actor=user, into=d["into"], note=d["note"], expected_version=v)
    elif name == "start":
        services.case_start(case=case, actor=user, note=d["note"], expected_version=v)
    elif name == "handle":
        services.case_handle(
            case=case, actor=user, result=d["result"], photos=d["photos"], expected_version=v
        )
    elif name == "return":
        services.case_return(case=case, actor=user, reason=d["reason"], expected_version=v)
    elif name == "verify":
        services.case_verify(
            case=case, actor=user, passed=d["passed"], note=d["note"], photos=d["photos"], expected_version=v
        )
    elif name == "close":
        services.case_close(case=case, actor=user, note=d["note"], expected_version=v)
    elif name == "rate":
        _rate(case, user, d)
    elif name == "reopen":
        services.case_reopen(case=case, actor=user, reason=d["reason"], expected_version=v)
    elif name == "supervise":
        services.case_supervise(case=case, actor=user, note=d["note"], expected_version=v)
    elif name == "escalate":
        services.case_escalate(case=case, actor=user, reason=d["reason"], expected_version=v)
    elif name == "coordinate":
        with transaction.atomic():  # a refused step leaves no meeting record behind
            meeting = d["meeting"]
            if form.new_meeting:
                meeting = services.meeting_create(
                    actor=user, area=case.area, departments=[d["lead"], *d["assisting"]], **form.new_meeting
                )
            services.case_coordinate(
                case=case,
                actor=user,
                lead=d["lead"],
                assisting=list(d["assisting"]),
                meeting=meeting,
                note=d["note"],
                expected_version=v,
            )
    elif name == "defer":
        services.case_defer(case=case, actor=user, reason=d["reason"], expected_version=v)
    elif name == "review":
        services.case_review(
            case=case, actor=user, note=d["note"], reactivate=d["reactivate"], expected_version=v
        )
    elif name == "comment":
        _comment(case, user, d)
    else:  # pragma: no cover - ACTION_FORMS and this list are kept together
        raise Http404


def _rate(case: Case, user, d) -> None:
    """A follow-up call's rating: the case_rate service takes no version, so check it here, in the
    same transaction (the service locks the row again)."""
    with transaction.atomic():
        _check_version(case, d["expected_version"])
        services.case_rate(case=case, actor=user, rating=d["rating"], comment=d["comment"])


def _comment(case: Case, user, d) -> None:
    # A note adds to the timeline and changes nothing else: it never conflicts with a step.
    services.case_comment(case=case, actor=user, note=d["note"], public=d["public"])


def _check_version(case: Case, expected: int) -> None:
    current = Case.objects.select_for_update().filter(pk=case.pk).values_list("version", "status").first()
    if current is None:
        raise Http404
    if current[0] != expected:
        raise ConflictError(
            _("Somebody changed this case in the meantime (it is now %(status)s); reload and try again.")
            % {"status": Status(current[1]).label}
        )


SUCCESS = {
    "record": gettext_lazy("The case is recorded."),
    "dispatch": gettext_lazy("The case is dispatched."),
    "reject": gettext_lazy("The report is rejected."),
    "merge": gettext_lazy("The report is merged."),
    "start": gettext_lazy("Handling started."),
    "handle": gettext_lazy("The result is reported; the grid worker will verify it."),
    "return": gettext_lazy("The case is returned to the command center."),
    "verify": gettext_lazy("The verification is recorded."),
    "close": gettext_lazy("The case is closed."),
    "rate": gettext_lazy("The rating is recorded."),
    "reopen": gettext_lazy("The case is reopened."),
    "supervise": gettext_lazy("The supervision is sent."),
    "escalate": gettext_lazy("The case is passed up a level."),
    "coordinate": gettext_lazy("The case is coordinated."),
    "defer": gettext_lazy("The case is kept as a risk point."),
    "review": gettext_lazy("The review is recorded."),
    "comment": gettext_lazy("The note is added."),
}


class CaseDetailView(NoResidentsMixin, ScopedDetailView):
    """A case: its details, answers, location, photos, timeline and deadlines, and the forms of the
    steps the user may take now (only those)."""

    model = Case
    template_name = "cases/case_detail.html"
    required_perms = CASE_PAGE_PERMS

    def get_queryset(self):
        return (
            super()
            .get_queryset()
            .select_related(
                "area__parent__parent",
                "category__parent",
                "department",
                "reporter",
                "dispatcher",
                "duplicate_of",
            )
            .prefetch_related("assisting_departments")
        )

    def make_forms(self, case: Case, names: list[str], bound=None, suggested=None) -> dict:
        out = {}
        for name in names:
            if bound is not None and bound.action == name:
                out[name] = bound
                continue
            kwargs = {"case": case, "user": self.request.user}
            if name == "dispatch":
                kwargs["suggested"] = suggested
            out[name] = ACTION_FORMS[name](**kwargs)
        return out

    def get_context_data(self, bound=None, conflict=None, **kwargs):
        ctx = super().get_context_data(**kwargs)
        case = self.object
        user = self.request.user
        names = available_actions(case, user)
        hint = None
        if case.status in (Status.REPORTED, Status.RECORDED):
            hint = triage.suggestions([case])[case.pk]
        duplicates = []
        if {"merge", "record", "dispatch"} & set(names):
            duplicates = triage.duplicates([case], user)[case.pk]
        decorate([case])
        forms = self.make_forms(case, names, bound=bound, suggested=hint.department if hint else None)
        ctx.update(
            case=case,
            answers=_answers(case),
            photos=list(case.photos.order_by("id")),
            events=list(selectors.timeline(case)),
            deadlines=list(case.deadlines.select_related("department").order_by("id")),
            meetings=list(case.meetings.visible_to(user).order_by("-held_at")),
            duplicates=duplicates,
            merged_into=case.duplicate_of if case.duplicate_of_id else None,
            hint=hint,
            action_forms=[(ACTIONS[n], forms[n]) for n in names],
            conflict=conflict,
            location={
                "lat": case.lat,
                "lng": case.lng,
                "grid": case.area.geometry,
            },
            reporter_phone=mask_mobile(case.reporter_phone) if case.reporter_phone else "",
            is_unit_member=bool(
                set(unit_ids(user))
                & ({case.department_id} | {d.pk for d in case.assisting_departments.all()})
            ),
        )
        return ctx

    def post(self, request, *args, **kwargs):
        self.object = case = self.get_object()
        name = request.POST.get("action", "")
        form_class = ACTION_FORMS.get(name)
        if form_class is None:
            return HttpResponseBadRequest(_("Unknown step."))
        form = form_class(request.POST, request.FILES, case=case, user=request.user)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(bound=form), status=400)
        try:
            _run(name, case, request.user, form)
        except ValidationError as exc:
            add_form_errors(form, exc)
            self.object = self.get_object()
            return self.render_to_response(self.get_context_data(bound=form), status=400)
        except ConflictError as exc:
            self.object = self.get_object()
            return self.render_to_response(self.get_context_data(conflict=exc.message), status=409)
        messages.success(request, SUCCESS[name])
        default = reverse("cases:detail", args=[case.pk])
        if not Case.objects.visible_to(request.user, "view").filter(pk=case.pk).exists():
            default = reverse("cases:unit") if request.user.has_perm("cases.handle_case") else reverse("home")
        return redirect(safe_next(request, default))


class PhotoView(NoResidentsMixin, StaffPageMixin, View):
    """A case photo, streamed to staff who may see the case (never a public media URL)."""

    required_perms = CASE_PAGE_PERMS

    def get(self, request, pk):
        visible = Case.objects.visible_to(request.user, "view")
        photo = get_object_or_404(CasePhoto.objects.filter(case__in=visible.values("pk")), pk=pk)
        return private_file_response(photo.image, default_type="application/octet-stream")


# ---- live map --------------------------------------------------------------------------------


class MapView(NoResidentsMixin, StaffPageMixin, TemplateView):
    """Open cases on a map coloured by light, kept current by polling the feed."""

    template_name = "cases/map.html"
    required_perms = ("cases.view_case",)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        form = CaseFilterForm(self.request.GET or None, user=self.request.user)
        form.is_bound and form.is_valid()
        ctx.update(
            form=form,
            query=query_without_page(self.request),
            map_text={
                "newest": _("Showing the newest %(n)s open cases: narrow the filters to see the rest."),
                "count": _("%(n)s open cases"),
                "updated": _("updated"),
                "error": _("The map could not be updated; retrying."),
                "cluster": _("%(n)s cases: zoom in"),
                "lights": LIGHT_LABELS,
            },
            map_limit=MAP_LIMIT,
        )
        return ctx


def _marker(case: Case, now) -> dict:
    return {
        "id": case.pk,
        "number": case.number,
        "title": case.title,
        "lat": case.lat,
        "lng": case.lng,
        "status": case.status,
        "status_label": case.get_status_display(),
        "category": case.category.name,
        "light": case.light_at(now),
        "warn_at": case.warn_at.isoformat() if case.warn_at else None,
        "due_at": case.due_at.isoformat() if case.due_at else None,
        "url": reverse("cases:detail", args=[case.pk]),
    }


class MapFeedView(NoResidentsMixin, StaffPageMixin, View):
    """JSON for the live map. Without ``since``: the open cases matching the filters (at most
    MAP_LIMIT, newest first). With ``since`` (the previous answer's ``cursor``): only the cases in
    scope changed since then, split into markers to draw or redraw (``cases``) and ids to take off
    the map (``removed``: closed, or no longer matching the filters)."""

    required_perms = ("cases.view_case",)

    def get(self, request):
        user = request.user
        form = CaseFilterForm(request.GET, user=user)
        if not form.is_valid():
            return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
        since = None
        if request.GET.get("since"):
            since = parse_datetime(request.GET["since"])
            if since is None or timezone.is_naive(since):
                return JsonResponse(
                    {"errors": {"since": [{"message": _("Give an ISO 8601 time with its offset.")}]}},
                    status=400,
                )
        now = timezone.now()
        base = Case.objects.visible_to(user, "view")
        matching = form.apply(selectors.open_cases(base), now=now).filter(
            lat__isnull=False, lng__isnull=False
        )
        body = {"now": now.isoformat(), "cursor": (now - FEED_OVERLAP).isoformat(), "reset": False}
        if since is None:
            rows = list(matching.select_related("category").order_by("-id")[: MAP_LIMIT + 1])
            body.update(
                full=True,
                truncated=len(rows) > MAP_LIMIT,
                cases=[_marker(c, now) for c in rows[:MAP_LIMIT]],
                removed=[],
            )
            return JsonResponse(body)
        changed = list(
            selectors.recent_changes(base, since, now).select_related("category")[: FEED_CHANGE_LIMIT + 1]
        )
        if len(changed) > FEED_CHANGE_LIMIT:
            body.update(full=False, reset=True, cases=[], removed=[])  # too much changed: reload in full
            return JsonResponse(body)
        still = set(matching.filter(pk__in=[c.pk for c in changed]).values_list("pk", flat=True))
        body.update(
            full=False,
            truncated=False,
            cases=[_marker(c, now) for c in changed if c.pk in still],
            removed=[c.pk for c in changed if c.pk not in still],
        )
        return JsonResponse(body)


# ---- my unit's cases -------------------------------------------------------------------------

UNIT_OPEN = (Status.DISPATCHED, Status.IN_PROGRESS, Status.HANDLED)


class UnitCasesView(NoResidentsMixin, ScopedListView):
    """The cases dispatched to the user's units, as lead or assisting unit."""

    model = Case
    scope_action = "handle"
    template_name = "cases/unit.html"

    def get_queryset(self):
        self.show = self.request.GET.get("show", "open")
        qs = super().get_queryset().select_related("area__parent", "category", "department").order_by("-id")
        if self.show != "all":
            qs = qs.filter(status__in=UNIT_OPEN)
        return qs

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        rows = list(ctx["object_list"])
        user = self.request.user
        units = set(unit_ids(user))
        actions = available_actions_bulk(rows, user)
        decorate(rows)
        for case in rows:
            case.actions = actions[case.pk]
            case.as_lead = case.department_id in units
        ctx.update(
            rows=rows,
            show=self.show,
            query=query_without_page(self.request),
            next_url=self.request.get_full_path(),
        )
        return ctx


# ---- joint meetings --------------------------------------------------------------------------


class MeetingListView(NoResidentsMixin, ScopedListView):
    """Joint meetings in scope; a form to record one."""

    model = JointMeeting
    template_name = "cases/meeting_list.html"

    def get_queryset(self):
        return (
            super()
            .get_queryset()
            .select_related("area")
            .prefetch_related("departments")
            .annotate(case_count=Count("cases", distinct=True))
            .order_by("-held_at", "-id")
        )

    def get_context_data(self, form=None, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        if user.has_perm("cases.add_jointmeeting"):
            ctx["form"] = form or MeetingForm(user=user)
        return ctx

    def post(self, request, *args, **kwargs):
        if not request.user.has_perm("cases.add_jointmeeting"):
            raise PermissionDenied(_("Your role does not include this page."))
        form = MeetingForm(request.POST, user=request.user)
        if form.is_valid():
            d = form.cleaned_data
            try:
                meeting = services.meeting_create(
                    actor=request.user,
                    area=d["area"],
                    kind=d["kind"],
                    held_at=d["held_at"],
                    topic=d["topic"],
                    place=d["place"],
                    attendees=d["attendees"],
                    minutes=d["minutes"],
                    decisions=d["decisions"],
                    departments=list(d["departments"]),
                    cases=d["cases"],
                )
            except ValidationError as exc:
                add_form_errors(form, exc)
            else:
                messages.success(request, _("The meeting is recorded."))
                return redirect("cases:meeting", pk=meeting.pk)
        self.object_list = self.get_queryset()
        return self.render_to_response(self.get_context_data(form=form), status=400)


class MeetingDetailView(NoResidentsMixin, ScopedDetailView):
    model = JointMeeting
    template_name = "cases/meeting_detail.html"

    def get_queryset(self):
        return super().get_queryset().select_related("area", "created_by").prefetch_related("departments")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        cases = list(
            Case.objects.visible_to(user, "view")
            .filter(meetings=self.object)
            .select_related("category", "department")
            .order_by("-id")[:200]
        )
        decorate(cases)
        ctx["cases"] = cases
        return ctx


# ---- risk points -----------------------------------------------------------------------------


class RiskListView(NoResidentsMixin, ScopedListView):
    """Deferred cases (risk points / public-sentiment records filed with the street party
    committee), the next review due first."""

    model = Case
    template_name = "cases/risks.html"

    def get_queryset(self):
        reason = (
            CaseEvent.objects.filter(case=OuterRef("pk"), kind=EventKind.DEFERRED)
            .order_by("-id")
            .values("note")[:1]
        )
        return (
            super()
            .get_queryset()
            .filter(status=Status.DEFERRED)
            .select_related("area__parent__parent", "category")
            .annotate(defer_reason=Subquery(reason))
            .order_by("due_at", "id")
        )

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        rows = list(ctx["object_list"])
        decorate(rows)
        ctx.update(rows=rows, query=query_without_page(self.request), now=timezone.now())
        return ctx
