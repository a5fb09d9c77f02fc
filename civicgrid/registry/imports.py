"""Bulk import of people from the .xlsx template (B4/X3).

How an import runs (``run_import``, in the task queue):

1. **Check** (no writes except the job's progress): stream the sheet with openpyxl ``read_only``, clean
   every row with the services' validation helpers (``clean_document``, ``clean_phone``, the ID's birth
   date and sex, ``pinyin_of``, the model's field validation), check the file as a whole (duplicate
   document numbers, one house per household, one head per household), check each grid against the
   importer's scope and each known document number against the registry (a person registered outside
   the importer's scope is an error). Valid rows are spilled, in chunks, to a temporary file; only the
   per-row keys needed for the whole-file checks stay in memory. Progress is committed every chunk.
2. **Write**, chunk by chunk: places are found (the same names in the same grid are the same place)
   or created — compounds, buildings, houses and households in bulk, with the fields, field
   validation, scope rules (``registry.add_<place>`` over the grid) and change-log rows that
   ``compound_create`` … ``household_create`` would give them; new people are inserted in bulk with
   their ``registered`` event, tags, household head and change-log rows, as ``person_register`` writes
   them; people already registered are changed through the services themselves (``person_update``,
   ``person_change_house`` / ``person_move_in``, ``person_set_tags``), so each change is validated,
   logged and recorded in the person's history. Unchanged people are left alone.

   Bulk writes (``bulk_insert``, ``bulk_log_changes``) reserve primary keys first and use one prepared
   statement per table: the ORM's per-value overhead would otherwise dominate (measured: 100,000 new
   people in about 76 s on SQLite, against several minutes row by row). Updates go through the
   services row by row (about 200 changed people a second on SQLite); unchanged rows cost little.

Modes: *all or nothing* writes the whole file in one transaction (the job's final status commits with
it, so a crash leaves nothing and the job stays ``running`` until it is retried); any error rejects
the file and nothing is written. *Valid rows* commits chunk by chunk (progress and counters commit with
each chunk) and reports the bad rows.

Idempotency (re-running a crashed job, or importing the same people again): a row with a document
number matches the person with that number (blind index); a row without one matches a person without
a document who has the same name and house (or the same name in the same grid when there is no
house). A match is updated, never duplicated.

Progress on SQLite: while the all-or-nothing write transaction holds the database's write lock nothing
else can be committed, so the job shows an indeterminate "importing" state until it commits; the check
phase and the valid-rows mode report real progress.

Stale jobs (the worker died): a job ``running`` with no progress for ``STALE_AFTER`` (or ``pending``
that long) is picked up again by ``resume_stale_imports`` (a periodic task) and restarts cleanly.
"""

from __future__ import annotations

import logging
import pickle
import re
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from civicgrid.areas.choices import AreaLevel
from civicgrid.areas.models import Area
from civicgrid.core import context, scope
from civicgrid.core.audit import log_changes, serialize_instance
from civicgrid.core.bulk import bulk_insert
from civicgrid.core.models.audit import ChangeAction
from civicgrid.core.validators import resident_id_birth_date, resident_id_sex

from . import services
from .choices import HouseUse, IdKind, PersonEventKind, PersonStatus, PersonType, Relation
from .models import Building, Compound, House, Household, ImportJob, Person, PersonEvent, PersonTag, Tag
from .models.jobs import ImportMode, JobStatus
from .selectors import visible_tags
from .spreadsheets import (
    ALIASES,
    COLUMNS_BY_KEY,
    MAX_FILE_BYTES,
    MAX_ROWS,
    FileRejected,
    RowError,
    cell_text,
    is_formula,
    iter_rows,
    open_workbook,
    people_sheet,
    read_layout,
    write_error_workbook,
)

logger = logging.getLogger(__name__)

#: Rows per batch: lookups, bulk inserts, progress updates and (valid-rows mode) transactions.
CHUNK = 1000
#: A running job without progress for this long is taken for dead and restarted.
STALE_AFTER = timedelta(minutes=15)

IMPORT_PERM = "registry.import_person"
#: File fields of the job models (left out of their change-log snapshots).
FILE_FIELDS = ("source", "error_file", "result")
ADD_PERM = "registry.add_person"

#: Service error keys → template column (errors from the services name model fields).
FIELD_COLUMNS = {
    "name": "name",
    "person": "name",
    "id_kind": "id_kind",
    "id_number": "id_number",
    "person_type": "person_type",
    "phone": "phone",
    "sex": "sex",
    "birth_date": "birth_date",
    "ethnicity": "ethnicity",
    "nationality": "nationality",
    "area": "grid",
    "location": "grid",
    "compound": "compound",
    "building": "building",
    "unit_no": "unit",
    "room_no": "room",
    "house": "room",
    "use": "house_use",
    "household": "household",
    "number": "household",
    "relation": "relation",
    "tags": "tags",
    "note": "note",
}

#: Country names staff type instead of ISO codes.
COUNTRY_NAMES = {
    "中国": "CN",
    "中华人民共和国": "CN",
    "中国香港": "HK",
    "香港": "HK",
    "中国澳门": "MO",
    "澳门": "MO",
    "中国台湾": "TW",
    "台湾": "TW",
    "美国": "US",
    "英国": "GB",
    "法国": "FR",
    "德国": "DE",
    "日本": "JP",
    "韩国": "KR",
    "朝鲜": "KP",
    "俄罗斯": "RU",
    "越南": "VN",
    "老挝": "LA",
    "缅甸": "MM",
    "泰国": "TH",
    "柬埔寨": "KH",
    "马来西亚": "MY",
    "新加坡": "SG",
    "印度尼西亚": "ID",
    "菲律宾": "PH",
    "印度": "IN",
    "巴基斯坦": "PK",
    "加拿大": "CA",
    "澳大利亚": "AU",
    "新西兰": "NZ",
    "意大利": "IT",
    "西班牙": "ES",
    "巴西": "BR",
    "尼日利亚": "NG",
}
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")
TAG_SEPARATORS = re.compile(r"[,，、;；\s]+")


class _Abort(Exception):
    """All-or-nothing mode found errors while writing: roll the whole file back."""


# ---- starting, resuming -----------------------------------------------------------------------


def job_area(actor, perm: str) -> Area:
    """The area a job record belongs to: the actor's first post holding ``perm`` (else any post,
    else — for a superuser without posts — the top of the area tree)."""
    from civicgrid.accounts.models import Post

    app_label, codename = perm.split(".")
    posts = Post.objects.filter(user=actor, is_active=True).select_related("area").order_by("id")
    post = (
        posts.filter(
            role__permissions__codename=codename, role__permissions__content_type__app_label=app_label
        ).first()
        or posts.first()
    )
    if post is not None:
        return post.area
    return Area.objects.filter(parent__isnull=True).order_by("scope_code").first()


@transaction.atomic
def import_start(*, actor, upload, mode: str = ImportMode.ALL_OR_NOTHING, language: str | None = None):
    """Store an uploaded workbook as an import job and queue it (after commit)."""
    if not actor.has_perm(IMPORT_PERM):
        raise PermissionDenied(_("Your role does not include importing people."))
    if mode not in ImportMode.values:
        raise ValidationError({"mode": _("Choose how to import.")})
    if upload.size > MAX_FILE_BYTES:
        raise ValidationError(
            {
                "file": _("The file is larger than %(mb)s MB; split it into smaller files.")
                % {"mb": MAX_FILE_BYTES // (1024 * 1024)}
            }
        )
    job = ImportJob(
        kind="people",
        mode=mode,
        original_name=(upload.name or "upload.xlsx")[:200],
        area=job_area(actor, IMPORT_PERM),
        created_by=actor,
    )
    # core.audit.serialize_instance cannot serialise FieldFile values yet: keep file fields out of
    # this job's change-log snapshot (the file name is not worth logging anyway).
    job.audit_exclude = FILE_FIELDS
    job.source.save(f"people-{uuid.uuid4().hex}.xlsx", upload, save=False)
    job.full_clean()
    job.save()
    _enqueue(job, language)
    return job


def _enqueue(job: ImportJob, language: str | None) -> None:
    from .tasks import import_people

    request_id = context.current().request_id or context.new_request_id()
    language = language or translation.get_language()
    transaction.on_commit(lambda: import_people(job.pk, language=language, request_id=request_id))


def import_retry(*, actor, job: ImportJob, language: str | None = None) -> ImportJob:
    """Run a failed (or stuck) import of ``actor``'s again; it starts over, without duplicates."""
    if job.created_by_id != actor.pk:
        raise PermissionDenied(_("This is not your import."))
    if not is_retryable(job):
        raise ValidationError(_("Only a failed or stuck import can be run again."))
    with transaction.atomic():
        _enqueue(job, language)
    return job


def is_retryable(job: ImportJob) -> bool:
    if not job.source:  # its file was deleted (registry.retention)
        return False
    if job.status == JobStatus.FAILED:
        return True
    return (
        job.status in (JobStatus.PENDING, JobStatus.RUNNING) and job.updated_at < timezone.now() - STALE_AFTER
    )


def resume_stale_imports() -> list[int]:
    """Restart imports whose worker died (running without progress) or whose task was lost (pending)."""
    stale = ImportJob.objects.filter(
        status__in=[JobStatus.PENDING, JobStatus.RUNNING], updated_at__lt=timezone.now() - STALE_AFTER
    ).values_list("pk", flat=True)
    resumed = []
    from .tasks import import_people

    for job_id in stale:
        logger.warning("import %s looks abandoned; running it again", job_id)
        import_people(job_id)
        resumed.append(job_id)
    return resumed


def _claim(job_id: int) -> ImportJob | None:
    """Mark the job running, unless it is finished or another worker is running it right now."""
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None or job.status in (JobStatus.DONE, JobStatus.REJECTED):
        return None
    if job.status == JobStatus.RUNNING and job.updated_at >= timezone.now() - STALE_AFTER:
        return None  # alive elsewhere
    now = timezone.now()
    claimed = ImportJob.objects.filter(pk=job_id, status=job.status, updated_at=job.updated_at).update(
        status=JobStatus.RUNNING,
        started_at=now,
        finished_at=None,
        updated_at=now,
        processed_rows=0,
        error_count=0,
        message=_("Checking the rows…"),
    )
    if not claimed:
        return None
    job.refresh_from_db()
    return job


def run_import(
    job_id: int, *, language: str | None = None, request_id: str | None = None
) -> ImportJob | None:
    """Run (or re-run) an import job to its end. Never raises: failures are recorded on the job."""
    job = _claim(job_id)
    if job is None:
        return None
    actor = job.created_by
    with (
        translation.override(language or settings.LANGUAGE_CODE),
        context.acting_as(actor, request_id=request_id),
    ):
        try:
            PeopleImport(job, actor).run()
        except Exception:
            logger.exception("import %s failed", job_id)
            if job.mode == ImportMode.ALL_OR_NOTHING:
                message = _(
                    "The import stopped because of an internal error; nothing was saved. Run it again."
                )
            else:
                message = _(
                    "The import stopped because of an internal error. The rows saved so far stay; "
                    "running it again continues without duplicating anyone."
                )
            _set(job, status=JobStatus.FAILED, message=message[:500], finished_at=timezone.now())
    job.refresh_from_db()
    return job


def _set(job: ImportJob, **fields) -> None:
    fields.setdefault("updated_at", timezone.now())
    ImportJob.objects.filter(pk=job.pk).update(**fields)
    for name, value in fields.items():
        setattr(job, name, value)


# ---- rows -----------------------------------------------------------------------------------------


@dataclass(slots=True)
class PersonRow:
    """A cleaned, valid row (spilled to disk between the check and the write phase)."""

    row: int
    name: str
    name_pinyin: str
    name_initials: str
    id_kind: str
    id_number: str
    id_index: str | None
    person_type: str
    phone: str
    sex: str
    birth_date: date | None
    ethnicity: str
    nationality: str
    grid_id: int
    compound: str
    building: str
    unit: str
    room: str
    house_use: str
    household: str
    relation: str
    tag_ids: tuple[int, ...]
    note: str
    given: frozenset[str]

    @property
    def house_key(self) -> tuple[str, str, str, str] | None:
        return (self.compound, self.building, self.unit, self.room) if self.room else None


def _choice(key: str, text: str, default: str = "") -> str:
    if not text:
        return default
    column = COLUMNS_BY_KEY[key]
    if text in column.choices:
        return column.choices[text]
    if text in ALIASES.get(key, {}):
        return ALIASES[key][text]
    values = set(column.choices.values())
    if text in values or text.lower() in values:
        return text if text in values else text.lower()
    raise ValidationError(
        _("“%(value)s” is not allowed; choose one of: %(choices)s.")
        % {"value": text[:30], "choices": "、".join(column.choices)}
    )


def _parse_date(text: str) -> date:
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValidationError(_("This is not a date; write it like 1985-06-15."))


def clean_model_fields(model, **values) -> list[tuple[str, str]]:
    """(field, message) for each value its model field refuses, as ``Model.clean_fields`` checks it
    (blank values of blank-able fields are skipped there too)."""
    problems = []
    for name, value in values.items():
        field = model._meta.get_field(name)
        if field.blank and value in field.empty_values:
            continue
        try:
            field.clean(value, None)
        except ValidationError as exc:
            problems.extend((name, m) for m in exc.messages)
    return problems


def _messages(exc: ValidationError) -> list[tuple[str, str]]:
    """(field, message) pairs of a service's ValidationError."""
    if hasattr(exc, "error_dict"):
        return [(f, m) for f, msgs in exc.message_dict.items() for m in msgs]
    return [("", m) for m in exc.messages]


class Spill:
    """Valid rows, pickled chunk by chunk to an anonymous temporary file (our own data, read back by
    the same process), so the write phase need not parse the workbook again nor hold every row."""

    def __init__(self):
        self.file = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        self.chunks = 0
        self.rows = 0

    def add(self, rows: list[PersonRow]) -> None:
        if rows:
            pickle.dump(rows, self.file, protocol=pickle.HIGHEST_PROTOCOL)
            self.chunks += 1
            self.rows += len(rows)

    def __iter__(self) -> Iterator[list[PersonRow]]:
        self.file.seek(0)
        for _i in range(self.chunks):
            yield pickle.load(self.file)  # noqa: S301 (written above by this process)

    def close(self) -> None:
        self.file.close()


# ---- the import ------------------------------------------------------------------------------------


class PeopleImport:
    def __init__(self, job: ImportJob, actor):
        self.job = job
        self.actor = actor
        self.mode = job.mode
        self.errors: list[RowError] = []
        self.bad_rows: set[int] = set()
        self.total = 0
        self.layout = None
        # grid code -> Area (or an error message)
        self.grids: dict[str, Area | str] = {}
        self.grids_by_id: dict[int, Area] = {}
        self.perm_cache: dict[tuple[str, str], bool] = {}
        tags = list(visible_tags(actor)) if actor is not None else list(Tag.objects.all())
        self.tags = {t.pk: t for t in tags}
        self.tag_lookup = {t.name: t.pk for t in tags} | {t.code.lower(): t.pk for t in tags}
        # whole-file checks
        self.seen_documents: dict[str, int] = {}
        self.seen_people: dict[tuple, int] = {}
        self.seen_households: dict[tuple[int, str], tuple[tuple | None, int]] = {}
        self.seen_heads: dict[tuple[int, str], int] = {}
        self.created = self.updated = self.unchanged = 0

    # -- helpers

    def covers(self, perm: str, area: Area) -> bool:
        key = (perm, area.scope_code)
        if key not in self.perm_cache:
            self.perm_cache[key] = self.actor is None or scope.covers_area(self.actor, perm, area.scope_code)
        return self.perm_cache[key]

    def header(self, key: str) -> str:
        if not key:
            return ""
        return self.layout.headers.get(key) or COLUMNS_BY_KEY[key].zh

    def add_error(self, row: int, key: str, reason: str, name: str = "") -> None:
        self.errors.append(RowError(row, self.header(key), str(reason), name[:50]))
        self.bad_rows.add(row)

    def add_validation_error(self, row: int, exc: ValidationError | PermissionDenied, name: str) -> None:
        if isinstance(exc, PermissionDenied):
            self.add_error(row, "", str(exc) or _("This is outside your data scope."), name)
            return
        for field, message in _messages(exc):
            self.add_error(row, FIELD_COLUMNS.get(field, ""), message, name)

    def grid(self, code: str) -> Area | str:
        if code not in self.grids:
            area = Area.objects.filter(code=code).first()
            if area is None:
                result: Area | str = _("No grid has the code %(code)s.") % {"code": code}
            elif area.level != AreaLevel.GRID:
                result = _("%(code)s is not the code of a unit grid.") % {"code": code}
            elif not (self.covers(IMPORT_PERM, area) and self.covers(ADD_PERM, area)):
                result = _("The grid %(code)s is outside your data scope.") % {"code": code}
            else:
                result = area
                self.grids_by_id[area.pk] = area
            self.grids[code] = result
        return self.grids[code]

    # -- phase 1: check

    def clean_row(self, number: int, raw: dict) -> PersonRow | None:
        problems: list[tuple[str, str]] = []
        given = set()

        def text(key: str) -> str:
            value = raw.get(key)
            if value is None:
                return ""
            if is_formula(value):
                problems.append((key, _("Formulas are not allowed; type the value itself.")))
                return ""
            column = COLUMNS_BY_KEY[key]
            try:
                result = cell_text(value, text_only=column.text)
            except ValueError:
                problems.append(
                    (
                        key,
                        _(
                            "Excel has rounded this long number. Format the column as text and type "
                            "the number again."
                        ),
                    )
                )
                return ""
            if column.max_length and len(result) > column.max_length:
                problems.append(
                    (
                        key,
                        _("Too long: %(n)s characters, at most %(max)s are allowed.")
                        % {"n": len(result), "max": column.max_length},
                    )
                )
                return ""
            if result:
                given.add(key)
            return result

        def choice(key: str, default: str = "") -> str:
            try:
                return _choice(key, text(key), default)
            except ValidationError as exc:
                problems.append((key, exc.messages[0]))
                return default

        name = text("name")
        if not name and "name" not in {k for k, _m in problems}:
            problems.append(("name", _("A name is required.")))
        id_kind = choice("id_kind", IdKind.RESIDENT_ID)
        person_type = choice("person_type", PersonType.REGISTERED)
        if person_type == PersonType.FOREIGN and id_kind == IdKind.RESIDENT_ID:
            problems.append(("id_kind", _("Overseas people are registered with a passport or permit.")))
        sex = choice("sex")
        birth_text = text("birth_date")
        birth_date = None
        if birth_text:
            try:
                birth_date = _parse_date(birth_text)
            except ValidationError as exc:
                problems.append(("birth_date", exc.messages[0]))
        id_number, id_index = text("id_number"), None
        if id_number:
            try:
                id_number = services.clean_document(id_kind, id_number)
            except ValidationError as exc:
                problems.extend(_messages(exc))
                id_number = ""
            else:
                id_index = services.document_index(id_number)
                if id_kind == IdKind.RESIDENT_ID:
                    derived_birth, derived_sex = resident_id_birth_date(id_number), resident_id_sex(id_number)
                    if birth_date and birth_date != derived_birth:
                        problems.append(("birth_date", _("The date of birth does not match the ID number.")))
                    if sex and sex != derived_sex:
                        problems.append(("sex", _("The sex does not match the ID number.")))
                    birth_date, sex = derived_birth, derived_sex
        phone = text("phone")
        if phone:
            try:
                phone = services.clean_phone(phone)
            except ValidationError as exc:
                problems.extend(_messages(exc))
        ethnicity = text("ethnicity")
        nationality = text("nationality")
        if nationality:
            code = COUNTRY_NAMES.get(nationality) or nationality.upper()
            if not re.fullmatch(r"[A-Z]{2,3}", code):
                problems.append(("nationality", _("Give an ISO 3166 country code such as CN.")))
            nationality = code
        grid_code, grid = text("grid"), None
        if not grid_code and "grid" not in {k for k, _m in problems}:
            problems.append(("grid", _("The grid code is required.")))
        elif grid_code:
            found = self.grid(grid_code)
            if isinstance(found, str):
                problems.append(("grid", found))
            else:
                grid = found
        compound, building, unit, room = text("compound"), text("building"), text("unit"), text("room")
        if room and not building:
            problems.append(("building", _("A room needs its building.")))
        elif (compound or building or unit) and not room:
            problems.append(("room", _("Give the room number, or leave the address columns empty.")))
        house_use = choice("house_use", HouseUse.OWNER)
        household = text("household")
        relation = choice("relation")
        tag_ids: list[int] = []
        for tag_name in TAG_SEPARATORS.split(text("tags")):
            if not tag_name:
                continue
            tag_id = self.tag_lookup.get(tag_name) or self.tag_lookup.get(tag_name.lower())
            if tag_id is None:
                problems.append(("tags", _("Unknown tag “%(tag)s”.") % {"tag": tag_name[:30]}))
            elif tag_id not in tag_ids:
                tag_ids.append(tag_id)
        note = text("note")

        if not problems:
            # The model's own field validation (what ``full_clean`` runs in the services), field by
            # field: building a throw-away Person per row would cost more than the rest of the check.
            problems.extend(
                clean_model_fields(
                    Person,
                    name=name,
                    person_type=person_type,
                    id_kind=id_kind,
                    id_number=id_number,
                    nationality=nationality,
                    sex=sex,
                    birth_date=birth_date,
                    ethnicity=ethnicity,
                    phone=phone,
                    relation=relation,
                    note=note,
                )
            )

        # Whole-file checks: a later row is reported against the earlier one.
        if id_index:
            first = self.seen_documents.setdefault(id_index, number)
            if first != number:
                problems.append(
                    ("id_number", _("The same document number is already in row %(row)s.") % {"row": first})
                )
        address_ok = not any(k in ("compound", "building", "unit", "room") for k, _m in problems)
        house_key = (compound, building, unit, room) if room and address_ok else None
        if grid is not None and not id_number and name:
            first = self.seen_people.setdefault((grid.pk, name, house_key), number)
            if first != number:
                problems.append(
                    (
                        "name",
                        _(
                            "The same person (same name and house, no document number) is already in "
                            "row %(row)s."
                        )
                        % {"row": first},
                    )
                )
        if grid is not None and household:
            key = (grid.pk, household)
            other_house, first = self.seen_households.setdefault(key, (house_key, number))
            if house_key is not None and other_house is None:
                self.seen_households[key] = (house_key, first)
            elif house_key is not None and other_house != house_key:
                problems.append(
                    (
                        "household",
                        _("Household %(number)s is in another house in row %(row)s.")
                        % {"number": household, "row": first},
                    )
                )
            if relation == Relation.HEAD:
                first_head = self.seen_heads.setdefault(key, number)
                if first_head != number:
                    problems.append(
                        (
                            "relation",
                            _("Household %(number)s already has its head in row %(row)s.")
                            % {"number": household, "row": first_head},
                        )
                    )
        if problems:
            for key, message in problems:
                self.add_error(number, key, message, name)
            return None
        pinyin, initials = services.pinyin_of(name)
        return PersonRow(
            row=number,
            name=name,
            name_pinyin=pinyin,
            name_initials=initials,
            id_kind=id_kind,
            id_number=id_number,
            id_index=id_index,
            person_type=person_type,
            phone=phone,
            sex=sex,
            birth_date=birth_date,
            ethnicity=ethnicity,
            nationality=nationality,
            grid_id=grid.pk,
            compound=compound,
            building=building,
            unit=unit,
            room=room,
            house_use=house_use,
            household=household,
            relation=relation,
            tag_ids=tuple(tag_ids),
            note=note,
            given=frozenset(given),
        )

    def check_registered(self, rows: list[PersonRow]) -> list[PersonRow]:
        """Drop (as errors) rows whose document number belongs to someone outside the importer's scope."""
        indexes = {r.id_index for r in rows if r.id_index}
        if not indexes:
            return rows
        known = set(Person.objects.filter(id_index__in=indexes).values_list("id_index", flat=True))
        if not known:
            return rows
        mine = set(self._changeable().filter(id_index__in=known).values_list("id_index", flat=True))
        kept = []
        for row in rows:
            if row.id_index in known and row.id_index not in mine:
                self.add_error(row.row, "id_number", self.elsewhere_message(), row.name)
            else:
                kept.append(row)
        return kept

    @staticmethod
    def elsewhere_message() -> str:
        return _("This person is already registered elsewhere, outside your data scope.")

    def _changeable(self):
        return Person.objects.visible_to(self.actor, "change") if self.actor else Person.objects.all()

    def check(self, spill: Spill) -> None:
        job = self.job
        source = job.source
        with source.open("rb") as stored, tempfile.TemporaryFile() as local:
            for block in iter(lambda: stored.read(1024 * 1024), b""):
                local.write(block)
                if local.tell() > MAX_FILE_BYTES:
                    break
            size = local.tell()
            workbook = open_workbook(local, size)
            try:
                ws = people_sheet(workbook)
                self.layout = read_layout(ws)
                estimate = max(0, (ws.max_row or 0) - self.layout.first_data_row + 1)
                _set(job, total_rows=min(estimate, MAX_ROWS))
                # The used range a file declares is a hint for the progress bar only: files written
                # by other programs may declare too few rows, and read-only mode stops where the
                # declared range ends. Read every row there is.
                ws.reset_dimensions()
                buffer: list[PersonRow] = []
                for number, raw in iter_rows(ws, self.layout):
                    self.total += 1
                    if self.total > MAX_ROWS:
                        raise FileRejected(
                            _("The file has more than %(n)s rows; split it into smaller files.")
                            % {"n": f"{MAX_ROWS:,}"}
                        )
                    row = self.clean_row(number, raw)
                    if row is not None:
                        buffer.append(row)
                    if self.total % CHUNK == 0:
                        spill.add(self.check_registered(buffer))
                        buffer = []
                        _set(job, processed_rows=self.total, total_rows=max(job.total_rows, self.total))
                spill.add(self.check_registered(buffer))
            finally:
                workbook.close()
        if self.total == 0:
            raise FileRejected(_("The file has no data rows."))
        _set(job, processed_rows=self.total, total_rows=self.total, error_count=len(self.bad_rows))

    # -- phase 2: write

    def run(self) -> None:
        job = self.job
        spill = Spill()
        try:
            try:
                self.check(spill)
            except FileRejected as exc:
                _set(job, status=JobStatus.REJECTED, message=exc.message[:500], finished_at=timezone.now())
                return
            if self.mode == ImportMode.ALL_OR_NOTHING and self.errors:
                self.finish(JobStatus.REJECTED)
                return
            if spill.rows == 0:
                self.finish(JobStatus.REJECTED)
                return
            _set(job, processed_rows=0, message=_("Importing…"))
            writer = Writer(self)
            if self.mode == ImportMode.ALL_OR_NOTHING:
                try:
                    with transaction.atomic():
                        for chunk in spill:
                            writer.write(chunk)
                        if self.errors:
                            raise _Abort
                        self.finish(JobStatus.DONE)
                except _Abort:
                    self.created = self.updated = self.unchanged = 0
                    self.finish(JobStatus.REJECTED)
            else:
                done = 0
                for chunk in spill:
                    with transaction.atomic():
                        created, updated = self.created, self.updated
                        writer.write(chunk)
                        done += len(chunk)
                        _set(
                            job,
                            processed_rows=done,
                            created_count=F("created_count") + (self.created - created),
                            updated_count=F("updated_count") + (self.updated - updated),
                        )
                self.finish(JobStatus.DONE)
        finally:
            spill.close()

    def finish(self, status: str) -> None:
        job = self.job
        error_rows = len(self.bad_rows)
        fields = {
            "status": status,
            "error_count": error_rows,
            "processed_rows": self.total,
            "total_rows": self.total,
            "finished_at": timezone.now(),
        }
        if self.mode == ImportMode.ALL_OR_NOTHING:
            fields.update(created_count=self.created, updated_count=self.updated)
        if status == JobStatus.REJECTED:
            message = _(
                "%(bad)s of %(total)s rows have errors; nothing was imported. Download the error report, "
                "correct the rows and upload the file again."
            ) % {"bad": error_rows, "total": self.total}
        else:
            job.refresh_from_db(fields=["created_count", "updated_count"])
            message = _(
                "Imported %(total)s rows: %(created)s new, %(updated)s updated, %(unchanged)s unchanged, "
                "%(bad)s rows with errors."
            ) % {
                "total": self.total,
                "created": fields.get("created_count", job.created_count),
                "updated": fields.get("updated_count", job.updated_count),
                "unchanged": self.unchanged,
                "bad": error_rows,
            }
        fields["message"] = message[:500]
        if self.errors:
            fields["error_file"] = self.save_error_file()
        _set(job, **fields)

    def save_error_file(self) -> str:
        errors = sorted(self.errors, key=lambda e: e.row)
        with tempfile.TemporaryFile() as out:
            write_error_workbook(errors, out)
            out.seek(0)
            # An unguessable name: the report repeats personal data of the upload.
            filename = f"import-{self.job.pk}-errors-{uuid.uuid4().hex}.xlsx"
            name = self.job.error_file.field.generate_filename(self.job, filename)
            return self.job.error_file.storage.save(name, File(out, name=name))


# ---- writing ------------------------------------------------------------------------------------


#: Rows per UPDATE statement on PostgreSQL (see ``Writer._set_heads``).
PG_ROWS_PER_STATEMENT = 500


def bulk_log_changes(objects: list, action: str = ChangeAction.CREATE, befores: list | None = None) -> None:
    """Change-log rows for objects written in bulk: ``befores`` (or none) and each object's
    ``serialize_instance`` snapshot after."""
    befores = befores or [None] * len(objects)
    log_changes(
        (obj, action, before, serialize_instance(obj)) for obj, before in zip(objects, befores, strict=True)
    )


class Places:
    """Compounds, buildings, houses, households and document-less people of the grids touched, loaded
    once per grid. Cleared whenever a write is rolled back (its new ids may be gone)."""

    def __init__(self):
        self.clear()

    def clear(self) -> None:
        self.loaded: set[int] = set()
        self.compounds: dict[tuple[int, str], Compound] = {}
        self.buildings: dict[tuple[int, int | None, str], Building] = {}
        self.houses: dict[tuple[int, str, str], int] = {}
        self.addresses: dict[int, str] = {}
        self.households: dict[tuple[int, str], list] = {}
        self.nameless: dict[tuple[int, str, int | None], int] = {}

    def load(self, grid: Area) -> None:
        if grid.pk in self.loaded:
            return
        for compound in Compound.objects.filter(area=grid).order_by("-id"):
            self.compounds[(grid.pk, compound.name)] = compound
        by_id = {c.pk: c for (g, _n), c in self.compounds.items() if g == grid.pk}
        for building in Building.objects.filter(area=grid).order_by("-id"):
            if building.compound_id:
                building.compound = by_id.get(building.compound_id) or building.compound
            self.buildings[(grid.pk, building.compound_id, building.name)] = building
        rows = House.objects.filter(area=grid).values_list(
            "building_id", "unit_no", "room_no", "id", "address"
        )
        for building_id, unit, room, house_id, address in rows:
            self.houses[(building_id, unit, room)] = house_id
            self.addresses[house_id] = address
        households = (
            Household.objects.filter(area=grid)
            .exclude(number="")
            .order_by("-id")
            .values_list("number", "id", "house_id", "head_id")
        )
        for number, household_id, house_id, head_id in households:
            self.households[(grid.pk, number)] = [household_id, house_id, head_id]
        people = (
            Person.objects.filter(area=grid, id_index__isnull=True)
            .order_by("-id")
            .values_list("name", "house_id", "id")
        )
        for name, house_id, person_id in people:
            self.nameless[(grid.pk, name, house_id)] = person_id
        self.loaded.add(grid.pk)


@dataclass
class Placed:
    row: PersonRow
    grid: Area
    house_id: int | None = None
    household_id: int | None = None


class Writer:
    def __init__(self, run: PeopleImport):
        self.run = run
        self.actor = run.actor
        self.places = Places()
        self.visible_tag_ids = set(run.tags)

    def write(self, rows: list[PersonRow]) -> None:
        """Write one chunk in a savepoint; if it collides with data written meanwhile (a unique key),
        retry it row by row so that only the colliding rows fail."""
        run = self.run
        state = (len(run.errors), set(run.bad_rows), run.created, run.updated, run.unchanged)
        try:
            with transaction.atomic():
                self._write(rows)
            return
        except IntegrityError:
            self.places.clear()
            del run.errors[state[0] :]
            run.bad_rows, run.created, run.updated, run.unchanged = state[1], state[2], state[3], state[4]
        for row in rows:
            try:
                with transaction.atomic():
                    self._write([row])
            except IntegrityError:
                self.places.clear()
                run.add_error(
                    row.row,
                    "id_number",
                    _("This row collides with a record saved at the same time; import it again."),
                    row.name,
                )

    def _fail(self, placed_or_row, exc) -> None:
        row = placed_or_row.row if isinstance(placed_or_row, Placed) else placed_or_row
        self.run.add_validation_error(row.row, exc, row.name)

    # -- places

    def _ensure(self, items: list[Placed], key_of, make, store) -> list[Placed]:
        """Find or create one kind of place for each item: ``key_of(item)`` is its cache key (None: the
        row needs none), ``make(item)`` builds and validates a new one (a ValidationError fails the
        row), ``store(key, obj)`` caches the saved ones. New places are inserted in bulk and
        change-logged. Returns the items whose place now exists."""
        new: dict = {}
        kept = []
        for item in items:
            key = key_of(item)
            if key is not None and not store(key, None) and key not in new:
                try:
                    new[key] = make(item)
                except ValidationError as exc:
                    self._fail(item, exc)
                    continue
            kept.append(item)
        if new:
            objects = list(new.values())
            bulk_insert(objects)
            bulk_log_changes(objects)
            for key, obj in new.items():
                store(key, obj)
        return kept

    def _require(self, perm: str, grid: Area, field: str) -> None:
        """The services' scope rule for creating a place (``_require_scope``)."""
        if not self.run.covers(perm, grid):
            raise ValidationError({field: _("This is outside your data scope.")})

    def _new_place(self, model, item: Placed, perm: str, field: str, exclude: list[str], **fields):
        self._require(perm, item.grid, field)
        obj = model(area=item.grid, area_code=item.grid.scope_code, created_by=self.actor, **fields)
        obj.clean_fields(exclude=["area", "area_code", "created_by", *exclude])
        return obj

    def _place(self, rows: list[PersonRow]) -> list[Placed]:
        """Each row's grid, house and household, creating missing compounds, buildings, houses and
        households (the same fields, validation, scope rules and change-log rows as the services'
        ``*_create``, in bulk)."""
        run, places = self.run, self.places
        items = []
        for row in rows:
            grid = run.grids_by_id[row.grid_id]
            places.load(grid)
            items.append(Placed(row, grid))
        housed = [i for i in items if i.row.room]
        plain = [i for i in items if not i.row.room]

        def compound_key(item):
            return (item.grid.pk, item.row.compound) if item.row.compound else None

        def store_compound(key, obj):
            if obj is not None:
                places.compounds[key] = obj
            return key in places.compounds

        housed = self._ensure(
            housed,
            compound_key,
            lambda item: self._new_place(
                Compound, item, "registry.add_compound", "compound", [], name=item.row.compound
            ),
            store_compound,
        )

        def compound_of(item):
            key = compound_key(item)
            return places.compounds[key] if key else None

        def building_key(item):
            compound = compound_of(item)
            return (item.grid.pk, compound.pk if compound else None, item.row.building)

        def store_building(key, obj):
            if obj is not None:
                places.buildings[key] = obj
            return key in places.buildings

        housed = self._ensure(
            housed,
            building_key,
            lambda item: self._new_place(
                Building,
                item,
                "registry.add_building",
                "building",
                ["compound"],
                name=item.row.building,
                compound=compound_of(item),
            ),
            store_building,
        )

        def house_key(item):
            return (places.buildings[building_key(item)].pk, item.row.unit, item.row.room)

        def store_house(key, obj):
            if obj is not None:
                places.houses[key] = obj.pk
                places.addresses[obj.pk] = obj.address
            return key in places.houses

        def make_house(item):
            building = places.buildings[building_key(item)]
            return self._new_place(
                House,
                item,
                "registry.add_house",
                "building",
                ["building"],
                building=building,
                unit_no=item.row.unit,
                room_no=item.row.room,
                use=item.row.house_use,
                address=services.house_address(building, item.row.unit, item.row.room),
            )

        housed = self._ensure(housed, house_key, make_house, store_house)
        for item in housed:
            item.house_id = places.houses[house_key(item)]
        placed = sorted(plain + housed, key=lambda i: i.row.row)
        return self._households(placed)

    def _households(self, placed: list[Placed]) -> list[Placed]:
        """Households by number within the grid; a household found in another house is an error
        (as ``_place_person`` in the services); a person without an address lives in the
        household's house."""
        places = self.places
        self.fresh_households: dict[int, Household] = {}

        def key_of(item):
            return (item.grid.pk, item.row.household) if item.row.household else None

        def store(key, obj):
            if obj is not None:
                places.households[key] = [obj.pk, obj.house_id, None]
                self.fresh_households[obj.pk] = obj
            return key in places.households

        def make(item):
            return self._new_place(
                Household,
                item,
                "registry.add_household",
                "house",
                ["house", "head"],
                number=item.row.household,
                house_id=item.house_id,
            )

        kept = []
        for item in self._ensure(placed, key_of, make, store):
            key = key_of(item)
            if key is not None:
                household_id, house_id, _head = places.households[key]
                if item.house_id is not None and house_id not in (None, item.house_id):
                    self._fail(
                        item, ValidationError({"household": _("The household lives in another house.")})
                    )
                    continue
                item.household_id = household_id
                if item.house_id is None:
                    item.house_id = house_id
            kept.append(item)
        return kept

    # -- people

    def _write(self, rows: list[PersonRow]) -> None:
        run = self.run
        placed = self._place(rows)
        indexes = {p.row.id_index for p in placed if p.row.id_index}
        registered: dict[str, Person] = {}
        elsewhere: set[str] = set()
        if indexes:
            registered = {
                p.id_index: p for p in run._changeable().filter(id_index__in=indexes).select_related("area")
            }
            rest = indexes - set(registered)
            if rest:
                elsewhere = set(Person.objects.filter(id_index__in=rest).values_list("id_index", flat=True))
        nameless_ids = {}
        for item in placed:
            row = item.row
            if not row.id_index:
                person_id = self.places.nameless.get((item.grid.pk, row.name, item.house_id))
                if person_id:
                    nameless_ids[row.row] = person_id
        nameless = {}
        if nameless_ids:
            nameless = {
                p.pk: p
                for p in run._changeable().filter(pk__in=set(nameless_ids.values())).select_related("area")
            }
        current_tags: dict[int, set[int]] = {}
        matched = [p.pk for p in registered.values()] + list(nameless)
        if matched:
            for person_id, tag_id in PersonTag.objects.filter(person_id__in=matched).values_list(
                "person_id", "tag_id"
            ):
                current_tags.setdefault(person_id, set()).add(tag_id)
        new_people: list[Person] = []
        new_items: list[Placed] = []
        heads: dict[int, int] = {}
        for item in placed:
            row = item.row
            if row.id_index in elsewhere or (
                row.row in nameless_ids and nameless_ids[row.row] not in nameless
            ):
                self._fail(item, ValidationError({"id_number": run.elsewhere_message()}))
                continue
            existing = (
                registered.get(row.id_index) if row.id_index else nameless.get(nameless_ids.get(row.row))
            )
            if existing is not None:
                plan = self._plan_update(existing, item, current_tags.get(existing.pk, set()))
                if plan is None:
                    run.unchanged += 1
                else:
                    try:
                        with transaction.atomic():
                            self._update(existing, item, *plan)
                    except (ValidationError, PermissionDenied) as exc:
                        self._fail(item, exc)
                        continue
                    run.updated += 1
                if row.relation == Relation.HEAD and item.household_id:
                    heads[item.household_id] = existing.pk
                continue
            new_people.append(self._new_person(item))
            new_items.append(item)
        if new_people:
            bulk_insert(new_people)
            bulk_log_changes(new_people)
            run.created += len(new_people)
            self._after_register(new_people, new_items, heads)
        self._set_heads(heads)

    def _new_person(self, item: Placed) -> Person:
        row = item.row
        return Person(
            name=row.name,
            name_pinyin=row.name_pinyin,
            name_initials=row.name_initials,
            person_type=row.person_type,
            id_kind=row.id_kind,
            id_number=row.id_number,
            id_index=row.id_index,
            nationality=row.nationality,
            sex=row.sex,
            birth_date=row.birth_date,
            ethnicity=row.ethnicity,
            phone=row.phone,
            phone_index=services.phone_index(row.phone) if row.phone else "",
            phone_suffix=row.phone[-4:] if row.phone else "",
            house_id=item.house_id,
            household_id=item.household_id,
            relation=row.relation,
            address=self.places.addresses.get(item.house_id, "") if item.house_id else "",
            note=row.note,
            area=item.grid,
            area_code=item.grid.scope_code,
            created_by=self.actor,
        )

    def _after_register(self, people: list[Person], items: list[Placed], heads: dict[int, int]) -> None:
        today = timezone.localdate()
        events, tags = [], []
        for person, item in zip(people, items, strict=True):
            events.append(
                PersonEvent(
                    person=person,
                    kind=PersonEventKind.REGISTERED,
                    date=today,
                    area=item.grid,
                    area_code=item.grid.scope_code,
                    created_by=self.actor,
                    to_house_id=item.house_id,
                    to_household_id=item.household_id,
                )
            )
            tags.extend(PersonTag(person=person, tag_id=tag_id) for tag_id in item.row.tag_ids)
            if item.row.relation == Relation.HEAD and item.household_id:
                heads[item.household_id] = person.pk
            if not item.row.id_index:
                self.places.nameless[(item.grid.pk, person.name, item.house_id)] = person.pk
        bulk_insert(events)
        bulk_log_changes(events)
        if tags:
            bulk_insert(tags)
            bulk_log_changes(tags)

    def _set_heads(self, heads: dict[int, int]) -> None:
        """Households whose head the file names (as ``_set_head`` in the services: only ``head``
        changes, and the change is logged)."""
        if not heads:
            return
        fresh = getattr(self, "fresh_households", {})
        missing = [pk for pk in heads if pk not in fresh]
        loaded = {h.pk: h for h in Household.objects.filter(pk__in=missing)} if missing else {}
        changed, befores = [], []
        for pk, head in heads.items():
            household = fresh.get(pk) or loaded.get(pk)
            if household is None or household.head_id == head:
                continue
            befores.append(serialize_instance(household))
            household.head_id = head
            changed.append(household)
        if changed:
            opts = Household._meta
            qn = connection.ops.quote_name
            table, head, pk = qn(opts.db_table), qn(opts.get_field("head").column), qn(opts.pk.column)
            pairs = [(h.pk, h.head_id) for h in changed]
            with connection.cursor() as cursor:
                if connection.vendor == "postgresql":  # many rows per statement (see insert_rows)
                    for start in range(0, len(pairs), PG_ROWS_PER_STATEMENT):
                        batch = pairs[start : start + PG_ROWS_PER_STATEMENT]
                        cursor.execute(
                            f"UPDATE {table} SET {head} = v.head FROM (VALUES "  # noqa: S608
                            + ", ".join(["(%s, %s)"] * len(batch))
                            + f") AS v(pk, head) WHERE {table}.{pk} = v.pk",
                            [value for pair in batch for value in pair],
                        )
                else:
                    sql = f"UPDATE {table} SET {head} = %s WHERE {pk} = %s"  # noqa: S608
                    cursor.executemany(sql, [(head_id, pk) for pk, head_id in pairs])
            bulk_log_changes(changed, ChangeAction.UPDATE, befores)

    def _plan_update(self, person: Person, item: Placed, current_tags: set[int]):
        """What differs between a registered person and the row: (field changes, whether they move,
        the tags wanted or None), or None when nothing does. Empty cells leave the registered value
        as it is; tags the importer may not see are kept."""
        row = item.row
        changes = {}
        if row.name != person.name:
            changes["name"] = row.name
        for key in ("id_kind", "person_type", "phone", "nationality", "ethnicity", "relation", "note"):
            if key in row.given and getattr(row, key) != getattr(person, key):
                changes[key] = getattr(row, key)
        for key in ("birth_date", "sex"):
            derived = row.id_number and row.id_kind == IdKind.RESIDENT_ID
            value = getattr(row, key)
            if (key in row.given or derived) and value and value != getattr(person, key):
                changes[key] = value
        moves = (item.house_id is not None and item.house_id != person.house_id) or (
            item.household_id is not None and item.household_id != person.household_id
        )
        tags = None
        if "tags" in row.given:
            wanted = set(row.tag_ids) | (current_tags - self.visible_tag_ids)
            if wanted != current_tags:
                tags = wanted
        if not changes and not moves and tags is None:
            return None
        return changes, moves, tags

    def _update(
        self, person: Person, item: Placed, changes: dict, moves: bool, tags: set[int] | None
    ) -> None:
        """Apply a plan through the services, so that each change is validated, logged and
        recorded in the person's history."""
        row, actor = item.row, self.actor
        if changes:
            person = services.person_update(actor=actor, person=person, **changes)
        if moves:
            house = (
                House.objects.select_related("building__compound", "area").get(pk=item.house_id)
                if item.house_id
                else None
            )
            household = Household.objects.get(pk=item.household_id) if item.household_id else None
            if person.status == PersonStatus.MOVED_OUT:
                services.person_move_in(
                    actor=actor, person=person, house=house, household=household, relation=row.relation
                )
            else:
                services.person_change_house(actor=actor, person=person, house=house, household=household)
        if tags is not None:
            services.person_set_tags(actor=actor, person=person, tags=[Tag(pk=pk) for pk in sorted(tags)])
