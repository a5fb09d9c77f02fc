"""The load tests, run against a live server (``bench.loadtest.server``) from one asyncio loop.

- ``throughput``: closed-loop clients POST back to back for a while; the rate of answered requests
  and their latencies. Run on ``POST /open311/v2/requests.json`` and on the floor endpoint.
- ``reliability``: N reports from C clients, each report with its own ``Idempotency-Key``; a client
  retries a report (same key, short backoff) on a timeout, a connection error or a 5xx answer, until
  it gets 200/201. Optionally the server is killed during the load (SIGKILL one gunicorn worker, and
  later the whole server, restarted a second later). Afterwards the database must hold exactly N
  cases of the client, each acknowledged id must be the case of its key, and every case must be
  whole (its "reported" event and its first deadline, written in the same transaction).
- ``dispatch_race``: two dispatchers POST ``/api/v1/cases/{id}/dispatch/`` for the same case at the
  same moment: one must get 200, the other 409, and the case one "dispatched" event.

The functions that need the database (checks, fixtures) run in the calling process, which has
Django set up on the same database as the server (``bench.settings``)."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from bench.timing import Stats

from .http import Connection, HttpError, form, json_body

OPEN311_PATH = "/open311/v2/requests.json"
FLOOR_PATH = "/bench/floor/"
SEED = 311


# ---- what the clients send ------------------------------------------------------------------------


@dataclass
class ReportMaker:
    """Form bodies of Open311 service requests: a random point inside a random grid (uniform over the
    city's grids), a service (leaf category) with answers to its required questions, a description."""

    api_key: str
    points: list[tuple[float, float]]
    services: list[tuple[str, dict[str, str]]]
    rng: random.Random = field(default_factory=lambda: random.Random(SEED))

    @classmethod
    def build(cls, api_key: str, n_points: int = 20_000) -> ReportMaker:
        from bench.benchmarks.locate import _grid_polygons, sample_points
        from civicgrid.open311.selectors import services

        _ids, polygons = _grid_polygons()
        lats, lngs, _owners = sample_points(polygons, n_points, seed=SEED)
        offered = []
        for code, category in sorted(services().items()):
            attributes = {}
            for q in category.questions.all():
                if q.required:
                    value = q.values[0]["key"] if q.values else "1"
                    attributes[f"attribute[{q.code}]"] = str(value)
            offered.append((code, attributes))
        return cls(api_key, list(zip(lats, lngs, strict=True)), offered)

    def body(self, i: int) -> bytes:
        lat, lng = self.points[i % len(self.points)]
        code, attributes = self.services[self.rng.randrange(len(self.services))]
        data = {
            "api_key": self.api_key,
            "service_code": code,
            "lat": f"{lat:.6f}",
            "long": f"{lng:.6f}",
            "description": f"负载测试上报 #{i}：路边垃圾堆放两天没人清理",
            "first_name": "三",
            "last_name": "张",
            **attributes,
        }
        return form(data)[0]


FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}


# ---- throughput -------------------------------------------------------------------------------------


@dataclass
class Throughput:
    path: str
    clients: int
    seconds: float
    ok: int = 0
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    #: ``(before, after, answered)`` per round: what ``mark`` read at the counted window's edges.
    marks: list[tuple] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def stats(self) -> Stats:
        return Stats.of(self.latencies or [0.0])

    def merge(self, other: Throughput) -> Throughput:
        out = Throughput(self.path, self.clients, self.seconds + other.seconds, self.ok + other.ok)
        out.statuses = self.statuses + other.statuses
        out.errors = self.errors + other.errors
        out.latencies = self.latencies + other.latencies
        out.marks = self.marks + other.marks
        return out

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "clients": self.clients,
            "seconds": round(self.seconds, 3),
            "answered_2xx": self.ok,
            "per_second": round(self.per_second, 1),
            "statuses": dict(self.statuses),
            "errors": dict(self.errors),
        }


async def throughput(
    port: int, path: str, make_body, *, clients: int, seconds: float, warmup: float, headers=None, mark=None
) -> Throughput:
    """``clients`` closed-loop clients POST ``make_body(i)`` to ``path`` for ``warmup + seconds``;
    requests that complete inside the last ``seconds`` are counted. ``mark()``, if given, is read
    when the counted window opens and when it closes (``Throughput.marks``)."""
    result = Throughput(path, clients, seconds)
    counter = iter(range(10**9))
    start = time.perf_counter()
    window = (start + warmup, start + warmup + seconds)

    async def client() -> None:
        conn = Connection("127.0.0.1", port, timeout=60)
        try:
            while time.perf_counter() < window[1]:
                i = next(counter)
                extra = dict(headers(i)) if callable(headers) else {}
                t0 = time.perf_counter()
                try:
                    response = await conn.request("POST", path, make_body(i), {**FORM_HEADERS, **extra})
                except HttpError as exc:
                    if window[0] <= time.perf_counter() <= window[1]:
                        result.errors[str(exc)] += 1
                    continue
                t1 = time.perf_counter()
                if window[0] <= t1 <= window[1]:
                    result.statuses[response.status] += 1
                    if 200 <= response.status < 300:
                        result.ok += 1
                        result.latencies.append(t1 - t0)
        finally:
            await conn.close()

    async def marker() -> None:
        await asyncio.sleep(max(0.0, window[0] - time.perf_counter()))
        before = mark()
        await asyncio.sleep(max(0.0, window[1] - time.perf_counter()))
        edges.append((before, mark()))

    edges: list[tuple] = []
    await asyncio.gather(*(client() for _ in range(clients)), *([marker()] if mark else []))
    result.marks = [(before, after, result.ok) for before, after in edges]
    return result


# ---- reliability --------------------------------------------------------------------------------------


@dataclass
class Reliability:
    reports: int
    clients: int
    kills: list[str] = field(default_factory=list)
    acks: dict[str, set[int]] = field(default_factory=dict)  # idempotency key -> case ids answered
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    retries: int = 0
    replayed: int = 0  # 200 answers (the key was known: an earlier attempt had made the case)
    unexpected: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    # Filled by check():
    cases: int = 0
    distinct_keys: int = 0
    lost: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    incomplete: int = 0
    unanswered: int = 0

    @property
    def five_xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    @property
    def passed(self) -> bool:
        return (
            self.cases == self.reports
            and self.distinct_keys == self.reports
            and not self.lost
            and not self.mismatched
            and not self.incomplete
            and not self.unanswered
            and self.five_xx == 0
            and not self.unexpected
        )

    def as_dict(self) -> dict:
        return {
            "reports": self.reports,
            "clients": self.clients,
            "kills": self.kills,
            "seconds": round(self.seconds, 3),
            "per_second": round(self.reports / self.seconds, 1) if self.seconds else None,
            "acknowledged": len(self.acks),
            "cases_in_database": self.cases,
            "distinct_keys_in_database": self.distinct_keys,
            "lost_acknowledged": self.lost[:20],
            "ids_not_matching_key": self.mismatched[:20],
            "cases_without_event_or_deadline": self.incomplete,
            "never_answered": self.unanswered,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "answers_5xx": self.five_xx,
            "errors": dict(self.errors),
            "retries": self.retries,
            "replayed_200": self.replayed,
            "unexpected": self.unexpected[:20],
            "passed": self.passed,
        }


def case_id(number: str) -> int:
    """The case's id from its number as Open311 answers it (report date + 8-digit id)."""
    return int(number[8:])


async def reliability(
    server,
    maker: ReportMaker,
    *,
    run: str,
    reports: int,
    clients: int,
    kill: bool = False,
    timeout: float = 20.0,
    give_up_after: float = 300.0,
) -> Reliability:
    """Send ``reports`` reports (keys ``{run}-{i}``) from ``clients`` clients with retries; with
    ``kill``, SIGKILL a worker after a third of the reports were acknowledged and the whole server
    (restarted one second later) after two thirds."""
    result = Reliability(reports, clients)
    bodies = [maker.body(i) for i in range(reports)]
    pending = iter(range(reports))
    started = time.perf_counter()
    acked = 0
    milestones = asyncio.Event()

    async def client() -> None:
        nonlocal acked
        conn = Connection("127.0.0.1", server.port, timeout=timeout)
        try:
            for i in pending:
                key = f"{run}-{i}"
                first = time.perf_counter()
                delay = 0.05
                while True:
                    if time.perf_counter() - first > give_up_after:
                        result.unanswered += 1
                        break
                    t0 = time.perf_counter()
                    try:
                        response = await conn.request(
                            "POST", OPEN311_PATH, bodies[i], {**FORM_HEADERS, "Idempotency-Key": key}
                        )
                    except HttpError as exc:
                        result.errors[str(exc)] += 1
                    else:
                        result.statuses[response.status] += 1
                        if response.status in (200, 201):
                            result.latencies.append(time.perf_counter() - t0)
                            number = response.json()[0]["service_request_id"]
                            result.acks.setdefault(key, set()).add(case_id(number))
                            result.replayed += response.status == 200
                            acked += 1
                            milestones.set()
                            break
                        if response.status < 500:
                            result.unexpected.append(f"{key}: {response.status} {response.body[:200]!r}")
                            break
                    result.retries += 1
                    await asyncio.sleep(delay * (0.5 + random.random()))
                    delay = min(delay * 2, 1.0)
        finally:
            await conn.close()

    async def killer() -> None:
        for fraction, what in ((1 / 3, "worker"), (2 / 3, "server")):
            while acked < reports * fraction:
                milestones.clear()
                await milestones.wait()
            if what == "worker":
                pid = server.kill_worker()
                result.kills.append(f"SIGKILL worker {pid} after {acked} acknowledged")
            else:
                server.kill_web()
                result.kills.append(f"SIGKILL server after {acked} acknowledged")
                await asyncio.sleep(1.0)
                t0 = time.perf_counter()
                await asyncio.to_thread(server.start, huey=False)
                result.kills.append(f"restarted in {time.perf_counter() - t0:.1f} s")

    tasks = [asyncio.ensure_future(client()) for _ in range(clients)]
    if kill:
        tasks.append(asyncio.ensure_future(killer()))
    await asyncio.gather(*tasks)
    result.seconds = time.perf_counter() - started
    return result


def check_reliability(result: Reliability, *, source: str, run: str) -> Reliability:
    """Compare the answers with the database (in this process)."""
    from django.db.models import Count

    from civicgrid.cases.choices import EventKind, Stage
    from civicgrid.cases.models import Case, CaseDeadline, CaseEvent

    rows = dict(
        Case.objects.filter(source=source, idempotency_key__startswith=f"{run}-").values_list(
            "idempotency_key", "pk"
        )
    )
    result.distinct_keys = len(rows)
    result.cases = Case.objects.filter(source=source, idempotency_key__startswith=f"{run}-").count()
    for key, ids in result.acks.items():
        if key not in rows:
            result.lost.append(key)
        elif ids != {rows[key]}:
            result.mismatched.append(f"{key}: answered {sorted(ids)}, database {rows[key]}")
    ids = list(rows.values())
    whole = 0
    for start in range(0, len(ids), 5000):
        part = ids[start : start + 5000]
        events = set(
            CaseEvent.objects.filter(case_id__in=part, kind=EventKind.REPORTED)
            .values("case_id")
            .annotate(n=Count("id"))
            .filter(n=1)
            .values_list("case_id", flat=True)
        )
        clocks = set(
            CaseDeadline.objects.filter(case_id__in=part, stage=Stage.RECORD).values_list(
                "case_id", flat=True
            )
        )
        whole += len(events & clocks)
    result.incomplete = len(ids) - whole
    return result


# ---- two dispatchers, one case --------------------------------------------------------------------


@dataclass
class Race:
    cases: int
    outcomes: Counter = field(default_factory=Counter)  # "200+409" etc.
    wrong: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.wrong and self.outcomes.get("200+409", 0) == self.cases

    def as_dict(self) -> dict:
        return {
            "cases": self.cases,
            "outcomes": dict(self.outcomes),
            "wrong": self.wrong[:20],
            "passed": self.passed,
        }


def race_fixtures(dispatchers: list, case_ids: list[int]) -> tuple[list[str], list[tuple[int, int, int]]]:
    """API tokens for the dispatchers (agreement accepted), and (case id, version, unit id) of each
    case: its community's office, a unit the dispatchers may send it to."""
    from civicgrid.accounts.selectors import current_agreement, needs_agreement
    from civicgrid.accounts.services import agreement_accept, api_token_create
    from civicgrid.cases.models import Case, Department

    tokens = []
    for user in dispatchers:
        if needs_agreement(user):
            agreement_accept(user=user, agreement=current_agreement(), ip=None)
        _token, key = api_token_create(user=user, name="bench dispatch race")
        tokens.append(key)
    offices = dict(
        Department.objects.filter(function="community_office", is_active=True).values_list(
            "area__scope_code", "pk"
        )
    )
    plan = []
    for pk, version, code in Case.objects.filter(pk__in=case_ids).values_list("pk", "version", "area_code"):
        if code[:12] in offices:
            plan.append((pk, version, offices[code[:12]]))
    return tokens, plan


async def dispatch_race(port: int, tokens: list[str], plan: list[tuple[int, int, int]]) -> Race:
    """For each case, both dispatchers POST the dispatch at once (half of the cases with the version
    they saw, half without): exactly one 200 and one 409 each."""
    race = Race(len(plan))
    for n, (pk, version, unit) in enumerate(plan):
        payload = {"department": unit, "note": "负载测试并发派遣"}
        if n % 2 == 0:
            payload["expected_version"] = version
        body, headers = json_body(payload)
        path = f"/api/v1/cases/{pk}/dispatch/"

        async def post(token, body=body, headers=headers, path=path):
            # A new connection each time: a kept-alive one may have been closed by the server while
            # idle, and a POST whose connection dropped cannot be told apart from one that was lost.
            conn = Connection("127.0.0.1", port, timeout=60)
            t0 = time.perf_counter()
            try:
                response = await conn.request(
                    "POST", path, body, {**headers, "Authorization": f"Bearer {token}"}
                )
            finally:
                await conn.close()
            race.latencies.append(time.perf_counter() - t0)
            return response

        answers = await asyncio.gather(*(post(t) for t in tokens))
        statuses = sorted(a.status for a in answers)
        race.outcomes["+".join(map(str, statuses))] += 1
        if statuses != [200, 409]:
            race.wrong.append(f"case {pk}: {statuses} {[a.body[:120] for a in answers]}")
    return race


def check_race(race: Race, plan: list[tuple[int, int, int]]) -> Race:
    from django.db.models import Count

    from civicgrid.cases.choices import EventKind, Status
    from civicgrid.cases.models import Case, CaseEvent

    ids = [pk for pk, _v, _u in plan]
    events = dict(
        CaseEvent.objects.filter(case_id__in=ids, kind=EventKind.DISPATCHED)
        .values("case_id")
        .annotate(n=Count("id"))
        .values_list("case_id", "n")
    )
    statuses = dict(Case.objects.filter(pk__in=ids).values_list("pk", "status"))
    for pk in ids:
        if events.get(pk) != 1 or statuses.get(pk) != Status.DISPATCHED:
            race.wrong.append(f"case {pk}: {events.get(pk, 0)} dispatched events, status {statuses.get(pk)}")
    return race


def run_async(coro):
    """Run ``coro`` in a fresh event loop on a thread of its own (the caller may be inside Django's
    async-unsafe context; the loop never touches the database)."""
    box: dict = {}

    def target():
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
