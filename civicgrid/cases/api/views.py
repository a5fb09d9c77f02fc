"""Event-handling API under ``/api/v1/cases/``.

Scope is applied by ``ScopedViewSetMixin``: every case is read ``visible_to(user, action)`` with the
action of the step asked for (``action_permissions``), so a case the caller may not act on answers
404 like a missing one. The services decide the rest — state, handling level, who may rate — and
their refusals come back as 403 (not allowed), 409 (stale ``expected_version``, or a step the case's
state does not allow now) or 400 naming the field."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from civicgrid.accounts.choices import UserType
from civicgrid.accounts.models import Post
from civicgrid.areas.models import Area
from civicgrid.core.api.renderers import PassthroughRenderer
from civicgrid.core.api.views import ScopedViewSetMixin
from civicgrid.core.files import private_file_response
from civicgrid.core.services import ConflictError, ensure_in_scope

from .. import selectors, services, statistics, triage
from ..actions import ACTIONS, available_actions_bulk
from ..choices import Channel, Status
from ..models import Case, CaseDeadline, Category, DeadlinePolicy, Department
from . import serializers as s
from .filters import CaseFilterBackend

VIEW_PERM = "cases.view_case"
HANDLE_PERM = "cases.handle_case"
#: Reads that department handlers (``cases.handle_case`` without ``cases.view_case``) may make on
#: their unit's cases.
UNIT_READS = {"list", "retrieve", "timeline", "deadlines", "photo", "comment"}
#: Service errors named after the service's arguments, renamed to the API's fields.
REPORT_FIELDS = {"phone": "reporter_phone", "address_string": "address"}


def _step_scope(name: str) -> str:
    return ACTIONS[name].scope_action


def reporting_channel(user, requested: str) -> str:
    """Residents report as residents; grid workers as grid workers and other staff as "staff",
    unless they name the channel the report came in by."""
    if getattr(user, "user_type", "") == UserType.RESIDENT:
        return Channel.RESIDENT
    if requested:
        return requested
    if Post.objects.filter(user=user, is_active=True, role__code="grid_worker").exists():
        return Channel.GRID_WORKER
    return Channel.STAFF


def _report_errors(exc: DjangoValidationError) -> serializers.ValidationError:
    """The report service's errors in the API's field names (answers as ``answers.<code>``)."""
    if not hasattr(exc, "error_dict"):
        return serializers.ValidationError({"non_field_errors": exc.messages})
    out: dict = {}
    answers: dict = {}
    for key, errors in exc.message_dict.items():
        if key.startswith("attribute[") and key.endswith("]"):
            answers[key[len("attribute[") : -1]] = errors
        else:
            out[REPORT_FIELDS.get(key, key)] = errors
    if answers:
        out["answers"] = answers
    return serializers.ValidationError(out)


class CaseViewSet(
    ScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Cases in the caller's scope (department handlers: their unit's cases). ``POST`` reports one;
    each step of the loop is a ``POST`` to ``/{id}/<step>/`` with the case's ``expected_version``."""

    queryset = Case.objects.all()
    serializer_class = s.CaseSerializer
    filter_backends = [CaseFilterBackend]
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "head", "options"]
    action_permissions = {
        **{name: _step_scope(name) for name in ACTIONS},
        "dispatch_case": _step_scope("dispatch"),
        "return_case": _step_scope("return"),
        # The reporter rates their own case; the service lets staff who record cases enter a
        # follow-up call's rating too.
        "rate": "view",
        "timeline": "view",
        "deadlines": "view",
        "photo": "view",
        "triage": "record",
        "statistics": "view",
    }

    # ---- scope and permissions -----------------------------------------------------------------

    def required_permission(self, request):
        user = request.user
        if self.action in UNIT_READS and not user.has_perm(VIEW_PERM) and user.has_perm(HANDLE_PERM):
            return HANDLE_PERM  # their unit's cases (``Case.objects.visible_to``)
        return super().required_permission(request)

    def get_queryset(self):
        qs = super().get_queryset()
        if self.action in ("list", "retrieve"):
            qs = (
                qs.select_related("category__parent", "department", "area")
                .prefetch_related("assisting_departments")
                .with_light()
                .order_by("-id")
            )
        return qs

    def _public_only(self) -> bool:
        """Residents follow their reports: they see the public steps, not who took them."""
        return getattr(self.request.user, "user_type", "") == UserType.RESIDENT

    # ---- reading -------------------------------------------------------------------------------

    def _context(self, cases) -> dict:
        return {**self.get_serializer_context(), "actions": available_actions_bulk(cases, self.request.user)}

    def list(self, request, *args, **kwargs):
        page = list(self.paginate_queryset(self.filter_queryset(self.get_queryset())))
        data = s.CaseSerializer(page, many=True, context=self._context(page)).data
        return self.get_paginated_response(data)

    @extend_schema(responses=s.CaseDetailSerializer)
    def retrieve(self, request, *args, **kwargs):
        case = self.get_object()
        return Response(self._detail(case))

    def _photos(self, case: Case):
        photos = case.photos.select_related("event").order_by("id")
        if self._public_only():
            photos = [p for p in photos if p.event is None or p.event.is_public]
        return photos

    def _detail(self, case: Case) -> dict:
        ctx = {**self._context([case]), "photos": self._photos(case)}
        return s.CaseDetailSerializer(case, context=ctx).data

    def _fresh(self, pk: int) -> Response:
        """The case after a step, as the caller now sees it (re-read: the step changed it; a unit
        that returned a case still gets its answer)."""
        case = (
            Case.objects.select_related("category__parent", "department", "area")
            .prefetch_related("assisting_departments")
            .with_light()
            .get(pk=pk)
        )
        return Response(self._detail(case))

    @extend_schema(responses=s.EventSerializer(many=True))
    @action(detail=True, methods=["get"])
    def timeline(self, request, pk=None):
        """The case's steps, oldest first (residents: the public ones)."""
        case = self.get_object()
        public_only = self._public_only()
        events = selectors.timeline(case, public_only=public_only)
        return Response(s.EventSerializer(events, many=True, context={"public_only": public_only}).data)

    @extend_schema(responses=s.DeadlineSerializer(many=True))
    @action(detail=True, methods=["get"])
    def deadlines(self, request, pk=None):
        """Every clock the case ran: stage, due time, and whether it was met."""
        case = self.get_object()
        rows = CaseDeadline.objects.filter(case=case).select_related("department", "policy").order_by("id")
        return Response(s.DeadlineSerializer(rows, many=True).data)

    @extend_schema(responses={(200, "*/*"): bytes})
    @action(
        detail=True,
        methods=["get"],
        url_path=r"photos/(?P<photo_id>\d+)",
        url_name="photo",
        renderer_classes=[JSONRenderer, PassthroughRenderer],
    )
    def photo(self, request, pk=None, photo_id=None):
        """One photo of the case (only through its case: a photo is never a public URL)."""
        case = self.get_object()
        photo = next((p for p in self._photos(case) if p.pk == int(photo_id)), None)
        if photo is None:
            raise Http404
        return private_file_response(photo.image)

    @extend_schema(responses=s.TriageSerializer(many=True))
    @action(detail=False, methods=["get"])
    def triage(self, request):
        """Reported cases waiting to be recorded (newest first), each with the suggested category
        and unit and the open cases nearby that it may duplicate."""
        qs = (
            self.get_queryset()
            .filter(status=Status.REPORTED)
            .select_related("category__parent", "department", "area")
            .prefetch_related("assisting_departments")
            .with_light()
            .order_by("-id")
        )
        page = list(self.paginate_queryset(qs))
        ctx = {
            **self._context(page),
            "hints": triage.suggestions(page),
            "duplicates": triage.duplicates(page, request.user),
        }
        return self.get_paginated_response(s.TriageSerializer(page, many=True, context=ctx).data)

    @extend_schema(parameters=[s.StatisticsQuerySerializer], responses={200: dict})
    @action(detail=False, methods=["get"])
    def statistics(self, request):
        """Cases by category, area, channel, status and light; on-time rate and satisfaction per
        unit and per child area (see ``civicgrid.cases.statistics``)."""
        query = s.StatisticsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        user = request.user
        if "area" in data:
            area = Area.objects.visible_to(user).filter(pk=data["area"]).first()
            if area is None:
                raise serializers.ValidationError({"area": [_("No such area in your scope.")]})
        else:
            area = statistics.default_area(user)
        period = statistics.make_period(data.get("start"), data.get("end"))
        return Response(statistics.case_statistics(user, area, period))

    # ---- reporting -----------------------------------------------------------------------------

    @extend_schema(
        request=s.CaseReportSerializer,
        responses={201: s.CaseDetailSerializer, 200: s.CaseDetailSerializer},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="A retry with the same key returns the case the first attempt made (200).",
            )
        ],
    )
    def create(self, request, *args, **kwargs):
        body = s.CaseReportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        user = request.user
        key = (request.headers.get("Idempotency-Key") or "").strip()
        if len(key) > 100:
            raise serializers.ValidationError({"Idempotency-Key": [_("At most 100 characters.")]})
        try:
            with transaction.atomic():
                case, created = services.case_report(
                    actor=user,
                    category=data["category"],
                    description=data["description"],
                    channel=reporting_channel(user, data["channel"]),
                    title=data["title"],
                    lat=data["lat"],
                    lng=data["lng"],
                    address=data["address"],
                    urgency=data["urgency"],
                    answers=data["answers"],
                    reporter_name=data["reporter_name"],
                    reporter_phone=data["reporter_phone"],
                    source=f"user:{user.pk}",
                    idempotency_key=key,
                    photos=data["photos"],
                    keep_photo_location=data["keep_photo_location"],
                )
                ensure_in_scope(case, user, "add")
        except DjangoValidationError as exc:
            raise _report_errors(exc)
        response = self._fresh(case.pk)
        response.status_code = 201 if created else 200
        return response

    # ---- the steps -----------------------------------------------------------------------------

    def _body(self, serializer_class) -> dict:
        body = serializer_class(data=self.request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        return dict(body.validated_data)

    def _step(self, serializer_class, service, **renamed) -> Response:
        case = self.get_object()
        data = self._body(serializer_class)
        for api_name, service_name in renamed.items():
            data[service_name] = data.pop(api_name)
        service(case=case, actor=self.request.user, **data)
        return self._fresh(case.pk)

    @extend_schema(request=s.RecordSerializer, responses=s.CaseDetailSerializer)
    @action(detail=True, methods=["post"])
    def record(self, request, pk=None):
        """立案: accept a report (optionally correcting its category and urgency)."""
        return self._step(s.RecordSerializer, services.case_record)

    @extend_schema(request=s.ReasonSerializer, responses=s.CaseDetailSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """不予受理: refuse a report, saying why."""
        return self._step(s.ReasonSerializer, services.case_reject)

    @extend_schema(request=s.MergeSerializer, responses=s.CaseDetailSerializer)
    @action(detail=True, methods=["post"])
    def merge(self, request, pk=None):
        """Merge a duplicate report into the case ``into`` that already covers it."""
        return self._step(s.MergeSerializer, services.case_merge)

    @extend_schema(request=s.DispatchSerializer, responses=s.CaseDetailSerializer)
    @action(detail=True, methods=["post"], url_path="dispatch", url_name="dispatch")
    def dispatch_case(self, request, pk=None):
        """派遣: send the case to a unit (a reported case is recorded on the way)."""
        return self._step(s.DispatchSerializer, services.case_dispatch)

    @extend_schema(request=s.ReasonSerializer, responses=s.CaseDetailSerializer)
    @action(detail=True, methods=["post"], url_path="return", url_name="return")
    def return_case(self, request, pk=None):
        """The unit sends the case back as not theirs."""
        return self._step(s.ReasonSerializer, services.case_return)

    @extend_schema(request=s.NoteSerializer, responses=s.CaseDetailSerializer)
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        """The unit starts handling a dispatched case."""
        return self._step(s.NoteSerializer, services.case_start)

    @extend_schema(request=s.HandleSerializer, responses=s.CaseDetailSerializer)
    @action(detail=True, methods=["post"])
    def handle(self, request, pk=None):
        """处置: the unit reports what it did (``multipart/form-data`` with ``photos``)."""
        return self._step(s.HandleSerializer, services.case_handle)

    @extend_schema(request=s.VerifySerializer, responses=s.CaseDetailSerializer)
    @action(detail=True, methods=["post"])
    def verify(self, request, pk=None):
        """核查: on-site check; ``passed`` false sends the case back to its unit."""
        return self._step(s.VerifySerializer, services.case_verify)

    @extend_schema(request=s.NoteSerializer, responses=s.CaseDetailSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        """结案: close a verified case."""
        return self._step(s.NoteSerializer, services.case_close)

    @extend_schema(request=s.RateSerializer, responses=s.CaseDetailSerializer)
    @action(detail=True, methods=["post"])
    def rate(self, request, pk=None):
        """评价: 1–5 stars for a closed case, or ``solved`` false with what is not solved (reopens it)."""
        case = self.get_object()
        data = self._body(s.RateSerializer)
        self._check_version(case, data.pop("expected_version"))
        services.case_rate(case=case, actor=request.user, **data)
        return self._fresh(case.pk)

    @extend_schema(request=s.ReasonSerializer, responses=s.CaseDetailSerializer)
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        """Reopen a closed case (a follow-up finds it unsolved)."""
        return self._step(s.ReasonSerializer, services.case_reopen)

    @extend_schema(request=s.ReasonSerializer, responses=s.CaseDetailSerializer)
    @action(detail=True, methods=["post"])
    def escalate(self, request, pk=None):
        """Pass the case up one level (community → street → district → city)."""
        return self._step(s.ReasonSerializer, services.case_escalate)

    @extend_schema(request=s.RequiredNoteSerializer, responses=s.CaseDetailSerializer)
    @action(detail=True, methods=["post"])
    def supervise(self, request, pk=None):
        """督办: press the unit on an open case."""
        return self._step(s.RequiredNoteSerializer, services.case_supervise)

    @extend_schema(request=s.CoordinateSerializer, responses=s.CaseDetailSerializer)
    @action(detail=True, methods=["post"])
    def coordinate(self, request, pk=None):
        """A lead unit and assisting units, as agreed at a joint meeting."""
        return self._step(s.CoordinateSerializer, services.case_coordinate)

    @extend_schema(request=s.ReasonSerializer, responses=s.CaseDetailSerializer)
    @action(detail=True, methods=["post"])
    def defer(self, request, pk=None):
        """Keep the case as a risk point, reviewed periodically."""
        return self._step(s.ReasonSerializer, services.case_defer)

    @extend_schema(request=s.ReviewSerializer, responses=s.CaseDetailSerializer)
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        """Periodic review of a risk point: keep it, or ``reactivate`` it."""
        return self._step(s.ReviewSerializer, services.case_review)

    @extend_schema(request=s.CommentSerializer, responses=s.CaseDetailSerializer)
    @action(detail=True, methods=["post"])
    def comment(self, request, pk=None):
        """A note on the timeline (staff only unless ``public``)."""
        case = self.get_object()
        data = self._body(s.CommentSerializer)
        self._check_version(case, data.pop("expected_version"))
        services.case_comment(case=case, actor=request.user, **data)
        return self._fresh(case.pk)

    @staticmethod
    def _check_version(case: Case, expected) -> None:
        """For the steps that do not change the case (rating, notes): a client that sends a stale
        version still learns that the case changed."""
        if expected is not None and expected != case.version:
            raise ConflictError(
                _("Somebody changed this case in the meantime (it is now %(status)s); reload and try again.")
                % {"status": case.get_status_display()}
            )


# ---- the rules (read-only) -------------------------------------------------------------------------


class CategoryViewSet(viewsets.ReadOnlyModelViewSet):
    """The category trees with their extra questions (what a report must answer)."""

    queryset = Category.objects.prefetch_related("questions").order_by("kind", "code")
    serializer_class = s.CategorySerializer
    filterset_fields = ["kind", "parent", "is_active", "is_public"]

    def required_permission(self, request):
        # Whoever may report needs the categories.
        return None if request.user.has_perm("cases.add_case") else "cases.view_category"


class DepartmentViewSet(viewsets.ReadOnlyModelViewSet):
    """The handling units (who a case can be dispatched to)."""

    queryset = Department.objects.select_related("area").order_by("level", "code")
    serializer_class = s.DepartmentSerializer
    filterset_fields = ["level", "function", "area", "is_active"]

    def required_permission(self, request):
        return "cases.view_department"


class DeadlinePolicyViewSet(viewsets.ReadOnlyModelViewSet):
    """The deadline rules: how long each stage may take, and what happens when it is overdue."""

    queryset = DeadlinePolicy.objects.select_related("category").order_by("stage", "-priority", "name")
    serializer_class = s.DeadlinePolicySerializer
    filterset_fields = ["stage", "category", "channel", "level", "is_active"]

    def required_permission(self, request):
        return "cases.view_deadlinepolicy"
