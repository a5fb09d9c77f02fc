"""The errors of the GeoReport v2 endpoint: an HTTP status and a list of ``(code, description)``
that the view renders as ``errors/error`` in the format of the URL (XML or JSON)."""

from __future__ import annotations

from django.core.exceptions import ValidationError

#: Names of the service's fields as Open311 calls them in an error description.
FIELD_NAMES = {
    "category": "service_code",
    "photos": "media",
    "lng": "long",
    "reporter_name": "first_name",
    "reporter_phone": "phone",
    "address": "address_string",
}


class Open311Error(Exception):
    """A request that cannot be answered: 400 bad input, 403 bad api_key, 404 unknown resource."""

    def __init__(self, status: int, descriptions: list[str] | str):
        if isinstance(descriptions, str):
            descriptions = [descriptions]
        self.status = status
        self.descriptions = [str(d) for d in descriptions]
        super().__init__("; ".join(self.descriptions))

    def as_list(self) -> list[dict]:
        return [{"code": self.status, "description": d} for d in self.descriptions]


def field_error(field: str, message) -> str:
    """``"lat: This point is outside the city's grids."``"""
    return f"{FIELD_NAMES.get(field, field)}: {message}"


def from_validation_error(exc: ValidationError) -> Open311Error:
    """A 400 naming each field of a service's ValidationError."""
    descriptions = []
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            for message in errors:
                descriptions.append(message if field == "__all__" else field_error(field, message))
    else:
        descriptions = list(exc.messages)
    return Open311Error(400, descriptions or [str(exc)])
