from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from civicgrid.accounts import services
from civicgrid.accounts.models import Post, Role, User
from civicgrid.core.api.views import ScopedModelViewSet, ScopedViewSetMixin

from .serializers import MeSerializer, PostSerializer, RoleSerializer, UserSerializer


class MeView(APIView):
    """The signed-in user with their posts and permissions (works without a post, to explain why)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        return Response(MeSerializer(request.user).data)


class UserViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = User.objects.prefetch_related(
        Prefetch("posts", queryset=Post.objects.filter(is_active=True))
    ).order_by("username")
    serializer_class = UserSerializer
    filterset_fields = ["user_type", "is_active"]


class PostViewSet(ScopedModelViewSet):
    """Posts: a role held at an area with a data scope. Creating or moving a post outside the
    caller's scope is refused and rolled back."""

    queryset = Post.objects.select_related("role", "area").order_by("id")
    serializer_class = PostSerializer
    filterset_fields = ["user", "role", "area", "is_active"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def create_object(self, data):
        return services.post_create(
            actor=self.request.user,
            user=data["user"],
            role=data["role"],
            area=data["area"],
            data_scope=data.get("data_scope"),
            title=data.get("title", ""),
        )

    def update_object(self, instance, data):
        return services.post_update(actor=self.request.user, post=instance, **data)


class RoleViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Role.objects.all()
    serializer_class = RoleSerializer

    def required_permission(self, request):
        return "accounts.view_role"
