"""Masking of personal identifiers for display (lists, exports, logs).

Masked strings keep the length of the value, with the hidden characters replaced by ``*``.
Short values are never shown whole: at least a third of the characters (and at least one) are
always hidden, shrinking the kept start and end as needed. ``None`` and ``""`` give ``""``.
"""

from __future__ import annotations

from .validators import normalise_mobile

__all__ = ["mask", "mask_document", "mask_mobile", "mask_resident_id"]

MASK_CHAR = "*"


def mask(value, keep_start: int, keep_end: int) -> str:
    """``value`` with all but the first ``keep_start`` and last ``keep_end`` characters masked."""
    if value is None:
        return ""
    text = str(value).strip()
    n = len(text)
    if n == 0:
        return ""
    visible = n - max(1, -(-n // 3))  # hide at least ceil(n / 3) characters
    start, end = max(0, keep_start), max(0, keep_end)
    while start + end > visible:
        if end >= start and end > 0:
            end -= 1
        else:
            start -= 1
    return text[:start] + MASK_CHAR * (n - start - end) + text[n - end :]


def mask_resident_id(value) -> str:
    """A resident ID number with the first 6 and last 4 characters kept.

    ``450403199001011234`` → ``450403********1234``.
    """
    return mask(None if value is None else str(value).upper(), 6, 4)


def mask_document(value, kind: str | None = None) -> str:
    """Another identity document number with the first 2 and last 2 characters kept.

    ``kind="resident_id"`` masks like :func:`mask_resident_id`.
    """
    if kind == "resident_id":
        return mask_resident_id(value)
    return mask(value, 2, 2)


def mask_mobile(value) -> str:
    """A mobile number as its first 3 and last 4 digits (``13812345678`` → ``138****5678``).

    Spaces, hyphens and a +86 prefix are removed first; other phone numbers are masked the same
    way.
    """
    if value is None:
        return ""
    return mask(normalise_mobile(value), 3, 4)
