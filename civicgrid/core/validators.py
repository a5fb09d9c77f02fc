"""Validators for identity documents, organisation codes, phone numbers and locations.

Every ``validate_*`` function raises :class:`django.core.exceptions.ValidationError` with a short,
specific message and a distinct ``code`` for each failure reason (so spreadsheet imports can report
and count reasons), and returns the normalised value when the input is valid. They work as model /
form field validators too (Django ignores the return value).

Standards implemented:

* GB 11643-1999 citizen identity number (居民身份证号码): 6-digit region, 8-digit birth date,
  3-digit sequence (odd = male), ISO 7064 MOD 11-2 check character.
* GB 32100-2015 unified social credit code (统一社会信用代码), including the GB 11714-1997
  organisation code (组织机构代码) embedded in positions 9-17.
* Document formats for residents from Hong Kong, Macao, Taiwan and abroad (format checks only,
  plus the GB 11643 checksum of the 2017 foreign permanent resident ID card).
"""

from __future__ import annotations

import json
import math
import re
from datetime import date
from functools import lru_cache

import shapely
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from shapely.geometry import Point, shape

from civicgrid.core.coords import out_of_china

__all__ = [
    "FOREIGN_DOCUMENT_KINDS",
    "make_resident_id",
    "make_uscc",
    "normalise_mobile",
    "normalise_resident_id",
    "resident_id_birth_date",
    "resident_id_sex",
    "validate_foreign_document",
    "validate_mobile",
    "validate_passport",
    "validate_point_in_grid",
    "validate_resident_id",
    "validate_uscc",
]

# --------------------------------------------------------------------------- resident ID (GB 11643)

_RESIDENT_ID_RE = re.compile(r"\d{17}[\dX]", re.ASCII)
_RESIDENT_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RESIDENT_ID_CHECK = "10X98765432"
_EARLIEST_BIRTH = date(1900, 1, 1)

#: First two digits of a real province-level division (GB/T 2260), plus 71 Taiwan, 81 Hong Kong,
#: 82 Macao, 83 (residence permits for Taiwan residents) and 91 (foreigners' permanent residence).
PROVINCE_CODES = frozenset(
    [*range(11, 16), *range(21, 24), *range(31, 38), *range(41, 47), *range(50, 55), *range(61, 66)]
    + [71, 81, 82, 83, 91]
)


def normalise_resident_id(value) -> str:
    """``value`` as text without surrounding whitespace, upper-cased (a trailing ``x`` becomes ``X``)."""
    if value is None:
        return ""
    return str(value).strip().upper()


def _gb11643_check(body17: str) -> str:
    """The GB 11643 (ISO 7064 MOD 11-2) check character for 17 digits."""
    total = sum(int(ch) * w for ch, w in zip(body17, _RESIDENT_ID_WEIGHTS, strict=True))
    return _RESIDENT_ID_CHECK[total % 11]


def _today() -> date:
    return timezone.localdate()


def _parse_birth_date(digits8: str) -> date | None:
    try:
        return date(int(digits8[:4]), int(digits8[4:6]), int(digits8[6:8]))
    except ValueError:
        return None


def validate_resident_id(value) -> str:
    """Check an 18-character resident ID number; return it normalised.

    Checks, in this order (each with its own ``code``): length and characters
    (``resident_id_format``), province code (``resident_id_region``), birth date is a real date
    between 1900-01-01 and today (``resident_id_birth_date``), check character
    (``resident_id_checksum``).
    """
    number = normalise_resident_id(value)
    if not _RESIDENT_ID_RE.fullmatch(number):
        raise ValidationError(
            # zh: 身份证号码应为18位：17位数字加1位数字或X。
            _("A resident ID number has 18 characters: 17 digits and a digit or X."),
            code="resident_id_format",
        )
    if int(number[:2]) not in PROVINCE_CODES:
        raise ValidationError(
            # zh: 身份证号码的地区码（前两位）%(code)s 无效。
            _("The region code %(code)s at the start of the resident ID number is not valid."),
            code="resident_id_region",
            params={"code": number[:2]},
        )
    birth = _parse_birth_date(number[6:14])
    if birth is None or birth < _EARLIEST_BIRTH or birth > _today():
        raise ValidationError(
            # zh: 身份证号码中的出生日期 %(date)s 无效。
            _("The birth date %(date)s in the resident ID number is not valid."),
            code="resident_id_birth_date",
            params={"date": number[6:14]},
        )
    if _gb11643_check(number[:17]) != number[17]:
        raise ValidationError(
            # zh: 身份证号码校验位错误，请检查是否输错。
            _("The resident ID number's check character is wrong; check for typing errors."),
            code="resident_id_checksum",
        )
    return number


def resident_id_birth_date(value) -> date:
    """The birth date encoded in a resident ID number (positions 7-14).

    Only the format and the date itself are checked; use :func:`validate_resident_id` for the rest.
    """
    number = normalise_resident_id(value)
    if not _RESIDENT_ID_RE.fullmatch(number):
        raise ValidationError(
            # zh: 身份证号码应为18位：17位数字加1位数字或X。
            _("A resident ID number has 18 characters: 17 digits and a digit or X."),
            code="resident_id_format",
        )
    birth = _parse_birth_date(number[6:14])
    if birth is None:
        raise ValidationError(
            # zh: 身份证号码中的出生日期 %(date)s 无效。
            _("The birth date %(date)s in the resident ID number is not valid."),
            code="resident_id_birth_date",
            params={"date": number[6:14]},
        )
    return birth


def resident_id_sex(value) -> str:
    """``"M"`` or ``"F"`` from the 17th digit of a resident ID number (odd means male)."""
    number = normalise_resident_id(value)
    if not _RESIDENT_ID_RE.fullmatch(number):
        raise ValidationError(
            # zh: 身份证号码应为18位：17位数字加1位数字或X。
            _("A resident ID number has 18 characters: 17 digits and a digit or X."),
            code="resident_id_format",
        )
    return "M" if int(number[16]) % 2 else "F"


def make_resident_id(region6: str, birth: date, seq3: int) -> str:
    """A resident ID number with a correct check character (for demo and test data).

    ``region6`` is the 6-digit region code, ``seq3`` the sequence number 0-999 (odd = male).
    Raises ValueError for malformed parts; the result is not checked against today's date.
    """
    if not (isinstance(region6, str) and len(region6) == 6 and region6.isdigit() and region6.isascii()):
        raise ValueError("region6 must be a 6-digit string")
    if not 0 <= seq3 <= 999:
        raise ValueError("seq3 must be between 0 and 999")
    body = f"{region6}{birth.year:04d}{birth.month:02d}{birth.day:02d}{seq3:03d}"
    return body + _gb11643_check(body)


# --------------------------------------------------------------------------- passports and permits

_PASSPORT_RE = re.compile(r"[A-Z0-9]{5,20}", re.ASCII)
_HK_MACAU_PERMIT_RE = re.compile(r"[HM](\d{8}|\d{10})", re.ASCII)
_TAIWAN_PERMIT_RE = re.compile(r"(\d{8}|[A-Z0-9]{10})", re.ASCII)
_FOREIGN_PR_OLD_RE = re.compile(r"[A-Z]{3}\d{12}", re.ASCII)
_FOREIGN_PR_NEW_RE = re.compile(r"9\d{16}[\dX]", re.ASCII)

#: Identity documents of residents who have no mainland resident ID card.
FOREIGN_DOCUMENT_KINDS = [
    ("passport", _("Passport")),  # zh: 护照
    # zh: 港澳居民来往内地通行证
    ("hk_macau_permit", _("Mainland Travel Permit for Hong Kong and Macao Residents")),
    # zh: 台湾居民来往大陆通行证
    ("taiwan_permit", _("Mainland Travel Permit for Taiwan Residents")),
    # zh: 外国人永久居留身份证
    ("foreign_permanent_id", _("Foreign Permanent Resident ID Card")),
    ("other", _("Other document")),  # zh: 其他证件
]
_FOREIGN_DOCUMENT_KIND_VALUES = frozenset(kind for kind, _label in FOREIGN_DOCUMENT_KINDS)


def _normalise_document(value) -> str:
    if value is None:
        return ""
    return str(value).strip().upper()


def validate_passport(value, country=None) -> str:
    """Check a passport number (5-20 letters A-Z and digits); return it upper-cased.

    The generic rule covers every issuing country, including Chinese passports (E or G plus
    8 digits, E plus a letter and 7 digits). ``country`` (ISO 3166 code of the issuer) is accepted
    so callers can pass it through; no country-specific rule is applied at present.
    """
    number = _normalise_document(value)
    if not _PASSPORT_RE.fullmatch(number):
        raise ValidationError(
            # zh: 护照号码应为5至20位大写字母或数字。
            _("A passport number has 5 to 20 letters (A-Z) or digits."),
            code="passport_format",
        )
    return number


def validate_foreign_document(kind: str, value) -> str:
    """Check the number of a non-mainland identity document of ``kind``; return it normalised.

    ``kind`` is one of :data:`FOREIGN_DOCUMENT_KINDS`. Codes: ``foreign_document_kind`` (unknown
    kind), ``passport_format``, ``foreign_document_format``, ``foreign_document_checksum``.
    """
    if kind not in _FOREIGN_DOCUMENT_KIND_VALUES:
        raise ValidationError(
            # zh: 未知的证件类型“%(kind)s”。
            _("Unknown document type “%(kind)s”."),
            code="foreign_document_kind",
            params={"kind": kind},
        )
    if kind == "passport":
        return validate_passport(value)
    if kind == "other":
        text = "" if value is None else str(value).strip()
        if not 1 <= len(text) <= 30 or not text.isprintable():
            raise ValidationError(
                # zh: 证件号码应为1至30个可打印字符。
                _("A document number has 1 to 30 printable characters."),
                code="foreign_document_format",
            )
        return text
    number = _normalise_document(value)
    if kind == "hk_macau_permit":
        if not _HK_MACAU_PERMIT_RE.fullmatch(number):
            raise ValidationError(
                # zh: 港澳居民来往内地通行证号码应为H或M加8位或10位数字。
                _("A Hong Kong or Macao permit number is H or M followed by 8 or 10 digits."),
                code="foreign_document_format",
            )
    elif kind == "taiwan_permit":
        if not _TAIWAN_PERMIT_RE.fullmatch(number):
            raise ValidationError(
                # zh: 台湾居民来往大陆通行证号码应为8位数字（旧版为10位）。
                _("A Taiwan permit number has 8 digits (10 characters in older permits)."),
                code="foreign_document_format",
            )
    elif kind == "foreign_permanent_id":
        if _FOREIGN_PR_NEW_RE.fullmatch(number):
            if _gb11643_check(number[:17]) != number[17]:
                raise ValidationError(
                    # zh: 外国人永久居留身份证号码校验位错误。
                    _("The permanent residence ID number's check character is wrong."),
                    code="foreign_document_checksum",
                )
        elif not _FOREIGN_PR_OLD_RE.fullmatch(number):
            raise ValidationError(
                # zh: 外国人永久居留身份证号码应为15位（3个字母加12位数字）或以9开头的18位。
                _(
                    "A permanent residence ID number has 15 characters (3 letters and 12 digits) "
                    "or 18 characters starting with 9."
                ),
                code="foreign_document_format",
            )
    return number


# --------------------------------------------------------------------------- unified social credit code

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUES = {ch: i for i, ch in enumerate(_USCC_ALPHABET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def _uscc_check(body17: str) -> str:
    total = sum(_USCC_VALUES[ch] * w for ch, w in zip(body17, _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def _org_code_check(body8: str) -> str:
    """GB 11714 check character for the 8-character organisation code body (A=10 … Z=35)."""
    total = sum(int(ch, 36) * w for ch, w in zip(body8, _ORG_CODE_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def validate_uscc(value) -> str:
    """Check a unified social credit code (GB 32100); return it upper-cased.

    Codes: ``uscc_format`` (not 18 characters of the code alphabet, which leaves out I, O, S, V
    and Z), ``uscc_checksum`` (18th character), ``uscc_org_code_checksum`` (the GB 11714
    organisation code in positions 9-17).
    """
    code = "" if value is None else str(value).strip().upper()
    if len(code) != 18 or any(ch not in _USCC_VALUES for ch in code):
        raise ValidationError(
            # zh: 统一社会信用代码应为18位数字或大写字母（不含I、O、S、V、Z）。
            _("A unified social credit code has 18 digits or capital letters (no I, O, S, V or Z)."),
            code="uscc_format",
        )
    if _uscc_check(code[:17]) != code[17]:
        raise ValidationError(
            # zh: 统一社会信用代码校验位错误，请检查是否输错。
            _("The unified social credit code's check character is wrong; check for typing errors."),
            code="uscc_checksum",
        )
    if _org_code_check(code[8:16]) != code[16]:
        raise ValidationError(
            # zh: 统一社会信用代码中的组织机构代码（第9至17位）校验错误。
            _("The organisation code in positions 9 to 17 of the unified social credit code is not valid."),
            code="uscc_org_code_checksum",
        )
    return code


def make_uscc(prefix: str) -> str:
    """Complete the start of a unified social credit code into a valid code (for demo data).

    ``prefix`` holds 16 characters (registration department, type, 6-digit region and the
    8-character organisation code body), to which the GB 11714 check and the final check are
    added; or 17 characters whose GB 11714 check is already in place (ValueError otherwise).
    """
    body = prefix.strip().upper()
    if len(body) not in (16, 17) or any(ch not in _USCC_VALUES for ch in body):
        raise ValueError("prefix must be 16 or 17 characters of the USCC alphabet")
    org_check = _org_code_check(body[8:16])
    if len(body) == 16:
        body += org_check
    elif body[16] != org_check:
        raise ValueError(f"the organisation code check character must be {org_check}")
    return body + _uscc_check(body)


# --------------------------------------------------------------------------- mobile numbers

_MOBILE_RE = re.compile(r"1[3-9]\d{9}", re.ASCII)
_MOBILE_SEPARATORS = re.compile(r"[\s\-]+")


def normalise_mobile(value) -> str:
    """Strip spaces, hyphens and a +86 / 86 country prefix; a valid number comes out as 11 digits.

    Does not validate: use :func:`validate_mobile` for that.
    """
    if value is None:
        return ""
    text = _MOBILE_SEPARATORS.sub("", str(value))
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("86") and len(text) == 13:
        text = text[2:]
    return text


def validate_mobile(value) -> str:
    """Check a mainland mobile number (11 digits starting 13-19); return the 11 digits."""
    number = normalise_mobile(value)
    if not _MOBILE_RE.fullmatch(number):
        raise ValidationError(
            # zh: 手机号码应为以13至19开头的11位数字。
            _("A mobile number has 11 digits starting with 13 to 19."),
            code="mobile_format",
        )
    return number


# --------------------------------------------------------------------------- location within a grid


@lru_cache(maxsize=128)
def _boundary(geojson: str):
    """The prepared shapely geometry of a GeoJSON Polygon/MultiPolygon (None when unusable)."""
    try:
        geom = shape(json.loads(geojson))
    except Exception:  # shapely raises several exception types for malformed coordinates
        return None
    if geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
        return None
    shapely.prepare(geom)
    return geom


def validate_point_in_grid(lat, lng, grid) -> None:
    """Check that the WGS-84 point (``lat``, ``lng``) lies in ``grid``'s boundary.

    ``grid`` is an ``Area``-like object with ``.geometry`` (GeoJSON Polygon or MultiPolygon,
    ``[lng, lat]`` positions) and ``.name``. Points on the boundary count as inside. A grid without
    a boundary accepts any point inside the rough bounding box of China. Errors are raised as
    ``ValidationError({"location": …})`` with codes ``location_invalid``,
    ``location_outside_grid``, ``location_outside_china`` and ``grid_boundary_invalid``.
    """
    try:
        lat_f, lng_f = float(lat), float(lng)
    except (TypeError, ValueError):
        lat_f = lng_f = math.nan
    if not (math.isfinite(lat_f) and math.isfinite(lng_f) and -90 <= lat_f <= 90 and -180 <= lng_f <= 180):
        raise ValidationError(
            {
                "location": ValidationError(
                    # zh: 位置必须是有效的经纬度（WGS-84）。
                    _("The location must be a valid latitude and longitude (WGS-84)."),
                    code="location_invalid",
                )
            }
        )
    geometry = getattr(grid, "geometry", None)
    if not geometry:
        if out_of_china(lat_f, lng_f):
            raise ValidationError(
                {
                    "location": ValidationError(
                        # zh: 该位置不在中国境内。
                        _("The location is outside China."),
                        code="location_outside_china",
                    )
                }
            )
        return
    boundary = _boundary(json.dumps(geometry, sort_keys=True))
    if boundary is None:
        raise ValidationError(
            {
                "location": ValidationError(
                    # zh: 网格“%(grid)s”的边界无效，无法核对位置。
                    _("The boundary of grid “%(grid)s” is not valid, so the location cannot be checked."),
                    code="grid_boundary_invalid",
                    params={"grid": getattr(grid, "name", "")},
                )
            }
        )
    if not boundary.covers(Point(lng_f, lat_f)):
        raise ValidationError(
            {
                "location": ValidationError(
                    # zh: 该位置不在网格“%(grid)s”范围内。
                    _("The location is outside grid “%(grid)s”."),
                    code="location_outside_grid",
                    params={"grid": getattr(grid, "name", "")},
                )
            }
        )
