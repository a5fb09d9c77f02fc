"""Shared model bases: timestamps and change logging for every model, area scope for records."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from civicgrid.core import scope
from civicgrid.core.fields import AreaCodeField


class Audited:
    """Change-logged model behaviour (civicgrid.core.signals writes the rows)."""

    #: Field names left out of change-log snapshots (secrets, large blobs).
    audit_exclude: tuple[str, ...] = ()
    audit_enabled: bool = True

    def snapshot(self) -> None:
        """Remember the current state as the change log's "before" (saves a query on update)."""
        from civicgrid.core.audit import serialize_instance

        self._audit_before = serialize_instance(self)


class BaseModel(Audited, models.Model):
    """Every persistent record: timestamps, and a change-log row for each create, update and delete
    (written in the same transaction)."""

    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True


class ScopedQuerySet(models.QuerySet):
    def visible_to(self, user, action: str = "view") -> ScopedQuerySet:
        """Rows ``user`` may ``action`` ("view", "change", "delete", … or a full permission name)."""
        model = self.model
        q = scope.scope_filter(
            user,
            scope.permission_name(model, action),
            field=model.scope_field,
            owner_field=model.owner_field,
        )
        if q is None:
            return self.none()
        return self.filter(q) if q else self.all()

    def for_count(self) -> ScopedQuerySet:
        """The same rows, unordered and with level prefixes as ranges: the cheapest shape to count
        (``CappedPaginator`` counts with it; see ``scope.prefixes_as_ranges``)."""
        clone = self.order_by()
        clone.query.where = scope.prefixes_as_ranges(clone.query.where)
        return clone

    def in_area(self, scope_code: str) -> ScopedQuerySet:
        """Rows in the area with ``scope_code`` and below."""
        return self.filter(scope.prefix_q(self.model.scope_field, scope_code))


class ScopedManager(models.Manager.from_queryset(ScopedQuerySet)):
    pass


def area_field(**options) -> models.ForeignKey:
    """A scoped record's area (``options`` adjust it: a model that never reads by the area id
    overrides ``area`` with ``area_field(db_index=False)``)."""
    return models.ForeignKey(
        "areas.Area", verbose_name=_("area"), on_delete=models.PROTECT, related_name="+", **options
    )


def created_by_field(**options) -> models.ForeignKey:
    """Who created a scoped record (``options`` adjust it, as ``area_field``'s do)."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        **options,
    )


class ScopedModel(BaseModel):
    """A record that belongs to a place: its area and the area's denormalised hierarchical code."""

    area = area_field()
    #: Indexed by each concrete model's ``Meta.indexes = scope_indexes(...)`` (a system check insists).
    area_code = AreaCodeField(_("area code"), max_length=24, editable=False)
    created_by = created_by_field()

    scope_field = "area_code"
    owner_field: str | None = "created_by"

    objects = ScopedManager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.area_id is not None:
            self.area_code = self.area.scope_code
            update_fields = kwargs.get("update_fields")
            if update_fields is not None and "area" in update_fields:
                kwargs["update_fields"] = {*update_fields, "area_code"}
        super().save(*args, **kwargs)
