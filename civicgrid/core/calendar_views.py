"""The administrators' work-calendar page: a month of working days and days off with the rule that
decided each, the year's overrides, and the office hours."""

from __future__ import annotations

import calendar as stdcalendar
from datetime import date

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS, WEEKDAYS_ABBR
from django.utils.formats import date_format
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views import View

from . import calendar_services as services
from .calendar_forms import OverrideForm, PeriodFormSet
from .models.calendar import CalendarOverride
from .views import StaffPageMixin, add_form_errors
from .workcalendar import get_calendar

MIN_YEAR, MAX_YEAR = 1950, 2100


def _int_param(value, default: int, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if low <= number <= high else default


class WorkCalendarView(StaffPageMixin, View):
    template_name = "core/work_calendar.html"
    required_perms = ("core.change_calendaroverride",)

    def _month(self, request) -> tuple[int, int]:
        today = timezone.localdate()
        source = request.POST if request.method == "POST" else request.GET
        year = _int_param(source.get("year"), today.year, MIN_YEAR, MAX_YEAR)
        month = _int_param(source.get("month"), today.month if year == today.year else 1, 1, 12)
        return year, month

    def _url(self, year: int, month: int) -> str:
        return f"{reverse('work_calendar')}?year={year}&month={month}"

    def get(self, request, override_form=None, period_formset=None):
        year, month = self._month(request)
        cal = get_calendar()
        language = get_language()
        infos = {info.day: info for info in cal.month_days(year, month, language=language)}
        weeks = [
            [{"day": d, "info": infos.get(d), "outside": d.month != month} for d in week]
            for week in stdcalendar.Calendar(firstweekday=0).monthdatescalendar(year, month)
        ]
        overrides = CalendarOverride.objects.filter(day__year=year).select_related("updated_by")
        working_days = sum(1 for info in cal.year_days(year, language=language) if info.is_workday)
        if override_form is None:
            initial = {"is_workday": "0"}
            picked = request.GET.get("day")
            if picked:
                try:
                    picked_day = date.fromisoformat(picked)
                except ValueError:
                    picked_day = None
                if picked_day is not None:
                    existing = CalendarOverride.objects.filter(day=picked_day).first()
                    # Propose the opposite of the day's status, or the override it already has.
                    status = existing.is_workday if existing else not cal.is_workday(picked_day)
                    initial = {"day": picked_day, "is_workday": "1" if status else "0"}
                    if existing is not None:
                        initial.update(name=existing.name, note=existing.note)
            override_form = OverrideForm(initial=initial)
        if period_formset is None:
            initial = [{"start": start, "end": end} for start, end in cal.office_periods()]
            period_formset = PeriodFormSet(initial=initial + [{}, {}], prefix="periods")
        prev_year, prev_month = (year, month - 1) if month > 1 else (year - 1, 12)
        next_year, next_month = (year, month + 1) if month < 12 else (year + 1, 1)
        user = request.user
        return render(
            request,
            self.template_name,
            {
                "year": year,
                "month": month,
                "month_label": date_format(date(year, month, 1), "YEAR_MONTH_FORMAT"),
                "weekdays": [WEEKDAYS_ABBR[i] for i in range(7)],
                "weeks": weeks,
                "months": [(m, MONTHS[m]) for m in range(1, 13)],
                "prev_url": self._url(prev_year, prev_month) if prev_year >= MIN_YEAR else "",
                "next_url": self._url(next_year, next_month) if next_year <= MAX_YEAR else "",
                "overrides": overrides,
                "working_days": working_days,
                "day_hours": f"{round(cal.working_day_seconds() / 3600, 2):g}",
                "override_form": override_form,
                "period_formset": period_formset,
                "can_edit_override": user.has_perm("core.add_calendaroverride")
                or user.has_perm("core.change_calendaroverride"),
                "can_delete_override": user.has_perm("core.delete_calendaroverride"),
                "can_edit_periods": user.has_perm("core.change_officeperiod"),
            },
        )

    def post(self, request):
        op = request.POST.get("op")
        year, month = self._month(request)
        user = request.user
        if op == "override":
            form = OverrideForm(request.POST)
            if form.is_valid():
                try:
                    override = services.calendar_override_set(actor=user, **form.cleaned_data)
                except ValidationError as exc:
                    add_form_errors(form, exc)
                else:
                    messages.success(
                        request,
                        _("%(day)s is now a %(status)s.")
                        % {
                            "day": date_format(override.day, "DATE_FORMAT"),
                            "status": _("working day") if override.is_workday else _("day off"),
                        },
                    )
                    return redirect(self._url(override.day.year, override.day.month))
            return self.get(request, override_form=form)
        if op == "delete":
            if not user.has_perm("core.delete_calendaroverride"):
                raise PermissionDenied(_("Your role does not include this action."))
            override = get_object_or_404(CalendarOverride, pk=request.POST.get("override"))
            services.calendar_override_delete(override=override, actor=user)
            messages.success(
                request,
                _("The override of %(day)s was removed.") % {"day": date_format(override.day, "DATE_FORMAT")},
            )
            return redirect(self._url(year, month))
        if op == "periods":
            if not user.has_perm("core.change_officeperiod"):
                raise PermissionDenied(_("Your role does not include this action."))
            formset = PeriodFormSet(request.POST, prefix="periods")
            if formset.is_valid():
                try:
                    services.office_periods_set(periods=formset.periods(), actor=user)
                except ValidationError as exc:
                    messages.error(request, " ".join(exc.messages))
                else:
                    messages.success(request, _("Office hours saved."))
                    return redirect(self._url(year, month))
            return self.get(request, period_formset=formset)
        messages.error(request, _("Unknown action."))
        return redirect(self._url(year, month))
