"""Demo accounts: one per built-in role, plus a grid worker for every grid."""

from __future__ import annotations

import random

from django.contrib.auth.hashers import make_password
from django.db import transaction

from civicgrid.areas.choices import AreaLevel
from civicgrid.areas.models import Area
from civicgrid.areas.services import grid_worker_assign

from . import services
from .choices import UserType
from .models import Agreement, Role, User

DEMO_PASSWORD = "Demo#2026pass"  # noqa: S105  (printed by `make demo`; demo data only)

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余"
    "于杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱覃"
)
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国玉梅春燕志红小云鹏辉海"
    "波宁欣怡子涵浩宇思远文斌晓东雪梅丽华淑珍振华家豪佳怡"
)

AGREEMENT_TEXT = """数据保密责任书 / Data confidentiality agreement

一、本人因工作需要使用智慧社区平台，接触的居民个人信息、房屋、单位及事件数据均属工作秘密，受《中华人民共和国个人信息保护法》《中华人民共和国数据安全法》保护。
二、本人只在岗位职责范围内查询、使用数据，不越权查看，不向无关人员提供，不私自拷贝、导出、拍照或外传。
三、本人妥善保管账号和密码，不转借他人；离岗、调岗时及时交回权限。
四、本人知悉平台对全部操作留有审计记录；违反本责任书的，依法依规承担责任。

1. I use the platform for my duties only; personal data of residents, houses, organisations
   and events are confidential.
2. I view and use data only within my post's scope and never pass it on, copy, export or
   photograph it without authority.
3. I keep my account and password to myself and give up my access when I leave the post.
4. I know that every operation is audited and that breaches carry legal and disciplinary consequences.
"""


def chinese_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _user(
    username: str, name: str, user_type: str = UserType.STAFF, password_hash: str | None = None
) -> User:
    user = User.objects.filter(username=username).first()
    if user is None:
        user = services.user_create(
            actor=None, username=username, password=None, display_name=name, user_type=user_type
        )
        user.password = password_hash or make_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    return user


def _post(user: User, role_code: str, area: Area) -> None:
    role = Role.objects.get(code=role_code)
    if not user.posts.filter(role=role, area=area).exists():
        services.post_create(actor=None, user=user, role=role, area=area)


@transaction.atomic
def load_accounts() -> list[tuple[str, str, str]]:
    """Create the demo accounts; returns (username, role, area) rows for the console."""
    rng = random.Random(4504)
    city = Area.objects.get(code="450400")
    district = Area.objects.get(code="450403")
    street = Area.objects.get(code="450403005000")
    community = Area.objects.filter(parent=street).order_by("code").first()
    grid = Area.objects.filter(parent=community).order_by("code").first()
    password_hash = make_password(DEMO_PASSWORD)
    plan = [
        ("admin", "系统管理员", "sysadmin", city),
        ("auditor", "审计员", "auditor", city),
        ("city", chinese_name(rng), "city_official", city),
        ("district", chinese_name(rng), "district_official", district),
        ("street", chinese_name(rng), "street_official", street),
        ("community", chinese_name(rng), "community_official", community),
        ("dispatcher", chinese_name(rng), "dispatcher", city),
        ("handler", chinese_name(rng), "dept_handler", district),
    ]
    rows = []
    for username, name, role, area in plan:
        _post(_user(username, name, password_hash=password_hash), role, area)
        rows.append((username, role, f"{area.code} {area.name}"))
    resident = _user("resident", chinese_name(rng), UserType.RESIDENT, password_hash)
    _post(resident, "resident", community)
    rows.append(("resident", "resident", f"{community.code} {community.name}"))

    for area in Area.objects.filter(level=AreaLevel.GRID, grid_worker=None).order_by("code"):
        username = "gridworker" if area.pk == grid.pk else f"gw{area.code}"
        worker = _user(username, chinese_name(rng), password_hash=password_hash)
        grid_worker_assign(actor=None, grid=area, user=worker)
    rows.append(("gridworker", "grid_worker", f"{grid.code} {grid.name}"))

    if not Agreement.objects.exists():
        services.agreement_publish(
            actor=None, version="2026-1", title="数据保密责任书（2026 年版）", body=AGREEMENT_TEXT
        )
    return rows
