from datetime import date

import pytest
from django.core.exceptions import ValidationError

from civicgrid.core.models import ChangeLog
from civicgrid.core.testing import make_user
from civicgrid.registry import services
from civicgrid.registry.choices import IdKind, PersonEventKind, PersonStatus, PersonType, Relation
from civicgrid.registry.models import Household, Person, Tag

from .conftest import make_house, rid

pytestmark = pytest.mark.django_db


def register(house, name="张三", seq=11, **kw):
    return services.person_register(actor=None, name=name, id_number=rid(seq), house=house, **kw)


class TestRegister:
    def test_derives_grid_birth_sex_pinyin_and_encrypts(self, house):
        person = register(house, phone="138 1234 5678")
        assert person.area == house.area and person.address == house.address
        assert person.birth_date == date(1985, 6, 15) and person.sex == "M"  # 011: odd
        assert (person.name_pinyin, person.name_initials) == ("zhang san", "zs")
        assert person.phone == "13812345678" and person.phone_suffix == "5678"
        raw = Person.objects.filter(pk=person.pk).values_list("id_number", flat=True)
        from django.db import connection

        with connection.cursor() as c:
            c.execute("SELECT id_number, phone FROM registry_person WHERE id = %s", [person.pk])
            stored_id, stored_phone = c.fetchone()
        assert stored_id.startswith("v1:") and rid(11) not in stored_id and "5678" not in stored_phone
        assert list(raw) == [rid(11)]
        assert person.events.get().kind == PersonEventKind.REGISTERED

    def test_change_log_never_holds_the_numbers(self, house):
        person = register(house, phone="13812345678")
        entry = ChangeLog.objects.filter(object_id=str(person.pk), content_type__model="person").get()
        text = str(entry.after)
        assert rid(11) not in text and "13812345678" not in text
        assert entry.after["id_number"].startswith("enc:")

    @pytest.mark.parametrize(
        "kwargs,field",
        [
            ({"id_number": "450403198506150010"}, "id_number"),  # bad checksum
            ({"id_number": "45040319850615001"}, "id_number"),  # too short
            ({"id_number": "990403198506150011"}, "id_number"),  # no such province
            ({"phone": "1234"}, "phone"),
            ({"name": "  "}, "name"),
            ({"birth_date": date(1990, 1, 1)}, "birth_date"),  # disagrees with the ID
            ({"sex": "F"}, "sex"),
            ({"person_type": PersonType.FOREIGN}, "id_kind"),
        ],
    )
    def test_bad_input_names_the_field(self, house, kwargs, field):
        data = {"name": "李四", "id_number": rid(13)} | kwargs
        with pytest.raises(ValidationError) as err:
            services.person_register(actor=None, house=house, **data)
        assert field in err.value.message_dict
        assert not Person.objects.filter(name="李四").exists()

    def test_duplicate_document_is_refused(self, house):
        register(house)
        with pytest.raises(ValidationError) as err:
            register(house, name="张三丰")
        assert "id_number" in err.value.message_dict

    def test_foreign_person_with_passport(self, house):
        person = services.person_register(
            actor=None,
            name="John Smith",
            person_type=PersonType.FOREIGN,
            id_kind=IdKind.PASSPORT,
            id_number="e12345678",
            nationality="gbr",
            house=house,
        )
        assert person.id_number == "E12345678" and person.nationality == "GBR"

    def test_actor_outside_scope_cannot_register(self, far_house, wuzhou):
        official = make_user("t_comm", "community_official")
        with pytest.raises(ValidationError) as err:
            services.person_register(actor=official, name="王五", id_number=rid(15), house=far_house)
        assert "house" in err.value.message_dict


class TestLifeEvents:
    def test_move_out_and_back_in_keeps_history(self, house, grid):
        person = register(house)
        services.person_move_out(actor=None, person=person, on=date(2026, 3, 1), note="外出务工")
        person.refresh_from_db()
        assert person.status == PersonStatus.MOVED_OUT and person.house is None
        other = make_house(grid, room="202", building_name="2栋", compound_name="新小区")
        services.person_move_in(actor=None, person=person, house=other)
        person.refresh_from_db()
        assert person.status == PersonStatus.ACTIVE and person.house == other
        kinds = list(person.events.order_by("id").values_list("kind", flat=True))
        assert kinds == ["registered", "move_out", "move_in"]
        services.person_death(actor=None, person=person)
        with pytest.raises(ValidationError):
            services.person_move_in(actor=None, person=person, house=other)

    def test_change_house_outside_scope_rolls_back(self, house, far_house):
        official = make_user("t_comm", "community_official")
        person = register(house)
        with pytest.raises(ValidationError):
            services.person_change_house(actor=official, person=person, house=far_house)
        person.refresh_from_db()
        assert person.house == house and person.events.count() == 1

    def test_death_clears_head_of_household(self, house):
        household = services.household_create(actor=None, house=house, number="H1")
        head = register(house, household=household, relation=Relation.HEAD)
        household.refresh_from_db()
        assert household.head == head
        services.person_death(actor=None, person=head)
        household.refresh_from_db()
        head.refresh_from_db()
        assert household.head is None and head.status == PersonStatus.DECEASED
        with pytest.raises(ValidationError):
            services.person_death(actor=None, person=head)

    def test_split_and_merge(self, house):
        household = services.household_create(actor=None, house=house, number="H1")
        father = register(house, name="赵父", seq=21, household=household, relation=Relation.HEAD)
        son = register(house, name="赵子", seq=23, household=household, relation=Relation.CHILD)
        wife = register(house, name="赵媳", seq=24, household=household, relation=Relation.OTHER)
        with pytest.raises(ValidationError) as err:
            services.household_split(actor=None, household=household, members=[father, son, wife], head=son)
        assert "members" in err.value.message_dict
        new = services.household_split(actor=None, household=household, members=[son, wife], head=son)
        son.refresh_from_db()
        assert son.household == new and new.head == son and son.relation == Relation.HEAD
        assert son.events.filter(kind="household_split").exists()
        services.household_merge(actor=None, source=new, target=household)
        son.refresh_from_db()
        new.refresh_from_db()
        assert son.household == household and not new.is_active
        assert Household.objects.get(pk=household.pk).head == father

    def test_tags(self, house):
        person = register(house)
        dibao, elderly = Tag.objects.get(code="dibao"), Tag.objects.get(code="elderly")
        services.person_set_tags(actor=None, person=person, tags=[dibao, elderly])
        assert set(person.tags.values_list("code", flat=True)) == {"dibao", "elderly"}
        services.person_set_tags(actor=None, person=person, tags=[elderly])
        assert list(person.tags.values_list("code", flat=True)) == ["elderly"]
