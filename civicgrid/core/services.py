"""Shared write-side rules used by every app's services."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _


class OutOfScopeError(PermissionDenied):
    """A write would leave the object outside the writer's data scope; the transaction is rolled back."""


def ensure_in_scope(obj, user, action: str) -> None:
    """Re-check, inside the write's transaction, that ``obj`` is still within ``user``'s scope for
    ``action``. Raising here rolls the surrounding ``transaction.atomic`` back."""
    if user is None:
        return
    model = type(obj)
    if not model._default_manager.visible_to(user, action).filter(pk=obj.pk).exists():
        raise OutOfScopeError(_("This change would put the record outside your data scope."))
