import pytest
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from civicgrid.accounts.choices import DataScope
from civicgrid.accounts.models import Post, Role
from civicgrid.areas.models import Area
from civicgrid.core.scope import next_prefix, prefix_q, scope_filter
from civicgrid.core.testing import ScopedEndpointTests, api_client, make_user


@given(st.text(alphabet="0123456789", min_size=1, max_size=15), st.text(alphabet="0123456789", max_size=6))
def test_next_prefix_bounds_exactly_the_strings_with_the_prefix(prefix, other):
    upper = next_prefix(prefix)
    candidate = other + prefix if other else prefix + "5"
    inside = candidate.startswith(prefix)
    in_range = candidate >= prefix and (upper is None or candidate < upper)
    assert inside == in_range


def test_next_prefix_examples():
    assert next_prefix("450403") == "450404"
    assert next_prefix("4509") == "451"
    assert next_prefix("999") is None


def test_prefix_q_shapes():
    from civicgrid.core.scope import range_q

    assert "SUBSTR" in str(prefix_q("area_code", "450403").children[0].lhs.function)
    assert prefix_q("area_code", "450403005001001").children == [("area_code", "450403005001001")]
    q = range_q("area_code", "45040")
    assert ("area_code__gte", "45040") in q.children and ("area_code__lt", "45041") in q.children


@pytest.mark.django_db
@pytest.mark.parametrize(
    "prefix", ["4504", "450403", "450403005", "450403005001", "450403005001001", "45040"]
)
def test_prefix_q_selects_exactly_the_subtree(wuzhou, prefix):
    from civicgrid.core.scope import prefix_q as pq

    expected = {a.code for a in Area.objects.all() if a.scope_code.startswith(prefix)}
    assert {a.code for a in Area.objects.filter(pq("scope_code", prefix))} == expected
    assert expected


def test_every_scoped_model_has_its_scope_indexes():
    from civicgrid.core.checks import scoped_models_are_indexed

    assert scoped_models_are_indexed() == []


@pytest.mark.django_db
def test_scoped_list_reads_the_level_index(wuzhou):
    """The first page of a district's people is read off the (SUBSTR(code, 1, 6), id) index."""
    from django.db import connection

    from civicgrid.registry.models import Person

    user = make_user("t_dist", "district_official")
    sql, params = Person.objects.visible_to(user).order_by("-id")[:50].query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            plan = " ".join(str(row) for row in cursor.fetchall())
            assert "reg_person_scope6" in plan and "TEMP B-TREE" not in plan, plan
        else:
            cursor.execute("SET enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql, params)
            plan = " ".join(row[0] for row in cursor.fetchall())
            assert "reg_person_scope6" in plan, plan


@pytest.mark.django_db
@pytest.mark.parametrize("prefixes", [["4504"], ["450403005"], ["450403005", "450404"], ["450403005001001"]])
def test_count_shape_selects_the_same_rows_by_range(wuzhou, prefixes):
    """``for_count`` turns each level prefix into a range (no SUBSTR left) and keeps every other
    condition, negation included: the capped count counts exactly the listed rows."""
    from functools import reduce
    from operator import or_

    from civicgrid.core.pagination import CappedPaginator

    scope_q = reduce(or_, (prefix_q("scope_code", p) for p in prefixes))
    listed = Area.objects.filter(scope_q).exclude(code="450403005001").order_by("-id")
    counted = listed.for_count()
    sql = str(counted.query)
    assert "SUBSTR" not in sql.upper() and "ORDER BY" not in sql.upper()
    assert sorted(counted.values_list("id", flat=True)) == sorted(listed.values_list("id", flat=True))
    assert CappedPaginator(listed, 50).count == len(listed) > 0


@pytest.mark.django_db
class TestVisibleTo:
    def test_subtree_node_and_merge(self, wuzhou):
        user = make_user("t_multi", "street_official")  # 角嘴街道 and below
        areas = Area.objects.visible_to(user)
        assert areas.filter(code="450403005001001").exists()
        assert not areas.filter(code="450403006001").exists()  # 东兴街道's community
        assert not areas.filter(code="450403").exists()  # above the post
        # A second post at another street adds to the scope.
        Post.objects.create(
            user=user,
            role=Role.objects.get(code="street_official"),
            area=Area.objects.get(code="450403006000"),
            data_scope=DataScope.NODE,
        )
        user = type(user).objects.get(pk=user.pk)
        areas = Area.objects.visible_to(user)
        assert areas.filter(code="450403006000").exists()
        assert not areas.filter(code="450403006001").exists()  # node only: not below

    def test_inactive_user_and_anonymous_see_nothing(self, wuzhou):
        from django.contrib.auth.models import AnonymousUser

        user = make_user("t_x", "sysadmin")
        user.is_active = False
        assert scope_filter(user, "areas.view_area", field="scope_code", owner_field=None) is None
        assert Area.objects.visible_to(AnonymousUser()).count() == 0

    def test_permission_without_scope_is_not_enough(self, wuzhou):
        user = make_user("t_gw", "grid_worker")
        assert Area.objects.visible_to(user, "change").count() == 0
        assert Area.objects.visible_to(user).count() == 1

    def test_own_scope_sees_own_records(self, wuzhou):
        user = make_user("t_own")
        role = Role.objects.get(code="district_official")
        area = Area.objects.get(code="450403")
        mine = Post.objects.create(user=user, role=role, area=area, data_scope=DataScope.OWN, created_by=user)
        other = Post.objects.create(
            user=make_user("t_other"), role=role, area=area, data_scope=DataScope.NODE
        )
        visible = Post.objects.visible_to(type(user).objects.get(pk=user.pk))
        assert mine in visible and other not in visible


class TestPostEndpoints(ScopedEndpointTests):
    model = Post

    def api_list(self):
        return reverse("api:post-list")

    def api_detail(self, obj):
        return reverse("api:post-detail", args=[obj.pk])

    def make_object(self, area, n=0):
        user = make_user(f"t_holder_{area.code}_{n}")
        return Post.objects.create(
            user=user, role=Role.objects.get(code="grid_worker"), area=area, data_scope=DataScope.NODE
        )


@pytest.mark.django_db
class TestWritesStayInScope:
    def test_moving_a_post_out_of_scope_is_refused_and_rolled_back(self, wuzhou):
        from civicgrid.core.models import ChangeLog

        official = make_user("t_dist", "district_official")  # 万秀区
        target = make_user("t_worker", "grid_worker")
        post = target.posts.get()
        elsewhere = Area.objects.get(code="450405001001")  # 长洲区
        before = ChangeLog.objects.count()
        res = api_client(official).patch(
            reverse("api:post-detail", args=[post.pk]), {"area": elsewhere.pk}, format="json"
        )
        assert res.status_code == 400  # the area is not one the official can even name
        post.refresh_from_db()
        assert post.area.code == "450403005001001"
        assert ChangeLog.objects.count() == before

    def test_scope_recheck_inside_the_transaction(self, wuzhou):
        """Even when the target area is visible, a result outside the writer's change scope rolls back."""
        from civicgrid.core.models import ChangeLog

        official = make_user("t_dist", "district_official")
        # Give the official view (not change) rights over 长洲区 through a second post.
        Post.objects.create(
            user=official,
            role=Role.objects.get(code="dispatcher"),
            area=Area.objects.get(code="450405"),
            data_scope=DataScope.SUBTREE,
        )
        official = type(official).objects.get(pk=official.pk)
        post = make_user("t_worker", "grid_worker").posts.get()
        before = ChangeLog.objects.count()
        res = api_client(official).patch(
            reverse("api:post-detail", args=[post.pk]),
            {"area": Area.objects.get(code="450405001001").pk},
            format="json",
        )
        assert res.status_code in (400, 403), res.content
        post.refresh_from_db()
        assert post.area.code == "450403005001001"
        assert ChangeLog.objects.count() == before

    def test_creating_a_post_outside_scope_is_refused(self, wuzhou):
        official = make_user("t_dist", "district_official")
        target = make_user("t_new")
        res = api_client(official).post(
            reverse("api:post-list"),
            {
                "user": target.pk,
                "role": Role.objects.get(code="grid_worker").pk,
                "area": Area.objects.get(code="450403005001001").pk,
            },
            format="json",
        )
        assert res.status_code == 201, res.content
        res = api_client(official).post(
            reverse("api:post-list"),
            {
                "user": target.pk,
                "role": Role.objects.get(code="grid_worker").pk,
                "area": Area.objects.get(code="450405001001001").pk,
            },
            format="json",
        )
        assert res.status_code == 400 and "area" in res.json()
        assert target.posts.count() == 1
