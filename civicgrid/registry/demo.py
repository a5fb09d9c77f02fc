"""Generated Wuzhou-like base data for the demo and for benchmarks at city scale.

Deterministic (seeded) and fast: rows are built in memory per grid and written with bulk_create in
chunks, with encrypted numbers and blind indexes computed exactly as the services do. Generated data
is a system load: it writes no change-log rows (the services do that for real edits)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import transaction
from shapely.geometry import Point, shape

from civicgrid.accounts.demo import chinese_name
from civicgrid.areas.models import Area
from civicgrid.core.validators import make_resident_id, make_uscc

from .choices import (
    HouseUse,
    IdKind,
    OrgKind,
    PersonEventKind,
    PersonType,
    Relation,
)
from .models import (
    Building,
    Compound,
    Facility,
    FacilityCategory,
    House,
    Household,
    Organisation,
    Person,
    PersonEvent,
    PersonTag,
    Shop,
    Tag,
)
from .services import document_index, house_address, phone_index, pinyin_of

COMPOUND_WORDS = [
    "金山",
    "鸳江",
    "西江",
    "桂江",
    "龙湖",
    "翠苑",
    "锦绣",
    "阳光",
    "丽景",
    "富民",
    "东兴",
    "白云",
    "南湖",
    "和平",
    "新城",
    "凤凰",
    "碧水",
    "华庭",
    "御景",
    "滨江",
]
COMPOUND_SUFFIX = ["小区", "花园", "苑", "新村", "雅居"]
SHOP_KINDS = ["便利店", "餐饮", "理发", "药店", "五金", "水果", "快递驿站", "洗衣", "茶庄", "服装"]
ORG_NAMES = [
    "物业服务有限公司",
    "商贸有限公司",
    "建筑工程有限公司",
    "科技有限公司",
    "社会工作服务中心",
    "幼儿园",
    "卫生服务站",
    "养老服务中心",
]
ETHNICITIES = ["汉族"] * 8 + ["壮族", "瑶族"]
FLOATING_REGIONS = ["440103", "440304", "450102", "450202", "430102", "360102", "520102"]
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
LOCAL_REGIONS = ["450403", "450405", "450406", "450421", "450422"]
HOUSE_USES = ([HouseUse.OWNER, HouseUse.RENTED, HouseUse.VACANT, HouseUse.COMMERCIAL], [70, 18, 10, 2])
HOUSEHOLD_SIZES = ([1, 2, 3, 4, 5], [15, 30, 28, 20, 7])


@dataclass(frozen=True)
class Scale:
    people: int
    buildings: int
    households_per_house: float = 0.85
    orgs_per_grid: int = 2
    shops_per_grid: int = 3
    facilities_per_grid: int = 4


DEMO = Scale(people=12_000, buildings=2_000)
#: The `city` bench scale: 300k people, ~110k households, 20k buildings, 10k organisations and shops.
CITY = Scale(people=300_000, buildings=20_000, orgs_per_grid=9, shops_per_grid=9, facilities_per_grid=10)


class Generator:
    def __init__(self, seed: int = 4504):
        self.rng = random.Random(seed)
        self.today = date.today()
        self.seq: dict[tuple[str, date], int] = {}
        self.pinyin_cache: dict[str, tuple[str, str]] = {}
        self.phones: set[str] = set()

    def point_in(self, grid_shape, bounds):
        minx, miny, maxx, maxy = bounds
        for _ in range(50):
            lng, lat = self.rng.uniform(minx, maxx), self.rng.uniform(miny, maxy)
            if grid_shape.contains(Point(lng, lat)):
                return round(lat, 6), round(lng, 6)
        point = grid_shape.representative_point()
        return round(point.y, 6), round(point.x, 6)

    def birth_date(self) -> date:
        age = min(int(abs(self.rng.gauss(40, 22))), 99)
        return self.today - timedelta(days=age * 365 + self.rng.randrange(365))

    def resident_id(self, region: str, birth: date, male: bool) -> str:
        key = (region, birth)
        n = self.seq.get(key, self.rng.randrange(0, 40)) + 1
        if (n % 2 == 1) != male:
            n += 1
        self.seq[key] = n
        return make_resident_id(region, birth, n % 1000)

    def phone(self) -> str:
        while True:
            number = self.rng.choice(["13", "15", "17", "18", "19"]) + f"{self.rng.randrange(10**9):09d}"
            if number not in self.phones:
                self.phones.add(number)
                return number

    def pinyin(self, name: str) -> tuple[str, str]:
        if name not in self.pinyin_cache:
            self.pinyin_cache[name] = pinyin_of(name)
        return self.pinyin_cache[name]


def _chunks(rows, size=2000):
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


@transaction.atomic
def generate(scale: Scale = DEMO, *, seed: int = 4504, grids=None) -> dict[str, int]:
    """Create base data in every grid (or the given ones) that has none yet."""
    gen = Generator(seed)
    grids = list(
        grids
        if grids is not None
        else Area.objects.filter(level="grid", is_active=True).exclude(geometry=None).order_by("code")
    )
    taken = set(Person.objects.values_list("area_id", flat=True).distinct())
    grids = [g for g in grids if g.pk not in taken]
    if not grids:
        return {"grids": 0}
    # Exactly ``scale.people`` people: the remainder goes to the first grids, one each.
    per_grid, extra = divmod(scale.people, len(grids))
    buildings_per_grid = max(1, scale.buildings // len(grids))
    tags = {t.code: t for t in Tag.objects.all()}
    categories = list(FacilityCategory.objects.all())
    counts = dict.fromkeys(
        ("compounds", "buildings", "houses", "households", "people", "organisations", "shops", "facilities"),
        0,
    )
    for i, grid in enumerate(grids):
        people = max(1, per_grid + (i < extra))
        _fill_grid(gen, grid, people, buildings_per_grid, scale, tags, categories, counts)
    counts["grids"] = len(grids)
    return counts


def _fill_grid(
    gen: Generator,
    grid: Area,
    people_target: int,
    buildings_target: int,
    scale: Scale,
    tags,
    categories,
    counts,
):
    rng = gen.rng
    grid_shape = shape(grid.geometry)
    bounds = grid_shape.bounds
    common = {"area": grid, "area_code": grid.scope_code}
    # Places: compounds → buildings → houses, enough houses for the people (some stay vacant, not
    # every house holds a household) with a margin, so that every grid gets its people.
    uses, use_weights = HOUSE_USES
    occupied_share = 1 - use_weights[uses.index(HouseUse.VACANT)] / sum(use_weights)
    sizes, size_weights = HOUSEHOLD_SIZES
    mean_size = sum(n * w for n, w in zip(sizes, size_weights, strict=True)) / sum(size_weights)
    per_house = occupied_share * scale.households_per_house * mean_size
    houses_needed = max(1, math.ceil(people_target / per_house * 1.1))
    compounds = []
    for _ in range(max(1, buildings_target // 6)):
        lat, lng = gen.point_in(grid_shape, bounds)
        name = rng.choice(COMPOUND_WORDS) + rng.choice(COMPOUND_SUFFIX)
        compounds.append(Compound(name=name, address=f"{grid.parent.name}{name}", lat=lat, lng=lng, **common))
    Compound.objects.bulk_create(compounds)
    buildings = []
    for b in range(buildings_target):
        lat, lng = gen.point_in(grid_shape, bounds)
        compound = compounds[b % len(compounds)] if rng.random() < 0.85 else None
        address = (
            compound.address if compound else f"{grid.parent.name}{rng.choice(COMPOUND_WORDS)}路{b + 1}号"
        )
        buildings.append(
            Building(
                compound=compound,
                name=f"{b // len(compounds) + 1}栋" if compound else "1栋",
                address=address,
                lat=lat,
                lng=lng,
                floors=rng.choice([3, 6, 7, 9, 11, 18]),
                units=rng.randint(1, 3),
                **common,
            )
        )
    Building.objects.bulk_create(buildings)
    houses = []
    rooms: set[tuple[int, str, str]] = set()
    attempts = 0
    while len(houses) < houses_needed and attempts < 50 * houses_needed:
        for b, building in enumerate(buildings):
            if len(houses) >= houses_needed:
                break
            attempts += 1
            unit = str(rng.randint(1, building.units))
            floor = rng.randint(1, building.floors)
            room = f"{floor}{rng.randint(1, 4):02d}"
            if (b, unit, room) in rooms:
                continue  # one house per room: the table's unique constraint
            rooms.add((b, unit, room))
            use = rng.choices(uses, use_weights)[0]
            houses.append(
                House(
                    building=building,
                    unit_no=unit,
                    floor=floor,
                    room_no=room,
                    use=use,
                    floor_area=rng.randint(45, 160),
                    address=house_address(building, unit, room),
                    **common,
                )
            )
    if houses and all(house.use == HouseUse.VACANT for house in houses):
        houses[0].use = HouseUse.OWNER  # somebody lives in every grid
    House.objects.bulk_create(houses)
    occupied = [house for house in houses if house.use != HouseUse.VACANT]
    # Households and people.
    households, members = [], []
    made = 0
    # Exactly ``people_target`` people; should the houses run out, a house takes a second household.
    for _pass in range(10):
        for house in occupied:
            if made >= people_target:
                break
            if rng.random() > scale.households_per_house:
                continue
            household = Household(house=house, number=f"{grid.code[-6:]}{len(households):04d}", **common)
            households.append(household)
            size = min(rng.choices(sizes, size_weights)[0], people_target - made)
            floating = house.use == HouseUse.RENTED
            for i in range(size):
                members.append((household, house, i, floating))
            made += size
        if made >= people_target:
            break
    Household.objects.bulk_create(households)
    people = []
    for household, house, i, floating in members:
        birth = gen.birth_date()
        male = rng.random() < 0.5
        name = chinese_name(rng)
        region = rng.choice(FLOATING_REGIONS if floating else LOCAL_REGIONS)
        rid = gen.resident_id(region, birth, male)
        phone = gen.phone() if (gen.today.year - birth.year) >= 16 and rng.random() < 0.85 else ""
        pinyin, initials = gen.pinyin(name)
        relation = (
            Relation.HEAD
            if i == 0
            else rng.choice([Relation.SPOUSE, Relation.CHILD, Relation.PARENT, Relation.GRANDCHILD])
        )
        people.append(
            Person(
                name=name,
                name_pinyin=pinyin,
                name_initials=initials,
                person_type=PersonType.FLOATING if floating else PersonType.REGISTERED,
                id_kind=IdKind.RESIDENT_ID,
                id_number=rid,
                id_index=document_index(rid),
                sex="M" if male else "F",
                birth_date=birth,
                ethnicity=rng.choice(ETHNICITIES),
                phone=phone,
                phone_index=phone_index(phone) if phone else "",
                phone_suffix=phone[-4:],
                house=house,
                household=household,
                relation=relation,
                address=house.address,
                **common,
            )
        )
    for chunk in _chunks(people):
        Person.objects.bulk_create(chunk)
    heads = {p.household_id: p for p in people if p.relation == Relation.HEAD}
    for household in households:
        household.head = heads.get(household.pk)
    Household.objects.bulk_update(households, ["head"], batch_size=2000)
    # Tags, and the registration event that starts every person's history.
    person_tags, events = [], []
    for person in people:
        age = gen.today.year - person.birth_date.year
        wanted = []
        if age >= 80:
            wanted.append("elderly")
        if age >= 70 and rng.random() < 0.15:
            wanted.append("living_alone")
        if rng.random() < 0.03:
            wanted.append("dibao")
        if rng.random() < 0.015:
            wanted.append("disabled")
        if age < 16 and rng.random() < 0.05:
            wanted.append("left_behind_child")
        if 25 <= age <= 70 and rng.random() < 0.02:
            wanted.append("veteran")
        person_tags += [PersonTag(person=person, tag=tags[code]) for code in wanted if code in tags]
        events.append(
            PersonEvent(
                person=person,
                kind=PersonEventKind.REGISTERED,
                to_house_id=person.house_id,
                to_household_id=person.household_id,
                **common,
            )
        )
    for chunk in _chunks(person_tags):
        PersonTag.objects.bulk_create(chunk)
    for chunk in _chunks(events):
        PersonEvent.objects.bulk_create(chunk)
    # Organisations, shops, facilities.
    orgs = []
    for i in range(scale.orgs_per_grid):
        lat, lng = gen.point_in(grid_shape, bounds)
        uscc = make_uscc("91" + grid.code[:6] + "MA" + "".join(rng.choices(USCC_CHARS, k=6)))
        kind = rng.choices([OrgKind.ENTERPRISE, OrgKind.SOCIAL, OrgKind.INSTITUTION], [80, 12, 8])[0]
        orgs.append(
            Organisation(
                name=f"梧州市{rng.choice(COMPOUND_WORDS)}{rng.choice(ORG_NAMES)}{'' if i == 0 else i}",
                kind=kind,
                uscc=uscc,
                legal_representative=chinese_name(rng),
                contact_phone=gen.phone(),
                staff_count=rng.randint(3, 300),
                address=grid.parent.name,
                lat=lat,
                lng=lng,
                **common,
            )
        )
    Organisation.objects.bulk_create(orgs, ignore_conflicts=True)
    shops = []
    for _ in range(scale.shops_per_grid):
        lat, lng = gen.point_in(grid_shape, bounds)
        business = rng.choice(SHOP_KINDS)
        shops.append(
            Shop(
                name=f"{rng.choice(COMPOUND_WORDS)}{business}",
                business=business,
                operator=chinese_name(rng),
                contact_phone=gen.phone(),
                address=grid.parent.name,
                lat=lat,
                lng=lng,
                **common,
            )
        )
    Shop.objects.bulk_create(shops)
    facilities = []
    for i in range(scale.facilities_per_grid):
        lat, lng = gen.point_in(grid_shape, bounds)
        category = rng.choice(categories)
        facilities.append(
            Facility(
                category=category,
                code=f"{grid.code}{category.code}{i:03d}",
                name=category.name,
                lat=lat,
                lng=lng,
                owner_department="梧州市城市管理局",
                **common,
            )
        )
    Facility.objects.bulk_create(facilities)
    for key, rows in (
        ("compounds", compounds),
        ("buildings", buildings),
        ("houses", houses),
        ("households", households),
        ("people", people),
        ("organisations", orgs),
        ("shops", shops),
        ("facilities", facilities),
    ):
        counts[key] += len(rows)
