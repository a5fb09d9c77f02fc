"""The benchmark table: a realistic scoped record (area FK, denormalised area code, title, status)."""

from django.db import models

from civicgrid.core.models import ScopedModel


class BenchRecord(ScopedModel):
    """One row of a scoped business table (an event, a visit, a household…), as a list page reads it.

    Indexes come from ScopedModel (``area_code`` with ``db_index=True``, the ``area`` and ``created_by``
    foreign keys) plus whatever ``Meta.indexes`` adds here; keep them in step with what the production
    models carry, since that is what the benchmark is meant to model."""

    title = models.CharField("title", max_length=100)
    status = models.CharField("status", max_length=10)

    class Meta:
        verbose_name = "bench record"
        verbose_name_plural = "bench records"

    def __str__(self) -> str:
        return self.title
