"""Writes to the registry. Every record's grid is derived (from its house, building or location);
every change of a person's situation writes a PersonEvent in the same transaction; results must stay
inside the actor's data scope."""

from __future__ import annotations

import functools
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from pypinyin import Style, lazy_pinyin

from civicgrid.areas.choices import AreaLevel
from civicgrid.areas.models import Area
from civicgrid.areas.selectors import locate_grid
from civicgrid.core import scope
from civicgrid.core.crypto import blind_index
from civicgrid.core.services import ensure_in_scope
from civicgrid.core.validators import (
    normalise_mobile,
    normalise_resident_id,
    resident_id_birth_date,
    resident_id_sex,
    validate_foreign_document,
    validate_mobile,
    validate_point_in_grid,
    validate_resident_id,
)

from .choices import IdKind, PersonEventKind, PersonStatus, PersonType, Relation
from .models import (
    Building,
    Compound,
    Facility,
    FacilityCategory,
    House,
    Household,
    Organisation,
    Person,
    PersonEvent,
    PersonTag,
    Shop,
    Tag,
)

DOCUMENT_PURPOSE = "document"
PHONE_PURPOSE = "mobile"


# ---- helpers -------------------------------------------------------------------------------------


def _require_scope(actor, perm: str, area: Area, field: str) -> None:
    if actor is not None and not scope.covers_area(actor, perm, area.scope_code):
        raise ValidationError({field: _("This is outside your data scope.")})


def _grid_from_point(lat: float | None, lng: float | None, grid: Area | None) -> Area:
    """The grid a record belongs to: the given grid (the point, if any, must lie in it) or the
    grid the point falls in."""
    if grid is not None:
        if grid.level != AreaLevel.GRID:
            raise ValidationError({"area": _("Records belong to a unit grid.")})
        if lat is not None and lng is not None:
            validate_point_in_grid(lat, lng, grid)
        return grid
    if lat is None or lng is None:
        raise ValidationError({"location": _("Give a location or a grid.")})
    found = locate_grid(lat, lng)
    if found is None:
        raise ValidationError({"location": _("This point is outside every grid of the city.")})
    return found


def _record_grid(actor, perm: str, *, lat, lng, grid: Area | None, near=None) -> Area:
    """The grid a new located record belongs to, checked against the actor's scope for ``perm``:
    the given grid, the grid of the point, or (neither given) the grid of ``near`` (its building or
    compound)."""
    if grid is None and (lat is None or lng is None) and near is not None:
        grid = near.area
    area = _grid_from_point(lat, lng, grid)
    _require_scope(actor, perm, area, "location")
    return area


@functools.lru_cache(maxsize=65_536)
def pinyin_of(name: str) -> tuple[str, str]:
    """Full pinyin and initials of a Chinese name: 张三 → ("zhang san", "zs"). Cached: names repeat
    (an import of 100,000 people spells a few tens of thousands of names), pypinyin's segmentation
    costs about a tenth of a millisecond."""
    syllables = [s for s in lazy_pinyin(name, style=Style.NORMAL, errors="ignore") if s.strip()]
    full = " ".join(syllables).lower()
    initials = "".join(s[0] for s in syllables).lower()
    return full[:200], initials[:50]


def document_index(number: str) -> str:
    return blind_index(number, purpose=DOCUMENT_PURPOSE)


def phone_index(number: str) -> str:
    return blind_index(number, purpose=PHONE_PURPOSE)


def clean_document(id_kind: str, id_number: str) -> str:
    """Normalise and validate a document number for its kind; errors name ``id_number``."""
    if not id_number:
        return ""
    try:
        if id_kind == IdKind.RESIDENT_ID:
            id_number = normalise_resident_id(id_number)
            validate_resident_id(id_number)
        else:
            id_number = id_number.strip().upper()
            validate_foreign_document(id_kind, id_number)
    except ValidationError as exc:
        raise ValidationError({"id_number": exc.messages})
    return id_number


def clean_phone(phone: str) -> str:
    if not phone:
        return ""
    try:
        validate_mobile(phone)
    except ValidationError as exc:
        raise ValidationError({"phone": exc.messages})
    return normalise_mobile(phone)


def _event(person: Person, kind: str, *, actor, on: date | None = None, **links) -> PersonEvent:
    return PersonEvent.objects.create(
        person=person, kind=kind, date=on or timezone.localdate(), area=person.area, created_by=actor, **links
    )


# ---- places --------------------------------------------------------------------------------------


@transaction.atomic
def compound_create(
    *,
    actor,
    name: str,
    lat: float | None = None,
    lng: float | None = None,
    grid: Area | None = None,
    address: str = "",
    property_company: str = "",
) -> Compound:
    area = _record_grid(actor, "registry.add_compound", lat=lat, lng=lng, grid=grid)
    compound = Compound(
        name=name,
        address=address,
        property_company=property_company,
        lat=lat,
        lng=lng,
        area=area,
        created_by=actor,
    )
    compound.full_clean()
    compound.save()
    return compound


@transaction.atomic
def building_create(
    *,
    actor,
    name: str,
    compound: Compound | None = None,
    lat: float | None = None,
    lng: float | None = None,
    grid: Area | None = None,
    address: str = "",
    floors: int | None = None,
    units: int | None = None,
    use: str = "residential",
) -> Building:
    area = _record_grid(actor, "registry.add_building", lat=lat, lng=lng, grid=grid, near=compound)
    building = Building(
        name=name,
        compound=compound,
        lat=lat,
        lng=lng,
        area=area,
        address=address,
        floors=floors,
        units=units,
        use=use,
        created_by=actor,
    )
    building.full_clean()
    building.save()
    return building


def house_address(building: Building, unit_no: str, room_no: str) -> str:
    """The postal form of a house's address (data in Chinese, whatever the interface language):
    鸳江花园 8栋 1单元 502."""
    parts = [building.compound.name if building.compound_id else building.address, building.name]
    if unit_no:
        parts.append(f"{unit_no}单元")
    parts.append(room_no)
    return " ".join(p for p in parts if p)[:250]


@transaction.atomic
def house_create(
    *,
    actor,
    building: Building,
    room_no: str,
    unit_no: str = "",
    floor: int | None = None,
    use: str = "owner",
    floor_area=None,
) -> House:
    _require_scope(actor, "registry.add_house", building.area, "building")
    house = House(
        building=building,
        unit_no=unit_no,
        room_no=room_no,
        floor=floor,
        use=use,
        floor_area=floor_area,
        area=building.area,
        created_by=actor,
        address=house_address(building, unit_no, room_no),
    )
    house.full_clean()
    house.save()
    return house


@transaction.atomic
def household_create(*, actor, house: House | None, number: str = "", grid: Area | None = None) -> Household:
    area = house.area if house is not None else grid
    if area is None:
        raise ValidationError({"house": _("A household lives in a house or at least in a grid.")})
    _require_scope(actor, "registry.add_household", area, "house")
    household = Household(house=house, number=number, area=area, created_by=actor)
    household.full_clean()
    household.save()
    return household


# ---- people --------------------------------------------------------------------------------------


def _place_person(person: Person, house: House | None, household: Household | None, grid: Area | None):
    if household is not None and house is not None and household.house_id not in (None, house.pk):
        raise ValidationError({"household": _("The household lives in another house.")})
    if household is not None and house is None:
        house = household.house
    person.house, person.household = house, household
    area = house.area if house is not None else household.area if household is not None else grid
    if area is None:
        raise ValidationError({"house": _("Give the person's house, household or grid.")})
    if area.level != AreaLevel.GRID:
        raise ValidationError({"area": _("Records belong to a unit grid.")})
    person.area = area
    if house is not None:
        person.address = house.address


def _apply_document(person: Person, id_kind: str, id_number: str, birth_date, sex) -> None:
    id_number = clean_document(id_kind, id_number)
    person.id_kind, person.id_number = id_kind, id_number
    person.id_index = document_index(id_number) if id_number else None
    if id_number and id_kind == IdKind.RESIDENT_ID:
        derived_birth, derived_sex = resident_id_birth_date(id_number), resident_id_sex(id_number)
        if birth_date and birth_date != derived_birth:
            raise ValidationError({"birth_date": _("The date of birth does not match the ID number.")})
        if sex and sex != derived_sex:
            raise ValidationError({"sex": _("The sex does not match the ID number.")})
        birth_date, sex = derived_birth, derived_sex
    person.birth_date, person.sex = birth_date, sex or ""
    if id_number and Person.objects.filter(id_index=person.id_index).exclude(pk=person.pk).exists():
        raise ValidationError({"id_number": _("A person with this document number is already registered.")})


def _apply_phone(person: Person, phone: str) -> None:
    phone = clean_phone(phone)
    person.phone = phone
    person.phone_index = phone_index(phone) if phone else ""
    person.phone_suffix = phone[-4:] if phone else ""


@transaction.atomic
def person_register(
    *,
    actor,
    name: str,
    id_kind: str = IdKind.RESIDENT_ID,
    id_number: str = "",
    phone: str = "",
    person_type: str = PersonType.REGISTERED,
    house: House | None = None,
    household: Household | None = None,
    relation: str = "",
    grid: Area | None = None,
    birth_date: date | None = None,
    sex: str = "",
    nationality: str = "",
    ethnicity: str = "",
    tags: list[Tag] | None = None,
    note: str = "",
) -> Person:
    """Register a person living here (登记)."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("A name is required.")})
    if person_type == PersonType.FOREIGN and id_kind == IdKind.RESIDENT_ID:
        raise ValidationError({"id_kind": _("Overseas people are registered with a passport or permit.")})
    person = Person(
        name=name,
        person_type=person_type,
        relation=relation,
        nationality=nationality.upper(),
        ethnicity=ethnicity,
        note=note,
        created_by=actor,
    )
    person.name_pinyin, person.name_initials = pinyin_of(name)
    _apply_document(person, id_kind, id_number, birth_date, sex)
    _apply_phone(person, phone)
    _place_person(person, house, household, grid)
    _require_scope(actor, "registry.add_person", person.area, "house")
    person.full_clean(exclude=["id_index"])
    person.save()
    if household is not None and relation == Relation.HEAD:
        _set_head(household, person)
    if tags:
        person_set_tags(actor=actor, person=person, tags=tags)
    _event(person, PersonEventKind.REGISTERED, actor=actor, to_house=person.house, to_household=household)
    return person


def _set_head(household: Household, person: Person | None) -> None:
    household.snapshot()
    household.head = person
    household.save(update_fields=["head"])


@transaction.atomic
def person_update(*, actor, person: Person, **fields) -> Person:
    """Correct a person's details (the change is logged, and recorded in the person's history)."""
    allowed = {
        "name",
        "id_kind",
        "id_number",
        "phone",
        "person_type",
        "birth_date",
        "sex",
        "nationality",
        "ethnicity",
        "relation",
        "note",
    }
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError({f: _("This field cannot be changed here.") for f in unknown})
    person.snapshot()
    if "name" in fields:
        person.name = fields["name"].strip()
        person.name_pinyin, person.name_initials = pinyin_of(person.name)
    for simple in ("person_type", "nationality", "ethnicity", "relation", "note"):
        if simple in fields:
            setattr(person, simple, fields[simple])
    if {"id_kind", "id_number", "birth_date", "sex"} & set(fields):
        _apply_document(
            person,
            fields.get("id_kind", person.id_kind),
            fields.get("id_number", person.id_number),
            fields.get("birth_date", person.birth_date if "id_number" not in fields else None),
            fields.get("sex", person.sex if "id_number" not in fields else ""),
        )
    if "phone" in fields:
        _apply_phone(person, fields["phone"])
    person.full_clean(exclude=["id_index"])
    person.save()
    ensure_in_scope(person, actor, "change")
    _event(person, PersonEventKind.CORRECTED, actor=actor, note=", ".join(sorted(fields)))
    return person


@transaction.atomic
def person_move_in(
    *,
    actor,
    person: Person,
    house: House,
    household: Household | None = None,
    relation: str = "",
    on: date | None = None,
) -> Person:
    """A person (moved out before, or newly arrived) comes to live in ``house``."""
    if person.status == PersonStatus.DECEASED:
        raise ValidationError({"person": _("This person is recorded as deceased.")})
    person.snapshot()
    _place_person(person, house, household, None)
    _require_scope(actor, "registry.change_person", person.area, "house")
    person.status, person.relation = PersonStatus.ACTIVE, relation or person.relation
    person.save()
    _event(person, PersonEventKind.MOVE_IN, actor=actor, on=on, to_house=house, to_household=household)
    return person


@transaction.atomic
def person_move_out(*, actor, person: Person, on: date | None = None, note: str = "") -> Person:
    """The person leaves the area; they stay on record (status: moved out) with their history."""
    if person.status != PersonStatus.ACTIVE:
        raise ValidationError({"person": _("Only people living here can move out.")})
    person.snapshot()
    from_house, from_household = person.house, person.household
    if from_household is not None and from_household.head_id == person.pk:
        _set_head(from_household, None)
    person.house, person.household, person.status = None, None, PersonStatus.MOVED_OUT
    person.save()
    ensure_in_scope(person, actor, "change")
    _event(
        person,
        PersonEventKind.MOVE_OUT,
        actor=actor,
        on=on,
        from_house=from_house,
        from_household=from_household,
        note=note,
    )
    return person


@transaction.atomic
def person_change_house(
    *, actor, person: Person, house: House, household: Household | None = None, on: date | None = None
) -> Person:
    """The person moves to another house (within the scope of the actor)."""
    if person.status != PersonStatus.ACTIVE:
        raise ValidationError({"person": _("Only people living here can change house.")})
    person.snapshot()
    from_house, from_household = person.house, person.household
    if from_household is not None and from_household != household and from_household.head_id == person.pk:
        _set_head(from_household, None)
    _place_person(person, house, household, None)
    _require_scope(actor, "registry.change_person", person.area, "house")
    person.save()
    ensure_in_scope(person, actor, "change")
    _event(
        person,
        PersonEventKind.CHANGE_HOUSE,
        actor=actor,
        on=on,
        from_house=from_house,
        to_house=house,
        from_household=from_household,
        to_household=household,
    )
    return person


@transaction.atomic
def person_death(*, actor, person: Person, on: date | None = None, note: str = "") -> Person:
    if person.status == PersonStatus.DECEASED:
        raise ValidationError({"person": _("This person is already recorded as deceased.")})
    person.snapshot()
    household = person.household
    if household is not None and household.head_id == person.pk:
        _set_head(household, None)
    person.status = PersonStatus.DECEASED
    person.save(update_fields=["status"])
    ensure_in_scope(person, actor, "change")
    _event(person, PersonEventKind.DEATH, actor=actor, on=on, from_household=household, note=note)
    return person


@transaction.atomic
def household_split(
    *,
    actor,
    household: Household,
    members: list[Person],
    head: Person,
    house: House | None = None,
    number: str = "",
) -> Household:
    """Members leave ``household`` to form a new one (分户), headed by ``head``."""
    ids = {m.pk for m in members}
    if head.pk not in ids:
        raise ValidationError({"head": _("The new head must be one of the members who split off.")})
    if any(m.household_id != household.pk for m in members):
        raise ValidationError({"members": _("Every member must belong to the household being split.")})
    if len(ids) >= household.members.filter(status=PersonStatus.ACTIVE).count():
        raise ValidationError({"members": _("At least one member must stay in the original household.")})
    new = household_create(
        actor=actor,
        house=house or household.house,
        number=number,
        grid=None if (house or household.house) else household.area,
    )
    for member in members:
        member.snapshot()
        if household.head_id == member.pk:
            _set_head(household, None)
        _place_person(member, new.house, new, None)
        member.relation = Relation.HEAD if member.pk == head.pk else member.relation
        member.save()
        ensure_in_scope(member, actor, "change")
        _event(
            member,
            PersonEventKind.HOUSEHOLD_SPLIT,
            actor=actor,
            from_household=household,
            to_household=new,
            from_house=household.house,
            to_house=new.house,
        )
    _set_head(new, head)
    return new


@transaction.atomic
def household_merge(*, actor, source: Household, target: Household) -> Household:
    """All members of ``source`` join ``target`` (合户); ``source`` is closed."""
    if source.pk == target.pk:
        raise ValidationError({"target": _("A household cannot merge with itself.")})
    for member in source.members.filter(status=PersonStatus.ACTIVE):
        member.snapshot()
        _place_person(member, target.house, target, None)
        if member.relation == Relation.HEAD:
            member.relation = Relation.OTHER
        member.save()
        ensure_in_scope(member, actor, "change")
        _event(
            member,
            PersonEventKind.HOUSEHOLD_MERGE,
            actor=actor,
            from_household=source,
            to_household=target,
            from_house=source.house,
            to_house=target.house,
        )
    source.snapshot()
    source.is_active, source.head = False, None
    source.save(update_fields=["is_active", "head"])
    return target


@transaction.atomic
def person_set_tags(*, actor, person: Person, tags: list[Tag]) -> Person:
    wanted = {t.pk for t in tags}
    current = set(person.person_tags.values_list("tag_id", flat=True))
    for tag_id in current - wanted:
        PersonTag.objects.get(person=person, tag_id=tag_id).delete()
    for tag_id in wanted - current:
        PersonTag.objects.create(person=person, tag_id=tag_id)
    return person


# ---- organisations, shops, facilities -----------------------------------------------------------


def _clean_uscc(uscc: str) -> str | None:
    from civicgrid.core.validators import validate_uscc

    if not uscc:
        return None
    try:
        return validate_uscc(uscc)
    except ValidationError as exc:
        raise ValidationError({"uscc": exc.messages})


@transaction.atomic
def organisation_create(
    *,
    actor,
    name: str,
    kind: str,
    uscc: str = "",
    lat: float | None = None,
    lng: float | None = None,
    grid: Area | None = None,
    building: Building | None = None,
    legal_representative: str = "",
    contact_phone: str = "",
    staff_count: int | None = None,
    industry: str = "",
    address: str = "",
) -> Organisation:
    area = _record_grid(actor, "registry.add_organisation", lat=lat, lng=lng, grid=grid, near=building)
    uscc = _clean_uscc(uscc)
    if uscc and Organisation.objects.filter(uscc=uscc).exists():
        raise ValidationError({"uscc": _("An organisation with this credit code is already registered.")})
    org = Organisation(
        name=name.strip(),
        kind=kind,
        uscc=uscc,
        legal_representative=legal_representative,
        contact_phone=clean_phone(contact_phone),
        staff_count=staff_count,
        industry=industry,
        address=address,
        building=building,
        lat=lat,
        lng=lng,
        area=area,
        created_by=actor,
    )
    org.full_clean()
    org.save()
    return org


@transaction.atomic
def shop_create(
    *,
    actor,
    name: str,
    business: str = "",
    uscc: str = "",
    operator: str = "",
    contact_phone: str = "",
    lat: float | None = None,
    lng: float | None = None,
    grid: Area | None = None,
    building: Building | None = None,
    address: str = "",
) -> Shop:
    area = _record_grid(actor, "registry.add_shop", lat=lat, lng=lng, grid=grid, near=building)
    shop = Shop(
        name=name.strip(),
        business=business,
        uscc=_clean_uscc(uscc) or "",
        operator=operator,
        contact_phone=clean_phone(contact_phone),
        address=address,
        building=building,
        lat=lat,
        lng=lng,
        area=area,
        created_by=actor,
    )
    shop.full_clean()
    shop.save()
    return shop


@transaction.atomic
def facility_create(
    *,
    actor,
    category: FacilityCategory,
    lat: float,
    lng: float,
    grid: Area | None = None,
    name: str = "",
    code: str = "",
    owner_department: str = "",
) -> Facility:
    """A component located on the map; its code defaults to grid code + class code + sequence."""
    area = _record_grid(actor, "registry.add_facility", lat=lat, lng=lng, grid=grid)
    if not code:
        prefix = f"{area.code}{category.code}"
        code = f"{prefix}{Facility.objects.filter(code__startswith=prefix).count() + 1:03d}"
    facility = Facility(
        category=category,
        code=code,
        name=name or category.name,
        lat=lat,
        lng=lng,
        owner_department=owner_department,
        area=area,
        created_by=actor,
    )
    facility.full_clean()
    facility.save()
    return facility
