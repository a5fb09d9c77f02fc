"""Work dynamics for their readers: residents in the portal (``/portal/dynamics/``, mobile H5) read
the published posts of their community and of its street; grid workers read the same for their
grid in the phone app (``/m/dynamics/``). A draft, a withdrawn post or another community's post
answers 404, exactly like a missing one."""

from __future__ import annotations

from django.shortcuts import get_object_or_404, render
from django.views import View
from django.views.generic import ListView

from civicgrid.core.views import StaffPageMixin
from civicgrid.portal import selectors as portal_selectors
from civicgrid.portal.views import ResidentMixin

from . import selectors, services
from .views import split_pictures

#: Posts a session remembers having counted (a reload is not a second view).
SEEN_KEY = "dynamics_seen"
SEEN_MAX = 200


def count_view(request, post) -> None:
    seen = request.session.get(SEEN_KEY, [])
    if post.pk in seen:
        return
    services.post_record_view(post=post)
    post.view_count += 1
    request.session[SEEN_KEY] = [*seen[-(SEEN_MAX - 1) :], post.pk]


def _detail_context(post) -> dict:
    cover, gallery = split_pictures(selectors.pictures_of(post))
    return {"post": post, "cover": cover, "gallery": gallery}


class PortalListView(ResidentMixin, ListView):
    template_name = "dynamics/portal_list.html"
    paginate_by = 20

    def get_queryset(self):
        return selectors.posts_for_resident(self.request.user)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["community"] = portal_selectors.resident_communities(self.request.user)[0]
        return ctx


class PortalDetailView(ResidentMixin, View):
    def get(self, request, pk):
        post = get_object_or_404(selectors.posts_for_resident(request.user), pk=pk)
        count_view(request, post)
        return render(request, "dynamics/portal_detail.html", _detail_context(post))


class MobileListView(StaffPageMixin, ListView):
    """The phone app's list: published posts of the grid worker's community and street."""

    template_name = "dynamics/mobile_list.html"
    paginate_by = 20

    def get_queryset(self):
        return selectors.posts_for_grid_worker(self.request.user)


class MobileDetailView(StaffPageMixin, View):
    def get(self, request, pk):
        post = get_object_or_404(selectors.posts_for_grid_worker(request.user), pk=pk)
        count_view(request, post)
        return render(request, "dynamics/mobile_detail.html", _detail_context(post))
