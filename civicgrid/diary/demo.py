"""Demo diary: a few hundred records of the past two months written by the grid workers of the urban
grids through the services (visits to registered households, meetings, public sentiment, disputes and
hazards), some of which became cases."""

from __future__ import annotations

import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from civicgrid.accounts.demo import chinese_name
from civicgrid.areas.choices import AreaLevel
from civicgrid.areas.models import Area

from . import services
from .choices import MEETING_KINDS, MOOD_KINDS, SEVERITY_KINDS, Mood, RecordKind, Severity
from .models import DiaryRecord

#: Urban districts whose grids have demo grid workers and base data.
URBAN_DISTRICTS = ("450403", "450405")

KIND_WEIGHTS = {
    RecordKind.VISIT: 40,
    RecordKind.SENTIMENT: 14,
    RecordKind.DISPUTE: 12,
    RecordKind.HAZARD: 12,
    RecordKind.PARTY: 6,
    RecordKind.PARTY_MEETING: 7,
    RecordKind.COUNCIL: 9,
}

SUMMARIES = {
    RecordKind.VISIT: [
        "入户走访，了解家庭近况",
        "走访独居老人，询问身体和生活情况",
        "走访低保户，核实家庭收入变化",
        "走访新迁入住户，登记家庭成员",
        "走访困难家庭，了解子女就学情况",
    ],
    RecordKind.SENTIMENT: [
        "居民反映小区电梯经常故障",
        "居民希望增设老年人活动场所",
        "居民反映夜间路灯不亮，出行不便",
        "居民建议增加垃圾分类投放点",
        "居民关心老旧小区改造进度",
    ],
    RecordKind.DISPUTE: [
        "楼上漏水引发邻里纠纷",
        "邻居因占用楼道堆物发生争吵",
        "物业费收取问题引发业主不满",
        "家庭赡养问题产生矛盾",
        "装修噪音引发邻里矛盾",
    ],
    RecordKind.HAZARD: [
        "楼道内电动车违规充电",
        "消防通道被杂物堵塞",
        "老旧楼栋外墙瓷砖松动",
        "商铺液化气瓶存放不规范",
        "小区灭火器过期未更换",
    ],
    RecordKind.PARTY: [
        "了解在职党员到社区报到情况",
        "走访老党员，听取对支部工作的意见",
        "流动党员参加组织生活情况",
    ],
    RecordKind.PARTY_MEETING: [
        "党建联席会议：商议老旧小区加装电梯",
        "党建联席会议：协调辖区单位共建事项",
        "党建联席会议：研究背街小巷环境整治",
    ],
    RecordKind.COUNCIL: [
        "邻里议事会：商议小区停车位划分",
        "邻里议事会：讨论公共区域绿化维护",
        "邻里议事会：协商楼道公共照明费用分摊",
    ],
}

DETAILS = {
    RecordKind.VISIT: "家中{n}口人，生活基本稳定。已告知社区服务热线和网格员联系方式。",
    RecordKind.SENTIMENT: "已记录居民诉求，向社区反馈，后续跟进处理情况。",
    RecordKind.DISPUTE: "现场了解双方诉求，初步调解，双方同意进一步协商。",
    RecordKind.HAZARD: "已现场提醒整改，拍照留存，将跟踪整改情况。",
    RecordKind.PARTY: "党员表示愿意参加社区志愿服务活动。",
    RecordKind.PARTY_MEETING: "社区党委、辖区单位、物业公司参加，形成初步意见。",
    RecordKind.COUNCIL: "居民代表、楼栋长、物业代表参加，多数同意方案，会后公示。",
}


def _choose(rng: random.Random, weights: dict):
    return rng.choices(list(weights), weights=list(weights.values()))[0]


@transaction.atomic
def generate_records(count: int = 300, *, seed: int = 4504, days: int = 60) -> int:
    """``count`` records spread over the past ``days`` days in the urban grids that have a grid
    worker and registered households; about a third of the disputes and hazards became cases.
    Idempotent: nothing is made when the diary has records."""
    from civicgrid.registry.models import Household, Person

    if DiaryRecord.objects.exists():
        return 0
    rng = random.Random(seed)
    grids = list(
        Area.objects.filter(
            level=AreaLevel.GRID,
            grid_worker__isnull=False,
            parent__parent__parent__code__in=URBAN_DISTRICTS,
        )
        .select_related("grid_worker")
        .order_by("code")
    )
    households_by_grid: dict[int, list] = {}
    for household in (
        Household.objects.filter(area__in=grids, is_active=True, head__isnull=False)
        .select_related("head", "house__building")
        .order_by("id")
    ):
        households_by_grid.setdefault(household.area_id, []).append(household)
    grids = [g for g in grids if households_by_grid.get(g.pk)]
    if not grids:
        return 0
    workers = {g.pk: g.grid_worker for g in grids}  # one user object each: permissions load once
    now = timezone.now()
    made = 0
    to_case = []
    # Recorded in the order they happened, as a diary is (lists show the newest recorded first).
    times = []
    for _n in range(count):
        when = timezone.localtime(now - timedelta(days=rng.uniform(0.1, days)))
        when = when.replace(hour=rng.randint(8, 18), minute=rng.choice((0, 10, 20, 30, 40, 50)))
        times.append(when - timedelta(days=1) if when > now else when)
    times.sort()
    for n, when in enumerate(times):
        grid = rng.choice(grids)
        worker = workers[grid.pk]
        kind = _choose(rng, KIND_WEIGHTS)
        household = rng.choice(households_by_grid[grid.pk])
        fields = {
            "kind": kind,
            "summary": rng.choice(SUMMARIES[kind]),
            "content": DETAILS[kind].format(n=rng.randint(1, 5)),
            "occurred_at": when,
            "area": grid,
            "idempotency_key": f"demo-{n}",
        }
        building = household.house.building if household.house_id else None
        if building is not None and building.lat is not None and rng.random() < 0.7:
            fields["lat"] = round(building.lat + rng.uniform(-0.0001, 0.0001), 6)
            fields["lng"] = round(building.lng + rng.uniform(-0.0001, 0.0001), 6)
        if kind in MEETING_KINDS:
            members = list(
                Person.objects.filter(area=grid, status="active").order_by("id")[: rng.randint(2, 4)]
            )
            fields["attendees"] = members
            fields["attendee_names"] = "\n".join(chinese_name(rng) for _ in range(rng.randint(3, 6)))
            fields["place"] = f"{grid.parent.name}党群服务中心"
        else:
            fields["households"] = [household]
            fields["people"] = [household.head]
            if household.house_id:
                fields["place"] = household.house.address
        if kind in MOOD_KINDS:
            fields["mood"] = _choose(
                rng, {Mood.POSITIVE: 5, Mood.NEUTRAL: 4, Mood.NEGATIVE: 2, Mood.AGITATED: 1}
            )
        if kind in SEVERITY_KINDS:
            fields["severity"] = _choose(
                rng, {Severity.MINOR: 5, Severity.MODERATE: 3, Severity.SERIOUS: 2, Severity.CRITICAL: 1}
            )
            fields["follow_up"] = rng.random() < 0.6
            if fields["follow_up"]:
                fields["follow_up_note"] = "一周内回访，确认整改或调解结果"
        elif kind == RecordKind.SENTIMENT:
            fields["follow_up"] = rng.random() < 0.3
        record, created = services.record_create(actor=worker, **fields)
        made += created
        if kind in SEVERITY_KINDS and rng.random() < 0.35:
            to_case.append((record, worker))
    for record, worker in to_case:
        services.record_to_case(actor=worker, record=record)
    return made
