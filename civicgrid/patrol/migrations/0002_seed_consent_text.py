"""The first tracking consent text (Chinese and English), current from the start."""

from django.db import migrations

VERSION = "2026-1"
TITLE = "巡查轨迹记录知情同意书（2026 年版）"
BODY = """巡查轨迹记录知情同意书 / Consent to patrol-track recording

一、记录什么：仅在您点击“开始巡查（在岗）”之后、点击“结束巡查”之前，手机记录您的位置（经纬度、精度和时间），用于形成工作轨迹（工作轨迹随时记录）和统计网格走访覆盖情况。下班、休息或未点击“开始巡查”时不记录任何位置。
二、如何提示：记录期间，手机页面顶部始终显示“正在记录轨迹”提示条，提示条上有“结束”按钮，可随时停止。
三、谁能看：只有您所在网格的社区、街道、城区管理人员在其职责范围内可以查看；每次查看都记入访问日志，接受审计。
四、保存多久：轨迹保存 180 天（以系统设置为准），到期自动删除。
五、撤回同意：您可以随时在“巡查”页面撤回同意；撤回后立即停止记录，撤回操作记入审计日志。撤回不影响撤回前已记录的数据的合法性。

1. What is recorded: only between "Start duty" and "End duty", the phone records your position
   (latitude, longitude, accuracy and time) to form your work track and the coverage of your grid.
   Nothing is recorded off duty.
2. How you know: while recording, a bar saying "Recording track" with a stop button stays at the top
   of the phone app.
3. Who sees it: only the community, street and district officials responsible for your grid; every
   look is written to the access log and audited.
4. How long it is kept: 180 days (as configured), then deleted automatically.
5. Withdrawing: you may withdraw consent at any time on the duty page; recording stops at once and the
   withdrawal is audited.
"""


def seed(apps, schema_editor):
    ConsentText = apps.get_model("patrol", "ConsentText")
    if not ConsentText.objects.exists():
        ConsentText.objects.create(version=VERSION, title=TITLE, body=BODY, is_current=True)


class Migration(migrations.Migration):
    dependencies = [("patrol", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
