"""Exports of event handling to .xlsx: the case list (the filters of the case list page and the API)
and the statistics tables (an area and a period). They run like the registry's people export and
share its job record (``registry.ExportJob``, kinds "cases" and "case_statistics"): the job and an
access-log entry are written in one transaction; a small export is written at once, a big one by a
task; every download is access-logged too.

The case list holds no personal data: never the reporter's name or phone, nor the description or
title (which residents write freely). Rows are read in keyset-paginated chunks and streamed into the
sheet (``registry.spreadsheets.save_streaming``), so memory does not grow with the list."""

from __future__ import annotations

import logging
from datetime import date

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from civicgrid.areas.models import Area
from civicgrid.core import context
from civicgrid.core.audit import log_access
from civicgrid.core.models.audit import AccessKind
from civicgrid.registry.exports import run_job, stale_jobs
from civicgrid.registry.imports import FILE_FIELDS, job_area
from civicgrid.registry.models import ExportJob
from civicgrid.registry.spreadsheets import safe_cell, save_streaming

from . import statistics
from .api.filters import ALIASES, FILTER_KEYS, case_filter_form, filter_cases
from .choices import Channel, Level, Light, Stage, Status
from .models import Case

logger = logging.getLogger(__name__)

EXPORT_PERM = "cases.export_case"
CASES = "cases"
STATISTICS = "case_statistics"
KINDS = (CASES, STATISTICS)
#: Lists up to this many rows are written during the request; bigger ones in the task queue.
SYNC_LIMIT = 5000
CHUNK = 2000
#: Stands for the number of rows in the file until it is known.
ROW_COUNT = "__ROW_COUNT__"
#: Levels of the area tree by length of the scope code (a case's area is a grid: 15).
AREA_LEVELS = (6, 9, 12, 15)

FIELDS = (
    "id",
    "reported_at",
    "category__parent__name",
    "category__name",
    "area_code",
    "channel",
    "status",
    "level",
    "department__name",
    "deadline_stage",
    "warn_at",
    "due_at",
    "rating",
)


def _headers() -> list[str]:
    return [
        _("Case number"),
        _("Reported at"),
        _("Category"),
        _("Subcategory"),
        _("District"),
        _("Street"),
        _("Community"),
        _("Grid"),
        _("Channel"),
        _("Status"),
        _("Level"),
        _("Handling unit"),
        _("Deadline stage"),
        _("Due at"),
        _("Light"),
        _("Rating"),
    ]


def _deny():
    raise PermissionDenied(_("Your role does not include exporting cases."))


# ---- filters ---------------------------------------------------------------------------------------


def clean_filters(user, data) -> dict:
    """The list filters set in ``data`` (the case list's query string), validated; a
    ValidationError naming the wrong ones."""
    raw = {}
    for key in (*FILTER_KEYS, *ALIASES):
        value = data.get(key, "")
        if value not in ("", None):
            raw[ALIASES.get(key, key)] = str(value).strip()
    filter_cases(Case.objects.none(), user, raw)  # validates
    return raw


def cases_for_export(user, filters: dict):
    return filter_cases(Case.objects.visible_to(user, "view"), user, filters)


def describe_filters(user, filters: dict) -> list[tuple[str, str]]:
    """The filters as (label, value) pairs for people to read."""
    form = case_filter_form(user, filters)
    form.is_valid()
    described = []
    for key, value in filters.items():
        if key == "area_code":
            described.append((_("area code"), value))
            continue
        field = form.fields.get(key)
        if field is None:
            continue
        shown = value
        choices = dict(getattr(field, "choices", []) or [])
        cleaned = form.cleaned_data.get(key) if hasattr(form, "cleaned_data") else None
        if key == "area" and form.area_obj is not None:
            shown = f"{form.area_obj.name} ({value})"
        elif hasattr(cleaned, "pk"):
            shown = str(cleaned)
        elif value in choices:
            shown = str(choices[value])
        described.append((str(field.label), shown))
    return described


def describe_statistics(filters: dict) -> list[tuple[str, str]]:
    area = Area.objects.filter(pk=filters.get("area")).first() if filters.get("area") else None
    return [
        (_("area"), area.name if area else "—"),
        (_("period"), f"{filters.get('start')} – {filters.get('end')}"),
    ]


# ---- starting, running -------------------------------------------------------------------------------


def _create_job(actor, *, kind: str, filters: dict, rows: int, reason: str) -> ExportJob:
    job = ExportJob(
        kind=kind, filters=filters, row_count=rows, area=job_area(actor, EXPORT_PERM), created_by=actor
    )
    job.audit_exclude = FILE_FIELDS
    job.full_clean()
    job.save()
    log_access(
        AccessKind.EXPORT,
        obj=job,
        user=actor,
        reason=reason,
        detail={"kind": kind, "filters": filters, "rows": rows, "job": job.pk},
    )
    return job


def export_cases_start(*, actor, filters, language: str | None = None) -> ExportJob:
    """Export the cases ``actor`` sees with the case list's ``filters``."""
    if not actor.has_perm(EXPORT_PERM):
        _deny()
    filters = clean_filters(actor, filters)
    count = cases_for_export(actor, filters).for_count().count()
    with transaction.atomic():
        job = _create_job(actor, kind=CASES, filters=filters, rows=count, reason=_("case export"))
        if count > SYNC_LIMIT:
            _enqueue(job, language)
    if count <= SYNC_LIMIT:
        run_export(job.pk, language=language)
        job.refresh_from_db()
    return job


def export_statistics_start(
    *, actor, area: Area | None, period: statistics.Period, language=None
) -> ExportJob:
    """Export the statistics tables of ``area`` (visible to ``actor``) and ``period``: a few queries,
    always written at once."""
    if not actor.has_perm(EXPORT_PERM) or not actor.has_perm(statistics.VIEW_PERM):
        _deny()
    filters = {"area": area.pk if area else None, **period.as_dict()}
    with transaction.atomic():
        job = _create_job(actor, kind=STATISTICS, filters=filters, rows=0, reason=_("case statistics export"))
    run_export(job.pk, language=language)
    job.refresh_from_db()
    return job


def _enqueue(job: ExportJob, language: str | None) -> None:
    from .tasks import export_cases

    request_id = context.current().request_id or context.new_request_id()
    language = language or translation.get_language()
    transaction.on_commit(lambda: export_cases(job.pk, language=language, request_id=request_id))


def _write(job: ExportJob, user, out) -> tuple[int, str]:
    if not user.has_perm(EXPORT_PERM):
        _deny()
    if job.kind == CASES:
        count = write_cases_workbook(
            cases_for_export(user, job.filters), user=user, filters=job.filters, out=out
        )
        return count, _("%(n)s cases exported.") % {"n": count}
    return write_statistics_workbook(user=user, filters=job.filters, out=out), _("Statistics exported.")


def run_export(
    job_id: int, *, language: str | None = None, request_id: str | None = None
) -> ExportJob | None:
    """Write a case or statistics export's file (again, for a job whose worker died). Never raises."""
    if not ExportJob.objects.filter(pk=job_id, kind__in=KINDS).exists():
        return None
    return run_job(job_id, _write, language=language, request_id=request_id)


def resume_stale_exports() -> list[int]:
    """Case exports left running or waiting longer than ``STALE_AFTER`` start again."""
    from .tasks import export_cases

    stale = stale_jobs(KINDS)
    for job_id in stale:
        export_cases(job_id)
    return stale


def export_download_logged(*, actor, job: ExportJob) -> None:
    """Record a download of an export's file."""
    if job.created_by_id != actor.pk or job.kind not in KINDS:
        raise PermissionDenied(_("This is not your export."))
    log_access(
        AccessKind.EXPORT,
        obj=job,
        user=actor,
        reason=_("download of an export"),
        detail={
            "kind": job.kind,
            "job": job.pk,
            "download": True,
            "rows": job.row_count,
            "filters": job.filters,
        },
    )


# ---- the files -----------------------------------------------------------------------------------------


def _labels(choices) -> dict[str, str]:
    return {value: str(label) for value, label in choices}


def _exporter(user) -> str:
    return f"{user} ({user.get_username()})" if str(user) != user.get_username() else str(user)


def _bold_row(ws, values) -> list:
    bold = Font(bold=True)
    cells = []
    for value in values:
        cell = WriteOnlyCell(ws, value=safe_cell(value))
        cell.font = bold
        cells.append(cell)
    return cells


def _stamp() -> str:
    return f"{timezone.localtime():%Y-%m-%d %H:%M:%S} ({settings.TIME_ZONE})"


def area_names() -> dict[str, str]:
    """Name of every area by its hierarchical code (the area tree is small next to the cases)."""
    return dict(Area.objects.values_list("scope_code", "name"))


def write_cases_workbook(qs, *, user, filters: dict, out) -> int:
    """Stream ``qs`` to ``out`` as .xlsx (newest first); returns the number of cases written."""
    now = timezone.now()
    at = _stamp()
    exporter = _exporter(user)
    filter_text = "; ".join(f"{k}: {v}" for k, v in describe_filters(user, filters)) or "—"
    title = f"导出人 / exported by: {exporter}　导出时间 / at: {at}　筛选条件 / filters: {filter_text}"
    channels, statuses, levels = _labels(Channel.choices), _labels(Status.choices), _labels(Level.choices)
    stages, lights = _labels(Stage.choices), _labels(Light.choices)
    names = area_names()

    wb = Workbook(write_only=True)
    sheet_title = _("Cases")[:31]
    ws = wb.create_sheet(sheet_title)
    for letter, width in zip(
        "ABCDEFGHIJKLMNOP", (18, 17, 12, 16, 10, 12, 14, 18, 12, 10, 8, 22, 10, 17, 8, 6), strict=True
    ):
        ws.column_dimensions[letter].width = width
    ws.append(_bold_row(ws, [title]))
    ws.append(_bold_row(ws, _headers()))

    count = 0

    def data_rows():
        nonlocal count
        base = qs.order_by("-id")
        last = None
        while True:
            chunk = base if last is None else base.filter(id__lt=last)
            rows = list(chunk.values_list(*FIELDS)[:CHUNK])
            if not rows:
                return
            for (
                pk,
                reported_at,
                top,
                leaf,
                code,
                channel,
                status,
                level,
                unit,
                stage,
                warn_at,
                due_at,
                rating,
            ) in rows:
                case = Case(pk=pk, reported_at=reported_at, warn_at=warn_at, due_at=due_at)
                places = [names.get(code[:n], "") if len(code) >= n else "" for n in AREA_LEVELS]
                yield [
                    case.number,
                    f"{timezone.localtime(reported_at):%Y-%m-%d %H:%M}",
                    safe_cell(top or leaf),
                    safe_cell(leaf if top else ""),
                    *(safe_cell(p) for p in places),
                    channels.get(channel, channel),
                    statuses.get(status, status),
                    levels.get(level, level),
                    safe_cell(unit or ""),
                    stages.get(stage, stage),
                    f"{timezone.localtime(due_at):%Y-%m-%d %H:%M}" if due_at else None,
                    lights[case.light_at(now)]
                    if status not in (Status.CLOSED, Status.REJECTED, Status.MERGED)
                    else "",
                    rating,
                ]
            count += len(rows)
            last = rows[-1][0]

    info = wb.create_sheet(_("About this export")[:31])
    info.column_dimensions["A"].width = 24
    info.column_dimensions["B"].width = 60
    info.append(["导出人 / exported by", safe_cell(exporter)])
    info.append(["导出时间 / at", at])
    info.append(["筛选条件 / filters", safe_cell(filter_text)])
    info.append(["行数 / rows", ROW_COUNT])
    info.append(["说明 / note", _("No reporter's name, phone or description is exported.")])
    save_streaming(
        wb,
        out,
        sheet_title=sheet_title,
        rows=data_rows(),
        first_row=3,
        placeholders=lambda: {ROW_COUNT: count},
    )
    return count


def _percent(rate) -> str:
    return f"{rate * 100:.1f}%" if rate is not None else "—"


def _performance_headers() -> list[str]:
    return [
        _("Deadlines met"),
        _("Late"),
        _("Overdue, still open"),
        _("On-time rate"),
        _("Ratings"),
        _("Average rating"),
        _("Satisfied (4–5 stars)"),
        _("Praise (5 stars)"),
        _("Reopened as not solved"),
    ]


def _performance(row: dict) -> list:
    on_time, sat = row["on_time"], row["satisfaction"]
    return [
        on_time["met"],
        on_time["late"],
        on_time["overdue"],
        _percent(on_time["rate"]),
        sat["ratings"],
        sat["average"],
        _percent(sat["good_share"]),
        sat["praise"],
        sat["reopened"],
    ]


def write_statistics_workbook(*, user, filters: dict, out) -> int:
    """The statistics page's tables as sheets; returns the number of cases counted."""
    area = (
        Area.objects.visible_to(user).filter(pk=filters.get("area")).first() if filters.get("area") else None
    )
    if filters.get("area") and area is None:
        raise ValidationError({"area": _("No such area in your scope.")})
    period = statistics.Period(date.fromisoformat(filters["start"]), date.fromisoformat(filters["end"]))
    data = statistics.case_statistics(user, area, period)
    at = _stamp()
    title = (
        f"导出人 / exported by: {_exporter(user)}　导出时间 / at: {at}　"
        f"{_('area')}: {area.name if area else '—'}　{_('period')}: {period.start} – {period.end}"
    )

    wb = Workbook(write_only=True)
    overview = wb.create_sheet(_("Overview")[:31])
    overview.column_dimensions["A"].width = 28
    overview.column_dimensions["B"].width = 12
    overview.append(_bold_row(overview, [title]))
    overview.append([_("Cases reported"), data["total"]])
    overview.append([_("Still open"), data["open"]])
    for heading, rows in (
        (_("By category"), [(f"{r['service_code']} {r['name']}", r["count"]) for r in data["by_category"]]),
        (
            _("By subcategory"),
            [(f"{r['service_code']} {r['name']}", r["count"]) for r in data["by_leaf_category"]],
        ),
        (_("By channel"), [(r["label"], r["count"]) for r in data["by_channel"]]),
        (_("By status"), [(r["label"], r["count"]) for r in data["by_status"]]),
        (_("Open cases by light"), [(r["label"], r["count"]) for r in data["by_light"]]),
    ):
        overview.append([])
        overview.append(_bold_row(overview, [heading, _("Cases")]))
        for label, n in rows:
            overview.append([safe_cell(label), n])

    areas = wb.create_sheet(_("Areas")[:31])
    areas.column_dimensions["A"].width = 24
    areas.append(_bold_row(areas, [title]))
    areas.append(
        _bold_row(
            areas, [_("Area"), _("Cases"), _("Open"), pgettext("case", "Closed"), *_performance_headers()]
        )
    )
    for row in data["areas"]:
        areas.append([safe_cell(row["name"]), row["cases"], row["open"], row["closed"], *_performance(row)])

    units = wb.create_sheet(_("Units")[:31])
    units.column_dimensions["A"].width = 30
    units.append(_bold_row(units, [title]))
    units.append(_bold_row(units, [_("Handling unit"), _("Level"), *_performance_headers()]))
    levels = _labels(Level.choices)
    for row in data["units"]:
        units.append([safe_cell(row["name"]), levels.get(row["level"], row["level"]), *_performance(row)])
    if data["no_unit"] is not None:
        units.append([_("(no unit yet)"), "", *_performance(data["no_unit"])])
    wb.save(out)
    return data["total"]
