"""The statistics page of the command center (/command/statistics/): an area and a period, charts
(Apache ECharts, vendored) and the on-time and satisfaction tables per unit and per area; and the
.xlsx exports of those tables and of the case list, with their job pages."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from civicgrid.accounts.choices import UserType
from civicgrid.areas.models import Area
from civicgrid.areas.selectors import ancestors
from civicgrid.core.views import StaffPageMixin
from civicgrid.registry.import_views import export_download, export_status
from civicgrid.registry.models import ExportJob
from civicgrid.registry.models.jobs import FINISHED

from . import exports, statistics
from .api.filters import reported_between


class StatisticsForm(forms.Form):
    area = forms.IntegerField(required=False, widget=forms.HiddenInput)
    start = forms.DateField(
        required=False, label=gettext_lazy("from"), widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        required=False, label=gettext_lazy("until"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.area_obj = None
        self.period = None

    def clean_area(self):
        pk = self.cleaned_data.get("area")
        if pk is None:
            return None
        self.area_obj = Area.objects.visible_to(self.user).filter(pk=pk).first()
        if self.area_obj is None:
            raise ValidationError(_("No such area in your scope."))
        return pk

    def clean(self):
        data = super().clean()
        try:
            self.period = statistics.make_period(data.get("start"), data.get("end"))
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self.add_error(field, errors)
        return data


class StaffOnlyMixin(StaffPageMixin):
    """The command center is for staff; residents follow their reports in the portal."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and getattr(request.user, "user_type", "") == UserType.RESIDENT:
            raise PermissionDenied(_("Your role does not include this page."))
        return super().dispatch(request, *args, **kwargs)


def _selection(request) -> tuple[StatisticsForm, Area | None, statistics.Period]:
    form = StatisticsForm(request.GET or request.POST or None, user=request.user)
    if form.is_bound and form.is_valid():
        area, period = form.area_obj, form.period
    else:
        area, period = None, statistics.this_year()
    return form, area or statistics.default_area(request.user), period


class StatisticsView(StaffOnlyMixin, View):
    required_perms = (statistics.VIEW_PERM,)

    def get(self, request):
        user = request.user
        form, area, period = _selection(request)
        data = statistics.case_statistics(user, area, period)
        visible = Area.objects.visible_to(user)
        trail = [a for a in ancestors(area) if visible.filter(pk=a.pk).exists()] if area else []
        query = {"start": period.start.isoformat(), "end": period.end.isoformat()}
        year = timezone.localdate().year
        case_filters = reported_between(period.start, period.end)
        if area is not None:
            case_filters["area"] = area.code
        return render(
            request,
            "cases/statistics.html",
            {
                "form": form,
                "area": area,
                "period": period,
                "stats": data,
                "trail": trail,
                "period_query": urlencode(query),
                "area_query": urlencode({"area": area.pk}) if area else "",
                "years": [year, year - 1, year - 2],
                "can_export": user.has_perm(exports.EXPORT_PERM),
                "case_export_query": urlencode(case_filters),
            },
        )


# ---- exports -----------------------------------------------------------------------------------------


class ExportStatisticsView(StaffOnlyMixin, View):
    """Export the tables of the area and period shown (the page's query string)."""

    required_perms = (exports.EXPORT_PERM,)

    def post(self, request):
        form, area, period = _selection(request)
        if form.is_bound and not form.is_valid():
            messages.error(request, _("The area or period is not valid; correct them and export again."))
            return redirect(reverse("case_stats:statistics"))
        job = exports.export_statistics_start(
            actor=request.user, area=area, period=period, language=translation.get_language()
        )
        return redirect("case_stats:export", pk=job.pk)


class ExportCasesView(StaffOnlyMixin, View):
    """Export the case list with the list's filters (its query string)."""

    required_perms = (exports.EXPORT_PERM,)

    def post(self, request):
        try:
            job = exports.export_cases_start(
                actor=request.user, filters=request.GET, language=translation.get_language()
            )
        except ValidationError:
            messages.error(request, _("The filters are not valid; correct them and export again."))
            return redirect(reverse("case_stats:statistics"))
        return redirect("case_stats:export", pk=job.pk)


def _my_export(request, pk) -> ExportJob:
    return get_object_or_404(ExportJob, pk=pk, created_by=request.user, kind__in=exports.KINDS)


class ExportDetailView(StaffOnlyMixin, View):
    required_perms = (exports.EXPORT_PERM,)

    def get(self, request, pk):
        job = _my_export(request, pk)
        if job.kind == exports.CASES:
            described = exports.describe_filters(request.user, job.filters)
        else:
            described = exports.describe_statistics(job.filters)
        return render(
            request,
            "cases/statistics_export.html",
            {
                "job": job,
                "is_cases": job.kind == exports.CASES,
                "finished": job.status in FINISHED,
                "filters": described,
                "status_url": reverse("case_stats:export_status", args=[job.pk]),
            },
        )


class ExportStatusView(StaffOnlyMixin, View):
    required_perms = (exports.EXPORT_PERM,)

    def get(self, request, pk):
        return export_status(_my_export(request, pk))


class ExportDownloadView(StaffOnlyMixin, View):
    required_perms = (exports.EXPORT_PERM,)

    def get(self, request, pk):
        job = _my_export(request, pk)
        name = "事件导出" if job.kind == exports.CASES else "事件统计"
        return export_download(request, job, log=exports.export_download_logged, name=name)
