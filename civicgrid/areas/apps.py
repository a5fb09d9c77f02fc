from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AreasConfig(AppConfig):
    name = "civicgrid.areas"
    label = "areas"
    verbose_name = _("Areas and grids")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from .models import Area
        from .selectors import invalidate_grid_index

        post_save.connect(invalidate_grid_index, sender=Area, dispatch_uid="areas.invalidate_index_save")
        post_delete.connect(invalidate_grid_index, sender=Area, dispatch_uid="areas.invalidate_index_delete")
