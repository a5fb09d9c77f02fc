"""Seeded defaults (administrators may change them): special-group tags and facility component classes."""

from django.db import migrations

TAGS = [
    # code, name, sensitive
    ("dibao", "低保", True),
    ("elderly", "高龄", False),
    ("living_alone", "独居/空巢", True),
    ("disabled", "残疾", True),
    ("veteran", "退役军人", False),
    ("left_behind_child", "留守儿童", True),
    ("key_person", "重点人群", True),
    ("party_member", "党员", False),
    ("volunteer", "志愿者", False),
]

CATEGORIES = [
    ("0101", "上水井盖"), ("0102", "污水井盖"), ("0103", "雨水井盖"), ("0104", "雨水箅子"),
    ("0105", "电力井盖"), ("0106", "路灯井盖"), ("0107", "通信井盖"), ("0110", "燃气井盖"),
    ("0111", "消火栓"), ("0112", "路灯"), ("0113", "监控电子眼"), ("0114", "公共厕所"),
    ("0201", "停车场"), ("0202", "公交站亭"), ("0203", "交通信号灯"), ("0204", "道路护栏"),
    ("0301", "垃圾箱"), ("0302", "垃圾收集站"), ("0303", "广告牌"),
    ("0401", "古树名木"), ("0402", "绿地"), ("0403", "街头座椅"),
    ("0501", "人防工事"), ("0502", "危房"),
    ("0601", "充电桩"), ("0602", "应急避难场所"),
]


def seed(apps, schema_editor):
    Tag = apps.get_model("registry", "Tag")
    FacilityCategory = apps.get_model("registry", "FacilityCategory")
    for i, (code, name, sensitive) in enumerate(TAGS):
        Tag.objects.get_or_create(code=code, defaults={"name": name, "is_sensitive": sensitive, "sort": i})
    for code, name in CATEGORIES:
        FacilityCategory.objects.get_or_create(code=code, defaults={"name": name})


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
