"""Change logging for every audited model (``audit_enabled = True``: all BaseModel subclasses and
the user model). A cross-cutting concern, hence signals."""

from __future__ import annotations

from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.dispatch import receiver

from .audit import log_change, serialize_instance
from .models.audit import ChangeAction


def _audited(sender) -> bool:
    return getattr(sender, "audit_enabled", False) and not sender._meta.abstract


@receiver(pre_save)
def remember_before(sender, instance, raw=False, **kwargs):
    if raw or not _audited(sender) or instance._state.adding or instance.pk is None:
        return
    if getattr(instance, "_audit_before", None) is None:
        current = sender._base_manager.filter(pk=instance.pk).first()
        instance._audit_before = serialize_instance(current) if current is not None else None


@receiver(post_save)
def write_change(sender, instance, created, raw=False, **kwargs):
    if raw or not _audited(sender):
        return
    after = serialize_instance(instance)
    if created:
        log_change(instance, ChangeAction.CREATE, None, after)
    else:
        before = getattr(instance, "_audit_before", None)
        if before != after:
            log_change(instance, ChangeAction.UPDATE, before, after)
    instance._audit_before = after


@receiver(post_delete)
def write_delete(sender, instance, **kwargs):
    if not _audited(sender):
        return
    log_change(instance, ChangeAction.DELETE, serialize_instance(instance), None)


def _m2m_field(instance, through) -> str | None:
    for field in instance._meta.many_to_many:
        if field.remote_field.through is through:
            return field.name
    return None


@receiver(m2m_changed)
def write_m2m_change(sender, instance, action, reverse, **kwargs):
    if reverse or not _audited(type(instance)):
        return
    name = _m2m_field(instance, sender)
    if name is None:
        return
    if action in ("pre_add", "pre_remove", "pre_clear"):
        instance._audit_m2m_before = sorted(getattr(instance, name).values_list("pk", flat=True))
    elif action in ("post_add", "post_remove", "post_clear"):
        before = getattr(instance, "_audit_m2m_before", None)
        after = sorted(getattr(instance, name).values_list("pk", flat=True))
        if before != after:
            log_change(instance, ChangeAction.UPDATE, {name: before}, {name: after})
