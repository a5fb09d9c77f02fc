from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DynamicsConfig(AppConfig):
    name = "civicgrid.dynamics"
    label = "dynamics"
    verbose_name = _("Work dynamics")

    def ready(self) -> None:
        from civicgrid.accounts.roles import grant

        from .permissions import ROLE_GRANTS

        for role, perms in ROLE_GRANTS.items():
            grant(role, *perms)
