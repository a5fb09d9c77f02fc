"""Registry API. Document and phone numbers are always masked here; the ``reveal`` action shows them
to holders of the reveal permission, with a reason, and writes the access log."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from civicgrid.areas.models import Area
from civicgrid.core.masking import mask_document, mask_mobile
from civicgrid.registry.choices import IdKind, OrgKind, PersonType, Relation, Sex
from civicgrid.registry.models import (
    Building,
    Compound,
    Facility,
    FacilityCategory,
    House,
    Household,
    Organisation,
    Person,
    PersonEvent,
    Shop,
    Tag,
)


class ScopedRelatedField(serializers.PrimaryKeyRelatedField):
    """A related record the caller can see (others answer "does not exist", like a missing id)."""

    def get_queryset(self):
        return self.queryset.visible_to(self.context["request"].user)


class TagSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tag
        fields = ["id", "code", "name", "is_sensitive"]


class PersonSerializer(serializers.ModelSerializer):
    id_number = serializers.SerializerMethodField()
    phone = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField()
    grid = serializers.CharField(source="area.name", read_only=True)
    grid_code = serializers.CharField(source="area.code", read_only=True)

    class Meta:
        model = Person
        fields = [
            "id",
            "name",
            "name_pinyin",
            "person_type",
            "id_kind",
            "id_number",
            "phone",
            "sex",
            "birth_date",
            "nationality",
            "ethnicity",
            "house",
            "household",
            "relation",
            "address",
            "status",
            "grid",
            "grid_code",
            "tags",
            "verified_at",
            "note",
        ]

    def get_id_number(self, obj) -> str:
        return mask_document(obj.id_number, obj.id_kind)

    def get_phone(self, obj) -> str:
        return mask_mobile(obj.phone)

    def get_tags(self, obj) -> list[str]:
        allowed = self.context.get("tag_ids")
        return [pt.tag.name for pt in obj.person_tags.all() if allowed is None or pt.tag_id in allowed]


class PersonWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=50)
    person_type = serializers.ChoiceField(choices=PersonType.choices, default=PersonType.REGISTERED)
    id_kind = serializers.ChoiceField(choices=IdKind.choices, default=IdKind.RESIDENT_ID)
    id_number = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    sex = serializers.ChoiceField(choices=Sex.choices, required=False, allow_blank=True, default="")
    birth_date = serializers.DateField(required=False, allow_null=True, default=None)
    nationality = serializers.CharField(max_length=3, required=False, allow_blank=True, default="")
    ethnicity = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    house = ScopedRelatedField(queryset=House.objects.all(), required=False, allow_null=True, default=None)
    household = ScopedRelatedField(
        queryset=Household.objects.all(), required=False, allow_null=True, default=None
    )
    relation = serializers.ChoiceField(choices=Relation.choices, required=False, allow_blank=True, default="")
    grid = ScopedRelatedField(
        queryset=Area.objects.filter(level="grid"), required=False, allow_null=True, default=None
    )
    tags = serializers.PrimaryKeyRelatedField(queryset=Tag.objects.all(), many=True, required=False)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    def validate_tags(self, value):
        user = self.context["request"].user
        if any(t.is_sensitive for t in value) and not user.has_perm("registry.view_sensitive_tags"):
            raise serializers.ValidationError(_("You may not set special-group tags."))
        return value


class PersonUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=50, required=False)
    person_type = serializers.ChoiceField(choices=PersonType.choices, required=False)
    id_kind = serializers.ChoiceField(choices=IdKind.choices, required=False)
    id_number = serializers.CharField(max_length=40, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True)
    sex = serializers.ChoiceField(choices=Sex.choices, required=False, allow_blank=True)
    birth_date = serializers.DateField(required=False, allow_null=True)
    nationality = serializers.CharField(max_length=3, required=False, allow_blank=True)
    ethnicity = serializers.CharField(max_length=20, required=False, allow_blank=True)
    relation = serializers.ChoiceField(choices=Relation.choices, required=False, allow_blank=True)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)


class RevealSerializer(serializers.Serializer):
    reason = serializers.CharField(min_length=2, max_length=500)


class MoveSerializer(serializers.Serializer):
    house = ScopedRelatedField(queryset=House.objects.all())
    household = ScopedRelatedField(
        queryset=Household.objects.all(), required=False, allow_null=True, default=None
    )
    relation = serializers.ChoiceField(choices=Relation.choices, required=False, allow_blank=True, default="")
    date = serializers.DateField(required=False, allow_null=True, default=None)


class LeaveSerializer(serializers.Serializer):
    date = serializers.DateField(required=False, allow_null=True, default=None)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class PersonEventSerializer(serializers.ModelSerializer):
    from_house_address = serializers.CharField(source="from_house.address", default=None, read_only=True)
    to_house_address = serializers.CharField(source="to_house.address", default=None, read_only=True)

    class Meta:
        model = PersonEvent
        fields = [
            "id",
            "kind",
            "date",
            "from_house",
            "from_house_address",
            "to_house",
            "to_house_address",
            "from_household",
            "to_household",
            "note",
            "created_at",
        ]


class CompoundSerializer(serializers.ModelSerializer):
    grid = serializers.CharField(source="area.code", read_only=True)
    building_count = serializers.IntegerField(read_only=True, required=False)

    class Meta:
        model = Compound
        fields = ["id", "name", "address", "property_company", "lat", "lng", "grid", "building_count"]


class BuildingSerializer(serializers.ModelSerializer):
    grid = serializers.CharField(source="area.code", read_only=True)
    house_count = serializers.IntegerField(read_only=True, required=False)

    class Meta:
        model = Building
        fields = [
            "id",
            "name",
            "compound",
            "address",
            "floors",
            "units",
            "use",
            "lat",
            "lng",
            "grid",
            "house_count",
        ]


class HouseSerializer(serializers.ModelSerializer):
    resident_count = serializers.IntegerField(read_only=True, required=False)

    class Meta:
        model = House
        fields = [
            "id",
            "building",
            "unit_no",
            "floor",
            "room_no",
            "use",
            "floor_area",
            "address",
            "resident_count",
        ]


class HouseholdSerializer(serializers.ModelSerializer):
    head_name = serializers.CharField(source="head.name", default=None, read_only=True)

    class Meta:
        model = Household
        fields = ["id", "number", "house", "head", "head_name", "is_active"]


class OrganisationSerializer(serializers.ModelSerializer):
    grid = serializers.CharField(source="area.code", read_only=True)
    contact_phone = serializers.SerializerMethodField()

    class Meta:
        model = Organisation
        fields = [
            "id",
            "name",
            "kind",
            "uscc",
            "legal_representative",
            "contact_phone",
            "staff_count",
            "industry",
            "address",
            "building",
            "lat",
            "lng",
            "grid",
        ]

    def get_contact_phone(self, obj) -> str:
        return mask_mobile(obj.contact_phone)


class OrganisationWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=150)
    kind = serializers.ChoiceField(choices=OrgKind.choices, default=OrgKind.ENTERPRISE)
    uscc = serializers.CharField(max_length=30, required=False, allow_blank=True, default="")
    legal_representative = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    contact_phone = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    staff_count = serializers.IntegerField(min_value=0, required=False, allow_null=True, default=None)
    industry = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    address = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    building = ScopedRelatedField(
        queryset=Building.objects.all(), required=False, allow_null=True, default=None
    )
    grid = ScopedRelatedField(
        queryset=Area.objects.filter(level="grid"), required=False, allow_null=True, default=None
    )
    lat = serializers.FloatField(min_value=-90, max_value=90, required=False, allow_null=True, default=None)
    lng = serializers.FloatField(min_value=-180, max_value=180, required=False, allow_null=True, default=None)


class ShopSerializer(serializers.ModelSerializer):
    grid = serializers.CharField(source="area.code", read_only=True)
    contact_phone = serializers.SerializerMethodField()

    class Meta:
        model = Shop
        fields = [
            "id",
            "name",
            "business",
            "uscc",
            "operator",
            "contact_phone",
            "address",
            "building",
            "lat",
            "lng",
            "grid",
        ]

    def get_contact_phone(self, obj) -> str:
        return mask_mobile(obj.contact_phone)


class ShopWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=150)
    business = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    uscc = serializers.CharField(max_length=30, required=False, allow_blank=True, default="")
    operator = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    contact_phone = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    address = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    building = ScopedRelatedField(
        queryset=Building.objects.all(), required=False, allow_null=True, default=None
    )
    grid = ScopedRelatedField(
        queryset=Area.objects.filter(level="grid"), required=False, allow_null=True, default=None
    )
    lat = serializers.FloatField(min_value=-90, max_value=90, required=False, allow_null=True, default=None)
    lng = serializers.FloatField(min_value=-180, max_value=180, required=False, allow_null=True, default=None)


class FacilitySerializer(serializers.ModelSerializer):
    grid = serializers.CharField(source="area.code", read_only=True)
    category_code = serializers.CharField(source="category.code", read_only=True)
    category_name = serializers.CharField(source="category.name", read_only=True)

    class Meta:
        model = Facility
        fields = [
            "id",
            "code",
            "name",
            "category",
            "category_code",
            "category_name",
            "status",
            "owner_department",
            "lat",
            "lng",
            "grid",
        ]


class FacilityWriteSerializer(serializers.Serializer):
    category = serializers.PrimaryKeyRelatedField(queryset=FacilityCategory.objects.all())
    lat = serializers.FloatField(min_value=-90, max_value=90)
    lng = serializers.FloatField(min_value=-180, max_value=180)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    owner_department = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    grid = ScopedRelatedField(
        queryset=Area.objects.filter(level="grid"), required=False, allow_null=True, default=None
    )
