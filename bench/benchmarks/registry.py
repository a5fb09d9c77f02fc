"""``registry``: people search and the statistics page on the production registry tables.

The data is the project's own generated base data (``bench.registry_dataset``: ``demo.generate`` at
the scale's size). Everything runs through the code the application runs, on the production models:

- **search** — what ``GET /api/v1/registry/people/?q=…`` does for its rows:
  ``search_people(Person.objects.visible_to(user), q)`` (or ``filter_people(…, address=…)``),
  ``.order_by("-id")``, ``CappedPaginator(qs, 50).page(1)`` (the count, capped at 10,001 rows, then
  the page) and the page's rows evaluated. One kind of search per way the search box reads its
  input: the start of a name, pinyin initials, an exact ID number (blind index), a phone suffix (4
  digits), a full mobile number (blind index), and the address filter (the start of the address).
  Terms come from the data, in the community official's area (so both officials find something): the
  commonest surname + first given character and the commonest compound + building ("鸳江花园 8栋")
  there, and one person's ID number, mobile, its last four digits and the first two of their pinyin
  initials. Target: **p95 <
  100 ms** for each, for a district official (万秀区 450403) and a community official (450403005001).
- **statistics** — what the statistics page computes for an area, ``area_statistics`` (the
  ``StatisticsView``'s selector): people by type, age band, visible tag and sub-area
  (``population_statistics``) and houses by use (``house_statistics``), for the district official on
  the district, a street (角嘴街道) and a community. Target: **p95 < 500 ms** for the district,
  **< 300 ms** for the street and the community.
- **HTTP** — each search once more through Django's test ``Client`` (session of the district official,
  every middleware, DRF, serializer, JSON) to show what the API layer adds to the selector. No
  target; the client keeps one database connection (no connect per request).

Jobs run round-robin in a shuffled order. The plans of every operation's queries are in the JSON
(``notes.registry.plans``); the ones that miss their target are printed after the table.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from bench.dataset import PERSONAS
from bench.plans import explain_queries
from bench.scales import Scale
from bench.timing import Result, Stats

PAGE_SIZE = 50
SEARCH_TARGET_MS = 100.0
SEED = 23
#: The officials who search (keys of ``bench.dataset.PERSONAS``); the first also times the API.
SEARCHERS = ("district", "community")
#: Areas of the statistics page, all seen by the district official, and their p95 targets (ms).
STATS_AREAS = (
    ("district", "450403", "district 万秀区 450403", 500.0),
    ("street", "450403005000", "street 角嘴街道 450403005000", 300.0),
    ("community", "450403005001", "community 450403005001", 300.0),
)
API_PEOPLE = "/api/v1/registry/people/"
AUTH_BACKEND = "civicgrid.accounts.backends.PostPermissionBackend"


@dataclass(frozen=True)
class Search:
    kind: str
    label: str
    q: str = ""
    address: str = ""
    #: Safe to print (not an ID or mobile number).
    shown: str = ""

    def params(self) -> dict[str, str]:
        return {"address": self.address} if self.address else {"q": self.q}


def search_terms(community_user) -> tuple[list[Search], int]:
    """The six searches, with terms taken from the community official's people; and the id of the
    person the exact searches must find."""
    from civicgrid.registry.models import Person

    people = Person.objects.visible_to(community_user)
    names = Counter(name[:2] for name in people.values_list("name", flat=True) if len(name) >= 2)
    buildings = Counter(" ".join(a.split()[:2]) for a in people.values_list("address", flat=True) if a)
    if not names or not buildings:
        raise RuntimeError("the community official sees nobody: the registry dataset is empty")
    common, building = (min(c.items(), key=lambda item: (-item[1], item[0]))[0] for c in (names, buildings))
    candidates = people.exclude(phone_suffix="").exclude(id_index=None).order_by("id")
    sample = candidates[candidates.count() // 2]
    initials = sample.name_initials[:2]
    searches = [
        Search("name", f"start of name {common}", q=common, shown=common),
        Search("initials", f"pinyin initials {initials}", q=initials, shown=initials),
        Search("id_number", "ID number (blind index)", q=sample.id_number),
        Search(
            "phone_suffix", f"phone suffix {sample.phone[-4:]}", q=sample.phone[-4:], shown=sample.phone[-4:]
        ),
        Search("mobile", "full mobile (blind index)", q=sample.phone),
        Search("address", f"start of address {building}", address=building, shown=building),
    ]
    return searches, sample.pk


def list_people(user, search: Search) -> tuple[int, list]:
    """One list request's database work: (capped count, the page's rows)."""
    from civicgrid.core.pagination import CappedPaginator
    from civicgrid.registry.models import Person
    from civicgrid.registry.selectors import filter_people, search_people

    qs = Person.objects.visible_to(user)
    if search.address:
        qs = filter_people(qs, user=user, address=search.address)
    qs = search_people(qs, search.q).order_by("-id")
    paginator = CappedPaginator(qs, PAGE_SIZE)
    rows = list(paginator.page(1).object_list)
    return paginator.count, rows


def statistics(user, area) -> dict:
    """What StatisticsView computes for ``area`` (without the breadcrumb and the template)."""
    from civicgrid.registry.selectors import area_statistics

    return area_statistics(user, area)


class Job:
    """One timed operation and its samples."""

    def __init__(self, key: str, label: str, fn: Callable[[], object], target_ms: float | None):
        self.key, self.label, self.fn, self.target_ms = key, label, fn, target_ms
        self.samples: list[float] = []
        self.extra: dict = {}

    def once(self) -> float:
        t0 = time.perf_counter()
        self.fn()
        return time.perf_counter() - t0

    @property
    def stats(self) -> Stats:
        return Stats.of(self.samples)

    @property
    def passed(self) -> bool | None:
        return None if self.target_ms is None else self.stats.p95_ms < self.target_ms


def _time_round_robin(jobs: list[Job], warmup: int, repetitions: int) -> None:
    rng = random.Random(SEED)
    order = list(jobs)
    for rep in range(warmup + repetitions):
        rng.shuffle(order)
        for job in order:
            seconds = job.once()
            if rep >= warmup:
                job.samples.append(seconds)


def _check_search(job: Job, user, search: Search, sample_id: int) -> None:
    from civicgrid.core.pagination import COUNT_CAP

    count, rows = list_people(user, search)
    if count < 1 or not rows:
        raise AssertionError(f"{job.key}: found nobody")
    if search.kind in ("id_number", "mobile") and sample_id not in {p.pk for p in rows}:
        raise AssertionError(f"{job.key}: the exact search missed its person")
    if search.kind == "name" and not all(p.name.startswith(search.q) for p in rows):
        raise AssertionError(f"{job.key}: a name on the page does not start with {search.q}")
    if search.kind == "address" and not all(p.address.startswith(search.address) for p in rows):
        raise AssertionError(f"{job.key}: an address on the page does not start with {search.address}")
    ids = [p.pk for p in rows]
    if ids != sorted(ids, reverse=True):
        raise AssertionError(f"{job.key}: the page is not in -id order")
    job.extra["matches"] = count
    job.extra["found"] = f"{COUNT_CAP:,}+" if count > COUNT_CAP else f"{count:,}"


def _check_statistics(job: Job, user, area) -> None:
    data = statistics(user, area)
    stats = data["stats"]
    total = stats["total"]
    by_child = [n for _child, n in data["rows"]]
    if total < 1 or (by_child and sum(by_child) != total):
        raise AssertionError(f"{job.key}: sub-area head counts do not add up to the area's {total}")
    if sum(stats["by_type"].values()) != total or sum(stats["by_age"].values()) > total:
        raise AssertionError(f"{job.key}: the counts by type or age do not fit the area's {total}")
    job.extra.update(people=total, children=len(by_child))


def _api_client(user):
    from django.test import Client

    from civicgrid.accounts.selectors import current_agreement, needs_agreement
    from civicgrid.accounts.services import agreement_accept

    if needs_agreement(user):
        agreement_accept(user=user, agreement=current_agreement(), ip=None)
    client = Client()
    client.force_login(user, backend=AUTH_BACKEND)
    return client


def _http_job(client, search: Search, selector: Job) -> Job:
    from civicgrid.core.pagination import COUNT_CAP

    url = f"{API_PEOPLE}?{urlencode(search.params())}"

    def get():
        response = client.get(url)
        if response.status_code != 200:
            raise AssertionError(f"GET {API_PEOPLE} ({search.kind}) answered {response.status_code}")
        return response

    body = get().json()
    if body["count"] != min(selector.extra["matches"], COUNT_CAP):
        raise AssertionError(f"the API counts {body['count']}, the selector {selector.extra['matches']}")
    job = Job(f"http/{search.kind}", f"HTTP GET people ?{search.kind} [district]", get, None)
    job.extra.update(matches=selector.extra["matches"], found=selector.extra["found"])
    return job


def run(scale: Scale, users: dict) -> tuple[list[Result], dict]:
    from civicgrid.areas.models import Area
    from civicgrid.core.scope import user_scopes

    labels = {p.key: p.label for p in PERSONAS}
    for key in SEARCHERS:
        user_scopes(users[key])  # posts load once per request; not what is measured here
    searches, sample_id = search_terms(users["community"])

    search_jobs: list[Job] = []
    for who in SEARCHERS:
        for s in searches:
            job = Job(
                f"{who}/{s.kind}",
                f"search by {s.label} [{who}]",
                lambda u=users[who], s=s: list_people(u, s),
                SEARCH_TARGET_MS,
            )
            _check_search(job, users[who], s, sample_id)
            job.extra.update(kind=s.kind, persona=labels[who], term=s.shown)
            search_jobs.append(job)
    stats_user = users[SEARCHERS[0]]
    stats_jobs: list[Job] = []
    for key, code, label, target_ms in STATS_AREAS:
        area = Area.objects.get(code=code)
        job = Job(
            f"statistics/{key}",
            f"statistics page: {label}",
            lambda a=area: statistics(stats_user, a),
            target_ms,
        )
        _check_statistics(job, stats_user, area)
        stats_jobs.append(job)
    _time_round_robin(search_jobs + stats_jobs, scale.search_warmup, scale.searches)

    client = _api_client(stats_user)
    by_key = {job.key: job for job in search_jobs}
    http_jobs = [_http_job(client, s, by_key[f"{SEARCHERS[0]}/{s.kind}"]) for s in searches]
    _time_round_robin(http_jobs, min(scale.search_warmup, 2), scale.http_repetitions)

    results = [_result(job) for job in search_jobs + stats_jobs]
    for s, job in zip(searches, http_jobs, strict=True):
        selector = by_key[f"{SEARCHERS[0]}/{s.kind}"]
        results.append(_result(job, against=selector))

    plans = {job.key: explain_queries(job.fn, ("count", "page")) for job in search_jobs}
    stats_names = ("child_areas", "population", "tag_rows", "by_tag", "house_use")
    plans.update({job.key: explain_queries(job.fn, stats_names) for job in stats_jobs})
    missed = [job.key for job in search_jobs + stats_jobs if job.passed is False]
    terms = {s.kind: s.shown or "(from the data, not shown)" for s in searches}
    notes = {"plans": plans, "missed": missed, "terms": terms, "page_size": PAGE_SIZE}
    return results, notes


def _result(job: Job, against: Job | None = None) -> Result:
    stats = job.stats
    extra = dict(job.extra)
    if against is not None:
        selector = against.stats
        extra["api_overhead_ms"] = round(stats.median_ms - selector.median_ms, 3)
        return Result(
            "registry",
            job.label,
            stats,
            ratio=stats.p95_ms / selector.p95_ms,
            ratio_to="selector",
            ratio_basis="p95",
            extra=extra,
        )
    return Result(
        "registry",
        job.label,
        stats,
        target=f"p95 < {job.target_ms:.0f} ms",
        passed=job.passed,
        extra=extra,
    )
