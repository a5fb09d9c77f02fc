from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "civicgrid.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import signals  # noqa: F401  (login events go to the access log)
        from .roles import sync_builtin_roles

        post_migrate.connect(sync_builtin_roles, dispatch_uid="civicgrid.accounts.sync_builtin_roles")
