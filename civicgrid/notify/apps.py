from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotifyConfig(AppConfig):
    name = "civicgrid.notify"
    label = "notify"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        from civicgrid.accounts.roles import grant

        from .permissions import ROLE_GRANTS

        for role, perms in ROLE_GRANTS.items():
            grant(role, *perms)
