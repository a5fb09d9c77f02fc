"""Built-in roles and their default permissions.

Built-in roles are kept in step with this table after every migration (so an upgrade brings new
permissions to them); administrators create their own roles for anything else. Apps added later
extend the table with ``grant`` from their ``AppConfig.ready``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth.models import Permission
from django.utils.translation import gettext_lazy as _

from .choices import DataScope


@dataclass
class RoleSpec:
    label: object
    scope: str
    perms: set[str] = field(default_factory=set)
    all_perms: bool = False


AREA_READ = {"areas.view_area"}
OFFICIAL = AREA_READ | {"accounts.view_user", "accounts.view_post"}
#: Officials who manage the staff of their area.
STAFF_ADMIN = {"accounts.add_user", "accounts.change_user", "accounts.add_post", "accounts.change_post"}

BUILTIN_ROLES: dict[str, RoleSpec] = {
    "sysadmin": RoleSpec(_("System administrator"), DataScope.ALL, all_perms=True),
    "auditor": RoleSpec(_("Auditor"), DataScope.ALL, {"core.view_changelog", "core.view_accesslog"}),
    "city_official": RoleSpec(_("City official"), DataScope.SUBTREE, set(OFFICIAL)),
    "district_official": RoleSpec(_("District official"), DataScope.SUBTREE, OFFICIAL | STAFF_ADMIN),
    "street_official": RoleSpec(
        _("Street official"),
        DataScope.SUBTREE,
        OFFICIAL | STAFF_ADMIN | {"areas.change_area", "areas.assign_gridworker"},
    ),
    "community_official": RoleSpec(
        _("Community official"),
        DataScope.SUBTREE,
        OFFICIAL | {"areas.add_area", "areas.change_area", "areas.assign_gridworker"},
    ),
    "dispatcher": RoleSpec(_("Command-center dispatcher"), DataScope.SUBTREE, set(AREA_READ)),
    "dept_handler": RoleSpec(_("Department handler"), DataScope.SUBTREE, set(AREA_READ)),
    "grid_worker": RoleSpec(_("Grid worker"), DataScope.NODE, set(AREA_READ)),
    "resident": RoleSpec(_("Resident"), DataScope.OWN, set()),
}

#: Roles whose holders are staff: they must accept the confidentiality agreement.
RESIDENT_ROLES = {"resident"}


def grant(role_code: str, *perms: str) -> None:
    """Add permissions to a built-in role's defaults (for apps that come later)."""
    BUILTIN_ROLES[role_code].perms.update(perms)


def builtin_role_label(code: str) -> str:
    spec = BUILTIN_ROLES.get(code)
    return str(spec.label) if spec else code


def resolve_permissions(names: set[str]) -> list[Permission]:
    wanted = {tuple(n.split(".", 1)) for n in names}
    found = {
        (p.content_type.app_label, p.codename): p
        for p in Permission.objects.select_related("content_type").filter(codename__in={c for _, c in wanted})
    }
    missing = sorted(f"{a}.{c}" for a, c in wanted if (a, c) not in found)
    if missing:
        raise LookupError(f"unknown permissions in built-in roles: {', '.join(missing)}")
    return [found[w] for w in sorted(wanted)]


def sync_builtin_roles(sender=None, **kwargs) -> None:
    """Create or update the built-in roles (runs after every migrate)."""
    if sender is not None and getattr(sender, "label", None) != "accounts":
        return
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.contenttypes.management import create_contenttypes

    from .models import Role

    # Other apps' post_migrate may not have run yet: make sure every permission exists first.
    for app_config in apps.get_app_configs():
        create_contenttypes(app_config, verbosity=0)
        create_permissions(app_config, verbosity=0)
    for code, spec in BUILTIN_ROLES.items():
        role, _created = Role.objects.get_or_create(
            code=code,
            defaults={"name": str(spec.label), "default_scope": spec.scope, "is_builtin": True},
        )
        perms = list(Permission.objects.all()) if spec.all_perms else resolve_permissions(spec.perms)
        current = set(role.permissions.values_list("pk", flat=True))
        if current != {p.pk for p in perms}:
            role.permissions.set(perms)
        if role.default_scope != spec.scope or not role.is_builtin:
            role.default_scope, role.is_builtin = spec.scope, True
            role.save(update_fields=["default_scope", "is_builtin"])
