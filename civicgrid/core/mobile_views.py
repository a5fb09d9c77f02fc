"""The grid worker's installable phone app under ``/m/``: report an event, my tasks, verify a handled
case on site. Every write is queued on the phone (IndexedDB outbox, ``static/mobile/app.js``) with an
idempotency key made when the item is created, and posted to the JSON endpoints here when there is
signal; a replayed key answers 200 with what the first attempt made, never a second record."""

from __future__ import annotations

import hashlib
import json
import uuid

from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView

from civicgrid.areas.models import Area
from civicgrid.cases import services
from civicgrid.cases.choices import Channel, Status
from civicgrid.cases.models import Case, CaseEvent, Category
from civicgrid.core.services import ConflictError

from .views import StaffPageMixin

#: Most photos one report or verification may carry.
MAX_PHOTOS = 6

#: Static files of the app shell, cached by the service worker for use without signal.
SHELL_STATIC = (
    "civicgrid/css/app.css",
    "mobile/mobile.css",
    "mobile/app.js",
    "vendor/leaflet/leaflet.js",
    "vendor/leaflet/leaflet.css",
    "mobile/icon.svg",
    "diary/diary.css",
    "diary/mobile.js",
)
#: The pages kept on the phone when the app is installed, so that each opens without signal even if
#: it was never opened with signal: report an event, my tasks, record a visit.
SHELL_PAGES = ("mobile:report", "mobile:tasks", "diary_mobile:new")


def _clean_key(raw) -> str:
    """The idempotency key of a queued item: a UUID made on the phone."""
    try:
        return str(uuid.UUID(str(raw or "").strip()))
    except ValueError:
        raise ValidationError({"key": _("Missing or malformed idempotency key (a UUID).")})


def _errors(exc: ValidationError) -> dict:
    if hasattr(exc, "error_dict"):
        return {field: [str(m) for m in msgs] for field, msgs in exc.message_dict.items()}
    return {"detail": [str(m) for m in exc.messages]}


def _bad(exc: ValidationError) -> JsonResponse:
    errors = _errors(exc)
    detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items())
    return JsonResponse({"detail": detail, "errors": errors, "code": "invalid"}, status=400)


def _photos(request):
    photos = request.FILES.getlist("photos")
    if len(photos) > MAX_PHOTOS:
        raise ValidationError({"photos": _("At most %(n)d photos.") % {"n": MAX_PHOTOS}})
    return photos


def _strings() -> dict:
    """The app's messages, translated here and passed to the JavaScript."""
    return {
        "waiting": _("%(n)s waiting to send"),
        "allSent": _("Everything is sent."),
        "offline": _("No signal: saved on this phone, sent when the signal returns."),
        "sending": _("Sending…"),
        "queued": _("Saved on this phone; it is sent as soon as there is signal."),
        "sent": _("Sent: case %(number)s."),
        "already": _("Already recorded: case %(number)s."),
        "failed": _("Not accepted: %(detail)s"),
        "retry": _("Sending failed; trying again later."),
        "signIn": _("Sign in again to send the waiting items."),
        "discard": _("Discard"),
        "discardConfirm": _("Discard this item? It will not be sent."),
        "locating": _("Locating…"),
        "noGeo": _("This phone does not share its location: drag the marker to the place."),
        "outside": _("This point is outside the city's grids."),
        "grid": _("Grid: %(name)s"),
        "compressing": _("Preparing photos…"),
        "photoNotImage": _("This file is not an image."),
        "chooseCategory": _("Choose a category."),
        "describe": _("Describe the problem."),
        "needLocation": _("Set the location on the map."),
        "sayWhy": _("Say what is still wrong."),
        "yes": _("Yes"),
        "no": _("No"),
        "report": _("Report"),
        "verify": pgettext("case", "Verification"),
    }


def _worker_grid(user):
    return Area.objects.filter(grid_worker=user).select_related("parent__parent").first()


class MobilePageMixin(StaffPageMixin):
    """A page of the phone app: the outbox indicator, translated strings and endpoints."""

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["app_config"] = {
            "strings": _strings(),
            "reportUrl": reverse("mobile:api_report"),
            "verifyUrl": reverse("mobile:api_verify"),
            "locateUrl": reverse("api:area-locate"),
            "swUrl": reverse("mobile:sw"),
            "tasksUrl": reverse("mobile:tasks"),
            "userId": self.request.user.pk,
        }
        return ctx


class MobileReportView(MobilePageMixin, TemplateView):
    """上报: category with its questions, description, photos, location on a small map."""

    template_name = "mobile/report.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        grid = _worker_grid(self.request.user)
        categories = []
        leaves = (
            Category.objects.filter(is_active=True, code__regex=r"^\d{4}$")
            .select_related("parent")
            .prefetch_related("questions")
            .order_by("kind", "code")
        )
        for cat in leaves:
            if cat.parent_id and not cat.parent.is_active:
                continue
            categories.append(
                {
                    "id": cat.pk,
                    "name": f"{cat.parent.name} · {cat.name}" if cat.parent_id else cat.name,
                    "kind": cat.get_kind_display(),
                    "public": cat.is_public,
                    "questions": [
                        {
                            "code": q.code,
                            "type": q.datatype,
                            "label": q.label,
                            "help": q.description,
                            "required": q.required,
                            "values": q.values,
                        }
                        for q in cat.questions.all()
                    ],
                }
            )
        ctx["app_config"].update(
            {
                "categories": categories,
                "grid": (
                    {
                        "name": grid.name,
                        "code": grid.code,
                        "geometry": grid.geometry,
                        "lat": grid.centre_lat,
                        "lng": grid.centre_lng,
                    }
                    if grid
                    else None
                ),
            }
        )
        ctx["grid"] = grid
        return ctx


class MobileTasksView(MobilePageMixin, TemplateView):
    """我的任务: handled cases to verify in my grid, verification checks, deadline warnings."""

    template_name = "mobile/tasks.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        user = self.request.user
        now = timezone.now()
        ctx["grid"] = _worker_grid(user)
        ctx["to_verify"] = list(
            Case.objects.visible_to(user, "verify")
            .filter(status=Status.HANDLED)
            .select_related("category")
            .order_by("due_at", "id")[:50]
        )
        warnings = list(
            Case.objects.visible_to(user, "view")
            .filter(status__in=services.ACTIVE, warn_at__lte=now)
            .select_related("category")
            .order_by("due_at", "id")[:50]
        )
        for case in warnings:
            case.light = "red" if case.due_at and case.due_at <= now else "yellow"
        ctx["warnings"] = warnings
        ctx["checks_count"] = None
        if user.has_perm("registry.change_verificationcheck"):
            from civicgrid.registry.verification import my_checks

            ctx["checks_count"] = my_checks(user).count()
        return ctx


class MobileVerifyView(MobilePageMixin, TemplateView):
    """核查: pass or fail a handled case on site, with photos; queued like a report."""

    template_name = "mobile/verify.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        case = get_object_or_404(
            Case.objects.visible_to(self.request.user, "verify").select_related("category", "area"),
            pk=kwargs["pk"],
        )
        ctx["case"] = case
        ctx["can_verify"] = case.status == Status.HANDLED
        ctx["app_config"]["caseId"] = case.pk
        return ctx


class _ApiView(View):
    """A JSON endpoint of the app: session auth with CSRF; 401 when signed out (the phone keeps the
    item and asks the worker to sign in again), 403 without a post."""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return JsonResponse({"detail": _("Sign in again."), "code": "not_authenticated"}, status=401)
        from civicgrid.accounts.selectors import has_any_post

        if not has_any_post(request.user):
            return JsonResponse({"detail": _("Your account holds no post."), "code": "forbidden"}, status=403)
        try:
            return super().dispatch(request, *args, **kwargs)
        except ValidationError as exc:
            return _bad(exc)
        except PermissionDenied as exc:
            return JsonResponse({"detail": str(exc) or _("Not allowed."), "code": "forbidden"}, status=403)
        except ConflictError as exc:
            return JsonResponse({"detail": exc.message, "code": exc.code}, status=409)


class ReportApiView(_ApiView):
    """POST /m/api/reports/ (multipart): key, category, description, lat, lng, answers (a JSON
    object), photos. 201 with the new case; 200 with the same case when the key was seen."""

    def post(self, request):
        user = request.user
        data = request.POST
        key = _clean_key(data.get("key"))
        source = f"user:{user.pk}"
        existing = Case.objects.filter(source=source, idempotency_key=key).first()
        if existing is not None:
            return self._answer(existing, created=False)
        try:
            category = Category.objects.filter(pk=int(data.get("category") or 0), is_active=True).first()
        except (TypeError, ValueError):
            category = None
        if category is None:
            raise ValidationError({"category": _("Choose an active category.")})
        try:
            answers = json.loads(data.get("answers") or "{}")
        except ValueError:
            answers = None
        if not isinstance(answers, dict):
            raise ValidationError({"answers": _("The answers must be a JSON object.")})
        case, created = services.case_report(
            actor=user,
            category=category,
            description=data.get("description", ""),
            channel=Channel.GRID_WORKER,
            lat=data.get("lat") or None,
            lng=data.get("lng") or None,
            address=data.get("address", ""),
            answers=answers,
            source=source,
            idempotency_key=key,
            photos=_photos(request),
        )
        return self._answer(case, created=created)

    @staticmethod
    def _answer(case, *, created):
        body = {
            "id": case.pk,
            "number": case.number,
            "status": case.status,
            "created": created,
            "detail": (_("Reported: case %(n)s.") if created else _("Already recorded: case %(n)s."))
            % {"n": case.number},
        }
        return JsonResponse(body, status=201 if created else 200)


class VerifyApiView(_ApiView):
    """POST /m/api/verify/ (multipart): key, case, passed (1/0), note, photos. The key is kept in
    the verification event's data, so a replay answers 200 "already recorded"."""

    def post(self, request):
        user = request.user
        data = request.POST
        key = _clean_key(data.get("key"))
        try:
            case_id = int(data.get("case") or 0)
        except (TypeError, ValueError):
            case_id = 0
        case = Case.objects.visible_to(user, "verify").filter(pk=case_id).first()
        if case is None:
            return JsonResponse({"detail": _("No such case."), "code": "not_found"}, status=404)
        if self._applied(case, user, key):
            return self._answer(case, created=False)
        passed = str(data.get("passed", "")).lower()
        if passed not in ("1", "0", "true", "false"):
            raise ValidationError({"passed": _("Say whether the case passed verification.")})
        photos = _photos(request)
        try:
            with transaction.atomic():
                case = services.case_verify(
                    case=case,
                    actor=user,
                    passed=passed in ("1", "true"),
                    note=data.get("note", ""),
                    photos=photos,
                    idempotency_key=key,
                )
        except ConflictError:
            if self._applied(case, user, key):  # the same item raced itself
                return self._answer(case, created=False)
            raise
        return self._answer(case, created=True)

    @staticmethod
    def _applied(case, user, key) -> bool:
        return CaseEvent.objects.filter(case=case, actor=user, data__idempotency_key=key).exists()

    @staticmethod
    def _answer(case, *, created):
        case.refresh_from_db(fields=["status"])
        body = {
            "id": case.pk,
            "number": case.number,
            "status": case.status,
            "created": created,
            "detail": (
                _("Verification recorded: case %(n)s.") if created else _("Already recorded: case %(n)s.")
            )
            % {"n": case.number},
        }
        return JsonResponse(body, status=201 if created else 200)


@never_cache
def service_worker(request):
    """The service worker at /m/sw.js (scope /m/), with the shell's URLs (hashed in production)."""
    path = finders.find("mobile/sw.js")
    if path is None:
        raise Http404
    with open(path, encoding="utf-8") as fh:
        body = fh.read()
    shell = [
        *(reverse(name) for name in SHELL_PAGES),
        reverse("mobile:manifest"),
        *(staticfiles_storage.url(name) for name in SHELL_STATIC),
    ]
    # A new version (new hashed static names or a new worker script) replaces the cached shell.
    version = hashlib.sha256(json.dumps([shell, body]).encode()).hexdigest()[:16]
    head = f"const SHELL = {json.dumps(shell)};\nconst VERSION = {json.dumps(version)};\n"
    response = HttpResponse(head + body, content_type="application/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = reverse("mobile:home")
    return response


def manifest(request):
    """The web app manifest: installable, opening on the report page."""
    body = {
        "name": _("CivicGrid grid worker"),
        "short_name": _("Grid worker"),
        "start_url": reverse("mobile:tasks"),
        "scope": reverse("mobile:home"),
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#b71c1c",
        "icons": [
            {"src": staticfiles_storage.url("mobile/icon.svg"), "sizes": "any", "type": "image/svg+xml"}
        ],
    }
    return JsonResponse(
        body, content_type="application/manifest+json", json_dumps_params={"ensure_ascii": False}
    )
