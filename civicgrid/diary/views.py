"""Diary pages in the back office: the list with its filters, a record's page (with voiding and the
"turn into a case" step), the record form with registry pickers, photos and the pickers' search.

Every page reads records through ``DiaryRecord.objects.visible_to`` (the scoped view bases): a record
outside the user's scope answers 404 like a missing one. Writes go through the services."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from civicgrid.cases.models import Case
from civicgrid.core.files import private_file_response
from civicgrid.core.services import ConflictError
from civicgrid.core.views import ScopedDetailView, ScopedListView, StaffPageMixin, add_form_errors

from . import selectors, services
from .choices import MEETING_KINDS, MOOD_KINDS, SEVERITY_KINDS
from .forms import PICKERS, RecordFilterForm, RecordForm, ToCaseForm, VoidForm
from .models import DiaryPhoto, DiaryRecord


def query_without_page(request) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


def picker_labels(record: DiaryRecord | None, form: RecordForm, user) -> dict:
    """The names of the registry records a form's pickers hold (shown as chips), read within the
    user's scope."""
    from civicgrid.registry import models as registry_models

    out: dict[str, list[dict]] = {}
    for name in PICKERS:
        raw = form[name].value()
        ids = raw if isinstance(raw, list) else [p for p in str(raw or "").replace("，", ",").split(",")]
        ids = [int(str(i).strip()) for i in ids if str(i).strip().isdigit()]
        if not ids:
            out[name] = []
            continue
        model = getattr(registry_models, services.LINKS[name])
        found = model.objects.visible_to(user, "view").in_bulk(ids)
        out[name] = [{"id": pk, "label": selectors.link_label(name, found[pk])} for pk in ids if pk in found]
    return out


def form_config() -> dict:
    """What the record form's script needs: which fields each kind uses, and its strings."""
    return {
        "meetingKinds": sorted(MEETING_KINDS),
        "severityKinds": sorted(SEVERITY_KINDS),
        "moodKinds": sorted(MOOD_KINDS),
        "strings": {
            "search": _("Search…"),
            "searching": _("Searching…"),
            "none": _("Nothing found in your area."),
            "remove": _("Remove"),
            "failed": _("The search failed; try again."),
        },
    }


class RecordListView(ScopedListView):
    """Records in scope, newest first, filtered by kind, area, dates, author, person or household."""

    model = DiaryRecord
    template_name = "diary/record_list.html"

    def get_queryset(self):
        user = self.request.user
        self.form = RecordFilterForm(self.request.GET or None, user=user)
        qs = selectors.with_links(super().get_queryset()).order_by("-id")
        if not self.form.is_bound:
            return qs.filter(voided_at__isnull=True)
        if not self.form.is_valid():
            return qs.none()
        return selectors.filter_records(qs, self.form.cleaned_data, user=user)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        data = self.form.cleaned_data if self.form.is_bound and self.form.is_valid() else {}
        ctx.update(
            form=self.form,
            query=query_without_page(self.request),
            person=data.get("person"),
            household=data.get("household"),
            can_add=self.request.user.has_perm("diary.add_diaryrecord"),
        )
        return ctx


class RecordDetailView(ScopedDetailView):
    """A record: what, when, where, who, its photos and links; its author may edit or void it, and
    it can be turned into a case (then the page links to the case)."""

    model = DiaryRecord
    template_name = "diary/record_detail.html"

    def get_queryset(self):
        return selectors.with_links(super().get_queryset()).select_related(
            "area__parent__parent", "voided_by"
        )

    def get_context_data(self, case_form=None, void_form=None, conflict=None, **kwargs):
        ctx = super().get_context_data(**kwargs)
        record, user = self.object, self.request.user
        own = record.created_by_id == user.pk
        can_case = (
            record.case_id is None
            and not record.is_void
            and user.has_perm("diary.case_diaryrecord")
            and user.has_perm("cases.add_case")
            and DiaryRecord.objects.visible_to(user, "case").filter(pk=record.pk).exists()
        )
        if can_case and case_form is None:
            case_form = ToCaseForm(default_category=services.default_case_category(record))
        ctx.update(
            record=record,
            links=[(f, PICKERS[f], rows) for f, rows in selectors.links_of(record) if rows],
            can_edit=own and not record.is_void and user.has_perm("diary.change_diaryrecord"),
            can_void=own and not record.is_void and user.has_perm("diary.delete_diaryrecord"),
            void_form=void_form or VoidForm(initial={"expected_version": record.version}),
            case_form=case_form if can_case else None,
            case_visible=bool(
                record.case_id and Case.objects.visible_to(user, "view").filter(pk=record.case_id).exists()
            ),
            conflict=conflict,
            location={"lat": record.lat, "lng": record.lng, "grid": record.area.geometry},
        )
        return ctx

    def post(self, request, *args, **kwargs):
        self.object = record = self.get_object()
        op = request.POST.get("op", "")
        if op == "void":
            return self._void(request, record)
        if op == "case":
            return self._to_case(request, record)
        return HttpResponseBadRequest(_("Unknown step."))

    def _void(self, request, record):
        form = VoidForm(request.POST)
        if form.is_valid():
            try:
                services.record_void(
                    actor=request.user,
                    record=record,
                    reason=form.cleaned_data["reason"],
                    expected_version=form.cleaned_data["expected_version"],
                )
            except ValidationError as exc:
                add_form_errors(form, exc)
            except ConflictError as exc:
                return self.render_to_response(self.get_context_data(conflict=exc.message), status=409)
            else:
                messages.success(request, _("The record is voided."))
                return redirect("diary:detail", pk=record.pk)
        return self.render_to_response(self.get_context_data(void_form=form), status=400)

    def _to_case(self, request, record):
        form = ToCaseForm(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(case_form=form), status=400)
        if form.needs_answers:
            messages.info(request, _("This category asks a few questions: answer them to make the case."))
            return self.render_to_response(self.get_context_data(case_form=form.asking()))
        try:
            case = services.record_to_case(
                actor=request.user,
                record=record,
                category=form.cleaned_data["category"],
                answers=form.answers(),
                urgency=form.cleaned_data["urgency"],
            )
        except services.RecordAlreadyCase as exc:
            messages.info(request, exc.message)
            return redirect("diary:detail", pk=record.pk)
        except ValidationError as exc:
            form.add_service_errors(exc)
            return self.render_to_response(self.get_context_data(case_form=form), status=400)
        except ConflictError as exc:
            return self.render_to_response(self.get_context_data(conflict=exc.message), status=409)
        messages.success(request, _("Case %(number)s was made from this record.") % {"number": case.number})
        return redirect("diary:detail", pk=record.pk)


class RecordFormMixin(StaffPageMixin):
    template_name = "diary/record_form.html"

    def render_form(self, form, *, record=None, status=200, conflict=None):
        return render(
            self.request,
            self.template_name,
            {
                "form": form,
                "record": record,
                "conflict": conflict,
                "picker_labels": picker_labels(record, form, self.request.user),
                "pickers": list(PICKERS),
                "lookup_url": reverse("diary:lookup"),
                "form_config": form_config(),
            },
            status=status,
        )


class RecordCreateView(RecordFormMixin, View):
    required_perms = ("diary.add_diaryrecord",)

    def get(self, request):
        initial = {}
        for name in ("people", "households"):
            if request.GET.get(name, "").isdigit():
                initial[name] = request.GET[name]
        return self.render_form(RecordForm(user=request.user, initial=initial))

    def post(self, request):
        form = RecordForm(request.POST, request.FILES, user=request.user)
        if form.is_valid():
            try:
                record, _created = services.record_create(
                    actor=request.user, photos=form.cleaned_data["photos"], **form.service_arguments()
                )
            except ValidationError as exc:
                add_form_errors(form, exc)
            else:
                messages.success(request, _("The record is saved."))
                return redirect("diary:detail", pk=record.pk)
        return self.render_form(form, status=400)


class RecordEditView(RecordFormMixin, View):
    required_perms = ("diary.change_diaryrecord",)

    def get_record(self, request, pk):
        record = get_object_or_404(DiaryRecord.objects.visible_to(request.user, "change"), pk=pk)
        if record.created_by_id != request.user.pk:
            raise PermissionDenied(_("Only the author may change a record."))
        return record

    def get(self, request, pk):
        record = self.get_record(request, pk)
        if record.is_void:
            messages.error(request, _("This record is voided."))
            return redirect("diary:detail", pk=pk)
        return self.render_form(RecordForm(user=request.user, record=record), record=record)

    def post(self, request, pk):
        record = self.get_record(request, pk)
        form = RecordForm(request.POST, request.FILES, user=request.user, record=record)
        if form.is_valid():
            try:
                services.record_update(
                    actor=request.user,
                    record=record,
                    expected_version=form.cleaned_data["expected_version"],
                    add_photos=form.cleaned_data["photos"],
                    remove_photos=form.cleaned_data.get("remove_photos") or (),
                    **form.service_arguments(),
                )
            except ValidationError as exc:
                add_form_errors(form, exc)
            except ConflictError as exc:
                return self.render_form(form, record=record, status=409, conflict=exc.message)
            else:
                messages.success(request, _("The record is saved."))
                return redirect("diary:detail", pk=pk)
        return self.render_form(form, record=record, status=400)


class PhotoView(StaffPageMixin, View):
    """A record's photo, streamed to those who may see the record (never a public media URL)."""

    required_perms = ("diary.view_diaryrecord",)

    def get(self, request, pk):
        visible = DiaryRecord.objects.visible_to(request.user, "view")
        photo = get_object_or_404(DiaryPhoto.objects.filter(record__in=visible.values("pk")), pk=pk)
        return private_file_response(photo.image, default_type="application/octet-stream")


class LookupView(StaffPageMixin, View):
    """The pickers' search: ``?type=people|households|houses|buildings|organisations|shops|facilities
    &q=…`` → ``{"results": [{"id", "label", "detail"}]}``, within the user's scope."""

    required_perms = ("diary.add_diaryrecord", "diary.view_diaryrecord")

    def get(self, request):
        kind = request.GET.get("type", "")
        if kind not in selectors.LOOKUP_TYPES:
            return JsonResponse({"errors": {"type": [_("Unknown type.")]}}, status=400)
        rows = selectors.lookup(request.user, kind, request.GET.get("q", "")[:50])
        return JsonResponse({"results": rows}, json_dumps_params={"ensure_ascii": False})
