"""Shared test helpers: users with posts, and the base class that checks a scoped endpoint for
every built-in role with an object inside and an object outside the role's scope."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from civicgrid.accounts.choices import UserType
from civicgrid.accounts.models import Role, User
from civicgrid.accounts.roles import BUILTIN_ROLES
from civicgrid.areas.choices import AreaLevel
from civicgrid.areas.models import Area
from civicgrid.core.scope import DataScope

#: Where each built-in role's test post sits (an area code of the Wuzhou demo tree).
HOME = {
    "city": "450400",
    "district": "450403",  # 万秀区
    "street": "450403005000",  # 角嘴街道
    "community": "450403005001",
    "grid": "450403005001001",
}
ROLE_AREA = {
    "sysadmin": HOME["city"],
    "auditor": HOME["city"],
    "city_official": HOME["city"],
    "district_official": HOME["district"],
    "street_official": HOME["street"],
    "community_official": HOME["community"],
    "dispatcher": HOME["city"],
    "dept_handler": HOME["district"],
    "grid_worker": HOME["grid"],
    "resident": HOME["community"],
}
#: A grid in another district (长洲区), outside every post above below city level.
ELSEWHERE_GRID = "450405001001001"
#: A grid in another city, outside even the city-level posts (created by ``other_city``).
OTHER_CITY_GRID = "450102001001001"


def other_city() -> Area:
    """A small second city (南宁市), so city-level posts also have something out of scope."""
    from civicgrid.areas.services import area_create

    grid = Area.objects.filter(code=OTHER_CITY_GRID).first()
    if grid is not None:
        return grid
    parent = None
    for code, name, level in (
        ("450100", "南宁市", AreaLevel.CITY),
        ("450102", "兴宁区", AreaLevel.DISTRICT),
        ("450102001000", "民生街道", AreaLevel.STREET),
        ("450102001001", "民生社区", AreaLevel.COMMUNITY),
        (OTHER_CITY_GRID, "民生社区第01网格", AreaLevel.GRID),
    ):
        parent = area_create(actor=None, code=code, name=name, level=level, parent=parent)
    return parent


def make_user(
    username: str,
    role_code: str | None = None,
    area_code: str | None = None,
    *,
    data_scope: str | None = None,
    password: str = "correct-horse-battery-9",
) -> User:
    from civicgrid.accounts.services import post_create

    user_type = UserType.RESIDENT if role_code == "resident" else UserType.STAFF
    user = User.objects.create_user(
        username=username, password=password, user_type=user_type, display_name=username
    )
    if role_code:
        area = Area.objects.get(code=area_code or ROLE_AREA[role_code])
        post_create(
            actor=None, user=user, role=Role.objects.get(code=role_code), area=area, data_scope=data_scope
        )
    return user


#: A phone-sized browser viewport (CSS pixels) for the phone app's browser tests.
PHONE_VIEWPORT = {"width": 390, "height": 844}


def browser_sign_in(context, live_server, user: User) -> None:
    """Give a Playwright browser ``context`` the session of ``user``, as if signed in (the sign-in
    pages have browser tests of their own)."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])


def signed_in_context(browser, live_server, user: User, **options):
    """A new Chinese-locale browser context signed in as ``user``; ``options`` go to
    ``browser.new_context`` (viewport, geolocation and so on)."""
    context = browser.new_context(locale="zh-CN", **options)
    browser_sign_in(context, live_server, user)
    return context


def _without_network(route) -> None:
    if route.request.method == "GET":
        route.fallback()
    else:
        route.abort("internetdisconnected")


def set_signal(context, present: bool) -> None:
    """The phone's signal on or off: Playwright's offline mode, and while it is off every request of
    the context's pages other than a GET fails as it would without a network. With the offline mode
    alone, a diary visit queued without signal once reached the server after its page was reloaded,
    before the signal was back (probably the reloaded page's ``navigator.onLine`` read true for a
    moment and its outbox sent). GETs are left to the offline mode and the service worker's cache."""
    context.set_offline(not present)
    if present:
        context.unroute("**/*", _without_network)
    else:
        context.route("**/*", _without_network)


#: The URLs in the page's Cache Storage (the service worker's caches), as a list.
_CACHED_URLS = (
    "caches.keys()"
    ".then(ks => Promise.all(ks.map(k => caches.open(k).then(c => c.keys()))))"
    ".then(all => all.flat().map(r => r.url))"
)


def wait_until_cached(page, *paths: str, timeout: float = 15.0) -> None:
    """Wait until the service worker controls ``page`` and has cached a URL ending in each of
    ``paths``. (Polled from here: ``wait_for_function`` takes a pending Promise for a true value.)"""
    import time

    deadline = time.monotonic() + timeout
    while True:
        if page.evaluate("navigator.serviceWorker.controller !== null"):
            urls = page.evaluate(_CACHED_URLS)
            if all(any(url.endswith(path) for url in urls) for path in paths):
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"not cached within {timeout} s: {paths}")
        page.wait_for_timeout(200)


def api_client(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@dataclass
class Placement:
    inside: Area
    outside: Area


def placement_for(role_code: str) -> Placement:
    """An area inside the role's test post (the post's own node for "this node only",
    otherwise the first grid below it) and a grid outside it."""
    post_area = Area.objects.get(code=ROLE_AREA[role_code])
    if BUILTIN_ROLES[role_code].scope == DataScope.NODE or post_area.level == AreaLevel.GRID:
        inside = post_area
    else:
        inside = (
            Area.objects.in_area(post_area.scope_code).filter(level=AreaLevel.GRID).order_by("code").first()
        )
    outside = other_city() if post_area.level == AreaLevel.CITY else Area.objects.get(code=ELSEWHERE_GRID)
    return Placement(inside=inside, outside=outside)


def count_queries(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


@pytest.mark.django_db
class ScopedEndpointTests:
    """Subclass for each scoped endpoint and set:

    - ``model``: the scoped model; its view permission decides who sees anything;
    - ``api_list``: the list URL; ``api_detail(obj)``: the detail URL;
    - ``make_object(area, n)``: create a record in ``area`` (n distinguishes several);
    - optionally ``page_detail(obj)`` and ``page_list()`` for the HTML pages, and ``marker(obj)``,
      a string that shows the object in a list response.

    For every built-in role it then checks: a role without the view permission is refused the list
    (403); otherwise the in-scope object is listed and opens (200), the out-of-scope one is absent and
    answers 404 exactly like a missing id — unless the role's scope is all data. The list's query
    count must not grow with the number of rows."""

    model = None
    roles = list(BUILTIN_ROLES)

    def api_list(self) -> str:
        raise NotImplementedError

    def api_detail(self, obj) -> str:
        raise NotImplementedError

    def make_object(self, area: Area, n: int = 0):
        raise NotImplementedError

    def page_list(self) -> str | None:
        return None

    def page_detail(self, obj) -> str | None:
        return None

    def marker(self, obj) -> str:
        return f'"id":{obj.pk},'

    def missing_detail(self) -> str:
        obj = self.model(pk=10**9)
        return self.api_detail(obj)

    def _perm(self, role_code: str) -> bool:
        spec = BUILTIN_ROLES[role_code]
        opts = self.model._meta
        return spec.all_perms or f"{opts.app_label}.view_{opts.model_name}" in spec.perms

    @pytest.fixture(params=list(BUILTIN_ROLES))
    def role_case(self, request, wuzhou):
        role_code = request.param
        user = make_user(f"t_{role_code}", role_code)
        where = placement_for(role_code)
        inside = self.make_object(where.inside, 1)
        outside = self.make_object(where.outside, 2)
        return role_code, user, inside, outside

    def test_api_scope(self, role_case):
        role_code, user, inside, outside = role_case
        client = api_client(user)
        listing = client.get(self.api_list(), {"page_size": 500})
        if not self._perm(role_code):
            assert listing.status_code == 403, listing.content
            assert client.get(self.api_detail(inside)).status_code == 403
            return
        assert listing.status_code == 200, listing.content
        body = listing.content.decode().replace(" ", "")
        assert self.marker(inside) in body
        assert client.get(self.api_detail(inside)).status_code == 200
        everything = BUILTIN_ROLES[role_code].scope == DataScope.ALL
        assert (self.marker(outside) in body) == everything
        outside_status = client.get(self.api_detail(outside)).status_code
        assert outside_status == (200 if everything else 404)
        missing = client.get(self.missing_detail())
        assert missing.status_code == 404
        if not everything:
            assert client.get(self.api_detail(outside)).json() == missing.json()

    def test_page_scope(self, role_case, client):
        role_code, user, inside, outside = role_case
        if self.page_detail(inside) is None:
            pytest.skip("this endpoint has no page")
        client.force_login(user)
        if not self._perm(role_code):
            assert client.get(self.page_detail(inside)).status_code in (403, 302)
            return
        assert client.get(self.page_detail(inside)).status_code == 200
        everything = BUILTIN_ROLES[role_code].scope == DataScope.ALL
        assert client.get(self.page_detail(outside)).status_code == (200 if everything else 404)

    def test_list_query_count(self, wuzhou):
        user = make_user("t_counter", "sysadmin")
        client = api_client(user)
        area = Area.objects.get(code=HOME["grid"])
        self.make_object(area, 10)
        client.get(self.api_list())  # warm-up: the caller's posts are loaded once per user
        first = count_queries(lambda: client.get(self.api_list()))
        for n in range(11, 16):
            self.make_object(area, n)
        second = count_queries(lambda: client.get(self.api_list()))
        assert first == second, f"list queries grew with rows: {first} -> {second}"
