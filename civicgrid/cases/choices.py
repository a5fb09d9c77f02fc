from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class CategoryKind(models.TextChoices):
    """The three category trees: digital-city-management events and components (2+2-digit codes,
    GB/T 30428 / CJ/T 214 style) and the grassroots-governance kinds of the community work."""

    EVENT = "event", _("Event")  # 事件
    COMPONENT = "component", _("Component")  # 部件
    GOVERNANCE = "governance", _("Grassroots governance")  # 基层治理


#: Letter that starts a category's service code (Open311 ``service_code``): E0101, C0302, G0201.
KIND_LETTER = {CategoryKind.EVENT: "E", CategoryKind.COMPONENT: "C", CategoryKind.GOVERNANCE: "G"}


class Level(models.TextChoices):
    """The handling level of a case and of a department (escalation goes up this list)."""

    COMMUNITY = "community", _("Community")
    STREET = "street", _("Street")
    DISTRICT = "district", _("District")
    CITY = "city", _("City")


LEVEL_ORDER = [Level.COMMUNITY, Level.STREET, Level.DISTRICT, Level.CITY]


class Urgency(models.TextChoices):
    NORMAL = "normal", _("Normal")
    URGENT = "urgent", _("Urgent")
    CRITICAL = "critical", _("Critical")


class Channel(models.TextChoices):
    GRID_WORKER = "grid_worker", _("Grid worker")
    RESIDENT = "resident", _("Resident (WeChat / H5)")
    HOTLINE = "hotline", _("12345 hotline")
    MEETING = "meeting", _("Joint meeting")
    VISIT = "visit", _("Staff visit")
    DIGITAL_CITY = "digital_city", _("Digital city management")
    VIDEO = "video", _("Video analytics")
    OPEN311 = "open311", _("Open311 client")
    STAFF = "staff", _("Staff entry")


class Status(models.TextChoices):
    REPORTED = "reported", _("Reported")  # 上报
    RECORDED = "recorded", _("Recorded")  # 立案
    DISPATCHED = "dispatched", _("Dispatched")  # 派遣
    IN_PROGRESS = "in_progress", _("In progress")  # 处置中
    HANDLED = "handled", _("Handled")  # 已处置, awaiting verification
    VERIFIED = "verified", _("Verified")  # 核查通过
    CLOSED = "closed", pgettext_lazy("case", "Closed")  # 结案
    REJECTED = "rejected", _("Rejected")  # 不予受理
    MERGED = "merged", _("Merged into another case")
    DEFERRED = "deferred", _("Deferred (risk point)")  # 风险点 / 民情档案


#: Statuses of a case that still needs work (deadlines run, it shows on the map).
OPEN_STATUSES = (
    Status.REPORTED,
    Status.RECORDED,
    Status.DISPATCHED,
    Status.IN_PROGRESS,
    Status.HANDLED,
    Status.VERIFIED,
    Status.DEFERRED,
)
FINAL_STATUSES = (Status.CLOSED, Status.REJECTED, Status.MERGED)


class Stage(models.TextChoices):
    """What a deadline is for."""

    RECORD = "record", _("Recording")  # 立案 (半天响应)
    DISPATCH = "dispatch", _("Dispatch")
    HANDLE = "handle", _("Handling")  # 处置
    VERIFY = "verify", pgettext_lazy("case", "Verification")  # 核查
    CLOSE = "close", _("Closing")
    REVIEW = "review", _("Periodic review")  # deferred risk points


#: The stage whose clock runs while a case is in each status.
STAGE_OF_STATUS = {
    Status.REPORTED: Stage.RECORD,
    Status.RECORDED: Stage.DISPATCH,
    Status.DISPATCHED: Stage.HANDLE,
    Status.IN_PROGRESS: Stage.HANDLE,
    Status.HANDLED: Stage.VERIFY,
    Status.VERIFIED: Stage.CLOSE,
    Status.DEFERRED: Stage.REVIEW,
}


class TimeUnit(models.TextChoices):
    HOURS = "hours", _("Working hours")
    DAYS = "days", _("Working days")


class OverdueAction(models.TextChoices):
    WARN = "warn", _("Warn only")
    SUPERVISE = "supervise", _("Supervise (督办)")
    ESCALATE = "escalate", _("Escalate to the next level")


class Light(models.TextChoices):
    GREEN = "green", _("Green")
    YELLOW = "yellow", _("Yellow")
    RED = "red", _("Red")
    NONE = "none", _("No deadline")


class DeadlineOutcome(models.TextChoices):
    OPEN = "open", pgettext_lazy("case", "Running")
    MET = "met", _("Met")
    LATE = "late", _("Late")
    CANCELLED = "cancelled", _("Cancelled")


class EventKind(models.TextChoices):
    REPORTED = "reported", _("Reported")
    RECORDED = "recorded", _("Recorded")
    REJECTED = "rejected", _("Rejected")
    MERGED = "merged", _("Merged")
    DUPLICATE_ADDED = "duplicate_added", _("Duplicate merged in")
    DISPATCHED = "dispatched", _("Dispatched")
    RETURNED = "returned", _("Returned as wrongly dispatched")
    STARTED = "started", _("Handling started")
    HANDLED = "handled", _("Handled")
    VERIFIED = "verified", _("Verified on site")
    VERIFICATION_FAILED = "verification_failed", _("Verification failed")
    CLOSED = "closed", pgettext_lazy("case", "Closed")
    RATED = "rated", _("Rated")
    REOPENED = "reopened", _("Reopened")
    ESCALATED = "escalated", _("Escalated")
    SUPERVISED = "supervised", _("Supervised")
    WARNED = "warned", _("Deadline warning")
    OVERDUE = "overdue", _("Overdue")
    COORDINATED = "coordinated", _("Coordinated across units")
    DEFERRED = "deferred", _("Deferred as a risk point")
    REVIEWED = "reviewed", _("Risk point reviewed")
    COMMENT = "comment", _("Note")


class MeetingKind(models.TextChoices):
    PARTY_JOINT = "party_joint", _("Party-building joint meeting")  # 党建联席会
    SENTIMENT_ANALYSIS = "sentiment", _("Public-sentiment analysis meeting")  # 民情分析会
    NEIGHBOURHOOD = "neighbourhood", _("Neighbourhood council")  # 邻里议事会


class QuestionType(models.TextChoices):
    """Open311 attribute datatypes."""

    STRING = "string", _("Text")
    NUMBER = "number", _("Number")
    DATETIME = "datetime", _("Date and time")
    TEXT = "text", _("Long text")
    SINGLE = "singlevaluelist", _("One of a list")
    MULTI = "multivaluelist", _("Several of a list")


class PhotoStage(models.TextChoices):
    REPORT = "report", _("Report")
    HANDLE = "handle", _("Handling result")
    VERIFY = "verify", pgettext_lazy("case", "Verification")
