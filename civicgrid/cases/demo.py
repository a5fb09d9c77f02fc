"""Demo data of event handling: Wuzhou's handling units (131 departments with 220 work items, as
in the seed) and a few hundred cases in every state, made through the services."""

from __future__ import annotations

import random
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from civicgrid.areas.choices import AreaLevel
from civicgrid.areas.models import Area

from . import deadlines, services, tallies
from .choices import Channel, Level
from .models import Case, CaseDeadline, CaseEvent, Category, Department, DepartmentMember, WorkItem

#: Work items per function (the first ``n`` are given to each department of that function).
ITEMS = {
    "community_office": ["矛盾纠纷调解", "环境卫生整治"],
    "street_office": ["综治维稳", "网格事件协调"],
    "urban_management": ["占道经营查处", "违法建设查处", "户外广告管理"],
    "justice": ["人民调解"],
    "public_security": ["治安隐患排查", "社会治安巡查"],
    "housing": ["危房排查", "物业管理监督"],
    "market": ["无照经营查处", "食品安全监管"],
    "emergency": ["安全生产监管", "应急救援协调"],
    "environment": ["环境污染查处", "噪声污染查处"],
    "human_resources": ["劳动保障监察"],
    "civil_affairs": ["困难群众救助", "养老服务监管"],
    "health": ["公共卫生监督"],
    "sanitation": ["垃圾清运", "道路保洁"],
    "fire": ["消防安全检查", "火灾扑救"],
    "transport": ["交通设施维护", "道路运输管理"],
    "water": ["供水抢修", "排水防涝"],
    "power": ["供电抢修", "电力设施巡检"],
    "gas": ["燃气抢修", "燃气安全检查"],
    "telecom": ["通信线路维护"],
    "landscaping": ["园林绿化养护"],
    "natural_resources": ["土地执法"],
}

STREET_UNITS = [
    ("street_office", "{street}综治中心", 2),
    ("urban_management", "{street}城管执法中队", 2),
    ("justice", "{street}司法所", 1),
    ("public_security", "{street}派出所", 1),
]
DISTRICT_UNITS = [
    ("urban_management", "{district}城市管理局", 2),
    ("housing", "{district}住房和城乡建设局", 1),
    ("market", "{district}市场监督管理局", 1),
    ("emergency", "{district}应急管理局", 1),
    ("environment", "{district}生态环境分局", 1),
    ("human_resources", "{district}人力资源和社会保障局", 1),
    ("civil_affairs", "{district}民政局", 1),
    ("sanitation", "{district}环境卫生管理站", 1),
    ("health", "{district}卫生健康局", 1),
    ("natural_resources", "{district}自然资源局", 1),
]
CITY_UNITS = [
    ("urban_management", "梧州市城市管理综合执法局", 3),
    ("housing", "梧州市住房和城乡建设局", 2),
    ("environment", "梧州市生态环境局", 2),
    ("public_security", "梧州市公安局", 2),
    ("transport", "梧州市公安局交通警察支队", 1),
    ("fire", "梧州市消防救援支队", 2),
    ("market", "梧州市市场监督管理局", 2),
    ("transport", "梧州市交通运输局", 2),
    ("water", "梧州市水务集团", 2),
    ("power", "梧州供电局", 2),
    ("gas", "梧州市燃气有限公司", 2),
    ("telecom", "中国电信梧州分公司", 1),
    ("telecom", "中国移动梧州分公司", 1),
    ("telecom", "中国联通梧州分公司", 1),
    ("landscaping", "梧州市园林管理所", 1),
    ("sanitation", "梧州市环境卫生管理处", 2),
    ("emergency", "梧州市应急管理局", 2),
    ("human_resources", "梧州市人力资源和社会保障局", 1),
    ("natural_resources", "梧州市自然资源局", 1),
    ("civil_affairs", "梧州市民政局", 2),
    ("justice", "梧州市司法局", 1),
    ("health", "梧州市卫生健康委员会", 1),
]
URBAN_DISTRICTS = ("450403", "450405")


def _unit(code: str, name: str, level: str, area: Area, function: str, items: int) -> Department:
    dept, _created = Department.objects.update_or_create(
        code=code, defaults={"name": name, "level": level, "area": area, "function": function}
    )
    names = ITEMS[function]
    for i in range(items):
        WorkItem.objects.update_or_create(
            code=f"{code}-{i + 1:02d}", defaults={"department": dept, "name": names[i % len(names)]}
        )
    return dept


@transaction.atomic
def load_departments() -> int:
    """The city's handling units for the urban area, their work items, and which categories each
    item covers (by function). Idempotent."""
    city = Area.objects.get(code="450400")
    made = []
    for i, (function, name, items) in enumerate(CITY_UNITS):
        made.append(_unit(f"C{i + 1:02d}", name, Level.CITY, city, function, items))
    for district in Area.objects.filter(code__in=URBAN_DISTRICTS).order_by("code"):
        for i, (function, name, items) in enumerate(DISTRICT_UNITS):
            made.append(
                _unit(
                    f"D{district.code}-{i + 1:02d}",
                    name.format(district=district.name),
                    Level.DISTRICT,
                    district,
                    function,
                    items,
                )
            )
    streets = (
        Area.objects.filter(level=AreaLevel.STREET, children__level=AreaLevel.COMMUNITY)
        .distinct()
        .order_by("code")
    )
    for street in streets:
        for i, (function, name, items) in enumerate(STREET_UNITS):
            made.append(
                _unit(
                    f"S{street.code}-{i + 1}",
                    name.format(street=street.name),
                    Level.STREET,
                    street,
                    function,
                    items,
                )
            )
    for community in Area.objects.filter(level=AreaLevel.COMMUNITY).order_by("code"):
        made.append(
            _unit(
                f"M{community.code}",
                f"{community.name}居委会",
                Level.COMMUNITY,
                community,
                "community_office",
                2,
            )
        )
    by_function: dict[str, list[Category]] = {}
    for category in Category.objects.exclude(default_function=""):
        by_function.setdefault(category.default_function, []).append(category)
    for item in WorkItem.objects.select_related("department"):
        item.categories.set(by_function.get(item.department.function, []))
    return len(made)


def _members(rng: random.Random) -> None:
    """Demo handlers: ``handler`` works for 万秀区城市管理局, the community official for their
    community's office, each street official for their street's centre."""
    User = get_user_model()
    plan = [("handler", "D450403-01")]
    community = User.objects.filter(username="community").first()
    if community is not None:
        post = community.posts.first()
        if post is not None:
            plan.append(("community", f"M{post.area.code}"))
    street = User.objects.filter(username="street").first()
    if street is not None and street.posts.exists():
        plan.append(("street", f"S{street.posts.first().area.code}-1"))
    for username, code in plan:
        user = User.objects.filter(username=username).first()
        dept = Department.objects.filter(code=code).first()
        if user and dept:
            DepartmentMember.objects.get_or_create(user=user, department=dept, defaults={"is_head": True})


DESCRIPTIONS = {
    "0101": "楼顶有人加建铁皮棚，已经搭了一半",
    "0102": "路边垃圾堆放两天没人清理，气味很大",
    "0201": "电线杆和墙上贴满小广告",
    "0301": "工地晚上十一点还在施工，噪音很大",
    "0401": "路面出现塌陷坑洞，车辆绕行",
    "0402": "人行道旁水管爆裂，水一直往外冒",
    "0501": "路口有流动摊贩占道摆摊",
    "0503": "小车长期占用人行道停放",
    "0504": "共享单车堆满人行道",
    "0103": "路灯晚上不亮，行人看不清",
}


def _choose(rng: random.Random, weights: dict):
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _handler_for(unit: Department):
    """A demo handler of ``unit`` (one per unit that gets cases)."""
    from civicgrid.accounts.demo import _post, _user

    member = DepartmentMember.objects.filter(department=unit).select_related("user").first()
    if member is not None:
        return member.user
    user = _user(f"h{unit.code.lower()}", f"{unit.name}经办人")
    _post(user, "dept_handler", unit.area)
    DepartmentMember.objects.create(department=unit, user=user)
    return user


@transaction.atomic
def generate_cases(count: int = 200, *, seed: int = 4504) -> int:
    """``count`` cases in the urban grids, spread over the past weeks, taken through the loop by the
    services as their staff would (some still waiting, some dispatched, handled, closed and rated,
    some rejected, escalated, deferred). Then the deadline sweep runs over them."""
    if Case.objects.exists():
        return 0
    rng = random.Random(seed)
    load_departments()
    _members(rng)
    User = get_user_model()
    admin = User.objects.get(username="admin")
    resident = User.objects.filter(username="resident").first()
    grids = list(
        Area.objects.filter(level=AreaLevel.GRID, parent__parent__parent__code__in=URBAN_DISTRICTS)
        .exclude(centre_lat=None)
        .select_related("parent")
    )
    if not grids:
        return 0
    leaves = [c for c in Category.objects.filter(is_active=True).select_related("parent") if c.is_leaf]
    units = {d.code: d for d in Department.objects.all()}
    made = 0
    now = timezone.now()
    for n in range(count):
        grid = rng.choice(grids)
        category = rng.choice(leaves)
        lat = grid.centre_lat + rng.uniform(-0.0003, 0.0003)
        lng = grid.centre_lng + rng.uniform(-0.0003, 0.0003)
        channel = _choose(
            rng, {Channel.GRID_WORKER: 5, Channel.RESIDENT: 3, Channel.HOTLINE: 1, Channel.VISIT: 1}
        )
        reporter = resident if channel == Channel.RESIDENT and resident else (grid.grid_worker or admin)
        text = DESCRIPTIONS.get(category.code, f"发现{category.name}问题，请尽快处理")
        case, _ = services.case_report(
            actor=reporter,
            category=category,
            description=f"{text}（{grid.parent.name}）",
            channel=channel,
            lat=lat,
            lng=lng,
            answers=_demo_answers(category),
            idempotency_key=f"demo-{n}",
            source="demo",
        )
        made += 1
        fate = _choose(
            rng,
            {
                "new": 2,
                "recorded": 1,
                "dispatched": 3,
                "handled": 2,
                "closed": 6,
                "rejected": 1,
                "escalated": 1,
                "deferred": 1,
            },
        )
        _take(case, fate, admin, units, rng)
        # Spread the cases over the past six weeks: shift every timestamp of the case back alike.
        _shift(case, timedelta(days=rng.uniform(0, 42), hours=rng.uniform(0, 8)))
    tallies.rebuild()  # the history was moved back around the services: count it afresh
    deadlines.sweep(now)
    return made


def _demo_answers(category: Category) -> dict:
    answers = {}
    for q in category.questions.all():
        if not q.required:
            continue
        if q.values:
            answers[q.code] = q.values[0]["key"] if q.datatype == "singlevaluelist" else [q.values[0]["key"]]
        else:
            answers[q.code] = "1"
    return answers


def _unit_for(case: Case, units: dict) -> Department | None:
    from .selectors import suggest_department

    return suggest_department(case.category, case.area) or units.get("M" + case.area.parent.code)


def _take(case, fate, admin, units, rng) -> None:
    if fate == "new":
        return
    if fate == "rejected":
        services.case_reject(case=case, actor=admin, reason="经核实不属于受理范围")
        return
    if fate == "recorded":
        services.case_record(case=case, actor=admin)
        return
    if fate == "escalated":
        services.case_record(case=case, actor=admin)
        services.case_escalate(case=case, actor=admin, reason="社区无法解决，提交街道")
        return
    if fate == "deferred":
        services.case_record(case=case, actor=admin)
        services.case_defer(case=case, actor=admin, reason="涉及历史遗留问题，暂无法解决，列入风险点")
        return
    unit = _unit_for(case, units)
    if unit is None:
        return
    services.case_dispatch(case=case, actor=admin, department=unit)
    if fate == "dispatched":
        return
    handler = _handler_for(unit)
    services.case_start(case=case, actor=handler)
    services.case_handle(case=case, actor=handler, result="已到现场处置完毕，恢复原状")
    if fate == "handled":
        return
    services.case_verify(case=case, actor=case.area.grid_worker or admin, passed=True, note="现场核查已处理")
    services.case_close(case=case, actor=admin)
    if case.reporter_id and rng.random() < 0.8:
        services.case_rate(
            case=case, actor=case.reporter, rating=rng.choice([5, 5, 5, 4, 4, 3]), comment="处理及时"
        )


def _shift(case: Case, delta: timedelta) -> None:
    """Move a demo case's history back by ``delta`` (the demo needs cases of past weeks)."""
    from django.db.models import F

    Case.objects.filter(pk=case.pk).update(
        reported_at=F("reported_at") - delta,
        recorded_at=F("recorded_at") - delta,
        dispatched_at=F("dispatched_at") - delta,
        handled_at=F("handled_at") - delta,
        closed_at=F("closed_at") - delta,
        rated_at=F("rated_at") - delta,
        warn_at=F("warn_at") - delta,
        due_at=F("due_at") - delta,
        created_at=F("created_at") - delta,
        updated_at=F("updated_at") - delta,
    )
    CaseEvent.objects.filter(case=case).update(created_at=F("created_at") - delta)
    CaseDeadline.objects.filter(case=case).update(
        started_at=F("started_at") - delta,
        warn_at=F("warn_at") - delta,
        due_at=F("due_at") - delta,
        ended_at=F("ended_at") - delta,
    )
