"""Model fields: encrypted personal data, hierarchical area codes."""

from __future__ import annotations

from django.core import checks
from django.core.exceptions import FieldError
from django.db import models

from . import crypto

__all__ = ["AreaCodeField", "EncryptedTextField"]


class EncryptedTextField(models.TextField):
    """Text stored encrypted (AES-256-GCM, see :mod:`civicgrid.core.crypto`), plaintext in Python.

    ``None`` and ``""`` are stored as they are, every other value as a ``v1:…`` token with a
    random nonce, so equal values have different ciphertexts. Consequently the only lookup the
    database can answer is ``isnull``; any other lookup (``exact``, ``icontains``, ``in``, …) or
    transform raises :class:`~django.core.exceptions.FieldError`. For exact-match searches store
    :func:`civicgrid.core.crypto.blind_index` of the normalised value in a separate indexed column.
    Ordering by the field orders by ciphertext and is meaningless.

    Values are encrypted in :meth:`get_prep_value` (used by ``save``, ``bulk_create``,
    ``bulk_update`` and ``update`` with plain values; expressions such as ``Value``, ``F`` or
    ``Concat`` bypass it and must not be used) and decrypted in :meth:`from_db_value` (used by
    model loading and ``values()`` / ``values_list()``). Note that change-log snapshots read the
    plaintext from the instance: list encrypted fields in the model's ``audit_exclude``.
    """

    description = "Text encrypted at rest"

    def check(self, **kwargs):
        errors = super().check(**kwargs)
        for option in ("primary_key", "unique", "db_index"):
            if getattr(self, option, False):
                errors.append(
                    checks.Error(
                        f"EncryptedTextField cannot use {option}=True: its ciphertext is randomised.",
                        hint="Index a blind_index() column instead.",
                        obj=self,
                        id="civicgrid.E101",
                    )
                )
        return errors

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return crypto.encrypt(value)

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return crypto.decrypt(value)

    def _unsupported(self, name: str) -> FieldError:
        model = getattr(self, "model", None)
        where = f"{model.__name__}.{self.name}" if model is not None else "EncryptedTextField"
        return FieldError(
            f"{where}: encrypted fields support only the isnull lookup, not {name!r}; "
            "look values up through a blind index column instead."
        )

    def get_lookup(self, lookup_name):
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        raise self._unsupported(lookup_name)

    def get_transform(self, lookup_name):
        raise self._unsupported(lookup_name)


class AreaCodeField(models.CharField):
    """A hierarchical area code (digits): compared byte by byte.

    On PostgreSQL the column uses the "C" collation: codes sort the same, and the range and prefix
    tests of data scope then compare with memcmp instead of the locale's collation, which roughly
    halves the cost of a scoped count over an index. SQLite compares bytes already (BINARY)."""

    def db_parameters(self, connection):
        params = super().db_parameters(connection)
        if connection.vendor == "postgresql" and not self.db_collation:
            params["collation"] = "C"
        return params
