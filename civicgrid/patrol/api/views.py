"""Work-trajectory API under ``/api/v1/patrol/``.

``me/…`` is the phone's: the caller's own consent, shifts and point uploads (nobody reaches another
worker's shift through it: a foreign id answers 404). The rest is for officials and is scoped like
every list: shifts and consents ``visible_to`` the caller, a worker's day only when the worker is in
the caller's area (each read written to the access log), coverage of the grids in scope."""

from __future__ import annotations

from datetime import date

from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, generics, mixins, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from civicgrid.areas.models import Area
from civicgrid.core.api.views import ScopedViewSetMixin
from civicgrid.core.audit import log_access
from civicgrid.core.models.audit import AccessKind

from .. import coverage, selectors, services
from ..models import ConsentText, PatrolShift, TrackingConsent
from . import serializers as s

RECORD = services.RECORD_PERM


def _client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _parse_day(raw: str, field: str = "date") -> date:
    try:
        return date.fromisoformat(raw)
    except (TypeError, ValueError):
        raise exceptions.ValidationError({field: [_("Give a date as YYYY-MM-DD.")]})


def _parse_month(raw: str | None) -> date:
    if not raw:
        return selectors.month_start(timezone.localdate())
    try:
        return date.fromisoformat(f"{raw}-01")
    except ValueError:
        raise exceptions.ValidationError({"month": [_("Give a month as YYYY-MM.")]})


def _iso(when) -> str | None:
    return timezone.localtime(when).isoformat() if when else None


def shift_data(shift: PatrolShift | None) -> dict | None:
    if shift is None:
        return None
    return {
        "id": shift.pk,
        "started_at": _iso(shift.started_at),
        "ended_at": _iso(shift.ended_at),
        "end_reason": shift.end_reason,
        "point_count": shift.point_count,
        "rejected_count": shift.rejected_count,
        "distance_m": round(shift.distance_m),
        "last_point_at": _iso(shift.last_point_at),
    }


def state_of(user) -> dict:
    """What the phone needs to know: may this user record, consent, the running shift, today."""
    consent = selectors.consent_state(user)
    text = consent.pop("text")
    grid = selectors.worker_grid(user)
    today = selectors.own_day(user)
    return {
        "can_record": user.has_perm(RECORD) and grid is not None,
        "grid": {"id": grid.pk, "code": grid.code, "name": grid.name} if grid else None,
        "consent": {
            "in_force": consent["in_force"],
            "current": consent["current"],
            "version": consent["version"],
            "given_at": _iso(consent["given_at"]),
        },
        "text": {"version": text.version, "title": text.title, "body": text.body} if text else None,
        "shift": shift_data(selectors.open_shift(user)),
        "today": {**today, "day": today["day"].isoformat()},
    }


class _OwnView(APIView):
    """The phone's endpoints: signed in with a post (and the agreement accepted); writes need
    ``patrol.record_track`` except withdrawing consent."""

    record_required = True

    def required_permission(self, request):
        if request.method in ("GET", "HEAD", "OPTIONS") or not self.record_required:
            return None
        return RECORD


class MyStateView(_OwnView):
    """The caller's consent, running shift and today's totals."""

    @extend_schema(responses=dict)
    def get(self, request):
        return Response(state_of(request.user))


class ConsentGiveView(_OwnView):
    """Agree to the current consent text (``version`` as read): 201 new, 200 already in force;
    409 ``stale_consent_text`` when a newer text was published in between."""

    @extend_schema(request=s.ConsentGiveSerializer, responses=dict)
    def post(self, request):
        body = s.ConsentGiveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        _consent, created = services.consent_give(
            actor=request.user, version=body.validated_data["version"], ip=_client_ip(request)
        )
        return Response(state_of(request.user), status=201 if created else 200)


class ConsentWithdrawView(_OwnView):
    """Withdraw consent: the running shift ends now and later points are refused."""

    record_required = False

    @extend_schema(request=None, responses=dict)
    def post(self, request):
        services.consent_withdraw(actor=request.user, ip=_client_ip(request))
        return Response(state_of(request.user))


class MyShiftsView(_OwnView):
    """``GET``: the caller's shifts, newest first. ``POST``: start duty (201; 200 with the running
    shift when a shift is already open or the ``key`` was seen); 409 ``consent_required``."""

    @extend_schema(responses=s.ShiftSerializer(many=True))
    def get(self, request):
        qs = (
            PatrolShift.objects.filter(worker=request.user)
            .select_related("worker", "area")
            .order_by("-started_at")
        )
        paginator = generics.GenericAPIView.pagination_class()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(s.ShiftSerializer(page, many=True).data)

    @extend_schema(request=s.ShiftStartSerializer, responses=dict)
    def post(self, request):
        body = s.ShiftStartSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        key = body.validated_data.get("key")
        shift, created = services.shift_start(actor=request.user, key=str(key) if key else "")
        return Response(shift_data(shift), status=201 if created else 200)


def _own_shift(request, pk) -> PatrolShift:
    return get_object_or_404(PatrolShift.objects.filter(worker=request.user), pk=pk)


class MyShiftEndView(_OwnView):
    """End duty (an ended shift answers as it is)."""

    @extend_schema(request=s.ShiftEndSerializer, responses=dict)
    def post(self, request, pk):
        shift = _own_shift(request, pk)
        body = s.ShiftEndSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        shift = services.shift_end(
            actor=request.user, shift=shift, ended_at=body.validated_data.get("ended_at")
        )
        return Response(shift_data(shift))


class MyPointsView(_OwnView):
    """Upload a batch of points of the caller's shift: ``{"key": uuid, "points": [{"t", "lat", "lng",
    "acc", "speed"}, …]}`` (at most 1,000). 201 with the counts; 200 with the first answer when the
    key was seen. Points outside the shift are refused (counted, not stored)."""

    @extend_schema(request=s.BatchSerializer, responses=s.UploadResultSerializer)
    def post(self, request, pk):
        shift = _own_shift(request, pk)
        body = s.BatchSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        points = [
            services.point_from_ms(p["t"], p["lat"], p["lng"], p["acc"], p.get("speed"))
            for p in data["points"]
        ]
        result = services.points_upload(actor=request.user, shift=shift, key=str(data["key"]), points=points)
        batch = result.batch
        return Response(
            {
                "batch": str(batch.key),
                "created": result.created,
                "received": batch.received,
                "accepted": batch.accepted,
                "duplicates": batch.duplicates,
                "rejected": batch.rejected,
                "shift": shift_data(result.shift),
            },
            status=201 if result.created else 200,
        )


# ---- officials ---------------------------------------------------------------------------------------


class ShiftViewSet(
    ScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Shifts in the caller's scope, newest first. Filters: ``worker`` (user id), ``date``
    (YYYY-MM-DD: shifts running that day), ``area`` (an area id: its grids), ``open`` (true)."""

    queryset = PatrolShift.objects.select_related("worker", "area").order_by("-id")
    serializer_class = s.ShiftSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("worker", int),
            OpenApiParameter("date", str, description="YYYY-MM-DD"),
            OpenApiParameter("area", int),
            OpenApiParameter("open", bool),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        qs = super().get_queryset()
        if self.action != "list":
            return qs
        params = self.request.query_params
        if params.get("worker"):
            try:
                qs = qs.filter(worker_id=int(params["worker"]))
            except ValueError:
                raise exceptions.ValidationError({"worker": [_("Give a user id.")]})
        if params.get("date"):
            start, end = selectors.day_bounds(_parse_day(params["date"]))
            qs = selectors.overlapping(qs, start, end)
        if params.get("area"):
            area = (
                Area.objects.visible_to(self.request.user).filter(pk=params["area"]).first()
                if params["area"].isdigit()
                else None
            )
            if area is None:
                raise exceptions.ValidationError({"area": [_("No such area in your scope.")]})
            qs = qs.in_area(area.scope_code)
        if str(params.get("open", "")).lower() in ("1", "true"):
            qs = qs.filter(ended_at__isnull=True)
        return qs


class ConsentViewSet(
    ScopedViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Tracking consents in the caller's scope (given, withdrawn, replaced), newest first.
    ``?worker=`` narrows to one worker, ``?in_force=true`` to those in force."""

    queryset = TrackingConsent.objects.select_related("worker", "text", "area").order_by("-id")
    serializer_class = s.ConsentRecordSerializer

    def get_queryset(self):
        qs = super().get_queryset()
        params = self.request.query_params
        if self.action == "list":
            if params.get("worker", "").isdigit():
                qs = qs.filter(worker_id=int(params["worker"]))
            if str(params.get("in_force", "")).lower() in ("1", "true"):
                qs = qs.filter(withdrawn_at__isnull=True)
        return qs


class WorkerDayView(APIView):
    """A worker's day: the track as simplified polylines (``tolerance`` metres, default 4; ``raw=1``
    adds every kept point with its time), distance, time on duty, shifts and places visited. 404
    when the worker is outside the caller's area. Every read is written to the access log."""

    def required_permission(self, request):
        return selectors.VIEW_SHIFT

    @extend_schema(
        parameters=[OpenApiParameter("tolerance", float), OpenApiParameter("raw", bool)], responses=dict
    )
    def get(self, request, pk, day):
        from django.contrib.auth import get_user_model

        worker = get_user_model().objects.filter(pk=pk).first()
        if worker is None or not selectors.worker_in_scope(request.user, worker):
            raise exceptions.NotFound()
        the_day = _parse_day(day)
        tolerance = None
        if request.query_params.get("tolerance"):
            try:
                tolerance = max(0.0, min(100.0, float(request.query_params["tolerance"])))
            except ValueError:
                raise exceptions.ValidationError({"tolerance": [_("Give a number of metres.")]})
        raw = str(request.query_params.get("raw", "")).lower() in ("1", "true")
        data = selectors.worker_day(request.user, worker, the_day, tolerance_m=tolerance, raw=raw)
        log_access(
            AccessKind.SENSITIVE_READ,
            obj=worker,
            reason="patrol track",
            detail={"date": the_day.isoformat(), "shifts": [sh.pk for sh in data.shifts], "via": "api"},
        )
        return Response(data.as_dict())


class CoverageView(APIView):
    """Building coverage in a month (``month`` YYYY-MM, default this month). With ``grid`` (an area
    id): that grid's buildings with whether, by whom and how each was visited, and per worker.
    Without: the grids in the caller's scope (``area`` narrows to a street or community), each with
    its count of buildings, visited and the percentage, paginated."""

    def required_permission(self, request):
        return selectors.VIEW_VISIT

    @extend_schema(
        parameters=[
            OpenApiParameter("grid", int),
            OpenApiParameter("area", int),
            OpenApiParameter("month", str),
        ],
        responses=dict,
    )
    def get(self, request):
        first = _parse_month(request.query_params.get("month"))
        grids = selectors.grids_in_scope(request.user, selectors.VIEW_VISIT)
        params = request.query_params
        if params.get("grid"):
            grid = grids.filter(pk=params["grid"]).first() if params["grid"].isdigit() else None
            if grid is None:
                raise exceptions.NotFound()
            return Response(coverage.grid_coverage(grid, first).as_dict())
        if params.get("area"):
            area = (
                Area.objects.visible_to(request.user).filter(pk=params["area"]).first()
                if params["area"].isdigit()
                else None
            )
            if area is None:
                raise exceptions.ValidationError({"area": [_("No such area in your scope.")]})
            grids = grids.in_area(area.scope_code)
        paginator = generics.GenericAPIView.pagination_class()
        page = paginator.paginate_queryset(grids.select_related("grid_worker"), request, view=self)
        totals = coverage.summary(page, first)
        return paginator.get_paginated_response(
            [
                {
                    "grid": {"id": g.pk, "code": g.code, "name": g.name},
                    "worker": {"id": g.grid_worker_id, "name": str(g.grid_worker)}
                    if g.grid_worker_id
                    else None,
                    "month": first.strftime("%Y-%m"),
                    **totals[g.pk],
                }
                for g in page
            ]
        )


class ConsentTextViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """The versions of the tracking consent text, newest first. ``POST`` publishes a new version
    (``patrol.add_consenttext``): it becomes current, and every worker agrees to it before their
    next shift."""

    queryset = ConsentText.objects.order_by("-published_at", "-id")
    serializer_class = s.ConsentTextSerializer

    def required_permission(self, request):
        return "patrol.add_consenttext" if request.method == "POST" else "patrol.view_consenttext"

    def perform_create(self, serializer):
        serializer.instance = services.consent_text_publish(
            actor=self.request.user, **serializer.validated_data
        )
