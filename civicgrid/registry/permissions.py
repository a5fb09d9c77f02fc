"""Default registry permissions of the built-in roles."""

VIEW = {
    f"registry.view_{m}"
    for m in (
        "compound",
        "building",
        "house",
        "household",
        "person",
        "persontag",
        "personevent",
        "organisation",
        "shop",
        "facility",
        "facilitycategory",
        "tag",
    )
}
EDIT = {
    f"registry.{a}_{m}"
    for a in ("add", "change")
    for m in ("compound", "building", "house", "household", "person", "organisation", "shop", "facility")
}

ROLE_GRANTS = {
    "city_official": VIEW | {"registry.export_person", "registry.view_sensitive_tags"},
    "district_official": VIEW | {"registry.export_person", "registry.view_sensitive_tags"},
    "street_official": VIEW
    | EDIT
    | {
        "registry.export_person",
        "registry.import_person",
        "registry.view_sensitive_tags",
        "registry.reveal_person",
    },
    "community_official": VIEW
    | EDIT
    | {
        "registry.export_person",
        "registry.import_person",
        "registry.view_sensitive_tags",
        "registry.reveal_person",
    },
    "grid_worker": VIEW | EDIT | {"registry.view_sensitive_tags"},
    "dispatcher": {
        "registry.view_compound",
        "registry.view_building",
        "registry.view_organisation",
        "registry.view_shop",
        "registry.view_facility",
        "registry.view_facilitycategory",
    },
}
