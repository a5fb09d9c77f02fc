"""Generic API bases. Scope is applied here once: every queryset is ``visible_to(user, action)``,
so an object out of scope answers 404 like a missing one; writes go through services and are
re-checked against the writer's scope inside the same transaction."""

from __future__ import annotations

from django.db import transaction
from rest_framework import viewsets

from civicgrid.core.services import ensure_in_scope

from .permissions import ACTION_BY_METHOD


class ScopedViewSetMixin:
    """Mix into a DRF GenericViewSet with ``queryset`` set to a scoped model's queryset."""

    #: Override to map extra actions to a permission action, e.g. {"reveal": "reveal"}.
    action_permissions: dict[str, str] = {}

    def scope_action(self) -> str:
        if self.action in self.action_permissions:
            return self.action_permissions[self.action]
        return ACTION_BY_METHOD.get(self.request.method, "view")

    def required_permission(self, request) -> str | None:
        from civicgrid.core.scope import permission_name

        model = self.queryset.model
        action = self.scope_action()
        # Creation is checked against the target area by the service; listing needs "view".
        return permission_name(model, action)

    def get_queryset(self):
        qs = super().get_queryset()
        action = self.scope_action()
        if action == "add":
            return qs.none()
        return qs.visible_to(self.request.user, action)


class ScopedModelViewSet(ScopedViewSetMixin, viewsets.ModelViewSet):
    """CRUD over a scoped model. Subclasses implement ``create_object`` and ``update_object``
    by calling their app's services."""

    def create_object(self, data: dict):
        raise NotImplementedError

    def update_object(self, instance, data: dict):
        raise NotImplementedError

    def perform_create(self, serializer):
        with transaction.atomic():
            obj = self.create_object(serializer.validated_data)
            ensure_in_scope(obj, self.request.user, "add")
        serializer.instance = obj

    def perform_update(self, serializer):
        with transaction.atomic():
            obj = self.update_object(serializer.instance, serializer.validated_data)
            ensure_in_scope(obj, self.request.user, "change")
        serializer.instance = obj

    def perform_destroy(self, instance):
        with transaction.atomic():
            instance.delete()
