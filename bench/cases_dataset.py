"""The cases dataset: a city's worth of event-handling history in the production tables
(``cases_case``, ``cases_casedeadline``, ``cases_case_assisting_departments``), written in bulk with
raw SQL (not through the services: a million reports through ``case_report`` would take hours).

What it holds (deterministic, seeded), at ``SIZES[scale].cases`` cases (city: 1,000,000):

- ids 1..N in report order over two years ending at ``ANCHOR`` (a fixed instant, so a dataset built
  on one day means the same on another: the benchmarks pass ``ANCHOR`` as "now" wherever it matters);
- each case in one of the 567 Wuzhou grids, grids weighted lognormally (σ = 0.5) as in
  ``bench.dataset``; ``area_code`` = the grid's scope code; lat/lng near the grid's centre;
- a leaf category of the seeded taxonomy (Zipf-like weights), its urgency and answers to its required
  questions; a channel (grid worker, resident, hotline, …); a handling level (community 72 %, street
  18 %, district 8 %, city 2 %; some of the higher ones escalated);
- a status that depends on the case's age: recent cases are mostly open (reported, recorded,
  dispatched, in progress, handled, verified), older ones mostly closed (or rejected, merged), with a
  tail of old open ones (stuck cases, deferred risk points): about 2 % of all cases are open;
- the handling unit (``department``): the nearest department, from the case's level up, whose function
  the category asks for (the rule of ``selectors.suggest_department``), over the departments
  ``civicgrid.cases.demo.load_departments`` seeds for Wuzhou's urban area; 3 % of dispatched cases
  have an assisting unit;
- the timestamps of every step taken (recorded, dispatched, handled, closed) and, per stage the case
  went through, a ``CaseDeadline`` row (record → dispatch → handle → verify → close; 5 per closed
  case, about 4.8 M rows at city scale) with the policy the seeded ``DeadlinePolicy`` table resolves
  for it (``deadlines.resolve_policy``), its warning and due times and its outcome (met ≈ 90 %, late,
  cancelled). Working time is approximated by calendar time (a working day ≈ 1.4 days, a working
  hour ≈ 1.5 hours): computing the work calendar for six million clocks would dominate the build;
- open cases carry the running clock of their current stage (``deadline_stage``, ``warn_at``,
  ``due_at``, ``overdue_action``), and the flags the sweep would have set by ``ANCHOR`` (``warned_at``,
  ``overdue_at``, plus a supervision), and the sweep's mark is ``ANCHOR`` (``SweepMark``, written
  when the dataset is built or reused): ``deadlines.sweep(ANCHOR)`` on the dataset finds nothing to do.

Not generated: the case events (timeline) and photos, which no benchmark reads.

The rows are inserted with the tables' secondary indexes dropped and recreated afterwards from their
own definitions (faster than maintaining 20 indexes row by row), without foreign-key checks
(the values are valid by construction), with ``executemany`` in chunks on SQLite and ``COPY`` on
PostgreSQL. A dataset is reused when its stored facts (``VERSION``, size, seed, anchor) and row
counts match; rows added after the build (ids above N: the load tests' reports) are deleted first.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import random
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from django.db import connection, transaction

from .dataset import analyze, delete_meta, grids, log, read_meta, write_meta

#: Bump when the generated data changes in a way the stored facts would not notice.
VERSION = 1
SEED = 20261127
#: "Now" for the dataset: the end of its two years (a Monday, 10:00 in Wuzhou).
ANCHOR = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
SPAN = timedelta(days=730)
CHUNK = 10_000
META_NAME = "cases"
GRID_SKEW = 0.5


@dataclass(frozen=True)
class CaseScale:
    """The cases benchmarks' sizes at one bench scale (kept here: ``bench.scales`` is shared)."""

    cases: int
    #: Timed repetitions (after ``warmup``) per list / triage persona.
    list_reps: int
    list_warmup: int
    #: Timed repetitions (after ``stats_warmup``) per statistics operation.
    stats_reps: int
    stats_warmup: int
    #: Timed sweeps per due fraction (each in a transaction rolled back afterwards).
    sweep_reps: int
    #: Open311 throughput: concurrent clients and seconds of load per endpoint (after a warm-up).
    load_clients: int
    load_seconds: float
    #: Reliability: reports sent (each scenario), by how many concurrent clients.
    reliability_reports: int
    reliability_clients: int


SIZES: dict[str, CaseScale] = {
    "tiny": CaseScale(3_000, 10, 2, 3, 1, 1, 8, 3.0, 200, 10),
    "small": CaseScale(50_000, 100, 10, 20, 3, 3, 50, 15.0, 2_000, 50),
    "city": CaseScale(1_000_000, 100, 10, 20, 3, 3, 50, 30.0, 10_000, 50),
}

#: (weight, status) by age of the case at ANCHOR, in days (upper bound of the band).
STATUS_BY_AGE: list[tuple[float, dict[str, float]]] = [
    (0.5, {"reported": 25, "recorded": 10, "dispatched": 25, "in_progress": 20, "handled": 8,
           "verified": 2, "closed": 7, "rejected": 2, "merged": 1}),
    (3, {"reported": 3, "recorded": 2, "dispatched": 8, "in_progress": 10, "handled": 5,
         "verified": 2, "closed": 65, "rejected": 3, "merged": 2}),
    (30, {"reported": 0.5, "recorded": 0.5, "dispatched": 1, "in_progress": 2, "handled": 1,
          "verified": 0.5, "deferred": 0.5, "closed": 91, "rejected": 2.5, "merged": 0.5}),
    (10_000, {"dispatched": 0.2, "in_progress": 0.4, "handled": 0.2, "deferred": 1.0,
              "closed": 94.7, "rejected": 2.5, "merged": 1.0}),
]  # fmt: skip
CHANNELS = {"grid_worker": 50, "resident": 18, "hotline": 15, "digital_city": 6, "visit": 5,
            "open311": 3, "video": 2, "meeting": 1}  # fmt: skip
LEVELS = {"community": 72, "street": 18, "district": 8, "city": 2}
LEVEL_ORDER = ("community", "street", "district", "city")
LEVEL_PREFIX = {"community": 12, "street": 9, "district": 6, "city": 4}
#: Calendar seconds per unit of working time (an approximation, see the module docstring).
CALENDAR_SECONDS = {"hours": 1.5 * 3600, "days": 1.4 * 86400}
#: Spread of actual stage durations: lognormal around 45 % of the limit, ~10 % late.
DURATION_SHARE, DURATION_SIGMA = 0.45, 0.623
DESCRIPTIONS = (
    "{name}，位置在{place}附近，请尽快处理",
    "{place}发现{name}问题，已拍照",
    "居民反映{place}{name}，持续好几天了",
    "巡查发现{name}，{place}",
)


def sizes(scale_name: str) -> CaseScale:
    return SIZES[scale_name]


# --- reference data -------------------------------------------------------------------------------


@dataclass
class Refs:
    grids: list[tuple[int, str, float, float, str]]  # (id, scope_code, lat, lng, community name)
    grid_cum: list[float]
    categories: list  # leaf Category objects
    category_cum: list[float]
    answers: dict[int, str]  # category id -> answers JSON
    units: dict[tuple[str, str], int]  # (function, area scope_code) -> department id
    community_office: dict[str, int]  # community scope_code -> department id
    unit_ids: list[int]


def _refs(rng: random.Random) -> Refs:
    from civicgrid.areas.models import Area
    from civicgrid.cases.demo import load_departments
    from civicgrid.cases.models import Category, Department

    if not Department.objects.filter(code__startswith="M").exists():
        load_departments()
    grid_rows = grids()
    areas = Area.objects.in_bulk([pk for pk, _code in grid_rows])
    communities = dict(Area.objects.filter(level="community").values_list("scope_code", "name"))
    rows = []
    for pk, code in grid_rows:
        area = areas[pk]
        rows.append(
            (pk, code, area.centre_lat or 23.48, area.centre_lng or 111.3, communities.get(code[:12], ""))
        )
    grid_cum = list(itertools.accumulate(rng.lognormvariate(0.0, GRID_SKEW) for _ in rows))
    leaves = [
        c for c in Category.objects.filter(is_active=True, parent__isnull=False).select_related("parent")
        .prefetch_related("questions").order_by("id")
    ]  # fmt: skip
    order = list(range(len(leaves)))
    rng.shuffle(order)
    weights = [0.0] * len(leaves)
    for rank, i in enumerate(order):
        weights[i] = 1 / (rank + 1) ** 0.8
    answers = {}
    for c in leaves:
        given = {}
        for q in c.questions.all():
            if q.required:
                key = q.values[0]["key"] if q.values else "1"
                given[q.code] = [key] if q.datatype == "multivaluelist" else key
        answers[c.pk] = json.dumps(given, ensure_ascii=False)
    units: dict[tuple[str, str], int] = {}
    office: dict[str, int] = {}
    for pk, function, scope_code in (
        Department.objects.filter(is_active=True)
        .order_by("id")
        .values_list("pk", "function", "area__scope_code")
    ):
        units.setdefault((function, scope_code), pk)
        if function == "community_office":
            office.setdefault(scope_code, pk)
    return Refs(
        rows,
        grid_cum,
        leaves,
        list(itertools.accumulate(weights)),
        answers,
        units,
        office,
        sorted({pk for pk in units.values()}),
    )


def _function(category) -> str:
    return category.default_function or (category.parent.default_function if category.parent_id else "")


def _unit_for(refs: Refs, function: str, code: str, level: str) -> int | None:
    for lv in LEVEL_ORDER[LEVEL_ORDER.index(level) :]:
        found = refs.units.get((function, code[: LEVEL_PREFIX[lv]]))
        if found:
            return found
    return refs.community_office.get(code[:12])


# --- generation -----------------------------------------------------------------------------------

#: The stages a case goes through, in order; every status has passed a prefix of them.
STAGES = ("record", "dispatch", "handle", "verify", "close", "review")
STATUSES = ("reported", "recorded", "dispatched", "in_progress", "handled", "verified", "deferred",
            "closed", "rejected", "merged")  # fmt: skip
STATUS_INDEX = {name: i for i, name in enumerate(STATUSES)}
#: How many of STAGES[:5] each status has passed (its current stage is the next one).
N_PASSED = np.array([0, 1, 2, 2, 3, 4, 1, 5, 1, 1])
IS_OPEN = np.array([True] * 7 + [False] * 3)
HAS_UNIT = np.array([False, False, True, True, True, True, False, True, False, False])
URGENCIES = ("normal", "urgent", "critical")
ACTIONS = ("", "warn", "supervise", "escalate")
RATINGS = np.array([5, 5, 5, 4, 4, 3, 2])


class PolicyTable:
    """The seeded deadline policy of every kind of case (stage × category × channel × level ×
    urgency), resolved by ``deadlines.resolve_policy`` up front."""

    def __init__(self, refs: Refs):
        from civicgrid.cases import deadlines

        deadlines.clear_policy_cache()
        self._resolve = deadlines.resolve_policy
        self.categories = refs.categories
        self.n_ch, self.n_lv = len(CHANNELS), len(LEVELS)
        size = len(refs.categories) * self.n_ch * self.n_lv * len(URGENCIES)
        shape = (len(STAGES), size)
        self.pid = np.full(shape, -2, dtype=np.int64)  # -2: not resolved yet, -1: no policy (no clock)
        self.limit = np.zeros(shape)
        self.ratio = np.zeros(shape)
        self.action = np.zeros(shape, dtype=np.int64)
        self.frozen = False
        # Resolve every kind that can occur now: the policy table is read from the database, which
        # must not happen while a COPY holds the connection.
        urgencies = {URGENCIES.index(c.default_urgency) for c in refs.categories} | {2}
        cats = np.arange(len(refs.categories))
        for ch in range(self.n_ch):
            for lv in range(self.n_lv):
                for urg in urgencies:
                    keys = self.keys(cats, ch, lv, urg)
                    for stage in range(len(STAGES)):
                        self.lookup(stage, keys)
        self.frozen = True

    def keys(self, cat, ch, lv, urg):
        return ((cat * self.n_ch + ch) * self.n_lv + lv) * len(URGENCIES) + urg

    def lookup(self, stage: int, keys: np.ndarray):
        """(policy id or -1, limit in calendar seconds, warn ratio, ACTIONS index) per key."""
        row = self.pid[stage]
        for key in np.unique(keys[row[keys] == -2]).tolist():
            if self.frozen:
                raise RuntimeError(f"policy kind {key} was not resolved in advance")
            urg = key % 3
            lv = (key // 3) % self.n_lv
            ch = (key // (3 * self.n_lv)) % self.n_ch
            cat = key // (3 * self.n_lv * self.n_ch)
            p = self._resolve(
                stage=STAGES[stage], category=self.categories[cat], channel=list(CHANNELS)[ch],
                level=LEVEL_ORDER[lv], urgency=URGENCIES[urg],
            )  # fmt: skip
            if p is None:
                row[key] = -1
                continue
            row[key] = p.pk
            self.limit[stage, key] = float(p.amount) * CALENDAR_SECONDS[p.unit]
            self.ratio[stage, key] = p.warn_ratio
            self.action[stage, key] = ACTIONS.index(p.on_overdue)
        return row[keys], self.limit[stage][keys], self.ratio[stage][keys], self.action[stage][keys]


@dataclass
class Tables:
    """Per-(category, grid, level) lookups the generator gathers from."""

    unit: np.ndarray  # [cat, grid, level] -> department id or -1
    title: np.ndarray  # [cat * n_grids + grid] -> str
    descriptions: list[np.ndarray]


def _lookups(refs: Refs) -> Tables:
    n_cat, n_grid = len(refs.categories), len(refs.grids)
    unit = np.full((n_cat, n_grid, len(LEVEL_ORDER)), -1, dtype=np.int64)
    titles, descriptions = [], [[] for _ in DESCRIPTIONS]
    for c, category in enumerate(refs.categories):
        function = _function(category)
        for g, (_pk, code, _lat, _lng, community) in enumerate(refs.grids):
            for lv, level in enumerate(LEVEL_ORDER):
                unit[c, g, lv] = _unit_for(refs, function, code, level) or -1
            titles.append(f"{category.name}（{community}）"[:200])
            for t, template in enumerate(DESCRIPTIONS):
                descriptions[t].append(template.format(name=category.name, place=community))
    return Tables(unit, np.array(titles, dtype=object), [np.array(d, dtype=object) for d in descriptions])


@dataclass
class Chunk:
    """One chunk of generated rows, column by column: ``(kind, values)`` with kind ``time`` (seconds
    relative to ANCHOR, NaN for NULL), ``int`` (-1 for NULL where the column is nullable), ``float``,
    ``str`` or ``bool``."""

    cases: dict[str, tuple[str, np.ndarray]]
    deadlines: dict[str, tuple[str, np.ndarray]]
    links: dict[str, tuple[str, np.ndarray]]

    def __len__(self) -> int:
        return len(self.cases["id"][1])


def _draw(rng, cum: np.ndarray, n: int) -> np.ndarray:
    return np.searchsorted(cum, rng.random(n) * cum[-1], side="right")


def generate(refs: Refs, total: int, chunk: int = CHUNK) -> Iterator[Chunk]:
    """The ``total`` cases in id order, with their deadline rows and assisting units, in chunks.
    Everything read from the database is read here, before the first chunk is asked for (on
    PostgreSQL the chunks are produced while COPY holds the connection)."""
    return _generate(refs, total, chunk, PolicyTable(refs), _lookups(refs))


def _generate(refs: Refs, total: int, chunk: int, policies: PolicyTable, tables: Tables) -> Iterator[Chunk]:
    rng = np.random.default_rng(SEED)
    grid_ids = np.array([g[0] for g in refs.grids], dtype=np.int64)
    grid_codes = np.array([g[1] for g in refs.grids], dtype=object)
    grid_lat = np.array([g[2] for g in refs.grids])
    grid_lng = np.array([g[3] for g in refs.grids])
    grid_cum, cat_cum = np.array(refs.grid_cum), np.array(refs.category_cum)
    cat_ids = np.array([c.pk for c in refs.categories], dtype=np.int64)
    cat_urgency = np.array([URGENCIES.index(c.default_urgency) for c in refs.categories])
    cat_public = np.array([c.is_public for c in refs.categories])
    cat_answers = np.array([refs.answers[c.pk] for c in refs.categories], dtype=object)
    ch_cum = np.cumsum(list(CHANNELS.values()))
    lv_cum = np.cumsum(list(LEVELS.values()))
    resident = list(CHANNELS).index("resident")
    band_limits = np.array([limit for limit, _w in STATUS_BY_AGE])
    band_status = [np.array([STATUS_INDEX[k] for k in w]) for _limit, w in STATUS_BY_AGE]
    band_cum = [np.cumsum(list(w.values())) for _limit, w in STATUS_BY_AGE]
    unit_ids = np.array(refs.unit_ids, dtype=np.int64)
    span_s, step = SPAN.total_seconds(), SPAN.total_seconds() / total
    next_deadline = 1
    for first in range(0, total, chunk):
        m = min(chunk, total - first)
        ids = np.arange(first + 1, first + m + 1, dtype=np.int64)
        reported = -span_s + (ids - 1 + rng.random(m)) * step
        grid = _draw(rng, grid_cum, m)
        cat = _draw(rng, cat_cum, m)
        ch = _draw(rng, ch_cum, m)
        lv = _draw(rng, lv_cum, m)
        escalations = np.where((lv > 0) & (rng.random(m) < 0.4), lv, 0)
        urg = cat_urgency[cat].copy()
        urg[(urg == 1) & (rng.random(m) < 0.05)] = 2
        band = np.searchsorted(band_limits, -reported / 86400, side="right")
        u = rng.random(m)
        status = np.zeros(m, dtype=np.int64)
        for b in range(len(band_limits)):
            sel = band == b
            status[sel] = band_status[b][np.searchsorted(band_cum[b], u[sel] * band_cum[b][-1], side="right")]
        passed = N_PASSED[status]
        keys = policies.keys(cat, ch, lv, urg)
        merged = status == STATUS_INDEX["merged"]

        # Each stage passed lasts a lognormal share of its limit; ends are never after ANCHOR.
        t = reported.copy()
        ends = np.full((5, m), np.nan)
        dl_parts = []
        for k in range(5):
            pid, limit, ratio, _action = policies.lookup(k, keys)
            has = k < passed
            took = (
                np.where(pid >= 0, limit, 86400.0)
                * DURATION_SHARE
                * np.exp(DURATION_SIGMA * rng.standard_normal(m))
            )
            if k == 1:  # half are dispatched straight from the report (recorded on the way)
                took = np.where(rng.random(m) < 0.5, rng.random(m) * 60, took)
            end = np.maximum(t, np.minimum(t + took, -60 * rng.random(m)))
            sel = has & (pid >= 0)
            outcome = np.where(merged, "cancelled", np.where(end > t + limit, "late", "met"))
            dl_parts.append((sel, k, pid, t, t + limit * ratio, t + limit, end, outcome))
            ends[k] = np.where(has, end, np.nan)
            t = np.where(has, end, t)

        # The running clock of an open case's current stage (risk points: the latest review period).
        stage = np.where(status == STATUS_INDEX["deferred"], 5, passed)
        open_ = IS_OPEN[status]
        c_pid = np.full(m, -1, dtype=np.int64)
        c_limit, c_ratio, c_action = np.zeros(m), np.zeros(m), np.zeros(m, dtype=np.int64)
        for k in range(6):
            sel = open_ & (stage == k)
            if sel.any():
                c_pid[sel], c_limit[sel], c_ratio[sel], c_action[sel] = policies.lookup(k, keys[sel])
        clock = open_ & (c_pid >= 0)
        started = np.where(stage == 5, np.maximum(t, -rng.random(m) * c_limit), t)
        warn_at = np.where(clock, started + c_limit * c_ratio, np.nan)
        due_at = np.where(clock, started + c_limit, np.nan)
        with np.errstate(invalid="ignore"):
            warned = clock & (warn_at <= 0)  # the sweep has seen it by ANCHOR (it runs every few minutes)
            overdue = clock & (due_at <= 0)
        warned_at = np.where(warned, np.minimum(warn_at + 120, 0), np.nan)
        overdue_at = np.where(overdue, np.minimum(due_at + 120, 0), np.nan)
        supervised = overdue & (c_action == ACTIONS.index("supervise"))
        for k in range(6):
            sel = clock & (stage == k)
            if sel.any():
                none = np.full(m, np.nan)
                dl_parts.append(
                    (sel, k, c_pid, started, warn_at, due_at, none, np.full(m, "open", dtype=object))
                )

        department = np.where(HAS_UNIT[status], tables.unit[cat, grid, lv], -1)
        with_assist = (department >= 0) & (rng.random(m) < 0.03)
        assisting = unit_ids[rng.integers(0, len(unit_ids), m)]
        with_assist &= assisting != department
        closed = status == STATUS_INDEX["closed"]
        rated = closed & (ch == resident) & (rng.random(m) < 0.7)
        rating = np.where(rated, RATINGS[rng.integers(0, len(RATINGS), m)], -1)
        ended_early = merged | (status == STATUS_INDEX["rejected"])
        closed_at = np.where(closed, ends[4], np.where(ended_early, ends[0], np.nan))
        rated_at = np.where(rated, np.minimum(closed_at + rng.random(m) * 48 * 3600, -1), np.nan)
        updated = np.fmax.reduce([reported, *ends, warned_at, overdue_at, rated_at])
        status_names = np.array(STATUSES, dtype=object)[status]
        reason = np.where(status == STATUS_INDEX["rejected"], "经核实不属于受理范围", "")
        result = np.where(HAS_UNIT[status] & (passed >= 3), "已到现场处置完毕，恢复原状", "")
        description = np.empty(m, dtype=object)
        title_key = cat * len(refs.grids) + grid
        for i, texts in enumerate(tables.descriptions):
            sel = ids % len(DESCRIPTIONS) == i
            description[sel] = texts[title_key[sel]]
        cases = {
            "id": ("int", ids),
            "created_at": ("time", reported),
            "updated_at": ("time", updated),
            "area_id": ("int", grid_ids[grid]),
            "area_code": ("str", grid_codes[grid]),
            "title": ("str", tables.title[title_key]),
            "description": ("str", description),
            "category_id": ("int", cat_ids[cat]),
            "urgency": ("str", np.array(URGENCIES, dtype=object)[urg]),
            "channel": ("str", np.array(list(CHANNELS), dtype=object)[ch]),
            "status": ("str", status_names),
            "level": ("str", np.array(LEVEL_ORDER, dtype=object)[lv]),
            "lat": ("float", grid_lat[grid] + (rng.random(m) - 0.5) * 0.002),
            "lng": ("float", grid_lng[grid] + (rng.random(m) - 0.5) * 0.002),
            "answers": ("str", cat_answers[cat]),
            "department_id": ("int", department),
            "reported_at": ("time", reported),
            "recorded_at": ("time", np.where(ended_early, np.nan, ends[0])),
            "dispatched_at": ("time", ends[1]),
            "handled_at": ("time", ends[2]),
            "closed_at": ("time", closed_at),
            "escalation_count": ("int", escalations),
            "is_public": ("bool", cat_public[cat]),
            "reason": ("str", reason.astype(object)),
            "result": ("str", result.astype(object)),
            "rating": ("int", rating),
            "rated_at": ("time", rated_at),
            "deadline_stage": (
                "str",
                np.where(clock, np.array(STAGES, dtype=object)[np.minimum(stage, 5)], ""),
            ),
            "warn_at": ("time", warn_at),
            "due_at": ("time", due_at),
            "overdue_action": ("str", np.where(clock, np.array(ACTIONS, dtype=object)[c_action], "")),
            "warned_at": ("time", warned_at),
            "overdue_at": ("time", overdue_at),
            "supervision_count": ("int", supervised.astype(np.int64)),
            "version": ("int", 1 + passed + warned + overdue),
        }
        # Deadline rows, in case order (then stage order), numbered on from the previous chunk.
        parts = {
            "case": [],
            "stage": [],
            "policy": [],
            "started": [],
            "warn": [],
            "due": [],
            "ended": [],
            "outcome": [],
        }
        for sel, k, pid, st, wn, du, en, oc in dl_parts:
            idx = np.nonzero(sel)[0]
            parts["case"].append(idx)
            parts["stage"].append(np.full(len(idx), k))
            parts["policy"].append(pid[idx])
            parts["started"].append(st[idx])
            parts["warn"].append(wn[idx])
            parts["due"].append(du[idx])
            parts["ended"].append(en[idx])
            parts["outcome"].append(np.asarray(oc, dtype=object)[idx])
        d = {key: np.concatenate(value) for key, value in parts.items()}
        order = np.lexsort((d["stage"], d["case"]))
        d = {key: value[order] for key, value in d.items()}
        row = d["case"]
        n_dl = len(row)
        unit_stage = d["stage"] >= 2
        deadlines = {
            "id": ("int", np.arange(next_deadline, next_deadline + n_dl, dtype=np.int64)),
            "created_at": ("time", d["started"]),
            "updated_at": ("time", np.fmax(d["started"], d["ended"])),
            "case_id": ("int", ids[row]),
            "stage": ("str", np.array(STAGES, dtype=object)[d["stage"]]),
            "level": ("str", np.array(LEVEL_ORDER, dtype=object)[lv[row]]),
            "department_id": ("int", np.where(unit_stage & (d["stage"] < 5), department[row], -1)),
            "policy_id": ("int", d["policy"]),
            "area_code": ("str", grid_codes[grid[row]]),
            "started_at": ("time", d["started"]),
            "warn_at": ("time", d["warn"]),
            "due_at": ("time", d["due"]),
            "ended_at": ("time", d["ended"]),
            "outcome": ("str", d["outcome"]),
        }
        next_deadline += n_dl
        links = {
            "case_id": ("int", ids[with_assist]),
            "department_id": ("int", assisting[with_assist]),
        }
        yield Chunk(cases, deadlines, links)


# --- writing --------------------------------------------------------------------------------------

#: Seconds since the Unix epoch of ANCHOR: times travel to the database as epoch seconds and become
#: timestamps there (formatting tens of millions of them in Python would dominate the build).
ANCHOR_EPOCH = ANCHOR.timestamp()
#: Columns that may hold NULL (-1 in the generated integer arrays).
NULLABLE = {"department_id", "rating", "policy_id"}


def _column_values(column: str, kind: str, values: np.ndarray) -> list:
    """A generated column as Python values for the driver (None for NULL). Times are epoch seconds
    (whole seconds on SQLite, where ``datetime(?, 'unixepoch')`` makes them text)."""
    if kind == "time":
        missing = np.isnan(values)
        epoch = np.where(missing, 0, values) + ANCHOR_EPOCH
        if connection.vendor != "postgresql":
            epoch = np.round(epoch).astype(np.int64)
        out = epoch.astype(object)
        out[missing] = None
        return out.tolist()
    if kind == "int" and column in NULLABLE:
        out = values.astype(object)
        out[values < 0] = None
        return out.tolist()
    return values.tolist()


def _columns(model, generated: set[str]) -> tuple[list[str], dict[str, object]]:
    """Every concrete column of ``model``, and the stored default of those not generated."""
    columns, defaults = [], {}
    for field in model._meta.concrete_fields:
        columns.append(field.column)
        if field.column in generated:
            continue
        if field.get_internal_type() == "JSONField":
            defaults[field.column] = json.dumps(field.get_default())
        elif field.has_default() or not field.null:
            value = field.get_default()
            defaults[field.column] = field.get_db_prep_save(value, connection) if value is not None else None
        else:
            defaults[field.column] = None
    return columns, defaults


@dataclass
class Spec:
    table: str
    columns: list[str]
    defaults: dict[str, object]
    attr: str  # the Chunk attribute holding the generated columns
    times: set[str]  # the columns that are timestamps


class Writer:
    """Streams the generated chunks into the three tables."""

    def __init__(self):
        from civicgrid.cases.models import Case, CaseDeadline

        through = Case._meta.get_field("assisting_departments").remote_field.through
        self.specs: list[Spec] = []
        for model, attr in ((Case, "cases"), (CaseDeadline, "deadlines"), (through, "links")):
            columns, defaults = _columns(model, GENERATED[attr])
            if attr == "links":
                columns = [model._meta.get_field("case").column, model._meta.get_field("department").column]
            times = {
                f.column
                for f in model._meta.concrete_fields
                if f.get_internal_type() == "DateTimeField" and f.column in GENERATED[attr]
            }
            self.specs.append(Spec(model._meta.db_table, columns, defaults, attr, times))
        self.counts = {"cases": 0, "deadlines": 0, "links": 0}

    def tuples(self, chunk: Chunk, spec: Spec) -> Iterator[tuple]:
        data = getattr(chunk, spec.attr)
        n = len(next(iter(data.values()))[1])
        lists = []
        for column in spec.columns:
            if column in data:
                kind, values = data[column]
                lists.append(_column_values(column, kind, values))
            else:
                lists.append(itertools.repeat(spec.defaults.get(column), n))
        self.counts[spec.attr] += n
        return zip(*lists, strict=False)  # the defaults repeat without end

    def write(self, chunks: Iterator[Chunk]) -> None:
        if connection.vendor == "postgresql":
            self._write_postgres(chunks)
        else:
            self._write_sqlite(chunks)

    def _write_sqlite(self, chunks: Iterator[Chunk]) -> None:
        sqls = []
        for spec in self.specs:
            values = ["datetime(%s, 'unixepoch')" if c in spec.times else "%s" for c in spec.columns]
            sqls.append(f"INSERT INTO {spec.table} ({', '.join(spec.columns)}) VALUES ({', '.join(values)})")
        for chunk in chunks:
            with transaction.atomic(), connection.cursor() as cursor:
                for sql, spec in zip(sqls, self.specs, strict=True):
                    cursor.executemany(sql, self.tuples(chunk, spec))

    def _write_postgres(self, chunks: Iterator[Chunk]) -> None:
        """COPY into temporary tables (times as epoch seconds), then one INSERT … SELECT per table
        turns them into timestamps. One COPY at a time per connection: two more connections carry
        the deadlines and the links, in the same way, and commit just before the cases."""
        import psycopg

        extra = [psycopg.connect(**connection.get_connection_params()) for _ in range(2)]
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursors = [cursor, *(c.cursor() for c in extra)]
                inserts = []
                for cur, spec in zip(cursors, self.specs, strict=True):
                    cur.execute("SET LOCAL session_replication_role = replica")  # no FK triggers
                    inserts.append(self._pg_stage(cur, spec))
                with contextlib.ExitStack() as stack:
                    copies = [
                        stack.enter_context(
                            cur.copy(f"COPY bench_stage ({', '.join(spec.columns)}) FROM STDIN")
                        )
                        for cur, spec in zip(cursors, self.specs, strict=True)
                    ]
                    for chunk in chunks:
                        for copy, spec in zip(copies, self.specs, strict=True):
                            for row in self.tuples(chunk, spec):
                                copy.write_row(row)
                for cur, insert in zip(cursors, inserts, strict=True):
                    cur.execute(insert)
                for c in extra:
                    c.commit()
                for spec in self.specs:
                    if spec.attr != "links":
                        cursor.execute(
                            f"SELECT setval(pg_get_serial_sequence('{spec.table}', 'id'), "
                            f"(SELECT COALESCE(max(id), 1) FROM {spec.table}))"
                        )
        finally:
            for c in extra:
                c.close()

    @staticmethod
    def _pg_stage(cursor, spec: Spec) -> str:
        """Create this connection's staging table; return the INSERT that moves its rows over."""
        cursor.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
            " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
            [spec.table],
        )
        types = dict(cursor.fetchall())
        columns = ", ".join(f"{c} {'float8' if c in spec.times else types[c]}" for c in spec.columns)
        cursor.execute(f"CREATE TEMP TABLE bench_stage ({columns}) ON COMMIT DROP")
        select = ", ".join(f"to_timestamp({c})" if c in spec.times else c for c in spec.columns)
        return f"INSERT INTO {spec.table} ({', '.join(spec.columns)}) SELECT {select} FROM bench_stage"


GENERATED = {
    "cases": {
        "id", "created_at", "updated_at", "area_id", "area_code", "title", "description", "category_id",
        "urgency", "channel", "status", "level", "lat", "lng", "answers", "department_id", "reported_at",
        "recorded_at", "dispatched_at", "handled_at", "closed_at", "escalation_count", "is_public", "reason",
        "result", "rating", "rated_at", "deadline_stage", "warn_at", "due_at", "overdue_action", "warned_at",
        "overdue_at", "supervision_count", "version",
    },
    "deadlines": {
        "id", "created_at", "updated_at", "case_id", "stage", "level", "department_id", "policy_id",
        "area_code", "started_at", "warn_at", "due_at", "ended_at", "outcome",
    },
    "links": {"case_id", "department_id"},
}  # fmt: skip


# --- indexes --------------------------------------------------------------------------------------


def secondary_indexes(table: str) -> list[tuple[str, str]]:
    """(name, definition) of ``table``'s indexes that no constraint owns (not the primary key)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i"
                " WHERE i.schemaname = current_schema() AND i.tablename = %s"
                " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname"
                "   AND c.connamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()))"
                " ORDER BY i.indexname",
                [table],
            )
        else:
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s AND sql IS NOT NULL"  # noqa: E501
                " ORDER BY name",
                [table],
            )
        return list(cursor.fetchall())


def _drop_indexes(indexes: list[tuple[str, str]]) -> None:
    with connection.cursor() as cursor:
        for name, _sql in indexes:
            cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")


def _create_indexes(indexes: list[tuple[str, str]]) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET maintenance_work_mem = '256MB'")
        else:  # sort in memory, on both CPUs (back to the project's settings on the next connection)
            cursor.execute("PRAGMA temp_store = MEMORY")
            cursor.execute("PRAGMA cache_size = -512000")
            cursor.execute("PRAGMA threads = 2")
        for _name, sql in indexes:
            cursor.execute(sql)


# --- reuse, trimming, building ------------------------------------------------------------------


def _tables() -> list[str]:
    from civicgrid.cases.models import Case, CaseDeadline

    through = Case._meta.get_field("assisting_departments").remote_field.through
    return [Case._meta.db_table, CaseDeadline._meta.db_table, through._meta.db_table]


def table_counts() -> dict[str, int]:
    from civicgrid.cases.models import Case, CaseDeadline

    through = Case._meta.get_field("assisting_departments").remote_field.through
    return {
        Case._meta.db_table: Case.objects.count(),
        CaseDeadline._meta.db_table: CaseDeadline.objects.count(),
        through._meta.db_table: through.objects.count(),
    }


def _dependents() -> list[tuple[str, str]]:
    """(table, column) of every row that points at a case: reverse foreign keys, one-to-ones and
    many-to-many links (Django's own relation metadata, so a new model is covered)."""
    from civicgrid.cases.models import Case

    out = []
    for rel in Case._meta.related_objects:
        if rel.many_to_many:
            through = rel.through if hasattr(rel, "through") else rel.field.remote_field.through
            out.append(
                (through._meta.db_table, through._meta.get_field(rel.field.m2m_reverse_field_name()).column)
            )
        elif rel.related_model is not Case:
            out.append((rel.related_model._meta.db_table, rel.field.column))
    for f in Case._meta.many_to_many:
        through = f.remote_field.through
        out.append((through._meta.db_table, through._meta.get_field(f.m2m_field_name()).column))
    return list(dict.fromkeys(out))


def trim_after(max_id: int) -> int:
    """Delete the cases above ``max_id`` (made by the load tests after the build) and every row
    that points at them, in one transaction of raw deletes (no change-log rows: this is clean-up
    of the benchmark's own writes); returns how many cases."""
    from civicgrid.cases.models import Case

    table = Case._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE id > %s", [max_id])
        n = cursor.fetchone()[0]
    if not n:
        return 0
    t0 = time.perf_counter()
    quote = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET duplicate_of_id = NULL WHERE duplicate_of_id > %s", [max_id])
        for dependent, column in _dependents():
            cursor.execute(f"DELETE FROM {quote(dependent)} WHERE {quote(column)} > %s", [max_id])
        cursor.execute(f"DELETE FROM {table} WHERE id > %s", [max_id])
    log(f"deleted {n:,} cases added after the dataset was built ({time.perf_counter() - t0:.1f} s)")
    return n


def _empty() -> None:
    """Remove every case and what points at them (raw deletes: the tables are about to be refilled)."""
    from civicgrid.cases.models import Case

    quote = connection.ops.quote_name
    tables = [table for table, _column in _dependents()]
    if connection.vendor == "sqlite":
        # Everything goes: no need to check references row by row (a DELETE without WHERE is then
        # SQLite's fast truncation). Checks are per connection and cannot change in a transaction.
        with connection.constraint_checks_disabled():
            _delete_all(tables, Case._meta.db_table)
        return
    with transaction.atomic(), connection.cursor() as cursor:
        names = ", ".join(quote(t) for t in dict.fromkeys([*tables, Case._meta.db_table]))
        cursor.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


def _delete_all(tables: list[str], case_table: str) -> None:
    quote = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        for table in dict.fromkeys(tables):
            cursor.execute(f"DELETE FROM {quote(table)}")
        cursor.execute(f"DELETE FROM {quote(case_table)}")


def wanted(scale_name: str) -> dict:
    return {"version": VERSION, "seed": SEED, "anchor": ANCHOR.isoformat(), "cases": SIZES[scale_name].cases}


def ensure_cases(scale_name: str) -> dict:
    """Make the cases tables hold the scale's generated history; returns the build facts."""
    size = SIZES[scale_name]
    want = wanted(scale_name)
    stored = read_meta(META_NAME)
    info: dict = {"cases": size.cases, "anchor": ANCHOR.isoformat()}
    trimmed = 0
    if stored and stored[1].get("wanted") == want:
        trimmed = trim_after(size.cases)
    counts = table_counts()
    if stored and stored[1].get("wanted") == want and stored[1].get("tables") == counts:
        info.update(reused=True, build_s=stored[1].get("build_s"), trimmed=trimmed)
        log(f"reusing {counts[_tables()[0]]:,} cases")
    else:
        why = "its build facts differ" if stored else "nothing says how it was built"
        if any(counts.values()):
            log(f"emptying the cases tables ({why})")
        t0 = time.perf_counter()
        build = build_cases(size.cases)
        build_s = round(time.perf_counter() - t0, 3)
        counts = table_counts()
        write_meta(META_NAME, VERSION, {"wanted": want, "tables": counts, "build_s": build_s, "steps": build})
        info.update(reused=False, build_s=build_s, steps=build)
        log(f"cases built in {build_s:.1f} s: {counts}")
    from civicgrid.cases import tallies
    from civicgrid.cases.models import CaseTally, SweepMark

    # The sweep has just run at ANCHOR: the next one reads only what falls due after it.
    SweepMark.objects.update_or_create(pk=1, defaults={"swept_to": ANCHOR, "ran_at": ANCHOR})

    if not info["reused"] or trimmed or not CaseTally.objects.exists():
        # The cases were written (or trimmed) around the services: count the statistics tallies.
        t0 = time.perf_counter()
        info["tallies"] = tallies.rebuild()
        info["tallies_s"] = round(time.perf_counter() - t0, 3)
        log(f"statistics tallies counted in {info['tallies_s']:.1f} s: {info['tallies']}")
    info["analyze_s"] = settle()
    info["tables"] = counts
    info["indexes"] = [sql for _name, sql in secondary_indexes(_tables()[0])]
    return info


def settle(*also: str) -> float:
    """Vacuum (PostgreSQL) and analyse the tables the cases benchmarks write, and ``also``; returns
    the seconds taken. The events and the change log too: the benchmarks' rolled-back sweeps leave
    their rows dead there (20,000 events and 10,000 change-log rows per 1 % run), as in the cases,
    clocks and tallies they update, and a run must not start slower for the runs before it."""
    from civicgrid.cases.models import CaseEvent, CaseTally, UnitTally
    from civicgrid.core.models.audit import ChangeLog

    t0 = time.perf_counter()
    analyze(
        *_tables(),
        CaseTally._meta.db_table,
        UnitTally._meta.db_table,
        CaseEvent._meta.db_table,
        ChangeLog._meta.db_table,
        *also,
    )
    return round(time.perf_counter() - t0, 3)


#: Where the definitions of the dropped indexes wait until they are created again (a build that
#: dies in between leaves them there, and the next build creates them).
DROPPED_META = "cases_dropped_indexes"


def _dropped_indexes(tables: list[str]) -> list[tuple[str, str]]:
    """Drop the tables' secondary indexes, after noting their definitions (with any noted by an
    earlier build that did not finish); returns everything to create again."""
    stored = read_meta(DROPPED_META)
    noted = {name: sql for name, sql in (stored[1]["indexes"] if stored else [])}
    current = [pair for table in tables for pair in secondary_indexes(table)]
    noted.update(current)
    write_meta(DROPPED_META, 1, {"indexes": sorted(noted.items())})
    _drop_indexes(current)
    return sorted(noted.items())


def build_cases(total: int) -> dict:
    steps: dict[str, float] = {}
    t0 = time.perf_counter()
    _empty()
    refs = _refs(random.Random(SEED))
    indexes = _dropped_indexes(_tables())
    steps["prepare_s"] = round(time.perf_counter() - t0, 3)
    log(f"generating {total:,} cases over {len(refs.grids)} grids ({len(indexes)} indexes dropped)…")
    t0 = time.perf_counter()
    writer = Writer()
    if connection.vendor == "sqlite":
        # Checks are per connection and cannot change inside a transaction.
        with connection.constraint_checks_disabled():
            writer.write(generate(refs, total))
    else:
        writer.write(generate(refs, total))
    steps["insert_s"] = round(time.perf_counter() - t0, 3)
    log(f"inserted {writer.counts} in {steps['insert_s']:.1f} s; creating {len(indexes)} indexes…")
    t0 = time.perf_counter()
    _create_indexes(indexes)
    delete_meta(DROPPED_META)
    steps["indexes_s"] = round(time.perf_counter() - t0, 3)
    steps.update(writer.counts)
    if connection.vendor == "sqlite":
        connection.close()  # the next connection has the project's PRAGMAs again
    return steps


# --- users ----------------------------------------------------------------------------------------

#: The handling unit of the department-handler persona: 角嘴街道城管执法中队 (a street's urban
#: management squad, which gets most of its street's street-level urban management cases).
HANDLER_UNIT = "S450403005000-2"


@dataclass(frozen=True)
class CasePersona:
    key: str
    role: str
    area_code: str
    label: str


#: The command center's users, besides ``bench.dataset.PERSONAS`` (reused: city … grid officials).
EXTRA_PERSONAS = (
    CasePersona("dispatcher", "dispatcher", "450400", "dispatcher 梧州市 450400, subtree"),
    CasePersona("handler", "dept_handler", "450403", f"department handler, unit {HANDLER_UNIT}"),
)


def ensure_case_users(users: dict) -> dict:
    """``users`` (bench.dataset.ensure_users) plus the dispatcher and the department handler, and a
    handler in every other unit: as in production, every unit has someone its cases' notices reach
    (the sweep tells each overdue case's unit)."""
    from civicgrid.accounts.models import User
    from civicgrid.cases.models import Department, DepartmentMember
    from civicgrid.core.testing import make_user

    out = dict(users)
    for persona in EXTRA_PERSONAS:
        username = f"bench_{persona.key}"
        user = User.objects.filter(username=username).first()
        if user is None:
            user = make_user(username, persona.role, persona.area_code)
        out[persona.key] = user
    unit = Department.objects.get(code=HANDLER_UNIT)
    DepartmentMember.objects.get_or_create(user=out["handler"], department=unit)
    for unit in Department.objects.filter(members__isnull=True):
        handler = User.objects.create_user(username=f"bench_unit_{unit.code}", display_name=unit.name)
        DepartmentMember.objects.create(user=handler, department=unit)
    return out


def describe(size: CaseScale) -> dict:
    return asdict(size)
