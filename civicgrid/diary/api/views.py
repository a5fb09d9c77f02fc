"""Diary API under ``/api/v1/diary/records/``.

Scope is applied by ``ScopedViewSetMixin``: every record is read ``visible_to(user, action)``, so a
record out of scope answers 404 like a missing one. Writes go through the services, which check
that the caller is the author (changes, voiding), refuse a stale ``expected_version`` with 409, and
name the field of a bad value (400). ``POST`` with an ``Idempotency-Key`` header is safe to retry:
the same author and key return the first record (200)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from civicgrid.core.api.renderers import PassthroughRenderer
from civicgrid.core.api.views import ScopedViewSetMixin
from civicgrid.core.files import private_file_response

from .. import selectors, services
from ..forms import RecordFilterForm
from ..models import DiaryRecord
from . import serializers as s

#: Query parameters of the list, with what they mean (the page's filters).
PARAMETERS = [
    ("q", "words of the summary or the place"),
    ("kind", "kind of record"),
    ("area", "id of an area in your scope: its records and those below"),
    ("date_from", "happened on or after this day (YYYY-MM-DD)"),
    ("date_to", "happened on or before this day (YYYY-MM-DD)"),
    ("author", "username, or the start of the author's name"),
    ("mine", "true: only the caller's records"),
    ("person", "id of a person: records naming them, listing them as attending, or naming their household"),
    ("household", "id of a household"),
    ("follow_up", "yes / no"),
    ("has_case", "yes / no: whether the record became a case"),
    ("voided", "true: include voided records"),
]


def _multipart_lists(data) -> dict:
    """A multipart body's repeated keys (``people=1&people=2``, or ``people=1,2``) as lists."""
    if not hasattr(data, "getlist"):
        return data
    out = {}
    list_fields = {*selectors.LINK_FIELDS, "photos", "remove_photos"}
    nullable = {"lat", "lng", "area", "occurred_at", "expected_version", "category"}
    for key in data:
        values = data.getlist(key)
        if key in list_fields:
            flat = []
            for value in values:
                if isinstance(value, str):
                    flat.extend(p for p in value.replace("，", ",").split(",") if p.strip())
                else:
                    flat.append(value)
            out[key] = flat
        else:
            out[key] = values[-1]
            if key in nullable and out[key] == "":
                out[key] = None
    return out


class RecordViewSet(
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Diary records in the caller's scope, newest first. ``POST`` records one (grid workers and
    community staff); ``PATCH`` corrects one's own; ``/{id}/void/`` withdraws one's own with a
    reason; ``/{id}/to-case/`` turns a record into a case (once)."""

    queryset = DiaryRecord.objects.all()
    serializer_class = s.RecordSerializer
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "patch", "head", "options"]
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    filter_backends: list = []
    action_permissions = {"void": "delete", "to_case": "case", "photo": "view"}

    def get_queryset(self):
        qs = super().get_queryset()
        if self.action in ("list", "retrieve"):
            qs = selectors.with_links(qs).order_by("-id")
        return qs

    def _filtered(self, qs):
        form = RecordFilterForm(self.request.query_params, user=self.request.user)
        if not form.is_valid():
            raise serializers.ValidationError({k: list(v) for k, v in form.errors.items()})
        return selectors.filter_records(qs, form.cleaned_data, user=self.request.user)

    @extend_schema(
        parameters=[
            OpenApiParameter(name, str, OpenApiParameter.QUERY, description=d) for name, d in PARAMETERS
        ]
    )
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self._filtered(self.get_queryset()))
        return self.get_paginated_response(s.RecordSerializer(page, many=True).data)

    def _fresh(self, pk: int, status_code: int = 200) -> Response:
        record = selectors.with_links(DiaryRecord.objects.all()).get(pk=pk)
        return Response(s.RecordSerializer(record).data, status=status_code)

    def _body(self, serializer_class, **kwargs) -> dict:
        body = serializer_class(
            data=_multipart_lists(self.request.data), context=self.get_serializer_context(), **kwargs
        )
        body.is_valid(raise_exception=True)
        return dict(body.validated_data)

    @extend_schema(
        request={"application/json": s.RecordWriteSerializer, "multipart/form-data": s.RecordWriteSerializer},
        responses={201: s.RecordSerializer, 200: s.RecordSerializer},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="A retry by the same author with the same key returns the first record (200).",
            )
        ],
    )
    def create(self, request, *args, **kwargs):
        key = (request.headers.get("Idempotency-Key") or "").strip()
        if len(key) > 100:
            raise serializers.ValidationError({"Idempotency-Key": [_("At most 100 characters.")]})
        if key:
            existing = selectors.record_by_key(request.user, key)
            if existing is not None:  # a replay: answer before checking the body again
                return self._fresh(existing.pk)
        data = self._body(s.RecordWriteSerializer)
        with transaction.atomic():
            record, created = services.record_create(actor=request.user, idempotency_key=key, **data)
        return self._fresh(record.pk, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        request={
            "application/json": s.RecordUpdateSerializer,
            "multipart/form-data": s.RecordUpdateSerializer,
        },
        responses=s.RecordSerializer,
    )
    def partial_update(self, request, *args, **kwargs):
        record = self.get_object()
        data = self._body(s.RecordUpdateSerializer)
        expected = data.pop("expected_version", None)
        add = data.pop("photos", [])
        remove = data.pop("remove_photos", [])
        services.record_update(
            actor=request.user,
            record=record,
            expected_version=expected,
            add_photos=add,
            remove_photos=remove,
            **data,
        )
        return self._fresh(record.pk)

    @extend_schema(request=s.VoidSerializer, responses=s.RecordSerializer)
    @action(detail=True, methods=["post"])
    def void(self, request, pk=None):
        """Withdraw one's own record, saying why (it stays, marked void)."""
        record = self.get_object()
        data = self._body(s.VoidSerializer)
        services.record_void(actor=request.user, record=record, **data)
        return self._fresh(record.pk)

    @extend_schema(
        request=s.ToCaseSerializer,
        responses={201: s.ToCaseResultSerializer, 409: s.ToCaseResultSerializer},
    )
    @action(detail=True, methods=["post"], url_path="to-case", url_name="to-case")
    def to_case(self, request, pk=None):
        """Make a case of the record (its text, place and photos) through the cases' intake. A record
        that already became a case answers 409 with that case (``code`` "already_case")."""
        record = self.get_object()
        data = self._body(s.ToCaseSerializer)
        try:
            case = services.record_to_case(
                actor=request.user,
                record=record,
                category=data.get("category"),
                answers=data.get("answers") or {},
                urgency=data.get("urgency", ""),
            )
        except services.RecordAlreadyCase as exc:
            body = self._result(record.pk, exc.case, created=False)
            body.update(detail=exc.message, code=exc.code)
            return Response(body, status=status.HTTP_409_CONFLICT)
        except DjangoValidationError as exc:
            raise _case_errors(exc)
        return Response(self._result(record.pk, case, created=True), status=status.HTTP_201_CREATED)

    def _result(self, record_pk: int, case, *, created: bool) -> dict:
        record = selectors.with_links(DiaryRecord.objects.all()).get(pk=record_pk)
        return {
            "record": s.RecordSerializer(record).data,
            "case": {
                "id": case.pk,
                "number": case.number,
                "status": case.status,
                "url": reverse("api:case-detail", args=[case.pk]),
            },
            "created": created,
        }

    @extend_schema(responses={(200, "*/*"): bytes})
    @action(
        detail=True,
        methods=["get"],
        url_path=r"photos/(?P<photo_id>\d+)",
        url_name="photo",
        renderer_classes=[JSONRenderer, PassthroughRenderer],
    )
    def photo(self, request, pk=None, photo_id=None):
        """One photo of the record (only through its record: never a public URL)."""
        record = self.get_object()
        photo = record.photos.filter(pk=int(photo_id)).first()
        if photo is None:
            raise Http404
        return private_file_response(photo.image)


def _case_errors(exc: DjangoValidationError) -> serializers.ValidationError:
    """The case intake's errors in the API's names (questions as ``answers.<code>``)."""
    if not hasattr(exc, "error_dict"):
        return serializers.ValidationError({"non_field_errors": exc.messages})
    out: dict = {}
    answers: dict = {}
    for key, errors in exc.message_dict.items():
        if key.startswith("attribute[") and key.endswith("]"):
            answers[key[len("attribute[") : -1]] = errors
        else:
            out[key] = errors
    if answers:
        out["answers"] = answers
    return serializers.ValidationError(out)
