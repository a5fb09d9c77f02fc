"""Working time the Chinese way: which days are working days, and when N hours or days of working
time after a moment have elapsed.

A day is a working day by the first rule that applies:

1. the administrators' override table (``CalendarOverride``);
2. the ``holidays`` package's China calendar: statutory holidays are days off, and the State
   Council's adjusted weekend workdays (调休, ``weekend_workdays``) are working days;
3. Monday to Friday.

Working time is counted only inside the office periods (``OfficePeriod``, 08:30–12:00 and
14:30–17:30 by default) of working days, in ``settings.TIME_ZONE`` (Asia/Shanghai). "N working
days" is N × the length of one working day, so half a working day (半天) from 16:00 ends at 10:15
the next working day with the default hours.

Speed: a ``WorkCalendar`` keeps, for the years it has been asked about, a flag per day, the running
count of working days and the list of working days; a deadline is then a few index look-ups and
arithmetic (microseconds, no query). ``get_calendar()`` keeps one calendar per process.

Freshness (why a fingerprint query, not a version in Django's cache): the default cache is a
per-process LocMemCache, so a version number kept there would never reach the other web and task
processes unless Redis were configured. Instead every process re-reads a fingerprint of the two
tables (row count, highest id and latest ``updated_at`` of each: two tiny aggregate queries) at
most once every ``CHECK_SECONDS`` and rebuilds the calendar when it changed, so edits made in any
process show everywhere within seconds, on SQLite or PostgreSQL, with or without Redis. In the
process that makes the change, the models' save/delete signals drop the cached calendar at once
(and again on commit), so the editor sees the result immediately.
"""

from __future__ import annotations

import calendar as stdcalendar
import math
import threading
import time as monotonic_clock
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache
from itertools import accumulate

from django.db import transaction
from django.db.models import Count, Max
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from .choices import DaySource
from .models.calendar import CalendarOverride, OfficePeriod

#: The office hours used when the table is empty (the data migration seeds the same periods).
DEFAULT_OFFICE_PERIODS: tuple[tuple[time, time], ...] = (
    (time(8, 30), time(12, 0)),
    (time(14, 30), time(17, 30)),
)
#: Seconds a process trusts its calendar before checking the tables' fingerprint again.
CHECK_SECONDS = 5.0
#: A calendar with no working day for this long is mis-configured: raise instead of searching on.
MAX_GAP_DAYS = 3 * 366
#: How far ahead a deadline may fall at all (guards against absurd amounts).
HORIZON_DAYS = 100 * 366

_MAX_ORDINAL = date.max.toordinal()

# Day kinds from the holidays package and the weekend (one byte per day).
_WORKDAY, _WEEKEND, _HOLIDAY, _ADJUSTED = 0, 1, 2, 3
_KIND_SOURCE = {
    _WORKDAY: DaySource.WORKDAY,
    _WEEKEND: DaySource.WEEKEND,
    _HOLIDAY: DaySource.HOLIDAY,
    _ADJUSTED: DaySource.ADJUSTED_WORKDAY,
}


class CalendarError(RuntimeError):
    """The calendar's tables make the question unanswerable (e.g. years without a working day)."""


def _days_in_year(year: int) -> int:
    return 366 if stdcalendar.isleap(year) else 365


@lru_cache(maxsize=512)
def _package_year(year: int) -> bytes:
    """The kind of every day of ``year`` by the holidays package (China) and the weekend."""
    import holidays

    cn = holidays.China(years=year)
    first = date(year, 1, 1).toordinal()
    kinds = bytearray(_days_in_year(year))
    for i in range(len(kinds)):
        d = date.fromordinal(first + i)
        if d.weekday() >= 5:
            kinds[i] = _ADJUSTED if d in cn.weekend_workdays else _WEEKEND
        elif d in cn:
            kinds[i] = _HOLIDAY
    return bytes(kinds)


def _package_language(language: str | None) -> str | None:
    if not language:
        return None
    language = language.lower()
    if language.startswith("zh"):
        return "zh_TW" if language in ("zh-hant", "zh-tw", "zh-hk") else "zh_CN"
    if language.startswith("en"):
        return "en_US"
    return None


@lru_cache(maxsize=64)
def _holiday_names(year: int, language: str | None) -> dict[date, str]:
    import holidays

    return dict(holidays.China(years=year, language=_package_language(language)).items())


@dataclass(frozen=True)
class DayInfo:
    """One day as the calendar sees it, with the rule that decided and that rule's name for it."""

    day: date
    is_workday: bool
    source: str
    name: str = ""

    @property
    def source_label(self) -> str:
        return DaySource(self.source).label


@dataclass(frozen=True)
class _Span:
    """The years covered so far: a flag per day, running working-day counts, the working days."""

    first_year: int
    last_year: int
    lo: int  # ordinal of 1 January of first_year
    flags: bytes  # 1 for a working day, from lo
    before: list[int]  # before[i]: working days in [lo, lo + i)
    workdays: list[int]  # ordinals of the working days, ascending
    longest_gap: int  # the longest run of days off before a working day of the span

    @property
    def hi(self) -> int:  # one past the last ordinal covered
        return self.lo + len(self.flags)


def _seconds(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def _merge_periods(periods: Iterable[tuple[time, time]]) -> tuple[tuple[float, float], ...]:
    """Periods as seconds after midnight, sorted, empty ones dropped and overlaps merged (the
    services refuse overlaps; merging keeps a hand-edited table from counting time twice)."""
    merged: list[list[float]] = []
    for start, end in sorted((_seconds(s), _seconds(e)) for s, e in periods):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return tuple((float(s), float(e)) for s, e in merged)


class WorkCalendar:
    """Working days and working time. Build one with ``WorkCalendar.load()`` (from the tables) or
    directly (tests, what-if questions); use the per-process ``get_calendar()`` in application code.

    Every method accepting a datetime wants an aware one; results are aware, in ``tz``."""

    def __init__(
        self,
        *,
        periods: Iterable[tuple[time, time]] | None = None,
        overrides: Mapping[date, bool] | None = None,
        override_names: Mapping[date, str] | None = None,
        tz=None,
    ):
        merged = _merge_periods(periods or ())
        self._periods = merged or _merge_periods(DEFAULT_OFFICE_PERIODS)
        self._day_seconds = sum(e - s for s, e in self._periods)
        self._overrides = dict(overrides or {})
        self._override_names = dict(override_names or {})
        self._overrides_by_year: dict[int, list[tuple[int, bool]]] = {}
        for day, is_workday in self._overrides.items():
            self._overrides_by_year.setdefault(day.year, []).append(
                (day.timetuple().tm_yday - 1, bool(is_workday))
            )
        self.tz = tz or timezone.get_default_timezone()
        self._lock = threading.Lock()
        self._span: _Span | None = None

    @classmethod
    def load(cls) -> WorkCalendar:
        """A calendar built from the override and office-period tables (two queries)."""
        overrides, names = {}, {}
        for day, is_workday, name in CalendarOverride.objects.values_list("day", "is_workday", "name"):
            overrides[day] = is_workday
            names[day] = name
        periods = list(OfficePeriod.objects.order_by("start").values_list("start", "end"))
        return cls(periods=periods, overrides=overrides, override_names=names)

    # -- days -------------------------------------------------------------------------------

    def _year_flags(self, year: int) -> bytes:
        flags = bytearray(kind in (_WORKDAY, _ADJUSTED) for kind in _package_year(year))
        for index, is_workday in self._overrides_by_year.get(year, ()):
            flags[index] = is_workday
        return bytes(flags)

    def _cover(self, first: int, last: int) -> _Span:
        """A span covering the ordinals ``first``..``last`` (whole years), extended if needed."""
        span = self._span
        if span is not None and span.lo <= first and last < span.hi:
            return span
        if first < 1 or last > _MAX_ORDINAL:
            raise ValueError("date out of range")
        with self._lock:
            span = self._span
            y0, y1 = date.fromordinal(first).year, date.fromordinal(last).year
            if span is not None:
                if span.lo <= first and last < span.hi:
                    return span
                y0, y1 = min(y0, span.first_year), max(y1, span.last_year)
            flags = b"".join(self._year_flags(y) for y in range(y0, y1 + 1))
            lo = date(y0, 1, 1).toordinal()
            workdays = [lo + i for i, flag in enumerate(flags) if flag]
            span = _Span(
                first_year=y0,
                last_year=y1,
                lo=lo,
                flags=flags,
                before=list(accumulate(flags, initial=0)),
                workdays=workdays,
                longest_gap=max(
                    (b - a - 1 for a, b in zip([lo - 1, *workdays], workdays, strict=False)), default=0
                ),
            )
            self._span = span
            return span

    def is_workday(self, day: date) -> bool:
        """Whether ``day`` is a working day (override, then holidays package, then Monday–Friday)."""
        o = day.toordinal()
        span = self._cover(o, o)
        return bool(span.flags[o - span.lo])

    def day_info(self, day: date, *, language: str | None = None) -> DayInfo:
        """The day's status, the rule that decided it and its name (``language``: a Django language
        code for the holiday names; the package's default, Chinese, if None)."""
        if day in self._overrides:
            name = self._override_names.get(day, "")
            return DayInfo(day, bool(self._overrides[day]), DaySource.OVERRIDE, name)
        kind = _package_year(day.year)[day.timetuple().tm_yday - 1]
        name = _holiday_names(day.year, language).get(day, "") if kind == _HOLIDAY else ""
        return DayInfo(day, kind in (_WORKDAY, _ADJUSTED), _KIND_SOURCE[kind], name)

    def month_days(self, year: int, month: int, *, language: str | None = None) -> list[DayInfo]:
        _first_weekday, days = stdcalendar.monthrange(year, month)
        return [self.day_info(date(year, month, d), language=language) for d in range(1, days + 1)]

    def year_days(self, year: int, *, language: str | None = None) -> list[DayInfo]:
        return [info for month in range(1, 13) for info in self.month_days(year, month, language=language)]

    def next_workday(self, day: date) -> date:
        """The first working day after ``day``."""
        return self._local_datetime(day.toordinal() + 1, 0.0, seconds=0.0).date()

    # -- office hours -----------------------------------------------------------------------

    def office_periods(self) -> list[tuple[time, time]]:
        """The office periods in force, sorted (the defaults when the table is empty)."""
        return [(_time_of(s), _time_of(e)) for s, e in self._periods]

    def working_day_seconds(self) -> float:
        """The length of one working day: the sum of the office periods."""
        return self._day_seconds

    def _in_day(self, sod: float) -> float:
        """Working seconds of a working day before the second-of-day ``sod``."""
        done = 0.0
        for start, end in self._periods:
            if sod <= start:
                return done
            if sod < end:
                return done + sod - start
            done += end - start
        return done

    def _time_in_day(self, r: float, *, right: bool) -> float:
        """The second-of-day at which ``r`` working seconds of a working day have elapsed: the
        earliest such moment, or (``right``) the latest, i.e. the next opening at a boundary."""
        for start, end in self._periods:
            length = end - start
            if r < length or (not right and r <= length):
                return start + r
            r -= length
        return self._periods[-1][1]

    def is_office_time(self, moment: datetime) -> bool:
        """Whether ``moment`` falls inside an office period of a working day."""
        local = self._local(moment)
        if not self.is_workday(local.date()):
            return False
        sod = _sod(local)
        return any(start <= sod < end for start, end in self._periods)

    # -- working time -----------------------------------------------------------------------

    def _local(self, moment: datetime) -> datetime:
        if moment.utcoffset() is None:
            raise ValueError("an aware datetime is required")
        return moment.astimezone(self.tz)

    def _make(self, ordinal: int, sod: float) -> datetime:
        seconds, micro = divmod(round(sod * 1_000_000), 1_000_000)
        hours, seconds = divmod(seconds, 3600)
        minutes, seconds = divmod(seconds, 60)
        day = date.fromordinal(ordinal)
        return datetime(day.year, day.month, day.day, hours, minutes, seconds, micro, tzinfo=self.tz)

    def _local_datetime(self, ordinal: int, sod: float, *, seconds: float) -> datetime:
        """The moment ``seconds`` of working time after second ``sod`` of day ``ordinal``."""
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError("the amount of working time must be a finite number ≥ 0")
        day_seconds = self._day_seconds
        if seconds / day_seconds > HORIZON_DAYS:
            raise ValueError("the deadline would fall too far in the future")
        last = ordinal + int(seconds / day_seconds * 7 / 5) + 31  # a first guess, widened below
        while True:
            span = self._span
            if span is None or not (span.lo <= ordinal and last < span.lo + len(span.flags)):
                span = self._cover(ordinal, min(last, _MAX_ORDINAL))
            i = ordinal - span.lo
            target = (self._in_day(sod) if span.flags[i] else 0.0) + seconds
            if seconds == 0:
                k = math.floor(target / day_seconds)
                r = target - k * day_seconds
                if r >= day_seconds:
                    k, r = k + 1, r - day_seconds
            else:
                k = math.ceil(target / day_seconds) - 1
                r = target - k * day_seconds
                if r <= 0:
                    k, r = k - 1, r + day_seconds
            j = span.before[i] + k
            if j < len(span.workdays):
                if span.longest_gap > MAX_GAP_DAYS:
                    self._check_gaps(span, ordinal, j)
                return self._make(span.workdays[j], self._time_in_day(r, right=seconds == 0))
            latest = max(span.workdays[-1] if span.workdays else ordinal, ordinal)
            if span.hi - latest > MAX_GAP_DAYS:
                raise CalendarError(
                    f"no working day within {MAX_GAP_DAYS} days after "
                    f"{date.fromordinal(latest).isoformat()}: check the calendar overrides"
                )
            if span.hi - ordinal > HORIZON_DAYS or span.hi > _MAX_ORDINAL:
                raise ValueError("the deadline would fall too far in the future")
            last = span.hi + 366

    def _check_gaps(self, span: _Span, ordinal: int, j: int) -> None:
        """Refuse an answer that crosses more than ``MAX_GAP_DAYS`` days without a working day."""
        previous = ordinal - 1
        for workday in span.workdays[span.before[ordinal - span.lo] : j + 1]:
            if workday - previous - 1 > MAX_GAP_DAYS:
                raise CalendarError(
                    f"no working day for more than {MAX_GAP_DAYS} days after "
                    f"{date.fromordinal(previous + 1).isoformat()}: check the calendar overrides"
                )
            previous = workday

    def add_working_time(self, start: datetime, seconds: float) -> datetime:
        """The moment at which ``seconds`` of working time after ``start`` have elapsed (the
        earliest such moment: the end of an office period rather than the next opening). A start
        outside office hours counts from the next opening; with ``seconds == 0`` that next opening
        (or ``start`` itself, inside office hours) is returned."""
        local = self._local(start)
        return self._local_datetime(local.toordinal(), _sod(local), seconds=float(seconds))

    def add_working_days(self, start: datetime, days: float) -> datetime:
        """``add_working_time`` for ``days`` working days (0.5: half a day, 半天)."""
        return self.add_working_time(start, days * self._day_seconds)

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        return self.add_working_time(start, hours * 3600)

    def working_seconds_between(self, a: datetime, b: datetime) -> float:
        """Working seconds elapsed from ``a`` to ``b`` (negative when ``b`` is before ``a``)."""
        la, lb = self._local(a), self._local(b)
        oa, ob = la.toordinal(), lb.toordinal()
        span = self._cover(min(oa, ob), max(oa, ob))
        ia, ib = oa - span.lo, ob - span.lo
        in_a = self._in_day(_sod(la)) if span.flags[ia] else 0.0
        in_b = self._in_day(_sod(lb)) if span.flags[ib] else 0.0
        return (span.before[ib] - span.before[ia]) * self._day_seconds + in_b - in_a

    def working_days_between(self, a: datetime, b: datetime) -> float:
        return self.working_seconds_between(a, b) / self._day_seconds


def _sod(local: datetime) -> float:
    return local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6


def _time_of(seconds: float) -> time:
    s = int(seconds)
    return time(s // 3600, s % 3600 // 60, s % 60)


# -- the per-process calendar -------------------------------------------------------------------

_lock = threading.Lock()
_calendar: WorkCalendar | None = None
_fingerprint: tuple | None = None
_checked_at = 0.0


def _read_fingerprint() -> tuple:
    fields = {"n": Count("id"), "top": Max("id"), "at": Max("updated_at")}
    o = CalendarOverride.objects.aggregate(**fields)
    p = OfficePeriod.objects.aggregate(**fields)
    return (o["n"], o["top"], o["at"], p["n"], p["top"], p["at"])


def get_calendar() -> WorkCalendar:
    """This process's calendar; rebuilt when the tables changed (checked every ``CHECK_SECONDS``)."""
    global _calendar, _fingerprint, _checked_at
    calendar = _calendar
    if calendar is not None and monotonic_clock.monotonic() - _checked_at < CHECK_SECONDS:
        return calendar
    with _lock:
        fingerprint = _read_fingerprint()  # before the data: a change in between is seen next time
        if _calendar is None or fingerprint != _fingerprint:
            _calendar = WorkCalendar.load()
            _fingerprint = fingerprint
        _checked_at = monotonic_clock.monotonic()
        return _calendar


def invalidate() -> None:
    """Drop this process's calendar; the next ``get_calendar()`` reads the tables again."""
    global _calendar, _fingerprint
    with _lock:
        _calendar = None
        _fingerprint = None


@receiver(post_save, sender=CalendarOverride)
@receiver(post_delete, sender=CalendarOverride)
@receiver(post_save, sender=OfficePeriod)
@receiver(post_delete, sender=OfficePeriod)
def _table_changed(sender, **kwargs):
    """Cache invalidation (a cross-cutting concern, hence a signal): at once, for the rest of this
    transaction, and again on commit, for whatever another thread loaded meanwhile."""
    invalidate()
    transaction.on_commit(invalidate, using=kwargs.get("using"))
