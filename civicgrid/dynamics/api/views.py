"""Work-dynamics API under ``/api/v1/dynamics/posts/`` (staff; residents read through the portal).

Scope is applied by ``ScopedViewSetMixin``: a post is read ``visible_to(user, action)`` with the
action asked for, so a post the caller may not act on answers 404 like a missing one. The services
decide the rest: writing is for the community or street that posts it (403 otherwise), a step the
post's state does not allow or a stale ``expected_version`` is 409, bad input is 400 naming the
field (``area``, ``title``, ``body``, ``cover``, ``pictures``, ``reason`` …)."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import BaseFilterBackend
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from civicgrid.core.api.renderers import PassthroughRenderer
from civicgrid.core.api.views import ScopedViewSetMixin
from civicgrid.core.files import private_file_response

from .. import selectors, services
from ..forms import PostFilterForm
from ..models import Post
from . import serializers as s

#: Fields of ``DynamicsPostUpdateSerializer`` passed to ``post_edit`` only when the client sent them.
EDITABLE = ("area", "title", "body")


class PostFilterBackend(BaseFilterBackend):
    """``?q=&status=&area=<id>&pinned=true&published_from=&published_to=`` (the list page's filters);
    a bad value is a 400 naming the parameter."""

    def filter_queryset(self, request, queryset, view):
        if view.action != "list":
            return queryset
        params = {k: v for k, v in request.query_params.items() if k in PostFilterForm.base_fields}
        if not params:
            return queryset
        form = PostFilterForm(params, user=request.user)
        if not form.is_valid():
            raise serializers.ValidationError(form.errors)
        return form.apply(queryset)

    def get_schema_operation_parameters(self, view):
        return [
            {"name": name, "required": False, "in": "query", "schema": {"type": "string"}}
            for name in PostFilterForm.base_fields
        ]


class DynamicsPostViewSet(
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Work-dynamics posts in the caller's scope, newest first. ``POST`` writes a draft (``publish``
    true publishes it at once), ``PATCH`` edits, ``DELETE`` deletes a draft; ``/{id}/publish/``,
    ``/{id}/withdraw/`` (with a ``reason``) and ``/{id}/pin/`` are the steps."""

    queryset = Post.objects.all()
    serializer_class = s.DynamicsPostSerializer
    filter_backends = [PostFilterBackend]
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    action_permissions = {
        "publish": "publish",
        "withdraw": "withdraw",
        "pin": "pin",
        "history": "view",
        "picture": "view",
    }

    def get_queryset(self):
        qs = super().get_queryset()
        if self.action in ("list", "retrieve"):
            qs = qs.select_related("area", "author").prefetch_related("pictures").order_by("-id")
        return qs

    def _fresh(self, pk: int, code: int = status.HTTP_200_OK) -> Response:
        post = Post.objects.select_related("area", "author").prefetch_related("pictures").get(pk=pk)
        data = s.DynamicsPostSerializer(post, context=self.get_serializer_context()).data
        return Response(data, status=code)

    def _body(self, serializer_class, **kwargs) -> dict:
        body = serializer_class(data=self.request.data, context=self.get_serializer_context(), **kwargs)
        body.is_valid(raise_exception=True)
        return dict(body.validated_data)

    # ---- writing -----------------------------------------------------------------------------

    @extend_schema(request=s.DynamicsPostCreateSerializer, responses={201: s.DynamicsPostSerializer})
    def create(self, request, *args, **kwargs):
        data = self._body(s.DynamicsPostCreateSerializer)
        post = services.post_draft(
            actor=request.user,
            area=data["area"],
            title=data["title"],
            body=data["body"],
            cover=data["cover"],
            pictures=data["pictures"],
            publish=data["publish"],
        )
        return self._fresh(post.pk, status.HTTP_201_CREATED)

    @extend_schema(request=s.DynamicsPostUpdateSerializer, responses=s.DynamicsPostSerializer)
    def partial_update(self, request, *args, **kwargs):
        post = self.get_object()
        sent = set(request.data.keys())
        data = self._body(s.DynamicsPostUpdateSerializer)
        changes = {name: data[name] for name in EDITABLE if name in sent and name in data}
        services.post_edit(
            actor=request.user,
            post=post,
            expected_version=data["expected_version"],
            cover=data["cover"],
            remove_cover=data["remove_cover"],
            pictures=data["pictures"],
            remove_pictures=data["remove_pictures"],
            **changes,
        )
        return self._fresh(post.pk)

    def perform_destroy(self, instance):
        services.post_delete(actor=self.request.user, post=instance)

    # ---- steps ---------------------------------------------------------------------------------

    @extend_schema(request=s.DynamicsStepSerializer, responses=s.DynamicsPostSerializer)
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        """Publish a draft, or a withdrawn post again: residents see it from now on."""
        post = self.get_object()
        data = self._body(s.DynamicsStepSerializer)
        services.post_publish(actor=request.user, post=post, **data)
        return self._fresh(post.pk)

    @extend_schema(request=s.DynamicsWithdrawSerializer, responses=s.DynamicsPostSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        """Take a published post down, with a ``reason``; residents no longer see it."""
        post = self.get_object()
        data = self._body(s.DynamicsWithdrawSerializer)
        services.post_withdraw(actor=request.user, post=post, **data)
        return self._fresh(post.pk)

    @extend_schema(request=s.DynamicsPinSerializer, responses=s.DynamicsPostSerializer)
    @action(detail=True, methods=["post"])
    def pin(self, request, pk=None):
        """Pin a published post to the top of its residents' list (``pinned`` false unpins)."""
        post = self.get_object()
        data = self._body(s.DynamicsPinSerializer)
        services.post_pin(actor=request.user, post=post, **data)
        return self._fresh(post.pk)

    # ---- reading -------------------------------------------------------------------------------

    @extend_schema(responses=s.DynamicsEventSerializer(many=True))
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        """The post's steps, oldest first."""
        post = self.get_object()
        return Response(s.DynamicsEventSerializer(selectors.history(post), many=True).data)

    @extend_schema(
        parameters=[OpenApiParameter("size", str, enum=["thumb"], description="thumb: the small copy")],
        responses={(200, "*/*"): bytes},
    )
    @action(
        detail=True,
        methods=["get"],
        url_path=r"pictures/(?P<picture_id>\d+)",
        url_name="picture",
        renderer_classes=[JSONRenderer, PassthroughRenderer],
    )
    def picture(self, request, pk=None, picture_id=None):
        """One picture of the post (only through its post: a picture is never a public URL)."""
        post = self.get_object()
        picture = post.pictures.filter(pk=int(picture_id)).first()
        if picture is None:
            raise Http404
        field = (
            picture.thumbnail
            if request.query_params.get("size") == "thumb" and picture.thumbnail
            else picture.image
        )
        return private_file_response(field)
