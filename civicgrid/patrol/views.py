"""Officials' pages of the work trajectory (in the shared shell) and the grid worker's duty page
on the phone. Maps are drawn offline like the other map pages (grid outlines as vector polygons, no
tile server unless ``MAP_TILE_URL`` is set)."""

from __future__ import annotations

from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from civicgrid.areas.models import Area
from civicgrid.core.audit import log_access
from civicgrid.core.mobile_views import MobilePageMixin
from civicgrid.core.models.audit import AccessKind
from civicgrid.core.pagination import CappedPaginator
from civicgrid.core.views import StaffPageMixin

from . import coverage, selectors
from .api.views import state_of
from .choices import VisitSource
from .services import RECORD_PERM

PAGE_SIZE = 50


def _day(raw: str | None) -> date | None:
    if not raw:
        return timezone.localdate()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def _month(raw: str | None) -> date | None:
    if not raw:
        return selectors.month_start(timezone.localdate())
    try:
        return date.fromisoformat(f"{raw}-01")
    except ValueError:
        return None


def _area_filter(request, perm: str) -> tuple[Area | None, list]:
    choices = list(selectors.areas_for_filter(request.user, perm).select_related("parent"))
    raw = request.GET.get("area", "")
    chosen = next((a for a in choices if str(a.pk) == raw), None)
    return chosen, choices


def duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    return _("%(h)d h %(m)02d min") % {"h": minutes // 60, "m": minutes % 60}


def map_strings() -> dict:
    return {
        "visitKinds": {
            "case": _("Case reported"),
            "verification": _("Case verified on site"),
            "registry": _("Registry record verified"),
            "building": _("Building passed"),
        },
        "visited": _("Visited"),
        "notVisited": _("Not visited"),
        "noTrack": _("No track recorded on this day."),
        "start": _("Start"),
        "end": _("End"),
        "by": _("by"),
    }


class IndexView(StaffPageMixin, TemplateView):
    """The grid workers of the user's area with their day: shifts, time on duty, distance, consent."""

    template_name = "patrol/index.html"
    required_perms = (selectors.VIEW_SHIFT,)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        request = self.request
        day = _day(request.GET.get("day"))
        bad_day = day is None
        day = day or timezone.localdate()
        area, choices = _area_filter(request, selectors.VIEW_SHIFT)
        grids = selectors.grids_in_scope(request.user).select_related("grid_worker", "parent")
        if area is not None:
            grids = grids.in_area(area.scope_code)
        page = CappedPaginator(grids, PAGE_SIZE).get_page(request.GET.get("page"))
        workers = [g.grid_worker_id for g in page if g.grid_worker_id]
        summaries = selectors.day_summaries(workers, day, viewer=request.user)
        consents = selectors.consents_in_force(workers)
        rows = []
        for grid in page:
            summary = summaries.get(grid.grid_worker_id)
            rows.append(
                {
                    "grid": grid,
                    "worker": grid.grid_worker,
                    "summary": summary,
                    "duty": duration(summary["on_duty_seconds"]) if summary else "",
                    "consent": consents.get(grid.grid_worker_id),
                    "url": reverse("patrol:worker_day", args=[grid.grid_worker_id, day.isoformat()])
                    if grid.grid_worker_id
                    else "",
                }
            )
        ctx.update(
            day=day,
            bad_day=bad_day,
            area=area,
            areas=choices,
            page_obj=page,
            rows=rows,
            query=urlencode({"day": day.isoformat(), **({"area": area.pk} if area else {})}),
        )
        return ctx


class WorkerDayView(StaffPageMixin, TemplateView):
    """A worker's day on the map: the track, where they reported, verified and passed by; distance
    and time on duty. Each view is written to the access log."""

    template_name = "patrol/worker_day.html"
    required_perms = (selectors.VIEW_SHIFT,)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        viewer = self.request.user
        worker = get_object_or_404(get_user_model(), pk=kwargs["pk"])
        day = _day(kwargs["day"])
        if day is None or not selectors.worker_in_scope(viewer, worker):
            raise Http404
        data = selectors.worker_day(viewer, worker, day)
        log_access(
            AccessKind.SENSITIVE_READ,
            obj=worker,
            reason="patrol track",
            detail={"date": day.isoformat(), "shifts": [s.pk for s in data.shifts], "via": "page"},
        )
        grid = selectors.worker_grid(worker)
        outlines = [
            {"name": a.name, "geometry": a.geometry}
            for a in {s.area for s in data.shifts} | ({grid} if grid else set())
            if a.geometry
        ]
        track = data.as_dict()
        track["outlines"] = outlines
        counts = {k: 0 for k in ("case", "verification", "registry", "building")}
        for v in data.visits:
            counts[v["kind"]] += 1
        labels = map_strings()["visitKinds"]
        ctx.update(
            worker=worker,
            grid=grid,
            day=day,
            data=data,
            track=track,
            distance_km=f"{data.distance_m / 1000:.2f}",
            duty=duration(data.on_duty_seconds),
            visit_counts=[(k, labels[k], n) for k, n in counts.items()],
            visits=data.visits,
            consent=selectors.consents_in_force([worker.pk]).get(worker.pk),
            prev_url=reverse("patrol:worker_day", args=[worker.pk, (day - timedelta(days=1)).isoformat()]),
            next_url=reverse("patrol:worker_day", args=[worker.pk, (day + timedelta(days=1)).isoformat()])
            if day < timezone.localdate()
            else "",
            map_text=map_strings(),
        )
        return ctx


class CoverageView(StaffPageMixin, TemplateView):
    """Coverage in a month for each grid of the user's area: buildings, visited, percentage."""

    template_name = "patrol/coverage.html"
    required_perms = (selectors.VIEW_VISIT,)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        request = self.request
        first = _month(request.GET.get("month"))
        bad_month = first is None
        first = first or selectors.month_start(timezone.localdate())
        area, choices = _area_filter(request, selectors.VIEW_VISIT)
        grids = selectors.grids_in_scope(request.user, selectors.VIEW_VISIT).select_related(
            "grid_worker", "parent"
        )
        if area is not None:
            grids = grids.in_area(area.scope_code)
        page = CappedPaginator(grids, PAGE_SIZE).get_page(request.GET.get("page"))
        totals = coverage.summary(list(page), first)
        ctx.update(
            month=first,
            bad_month=bad_month,
            area=area,
            areas=choices,
            page_obj=page,
            rows=[{"grid": g, **totals[g.pk]} for g in page],
            query=urlencode({"month": first.strftime("%Y-%m"), **({"area": area.pk} if area else {})}),
        )
        return ctx


class CoverageGridView(StaffPageMixin, TemplateView):
    """One grid's coverage in a month: its buildings on the map, visited or not, and per worker."""

    template_name = "patrol/coverage_grid.html"
    required_perms = (selectors.VIEW_VISIT,)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        grid = get_object_or_404(
            selectors.grids_in_scope(self.request.user, selectors.VIEW_VISIT).select_related(
                "parent", "grid_worker"
            ),
            pk=kwargs["pk"],
        )
        first = _month(self.request.GET.get("month"))
        if first is None:
            raise Http404
        result = coverage.grid_coverage(grid, first)
        source_labels = dict(VisitSource.choices)
        previous = selectors.month_start(first - timedelta(days=1))
        following = selectors.next_month(first)
        ctx.update(
            grid=grid,
            month=first,
            result=result,
            workers=[
                {
                    "worker": w.worker,
                    "visited": w.visited,
                    "percent": w.percent,
                    "sources": [(source_labels.get(k, k), n) for k, n in w.by_source.items()],
                }
                for w in result.workers
            ],
            not_visited=[b for b in result.buildings if not b["visited"]][:200],
            coverage_data={
                "grid": {"name": grid.name, "geometry": grid.geometry},
                "buildings": result.buildings,
                "workers": {w.worker.pk: str(w.worker) for w in result.workers},
                "sources": {str(k): str(v) for k, v in VisitSource.choices},
            },
            map_text=map_strings(),
            prev_month=previous.strftime("%Y-%m"),
            next_month=following.strftime("%Y-%m") if following <= timezone.localdate() else "",
        )
        return ctx


class DutyView(MobilePageMixin, TemplateView):
    """The grid worker's duty page on the phone: start and end duty, the consent screen the first
    time (and after a new consent text), today's totals, withdrawing consent."""

    template_name = "patrol/mobile/duty.html"
    required_perms = (RECORD_PERM,)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        state = state_of(self.request.user)
        ctx["state"] = state
        ctx["today_duty"] = duration(state["today"]["on_duty_seconds"])
        ctx["today_km"] = f"{state['today']['distance_m'] / 1000:.2f}"
        return ctx
