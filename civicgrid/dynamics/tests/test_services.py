"""The services of work dynamics: who may write, publish, pin and withdraw which post; the states
and their conflicts; pictures (bad ones refused naming the field, EXIF data removed, made
smaller); the history and the change log."""

from __future__ import annotations

import io
import os

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from civicgrid.core.models import ChangeLog
from civicgrid.core.services import ConflictError
from civicgrid.dynamics import services
from civicgrid.dynamics.choices import EventKind, PictureKind, Status
from civicgrid.dynamics.models import MAX_PICTURES, Post, PostEvent, PostPicture
from civicgrid.notify.models import Notification

from .conftest import COMMUNITY, ELSEWHERE, GRID, NEIGHBOUR, STREET, area, upload

pytestmark = pytest.mark.django_db


def errors_of(excinfo) -> dict:
    return excinfo.value.message_dict


def stored(picture: PostPicture, thumb: bool = False) -> Image.Image:
    field = picture.thumbnail if thumb else picture.image
    with field.open("rb") as handle:
        image = Image.open(io.BytesIO(handle.read()))
        image.load()
    return image


# ---- writing and publishing ------------------------------------------------------------------


def test_community_official_drafts_then_publishes(people):
    official = people["community"]
    post = services.post_draft(
        actor=official,
        area=area(COMMUNITY),
        title="  社区  开展 \n 义诊活动 ",
        body="第一段\r\n第二行   \r\n\r\n\r\n\r\n第二段<script>alert(1)</script>",
        cover=upload("cover.jpg"),
        pictures=[upload("a.jpg"), upload("b.png", fmt="PNG")],
    )
    assert post.status == Status.DRAFT and post.published_at is None
    assert post.title == "社区 开展 义诊活动"
    assert (
        post.body == "第一段\n第二行\n\n第二段<script>alert(1)</script>"
    )  # kept as text, escaped when shown
    assert post.author == official and post.created_by == official
    assert post.area_code == "450403005001"
    kinds = list(post.pictures.values_list("kind", "position"))
    assert kinds == [(PictureKind.COVER, 0), (PictureKind.PICTURE, 0), (PictureKind.PICTURE, 1)]

    published = services.post_publish(actor=official, post=post, expected_version=post.version)
    assert published.status == Status.PUBLISHED
    assert published.published_at is not None and published.published_by == official
    assert published.version == post.version + 1
    assert list(PostEvent.objects.filter(post=post).values_list("kind", flat=True)) == [
        EventKind.DRAFTED,
        EventKind.PUBLISHED,
    ]
    # The change log has the post's creation and its publication (before/after).
    changes = ChangeLog.objects.filter(
        content_type=ContentType.objects.get_for_model(Post), object_id=str(post.pk)
    ).order_by("id")
    assert [c.action for c in changes] == ["create", "update"]
    assert changes[1].before["status"] == "draft" and changes[1].after["status"] == "published"


def test_street_official_posts_for_the_street(people):
    post = services.post_draft(
        actor=people["street"], area=area(STREET), title="街道召开防汛部署会", body="内容"
    )
    assert post.area_code == "450403005"
    services.post_publish(actor=people["street"], post=post)


@pytest.mark.parametrize(
    ("who", "code", "field"),
    [
        ("community", NEIGHBOUR, "area"),  # another community
        ("community", STREET, "area"),  # the street above: the street posts for itself
        ("community", GRID, "area"),  # grids do not post
        ("street", COMMUNITY, "area"),  # a community below the street
        ("district", "450403", "area"),  # not a community or a street
        ("district", COMMUNITY, "area"),  # district officials oversee, they do not post
        ("resident", COMMUNITY, "area"),
        ("grid_worker", COMMUNITY, "area"),
    ],
)
def test_who_may_write_for_which_area(people, who, code, field):
    with pytest.raises(ValidationError) as excinfo:
        services.post_draft(actor=people[who], area=area(code), title="越权", body="x")
    assert field in errors_of(excinfo)
    assert not Post.objects.filter(title="越权").exists()


def test_bad_text_is_refused_naming_each_field(people):
    with pytest.raises(ValidationError) as excinfo:
        services.post_draft(
            actor=people["community"],
            area=area(COMMUNITY),
            title="  \n ",
            body="长" * 20_001,
            pictures=[upload(f"{i}.jpg") for i in range(MAX_PICTURES + 1)],
        )
    errors = errors_of(excinfo)
    assert set(errors) == {"title", "body", "pictures"}
    assert "9" in errors["pictures"][0]
    assert not Post.objects.exists()


def test_publishing_needs_text(people):
    post = services.post_draft(actor=people["community"], area=area(COMMUNITY), title="只有标题")
    with pytest.raises(ValidationError) as excinfo:
        services.post_publish(actor=people["community"], post=post)
    assert "body" in errors_of(excinfo)
    post.refresh_from_db()
    assert post.status == Status.DRAFT


# ---- scope: writing is the area's own, withdrawing is for the levels above too --------------


def test_upper_levels_view_and_withdraw_but_do_not_write(people, make_post):
    post = make_post()
    for who in ("street", "district", "city"):
        assert Post.objects.visible_to(people[who]).filter(pk=post.pk).exists(), who
        with pytest.raises(PermissionDenied):
            services.post_edit(actor=people[who], post=post, title="改标题")
        with pytest.raises(PermissionDenied):
            services.post_pin(actor=people[who], post=post)
    post.refresh_from_db()
    assert post.title != "改标题" and not post.pinned
    withdrawn = services.post_withdraw(actor=people["district"], post=post, reason="内容需核实")
    assert withdrawn.status == Status.WITHDRAWN and withdrawn.withdrawn_by == people["district"]
    # Publishing it again is the community's call, not the district's.
    with pytest.raises(PermissionDenied):
        services.post_publish(actor=people["district"], post=post)
    services.post_publish(actor=people["community"], post=post)


def test_out_of_scope_posts_are_untouchable(people, make_post):
    post = make_post()
    for who in ("neighbour", "elsewhere", "grid_worker", "resident", "dispatcher"):
        assert not Post.objects.visible_to(people[who]).filter(pk=post.pk).exists(), who
        with pytest.raises(PermissionDenied):
            services.post_withdraw(actor=people[who], post=post, reason="越权撤回")
        with pytest.raises(PermissionDenied):
            services.post_edit(actor=people[who], post=post, title="越权")
    post.refresh_from_db()
    assert post.status == Status.PUBLISHED


def test_street_official_withdraws_a_community_post_and_the_author_is_told(
    people, make_post, django_capture_on_commit_callbacks
):
    post = make_post()
    with django_capture_on_commit_callbacks(execute=True):
        services.post_withdraw(actor=people["street"], post=post, reason="  照片涉及居民隐私 ")
    post.refresh_from_db()
    assert post.withdraw_reason == "照片涉及居民隐私"
    event = PostEvent.objects.get(post=post, kind=EventKind.WITHDRAWN)
    assert event.actor == people["street"] and event.note == "照片涉及居民隐私"
    note = Notification.objects.get(recipient=people["community"], kind="dynamics_withdrawn")
    assert post.title in note.title and note.url == f"/diary/dynamics/{post.pk}/"


# ---- states ----------------------------------------------------------------------------------


def test_state_rules(people, make_post):
    official = people["community"]
    draft = make_post(publish=False)
    with pytest.raises(ConflictError) as excinfo:
        services.post_withdraw(actor=official, post=draft, reason="x")
    assert excinfo.value.code == "invalid_state"
    with pytest.raises(ConflictError):
        services.post_pin(actor=official, post=draft)

    post = make_post()
    with pytest.raises(ConflictError):
        services.post_publish(actor=official, post=post)
    with pytest.raises(ConflictError):
        services.post_delete(actor=official, post=post)
    with pytest.raises(ValidationError) as excinfo:
        services.post_withdraw(actor=official, post=post, reason="  ")
    assert "reason" in errors_of(excinfo)

    # A stale version is a conflict, whatever the step.
    stale = post.version
    post = services.post_pin(actor=official, post=post)
    assert post.pinned and post.pinned_at is not None
    with pytest.raises(ConflictError):
        services.post_edit(actor=official, post=post, title="新标题", expected_version=stale)
    with pytest.raises(ConflictError):
        services.post_withdraw(actor=official, post=post, reason="过期", expected_version=stale)

    # Withdrawing unpins; publishing again clears the withdrawal.
    post = services.post_withdraw(actor=official, post=post, reason="有错别字")
    assert post.status == Status.WITHDRAWN and not post.pinned and post.pinned_at is None
    post = services.post_publish(actor=official, post=post)
    assert post.status == Status.PUBLISHED and post.withdraw_reason == "" and post.withdrawn_at is None
    kinds = list(post.events.values_list("kind", flat=True))
    assert kinds == ["drafted", "published", "pinned", "withdrawn", "published"]


def test_pinning_twice_is_a_no_op(people, make_post):
    post = services.post_pin(actor=people["community"], post=make_post())
    again = services.post_pin(actor=people["community"], post=post)
    assert again.version == post.version
    assert post.events.filter(kind=EventKind.PINNED).count() == 1
    unpinned = services.post_pin(actor=people["community"], post=post, pinned=False)
    assert not unpinned.pinned and unpinned.events.filter(kind=EventKind.UNPINNED).count() == 1


def test_only_drafts_are_deleted_with_their_pictures(people, make_post, django_capture_on_commit_callbacks):
    draft = make_post(publish=False, pictures=[upload()])
    picture = draft.pictures.get()
    storage = picture.image.storage
    names = [picture.image.name, picture.thumbnail.name]
    assert all(storage.exists(n) for n in names)
    with django_capture_on_commit_callbacks(execute=True):
        services.post_delete(actor=people["community"], post=draft)
    assert not Post.objects.filter(pk=draft.pk).exists()
    assert not any(storage.exists(n) for n in names)
    with pytest.raises(PermissionDenied):  # a district official does not delete drafts
        services.post_delete(actor=people["district"], post=make_post(publish=False))


# ---- editing ---------------------------------------------------------------------------------


def test_edit_text_pictures_and_cover(people, make_post, django_capture_on_commit_callbacks):
    official = people["community"]
    post = make_post(cover=upload("c.jpg"), pictures=[upload(f"{i}.jpg") for i in range(3)])
    first, second, third = post.pictures.filter(kind=PictureKind.PICTURE).order_by("position")
    old_cover = post.pictures.get(kind=PictureKind.COVER)
    removed_files = [second.image.name, second.thumbnail.name, old_cover.image.name]
    with django_capture_on_commit_callbacks(execute=True):
        edited = services.post_edit(
            actor=official,
            post=post,
            expected_version=post.version,
            title="更新后的标题",
            body=post.body,  # unchanged
            cover=upload("new-cover.jpg", color=(0, 0, 255)),
            pictures=[upload("d.jpg")],
            remove_pictures=[second.pk],
        )
    assert edited.status == Status.PUBLISHED and edited.title == "更新后的标题"
    assert edited.version == post.version + 1
    pictures = list(edited.pictures.filter(kind=PictureKind.PICTURE).order_by("position"))
    assert [p.position for p in pictures] == [0, 1, 2]
    assert pictures[0].pk == first.pk and pictures[1].pk == third.pk
    new_cover = edited.pictures.get(kind=PictureKind.COVER)
    assert new_cover.pk != old_cover.pk
    storage = new_cover.image.storage
    assert not any(storage.exists(n) for n in removed_files)
    event = edited.events.get(kind=EventKind.EDITED)
    assert event.data == {
        "fields": ["title"],
        "pictures_removed": 1,
        "pictures_added": 1,
        "cover": "replaced",
    }


def test_edit_without_changes_writes_nothing(people, make_post):
    post = make_post()
    same = services.post_edit(actor=people["community"], post=post, title=post.title, body=post.body)
    assert same.version == post.version
    assert not post.events.filter(kind=EventKind.EDITED).exists()


def test_edit_refusals_name_the_field(people, make_post):
    official = people["community"]
    post = make_post(pictures=[upload(f"{i}.jpg") for i in range(MAX_PICTURES)])
    with pytest.raises(ValidationError) as excinfo:
        services.post_edit(actor=official, post=post, pictures=[upload("10.jpg")])
    assert "pictures" in errors_of(excinfo)
    with pytest.raises(ValidationError) as excinfo:
        services.post_edit(actor=official, post=post, body="")
    assert "body" in errors_of(excinfo)  # a published post keeps its text
    with pytest.raises(ValidationError) as excinfo:
        services.post_edit(actor=official, post=post, area=area(STREET))
    assert "area" in errors_of(excinfo)  # only drafts move
    other = make_post(NEIGHBOUR, pictures=[upload()])
    with pytest.raises(ValidationError) as excinfo:
        services.post_edit(actor=official, post=post, remove_pictures=[other.pictures.get().pk])
    assert "remove_pictures" in errors_of(excinfo)
    assert post.pictures.count() == MAX_PICTURES
    assert not post.events.filter(kind=EventKind.EDITED).exists()


def test_a_draft_moves_within_the_authors_areas_only(people, make_post):
    draft = make_post(publish=False)
    with pytest.raises(ValidationError) as excinfo:
        services.post_edit(actor=people["community"], post=draft, area=area(NEIGHBOUR))
    assert "area" in errors_of(excinfo)
    moved = services.post_edit(actor=None, post=draft, area=area(NEIGHBOUR))  # the system may
    assert moved.area_code == "450403005002"


# ---- pictures --------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["cover", "pictures"])
def test_bad_pictures_are_refused_naming_the_field_and_file(people, field):
    not_an_image = SimpleUploadedFile("report.pdf", b"%PDF-1.4 not an image", content_type="image/jpeg")
    kwargs = {"cover": not_an_image} if field == "cover" else {"pictures": [upload(), not_an_image]}
    with pytest.raises(ValidationError) as excinfo:
        services.post_draft(actor=people["community"], area=area(COMMUNITY), title="带图", body="x", **kwargs)
    errors = errors_of(excinfo)
    assert list(errors) == [field]
    assert "report.pdf" in errors[field][0] and "not an image" in errors[field][0]
    assert not Post.objects.exists() and not PostPicture.objects.exists()


def test_too_large_and_unaccepted_formats_are_refused(people, settings):
    settings.CASE_PHOTO_MAX_BYTES = 2048
    out = io.BytesIO()
    Image.frombytes("RGB", (200, 200), os.urandom(200 * 200 * 3)).save(out, format="PNG")  # noise: large
    big = SimpleUploadedFile("big.png", out.getvalue(), "image/png")
    with pytest.raises(ValidationError) as excinfo:
        services.post_draft(actor=people["community"], area=area(COMMUNITY), title="t", pictures=[big])
    assert "big.png" in errors_of(excinfo)["pictures"][0]
    settings.CASE_PHOTO_MAX_BYTES = 10 * 1024 * 1024
    out = io.BytesIO()
    Image.new("RGB", (20, 20)).save(out, format="BMP")
    bmp = SimpleUploadedFile("x.bmp", out.getvalue(), "image/bmp")
    with pytest.raises(ValidationError) as excinfo:
        services.post_draft(actor=people["community"], area=area(COMMUNITY), title="t", cover=bmp)
    assert "cover" in errors_of(excinfo)


def test_exif_data_and_location_are_removed(people):
    camera = {0x010F: "Canon", 0x0110: "EOS 5D", 0x0131: "Photo editor"}
    original = upload("gps.jpg", gps=True, exif_extra=camera)
    with Image.open(io.BytesIO(original.read())) as check:
        assert 0x8825 in check.getexif() and check.getexif()[0x010F] == "Canon"
    original.seek(0)
    post = services.post_draft(
        actor=people["community"],
        area=area(COMMUNITY),
        title="带定位的照片",
        cover=upload("gps-cover.jpg", gps=True, exif_extra=camera),
        pictures=[original, upload("gps.png", fmt="PNG", gps=True)],
    )
    for picture in post.pictures.all():
        for thumb in (False, True):
            image = stored(picture, thumb)
            assert dict(image.getexif()) == {}, (picture.kind, thumb)
            assert "exif" not in image.info


def test_large_pictures_are_made_smaller_with_a_thumbnail(people):
    post = services.post_draft(
        actor=people["community"],
        area=area(COMMUNITY),
        title="大图",
        pictures=[upload("wide.jpg", size=(3200, 2000)), upload("small.png", fmt="PNG", size=(300, 200))],
    )
    wide, small = post.pictures.order_by("position")
    assert (wide.width, wide.height) == (2560, 1600)
    assert stored(wide).size == (2560, 1600) and stored(wide).format == "JPEG"
    assert max(stored(wide, thumb=True).size) == 720
    assert wide.size == wide.image.size
    assert (small.width, small.height) == (300, 200) and stored(small).format == "PNG"  # kept as PNG
    assert stored(small, thumb=True).format == "JPEG"


def test_camera_orientation_is_applied(people):
    sideways = upload("rotated.jpg", size=(64, 48), exif_extra={0x0112: 6})  # "rotate 90° clockwise"
    post = services.post_draft(actor=people["community"], area=area(COMMUNITY), title="竖拍", cover=sideways)
    cover = post.pictures.get()
    assert (cover.width, cover.height) == (48, 64)
    assert 0x0112 not in stored(cover).getexif()


def test_views_are_counted_for_published_posts_only(people, make_post):
    post = make_post()
    draft = make_post(publish=False)
    logged = ChangeLog.objects.count()
    services.post_record_view(post=post)
    services.post_record_view(post=post)
    services.post_record_view(post=draft)
    post.refresh_from_db()
    draft.refresh_from_db()
    assert post.view_count == 2 and draft.view_count == 0
    assert ChangeLog.objects.count() == logged  # a counter, not an audited change


def test_elsewhere_posts_exist_independently(people, make_post):
    """The other district's community writes its own posts (a sanity check of the fixtures)."""
    post = make_post(ELSEWHERE)
    assert post.area_code == "450405001001" and post.author == people["elsewhere"]
