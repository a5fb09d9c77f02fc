"""Spreadsheets for people: the import template, reading an uploaded workbook safely and streaming its
rows, and writing error reports and exports (openpyxl ``read_only`` / ``write_only``, so memory stays
bounded whatever the number of rows).

The import template has Chinese headers in row 1 (what staff in China fill in), the same columns in
English in row 2 (skipped when reading) and an example row whose name starts with ``（示例）`` (skipped
too). Any sheet whose first row holds the required headers is accepted; headers may be Chinese or
English, with or without a ``*`` mark or a note in brackets.
"""

from __future__ import annotations

import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from xml.sax.saxutils import escape

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from .choices import HouseUse, IdKind, PersonType, Relation, Sex
from .models import Building, Compound, House, Household, Person

#: Upload limits: bigger files are refused before they are opened.
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 200_000
#: Sum of the uncompressed sizes of the parts of the .xlsx (a zip): guards against zip bombs.
MAX_UNCOMPRESSED_BYTES = 600 * 1024 * 1024
#: Columns read from a row: anything to the right of the last known header is ignored.
MAX_COLUMNS = 100
EXAMPLE_MARKS = ("（示例）", "(示例)", "(example)")
#: Characters that make a spreadsheet treat a cell as a formula (CSV / formula injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # OLE2: old .xls, or an encrypted .xlsx

PEOPLE_SHEET = "人员"
INSTRUCTIONS_SHEET = "填写说明"


class FileRejected(Exception):
    """The whole file is refused (not a workbook, wrong template, too big …); ``message`` says why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class RowError:
    """One problem in one cell (``column`` empty: the row as a whole) of an uploaded sheet."""

    row: int
    column: str
    reason: str
    name: str = ""


# ---- the people template -------------------------------------------------------------------------

#: Chinese template labels of the choice columns (what staff type), in the template's order.
ID_KIND_LABELS = {
    "居民身份证": IdKind.RESIDENT_ID,
    "护照": IdKind.PASSPORT,
    "港澳居民来往内地通行证": IdKind.HK_MACAU_PERMIT,
    "台湾居民来往大陆通行证": IdKind.TAIWAN_PERMIT,
    "外国人永久居留身份证": IdKind.FOREIGN_PERMANENT_ID,
    "其他": IdKind.OTHER,
}
PERSON_TYPE_LABELS = {
    "户籍": PersonType.REGISTERED,
    "流动": PersonType.FLOATING,
    "境外": PersonType.FOREIGN,
    "未落户": PersonType.UNSETTLED,
}
SEX_LABELS = {"男": Sex.MALE, "女": Sex.FEMALE}
HOUSE_USE_LABELS = {
    "自住": HouseUse.OWNER,
    "出租": HouseUse.RENTED,
    "空置": HouseUse.VACANT,
    "商用": HouseUse.COMMERCIAL,
}
RELATION_LABELS = {
    "户主": Relation.HEAD,
    "配偶": Relation.SPOUSE,
    "子女": Relation.CHILD,
    "父母": Relation.PARENT,
    "孙子女": Relation.GRANDCHILD,
    "祖父母": Relation.GRANDPARENT,
    "兄弟姐妹": Relation.SIBLING,
    "其他亲属": Relation.OTHER,
    "非亲属": Relation.NONE,
}
#: Other spellings staff commonly use for the same choices.
ALIASES = {
    "id_kind": {"身份证": IdKind.RESIDENT_ID, "居民身份证号": IdKind.RESIDENT_ID, "其他证件": IdKind.OTHER},
    "person_type": {
        "户籍人口": PersonType.REGISTERED,
        "流动人口": PersonType.FLOATING,
        "境外人员": PersonType.FOREIGN,
        "未落户人员": PersonType.UNSETTLED,
    },
    "sex": {"男性": Sex.MALE, "女性": Sex.FEMALE},
    "house_use": {"出租房": HouseUse.RENTED, "商铺": HouseUse.COMMERCIAL},
    "relation": {"本人": Relation.HEAD, "妻": Relation.SPOUSE, "夫": Relation.SPOUSE},
}


def _max_length(model, name: str) -> int:
    return model._meta.get_field(name).max_length


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    en: object
    required: bool = False
    max_length: int | None = None
    choices: dict[str, str] | None = None
    #: Numbers typed into these columns lose digits in Excel: they must be entered as text.
    text: bool = False
    width: int = 12
    hint: object = ""


PEOPLE_COLUMNS: tuple[Column, ...] = (
    Column("name", "姓名", gettext_lazy("Name"), True, _max_length(Person, "name"), width=10),
    Column(
        "id_kind",
        "证件类型",
        gettext_lazy("Document type"),
        max_length=30,
        choices=ID_KIND_LABELS,
        width=16,
        hint=gettext_lazy("Empty means resident ID card."),
    ),
    Column("id_number", "证件号码", gettext_lazy("Document number"), max_length=30, text=True, width=22),
    Column(
        "person_type",
        "人员类型",
        gettext_lazy("Person type"),
        max_length=10,
        choices=PERSON_TYPE_LABELS,
        hint=gettext_lazy("Empty means registered resident (户籍)."),
    ),
    Column("phone", "手机号码", gettext_lazy("Mobile number"), max_length=20, text=True, width=14),
    Column("sex", "性别", gettext_lazy("Sex"), max_length=4, choices=SEX_LABELS, width=6),
    Column(
        "birth_date",
        "出生日期",
        gettext_lazy("Date of birth"),
        max_length=20,
        hint=gettext_lazy("Optional; taken from the resident ID number when empty."),
    ),
    Column("ethnicity", "民族", gettext_lazy("Ethnic group"), max_length=_max_length(Person, "ethnicity")),
    Column(
        "nationality",
        "国籍",
        gettext_lazy("Nationality"),
        max_length=20,
        hint=gettext_lazy("ISO 3166 code (CN, US …) or a common country name in Chinese."),
    ),
    Column(
        "grid",
        "网格编码",
        gettext_lazy("Grid code"),
        True,
        15,
        text=True,
        width=18,
        hint=gettext_lazy("The 15-digit code of the unit grid."),
    ),
    Column("compound", "小区", gettext_lazy("Compound"), max_length=_max_length(Compound, "name"), width=14),
    Column("building", "楼栋", gettext_lazy("Building"), max_length=_max_length(Building, "name"), width=8),
    Column(
        "unit", "单元", gettext_lazy("Unit"), max_length=_max_length(House, "unit_no"), text=True, width=6
    ),
    Column(
        "room", "房号", gettext_lazy("Room"), max_length=_max_length(House, "room_no"), text=True, width=8
    ),
    Column(
        "house_use",
        "房屋用途",
        gettext_lazy("House use"),
        max_length=10,
        choices=HOUSE_USE_LABELS,
        hint=gettext_lazy("Used only when the house is new."),
    ),
    Column(
        "household",
        "户号",
        gettext_lazy("Household number"),
        max_length=_max_length(Household, "number"),
        text=True,
    ),
    Column(
        "relation", "与户主关系", gettext_lazy("Relation to head"), max_length=10, choices=RELATION_LABELS
    ),
    Column(
        "tags",
        "标签",
        gettext_lazy("Tags"),
        max_length=200,
        width=16,
        hint=gettext_lazy("Tag names separated by commas."),
    ),
    Column("note", "备注", gettext_lazy("Note"), max_length=_max_length(Person, "note"), width=20),
)
COLUMNS_BY_KEY = {c.key: c for c in PEOPLE_COLUMNS}

EXAMPLE_ROW = {
    "name": "（示例）张三",
    "id_kind": "居民身份证",
    "id_number": "450403198506150011",
    "person_type": "户籍",
    "phone": "13800000000",
    "sex": "男",
    "birth_date": "1985-06-15",
    "ethnicity": "汉族",
    "nationality": "CN",
    "grid": "450403005001001",
    "compound": "阳光小区",
    "building": "1栋",
    "unit": "1",
    "room": "101",
    "house_use": "自住",
    "household": "0001",
    "relation": "户主",
    "tags": "党员,志愿者",
    "note": "",
}


def build_people_template() -> Workbook:
    """The import template: headers, English row, an example row, drop-down lists, instructions."""
    wb = Workbook()
    ws = wb.active
    ws.title = PEOPLE_SHEET
    bold = Font(bold=True)
    required_fill = PatternFill("solid", fgColor="FDE68A")
    hint_font = Font(italic=True, color="64748B")
    for index, column in enumerate(PEOPLE_COLUMNS, start=1):
        letter = get_column_letter(index)
        head = ws.cell(row=1, column=index, value=column.zh + ("*" if column.required else ""))
        head.font = bold
        if column.required:
            head.fill = required_fill
        with translation.override("en"):
            ws.cell(row=2, column=index, value=str(column.en)).font = hint_font
        example = ws.cell(row=3, column=index, value=EXAMPLE_ROW[column.key] or None)
        example.font = hint_font
        ws.column_dimensions[letter].width = column.width
        if column.text:
            # Text format, so that Excel keeps every digit of ID and phone numbers.
            ws.column_dimensions[letter].number_format = "@"
            example.number_format = "@"
        if column.choices:
            validation = DataValidation(
                type="list", formula1='"' + ",".join(column.choices) + '"', allow_blank=True
            )
            validation.error = _("Choose a value from the list.")
            validation.errorTitle = column.zh
            validation.showErrorMessage = True
            ws.add_data_validation(validation)
            validation.add(f"{letter}3:{letter}{MAX_ROWS + 2}")
    ws.freeze_panes = "B3"

    info = wb.create_sheet(INSTRUCTIONS_SHEET)
    info.column_dimensions["A"].width = 16
    info.column_dimensions["B"].width = 90
    wrap = Alignment(wrap_text=True, vertical="top")
    lines = [
        (_("People import template"), ""),
        (
            _("How to fill in"),
            _(
                "Fill in one person per row on the sheet “%(sheet)s”, from row 3. Row 2 (English "
                "headers) and rows whose name starts with （示例） are skipped. Columns marked * are "
                "required. Do not rename the headers. Type values, not formulas."
            )
            % {"sheet": PEOPLE_SHEET},
        ),
        (
            _("Matching"),
            _(
                "A person whose document number is already registered is updated, not added again. "
                "A person without a document number is matched by name and house (or by name and "
                "grid when there is no house). Empty cells leave the registered value unchanged."
            ),
        ),
        (
            _("Places"),
            _(
                "Compounds, buildings, houses and households are found by name within the grid and "
                "created when missing. A room needs its building; a household number is unique "
                "within the grid."
            ),
        ),
        (
            _("Limits"),
            _("At most %(rows)s rows and %(mb)s MB per file.")
            % {"rows": f"{MAX_ROWS:,}", "mb": MAX_FILE_BYTES // (1024 * 1024)},
        ),
        ("", ""),
        (_("Column"), _("Allowed values / notes")),
    ]
    for column in PEOPLE_COLUMNS:
        notes = []
        if column.required:
            notes.append(_("required"))
        if column.choices:
            notes.append("、".join(column.choices))
        if column.max_length:
            notes.append(_("at most %(n)s characters") % {"n": column.max_length})
        if column.hint:
            notes.append(str(column.hint))
        lines.append((f"{column.zh} ({column.en})", "; ".join(notes)))
    for row in lines:
        info.append(row)
        for cell in info[info.max_row]:
            cell.alignment = wrap
    info["A1"].font = Font(bold=True, size=14)
    info.cell(row=7, column=1).font = bold
    info.cell(row=7, column=2).font = bold
    return wb


# ---- reading -------------------------------------------------------------------------------------


def open_workbook(fileobj, size: int | None = None):
    """Open an uploaded .xlsx read-only, after checks that refuse malformed, encrypted, old-format,
    oversized and zip-bomb files with a clear message (:class:`FileRejected`)."""
    if size is None:
        fileobj.seek(0, 2)
        size = fileobj.tell()
    fileobj.seek(0)
    if size > MAX_FILE_BYTES:
        raise FileRejected(
            _("The file is larger than %(mb)s MB; split it into smaller files.")
            % {"mb": MAX_FILE_BYTES // (1024 * 1024)}
        )
    if size == 0:
        raise FileRejected(_("The file is empty."))
    magic = fileobj.read(8)
    fileobj.seek(0)
    if magic == CFB_MAGIC:
        raise FileRejected(
            _(
                "The file is password-protected or in the old .xls format. Remove the password and "
                "save it as an Excel workbook (.xlsx)."
            )
        )
    if not zipfile.is_zipfile(fileobj):
        raise FileRejected(_("This is not an Excel .xlsx file. Save it as an Excel workbook (.xlsx)."))
    fileobj.seek(0)
    try:
        with zipfile.ZipFile(fileobj) as archive:
            names = archive.namelist()
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise FileRejected(_("This is not an Excel .xlsx file. Save it as an Excel workbook (.xlsx)."))
    if "xl/workbook.xml" not in names:
        raise FileRejected(_("This is not an Excel .xlsx file. Save it as an Excel workbook (.xlsx)."))
    if unpacked > MAX_UNCOMPRESSED_BYTES:
        raise FileRejected(_("The workbook is too large once unpacked; split it into smaller files."))
    fileobj.seek(0)
    try:
        return load_workbook(fileobj, read_only=True, data_only=False)
    except Exception:  # openpyxl raises many kinds of errors for damaged files
        raise FileRejected(_("The workbook could not be read; it may be damaged. Save it again as .xlsx."))


def _header_key(text) -> str:
    text = "" if text is None else str(text)
    text = re.sub(r"[（(].*?[)）]", "", text)
    return re.sub(r"[\s*＊:：]", "", text).lower()


HEADER_KEYS: dict[str, str] = {}


def _header_lookup() -> dict[str, str]:
    if not HEADER_KEYS:
        for column in PEOPLE_COLUMNS:
            HEADER_KEYS[_header_key(column.zh)] = column.key
            with translation.override("en"):
                HEADER_KEYS[_header_key(column.en)] = column.key
    return HEADER_KEYS


@dataclass
class SheetLayout:
    """Where each known column is in the uploaded sheet, and the header text the user sees."""

    positions: dict[str, int]
    headers: dict[str, str]
    width: int
    first_data_row: int = 2
    ignored: list[str] = field(default_factory=list)

    def header(self, key: str) -> str:
        return self.headers.get(key) or COLUMNS_BY_KEY[key].zh if key in COLUMNS_BY_KEY else ""


def people_sheet(workbook):
    """The sheet to read: the one named 人员, else the first."""
    if PEOPLE_SHEET in workbook.sheetnames:
        return workbook[PEOPLE_SHEET]
    return workbook.worksheets[0]


def read_layout(ws) -> SheetLayout:
    """Match row 1's headers to the template's columns; refuse a sheet lacking required columns."""
    lookup = _header_lookup()
    first = next(ws.iter_rows(min_row=1, max_row=1, max_col=MAX_COLUMNS, values_only=True), ())
    positions: dict[str, int] = {}
    headers: dict[str, str] = {}
    ignored = []
    for index, value in enumerate(first):
        key = lookup.get(_header_key(value))
        if key is None:
            if value not in (None, ""):
                ignored.append(str(value)[:50])
            continue
        if key in positions:
            raise FileRejected(
                _("The column “%(column)s” appears more than once.") % {"column": str(value).strip()}
            )
        positions[key] = index
        headers[key] = str(value).strip().rstrip("*＊").strip()
    missing = [c.zh for c in PEOPLE_COLUMNS if c.required and c.key not in positions]
    if missing:
        raise FileRejected(
            _(
                "This is not the people import template: the required column(s) %(columns)s are missing "
                "from the first row. Download the template and copy your data into it."
            )
            % {"columns": "、".join(missing)}
        )
    layout = SheetLayout(positions, headers, width=max(positions.values()) + 1, ignored=ignored)
    second = next(ws.iter_rows(min_row=2, max_row=2, max_col=layout.width, values_only=True), ())
    name_cell = second[positions["name"]] if len(second) > positions["name"] else None
    if name_cell is not None and lookup.get(_header_key(name_cell)) == "name":
        layout.first_data_row = 3  # the template's English header row
    return layout


def is_formula(value) -> bool:
    if isinstance(value, str):
        return value.startswith("=") and len(value) > 1
    # ArrayFormula / DataTableFormula objects of openpyxl
    return type(value).__module__.startswith("openpyxl.worksheet.formula")


def iter_rows(ws, layout: SheetLayout) -> Iterator[tuple[int, dict]]:
    """(row number as the user sees it, {column key: raw cell value}) for every non-empty data row."""
    positions = layout.positions.items()
    for number, values in enumerate(
        ws.iter_rows(min_row=layout.first_data_row, max_col=layout.width, values_only=True),
        start=layout.first_data_row,
    ):
        raw = {key: values[i] for key, i in positions if i < len(values)}
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in raw.values()):
            continue
        name = raw.get("name")
        if isinstance(name, str) and name.strip().lower().startswith(EXAMPLE_MARKS):
            continue
        yield number, raw


def cell_text(value, *, text_only: bool = False) -> str:
    """A cell's value as stripped text. Whole numbers lose their ``.0``; dates become ISO dates.
    Raises ValueError for numbers too long for Excel to have kept every digit (``text_only``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        if isinstance(value, float) and not value.is_integer():
            return repr(value)
        number = int(value)
        if text_only and len(str(abs(number))) > 15:
            raise ValueError("digits lost")
        return str(number)
    if isinstance(value, datetime):
        return value.date().isoformat() if not (value.hour or value.minute or value.second) else str(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


# ---- writing -------------------------------------------------------------------------------------


def safe_cell(value):
    """Guard against formula (CSV) injection: text starting with = + - @ (or a tab / CR) gets a
    leading apostrophe, so no spreadsheet program evaluates it. Other values pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def write_error_workbook(errors: list[RowError], fileobj, *, title: str = "") -> None:
    """Stream the error report (row, column, reason, name) to ``fileobj`` as .xlsx."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_("Errors")[:31])
    ws.column_dimensions["A"].width = 8
    ws.column_dimensions["B"].width = 14
    ws.column_dimensions["C"].width = 80
    ws.column_dimensions["D"].width = 14
    bold = Font(bold=True)
    if title:
        cell = WriteOnlyCell(ws, value=safe_cell(title))
        cell.font = bold
        ws.append([cell])
    header = []
    for text in (_("Row"), _("Column"), _("Reason"), _("Name")):
        cell = WriteOnlyCell(ws, value=text)
        cell.font = bold
        header.append(cell)
    ws.append(header)
    for error in errors:
        ws.append(
            [error.row or None, safe_cell(error.column), safe_cell(error.reason), safe_cell(error.name)]
        )
    wb.save(fileobj)


# ---- fast rows for big sheets ----------------------------------------------------------------------

#: Excel's limit on the characters of one cell.
MAX_CELL_CHARS = 32767
DIMENSION = re.compile(r"<dimension\b[^>]*/>")
_LETTERS = [get_column_letter(i) for i in range(1, 200)]


def sheet_row_xml(number: int, values) -> str:
    """One ``<row>`` of a worksheet, as openpyxl's write-only mode writes it (inline strings,
    numbers; empty values left out); characters XML forbids are dropped."""
    parts = [f'<row r="{number}">']
    for index, value in enumerate(values):
        if value is None or value == "":
            continue
        ref = f"{_LETTERS[index]}{number}"
        if isinstance(value, int | float) and not isinstance(value, bool):
            parts.append(f'<c r="{ref}" t="n"><v>{value}</v></c>')
            continue
        text = ILLEGAL_CHARACTERS_RE.sub("", str(value))[:MAX_CELL_CHARS]
        space = ' xml:space="preserve"' if text != text.strip() else ""
        parts.append(f'<c r="{ref}" t="inlineStr"><is><t{space}>{escape(text)}</t></is></c>')
    parts.append("</row>")
    return "".join(parts)


def _sheet_part(archive: zipfile.ZipFile, title: str) -> str:
    workbook = archive.read("xl/workbook.xml").decode()
    rels = archive.read("xl/_rels/workbook.xml.rels").decode()
    quoted = escape(title, {'"': "&quot;"})
    rid = re.search(rf'<sheet name="{re.escape(quoted)}"[^>]*r:id="([^"]+)"', workbook).group(1)
    target = re.search(rf'<Relationship[^>]*Target="([^"]+)"[^>]*Id="{re.escape(rid)}"', rels).group(1)
    return target.lstrip("/") if target.startswith("/") else f"xl/{target}"


def _fill_placeholders(xml: str, replace: dict[str, str | int]) -> str:
    """Texts written as placeholders become their values (numbers become number cells)."""
    for key, value in replace.items():
        if isinstance(value, int):
            pattern = rf'<c r="([A-Z]+[0-9]+)"([^>]*?) t="inlineStr"><is><t>{re.escape(key)}</t></is></c>'
            xml = re.sub(pattern, rf'<c r="\1"\2 t="n"><v>{value}</v></c>', xml)
        else:
            xml = xml.replace(key, escape(value))
    return xml


def save_streaming(
    wb: Workbook,
    out,
    *,
    sheet_title: str,
    rows: Iterable,
    first_row: int,
    placeholders: Callable[[], dict[str, str | int]] | None = None,
) -> None:
    """Save the write-only workbook ``wb`` to ``out``, with ``rows`` streamed into the sheet
    ``sheet_title`` from row ``first_row`` on.

    openpyxl writes the package (styles, column widths, the styled title and header rows, other
    sheets); the bulk rows are then spliced into that sheet's ``<sheetData>`` as the same XML
    openpyxl would write, straight into the compressed zip entry. openpyxl's per-cell object and
    XML-tree work is what makes a 100,000-row export slow; this keeps its output and memory bounds
    at a fraction of the time. ``placeholders()`` (called once the rows are written) maps texts in
    the other sheets to their final values, e.g. a row count."""
    with tempfile.TemporaryFile() as skeleton:
        wb.save(skeleton)
        skeleton.seek(0)
        with zipfile.ZipFile(skeleton) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
            target = _sheet_part(src, sheet_title)
            xml = src.read(target).decode("utf-8")
            if "</sheetData>" in xml:
                head, tail = xml.split("</sheetData>", 1)
            else:
                head, tail = xml.replace("<sheetData />", "<sheetData>", 1).split("<sheetData>", 1)
                head, tail = head + "<sheetData>", tail
            # The used range openpyxl declared covers its own rows only; readers that trust it
            # (openpyxl's read-only mode) would stop there. It is optional: leave it out.
            head = DIMENSION.sub("", head, count=1)
            with dst.open(target, "w") as sheet:
                sheet.write(head.encode("utf-8"))
                batch: list[str] = []
                for number, values in enumerate(rows, start=first_row):
                    batch.append(sheet_row_xml(number, values))
                    if len(batch) >= 1000:
                        sheet.write("".join(batch).encode("utf-8"))
                        batch = []
                sheet.write("".join(batch).encode("utf-8"))
                sheet.write(("</sheetData>" + tail).encode("utf-8"))
            replace = placeholders() if placeholders else {}
            for info in src.infolist():
                if info.filename == target:
                    continue
                data = src.read(info.filename)
                if replace and info.filename.startswith("xl/worksheets/"):
                    data = _fill_placeholders(data.decode("utf-8"), replace).encode("utf-8")
                dst.writestr(info, data)
