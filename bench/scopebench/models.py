"""The benchmark table: a realistic scoped record (area FK, denormalised area code, title, status)."""

from django.db import models

from civicgrid.core.models import ScopedModel
from civicgrid.core.scope import scope_indexes


class BenchRecord(ScopedModel):
    """One row of a scoped business table (an event, a visit, a household…), as a list page reads it.

    Columns and indexes are exactly what a production scoped table has: ScopedModel's (``area`` and
    ``created_by`` foreign keys, ``area_code``) plus ``scope_indexes`` — ``(area_code, id)`` and
    ``(SUBSTR(area_code, 1, n), id)`` for n = 4, 6, 9, 12. Keep it in step with the production models:
    when it changes, regenerate the migration and bump ``bench.dataset.SCHEMA_VERSION``."""

    title = models.CharField("title", max_length=100)
    status = models.CharField("status", max_length=10)

    class Meta:
        verbose_name = "bench record"
        verbose_name_plural = "bench records"
        indexes = scope_indexes("scopebench")

    def __str__(self) -> str:
        return self.title
