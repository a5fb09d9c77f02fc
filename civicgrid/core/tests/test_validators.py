"""Tests for civicgrid.core.validators (identity documents, USCC, mobile numbers, grid locations)."""

from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation
from hypothesis import given, settings
from hypothesis import strategies as st

from civicgrid.core.validators import (
    FOREIGN_DOCUMENT_KINDS,
    PROVINCE_CODES,
    make_resident_id,
    make_uscc,
    normalise_mobile,
    normalise_resident_id,
    resident_id_birth_date,
    resident_id_sex,
    validate_foreign_document,
    validate_mobile,
    validate_passport,
    validate_point_in_grid,
    validate_resident_id,
    validate_uscc,
)


def _code(exc_info) -> str:
    """The code of a single (non-dict) ValidationError."""
    return exc_info.value.error_list[0].code


def _field_code(exc_info, field: str) -> str:
    return exc_info.value.error_dict[field][0].code


# Independent re-implementations of the check characters, to cross-check the module.
def _gb11643(body17: str) -> str:
    weights = [2 ** (17 - i) % 11 for i in range(17)]  # 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2
    return "10X98765432"[sum(int(c) * w for c, w in zip(body17, weights, strict=True)) % 11]


USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def _gb11714(body8: str) -> str:
    check = 11 - sum(int(c, 36) * w for c, w in zip(body8, [3, 7, 9, 10, 5, 8, 4, 2], strict=True)) % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def _gb32100(body17: str) -> str:
    weights = [3**i % 31 for i in range(17)]  # 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(body17, weights, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


# --------------------------------------------------------------------------- resident ID


def test_gb11643_standard_example():
    assert validate_resident_id("11010519491231002X") == "11010519491231002X"
    assert resident_id_birth_date("11010519491231002X") == date(1949, 12, 31)
    assert resident_id_sex("11010519491231002X") == "F"


def test_lowercase_x_and_whitespace_are_normalised():
    assert normalise_resident_id(" 11010519491231002x\n") == "11010519491231002X"
    assert validate_resident_id(" 11010519491231002x ") == "11010519491231002X"
    assert normalise_resident_id(None) == ""


def test_make_resident_id():
    number = make_resident_id("450403", date(1990, 1, 1), 123)
    assert number.startswith("45040319900101123") and len(number) == 18
    assert number[17] == _gb11643(number[:17])
    assert validate_resident_id(number) == number
    assert resident_id_sex(number) == "M"
    assert resident_id_sex(make_resident_id("450403", date(1990, 1, 1), 124)) == "F"
    assert resident_id_birth_date(number) == date(1990, 1, 1)
    assert make_resident_id("450403", date(1990, 1, 1), 7)[14:17] == "007"


@pytest.mark.parametrize(
    "region6, seq3", [("45040", 1), ("4504031", 1), ("45040a", 1), ("450403", -1), ("450403", 1000)]
)
def test_make_resident_id_rejects_bad_parts(region6, seq3):
    with pytest.raises(ValueError):
        make_resident_id(region6, date(1990, 1, 1), seq3)


@pytest.mark.parametrize(
    "value",
    [
        "",
        None,
        "11010519491231002",  # 17 characters
        "11010519491231002X1",  # 19 characters
        "110105491231002",  # old 15-digit number
        "1101051949123100X2",  # X not last
        "11010519491231002Y",
        "11010519491231OO2X",  # letters O
        "１１０１０５１９４９１２３１００２X",  # full-width digits
    ],
)
def test_resident_id_format(value):
    with pytest.raises(ValidationError) as exc:
        validate_resident_id(value)
    assert _code(exc) == "resident_id_format"


@pytest.mark.parametrize("region", ["000000", "100000", "160000", "240000", "470000", "840000", "990000"])
def test_resident_id_region(region):
    with pytest.raises(ValidationError) as exc:
        validate_resident_id(make_resident_id(region, date(1990, 1, 1), 1))
    assert _code(exc) == "resident_id_region"


@pytest.mark.parametrize("prefix", [11, 15, 21, 23, 31, 37, 41, 46, 50, 54, 61, 65, 71, 81, 82, 83, 91])
def test_resident_id_all_listed_regions_accepted(prefix):
    validate_resident_id(make_resident_id(f"{prefix}0102", date(1990, 1, 1), 1))


@pytest.mark.parametrize(
    "birth",
    [
        lambda: date(1899, 12, 31),
        lambda: date(1800, 1, 1),
        lambda: timezone.localdate() + timedelta(days=1),
        lambda: date(timezone.localdate().year + 1, 1, 1),
    ],
)
def test_resident_id_birth_date_out_of_range(birth):
    birth = birth()  # today is read when the test runs, not when it was collected (midnight)
    with pytest.raises(ValidationError) as exc:
        validate_resident_id(make_resident_id("450403", birth, 1))
    assert _code(exc) == "resident_id_birth_date"


@pytest.mark.parametrize("digits", ["19900230", "19901301", "19900001", "19900100", "20230229"])
def test_resident_id_birth_date_not_a_date(digits):
    body = f"450403{digits}001"
    number = body + _gb11643(body)
    with pytest.raises(ValidationError) as exc:
        validate_resident_id(number)
    assert _code(exc) == "resident_id_birth_date"
    with pytest.raises(ValidationError) as exc:
        resident_id_birth_date(number)
    assert _code(exc) == "resident_id_birth_date"


def test_resident_id_boundary_dates_accepted():
    validate_resident_id(make_resident_id("450403", date(1900, 1, 1), 1))
    validate_resident_id(make_resident_id("450403", date(2000, 2, 29), 1))
    validate_resident_id(make_resident_id("450403", timezone.localdate(), 1))


def test_resident_id_checksum():
    with pytest.raises(ValidationError) as exc:
        validate_resident_id("110105194912310021")
    assert _code(exc) == "resident_id_checksum"


def test_birth_date_and_sex_need_the_format():
    with pytest.raises(ValidationError) as exc:
        resident_id_birth_date("12345")
    assert _code(exc) == "resident_id_format"
    with pytest.raises(ValidationError) as exc:
        resident_id_sex("12345")
    assert _code(exc) == "resident_id_format"


regions = st.builds(
    lambda p, rest: f"{p}{rest:04d}", st.sampled_from(sorted(PROVINCE_CODES)), st.integers(0, 9999)
)
births = st.dates(min_value=date(1900, 1, 1), max_value=date(2024, 12, 31))


@settings(max_examples=300, database=None, deadline=None)
@given(regions, births, st.integers(0, 999))
def test_made_resident_ids_validate(region, birth, seq):
    number = make_resident_id(region, birth, seq)
    assert validate_resident_id(number) == number
    assert validate_resident_id(number.lower()) == number
    assert resident_id_birth_date(number) == birth
    assert resident_id_sex(number) == ("M" if seq % 2 else "F")


@settings(max_examples=500, database=None, deadline=None)
@given(regions, births, st.integers(0, 999), st.integers(0, 17), st.integers(1, 10))
def test_any_single_character_change_is_rejected(region, birth, seq, position, shift):
    number = make_resident_id(region, birth, seq)
    alphabet = "0123456789X" if position == 17 else "0123456789"
    old = alphabet.index(number[position])
    new_char = alphabet[(old + shift) % len(alphabet)]
    if new_char == number[position]:
        return
    changed = number[:position] + new_char + number[position + 1 :]
    with pytest.raises(ValidationError) as exc:
        validate_resident_id(changed)
    if int(changed[:2]) not in PROVINCE_CODES:
        expected = "resident_id_region"
    else:
        try:
            born = date(int(changed[6:10]), int(changed[10:12]), int(changed[12:14]))
            born_ok = date(1900, 1, 1) <= born <= timezone.localdate()
        except ValueError:
            born_ok = False
        expected = "resident_id_checksum" if born_ok else "resident_id_birth_date"
    assert _code(exc) == expected


@settings(max_examples=200, database=None, deadline=None)
@given(regions, births, st.integers(0, 999), st.sampled_from([14, 15, 16, 17]))
def test_changing_sequence_or_check_character_fails_the_checksum(region, birth, seq, position):
    number = make_resident_id(region, birth, seq)
    for new_char in "0123456789X" if position == 17 else "0123456789":
        if new_char != number[position]:
            changed = number[:position] + new_char + number[position + 1 :]
            with pytest.raises(ValidationError) as exc:
                validate_resident_id(changed)
            assert _code(exc) == "resident_id_checksum"


# --------------------------------------------------------------------------- passports and permits


@pytest.mark.parametrize("value", ["E12345678", "G12345678", "EA1234567", "e12345678", " X1234 ", "A" * 20])
def test_passport_valid(value):
    assert validate_passport(value) == value.strip().upper()
    assert validate_passport(value, country="CN") == value.strip().upper()


@pytest.mark.parametrize("value", ["", None, "A123", "A" * 21, "E1234-5678", "E 12345678", "护照123456"])
def test_passport_invalid(value):
    with pytest.raises(ValidationError) as exc:
        validate_passport(value)
    assert _code(exc) == "passport_format"


def test_foreign_document_kinds():
    kinds = [kind for kind, _label in FOREIGN_DOCUMENT_KINDS]
    assert kinds == ["passport", "hk_macau_permit", "taiwan_permit", "foreign_permanent_id", "other"]
    with translation.override("en"):
        assert all(str(label) for _kind, label in FOREIGN_DOCUMENT_KINDS)


def test_foreign_permanent_id_new_format_is_checksummed():
    number = make_resident_id("911156", date(1985, 5, 5), 12)  # 18 characters starting with 9
    assert validate_foreign_document("foreign_permanent_id", number) == number
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    with pytest.raises(ValidationError) as exc:
        validate_foreign_document("foreign_permanent_id", wrong)
    assert _code(exc) == "foreign_document_checksum"


@pytest.mark.parametrize(
    "kind, value, expected",
    [
        ("passport", "e12345678", "E12345678"),
        ("hk_macau_permit", "H12345678", "H12345678"),
        ("hk_macau_permit", "m1234567890", "M1234567890"),
        ("taiwan_permit", "12345678", "12345678"),
        ("taiwan_permit", "1234567890", "1234567890"),
        ("taiwan_permit", "0123456B89", "0123456B89"),
        ("foreign_permanent_id", "usa123456789012", "USA123456789012"),
        ("other", " Seaman's book 12/34 ", "Seaman's book 12/34"),
        ("other", "x" * 30, "x" * 30),
    ],
)
def test_foreign_document_valid(kind, value, expected):
    assert validate_foreign_document(kind, value) == expected


@pytest.mark.parametrize(
    "kind, value, code",
    [
        ("passport", "A12", "passport_format"),
        ("hk_macau_permit", "H1234567", "foreign_document_format"),
        ("hk_macau_permit", "H123456789", "foreign_document_format"),
        ("hk_macau_permit", "K12345678", "foreign_document_format"),
        ("taiwan_permit", "1234567", "foreign_document_format"),
        ("taiwan_permit", "123456789", "foreign_document_format"),
        ("taiwan_permit", "A1234567", "foreign_document_format"),
        ("foreign_permanent_id", "US1234567890123", "foreign_document_format"),
        ("foreign_permanent_id", "USA12345678901", "foreign_document_format"),
        ("foreign_permanent_id", "812345678901234567", "foreign_document_format"),
        ("foreign_permanent_id", "", "foreign_document_format"),
        ("other", "", "foreign_document_format"),
        ("other", "   ", "foreign_document_format"),
        ("other", "x" * 31, "foreign_document_format"),
        ("other", "ab\x00cd", "foreign_document_format"),
        ("resident_id", "11010519491231002X", "foreign_document_kind"),
        ("visa", "123456", "foreign_document_kind"),
    ],
)
def test_foreign_document_invalid(kind, value, code):
    with pytest.raises(ValidationError) as exc:
        validate_foreign_document(kind, value)
    assert _code(exc) == code


# --------------------------------------------------------------------------- unified social credit code

REAL_USCCS = [
    "91350100M000100Y43",
    "91230184MA1BUFLT44",
    "92371000MA3MXH0E3W",  # individual business (个体工商户)
    "91110000600037341L",
    "91440300708461136T",
]


@pytest.mark.parametrize("code", REAL_USCCS)
def test_uscc_known_codes(code):
    assert validate_uscc(code) == code
    assert validate_uscc(f" {code.lower()} ") == code
    assert make_uscc(code[:16]) == code
    assert make_uscc(code[:17]) == code


@pytest.mark.parametrize(
    "value",
    [
        "",
        None,
        "91350100M000100Y4",  # 17 characters
        "91350100M000100Y430",  # 19 characters
        "91350100I000100Y43",  # I is not in the alphabet
        "91350100O000100Y43",
        "91350100S000100Y43",
        "91350100V000100Y43",
        "91350100Z000100Y43",
        "91350100M000100Y4-",
    ],
)
def test_uscc_format(value):
    with pytest.raises(ValidationError) as exc:
        validate_uscc(value)
    assert _code(exc) == "uscc_format"


def test_uscc_checksum():
    with pytest.raises(ValidationError) as exc:
        validate_uscc("91350100M000100Y44")
    assert _code(exc) == "uscc_checksum"


def test_uscc_embedded_organisation_code_is_checked():
    body = "91350100M000100Y" + "5"  # the GB 11714 check of M000100Y is 4, not 5
    code = body + _gb32100(body)  # the final check character itself is right
    with pytest.raises(ValidationError) as exc:
        validate_uscc(code)
    assert _code(exc) == "uscc_org_code_checksum"


def test_organisation_code_check_example():
    # 1*3 + 2*7 + 3*9 + 4*10 + 5*5 + 6*8 + 7*4 + 8*2 = 201; 201 mod 11 = 3; 11 - 3 = 8
    assert make_uscc("91450400" + "12345678")[16] == "8"


def test_organisation_code_check_x_and_zero():
    # Bodies whose GB 11714 check is 10 ("X") or 11 ("0") must round-trip too.
    found = {}
    for n in range(100):
        body16 = f"91450400{n:08d}"
        found.setdefault(make_uscc(body16)[16], body16)
    assert "X" in found and "0" in found
    for body16 in found.values():
        validate_uscc(make_uscc(body16))


def test_make_uscc_rejects_bad_prefixes():
    with pytest.raises(ValueError):
        make_uscc("91350100M000100")  # 15 characters
    with pytest.raises(ValueError):
        make_uscc("91350100M000100YI")  # I not allowed
    with pytest.raises(ValueError):
        make_uscc("91350100M000100Y5")  # wrong organisation code check


uscc_prefixes = st.text(alphabet=USCC_ALPHABET, min_size=16, max_size=16)


@settings(max_examples=300, database=None, deadline=None)
@given(uscc_prefixes)
def test_made_usccs_validate(prefix):
    code = make_uscc(prefix)
    assert code.startswith(prefix) and len(code) == 18
    assert code[16] == _gb11714(prefix[8:])
    assert code[17] == _gb32100(code[:17])
    assert validate_uscc(code) == code


@settings(max_examples=500, database=None, deadline=None)
@given(uscc_prefixes, st.integers(0, 17), st.integers(1, 30))
def test_any_single_uscc_character_change_fails_the_checksum(prefix, position, shift):
    code = make_uscc(prefix)
    new_char = USCC_ALPHABET[(USCC_ALPHABET.index(code[position]) + shift) % 31]
    changed = code[:position] + new_char + code[position + 1 :]
    with pytest.raises(ValidationError) as exc:
        validate_uscc(changed)
    assert _code(exc) == "uscc_checksum"


# --------------------------------------------------------------------------- mobile numbers


@pytest.mark.parametrize(
    "value",
    [
        "13812345678",
        " 138 1234 5678 ",
        "138-1234-5678",
        "+8613812345678",
        "+86 138 1234 5678",
        "+86-138-1234-5678",
        "8613812345678",
        "86 138 1234 5678",
        13812345678,
    ],
)
def test_mobile_normalised(value):
    assert normalise_mobile(value) == "13812345678"
    assert validate_mobile(value) == "13812345678"


@pytest.mark.parametrize("prefix", ["13", "14", "15", "16", "17", "18", "19"])
def test_mobile_prefixes(prefix):
    assert validate_mobile(prefix + "123456789") == prefix + "123456789"


@pytest.mark.parametrize(
    "value",
    [
        "",
        None,
        "12812345678",  # 12 is not a mobile prefix
        "10012345678",
        "1381234567",  # 10 digits
        "138123456789",  # 12 digits
        "+1 138 1234 5678",
        "+85213812345678",
        "0774-1234567",  # fixed line
        "138.1234.5678",
        "1381234567a",
    ],
)
def test_mobile_invalid(value):
    with pytest.raises(ValidationError) as exc:
        validate_mobile(value)
    assert _code(exc) == "mobile_format"


# --------------------------------------------------------------------------- point in grid


def _square(x0, y0, size):
    return [[[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]]]


GRID = SimpleNamespace(name="Grid A", geometry={"type": "Polygon", "coordinates": _square(111.0, 23.0, 0.1)})


@pytest.mark.parametrize(
    "lat, lng",
    [
        (23.05, 111.05),  # inside
        (23.0, 111.05),  # on the southern edge
        (23.1, 111.1),  # on a corner
        (23.05, 111.0),  # on the western edge
        ("23.05", "111.05"),  # numbers as text (spreadsheet cells)
    ],
)
def test_point_inside_grid(lat, lng):
    validate_point_in_grid(lat, lng, GRID)


@pytest.mark.parametrize("lat, lng", [(23.2, 111.05), (23.05, 110.99), (23.05, 111.05 + 0.06), (0, 0)])
def test_point_outside_grid(lat, lng):
    with pytest.raises(ValidationError) as exc:
        validate_point_in_grid(lat, lng, GRID)
    assert _field_code(exc, "location") == "location_outside_grid"
    with translation.override("en"):
        assert "Grid A" in exc.value.message_dict["location"][0]


def test_point_with_swapped_coordinates_is_rejected():
    with pytest.raises(ValidationError) as exc:
        validate_point_in_grid(111.05, 23.05, GRID)  # latitude 111 does not exist
    assert _field_code(exc, "location") == "location_invalid"


def test_multipolygon_grid():
    grid = SimpleNamespace(
        name="Split grid",
        geometry={
            "type": "MultiPolygon",
            "coordinates": [_square(111.0, 23.0, 0.1), _square(111.2, 23.0, 0.1)],
        },
    )
    validate_point_in_grid(23.05, 111.05, grid)
    validate_point_in_grid(23.05, 111.25, grid)
    with pytest.raises(ValidationError) as exc:
        validate_point_in_grid(23.05, 111.15, grid)  # in the gap between the parts
    assert _field_code(exc, "location") == "location_outside_grid"


def test_polygon_with_hole():
    outer = _square(111.0, 23.0, 0.3)[0]
    hole = _square(111.1, 23.1, 0.1)[0]
    grid = SimpleNamespace(name="Ring", geometry={"type": "Polygon", "coordinates": [outer, hole]})
    validate_point_in_grid(23.05, 111.05, grid)
    validate_point_in_grid(23.1, 111.15, grid)  # on the hole's edge counts as inside
    with pytest.raises(ValidationError):
        validate_point_in_grid(23.15, 111.15, grid)


@pytest.mark.parametrize("geometry", [None, {}])
def test_grid_without_geometry_accepts_points_in_china(geometry):
    grid = SimpleNamespace(name="New grid", geometry=geometry)
    validate_point_in_grid(39.9087, 116.3975, grid)  # Beijing
    validate_point_in_grid(23.4769, 111.2791, grid)  # Wuzhou
    with pytest.raises(ValidationError) as exc:
        validate_point_in_grid(48.8566, 2.3522, grid)  # Paris
    assert _field_code(exc, "location") == "location_outside_china"


@pytest.mark.parametrize(
    "lat, lng", [(None, 111.0), ("abc", 111.0), (91, 111.0), (23.0, 181), (float("nan"), 111.0)]
)
def test_invalid_location(lat, lng):
    with pytest.raises(ValidationError) as exc:
        validate_point_in_grid(lat, lng, GRID)
    assert _field_code(exc, "location") == "location_invalid"


@pytest.mark.parametrize(
    "geometry",
    [
        {"type": "Point", "coordinates": [111.0, 23.0]},
        {"type": "Polygon", "coordinates": "nonsense"},
        {"type": "Polygon", "coordinates": []},
    ],
)
def test_unusable_grid_boundary(geometry):
    grid = SimpleNamespace(name="Broken", geometry=geometry)
    with pytest.raises(ValidationError) as exc:
        validate_point_in_grid(23.05, 111.05, grid)
    assert _field_code(exc, "location") == "grid_boundary_invalid"
