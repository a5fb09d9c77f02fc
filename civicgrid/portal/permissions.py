"""Default permissions of the built-in roles over the portal's records: area officials publish
notices to the residents of their area (residents read them without a permission: see
``selectors.notices_for``)."""

NOTICES = {f"portal.{a}_notice" for a in ("view", "add", "change", "delete")}

ROLE_GRANTS = {
    "city_official": NOTICES,
    "district_official": NOTICES,
    "street_official": NOTICES,
    "community_official": NOTICES,
}
