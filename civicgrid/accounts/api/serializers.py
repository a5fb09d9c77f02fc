from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from civicgrid.accounts.models import Post, Role, User


class PostSerializer(serializers.ModelSerializer):
    role_code = serializers.CharField(source="role.code", read_only=True)
    role_name = serializers.CharField(source="role.__str__", read_only=True)
    area_code = serializers.CharField(source="area.code", read_only=True)
    area_name = serializers.CharField(source="area.name", read_only=True)

    class Meta:
        model = Post
        fields = [
            "id",
            "user",
            "role",
            "role_code",
            "role_name",
            "area",
            "area_code",
            "area_name",
            "data_scope",
            "title",
            "is_active",
        ]
        extra_kwargs = {"data_scope": {"required": False}}

    def validate_area(self, value):
        from civicgrid.areas.models import Area

        if not Area.objects.visible_to(self.context["request"].user).filter(pk=value.pk).exists():
            raise serializers.ValidationError(_("Unknown area."))
        return value


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "display_name", "user_type", "is_active", "last_login"]


class MeSerializer(UserSerializer):
    posts = serializers.SerializerMethodField()
    permissions = serializers.SerializerMethodField()

    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "posts", "permissions"]

    def get_posts(self, obj) -> list[dict]:
        posts = obj.posts.filter(is_active=True).select_related("role", "area")
        return PostSerializer(posts, many=True).data

    def get_permissions(self, obj) -> list[str]:
        return sorted(obj.get_all_permissions())


class RoleSerializer(serializers.ModelSerializer):
    label = serializers.CharField(source="__str__", read_only=True)

    class Meta:
        model = Role
        fields = ["id", "code", "label", "description", "default_scope", "is_builtin"]
