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

# Annual verification (B3): officials start, close and follow campaigns; grid workers record results.
VERIFICATION_VIEW = {"registry.view_verificationcampaign", "registry.view_verificationcheck"}
VERIFICATION_RUN = VERIFICATION_VIEW | {
    "registry.add_verificationcampaign",
    "registry.change_verificationcampaign",
}
for _role, _perms in (
    ("city_official", VERIFICATION_VIEW),
    ("district_official", VERIFICATION_VIEW),
    ("street_official", VERIFICATION_RUN),
    ("community_official", VERIFICATION_RUN),
    ("grid_worker", {"registry.view_verificationcheck", "registry.change_verificationcheck"}),
):
    ROLE_GRANTS[_role] = ROLE_GRANTS[_role] | _perms
