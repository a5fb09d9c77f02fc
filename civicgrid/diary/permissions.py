"""Default diary permissions of the built-in roles.

Grid workers and community staff record (in their grid, in their community); street, district and
city officials read the records of their area; auditors read everything. Changing and voiding a
record is its author's alone (the services check it on top of the scope); turning a record into a
case needs ``diary.case_diaryrecord`` and the cases' own ``cases.add_case``."""

VIEW = {"diary.view_diaryrecord"}
RECORD = VIEW | {
    "diary.add_diaryrecord",
    "diary.change_diaryrecord",
    "diary.delete_diaryrecord",
    "diary.case_diaryrecord",
}

ROLE_GRANTS = {
    "grid_worker": RECORD,
    "community_official": RECORD,
    "street_official": VIEW,
    "district_official": VIEW,
    "city_official": VIEW,
    "auditor": VIEW,
}
