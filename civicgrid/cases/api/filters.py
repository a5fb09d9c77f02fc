"""The case list's filters, shared with the command-center list page (``forms.CaseFilterForm``): one
definition of what ``?category=&status=…`` means for the page, the API and the export."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from rest_framework.filters import BaseFilterBackend

from ..choices import Channel, Level, Light, Status
from ..forms import CaseFilterForm

AREA_CODE = re.compile(r"^\d{1,15}$")
#: API names that differ from the page's: ``department`` is the page's ``unit``.
ALIASES = {"department": "unit"}
#: The page's names of the reported-date range (first and last day).
DATE_FROM, DATE_TO = "date_from", "date_to"
#: Every filter the list knows, in the page's names.
FILTER_KEYS = (*CaseFilterForm.base_fields, "area_code")


def reported_between(start, end) -> dict[str, str]:
    """The filters of the cases reported from ``start`` to ``end`` (dates, both included)."""
    return {DATE_FROM: start.isoformat(), DATE_TO: end.isoformat()}


def case_filter_form(user, params) -> CaseFilterForm:
    """The page's filter form bound to ``params`` (a QueryDict or dict), API aliases applied."""
    data = params.copy() if hasattr(params, "copy") else dict(params)
    for api_name, form_name in ALIASES.items():
        if api_name in data and form_name not in data:
            data[form_name] = data[api_name]
    return CaseFilterForm(data, user=user)


def filter_cases(qs, user, params, *, now=None):
    """``qs`` narrowed by the filters in ``params``; a ValidationError naming the fields that are
    wrong (in the caller's names; the API answers 400)."""
    form = case_filter_form(user, params)
    if not form.is_valid():
        used = {form_name: api_name for api_name, form_name in ALIASES.items() if api_name in params}
        raise ValidationError({used.get(k, k): list(v) for k, v in form.errors.items()})
    qs = form.apply(qs, now=now)
    prefix = (params.get("area_code") or "").strip()
    if prefix:
        if not AREA_CODE.match(prefix):
            raise ValidationError({"area_code": [_("Give the leading digits of an area code.")]})
        qs = qs.in_area(prefix)
    return qs


class CaseFilterBackend(BaseFilterBackend):
    """Applies the list filters to the ``list`` action (other actions read one case)."""

    def filter_queryset(self, request, queryset, view):
        if getattr(view, "action", None) != "list":
            return queryset
        return filter_cases(queryset, request.user, request.query_params)

    def get_schema_operation_parameters(self, view):
        enums = {"status": ["open", *Status.values], "channel": Channel.values, "light": Light.values}
        enums["level"] = Level.values
        return [
            {
                "name": name,
                "required": False,
                "in": "query",
                "description": description,
                "schema": {"type": "string", **({"enum": enums[name]} if name in enums else {})},
            }
            for name, description in PARAMETERS
        ]


PARAMETERS = [
    ("q", "case number (16 digits), id, or words of the title"),
    ("area", "official code of an area in your scope: its cases and those below"),
    ("area_code", "leading digits of the hierarchical area code (4 city, 6 district, 9 street …)"),
    ("category", "category id (a top-level one includes its leaves)"),
    ("status", "one status, or `open` for every open one"),
    ("channel", "report channel"),
    ("light", "deadline light now"),
    ("level", "handling level"),
    ("department", "id of the handling unit (the page calls it `unit`)"),
    (DATE_FROM, "reported on or after this day (YYYY-MM-DD)"),
    (DATE_TO, "reported on or before this day (YYYY-MM-DD)"),
]
