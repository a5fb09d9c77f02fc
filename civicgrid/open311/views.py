"""The GeoReport v2 methods (plain Django views: the endpoint speaks form-encoded POSTs and XML,
not the REST API's JSON). Every answer is in the format of the URL's extension; errors are the
spec's ``errors/error`` list with 400 (bad input), 403 (api_key), 404 (unknown resource)."""

from __future__ import annotations

import logging
from functools import wraps

from django.conf import settings
from django.core.exceptions import SuspiciousOperation, ValidationError
from django.http import UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import iri_to_uri
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from . import params, selectors, serializers
from .errors import Open311Error, field_error, from_validation_error
from .models import Open311Request
from .renderers import render, render_errors, w3_datetime
from .services import client_for_key, request_create

logger = logging.getLogger(__name__)

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"


def open311(methods: tuple[str, ...] = ("GET", "HEAD")):
    """Answer Open311Error as the spec's error list in the URL's format, refuse other methods
    (405), and answer an unexpected failure as a logged 500 in the same format."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, fmt: str = "xml", **kwargs):
            if request.method not in methods:
                message = _("Method %(method)s is not allowed here.") % {"method": request.method[:10]}
                return render_errors(
                    fmt, 405, [{"code": 405, "description": message}], headers={"Allow": ", ".join(methods)}
                )
            try:
                return view(request, fmt, *args, **kwargs)
            except Open311Error as exc:
                return render_errors(fmt, exc.status, exc.as_list())
            except Exception:
                logger.exception("Open311 %s %s failed", request.method, request.path)
                message = _("The service failed; please try again later.")
                return render_errors(fmt, 500, [{"code": 500, "description": message}])

        return csrf_exempt(wrapper)

    return decorate


def _check_jurisdiction(given: str, required: str = "") -> None:
    """This endpoint serves one jurisdiction: a jurisdiction_id other than the configured one
    (``OPEN311_JURISDICTION_ID``, or the client's own) is not found; none at all is fine."""
    given = (given or "").strip()
    for expected in (getattr(settings, "OPEN311_JURISDICTION_ID", ""), required):
        if given and expected and given != expected:
            raise Open311Error(
                404, field_error("jurisdiction_id", _("%(id)s is not served here.") % {"id": given[:60]})
            )


def _category(code: str):
    category = selectors.services().get(code)
    if category is None:
        raise Open311Error(
            404, field_error("service_code", _("%(code)s is not a service here.") % {"code": code[:20]})
        )
    return category


# ---- discovery and services ------------------------------------------------------------------


@open311()
def root(request, fmt):
    """The endpoint's root answers its discovery document (XML)."""
    return _discovery(request, fmt)


@open311()
def discovery(request, fmt):
    return _discovery(request, fmt)


def _discovery(request, fmt):
    params.check_nul(request.GET)
    changeset = w3_datetime(selectors.changeset())
    return render(
        fmt,
        "discovery",
        {
            "changeset": changeset,
            "contact": getattr(settings, "OPEN311_CONTACT", "")
            or _("Contact the operator of this platform."),
            "key_service": getattr(settings, "OPEN311_KEY_SERVICE", "")
            or _("Ask the operator of this platform for an api_key."),
            "endpoints": [
                {
                    "specification": SPECIFICATION,
                    "url": request.build_absolute_uri(reverse("open311:root")).rstrip("/"),
                    "changeset": changeset,
                    "type": "test" if settings.DEBUG else "production",
                    "formats": ["text/xml", "application/json"],
                }
            ],
        },
    )


@open311()
def service_list(request, fmt):
    params.check_nul(request.GET)
    _check_jurisdiction(request.GET.get("jurisdiction_id", ""))
    return render(fmt, "services", [serializers.service(c) for c in selectors.services().values()])


@open311()
def service_definition(request, fmt, code):
    params.check_nul(request.GET)
    _check_jurisdiction(request.GET.get("jurisdiction_id", ""))
    return render(fmt, "service_definition", serializers.service_definition(_category(code)))


# ---- service requests ------------------------------------------------------------------------


@open311(methods=("GET", "HEAD", "POST"))
def requests(request, fmt):
    if request.method == "POST":
        return _create(request, fmt)
    return _list(request, fmt)


def _create(request, fmt):
    try:
        data, files = request.POST, request.FILES
    except (SuspiciousOperation, MultiPartParserError, UnreadablePostError) as exc:
        raise Open311Error(
            400, _("The request body could not be read: %(error)s") % {"error": str(exc)[:200]}
        )
    key = data.get("api_key") or request.GET.get("api_key")
    if not key:
        raise Open311Error(
            403, field_error("api_key", _("An api_key is required to create a service request."))
        )
    client = client_for_key(key)
    if client is None:
        raise Open311Error(403, field_error("api_key", _("Invalid or revoked api_key.")))
    new = params.new_request(request, data, files)
    _check_jurisdiction(new.jurisdiction_id, client.jurisdiction_id)
    category = _category(new.service_code)
    answers = params.answers_for(category, new.answers)
    try:
        case, created = request_create(client=client, category=category, data=new, answers=answers)
    except ValidationError as exc:
        raise from_validation_error(exc)
    if created:
        account_id = new.account_id
    else:
        account_id = Open311Request.objects.filter(case=case).values_list("account_id", flat=True).first()
    if case.due_at is not None:
        # Not strftime: on this hot path it cost more than the rest of the notice.
        d = timezone.localtime(case.due_at)
        due = f"{d.year:04d}-{d.month:02d}-{d.day:02d} {d.hour:02d}:{d.minute:02d}"
        notice = _("Received; it will be looked at by %(time)s.") % {"time": due}
    else:
        notice = _("Received.")
    number = case.number
    body = [{"service_request_id": number, "service_notice": notice, "account_id": account_id or None}]
    # requests.{fmt} → requests/{id}.{fmt}, made absolute by hand: reversing the URL and
    # build_absolute_uri (which parses and requotes it) cost more on this hot path.
    location = f"{request.path[: -len(fmt) - 1]}/{number}.{fmt}"
    if not location.isascii():
        location = iri_to_uri(location)
    headers = {"Location": f"{request.scheme}://{request.get_host()}{location}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return render(fmt, "service_requests", body, status=201 if created else 200, headers=headers)


def _list(request, fmt):
    query = params.request_query(request.GET)
    _check_jurisdiction(request.GET.get("jurisdiction_id", ""))
    qs = selectors.filter_requests(
        selectors.public_requests(),
        selectors.RequestFilter(
            ids=[params.request_pk(i) for i in query.ids] if query.ids else None,
            service_codes=query.service_codes,
            start=query.start,
            end=query.end,
            statuses=query.statuses,
        ),
    )
    if query.extensions:
        qs = selectors.with_notes(qs)
    offset = (query.page - 1) * query.page_size
    cases = list(qs[offset : offset + query.page_size])
    if query.ids:
        wanted = set(query.ids)
        cases = [c for c in cases if c.number in wanted]
    headers = {}
    if len(cases) == query.page_size and not query.ids:
        following = request.GET.copy()
        following["page"] = str(query.page + 1)
        headers["Link"] = f'<{request.build_absolute_uri("?" + following.urlencode())}>; rel="next"'
    body = [serializers.service_request(c, notes=query.extensions) for c in cases]
    return render(fmt, "service_requests", body, headers=headers)


@open311()
def request_detail(request, fmt, request_id):
    params.check_nul(request.GET)
    _check_jurisdiction(request.GET.get("jurisdiction_id", ""))
    pk = params.request_pk(request_id)
    extensions = request.GET.get("extensions", "").strip().lower() in ("true", "1", "yes")
    case = None
    if pk is not None:
        qs = selectors.public_requests().filter(pk=pk)
        if extensions:
            qs = selectors.with_notes(qs)
        case = qs.first()
    if case is None or case.number != request_id:
        raise Open311Error(404, field_error("service_request_id", _("No such service request.")))
    return render(fmt, "service_requests", [serializers.service_request(case, notes=extensions)])


@open311()
def token_detail(request, fmt, token):
    params.check_nul(request.GET)
    _check_jurisdiction(request.GET.get("jurisdiction_id", ""))
    rows = selectors.token_requests(token) if len(token) <= params.KEY_MAX else []
    if not rows:
        raise Open311Error(404, field_error("token", _("No such token.")))
    return render(fmt, "service_requests", [{"service_request_id": rid, "token": t} for rid, t in rows])


@open311(methods=("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))
def not_found(request, fmt, rest=""):
    raise Open311Error(404, _("There is no such resource: %(path)s") % {"path": request.path[:200]})


def fallback(request, rest=""):
    """Any other path under the endpoint: 404 in the spec's format (JSON for a .json path)."""
    return not_found(request, rest=rest, fmt="json" if rest.endswith(".json") else "xml")
