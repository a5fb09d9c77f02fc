"""System checks for the shared bases."""

from django.apps import apps
from django.core import checks

from .expressions import CodePrefix
from .models.base import ScopedModel
from .scope import LEVEL_PREFIX_LENGTHS


def _has_scope_indexes(model) -> bool:
    field = model.scope_field
    plain = any(list(index.fields) == [field, "id"] for index in model._meta.indexes)
    lengths = set()
    for index in model._meta.indexes:
        if len(index.expressions) == 2 and isinstance(index.expressions[0], CodePrefix):
            lengths.add(index.expressions[0].length)
    return plain and lengths >= set(LEVEL_PREFIX_LENGTHS)


@checks.register(checks.Tags.models)
def scoped_models_are_indexed(app_configs=None, **kwargs):
    """Every scoped table carries ``scope_indexes(...)``: without them a scoped list sorts its whole
    subtree to show one page."""
    errors = []
    for model in apps.get_models():
        if issubclass(model, ScopedModel) and not _has_scope_indexes(model):
            errors.append(
                checks.Error(
                    f"{model._meta.label} lacks the scope indexes",
                    hint="Add `indexes = scope_indexes('<short name>')` to its Meta.",
                    obj=model,
                    id="civicgrid.E201",
                )
            )
    return errors
