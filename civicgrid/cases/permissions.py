"""Default event-handling permissions of the built-in roles.

Area officials see the cases of their area; the command-center dispatcher records, dispatches,
supervises and escalates; department handlers work what is dispatched to their unit (by membership,
not by area); grid workers report and verify in their grid; residents report and follow their own."""

RULES_VIEW = {
    "cases.view_category",
    "cases.view_department",
    "cases.view_deadlinepolicy",
    "cases.view_workitem",
}
RULES_EDIT = {
    f"cases.{a}_{m}"
    for a in ("add", "change", "delete")
    for m in (
        "category",
        "categoryquestion",
        "department",
        "workitem",
        "departmentmember",
        "deadlinepolicy",
        "triagerule",
    )
}
SEE = {"cases.view_case", "cases.view_jointmeeting"} | RULES_VIEW
OVERSEE = SEE | {"cases.supervise_case", "cases.escalate_case", "cases.export_case"}
DISPATCH = OVERSEE | {
    "cases.add_case",
    "cases.change_case",
    "cases.record_case",
    "cases.dispatch_case",
    "cases.close_case",
    "cases.coordinate_case",
    "cases.defer_case",
    "cases.add_jointmeeting",
    "cases.change_jointmeeting",
}

ROLE_GRANTS = {
    "city_official": OVERSEE,
    "district_official": OVERSEE,
    # Officials also work the cases dispatched to their own office (by membership of its unit).
    "street_official": DISPATCH | {"cases.handle_case"},
    "community_official": DISPATCH | {"cases.handle_case"},
    "dispatcher": DISPATCH | RULES_EDIT,
    "dept_handler": RULES_VIEW | {"cases.handle_case"},  # cases of their unit only: see CaseQuerySet
    "grid_worker": SEE | {"cases.add_case", "cases.verify_case", "cases.add_jointmeeting"},
    "resident": {"cases.view_case", "cases.add_case"},
}
