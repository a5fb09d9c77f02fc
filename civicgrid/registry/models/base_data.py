"""Base data (基础数据), house-centred (以房管人): compounds → buildings → houses → households → people,
plus organisations, shops and facilities ("things"). Every record belongs to a unit grid."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from civicgrid.core.fields import EncryptedTextField
from civicgrid.core.models import BaseModel, ScopedModel
from civicgrid.core.scope import scope_indexes

from ..choices import (
    FacilityStatus,
    HouseUse,
    IdKind,
    OrgKind,
    PersonEventKind,
    PersonStatus,
    PersonType,
    Relation,
    Sex,
)


class Located(models.Model):
    """A WGS-84 point (optional)."""

    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lng = models.FloatField(_("longitude"), null=True, blank=True)

    class Meta:
        abstract = True


class Compound(Located, ScopedModel):
    """A residential compound (小区), placed in the grid of its centre."""

    name = models.CharField(_("name"), max_length=100)
    address = models.CharField(_("address"), max_length=200, blank=True)
    property_company = models.CharField(_("property management company"), max_length=100, blank=True)
    geometry = models.JSONField(_("boundary (GeoJSON)"), null=True, blank=True)

    class Meta:
        verbose_name = _("compound")
        verbose_name_plural = _("compounds")
        ordering = ["area_code", "name"]
        permissions = [("export_compound", _("Can export compounds"))]
        indexes = scope_indexes("reg_compound")

    def __str__(self) -> str:
        return self.name


class Building(Located, ScopedModel):
    """A building (楼栋), in a compound or standing alone."""

    class Use(models.TextChoices):
        RESIDENTIAL = "residential", _("Residential")
        COMMERCIAL = "commercial", _("Commercial")
        MIXED = "mixed", _("Mixed use")
        PUBLIC = "public", _("Public")
        OTHER = "other", _("Other")

    compound = models.ForeignKey(
        Compound,
        verbose_name=_("compound"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="buildings",
    )
    name = models.CharField(_("building"), max_length=50)
    address = models.CharField(_("address"), max_length=200, blank=True)
    floors = models.PositiveSmallIntegerField(_("floors"), null=True, blank=True)
    units = models.PositiveSmallIntegerField(_("units (entrances)"), null=True, blank=True)
    use = models.CharField(_("use"), max_length=12, choices=Use.choices, default=Use.RESIDENTIAL)

    class Meta:
        verbose_name = _("building")
        verbose_name_plural = _("buildings")
        ordering = ["area_code", "compound_id", "name"]
        indexes = scope_indexes("reg_building")

    def __str__(self) -> str:
        return f"{self.compound.name} {self.name}" if self.compound_id else self.name


class House(ScopedModel):
    """A house or flat (房屋) in a building: unit, floor, room and its use."""

    building = models.ForeignKey(
        Building, verbose_name=_("building"), on_delete=models.PROTECT, related_name="houses"
    )
    unit_no = models.CharField(_("unit"), max_length=10, blank=True)
    floor = models.SmallIntegerField(_("floor"), null=True, blank=True)
    room_no = models.CharField(_("room"), max_length=20)
    use = models.CharField(_("use"), max_length=12, choices=HouseUse.choices, default=HouseUse.OWNER)
    floor_area = models.DecimalField(
        _("floor area (m²)"), max_digits=8, decimal_places=2, null=True, blank=True
    )
    address = models.CharField(_("address"), max_length=250, blank=True)

    class Meta:
        verbose_name = _("house")
        verbose_name_plural = _("houses")
        ordering = ["building_id", "unit_no", "room_no"]
        constraints = [
            models.UniqueConstraint(
                fields=["building", "unit_no", "room_no"], name="registry_house_unique_room"
            )
        ]
        indexes = [
            *scope_indexes("reg_house"),
            # Houses by use in an area (the statistics page): an index-only range scan.
            models.Index(fields=["area_code", "use"], name="reg_house_use"),
        ]

    def __str__(self) -> str:
        return self.address or f"{self.building} {self.unit_no}-{self.room_no}"


class Household(ScopedModel):
    """A household (户) living in a house."""

    number = models.CharField(_("household number"), max_length=30, blank=True, db_index=True)
    house = models.ForeignKey(
        House,
        verbose_name=_("house"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="households",
    )
    head = models.ForeignKey(
        "Person",
        verbose_name=_("head of household"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")
        ordering = ["area_code", "id"]
        indexes = scope_indexes("reg_household")

    def __str__(self) -> str:
        return self.number or f"#{self.pk}"


class Tag(BaseModel):
    """A special-group tag (低保, 高龄, 独居/空巢, 残疾, 退役军人, 留守儿童, 重点人群 …). Sensitive tags are
    seen only by holders of ``registry.view_sensitive_tags``."""

    code = models.SlugField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=30)
    is_sensitive = models.BooleanField(_("sensitive"), default=True)
    sort = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["sort", "code"]

    def __str__(self) -> str:
        return self.name


#: Operator classes of a two-column text index that serves ``LIKE 'prefix%'`` on PostgreSQL.
PATTERN_OPS = ["varchar_pattern_ops", "varchar_pattern_ops"]


class Person(ScopedModel):
    """A person actually living in the area (实有人口). Document and phone numbers are encrypted at
    rest; keyed blind indexes allow exact lookup; the phone's last four digits allow suffix search."""

    name = models.CharField(_("name"), max_length=50)  # indexed with the area code: Meta.indexes
    name_pinyin = models.CharField(_("pinyin"), max_length=200, blank=True)
    name_initials = models.CharField(_("pinyin initials"), max_length=50, blank=True)  # Meta.indexes
    person_type = models.CharField(
        _("person type"),
        max_length=12,
        choices=PersonType.choices,
        default=PersonType.REGISTERED,
        db_index=True,
    )
    id_kind = models.CharField(
        _("document type"), max_length=24, choices=IdKind.choices, default=IdKind.RESIDENT_ID
    )
    id_number = EncryptedTextField(_("document number"), blank=True)
    id_index = models.CharField(max_length=32, null=True, blank=True, unique=True, editable=False)
    nationality = models.CharField(_("nationality"), max_length=3, blank=True, help_text=_("ISO 3166 code"))
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices, blank=True)
    birth_date = models.DateField(_("date of birth"), null=True, blank=True, db_index=True)
    ethnicity = models.CharField(_("ethnic group"), max_length=20, blank=True)
    phone = EncryptedTextField(_("mobile number"), blank=True)
    phone_index = models.CharField(max_length=32, blank=True, db_index=True, editable=False)
    phone_suffix = models.CharField(max_length=4, blank=True, db_index=True, editable=False)
    house = models.ForeignKey(
        House,
        verbose_name=_("house"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="residents",
    )
    household = models.ForeignKey(
        Household,
        verbose_name=_("household"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="members",
    )
    relation = models.CharField(_("relation to head"), max_length=12, choices=Relation.choices, blank=True)
    address = models.CharField(_("address"), max_length=250, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=PersonStatus.choices, default=PersonStatus.ACTIVE, db_index=True
    )
    tags = models.ManyToManyField(
        Tag, verbose_name=_("tags"), through="PersonTag", blank=True, related_name="people"
    )
    verified_at = models.DateTimeField(_("last verified"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)

    audit_exclude = ("id_index", "phone_index")

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")
        ordering = ["area_code", "id"]
        indexes = [
            *scope_indexes("reg_person"),
            # Name, pinyin-initials and address search match the start of the text
            # (``lookups.Prefix``): a range on SQLite, ``LIKE 'q%'`` on PostgreSQL, which needs the
            # pattern operator class (SQLite ignores ``opclasses``). The area code rides along so
            # that counting the matches in an area reads the index alone: without it SQLite, which
            # cannot tell which of two ranges is narrower, counts by walking the whole area.
            models.Index(fields=["name", "area_code"], name="reg_person_name", opclasses=PATTERN_OPS),
            models.Index(
                fields=["name_initials", "area_code"], name="reg_person_initials", opclasses=PATTERN_OPS
            ),
            models.Index(fields=["address", "area_code"], name="reg_person_address", opclasses=PATTERN_OPS),
            # The statistics page: people living in an area by grid and type, with their dates of
            # birth, read from this index alone in its own order (status first: an equality, so
            # SQLite groups by area code and type without sorting; ``id`` for the tags' join).
            models.Index(
                fields=["status", "area_code", "person_type", "birth_date"],
                include=["id"],
                name="reg_person_stats",
            ),
        ]
        permissions = [
            ("reveal_person", _("Can reveal ID and phone numbers")),
            ("view_sensitive_tags", _("Can see special-group tags")),
            ("export_person", _("Can export people")),
            ("import_person", _("Can import people")),
        ]

    def __str__(self) -> str:
        return self.name


class PersonTag(BaseModel):
    """A tag on a person, since when and why."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="person_tags")
    tag = models.ForeignKey(Tag, on_delete=models.PROTECT, related_name="person_tags")
    since = models.DateField(_("since"), default=timezone.localdate)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("person tag")
        verbose_name_plural = _("person tags")
        constraints = [models.UniqueConstraint(fields=["person", "tag"], name="registry_persontag_once")]

    def __str__(self) -> str:
        return f"{self.person_id}:{self.tag_id}"


class PersonEvent(ScopedModel):
    """One change in a person's life in the registry (move in/out, change of house, death, household
    split or merge …): the person's history."""

    person = models.ForeignKey(
        Person, verbose_name=_("person"), on_delete=models.CASCADE, related_name="events"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=PersonEventKind.choices)
    date = models.DateField(_("date"), default=timezone.localdate)
    from_house = models.ForeignKey(House, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    to_house = models.ForeignKey(House, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    from_household = models.ForeignKey(
        Household, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_household = models.ForeignKey(
        Household, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(_("note"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("person event")
        verbose_name_plural = _("person events")
        ordering = ["-date", "-id"]
        indexes = scope_indexes("reg_personevent")

    def __str__(self) -> str:
        return f"{self.person_id} {self.kind} {self.date}"


class Organisation(Located, ScopedModel):
    """An enterprise, public institution or social organisation (单位) with its unified social credit code."""

    name = models.CharField(_("name"), max_length=150, db_index=True)
    kind = models.CharField(_("kind"), max_length=12, choices=OrgKind.choices, default=OrgKind.ENTERPRISE)
    uscc = models.CharField(
        _("unified social credit code"), max_length=18, null=True, blank=True, unique=True
    )
    legal_representative = models.CharField(_("legal representative"), max_length=50, blank=True)
    contact_phone = EncryptedTextField(_("contact phone"), blank=True)
    staff_count = models.PositiveIntegerField(_("staff"), null=True, blank=True)
    industry = models.CharField(_("industry"), max_length=50, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    building = models.ForeignKey(
        Building,
        verbose_name=_("building"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="organisations",
    )

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["area_code", "name"]
        indexes = scope_indexes("reg_org")

    def __str__(self) -> str:
        return self.name


class Shop(Located, ScopedModel):
    """A shop or street-front business (商铺)."""

    name = models.CharField(_("name"), max_length=150, db_index=True)
    business = models.CharField(_("business"), max_length=50, blank=True)
    uscc = models.CharField(_("unified social credit code"), max_length=18, blank=True)
    operator = models.CharField(_("operator"), max_length=50, blank=True)
    contact_phone = EncryptedTextField(_("contact phone"), blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    building = models.ForeignKey(
        Building,
        verbose_name=_("building"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="shops",
    )

    class Meta:
        verbose_name = _("shop")
        verbose_name_plural = _("shops")
        ordering = ["area_code", "name"]
        indexes = scope_indexes("reg_shop")

    def __str__(self) -> str:
        return self.name


class FacilityCategory(BaseModel):
    """A component class of digital city management (部件): 2-digit major class + 2-digit minor class,
    e.g. 0101 上水井盖. Data, editable by administrators."""

    code = models.CharField(_("code"), max_length=4, unique=True)
    name = models.CharField(_("name"), max_length=50)

    class Meta:
        verbose_name = _("facility category")
        verbose_name_plural = _("facility categories")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Facility(Located, ScopedModel):
    """A public facility or component ("thing"): hydrant, manhole cover, street light, camera …"""

    category = models.ForeignKey(
        FacilityCategory, verbose_name=_("category"), on_delete=models.PROTECT, related_name="facilities"
    )
    code = models.CharField(_("component code"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=100, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=FacilityStatus.choices, default=FacilityStatus.NORMAL
    )
    owner_department = models.CharField(_("responsible department"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("facility")
        verbose_name_plural = _("facilities")
        ordering = ["area_code", "code"]
        constraints = [
            models.CheckConstraint(condition=Q(lat__isnull=False), name="registry_facility_located")
        ]
        indexes = scope_indexes("reg_facility")

    def __str__(self) -> str:
        return f"{self.category.name} {self.code}"
