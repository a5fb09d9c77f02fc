"""Demo work-dynamics posts: two dozen posts of the communities and streets of the urban area, with
pictures drawn by Pillow (nothing is downloaded), made through the services like real ones, then
dated back over the last two months."""

from __future__ import annotations

import io
import math
import random
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw

from civicgrid.areas.models import Area

from . import services
from .models import Post

#: (title, text) of the demo posts; ``{area}`` is the posting community's or street's name.
STORIES = [
    (
        "{area}开展垃圾分类入户宣传",
        "为进一步提高居民垃圾分类知晓率和参与率，{area}组织网格员和志愿者走进小区，逐户发放宣传册，"
        "现场讲解厨余垃圾、可回收物、有害垃圾和其他垃圾的分类方法。\n\n"
        "活动共走访居民三百余户，发放宣传资料五百余份。下一步，社区将在各小区设置督导点，引导居民养成分类投放的好习惯。",
    ),
    (
        "{area}举行防汛应急演练",
        "汛期将至，{area}联合辖区物业、志愿者队伍开展防汛应急演练，模拟低洼地带积水、居民转移安置等场景。\n\n"
        "演练检验了应急预案的可操作性，提高了队伍的快速反应能力。社区提醒居民关注天气预警，雨天减少外出。",
    ),
    (
        "{area}联合社区卫生服务站开展义诊活动",
        "本周六上午，{area}在文化广场开展“健康进社区”义诊活动，为居民免费测量血压、血糖，提供健康咨询。\n\n"
        "现场还为六十岁以上老人建立了健康档案，讲解慢性病日常管理知识，受到居民欢迎。",
    ),
    (
        "{area}开展防范电信网络诈骗宣传",
        "{area}联合派出所民警走进小区和商铺，通过典型案例讲解冒充客服、刷单返利、虚假投资等常见诈骗手法。\n\n"
        "民警提醒居民：不轻信、不透露、不转账，接到可疑电话及时拨打96110咨询。",
    ),
    (
        "{area}组织消防安全隐患排查",
        "近日，{area}网格员会同物业人员对辖区老旧小区、沿街商铺开展消防安全隐患排查，重点检查楼道堆物、"
        "电动自行车违规充电、消防通道占用等问题。\n\n"
        "对排查发现的隐患，现场督促整改；不能立即整改的，已登记建档并限期整改。",
    ),
    (
        "{area}邻里节：一家一道菜，邻里一家亲",
        "{area}第三届邻里节在小区广场举行。居民们带来自家拿手菜，一起包饺子、拉家常，孩子们参加了亲子游戏。\n\n"
        "邻里节拉近了邻里距离，不少居民表示，要把这份热情带到日常生活中，做互帮互助的好邻居。",
    ),
    (
        "党员志愿者清理小区卫生死角",
        "{area}党委组织在职党员、志愿者开展“周末卫生日”活动，清理楼道杂物、绿化带垃圾和小广告。\n\n"
        "党员们以实际行动践行“双报到”承诺，为居民营造干净整洁的居住环境。",
    ),
    (
        "{area}走访慰问高龄独居老人",
        "重阳节前夕，{area}工作人员和网格员走访慰问辖区高龄、独居老人，送上米油等慰问品，"
        "详细询问老人的身体状况和生活困难。\n\n"
        "社区将持续做好特殊群体的关爱服务，定期上门探访，确保老人生活有人问、困难有人帮。",
    ),
    (
        "{area}召开老旧小区改造居民议事会",
        "{area}召开居民议事会，就小区雨污分流、加装电梯、停车位规划等改造事项听取居民意见。\n\n"
        "会上，居民代表踊跃发言，提出意见建议二十余条。社区将汇总整理后反馈设计单位，让改造更贴近居民需求。",
    ),
    (
        "{area}暑期“四点半课堂”开班",
        "为解决双职工家庭暑期看护难题，{area}联合大学生志愿者开设“四点半课堂”，提供作业辅导、安全教育和兴趣活动。\n\n"
        "课堂每周一至周五开放，欢迎辖区小学生报名参加。",
    ),
    (
        "{area}举办就业招聘会",
        "{area}联合人社部门举办“家门口”招聘会，二十余家企业提供岗位三百余个，涉及餐饮、物流、家政等行业。\n\n"
        "现场达成初步就业意向六十余人。社区将持续提供就业信息和技能培训服务。",
    ),
    (
        "{area}开展电动自行车安全充电宣传",
        "针对电动自行车“飞线充电”“入户充电”等安全隐患，{area}开展专项宣传和入户劝导，"
        "并在小区新增集中充电桩四十个。\n\n"
        "请居民在指定区域停放充电，共同守护家园安全。",
    ),
]

#: Colour themes of the drawn pictures (sky, ground, accent).
THEMES = [
    ((135, 190, 235), (96, 160, 90), (230, 80, 60)),
    ((250, 200, 150), (120, 150, 90), (200, 60, 60)),
    ((170, 210, 240), (90, 130, 160), (250, 200, 60)),
    ((200, 220, 200), (140, 110, 80), (60, 120, 200)),
    ((245, 230, 210), (180, 90, 70), (40, 140, 120)),
]


def draw_picture(rng: random.Random, size=(1200, 800)) -> bytes:
    """A simple street scene as a JPEG: sky, sun, buildings with windows, trees and people."""
    w, h = size
    sky, ground, accent = rng.choice(THEMES)
    image = Image.new("RGB", size, sky)
    draw = ImageDraw.Draw(image)
    horizon = int(h * rng.uniform(0.6, 0.72))
    for y in range(horizon):  # sky gradient
        t = y / max(1, horizon)
        draw.line([(0, y), (w, y)], fill=tuple(int(c * (1 - 0.25 * t) + 255 * 0.25 * t) for c in sky))
    sun_x, sun_r = rng.randint(int(w * 0.1), int(w * 0.9)), rng.randint(40, 70)
    draw.ellipse([sun_x - sun_r, 80 - sun_r // 2, sun_x + sun_r, 80 + sun_r * 3 // 2], fill=(255, 236, 150))
    x = rng.randint(-40, 20)
    while x < w:
        bw, bh = rng.randint(110, 210), rng.randint(int(h * 0.25), int(h * 0.55))
        shade = rng.randint(150, 225)
        draw.rectangle([x, horizon - bh, x + bw, horizon], fill=(shade, shade - 10, shade - 25))
        for wy in range(horizon - bh + 20, horizon - 30, 38):
            for wx in range(x + 14, x + bw - 24, 34):
                lit = rng.random() < 0.3
                draw.rectangle([wx, wy, wx + 18, wy + 22], fill=(255, 230, 150) if lit else (90, 110, 140))
        x += bw + rng.randint(8, 30)
    draw.rectangle([0, horizon, w, h], fill=ground)
    for _ in range(rng.randint(3, 6)):  # trees
        tx, ty = rng.randint(0, w), horizon + rng.randint(10, 60)
        draw.rectangle([tx - 6, ty - 40, tx + 6, ty + 20], fill=(110, 80, 50))
        draw.ellipse([tx - 40, ty - 110, tx + 40, ty - 20], fill=(60, 130, 70))
    for _ in range(rng.randint(4, 9)):  # people
        px, py = rng.randint(40, w - 40), horizon + rng.randint(60, h - horizon - 20)
        colour = accent if rng.random() < 0.5 else tuple(rng.randint(40, 220) for _ in range(3))
        draw.ellipse([px - 12, py - 70, px + 12, py - 46], fill=(240, 200, 170))
        draw.rounded_rectangle([px - 18, py - 46, px + 18, py + 10], radius=8, fill=colour)
    # A banner across the scene, in the accent colour.
    top = int(h * 0.12)
    draw.rectangle([int(w * 0.15), top, int(w * 0.85), top + 56], fill=accent)
    for i in range(8):
        angle = i * math.pi / 4
        cx, cy = int(w * 0.15) + 28, top + 28
        draw.line(
            [(cx, cy), (cx + int(18 * math.cos(angle)), cy + int(18 * math.sin(angle)))],
            fill="white",
            width=4,
        )
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=88)
    return out.getvalue()


def _upload(rng: random.Random, name: str, size=(1200, 800)) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, draw_picture(rng, size), content_type="image/jpeg")


@transaction.atomic
def generate_posts(count: int = 24, seed: int = 4504) -> int:
    """Demo posts (idempotent: nothing when there are posts already). Returns how many were made."""
    if Post.objects.exists():
        return 0
    rng = random.Random(seed)
    users = {u.username: u for u in get_user_model().objects.filter(username__in=["community", "street"])}
    street = Area.objects.get(code="450403005000")  # 角嘴街道, the demo street
    home = Area.objects.filter(parent=street).order_by("code").first()  # 三角嘴社区, the demo community
    others = list(Area.objects.filter(parent=street).exclude(pk=home.pk).order_by("code")[:4])
    others += list(Area.objects.filter(code__in=["450403006001", "450403007001"]).order_by("code"))
    # Where each post comes from: the demo community most, its street, then its neighbours.
    plan = [home] * 9 + [street] * 5 + [others[i % len(others)] for i in range(max(0, count - 14))]
    plan = plan[:count]
    rng.shuffle(plan)
    now = timezone.now()
    published: list[Post] = []
    for i, where in enumerate(plan):
        title, body = STORIES[i % len(STORIES)]
        actor = {home.pk: users.get("community"), street.pk: users.get("street")}.get(where.pk)
        pictures = [
            _upload(rng, f"p{i}-{n}.jpg", (1200, rng.choice((800, 900, 1200))))
            for n in range(rng.randint(0, 4))
        ]
        post = services.post_draft(
            actor=actor,
            area=where,
            title=title.format(area=where.name),
            body=body.format(area=where.name),
            cover=_upload(rng, f"cover{i}.jpg"),
            pictures=pictures,
        )
        if i in (5, 17):  # a couple of drafts waiting to be published
            continue
        post = services.post_publish(actor=actor, post=post)
        when = now - timedelta(days=60 * (len(plan) - i) / len(plan), hours=rng.randint(0, 8))
        Post.objects.filter(pk=post.pk).update(published_at=when, view_count=rng.randint(20, 600))
        published.append(post)
    # The newest post of the community and of the street pinned; an old one withdrawn by the street.
    for where in (home, street):
        mine = [p for p in published if p.area_id == where.pk]
        if mine:
            services.post_pin(actor=None, post=mine[-1])
    old = next((p for p in published if p.area_id == home.pk), None)
    if old is not None:
        services.post_withdraw(actor=users.get("street"), post=old, reason="活动时间有误，核实后重新发布")
    return len(plan)
