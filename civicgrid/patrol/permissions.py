"""Default patrol permissions of the built-in roles.

Grid workers record their own tracks (``patrol.record_track``) and read them back through the
phone endpoints, which only ever return the caller's own shifts; they hold no view permission, so
they never see another worker's track. Community, street, district and city officials see the
tracks, visits, consents and coverage of their area. Nobody else does: dispatchers, department
handlers, auditors (they read the access log of who looked at a track) and residents."""

SEE = {
    "patrol.view_patrolshift",
    "patrol.view_buildingvisit",
    "patrol.view_trackingconsent",
    "patrol.view_consenttext",
}

ROLE_GRANTS = {
    "city_official": SEE,
    "district_official": SEE,
    "street_official": SEE,
    "community_official": SEE,
    "grid_worker": {"patrol.record_track"},
}
