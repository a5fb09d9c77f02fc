"""The demo posts: two dozen through the services, pictures drawn locally, idempotent."""

from __future__ import annotations

import pytest

from civicgrid.dynamics.choices import PictureKind, Status
from civicgrid.dynamics.demo import generate_posts
from civicgrid.dynamics.models import Post, PostPicture
from civicgrid.dynamics.selectors import published_in

pytestmark = pytest.mark.django_db


def test_demo_posts(wuzhou):
    assert generate_posts() == 24
    assert Post.objects.count() == 24
    assert Post.objects.filter(status=Status.DRAFT).count() == 2
    assert Post.objects.filter(status=Status.WITHDRAWN).count() == 1
    assert Post.objects.filter(pinned=True).count() == 2
    assert Post.objects.values("area_code").distinct().count() >= 6
    assert PostPicture.objects.filter(kind=PictureKind.COVER).count() == 24
    # The demo resident of 三角嘴社区 has news of the community and of 角嘴街道 to read.
    feed = published_in(["450403005001", "450403005"])
    assert feed.count() >= 10 and feed.first().pinned
    assert generate_posts() == 0  # idempotent
