"""Export of the people list, as the exporter sees it on the people page (same filters, same scope),
to .xlsx: document and mobile numbers masked, only the tags the exporter may see, the exporter's name,
the time and the filters written into the file, and an access-log entry for the export (written in
the transaction that creates the job) and for every download.

Small lists (``SYNC_LIMIT`` rows or fewer) are written at once; bigger ones by a task. Either way the
rows are read in keyset-paginated chunks and streamed with openpyxl ``write_only``, so memory does
not grow with the list.
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from civicgrid.core import context
from civicgrid.core.audit import log_access
from civicgrid.core.masking import mask_document, mask_mobile
from civicgrid.core.models.audit import AccessKind

from . import selectors
from .choices import IdKind, PersonStatus, PersonType, Relation, Sex
from .forms import PersonFilterForm
from .imports import FILE_FIELDS, job_area
from .models import ExportJob, Person, PersonTag
from .models.jobs import JobStatus
from .spreadsheets import safe_cell, save_streaming

logger = logging.getLogger(__name__)

EXPORT_PERM = "registry.export_person"
#: Lists up to this many rows are written during the request; bigger ones in the task queue.
SYNC_LIMIT = 5000
CHUNK = 2000
#: Stands for the number of rows in the file until it is known.
ROW_COUNT = "__ROW_COUNT__"
FILTER_KEYS = ("q", "grid", "person_type", "tag", "status", "address")
#: An export running (or waiting) this long without finishing is taken for dead and run again.
STALE_AFTER = timedelta(minutes=15)

FIELDS = (
    "id",
    "name",
    "id_kind",
    "id_number",
    "person_type",
    "phone",
    "sex",
    "birth_date",
    "ethnicity",
    "nationality",
    "area__code",
    "area__name",
    "house__building__compound__name",
    "house__building__name",
    "house__unit_no",
    "house__room_no",
    "household__number",
    "relation",
    "status",
    "note",
)


def _headers() -> list[str]:
    return [
        _("Name"),
        _("Document type"),
        _("Document number"),
        _("Person type"),
        _("Mobile number"),
        _("Sex"),
        _("Date of birth"),
        _("Ethnic group"),
        _("Nationality"),
        _("Grid code"),
        _("Grid"),
        _("Compound"),
        _("Building"),
        _("Unit"),
        _("Room"),
        _("Household number"),
        _("Relation to head"),
        _("Status"),
        _("Tags"),
        _("Note"),
    ]


# ---- filters --------------------------------------------------------------------------------------


def clean_filters(user, data) -> dict:
    """The people page's filters from ``data`` (a QueryDict or dict), validated by the page's form;
    only the ones set are kept. No filter at all means what the page shows first: people living here."""
    raw = {k: data.get(k, "") for k in FILTER_KEYS if data.get(k, "") not in ("", None)}
    if not raw:
        return {"status": PersonStatus.ACTIVE}
    form = PersonFilterForm(raw, user=user, tags=selectors.visible_tags(user))
    if not form.is_valid():
        raise ValidationError(form.errors)
    cleaned = form.cleaned_data
    result = {k: str(v) for k, v in raw.items()}
    if cleaned.get("grid") is not None:
        result["grid"] = str(cleaned["grid"].pk)
    return result


def people_for_export(user, filters: dict):
    """The exporter's scoped, filtered people (the people page's query, without pagination)."""
    form = PersonFilterForm(filters or {}, user=user, tags=selectors.visible_tags(user))
    if not form.is_valid():
        raise ValidationError(form.errors)
    data = form.cleaned_data
    qs = selectors.filter_people(
        Person.objects.visible_to(user, "view"),
        user=user,
        grid=data["grid"],
        person_type=data["person_type"],
        tag=data["tag"],
        address=data["address"],
        status=data["status"],
    )
    return selectors.search_people(qs, data["q"])


def _masked_query(q: str) -> str:
    """A search text as it may appear in logs and files: numbers (ID, phone) masked."""
    digits = sum(c.isdigit() for c in q)
    return mask_document(q) if digits >= 4 else q


def describe_filters(user, filters: dict) -> list[tuple[str, str]]:
    """The filters as (label, value) pairs for people to read (numbers in the search text masked)."""
    from civicgrid.areas.models import Area

    described = []
    if filters.get("q"):
        described.append((_("Search"), _masked_query(filters["q"])))
    if filters.get("grid"):
        area = Area.objects.filter(pk=filters["grid"]).first()
        described.append((_("area"), f"{area.name} ({area.code})" if area else filters["grid"]))
    if filters.get("person_type"):
        described.append((_("person type"), str(PersonType(filters["person_type"]).label)))
    if filters.get("tag"):
        tag = selectors.visible_tags(user).filter(code=filters["tag"]).first()
        described.append((_("tag"), tag.name if tag else filters["tag"]))
    if filters.get("status"):
        described.append((_("status"), str(PersonStatus(filters["status"]).label)))
    if filters.get("address"):
        described.append((_("address"), filters["address"]))
    return described


def _log_filters(filters: dict) -> dict:
    logged = dict(filters)
    if logged.get("q"):
        logged["q"] = _masked_query(logged["q"])
    return logged


# ---- starting, running ----------------------------------------------------------------------------


def export_start(*, actor, filters, language: str | None = None) -> ExportJob:
    """Start an export of the people ``actor`` sees with ``filters``: the job and its access-log
    entry (filters and row count) are written in one transaction; a small list is written at once,
    a big one is queued."""
    if not actor.has_perm(EXPORT_PERM):
        raise PermissionDenied(_("Your role does not include exporting people."))
    filters = clean_filters(actor, filters)
    count = people_for_export(actor, filters).count()
    with transaction.atomic():
        job = ExportJob(
            kind="people",
            filters=filters,
            row_count=count,
            area=job_area(actor, EXPORT_PERM),
            created_by=actor,
        )
        job.audit_exclude = FILE_FIELDS  # see imports.import_start
        job.full_clean()
        job.save()
        log_access(
            AccessKind.EXPORT,
            obj=job,
            user=actor,
            reason=_("people export"),
            detail={"filters": _log_filters(filters), "rows": count, "job": job.pk},
        )
        if count > SYNC_LIMIT:
            _enqueue(job, language)
    if count <= SYNC_LIMIT:
        run_export(job.pk, language=language)
        job.refresh_from_db()
    return job


def _enqueue(job: ExportJob, language: str | None) -> None:
    from .tasks import export_people

    request_id = context.current().request_id or context.new_request_id()
    language = language or translation.get_language()
    transaction.on_commit(lambda: export_people(job.pk, language=language, request_id=request_id))


def claim_job(job_id: int) -> ExportJob | None:
    """Take an export job for writing (None: done, refused, or running in a live worker)."""
    job = ExportJob.objects.filter(pk=job_id).first()
    if job is None or job.status in (JobStatus.DONE, JobStatus.REJECTED):
        return None
    if job.status == JobStatus.RUNNING and job.updated_at >= timezone.now() - STALE_AFTER:
        return None
    now = timezone.now()
    if not ExportJob.objects.filter(pk=job_id, status=job.status, updated_at=job.updated_at).update(
        status=JobStatus.RUNNING, started_at=now, updated_at=now, finished_at=None
    ):
        return None
    job.refresh_from_db()
    return job


def run_job(
    job_id: int, write, *, language: str | None = None, request_id: str | None = None
) -> ExportJob | None:
    """Claim an export job and write its file, as its creator, in the language of the request that
    started it: ``write(job, user, out)`` fills the temporary file ``out`` and returns ``(rows,
    message)``; the file is stored under an unguessable name and the job marked done, or failed
    with the reason the user may read (a refusal or a validation message; anything else is logged
    and reported as an internal error). Shared by every app's exports. Never raises."""
    job = claim_job(job_id)
    if job is None:
        return None
    user = job.created_by
    with (
        translation.override(language or settings.LANGUAGE_CODE),
        context.acting_as(user, request_id=request_id),
    ):
        try:
            with tempfile.TemporaryFile() as out:
                count, message = write(job, user, out)
                out.seek(0)
                stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
                filename = f"{job.kind}-{stamp}-{job.pk}-{uuid.uuid4().hex}.xlsx"  # unguessable
                name = job.result.field.generate_filename(job, filename)
                name = job.result.storage.save(name, File(out, name=name))
            ExportJob.objects.filter(pk=job.pk).update(
                status=JobStatus.DONE,
                row_count=count,
                result=name,
                finished_at=timezone.now(),
                updated_at=timezone.now(),
                message=message,
            )
        except Exception as exc:
            logger.exception("export %s failed", job_id)
            text = " ".join(exc.messages) if isinstance(exc, ValidationError) else ""
            text = str(exc) if isinstance(exc, PermissionDenied) else text
            ExportJob.objects.filter(pk=job.pk).update(
                status=JobStatus.FAILED,
                finished_at=timezone.now(),
                updated_at=timezone.now(),
                message=(text or _("The export failed because of an internal error. Try again."))[:500],
            )
    job.refresh_from_db()
    return job


def stale_jobs(kinds) -> list[int]:
    """Export jobs of ``kinds`` left running or waiting longer than ``STALE_AFTER`` (their worker
    died): each app starts its own again (the job table is shared)."""
    return list(
        ExportJob.objects.filter(
            kind__in=list(kinds),
            status__in=[JobStatus.PENDING, JobStatus.RUNNING],
            updated_at__lt=timezone.now() - STALE_AFTER,
        ).values_list("pk", flat=True)
    )


def _write_people(job: ExportJob, user, out) -> tuple[int, str]:
    if not user.has_perm(EXPORT_PERM):
        raise PermissionDenied(_("Your role does not include exporting people."))
    count = write_people_workbook(
        people_for_export(user, job.filters), user=user, filters=job.filters, out=out
    )
    return count, _("%(n)s rows exported.") % {"n": count}


def run_export(
    job_id: int, *, language: str | None = None, request_id: str | None = None
) -> ExportJob | None:
    """Write a people export's file (again, for a job whose worker died). Never raises."""
    return run_job(job_id, _write_people, language=language, request_id=request_id)


def resume_stale_exports() -> list[int]:
    from .tasks import export_people

    stale = stale_jobs(["people"])
    for job_id in stale:
        export_people(job_id)
    return stale


def export_download_logged(*, actor, job: ExportJob) -> None:
    """Record a download of an export's file (the file holds personal data, masked or not)."""
    if job.created_by_id != actor.pk:
        raise PermissionDenied(_("This is not your export."))
    log_access(
        AccessKind.EXPORT,
        obj=job,
        user=actor,
        reason=_("download of an export"),
        detail={"job": job.pk, "download": True, "rows": job.row_count, "filters": _log_filters(job.filters)},
    )


# ---- the file -------------------------------------------------------------------------------------


def _labels(choices) -> dict[str, str]:
    return {value: str(label) for value, label in choices}


def write_people_workbook(qs, *, user, filters: dict, out) -> int:
    """Stream ``qs`` to ``out`` as .xlsx; returns the number of people written."""
    now = timezone.localtime()
    exporter = f"{user} ({user.get_username()})" if str(user) != user.get_username() else str(user)
    filter_text = "; ".join(f"{k}: {v}" for k, v in describe_filters(user, filters)) or "—"
    at = f"{now:%Y-%m-%d %H:%M:%S} ({settings.TIME_ZONE})"
    title = f"导出人 / exported by: {exporter}　导出时间 / at: {at}　筛选条件 / filters: {filter_text}"
    kinds, types = _labels(IdKind.choices), _labels(PersonType.choices)
    sexes, relations, statuses = (
        _labels(Sex.choices),
        _labels(Relation.choices),
        _labels(PersonStatus.choices),
    )
    visible = list(selectors.visible_tags(user).values_list("pk", flat=True))

    wb = Workbook(write_only=True)
    sheet_title = _("People")[:31]
    ws = wb.create_sheet(sheet_title)
    for letter, width in zip(
        "ABCDEFGHIJKLMNOPQRST",
        (10, 14, 22, 12, 14, 6, 12, 8, 6, 18, 14, 14, 8, 6, 8, 10, 10, 8, 16, 20),
        strict=True,
    ):
        ws.column_dimensions[letter].width = width
    bold = Font(bold=True)
    title_cell = WriteOnlyCell(ws, value=safe_cell(title))
    title_cell.font = bold
    ws.append([title_cell])
    header = []
    for text in _headers():
        cell = WriteOnlyCell(ws, value=text)
        cell.font = bold
        header.append(cell)
    ws.append(header)

    count = 0

    def data_rows():
        nonlocal count
        last = 0
        base = qs.order_by("id")
        while True:
            rows = list(base.filter(id__gt=last).values_list(*FIELDS)[:CHUNK])
            if not rows:
                return
            ids = [r[0] for r in rows]
            tags: dict[int, list[str]] = {}
            for person_id, tag_name in (
                PersonTag.objects.filter(person_id__in=ids, tag_id__in=visible)
                .order_by("tag__sort", "tag__code")
                .values_list("person_id", "tag__name")
            ):
                tags.setdefault(person_id, []).append(tag_name)
            for (
                pk,
                name,
                id_kind,
                id_number,
                person_type,
                phone,
                sex,
                birth_date,
                ethnicity,
                nationality,
                grid_code,
                grid_name,
                compound,
                building,
                unit,
                room,
                household,
                relation,
                status,
                note,
            ) in rows:
                yield [
                    safe_cell(name),
                    kinds.get(id_kind, id_kind),
                    mask_document(id_number, id_kind),
                    types.get(person_type, person_type),
                    mask_mobile(phone),
                    sexes.get(sex, sex),
                    birth_date.isoformat() if birth_date else None,
                    safe_cell(ethnicity),
                    nationality,
                    grid_code,
                    safe_cell(grid_name),
                    safe_cell(compound),
                    safe_cell(building),
                    safe_cell(unit),
                    safe_cell(room),
                    safe_cell(household),
                    relations.get(relation, relation),
                    statuses.get(status, status),
                    safe_cell("、".join(tags.get(pk, []))),
                    safe_cell(note),
                ]
            count += len(rows)
            last = ids[-1]

    info = wb.create_sheet(_("About this export")[:31])
    info.column_dimensions["A"].width = 24
    info.column_dimensions["B"].width = 60
    info.append(["导出人 / exported by", safe_cell(exporter)])
    info.append(["导出时间 / at", at])
    info.append(["筛选条件 / filters", safe_cell(filter_text)])
    info.append(["行数 / rows", ROW_COUNT])
    info.append(
        [
            "说明 / note",
            _("Document and mobile numbers are masked. Only tags the exporter may see are included."),
        ]
    )
    save_streaming(
        wb,
        out,
        sheet_title=sheet_title,
        rows=data_rows(),
        first_row=3,
        placeholders=lambda: {ROW_COUNT: count},
    )
    return count
