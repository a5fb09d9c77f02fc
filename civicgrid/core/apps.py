from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "civicgrid.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from django.db.models import Field, ForeignObject

        from . import (
            signals,  # noqa: F401  (change logging is a cross-cutting concern)
            tasks,  # noqa: F401  (registers periodic tasks with Huey)
            workcalendar,  # noqa: F401  (drops the cached calendar when its tables change)
        )
        from .bulk import AnyOf, cache_long_statements

        Field.register_lookup(AnyOf)
        ForeignObject.register_lookup(AnyOf)  # its lookups are its own, not Field's
        cache_long_statements()
