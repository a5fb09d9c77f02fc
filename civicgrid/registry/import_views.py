"""Pages for spreadsheet imports and exports of people: upload with the template, progress that polls
a small JSON endpoint, error reports and export downloads (only the job's owner sees a job)."""

from __future__ import annotations

import io

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from civicgrid.core.views import StaffPageMixin, add_form_errors

from . import exports, imports
from .models import ExportJob, ImportJob
from .models.jobs import FINISHED, ImportMode, JobStatus
from .spreadsheets import MAX_FILE_BYTES, build_people_template

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ImportForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Spreadsheet (.xlsx)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx," + XLSX}),
    )
    mode = forms.ChoiceField(
        label=gettext_lazy("If some rows have errors"),
        choices=ImportMode.choices,
        initial=ImportMode.ALL_OR_NOTHING,
        widget=forms.RadioSelect,
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_FILE_BYTES:
            raise ValidationError(
                _("The file is larger than %(mb)s MB; split it into smaller files.")
                % {"mb": MAX_FILE_BYTES // (1024 * 1024)}
            )
        return upload


def _my_import(request, pk) -> ImportJob:
    return get_object_or_404(ImportJob, pk=pk, created_by=request.user)


def _my_export(request, pk) -> ExportJob:
    return get_object_or_404(ExportJob, pk=pk, created_by=request.user, kind="people")


def _percent(done: int, total: int) -> int:
    return min(100, int(100 * done / total)) if total else 0


def _file_response(field, filename: str) -> FileResponse:
    try:
        handle = field.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404
    return FileResponse(handle, as_attachment=True, filename=filename, content_type=XLSX)


def export_status(job: ExportJob) -> JsonResponse:
    """What an export's page polls while the file is written (people and case exports alike)."""
    return JsonResponse(
        {
            "status": job.status,
            "status_label": str(job.get_status_display()),
            "finished": job.status in FINISHED,
            "rows": job.row_count,
            "message": job.message,
        }
    )


def export_download(request, job: ExportJob, *, log, name: str) -> FileResponse:
    """A finished export's file as ``{name}-{finished time}.xlsx``, once ``log(actor=, job=)`` has
    recorded the download; 404 when there is no file (not finished, or deleted) or the user may no
    longer see the exported data (``log`` raises PermissionDenied)."""
    if job.status != JobStatus.DONE or not job.result:
        raise Http404
    try:
        log(actor=request.user, job=job)
    except PermissionDenied:
        raise Http404
    stamp = timezone.localtime(job.finished_at).strftime("%Y%m%d-%H%M") if job.finished_at else str(job.pk)
    return _file_response(job.result, f"{name}-{stamp}.xlsx")


# ---- imports ----------------------------------------------------------------------------------------


class ImportListView(StaffPageMixin, View):
    """My imports, and the upload form."""

    required_perms = ("registry.import_person",)

    def get(self, request, form=None):
        jobs = Paginator(ImportJob.objects.filter(created_by=request.user).order_by("-id"), 20)
        page = jobs.get_page(request.GET.get("page"))
        for job in page.object_list:
            job.percent = _percent(job.processed_rows, job.total_rows)
        return render(
            request,
            "registry/import_list.html",
            {
                "form": form or ImportForm(),
                "page_obj": page,
                "jobs": page.object_list,
                "max_mb": MAX_FILE_BYTES >> 20,
            },
        )

    def post(self, request):
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                job = imports.import_start(
                    actor=request.user,
                    upload=form.cleaned_data["file"],
                    mode=form.cleaned_data["mode"],
                    language=translation.get_language(),
                )
            except ValidationError as exc:
                add_form_errors(form, exc)
            else:
                return redirect("registry:import", pk=job.pk)
        return self.get(request, form=form)


class ImportTemplateView(StaffPageMixin, View):
    required_perms = ("registry.import_person",)

    def get(self, request):
        buffer = io.BytesIO()
        build_people_template().save(buffer)
        buffer.seek(0)
        return FileResponse(buffer, as_attachment=True, filename="人员导入模板.xlsx", content_type=XLSX)


class ImportDetailView(StaffPageMixin, View):
    required_perms = ("registry.import_person",)

    def get(self, request, pk):
        job = _my_import(request, pk)
        return render(
            request,
            "registry/import_detail.html",
            {
                "job": job,
                "percent": _percent(job.processed_rows, job.total_rows),
                "finished": job.status in FINISHED,
                "can_retry": imports.is_retryable(job),
                "status_url": reverse("registry:import_status", args=[job.pk]),
            },
        )

    def post(self, request, pk):
        job = _my_import(request, pk)
        try:
            imports.import_retry(actor=request.user, job=job, language=translation.get_language())
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("The import runs again."))
        return redirect("registry:import", pk=job.pk)


class ImportStatusView(StaffPageMixin, View):
    """What the progress bar polls."""

    required_perms = ("registry.import_person",)

    def get(self, request, pk):
        job = _my_import(request, pk)
        return JsonResponse(
            {
                "status": job.status,
                "status_label": str(job.get_status_display()),
                "finished": job.status in FINISHED,
                "total": job.total_rows,
                "processed": job.processed_rows,
                "percent": _percent(job.processed_rows, job.total_rows),
                "created": job.created_count,
                "updated": job.updated_count,
                "errors": job.error_count,
                "message": job.message,
                "error_file": reverse("registry:import_errors", args=[job.pk]) if job.error_file else None,
            }
        )


class ImportErrorsView(StaffPageMixin, View):
    required_perms = ("registry.import_person",)

    def get(self, request, pk):
        job = _my_import(request, pk)
        if not job.error_file:
            raise Http404
        return _file_response(job.error_file, f"import-{job.pk}-errors.xlsx")


# ---- exports ----------------------------------------------------------------------------------------


class ExportStartView(StaffPageMixin, View):
    """Export the people list with the filters of the people page (its query string)."""

    required_perms = ("registry.export_person",)

    def post(self, request):
        try:
            job = exports.export_start(
                actor=request.user, filters=request.GET, language=translation.get_language()
            )
        except ValidationError:
            messages.error(request, _("The filters are not valid; correct them and export again."))
            return redirect(
                reverse("registry:people") + ("?" + request.GET.urlencode() if request.GET else "")
            )
        return redirect("registry:export", pk=job.pk)


class ExportDetailView(StaffPageMixin, View):
    required_perms = ("registry.export_person",)

    def get(self, request, pk):
        job = _my_export(request, pk)
        return render(
            request,
            "registry/export_detail.html",
            {
                "job": job,
                "finished": job.status in FINISHED,
                "filters": exports.describe_filters(request.user, job.filters),
                "status_url": reverse("registry:export_status", args=[job.pk]),
            },
        )


class ExportStatusView(StaffPageMixin, View):
    required_perms = ("registry.export_person",)

    def get(self, request, pk):
        return export_status(_my_export(request, pk))


class ExportDownloadView(StaffPageMixin, View):
    required_perms = ("registry.export_person",)

    def get(self, request, pk):
        job = _my_export(request, pk)
        return export_download(request, job, log=exports.export_download_logged, name="人员导出")
