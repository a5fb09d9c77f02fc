"""Base-data pages: people (search, detail with history, reveal), places drill-down, statistics."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views import View

from civicgrid.areas.choices import AreaLevel
from civicgrid.areas.models import Area
from civicgrid.areas.selectors import ancestors, top_visible_areas
from civicgrid.core.audit import log_access
from civicgrid.core.masking import mask_document, mask_mobile
from civicgrid.core.models.audit import AccessKind
from civicgrid.core.views import ScopedDetailView, ScopedListView, StaffPageMixin, add_form_errors

from . import selectors, services
from .forms import LeaveForm, PersonFilterForm, RevealForm
from .models import Building, Compound, House, Person


class PersonListView(ScopedListView):
    model = Person
    template_name = "registry/person_list.html"

    def get_queryset(self):
        user = self.request.user
        self.form = PersonFilterForm(
            self.request.GET or None,
            user=user,
            tags=selectors.visible_tags(user),
            initial={"status": "active"},
        )
        qs = selectors.with_visible_tags(super().get_queryset().select_related("area"), user).order_by("-id")
        if not self.form.is_bound:
            return qs.filter(status="active")
        if not self.form.is_valid():
            return qs.none()
        data = self.form.cleaned_data
        qs = selectors.filter_people(
            qs,
            user=user,
            grid=data["grid"],
            person_type=data["person_type"],
            tag=data["tag"],
            address=data["address"],
            status=data["status"],
        )
        return selectors.search_people(qs, data["q"])

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        params = self.request.GET.copy()
        params.pop("page", None)
        ctx.update(form=self.form, query=params.urlencode())
        for person in ctx["object_list"]:
            person.masked_id = mask_document(person.id_number, person.id_kind)
            person.masked_phone = mask_mobile(person.phone)
        return ctx


class PersonDetailView(ScopedDetailView):
    model = Person
    template_name = "registry/person_detail.html"

    def get_queryset(self):
        return selectors.with_visible_tags(super().get_queryset(), self.request.user).select_related(
            "area__parent__parent", "house__building__compound", "household__head"
        )

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        person = self.object
        user = self.request.user
        ctx.update(
            masked_id=mask_document(person.id_number, person.id_kind),
            masked_phone=mask_mobile(person.phone),
            events=person.events.select_related("from_house", "to_house"),
            members=person.household.members.filter(status="active").exclude(pk=person.pk)
            if person.household_id
            else [],
            can_reveal=user.has_perm("registry.reveal_person"),
            can_change=Person.objects.visible_to(user, "change").filter(pk=person.pk).exists(),
            reveal_form=kwargs.get("reveal_form") or RevealForm(),
            leave_form=kwargs.get("leave_form") or LeaveForm(),
            revealed=kwargs.get("revealed"),
        )
        return ctx

    def post(self, request, pk):
        self.object = person = self.get_object()
        if request.POST.get("op") == "reveal":
            if not request.user.has_perm("registry.reveal_person"):
                return render(request, "403.html", status=403)
            form = RevealForm(request.POST)
            if not form.is_valid():
                return self.render_to_response(self.get_context_data(reveal_form=form))
            log_access(
                AccessKind.REVEAL,
                obj=person,
                reason=form.cleaned_data["reason"],
                detail={"fields": ["id_number", "phone"]},
            )
            return self.render_to_response(
                self.get_context_data(revealed={"id_number": person.id_number, "phone": person.phone})
            )
        person = get_object_or_404(Person.objects.visible_to(request.user, "change"), pk=pk)
        form = LeaveForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            service = services.person_move_out if data["kind"] == "move_out" else services.person_death
            try:
                service(actor=request.user, person=person, on=data["date"], note=data["note"])
            except ValidationError as exc:
                add_form_errors(form, exc)
            else:
                messages.success(request, _("Recorded."))
                return redirect("registry:person", pk=pk)
        return self.render_to_response(self.get_context_data(leave_form=form))


class PlacesView(StaffPageMixin, View):
    """Drill-down: area → compounds (and stand-alone buildings) → building → houses → residents."""

    required_perms = ("registry.view_building",)

    def get(self, request):
        user = request.user
        area_id, building_id = request.GET.get("area"), request.GET.get("building")
        ctx = {}
        if building_id:
            building = get_object_or_404(
                Building.objects.visible_to(user).select_related("compound", "area"), pk=building_id
            )
            people = selectors.with_visible_tags(
                Person.objects.visible_to(user).filter(status="active"), user
            )
            houses = (
                House.objects.visible_to(user)
                .filter(building=building)
                .prefetch_related(
                    Prefetch("residents", queryset=people.order_by("relation", "id")), "households"
                )
                .order_by("unit_no", "floor", "room_no")
            )
            units: dict[str, list] = {}
            for house in houses:
                units.setdefault(house.unit_no or "-", []).append(house)
            ctx.update(building=building, units=units)
            return render(request, "registry/building.html", ctx)
        visible = Area.objects.visible_to(user)
        area = get_object_or_404(visible, pk=area_id) if area_id else None
        children = (visible.filter(parent=area) if area else top_visible_areas(user)).order_by("scope_code")
        ctx.update(area=area, children=children)
        if area is not None and area.level == AreaLevel.GRID:
            ctx["compounds"] = (
                Compound.objects.visible_to(user)
                .filter(area=area)
                .annotate(n=Count("buildings"))
                .order_by("name")
            )
            ctx["buildings"] = (
                Building.objects.visible_to(user)
                .filter(area=area)
                .select_related("compound")
                .annotate(n=Count("houses"))
                .order_by("compound__name", "name")
            )
        return render(request, "registry/places.html", ctx)


class StatisticsView(StaffPageMixin, View):
    """Population by type, age band and tag, and house use, for an area and each of its sub-areas."""

    required_perms = ("registry.view_person",)

    def get(self, request):
        user = request.user
        visible = Area.objects.visible_to(user)
        area = visible.filter(pk=request.GET.get("area")).first() if request.GET.get("area") else None
        if area is None:
            area = top_visible_areas(user).order_by("scope_code").first()
        data = selectors.area_statistics(user, area) if area is not None else {}
        return render(
            request,
            "registry/statistics.html",
            {
                "area": area,
                "stats": data.get("stats"),
                "house_stats": data.get("house_stats"),
                "rows": data.get("rows", []),
                "trail": [a for a in (ancestors(area) if area else []) if visible.filter(pk=a.pk).exists()],
            },
        )
