from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegistryConfig(AppConfig):
    name = "civicgrid.registry"
    label = "registry"
    verbose_name = _("Base data")

    def ready(self) -> None:
        from civicgrid.accounts.roles import grant

        from .permissions import ROLE_GRANTS

        for role, perms in ROLE_GRANTS.items():
            grant(role, *perms)
