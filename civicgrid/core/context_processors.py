from django.conf import settings

from .navigation import modules_for


def shell(request):
    user = getattr(request, "user", None)
    modules = modules_for(user) if user is not None else []
    path = request.path
    # The page whose URL is the longest prefix of this path is the active one.
    best = max(
        ((m, p) for m in modules for p in m["pages"] if path.startswith(p["url"])),
        key=lambda mp: len(mp[1]["url"]),
        default=(None, None),
    )
    current, active = best
    if active is not None:
        active["active"] = True
    return {
        "nav_modules": modules,
        "nav_current": current,
        "map_config": {
            "tileUrl": settings.MAP_TILE_URL,
            "tileCrs": settings.MAP_TILE_CRS,
            "attribution": settings.MAP_TILE_ATTRIBUTION,
        },
    }
