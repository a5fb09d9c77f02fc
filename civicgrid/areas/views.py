"""The GIS map and the area administration pages."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from civicgrid.core.views import StaffPageMixin, add_form_errors

from . import selectors, services
from .choices import child_level
from .forms import AreaCreateForm, AreaEditForm, GridWorkerForm
from .models import Area


class MapView(StaffPageMixin, TemplateView):
    """Leaflet map of the area tree with drill-down; works with no tile server."""

    template_name = "areas/map.html"
    required_perms = ("areas.view_area",)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["map_text"] = {
            "all": _("All areas"),
            "code": _("code"),
            "worker": _("grid worker"),
            "none": _("(none)"),
            "noChildren": _("No sub-areas."),
            "badPoint": _("Enter a latitude and a longitude, e.g. 23.48, 111.31."),
            "error": _("The map data could not be loaded."),
            "houses": _("houses"),
        }
        return ctx


class AreaBrowseView(StaffPageMixin, View):
    """Browse the tree: a node, its ancestors and its children."""

    required_perms = ("areas.view_area",)

    def get(self, request, pk=None):
        visible = Area.objects.visible_to(request.user)
        node = (
            get_object_or_404(visible.select_related("parent__parent__parent__parent", "grid_worker"), pk=pk)
            if pk
            else None
        )
        children = selectors.top_visible_areas(request.user) if node is None else visible.filter(parent=node)
        children = children.select_related("grid_worker").annotate(child_count=Count("children"))
        return render(
            request,
            "areas/browse.html",
            {
                "node": node,
                "trail": [a for a in selectors.ancestors(node) if visible.filter(pk=a.pk).exists()]
                if node
                else [],
                "children": children,
                "can_add": node is not None
                and child_level(node.level) is not None
                and request.user.has_perm("areas.add_area"),
                "can_change": request.user.has_perm("areas.change_area"),
            },
        )


class AreaCreateView(StaffPageMixin, View):
    required_perms = ("areas.add_area",)

    def get(self, request, parent_pk, form=None):
        parent = get_object_or_404(Area.objects.visible_to(request.user), pk=parent_pk)
        return render(
            request,
            "areas/area_form.html",
            {"parent": parent, "form": form or AreaCreateForm(), "level": child_level(parent.level)},
        )

    def post(self, request, parent_pk):
        parent = get_object_or_404(Area.objects.visible_to(request.user), pk=parent_pk)
        form = AreaCreateForm(request.POST)
        if form.is_valid():
            try:
                area = services.area_create(
                    actor=request.user, parent=parent, level=child_level(parent.level), **form.cleaned_data
                )
            except ValidationError as exc:
                add_form_errors(form, exc)
            else:
                messages.success(request, _("Area created."))
                return redirect("areas:browse_node", pk=area.pk)
        return self.get(request, parent_pk, form)


class AreaEditView(StaffPageMixin, View):
    required_perms = ("areas.change_area", "areas.assign_gridworker")

    def get(self, request, pk, form=None, worker_form=None):
        area = get_object_or_404(Area.objects.visible_to(request.user), pk=pk)
        return render(
            request,
            "areas/area_edit.html",
            {
                "area": area,
                "can_change": request.user.has_perm("areas.change_area"),
                "can_assign": area.level == "grid" and request.user.has_perm("areas.assign_gridworker"),
                "form": form
                or AreaEditForm(
                    initial={"name": area.name, "geometry": area.geometry, "is_active": area.is_active}
                ),
                "worker_form": worker_form
                or GridWorkerForm(user=request.user, initial={"user": area.grid_worker_id}),
            },
        )

    def post(self, request, pk):
        if request.POST.get("op") == "worker":
            area = get_object_or_404(Area.objects.visible_to(request.user, "areas.assign_gridworker"), pk=pk)
            form = GridWorkerForm(request.POST, user=request.user)
            if form.is_valid():
                try:
                    services.grid_worker_assign(actor=request.user, grid=area, user=form.cleaned_data["user"])
                except ValidationError as exc:
                    add_form_errors(form, exc)
                else:
                    messages.success(request, _("Grid worker assigned."))
                    return redirect("areas:edit", pk=pk)
            return self.get(request, pk, worker_form=form)
        area = get_object_or_404(Area.objects.visible_to(request.user, "change"), pk=pk)
        form = AreaEditForm(request.POST)
        if form.is_valid():
            try:
                services.area_update(actor=request.user, area=area, **form.cleaned_data)
            except ValidationError as exc:
                add_form_errors(form, exc)
            else:
                messages.success(request, _("Saved."))
                return redirect("areas:browse_node", pk=pk)
        return self.get(request, pk, form=form)
