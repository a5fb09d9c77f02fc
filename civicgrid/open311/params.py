"""The arguments of the GeoReport v2 methods, read from the query string or the form and checked;
anything wrong is an :class:`~.errors.Open311Error` whose description names the argument."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from civicgrid.cases.choices import QuestionType
from civicgrid.cases.models import Category

from .errors import Open311Error, field_error
from .models import MEDIA_URL_MAX

#: Default and largest page of GET requests (the pagination extension).
PAGE_SIZE = 50
PAGE_SIZE_MAX = 100
#: Most service_request_id values one GET requests takes.
IDS_MAX = 100
#: Span of GET requests when no dates are given (the spec's default).
DEFAULT_SPAN = timedelta(days=90)
KEY_MAX = 100
NAME_MAX = 50
ADDRESS_MAX = 200
ID_MAX = 100

ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]{1,60})\](\[\])?$")
REQUEST_ID = re.compile(r"^\d{16,20}$")
DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_media_url_validator = URLValidator(schemes=["http", "https"])
_email_validator = EmailValidator()


def check_nul(data) -> None:
    """PostgreSQL text cannot hold NUL: refuse it in any argument (named in the error)."""
    for key, values in data.lists():
        for value in (key, *values):
            if isinstance(value, str) and "\x00" in value:
                raise Open311Error(
                    400, field_error(key.replace("\x00", "")[:60], _("Null characters are not allowed."))
                )


def _text(data, name: str) -> str:
    value = data.get(name)
    return value.strip() if isinstance(value, str) else ""


def _limit(errors: list[str], name: str, value: str, limit: int) -> None:
    if len(value) > limit:
        errors.append(
            field_error(name, _("At most %(n)d characters (this has %(m)d).") % {"n": limit, "m": len(value)})
        )


@dataclass
class NewRequest:
    """The arguments of POST requests, checked as far as they can be without the database."""

    service_code: str
    lat: str | None = None
    lng: str | None = None
    address: str = ""
    description: str = ""
    answers: dict = field(default_factory=dict)
    reporter_name: str = ""
    phone: str = ""
    email: str = ""
    account_id: str = ""
    device_id: str = ""
    media_url: str = ""
    media: list = field(default_factory=list)
    idempotency_key: str = ""
    jurisdiction_id: str = ""

    @property
    def has_extras(self) -> bool:
        """Whether anything goes into an Open311Request row."""
        return bool(self.media_url or self.email or self.account_id or self.device_id)


def idempotency_key(request, data) -> str:
    """The client's key for this report: the ``Idempotency-Key`` header, else the form field
    ``idempotency_key`` or ``client_request_id``."""
    return (
        request.META.get("HTTP_IDEMPOTENCY_KEY")  # request.headers would copy every header first
        or _text(data, "idempotency_key")
        or _text(data, "client_request_id")
        or ""
    ).strip()


def reporter_name(first: str, last: str) -> str:
    """The submitter's name as people here write it: family name first, no space between Chinese
    names (张 + 三 → 张三); other names given name first."""
    if not (first or last):
        return ""
    if any("\u3400" <= ch <= "\u9fff" for ch in first + last):
        return f"{last}{first}"
    return f"{first} {last}".strip()


def new_request(request, data, files) -> NewRequest:
    """Read POST requests' form (everything but the api_key and the service's own checks)."""
    check_nul(data)
    code = _text(data, "service_code")
    if not code:
        raise Open311Error(400, field_error("service_code", _("This argument is required.")))
    errors: list[str] = []
    lat, lng = _text(data, "lat") or None, _text(data, "long") or None
    if (lat is None) != (lng is None):
        errors.append(field_error("long" if lng is None else "lat", _("Send both lat and long.")))
    address = _text(data, "address_string")
    _limit(errors, "address_string", address, ADDRESS_MAX)
    first, last = _text(data, "first_name"), _text(data, "last_name")
    name = reporter_name(first, last)
    _limit(errors, "first_name", name, NAME_MAX)
    email = _text(data, "email")
    if email:
        try:
            _email_validator(email)
        except ValidationError:
            errors.append(field_error("email", _("Enter a valid e-mail address.")))
    account_id, device_id = _text(data, "account_id"), _text(data, "device_id")
    _limit(errors, "account_id", account_id, ID_MAX)
    _limit(errors, "device_id", device_id, ID_MAX)
    media_url = _text(data, "media_url")
    if media_url:
        if len(media_url) > MEDIA_URL_MAX:
            _limit(errors, "media_url", media_url, MEDIA_URL_MAX)
        else:
            try:
                _media_url_validator(media_url)
            except ValidationError:
                errors.append(field_error("media_url", _("Give an http or https URL.")))
    key = idempotency_key(request, data)
    _limit(errors, "idempotency_key", key, KEY_MAX)
    media = files.getlist("media") if files is not None else []
    if len(media) > 1:
        errors.append(field_error("media", _("Send one file.")))
    if errors:
        raise Open311Error(400, errors)
    answers: dict[str, list[str]] = {}
    for name_, values in data.lists():
        match = ATTRIBUTE.match(name_)
        if match:
            answers.setdefault(match.group(1), []).extend(v for v in values if v.strip() != "")
    return NewRequest(
        service_code=code,
        lat=lat,
        lng=lng,
        address=address,
        description=data.get("description") or "",
        answers=answers,
        reporter_name=name,
        phone=_text(data, "phone"),
        email=email,
        account_id=account_id,
        device_id=device_id,
        media_url=media_url,
        media=media,
        idempotency_key=key,
        jurisdiction_id=_text(data, "jurisdiction_id"),
    )


def answers_for(category: Category, answers: dict[str, list[str]]) -> dict:
    """``attribute[code]`` values as the category's questions take them: a list for a
    multivaluelist, one value otherwise (several for one is an error)."""
    questions = category.questions_by_code()
    out, errors = {}, []
    for code, values in answers.items():
        question = questions.get(code)
        if question is not None and question.datatype == QuestionType.MULTI:
            out[code] = values
        elif len(values) > 1:
            errors.append(field_error(f"attribute[{code}]", _("Give one value.")))
        else:
            out[code] = values[0] if values else ""
    if errors:
        raise Open311Error(400, errors)
    return out


# ---- GET requests ----------------------------------------------------------------------------


def _when(data, name: str, *, end_of_day: bool = False) -> datetime | None:
    raw = _text(data, name)
    if not raw:
        return None
    try:
        if DATE_ONLY.match(raw):  # a whole day: from its start, or to its end
            day = parse_date(raw)
            value = datetime.combine(day, time.max if end_of_day else time.min) if day else None
        else:
            value = parse_datetime(raw)
    except ValueError:  # well formed but not a date (2026-02-30)
        value = None
    if value is None:
        raise Open311Error(
            400, field_error(name, _("Give a date and time in W3C format, e.g. 2026-01-01T00:00:00+08:00."))
        )
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def _int(data, name: str, default: int, *, low: int = 1) -> int:
    raw = _text(data, name)
    if not raw:
        return default
    if not raw.isdigit() or len(raw) > 9 or int(raw) < low:
        raise Open311Error(400, field_error(name, _("Give a whole number of at least %(n)d.") % {"n": low}))
    return int(raw)


def _csv(data, name: str) -> list[str]:
    return [part.strip() for raw in data.getlist(name) for part in raw.split(",") if part.strip()]


def request_pk(service_request_id: str) -> int | None:
    """The case id in a service_request_id (the case number: report date and id), or None."""
    value = (service_request_id or "").strip()
    if not REQUEST_ID.match(value):
        return None
    return int(value[8:])


@dataclass
class RequestQuery:
    ids: list[str] | None
    service_codes: list[str]
    start: datetime | None
    end: datetime | None
    statuses: set[str]
    page: int
    page_size: int
    extensions: bool


def request_query(data) -> RequestQuery:
    """Read GET requests' arguments: service_request_id (overrides the others), service_code,
    start_date, end_date (the last 90 days by default), status, page, page_size, extensions."""
    check_nul(data)
    ids = _csv(data, "service_request_id")
    if len(ids) > IDS_MAX:
        raise Open311Error(
            400, field_error("service_request_id", _("At most %(n)d ids at once.") % {"n": IDS_MAX})
        )
    for value in ids:
        if request_pk(value) is None:
            raise Open311Error(
                400,
                field_error(
                    "service_request_id", _("%(id)s is not a service request id.") % {"id": value[:40]}
                ),
            )
    statuses = set(_csv(data, "status"))
    if statuses - {"open", "closed"}:
        raise Open311Error(400, field_error("status", _("Use open, closed or both (comma-separated).")))
    start, end = _when(data, "start_date"), _when(data, "end_date", end_of_day=True)
    if start and end and end < start:
        raise Open311Error(400, field_error("end_date", _("The end is before the start.")))
    if not ids and start is None:  # the spec's default: the 90 days up to the end (or now)
        start = (end or timezone.now()) - DEFAULT_SPAN
    page_size = min(_int(data, "page_size", PAGE_SIZE), PAGE_SIZE_MAX)
    return RequestQuery(
        ids=ids or None,
        service_codes=_csv(data, "service_code"),
        start=start,
        end=end,
        statuses=statuses,
        page=_int(data, "page", 1),
        page_size=page_size,
        extensions=_text(data, "extensions").lower() in ("true", "1", "yes"),
    )
