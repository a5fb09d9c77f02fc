from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DiaryConfig(AppConfig):
    name = "civicgrid.diary"
    label = "diary"
    verbose_name = _("Public-sentiment diary")

    def ready(self) -> None:
        from civicgrid.accounts.roles import grant

        from .permissions import ROLE_GRANTS

        for role, perms in ROLE_GRANTS.items():
            grant(role, *perms)
