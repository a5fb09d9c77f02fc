"""Tests for civicgrid.core.masking."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civicgrid.core.masking import mask, mask_document, mask_mobile, mask_resident_id


@pytest.mark.parametrize(
    "value, expected",
    [
        ("450403199001011234", "450403********1234"),
        ("11010519491231002x", "110105********002X"),
        (" 11010519491231002X ", "110105********002X"),
        ("110105491231002", "110105*****1002"),  # old 15-digit number
        ("", ""),
        (None, ""),
        ("1", "*"),
        ("12", "1*"),
        ("1234", "1**4"),
        ("1234567", "12***67"),
        ("1234567890", "123****890"),
    ],
)
def test_mask_resident_id(value, expected):
    assert mask_resident_id(value) == expected


@pytest.mark.parametrize(
    "value, expected",
    [
        ("E12345678", "E1*****78"),
        ("H1234567890", "H1*******90"),
        ("USA123456789012", "US***********12"),
        ("abcdef", "ab**ef"),
        ("abcde", "ab**e"),  # at least a third hidden
        ("abc", "a*c"),
        ("ab", "a*"),
        ("a", "*"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_document(value, expected):
    assert mask_document(value) == expected


def test_mask_document_by_kind():
    assert mask_document("450403199001011234", kind="resident_id") == "450403********1234"
    assert mask_document("450403199001011234", kind="passport") == "45**************34"


@pytest.mark.parametrize(
    "value, expected",
    [
        ("13812345678", "138****5678"),
        ("+86 138-1234-5678", "138****5678"),
        (13812345678, "138****5678"),
        ("0774-1234567", "077****4567"),
        ("110", "1*0"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_mobile(value, expected):
    assert mask_mobile(value) == expected


@settings(max_examples=300, database=None, deadline=None)
@given(st.text(min_size=1).map(str.strip).filter(bool), st.integers(0, 10), st.integers(0, 10))
def test_mask_keeps_length_and_always_hides_a_third(value, keep_start, keep_end):
    masked = mask(value, keep_start, keep_end)
    n = len(value)
    assert len(masked) == n
    # The result keeps at most keep_start / keep_end characters and hides at least ceil(n / 3).
    assert any(
        masked == value[:s] + "*" * (n - s - e) + value[n - e :] and n - s - e >= max(1, -(-n // 3))
        for s in range(min(keep_start, n) + 1)
        for e in range(min(keep_end, n) + 1)
        if s + e <= n
    )
