"""Verification pages (集中核实, B3): campaign list and start form, progress per community and grid,
the list of unverified records after closing, and the grid worker's phone page of checks."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from civicgrid.areas.choices import AreaLevel
from civicgrid.areas.models import Area
from civicgrid.core.masking import mask_mobile
from civicgrid.core.views import StaffPageMixin, add_form_errors

from . import verification
from .choices import PersonType
from .models import House, Person, VerificationCampaign, VerificationCheck
from .models.verification import CampaignStatus

START_PERM = "registry.add_verificationcampaign"


class CampaignStartForm(forms.Form):
    name = forms.CharField(max_length=100, label=gettext_lazy("name"))
    year = forms.IntegerField(min_value=2000, max_value=2100, label=gettext_lazy("year"))
    area = forms.ModelChoiceField(Area.objects.none(), label=gettext_lazy("area"))
    due_date = forms.DateField(
        required=False, label=gettext_lazy("due date"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = (
            Area.objects.visible_to(user).exclude(level=AreaLevel.CITY).order_by("scope_code")
        )
        self.fields["area"].label_from_instance = lambda a: f"{a.name} ({a.code})"


class CorrectForm(forms.Form):
    """A grid worker's correction; empty fields leave the record as it is."""

    name = forms.CharField(max_length=50, required=False, label=gettext_lazy("name"))
    phone = forms.CharField(max_length=20, required=False, label=gettext_lazy("mobile number"))
    person_type = forms.ChoiceField(required=False, label=gettext_lazy("person type"))
    note = forms.CharField(max_length=500, required=False, label=gettext_lazy("note"))

    def __init__(self, *args, person: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if person:
            self.fields["person_type"].choices = [("", _("unchanged"))] + list(PersonType.choices)
        else:
            for name in ("name", "phone", "person_type"):
                del self.fields[name]
            self.fields["note"].required = True

    def changes(self) -> dict:
        data = self.cleaned_data
        return {f: data[f] for f in ("name", "phone", "person_type") if data.get(f)}


def _kind_labels() -> dict[int, str]:
    return {
        ContentType.objects.get_for_model(model).pk: str(model._meta.verbose_name)
        for model, *_spec in verification.SOURCES
    }


def _record_links(checks) -> None:
    """Set ``link`` on each check: the person's page, or the building page listing the house."""
    person_ct = ContentType.objects.get_for_model(Person).pk
    house_ct = ContentType.objects.get_for_model(House).pk
    house_ids = [c.object_id for c in checks if c.content_type_id == house_ct]
    buildings = (
        dict(House.objects.filter(pk__in=house_ids).values_list("pk", "building_id")) if house_ids else {}
    )
    labels = _kind_labels()
    for check in checks:
        check.kind_label = labels.get(check.content_type_id, "")
        check.link = ""
        if check.content_type_id == person_ct:
            check.link = reverse("registry:person", args=[check.object_id])
        elif check.object_id in buildings and check.content_type_id == house_ct:
            check.link = f"{reverse('registry:places')}?{urlencode({'building': buildings[check.object_id]})}"


class CampaignListView(StaffPageMixin, View):
    """Campaigns the official can see, with overall progress, and the form to start one."""

    required_perms = ("registry.view_verificationcampaign",)

    def get(self, request, form=None):
        user = request.user
        campaigns = verification.campaigns_for(user).select_related("area").order_by("-id")
        page = Paginator(campaigns, 20).get_page(request.GET.get("page"))
        summaries = verification.campaign_summaries([c.pk for c in page], user)
        for campaign in page:
            campaign.summary = summaries.get(campaign.pk, {"total": 0, "done": 0, "percent": 0.0})
        can_start = user.has_perm(START_PERM)
        if form is None and can_start:
            form = CampaignStartForm(user=user, initial={"year": timezone.localdate().year})
        ctx = {"page_obj": page, "campaigns": page, "form": form, "can_start": can_start}
        return render(
            request, "registry/campaign_list.html", ctx, status=400 if form and form.errors else 200
        )

    def post(self, request):
        if not request.user.has_perm(START_PERM):
            raise PermissionDenied(_("Your role does not include starting a verification campaign."))
        form = CampaignStartForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                campaign = verification.campaign_start(actor=request.user, **form.cleaned_data)
            except ValidationError as exc:
                add_form_errors(form, exc)
            else:
                messages.success(
                    request,
                    _("Campaign started: %(n)s records to verify.") % {"n": campaign.check_count},
                )
                return redirect("registry:campaign", pk=campaign.pk)
        return self.get(request, form=form)


class CampaignDetailView(StaffPageMixin, View):
    """Progress per community and per grid (the viewer's part); after closing, the unverified records."""

    required_perms = ("registry.view_verificationcampaign",)

    def get(self, request, pk):
        user = request.user
        campaign = get_object_or_404(verification.campaigns_for(user).select_related("area"), pk=pk)
        communities = verification.campaign_progress(campaign, by="community", user=user)
        grids = verification.campaign_progress(campaign, by="grid", user=user)
        ctx = {
            "campaign": campaign,
            "communities": communities,
            "grids": grids,
            "totals": verification.progress_totals(grids),
            "can_close": campaign.status == CampaignStatus.OPEN
            and VerificationCampaign.objects.visible_to(user, "change").filter(pk=pk).exists(),
        }
        if campaign.status == CampaignStatus.CLOSED:
            page = Paginator(verification.unverified(campaign, user), 50).get_page(request.GET.get("page"))
            page.object_list = list(page.object_list)
            _record_links(page.object_list)
            ctx["page_obj"] = page
        return render(request, "registry/campaign_detail.html", ctx)

    def post(self, request, pk):
        campaign = get_object_or_404(VerificationCampaign.objects.visible_to(request.user, "change"), pk=pk)
        if request.POST.get("op") == "close":
            verification.campaign_close(actor=request.user, campaign=campaign)
            messages.success(request, _("The campaign is closed."))
        return redirect("registry:campaign", pk=pk)


class MyChecksView(StaffPageMixin, View):
    """The grid worker's phone page: pending checks in their grid, each confirmed, corrected or
    reported gone with a plain form post."""

    required_perms = ("registry.change_verificationcheck",)
    per_page = 30

    def get(self, request, failed: VerificationCheck | None = None, failed_form=None, status=200):
        user = request.user
        page = Paginator(verification.my_checks(user), self.per_page).get_page(request.GET.get("page"))
        checks = list(page.object_list)
        person_ct = ContentType.objects.get_for_model(Person).pk
        person_ids = [c.object_id for c in checks if c.content_type_id == person_ct]
        people = Person.objects.only("pk", "name", "phone", "person_type").in_bulk(person_ids)
        labels = _kind_labels()
        for check in checks:
            check.kind_label = labels.get(check.content_type_id, "")
            person = people.get(check.object_id) if check.content_type_id == person_ct else None
            check.person = person
            if person is not None:
                check.masked_phone = mask_mobile(person.phone)
            check.is_failed = failed is not None and failed.pk == check.pk
            check.form = (
                failed_form
                if check.is_failed
                else CorrectForm(person=person is not None, auto_id=f"id_%s_{check.pk}")
            )
        grid = Area.objects.filter(grid_worker=user).first()
        ctx = {"page_obj": page, "checks": checks, "grid": grid}
        return render(request, "registry/check_my.html", ctx, status=status)

    def post(self, request):
        user = request.user
        check_id = request.POST.get("check", "")
        check = get_object_or_404(
            VerificationCheck.objects.visible_to(user, "change"),
            pk=int(check_id) if check_id.isdigit() else 0,
        )
        op = request.POST.get("op")
        note = (request.POST.get("note") or "").strip()[:500]
        try:
            if op == "confirm":
                verification.check_confirm(actor=user, check=check, note=note)
                messages.success(request, _("Confirmed: %(r)s") % {"r": check.object_repr})
            elif op == "gone":
                verification.check_gone(actor=user, check=check, note=note)
                messages.success(request, _("Reported gone: %(r)s") % {"r": check.object_repr})
            elif op == "correct":
                form = CorrectForm(
                    request.POST, person=verification.is_person(check), auto_id=f"id_%s_{check.pk}"
                )
                if not form.is_valid():
                    return self.get(request, failed=check, failed_form=form, status=400)
                try:
                    verification.check_correct(
                        actor=user, check=check, changes=form.changes(), note=form.cleaned_data["note"]
                    )
                except ValidationError as exc:
                    add_form_errors(form, exc)
                    return self.get(request, failed=check, failed_form=form, status=400)
                messages.success(request, _("Corrected: %(r)s") % {"r": check.object_repr})
            else:
                messages.error(request, _("Unknown action."))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        url = reverse("registry:verification_my")
        page = request.POST.get("page")
        return redirect(f"{url}?{urlencode({'page': page})}" if page and page.isdigit() else url)
