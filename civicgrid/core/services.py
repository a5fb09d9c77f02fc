"""Shared write-side rules used by every app's services."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _


class ConflictError(Exception):
    """The record changed under the caller, or is in a state that does not allow the step asked
    for (e.g. a case already dispatched by somebody else). Pages show the message; the API answers
    409 with code "conflict"."""

    def __init__(self, message: str, *, code: str = "conflict"):
        super().__init__(message)
        self.message = message
        self.code = code


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
