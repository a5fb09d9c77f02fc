"""On PostgreSQL, refuse UPDATE and DELETE on the audit tables at the database itself."""

from django.db import migrations

from civicgrid.core.audit import install_triggers


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in ("core_changelog", "core_accesslog", "core_changelogseal", "core_accesslogseal"):
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [migrations.RunPython(install_triggers, drop_triggers)]
