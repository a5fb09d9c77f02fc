"""Reporting from the portal and following one's own reports: photos (real images only, location
removed unless the resident agrees), idempotent submits, the category's questions, one's own
reports only, rating and "not solved"."""

from __future__ import annotations

import re
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from civicgrid.cases import services as case_services
from civicgrid.cases.choices import Channel, Status
from civicgrid.cases.models import Case, CasePhoto, Category
from civicgrid.cases.tests.conftest import grid_point

from .conftest import jpeg

pytestmark = pytest.mark.django_db

GRID = "450403005001001"


@pytest.fixture
def resident_client(people, client):
    client.force_login(people["resident"])
    return client


def form_data(category=None, **extra):
    lat, lng = grid_point(GRID)
    category = category or Category.objects.get(kind="event", code="0102")
    data = {
        "report_key": str(uuid.uuid4()),
        "category": category.pk,
        "description": "小区门口垃圾堆了三天",
        "lat": f"{lat:.7f}",
        "lng": f"{lng:.7f}",
    }
    data.update(extra)
    return data


def test_the_form_offers_public_leaf_categories_with_their_questions(resident_client):
    page = resident_client.get(reverse("portal:report")).content.decode()
    assert re.search(r'name="report_key" value="[0-9a-f-]{36}"', page)
    assert "<optgroup" in page and "暴露垃圾" in page
    assert Category.objects.get(kind="governance", code="0101").name not in page  # private kind
    pothole = Category.objects.get(kind="event", code="0401")
    assert f'data-category="{pothole.pk}"' in page and "塌陷大小" in page
    assert 'id="report-map"' in page and "report-map-data" in page


def test_report_with_a_photo_strips_its_location(people, resident_client):
    res = resident_client.post(reverse("portal:report"), form_data(photos=[jpeg(gps=True)]))
    assert res.status_code == 302
    case = Case.objects.get()
    assert res["Location"] == reverse("portal:case", args=[case.pk])
    assert case.channel == Channel.RESIDENT and case.reporter == people["resident"]
    assert case.source == f"user:{people['resident'].pk}" and case.area.code == GRID
    photo = case.photos.get()
    with photo.image.open() as fh, Image.open(fh) as stored:
        assert 0x8825 not in stored.getexif()
    # The resident sees their photo; the page shows the case.
    page = resident_client.get(res["Location"]).content.decode()
    assert case.title in page and reverse("portal:photo", args=[photo.pk]) in page
    assert resident_client.get(reverse("portal:photo", args=[photo.pk])).status_code == 200


def test_location_is_kept_when_the_resident_agrees(resident_client):
    resident_client.post(
        reverse("portal:report"), form_data(photos=[jpeg(gps=True)], keep_photo_location="on")
    )
    photo = CasePhoto.objects.get()
    with photo.image.open() as fh, Image.open(fh) as stored:
        assert 0x8825 in stored.getexif()


def test_a_file_that_is_not_an_image_is_refused_and_nothing_is_stored(resident_client):
    bad = SimpleUploadedFile("x.jpg", b"this is not an image", content_type="image/jpeg")
    res = resident_client.post(reverse("portal:report"), form_data(photos=[jpeg(), bad]))
    assert res.status_code == 200
    page = res.content.decode()
    assert "x.jpg: This file is not an image." in page and "Choose your photos again." in page
    assert "小区门口垃圾堆了三天" in page  # what was typed is kept
    assert not Case.objects.exists() and not CasePhoto.objects.exists()


def test_an_oversized_photo_is_refused(resident_client, settings):
    settings.CASE_PHOTO_MAX_BYTES = 1024 * 1024
    big = SimpleUploadedFile("big.jpg", b"x" * (1024 * 1024 + 1), content_type="image/jpeg")
    res = resident_client.post(reverse("portal:report"), form_data(photos=[big]))
    assert res.status_code == 200 and "big.jpg: A photo may be at most 1 MB." in res.content.decode()
    assert not Case.objects.exists()


def test_submitting_twice_makes_one_case(resident_client):
    data = form_data()
    first = resident_client.post(reverse("portal:report"), data)
    second = resident_client.post(reverse("portal:report"), data, follow=True)
    assert Case.objects.count() == 1
    assert first["Location"] == second.redirect_chain[-1][0]
    assert "This report was already received." in second.content.decode()


def test_questions_and_location_errors_name_their_fields(resident_client):
    pothole = Category.objects.get(kind="event", code="0401")
    size, traffic = pothole.questions.order_by("order")
    res = resident_client.post(reverse("portal:report"), form_data(category=pothole))
    assert res.status_code == 200 and not Case.objects.exists()
    form = res.context["form"]
    assert f"q_{size.pk}" in form.errors and f"q_{traffic.pk}" in form.errors
    res = resident_client.post(
        reverse("portal:report"), form_data(category=pothole, lat="", lng="", **{f"q_{size.pk}": "small"})
    )
    assert "lat" in res.context["form"].errors and not Case.objects.exists()
    res = resident_client.post(
        reverse("portal:report"),
        form_data(category=pothole, **{f"q_{size.pk}": "small", f"q_{traffic.pk}": "yes"}),
    )
    assert res.status_code == 302
    assert Case.objects.get().answers == {"size": "small", "traffic": "yes"}


def test_my_reports_are_mine_only(people, report, resident_client, client):
    mine = report()
    theirs = report(actor=people["grid_worker"], channel=Channel.GRID_WORKER)
    from civicgrid.core.testing import make_user

    neighbour = make_user("t_neighbour", "resident")
    neighbours = report(actor=neighbour, photos=[jpeg()])
    page = resident_client.get(reverse("portal:cases")).content.decode()
    assert reverse("portal:case", args=[mine.pk]) in page
    assert reverse("portal:case", args=[theirs.pk]) not in page
    assert reverse("portal:case", args=[neighbours.pk]) not in page
    assert resident_client.get(reverse("portal:case", args=[mine.pk])).status_code == 200
    for other in (theirs, neighbours):
        assert resident_client.get(reverse("portal:case", args=[other.pk])).status_code == 404
    photo = neighbours.photos.get()
    assert resident_client.get(reverse("portal:photo", args=[photo.pk])).status_code == 404
    # Rating somebody else's report is a 404 too.
    res = resident_client.post(reverse("portal:case", args=[neighbours.pk]), {"op": "rate", "rating": 5})
    assert res.status_code == 404


def close(case, people, units):
    p = people
    case = case_services.case_dispatch(case=case, actor=p["community"], department=units["D450403-01"])
    case = case_services.case_start(case=case, actor=p["handler"])
    case = case_services.case_handle(case=case, actor=p["handler"], result="已清运")
    case = case_services.case_verify(case=case, actor=p["grid_worker"], passed=True)
    return case_services.case_close(case=case, actor=p["community"])


def test_the_resident_follows_rates_and_reopens(people, units, report, resident_client):
    case = report()
    page = resident_client.get(reverse("portal:case", args=[case.pk])).content.decode()
    assert 'id="rate-form"' not in page and "not assigned yet" in page
    case = close(case, people, units)
    page = resident_client.get(reverse("portal:case", args=[case.pk])).content.decode()
    assert "万秀区城市管理局" in page and "已清运" in page and 'id="rate-form"' in page
    timeline = re.search(r'<ol class="timeline" id="timeline">(.*?)</ol>', page, re.S).group(1)
    assert timeline.count("<li>") == len(case.events.filter(is_public=True))
    # No stars: the field says so.
    res = resident_client.post(reverse("portal:case", args=[case.pk]), {"op": "rate", "comment": "x"})
    assert res.status_code == 200 and res.context["rate_form"].errors["rating"]
    res = resident_client.post(
        reverse("portal:case", args=[case.pk]), {"op": "rate", "rating": "4", "comment": "还行"}
    )
    assert res.status_code == 302
    case.refresh_from_db()
    assert case.rating == 4 and case.rating_comment == "还行"
    page = resident_client.get(reverse("portal:case", args=[case.pk])).content.decode()
    assert 'id="rate-form"' not in page and 'id="not-solved-form"' in page
    # "Not solved" needs a word, then reopens the case with its unit.
    res = resident_client.post(reverse("portal:case", args=[case.pk]), {"op": "not_solved", "comment": ""})
    assert res.status_code == 200 and res.context["not_solved_form"].errors
    res = resident_client.post(
        reverse("portal:case", args=[case.pk]), {"op": "not_solved", "comment": "第二天又堆满了"}
    )
    assert res.status_code == 302
    case.refresh_from_db()
    assert case.status == Status.DISPATCHED and case.reopen_count == 1 and case.rating is None
    # An open case cannot be rated: a clear message, nothing changes.
    res = resident_client.post(
        reverse("portal:case", args=[case.pk]), {"op": "rate", "rating": "5"}, follow=True
    )
    assert "not possible while the case is" in res.content.decode()
    case.refresh_from_db()
    assert case.rating is None


def test_a_report_without_photos(resident_client):
    res = resident_client.post(reverse("portal:report"), form_data())
    assert res.status_code == 302
    assert Case.objects.get().photos.count() == 0
