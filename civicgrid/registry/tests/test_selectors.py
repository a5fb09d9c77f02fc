"""Search semantics (the start of a name or an address, on an index) and the statistics page's
aggregates, checked against a plain computation over the rows."""

from collections import Counter
from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from civicgrid.areas.models import Area
from civicgrid.core.testing import make_user
from civicgrid.registry import demo, selectors, services
from civicgrid.registry.choices import HouseUse, PersonStatus, PersonType
from civicgrid.registry.models import House, Person, PersonTag, Tag

from .conftest import make_house, rid

pytestmark = pytest.mark.django_db


def names(qs) -> list[str]:
    return sorted(qs.values_list("name", flat=True))


@pytest.fixture
def residents(house):
    people = {}
    for n, name in enumerate(
        ["张三", "张三丰", "张珊", "李张三", "王五", "张%三", "张_三", "𠀾华", "𠀾"], start=1
    ):
        people[name] = services.person_register(actor=None, name=name, id_number=rid(n), house=house)
    return people


class TestNameSearch:
    def test_matches_the_start_of_the_name(self, residents):
        search = lambda q: names(selectors.search_people(Person.objects.all(), q))  # noqa: E731
        assert search("张三") == ["张三", "张三丰"]
        assert search("张") == ["张%三", "张_三", "张三", "张三丰", "张珊"]
        assert search(" 张三丰 ") == ["张三丰"]
        assert search("三") == []  # not inside a name: pinyin initials find those (``ls`` → 李张三)
        assert names(selectors.search_people(Person.objects.all(), "lzs")) == ["李张三"]

    def test_wildcards_are_plain_characters(self, residents):
        search = lambda q: names(selectors.search_people(Person.objects.all(), q))  # noqa: E731
        assert search("张%") == ["张%三"]
        assert search("张_") == ["张_三"]
        assert search("%") == []

    def test_characters_beyond_the_basic_plane(self, residents):
        assert names(selectors.search_people(Person.objects.all(), "𠀾")) == ["𠀾", "𠀾华"]

    def test_page_and_count_read_the_name_index(self, residents, street):
        """The page and its capped count (``for_count``: the area as a code range) both read
        ``reg_person_name``, not every person of the area."""
        user = make_user("t_district", "district_official", "450403")
        qs = selectors.search_people(Person.objects.visible_to(user), "张三").order_by("-id")
        assert "reg_person_name" in explain(qs)
        assert "reg_person_name" in explain_count(qs)


class TestAddressFilter:
    def test_matches_the_start_of_the_address(self, grid):
        house = make_house(grid, room="502", building_name="8栋", compound_name="鸳江花园")
        other = make_house(grid, room="101", building_name="18栋", compound_name="鸳江花园二期")
        services.person_register(actor=None, name="甲", id_number=rid(1), house=house)
        services.person_register(actor=None, name="乙", id_number=rid(2), house=other)
        user = make_user("t_gw", "grid_worker")
        search = lambda address: names(  # noqa: E731
            selectors.filter_people(Person.objects.all(), user=user, address=address)
        )
        assert house.address == "鸳江花园 8栋 1单元 502"
        assert search("鸳江花园") == ["乙", "甲"]
        assert search("鸳江花园 8栋") == ["甲"]
        assert search("  鸳江花园   8栋 1单元 ") == ["甲"]  # spaces as the address writes them
        assert search("8栋") == []  # from the start only
        assert search("") == ["乙", "甲"]

    def test_page_and_count_read_the_address_index(self, house, street):
        user = make_user("t_district", "district_official", "450403")
        people = Person.objects.visible_to(user)
        qs = selectors.filter_people(people, user=user, address="测试小区 1栋").order_by("-id")
        assert "reg_person_address" in explain(qs)
        assert "reg_person_address" in explain_count(qs)


def explain_count(qs) -> str:
    """The plan of the capped count a list of ``qs`` runs (``CappedPaginator``)."""
    from civicgrid.core.pagination import CappedPaginator

    with CaptureQueriesContext(connection) as ctx:
        assert CappedPaginator(qs, 50).count >= 0
    return explain_sql(ctx.captured_queries[-1]["sql"], None)


def explain(qs) -> str:
    return explain_sql(*qs.query.sql_with_params())


def explain_sql(sql: str, params) -> str:
    """The plan of ``qs`` once the tables have statistics (``ANALYZE``; the benchmarks' databases
    have them too). On PostgreSQL with sequential scans off, so the test shows the index *can* serve
    the query whatever the planner prefers for a few rows. Without statistics SQLite takes an
    equality on the area's level prefix for more selective than any range, and walks the area."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql, params)
            return "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return "\n".join(str(row[-1]) for row in cursor.fetchall())


# ---- statistics -----------------------------------------------------------------------------------


@pytest.fixture
def street(wuzhou):
    """角嘴街道 with generated people in three of its grids (and one person elsewhere, unseen)."""
    street = Area.objects.get(code="450403005000")
    grids = list(Area.objects.filter(level="grid", scope_code__startswith=street.scope_code).order_by("code"))
    chosen = [grids[0], grids[1], grids[-1]]
    demo.generate(demo.Scale(people=240, buildings=12), grids=chosen)
    far = Area.objects.get(code="450405001001001")
    demo.generate(demo.Scale(people=20, buildings=2), grids=[far])
    # Someone who moved away, someone without a date of birth.
    moved = Person.objects.filter(area=chosen[0]).order_by("id").first()
    Person.objects.filter(pk=moved.pk).update(status=PersonStatus.MOVED_OUT)
    undated = Person.objects.filter(area=chosen[1]).order_by("id").first()
    Person.objects.filter(pk=undated.pk).update(birth_date=None)
    return street


def plain_statistics(user, area, today: date) -> dict:
    """The statistics page computed the straightforward way: every row fetched, counted in Python."""
    people = [
        p
        for p in Person.objects.visible_to(user).select_related("area")
        if p.area_code.startswith(area.scope_code) and p.status == PersonStatus.ACTIVE
    ]
    by_type = Counter(p.person_type for p in people)
    ages = {"unknown": sum(p.birth_date is None for p in people)}
    for low, high in selectors.AGE_BANDS:
        label = f"{low}-{high}" if high < 200 else f"{low}+"
        ages[label] = sum(
            p.birth_date is not None
            and selectors._years_ago(today, high + 1) < p.birth_date <= selectors._years_ago(today, low)
            for p in people
        )
    ids = {p.pk for p in people}
    visible = set(selectors.visible_tags(user).values_list("pk", flat=True))
    tags = Counter(
        pt.tag.name
        for pt in PersonTag.objects.select_related("tag")
        if pt.person_id in ids and pt.tag_id in visible
    )
    children = list(Area.objects.visible_to(user).filter(parent=area).order_by("scope_code"))
    houses = Counter(h.use for h in House.objects.visible_to(user) if h.area_code.startswith(area.scope_code))
    return {
        "stats": {
            "total": len(people),
            "by_type": {str(label): by_type.get(value, 0) for value, label in PersonType.choices},
            "by_age": ages,
            "by_tag": dict(tags),
        },
        "house_stats": {str(label): houses.get(value, 0) for value, label in HouseUse.choices},
        "rows": [(c, sum(p.area_code.startswith(c.scope_code) for p in people)) for c in children],
    }


@pytest.mark.parametrize(
    ("role", "where", "code"),
    [
        ("district_official", "450403", "450403"),  # the district: its streets as rows
        ("district_official", "450403", "450403005000"),  # a street of it
        ("street_official", "450403005000", "450403005001"),  # a community
        ("grid_worker", None, "450403005001001"),  # a grid (no sub-areas)
        ("sysadmin", None, "450400"),  # scope "all": the whole city
    ],
)
def test_statistics_equal_a_plain_count(street, role, where, code):
    user = make_user("t_stats", role, where)
    area = Area.objects.get(code=code)
    today = date.today()
    got = selectors.area_statistics(user, area)
    expected = plain_statistics(user, area, today)
    assert got["stats"] == expected["stats"]
    assert got["house_stats"] == expected["house_stats"]
    assert got["rows"] == expected["rows"]
    if code in ("450403", "450403005000"):
        assert got["stats"]["total"] > 0 and sum(got["stats"]["by_tag"].values()) > 0


def test_statistics_hide_sensitive_tags_without_the_permission(street):
    from django.contrib.auth.models import Permission

    from civicgrid.accounts.models import Role
    from civicgrid.accounts.services import post_create

    person = Person.objects.filter(area_code__startswith="450403005").order_by("id").first()
    services.person_set_tags(actor=None, person=person, tags=[Tag.objects.get(code="dibao")])
    role = Role.objects.create(code="viewer", name="只读")
    role.permissions.add(
        Permission.objects.get(codename="view_person"), Permission.objects.get(codename="view_area")
    )
    viewer = make_user("t_view")
    post_create(actor=None, user=viewer, role=role, area=street)
    stats = selectors.area_statistics(viewer, street)["stats"]
    assert "低保" not in stats["by_tag"]
    assert stats == plain_statistics(viewer, street, date.today())["stats"]


@pytest.mark.parametrize("code", ["450403", "450403005001"])  # tags counted from either side
def test_statistics_take_five_queries_and_filter_by_code_range(street, code):
    user = make_user("t_stats", "district_official", "450403")
    area = Area.objects.get(code=code)
    selectors.area_statistics(user, area)  # permissions and posts load once per request
    with CaptureQueriesContext(connection) as ctx:
        selectors.area_statistics(user, area)
    sqls = [q["sql"] for q in ctx.captured_queries]
    # sub-areas; people by grid and type; how many tag rows there are; tags; houses
    assert len(sqls) == 5, sqls
    for sql in (sqls[1], sqls[3], sqls[4]):
        where = sql.upper().split(" WHERE ", 1)[1].split(" GROUP BY ", 1)[0]
        assert "SUBSTR" not in where and f">= '{area.scope_code}'" in where, sql


def test_tags_are_counted_alike_from_either_side(street, monkeypatch):
    """``_tag_counts`` starts from the people or from the tag rows, whichever are fewer; both give
    the same counts."""
    from civicgrid.registry.models import PersonTag

    user = make_user("t_stats", "district_official", "450403")
    living = Person.objects.visible_to(user).in_area("450403").filter(status=PersonStatus.ACTIVE).for_count()
    people, rows = living.count(), PersonTag.objects.count()
    assert people > rows > 0
    from_tags = selectors._tag_counts(living, user, people)
    from_people = selectors._tag_counts(living, user, 0)
    assert from_tags == from_people and sum(from_tags.values()) > 0
