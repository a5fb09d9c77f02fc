"""Diary pages: the list in scope with its filters, a record's page, the form with its pickers' search,
turning a record into a case from its page, voiding, photos, the person's registry page, and the phone
app's pages and endpoint."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from civicgrid.areas.models import Area
from civicgrid.cases.models import Case, Category
from civicgrid.core.testing import HOME
from civicgrid.diary import services
from civicgrid.diary.models import DiaryRecord

from .conftest import NEIGHBOUR_GRID, png, rid, upload

pytestmark = pytest.mark.django_db


def login(client, user):
    client.force_login(user)
    return client


class TestList:
    def test_lists_the_records_in_scope_only(self, client, people, record):
        mine = record(summary="本网格走访")
        theirs, _ = services.record_create(
            actor=people["neighbour"], kind="sentiment", summary="隔壁网格民意"
        )
        far, _ = services.record_create(actor=people["far"], kind="sentiment", summary="长洲区民意")
        body = login(client, people["gw"]).get(reverse("diary:list")).content.decode()
        assert "本网格走访" in body and "隔壁网格民意" not in body and "长洲区民意" not in body
        body = login(client, people["community"]).get(reverse("diary:list")).content.decode()
        assert f'data-record="{mine.pk}"' in body and f'data-record="{theirs.pk}"' in body
        assert f'data-record="{far.pk}"' not in body
        body = login(client, people["auditor"]).get(reverse("diary:list")).content.decode()
        assert f'data-record="{far.pk}"' in body

    def test_filters(self, client, people, record, household):
        visit = record(summary="走访张建国")
        dispute = record(kind="dispute", summary="漏水纠纷", households=[], people=[])
        voided = record(summary="录错了")
        services.record_void(actor=people["gw"], record=voided, reason="重复")
        c = login(client, people["community"])
        body = c.get(reverse("diary:list"), {"kind": "dispute"}).content.decode()
        assert f'data-record="{dispute.pk}"' in body and f'data-record="{visit.pk}"' not in body
        body = c.get(reverse("diary:list"), {"person": household[1].pk}).content.decode()
        assert f'data-record="{visit.pk}"' in body and f'data-record="{dispute.pk}"' not in body
        assert 'id="linked-filter"' in body
        body = c.get(reverse("diary:list"), {"household": household[0].pk}).content.decode()
        assert f'data-record="{visit.pk}"' in body and f'data-record="{dispute.pk}"' not in body
        assert f'data-record="{voided.pk}"' not in c.get(reverse("diary:list")).content.decode()
        body = c.get(reverse("diary:list"), {"voided": "on"}).content.decode()
        assert f'data-record="{voided.pk}"' in body
        body = c.get(reverse("diary:list"), {"author": "d_gw", "q": "漏水"}).content.decode()
        assert f'data-record="{dispute.pk}"' in body and f'data-record="{visit.pk}"' not in body
        area = Area.objects.get(code=NEIGHBOUR_GRID)
        body = c.get(reverse("diary:list"), {"area": area.pk}).content.decode()
        assert f'data-record="{visit.pk}"' not in body

    def test_a_bad_filter_says_so(self, client, people, far_household):
        res = login(client, people["gw"]).get(
            reverse("diary:list"),
            {"date_from": "2026-05-01", "date_to": "2026-04-01", "person": far_household[1].pk},
        )
        assert res.status_code == 200
        body = res.content.decode()
        assert "date_to" in body and "person" in body

    def test_without_the_diary_the_page_is_refused(self, client, people):
        assert login(client, people["dispatcher"]).get(reverse("diary:list")).status_code == 403

    def test_the_menu_shows_the_diary(self, client, people):
        body = login(client, people["street"]).get(reverse("diary:list")).content.decode()
        assert 'data-module="diary"' in body
        assert reverse("diary:create") not in body  # a street official reads, does not record


class TestDetail:
    def test_the_author_sees_edit_and_void_others_do_not(self, client, people, record):
        rec = record(photos=[upload()])
        body = login(client, people["gw"]).get(reverse("diary:detail", args=[rec.pk])).content.decode()
        assert 'id="edit-record"' in body and 'id="void-form"' in body and "张建国" in body
        photo = rec.photos.get()
        assert reverse("diary:photo", args=[photo.pk]) in body
        body = login(client, people["community"]).get(reverse("diary:detail", args=[rec.pk])).content.decode()
        assert 'id="edit-record"' not in body and 'id="void-form"' not in body
        assert 'id="case-form"' in body  # community staff may turn it into a case

    def test_out_of_scope_is_404(self, client, people, record):
        rec = record()
        assert (
            login(client, people["neighbour"]).get(reverse("diary:detail", args=[rec.pk])).status_code == 404
        )
        missing = client.get(reverse("diary:detail", args=[10**9]))
        assert missing.status_code == 404

    def test_photos_stream_only_in_scope(self, client, people, record):
        rec = record(photos=[upload()])
        photo = rec.photos.get()
        res = login(client, people["community"]).get(reverse("diary:photo", args=[photo.pk]))
        assert res.status_code == 200 and res["Content-Type"] == "image/png"
        assert b"".join(res.streaming_content).startswith(b"\x89PNG")
        assert login(client, people["far"]).get(reverse("diary:photo", args=[photo.pk])).status_code == 404

    def test_turn_into_a_case_from_the_page_once(self, client, people, record):
        rec = record(kind="dispute", summary="楼上漏水")
        c = login(client, people["gw"])
        page = c.get(reverse("diary:detail", args=[rec.pk])).content.decode()
        default = Category.objects.get(kind="governance", code="01")
        assert f'<option value="{default.pk}" selected>' in page  # preset for a dispute
        res = c.post(
            reverse("diary:detail", args=[rec.pk]),
            {"op": "case", "category": default.pk, "asked": default.pk},
        )
        assert res.status_code == 302
        rec.refresh_from_db()
        assert rec.case is not None and rec.case.category == default
        page = c.get(reverse("diary:detail", args=[rec.pk])).content.decode()
        assert 'id="view-case"' in page and reverse("cases:detail", args=[rec.case_id]) in page
        assert 'id="case-form"' not in page
        # A second tap (an old tab) makes no second case.
        res = c.post(
            reverse("diary:detail", args=[rec.pk]),
            {"op": "case", "category": default.pk, "asked": default.pk},
        )
        assert res.status_code == 302
        assert Case.objects.filter(source="diary").count() == 1

    def test_a_category_with_questions_asks_them_first(self, client, people, record):
        rec = record(kind="hazard", summary="楼道充电")
        fire = Category.objects.get(kind="governance", code="0201")
        c = login(client, people["gw"])
        group = Category.objects.get(kind="governance", code="02")
        res = c.post(
            reverse("diary:detail", args=[rec.pk]), {"op": "case", "category": fire.pk, "asked": group.pk}
        )
        assert res.status_code == 200 and not Case.objects.exists()
        body = res.content.decode()
        assert 'name="q_hazard"' in body and f'name="asked" value="{fire.pk}"' in body
        res = c.post(
            reverse("diary:detail", args=[rec.pk]), {"op": "case", "category": fire.pk, "asked": fire.pk}
        )
        assert res.status_code == 400 and 'name="q_hazard"' in res.content.decode()
        res = c.post(
            reverse("diary:detail", args=[rec.pk]),
            {"op": "case", "category": fire.pk, "asked": fire.pk, "q_hazard": ["charging", "wiring"]},
        )
        assert res.status_code == 302
        rec.refresh_from_db()
        assert rec.case.answers == {"hazard": ["charging", "wiring"]}

    def test_void_from_the_page(self, client, people, record):
        rec = record()
        c = login(client, people["gw"])
        res = c.post(
            reverse("diary:detail", args=[rec.pk]), {"op": "void", "reason": "", "expected_version": 1}
        )
        assert res.status_code == 400
        res = c.post(
            reverse("diary:detail", args=[rec.pk]), {"op": "void", "reason": "重复", "expected_version": 1}
        )
        assert res.status_code == 302
        rec.refresh_from_db()
        assert rec.is_void
        assert 'id="voided"' in c.get(reverse("diary:detail", args=[rec.pk])).content.decode()


class TestForm:
    def test_create_with_pickers(self, client, people, household):
        hh, head = household
        c = login(client, people["gw"])
        res = c.get(reverse("diary:create"), {"people": head.pk})
        assert 'data-picker="households"' in res.content.decode()
        assert res.context["picker_labels"]["people"] == [{"id": head.pk, "label": "张建国"}]  # the chip
        res = c.post(
            reverse("diary:create"),
            {
                "kind": "visit",
                "occurred_at": "2026-03-02T10:30",
                "summary": "走访张建国家",
                "content": "家里老人身体不错",
                "mood": "positive",
                "households": str(hh.pk),
                "people": f"{head.pk}",
                "photos": [upload()],
            },
        )
        assert res.status_code == 302, res.content.decode()[:2000]
        rec = DiaryRecord.objects.get()
        assert res["Location"] == reverse("diary:detail", args=[rec.pk])
        assert rec.area.code == HOME["grid"] and rec.photos.count() == 1
        assert list(rec.people.all()) == [head]

    def test_bad_input_shows_on_the_field(self, client, people, far_household):
        c = login(client, people["gw"])
        res = c.post(
            reverse("diary:create"),
            {
                "kind": "visit",
                "occurred_at": "2026-03-02T10:30",
                "summary": "x",
                "households": str(far_household[0].pk),
            },
        )
        assert res.status_code == 400
        body = res.content.decode()
        assert 'data-name="households"' in body and "has-error" in body
        assert not DiaryRecord.objects.exists()
        res = c.post(reverse("diary:create"), {"kind": "visit", "occurred_at": "x", "summary": ""})
        assert res.status_code == 400

    def test_edit_is_the_authors(self, client, people, record):
        rec = record()
        assert login(client, people["community"]).get(reverse("diary:edit", args=[rec.pk])).status_code == 403
        assert login(client, people["neighbour"]).get(reverse("diary:edit", args=[rec.pk])).status_code == 404
        c = login(client, people["gw"])
        page = c.get(reverse("diary:edit", args=[rec.pk])).content.decode()
        assert 'name="expected_version"' in page
        data = {
            "kind": "visit",
            "occurred_at": "2026-03-02T10:30",
            "summary": "改后的摘要",
            "households": ",".join(str(p) for p in rec.households.values_list("pk", flat=True)),
            "expected_version": 1,
            "area": rec.area_id,
        }
        assert c.post(reverse("diary:edit", args=[rec.pk]), data).status_code == 302
        rec.refresh_from_db()
        assert rec.summary == "改后的摘要" and rec.version == 2
        res = c.post(reverse("diary:edit", args=[rec.pk]), {**data, "summary": "旧页面"})
        assert res.status_code == 409 and 'id="conflict"' in res.content.decode()

    def test_lookup_searches_the_registry_in_scope(self, client, people, household, far_household):
        c = login(client, people["gw"])
        rows = c.get(reverse("diary:lookup"), {"type": "people", "q": "张"}).json()["results"]
        assert [r["label"] for r in rows] == ["张建国"]
        assert rid(11) not in rows[0]["detail"] and "****" in rows[0]["detail"]  # the ID number is masked
        assert (
            c.get(reverse("diary:lookup"), {"type": "people", "q": "zjg"}).json()["results"][0]["id"]
            == household[1].pk
        )
        assert c.get(reverse("diary:lookup"), {"type": "people", "q": "李远方"}).json()["results"] == []
        rows = c.get(reverse("diary:lookup"), {"type": "households", "q": "张建国"}).json()["results"]
        assert [r["id"] for r in rows] == [household[0].pk]
        rows = c.get(reverse("diary:lookup"), {"type": "households", "q": "H0011"}).json()["results"]
        assert [r["id"] for r in rows] == [household[0].pk]
        rows = c.get(reverse("diary:lookup"), {"type": "buildings", "q": "江滨"}).json()["results"]
        assert len(rows) == 1
        assert c.get(reverse("diary:lookup"), {"type": "passwords", "q": "x"}).status_code == 400


class TestRegistryPage:
    def test_the_persons_page_lists_their_records(self, client, people, record, household):
        rec = record(summary="走访张建国家")
        about_household = record(summary="户内矛盾", kind="dispute", people=[])
        elsewhere, _ = services.record_create(actor=people["neighbour"], kind="visit", summary="隔壁")
        url = reverse("registry:person", args=[household[1].pk])
        body = login(client, people["community"]).get(url).content.decode()
        assert 'id="diary-records"' in body
        assert f'data-record="{rec.pk}"' in body and f'data-record="{about_household.pk}"' in body
        assert f'data-record="{elsewhere.pk}"' not in body

    def test_a_registry_reader_without_the_diary_sees_no_records(self, client, people, record, household):
        from django.contrib.auth.models import Permission

        from civicgrid.accounts.models import Role
        from civicgrid.core.testing import make_user

        record()
        role = Role.objects.create(code="reg_reader", name="registry reader", default_scope="subtree")
        role.permissions.set(
            Permission.objects.filter(content_type__app_label="registry", codename="view_person")
        )
        reader = make_user("d_reader", "reg_reader", HOME["community"], data_scope="subtree")
        res = login(client, reader).get(reverse("registry:person", args=[household[1].pk]))
        assert res.status_code == 200 and 'id="diary-records"' not in res.content.decode()


class TestPhone:
    def test_pages(self, client, people, record, household):
        rec = record()
        c = login(client, people["gw"])
        body = c.get(reverse("diary_mobile:list")).content.decode()
        assert f'data-record="{rec.pk}"' in body and 'id="go-diary"' in body
        res = c.get(reverse("diary_mobile:new"))
        assert res.status_code == 200
        config = res.context["app_config"]["diary"]
        assert config["directory"]["households"][0][0] == household[0].pk
        assert config["directory"]["people"][0][1] == "张建国"
        assert "id_number" not in res.content.decode()
        assert login(client, people["street"]).get(reverse("diary_mobile:new")).status_code == 403

    def test_the_endpoint_records_once_per_key(self, client, people, household, home):
        c = login(client, people["gw"])
        key = str(uuid.uuid4())
        data = {
            "key": key,
            "kind": "visit",
            "summary": "离线走访",
            "occurred_at": "2026-02-01T09:15:00+08:00",
            "households": str(household[0].pk),
            "lat": "",
            "lng": "",
            "follow_up": "1",
            "photos": [upload(png())],
        }
        first = c.post(reverse("diary_mobile:api_records"), data)
        assert first.status_code == 201, first.content
        again = c.post(reverse("diary_mobile:api_records"), {**data, "photos": [upload(png())]})
        assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
        rec = DiaryRecord.objects.get()
        assert rec.idempotency_key == key and rec.area == home and rec.follow_up and rec.photos.count() == 1

    def test_a_meeting_from_the_phone_lists_who_attended(self, client, people, household, home):
        res = login(client, people["gw"]).post(
            reverse("diary_mobile:api_records"),
            {
                "key": str(uuid.uuid4()),
                "kind": "council",
                "summary": "邻里议事会",
                "attendees": str(household[1].pk),
                "attendee_names": "王芳",
            },
        )
        assert res.status_code == 201, res.content
        rec = DiaryRecord.objects.get()
        assert list(rec.attendees.all()) == [household[1]] and rec.area == home and not rec.people.exists()

    def test_a_point_in_the_next_grid_stays_in_the_workers_grid(self, client, people, home):
        neighbour = Area.objects.get(code=NEIGHBOUR_GRID)
        c = login(client, people["gw"])
        res = c.post(
            reverse("diary_mobile:api_records"),
            {
                "key": str(uuid.uuid4()),
                "kind": "sentiment",
                "summary": "x",
                "lat": neighbour.centre_lat,
                "lng": neighbour.centre_lng,
            },
        )
        assert res.status_code == 201
        assert DiaryRecord.objects.get().area == home

    def test_bad_items_are_refused_naming_the_field(self, client, people):
        c = login(client, people["gw"])
        res = c.post(reverse("diary_mobile:api_records"), {"key": "nope", "kind": "visit", "summary": "x"})
        assert res.status_code == 400 and "key" in res.json()["errors"]
        res = c.post(
            reverse("diary_mobile:api_records"), {"key": str(uuid.uuid4()), "kind": "visit", "summary": ""}
        )
        assert res.status_code == 400 and "summary" in res.json()["errors"]
        res = c.post(
            reverse("diary_mobile:api_records"),
            {"key": str(uuid.uuid4()), "kind": "visit", "summary": "x", "people": "a"},
        )
        assert res.status_code == 400 and "people" in res.json()["errors"]
        assert not DiaryRecord.objects.exists()
        client.logout()
        assert client.post(reverse("diary_mobile:api_records"), {"key": str(uuid.uuid4())}).status_code == 401
        res = login(client, people["street"]).post(
            reverse("diary_mobile:api_records"), {"key": str(uuid.uuid4()), "kind": "visit", "summary": "x"}
        )
        assert res.status_code == 403
