"""The rules of event handling, kept as data an administrator can change: departments and their
work items, the category taxonomy with its questions, deadline policies and triage keywords."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from civicgrid.core.models import BaseModel

from ..choices import (
    KIND_LETTER,
    CategoryKind,
    Channel,
    Level,
    OverdueAction,
    QuestionType,
    Stage,
    TimeUnit,
    Urgency,
)


class Department(BaseModel):
    """A unit that handles cases (职能部门): a community office, a street's office, a district or city
    bureau, a utility. ``function`` says what kind of work it does ("urban_management", "housing" …);
    the suggested unit for a case is the nearest department, going up from the case's area, whose
    function the category asks for."""

    code = models.CharField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=100)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices)
    area = models.ForeignKey(
        "areas.Area", verbose_name=_("area"), on_delete=models.PROTECT, related_name="departments"
    )
    function = models.SlugField(_("function"), max_length=40)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["code"]
        indexes = [models.Index(fields=["function", "area"], name="cases_dept_function")]

    def __str__(self) -> str:
        return self.name


class WorkItem(BaseModel):
    """A specific piece of work a department is responsible for (具体工作), e.g. 占道经营查处."""

    department = models.ForeignKey(
        Department, verbose_name=_("department"), on_delete=models.CASCADE, related_name="work_items"
    )
    code = models.CharField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=100)
    categories = models.ManyToManyField(
        "cases.Category", verbose_name=_("categories"), related_name="work_items", blank=True
    )

    class Meta:
        verbose_name = _("work item")
        verbose_name_plural = _("work items")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class DepartmentMember(BaseModel):
    """A user who works cases for a department (a department handler sees what is dispatched to
    their unit, wherever it is)."""

    department = models.ForeignKey(
        Department, verbose_name=_("department"), on_delete=models.CASCADE, related_name="members"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="department_memberships",
    )
    is_head = models.BooleanField(_("head of unit"), default=False)

    class Meta:
        verbose_name = _("department member")
        verbose_name_plural = _("department members")
        constraints = [models.UniqueConstraint(fields=["department", "user"], name="cases_member_unique")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.department}"


class Category(BaseModel):
    """A kind of case in a two-level tree; codes are 2 digits at the top and 2+2 below (0101).
    ``service_code`` (kind letter + code: E0101) is the category's Open311 service code."""

    kind = models.CharField(_("tree"), max_length=12, choices=CategoryKind.choices)
    code = models.CharField(
        _("code"), max_length=4, validators=[RegexValidator(r"^\d{2}(\d{2})?$", _("Two or four digits."))]
    )
    service_code = models.CharField(_("service code"), max_length=8, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=60)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    description = models.CharField(_("description"), max_length=300, blank=True)
    keywords = models.CharField(_("keywords"), max_length=300, blank=True, help_text=_("Comma-separated."))
    default_function = models.SlugField(_("default handling function"), max_length=40, blank=True)
    default_urgency = models.CharField(
        _("default urgency"), max_length=10, choices=Urgency.choices, default=Urgency.NORMAL
    )
    is_public = models.BooleanField(
        _("public"), default=True, help_text=_("Public cases are listed to residents and Open311 clients.")
    )
    is_active = models.BooleanField(_("active"), default=True)
    sort = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["kind", "code"]
        constraints = [models.UniqueConstraint(fields=["kind", "code"], name="cases_category_code")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def save(self, *args, **kwargs):
        self.service_code = f"{KIND_LETTER[self.kind]}{self.code}"
        super().save(*args, **kwargs)

    @property
    def is_leaf(self) -> bool:
        return len(self.code) == 4

    def questions_by_code(self) -> dict:
        """The extra questions by code, in their order. Where they were prefetched (the Open311
        services, kept per process), the dict is kept beside them until they are fetched again:
        every report asks for it twice, and building it each time cost the intake about 2 % of its
        CPU."""
        prefetched = getattr(self, "_prefetched_objects_cache", {}).get("questions")
        if prefetched is None:
            return {q.code: q for q in self.questions.all()}
        kept = self.__dict__.get("_questions_by_code")
        if kept is None or kept[0] is not prefetched:
            kept = self.__dict__["_questions_by_code"] = (prefetched, {q.code: q for q in prefetched})
        return kept[1]


class CategoryQuestion(BaseModel):
    """An extra question asked when reporting a case of a category (an Open311 attribute)."""

    category = models.ForeignKey(
        Category, verbose_name=_("category"), on_delete=models.CASCADE, related_name="questions"
    )
    code = models.SlugField(_("code"), max_length=40)
    datatype = models.CharField(_("type"), max_length=20, choices=QuestionType.choices)
    label = models.CharField(_("question"), max_length=200)
    description = models.CharField(_("help text"), max_length=300, blank=True)
    required = models.BooleanField(_("required"), default=False)
    values = models.JSONField(
        _("choices"), default=list, blank=True, help_text=_('For lists: [{"key": "…", "name": "…"}, …]')
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("category question")
        verbose_name_plural = _("category questions")
        ordering = ["category", "order", "code"]
        constraints = [models.UniqueConstraint(fields=["category", "code"], name="cases_question_code")]

    def __str__(self) -> str:
        return self.label


class DeadlinePolicy(BaseModel):
    """How long a stage may take. Among the active policies that match a case, the highest
    ``priority`` wins, then the most specific (each of category, channel, level and urgency that is
    set counts one): e.g. "record
    within half a working day", "residents' reports recorded within 1 working day", "the street
    solves within 1 working day, the district 3, the city 7" (137), a category's own limit."""

    name = models.CharField(_("name"), max_length=100)
    stage = models.CharField(_("stage"), max_length=10, choices=Stage.choices)
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deadline_policies",
    )
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices, blank=True)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices, blank=True)
    urgency = models.CharField(_("urgency"), max_length=10, choices=Urgency.choices, blank=True)
    amount = models.DecimalField(
        _("limit"), max_digits=6, decimal_places=2, validators=[MinValueValidator(0.01)]
    )
    unit = models.CharField(pgettext_lazy("time", "unit"), max_length=5, choices=TimeUnit.choices)
    warn_ratio = models.FloatField(
        _("warn after"),
        default=0.8,
        validators=[MinValueValidator(0.05), MaxValueValidator(0.99)],
        help_text=_("Share of the time used when the light turns yellow."),
    )
    on_overdue = models.CharField(
        _("when overdue"), max_length=10, choices=OverdueAction.choices, default=OverdueAction.SUPERVISE
    )
    priority = models.SmallIntegerField(_("priority"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("deadline policy")
        verbose_name_plural = _("deadline policies")
        ordering = ["stage", "-priority", "name"]

    def __str__(self) -> str:
        return self.name

    def specificity(self) -> int:
        return sum(bool(x) for x in (self.category_id, self.channel, self.level, self.urgency))

    def matches(self, *, stage: str, category: Category, channel: str, level: str, urgency: str) -> bool:
        if not self.is_active or self.stage != stage:
            return False
        if self.category_id and self.category_id not in (category.pk, category.parent_id):
            return False
        return (
            (not self.channel or self.channel == channel)
            and (not self.level or self.level == level)
            and (not self.urgency or self.urgency == urgency)
        )


class TriageRule(BaseModel):
    """Keywords that suggest a category (and optionally a unit) for a new report."""

    keywords = models.CharField(_("keywords"), max_length=300, help_text=_("Comma-separated."))
    category = models.ForeignKey(
        Category, verbose_name=_("category"), on_delete=models.CASCADE, related_name="triage_rules"
    )
    department = models.ForeignKey(
        Department, verbose_name=_("department"), null=True, blank=True, on_delete=models.CASCADE
    )
    priority = models.SmallIntegerField(_("priority"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("triage rule")
        verbose_name_plural = _("triage rules")
        ordering = ["-priority", "id"]
        constraints = [models.CheckConstraint(condition=~Q(keywords=""), name="cases_rule_has_keywords")]

    def __str__(self) -> str:
        return self.keywords

    def keyword_list(self) -> list[str]:
        return [k.strip() for k in self.keywords.replace("，", ",").split(",") if k.strip()]
