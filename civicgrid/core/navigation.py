"""The back-office modules and their pages, shown to a user by permission.

Modules not built yet are absent, not placeholders. Apps add their pages with ``register``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.urls import reverse
from django.utils.translation import gettext_lazy as _


@dataclass
class Page:
    label: object
    url_name: str
    perms: tuple[str, ...]  # any one of them opens the page


@dataclass
class Module:
    key: str
    label: object
    pages: list[Page] = field(default_factory=list)


#: The eight modules in the seed's order; a module shows once it has a page the user may open.
MODULES: dict[str, Module] = {
    key: Module(key, label)
    for key, label in (
        ("command", _("Command center")),
        ("basedata", _("Base data")),
        ("party", _("Party & mass organisations")),
        ("services", _("Services")),
        ("video", _("Video surveillance")),
        ("diary", _("Public-sentiment diary")),
        ("gis", _("GIS")),
        ("system", _("System administration")),
    )
}


def register(module: str, label, url_name: str, *perms: str) -> None:
    MODULES[module].pages.append(Page(label, url_name, perms))


def modules_for(user) -> list[dict]:
    if not user.is_authenticated:
        return []
    result = []
    for module in MODULES.values():
        pages = [
            {"label": p.label, "url": reverse(p.url_name), "url_name": p.url_name}
            for p in module.pages
            if not p.perms or any(user.has_perm(perm) for perm in p.perms)
        ]
        if pages:
            result.append({"key": module.key, "label": module.label, "pages": pages, "url": pages[0]["url"]})
    return result
