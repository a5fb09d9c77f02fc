"""Services, service definitions and service requests as the GeoReport v2 structures (rendered to
XML or JSON by :mod:`.renderers`). Nothing personal goes out: no reporter name, phone or e-mail,
no actor of a timeline step."""

from __future__ import annotations

from civicgrid.cases.choices import FINAL_STATUSES
from civicgrid.cases.models import Case, Category

from .renderers import w3_datetime


def service(category: Category) -> dict:
    return {
        "service_code": category.service_code,
        "service_name": category.name,
        "description": category.description,
        "metadata": bool(category.questions.all()),
        "type": "realtime",
        "keywords": category.keywords.replace("，", ","),
        "group": category.parent.name if category.parent_id else category.get_kind_display(),
    }


def service_definition(category: Category) -> dict:
    attributes = []
    for order, question in enumerate(category.questions.all(), start=1):
        attributes.append(
            {
                "variable": True,
                "code": question.code,
                "datatype": question.datatype,
                "required": question.required,
                "datatype_description": question.description or None,
                "order": order,
                "description": question.label,
                "values": [
                    {"key": str(v.get("key", "")), "name": str(v.get("name", ""))} for v in question.values
                ],
            }
        )
    return {"service_code": category.service_code, "attributes": attributes}


def open_or_closed(status: str) -> str:
    return "closed" if status in FINAL_STATUSES else "open"


def service_request(case: Case, *, notes: bool = False) -> dict:
    extra = getattr(case, "open311", None)
    data = {
        "service_request_id": case.number,
        "status": open_or_closed(case.status),
        "status_notes": getattr(case, "status_notes", None) or None,
        "service_name": case.category.name,
        "service_code": case.category.service_code,
        "description": case.description,
        "agency_responsible": case.department.name if case.department_id else None,
        "service_notice": str(case.get_status_display()),
        "requested_datetime": w3_datetime(case.reported_at),
        "updated_datetime": w3_datetime(case.updated_at),
        "expected_datetime": w3_datetime(case.due_at),
        "address": case.address or None,
        "lat": case.lat,
        "long": case.lng,
        "media_url": (extra.media_url or None) if extra is not None else None,
    }
    if notes:
        data["notes"] = [
            {
                "datetime": w3_datetime(event.created_at),
                "type": event.kind,
                "description": event.note or str(event.get_kind_display()),
            }
            for event in getattr(case, "public_events", ())
        ]
    return data
