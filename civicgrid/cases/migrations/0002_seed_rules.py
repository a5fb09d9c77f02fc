"""Seed the category trees, their questions and the default deadline policies."""

from decimal import Decimal

from django.db import migrations


def seed(apps, schema_editor):
    from civicgrid.cases import taxonomy

    Category = apps.get_model("cases", "Category")
    Question = apps.get_model("cases", "CategoryQuestion")
    Policy = apps.get_model("cases", "DeadlinePolicy")
    letters = {"event": "E", "component": "C", "governance": "G"}
    by_key = {}
    for kind, rows in taxonomy.TREES.items():
        for sort, (code, name, function, keywords) in enumerate(rows):
            parent = by_key.get((kind, code[:2])) if len(code) == 4 else None
            category, _ = Category.objects.update_or_create(
                kind=kind,
                code=code,
                defaults=dict(
                    service_code=f"{letters[kind]}{code}",
                    name=name,
                    parent=parent,
                    default_function=function,
                    keywords=keywords,
                    is_public=(kind, code) not in taxonomy.PRIVATE,
                    default_urgency="urgent" if (kind, code) in taxonomy.URGENT else "normal",
                    sort=sort,
                ),
            )
            by_key[(kind, code)] = category
    for key, questions in taxonomy.QUESTIONS.items():
        for order, (code, datatype, label, required, values) in enumerate(questions):
            Question.objects.update_or_create(
                category=by_key[key],
                code=code,
                defaults=dict(datatype=datatype, label=label, required=required, values=values, order=order),
            )
    if not Policy.objects.exists():
        for name, stage, amount, unit, warn, action, priority, filters in taxonomy.POLICIES:
            Policy.objects.create(
                name=name, stage=stage, amount=Decimal(amount), unit=unit, warn_ratio=warn,
                on_overdue=action, priority=priority, **filters,
            )
        for key, amount, unit, action in taxonomy.CATEGORY_LIMITS:
            category = by_key[key]
            Policy.objects.create(
                name=f"{category.name}：{amount}{'个工作小时' if unit == 'hours' else '个工作日'}内处置",
                stage="handle", category=category, amount=Decimal(amount), unit=unit,
                warn_ratio=0.75, on_overdue=action, priority=10,
            )


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_initial"), ("core", "0002_audit_append_only_triggers")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
