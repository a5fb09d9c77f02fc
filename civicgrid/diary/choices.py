from django.db import models
from django.utils.translation import gettext_lazy as _


class RecordKind(models.TextChoices):
    """What a diary record is about (民情日记)."""

    VISIT = "visit", _("Household visit")  # 入户走访
    PARTY_MEETING = "party_meeting", _("Party-building joint meeting")  # 党建联席会
    COUNCIL = "council", _("Neighbourhood council")  # 邻里议事会
    SENTIMENT = "sentiment", _("Public sentiment")  # 社情民意
    PARTY = "party", _("Party situation")  # 党情
    DISPUTE = "dispute", _("Dispute")  # 矛盾纠纷
    HAZARD = "hazard", _("Safety hazard")  # 安全隐患


#: Kinds that are meetings: they have attendees.
MEETING_KINDS = frozenset({RecordKind.PARTY_MEETING, RecordKind.COUNCIL})
#: Kinds that have a severity (how serious the dispute or hazard is).
SEVERITY_KINDS = frozenset({RecordKind.DISPUTE, RecordKind.HAZARD})
#: Kinds that record the mood or attitude of the people met.
MOOD_KINDS = frozenset({RecordKind.VISIT, RecordKind.SENTIMENT, RecordKind.PARTY})


class Mood(models.TextChoices):
    """The mood or attitude of the people met (民意倾向)."""

    POSITIVE = "positive", _("Satisfied")  # 满意
    NEUTRAL = "neutral", _("Neutral")  # 一般
    NEGATIVE = "negative", _("Dissatisfied")  # 不满意
    AGITATED = "agitated", _("Agitated")  # 情绪激动


class Severity(models.TextChoices):
    MINOR = "minor", _("Minor")  # 一般
    MODERATE = "moderate", _("Moderate")  # 较大
    SERIOUS = "serious", _("Serious")  # 重大
    CRITICAL = "critical", _("Critical")  # 紧急


#: The case urgency a record's severity asks for (the category's default otherwise).
SEVERITY_URGENCY = {Severity.SERIOUS: "urgent", Severity.CRITICAL: "critical"}

#: The category a record of these kinds becomes by default: (category tree, code) of the seeded
#: grassroots-governance groups; a keyword match inside the group is preferred (see
#: ``services.default_case_category``). Other kinds ask for the category.
KIND_CASE_GROUP = {
    RecordKind.DISPUTE: ("governance", "01"),  # 矛盾纠纷
    RecordKind.HAZARD: ("governance", "02"),  # 安全隐患
    RecordKind.SENTIMENT: ("governance", "06"),  # 社情民意
}
