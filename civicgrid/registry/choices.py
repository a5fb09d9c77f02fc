from django.db import models
from django.utils.translation import gettext_lazy as _


class HouseUse(models.TextChoices):
    OWNER = "owner", _("Owner-occupied")
    RENTED = "rented", _("Rented")
    VACANT = "vacant", _("Vacant")
    COMMERCIAL = "commercial", _("Commercial")


class PersonType(models.TextChoices):
    REGISTERED = "registered", _("Registered resident")  # 户籍人口
    FLOATING = "floating", _("Floating population")  # 流动人口
    FOREIGN = "foreign", _("Overseas person")  # 境外人员
    UNSETTLED = "unsettled", _("Not yet registered")  # 未落户人员


class IdKind(models.TextChoices):
    RESIDENT_ID = "resident_id", _("Resident ID card")
    PASSPORT = "passport", _("Passport")
    HK_MACAU_PERMIT = "hk_macau_permit", _("Mainland travel permit for Hong Kong and Macao residents")
    TAIWAN_PERMIT = "taiwan_permit", _("Mainland travel permit for Taiwan residents")
    FOREIGN_PERMANENT_ID = "foreign_permanent_id", _("Foreign permanent resident ID card")
    OTHER = "other", _("Other document")


class Sex(models.TextChoices):
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")


class Relation(models.TextChoices):
    HEAD = "head", _("Head of household")
    SPOUSE = "spouse", _("Spouse")
    CHILD = "child", _("Child")
    PARENT = "parent", _("Parent")
    GRANDCHILD = "grandchild", _("Grandchild")
    GRANDPARENT = "grandparent", _("Grandparent")
    SIBLING = "sibling", _("Sibling")
    OTHER = "other", _("Other relative")
    NONE = "none", _("Not related (e.g. tenant)")


class PersonStatus(models.TextChoices):
    ACTIVE = "active", _("Living here")
    MOVED_OUT = "moved_out", _("Moved out")
    DECEASED = "deceased", _("Deceased")


class OrgKind(models.TextChoices):
    ENTERPRISE = "enterprise", _("Enterprise")
    INSTITUTION = "institution", _("Public institution")
    SOCIAL = "social", _("Social organisation")
    GOVERNMENT = "government", _("Government body")


class FacilityStatus(models.TextChoices):
    NORMAL = "normal", _("Normal")
    DAMAGED = "damaged", _("Damaged")
    MISSING = "missing", _("Missing")
    REMOVED = "removed", _("Removed")


class PersonEventKind(models.TextChoices):
    REGISTERED = "registered", _("Registered")
    MOVE_IN = "move_in", _("Moved in")
    MOVE_OUT = "move_out", _("Moved out")
    CHANGE_HOUSE = "change_house", _("Changed house")
    DEATH = "death", _("Death")
    HOUSEHOLD_SPLIT = "household_split", _("Household split")
    HOUSEHOLD_MERGE = "household_merge", _("Household merge")
    CORRECTED = "corrected", _("Details corrected")
    VERIFIED = "verified", _("Verified")
