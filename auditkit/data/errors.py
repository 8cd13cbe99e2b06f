"""Argument errors of :mod:`auditkit.data`; unreadable files raise :class:`auditkit.errors.DataError`."""

from __future__ import annotations

from auditkit.errors import AuditError


class DatasetArgumentError(AuditError, ValueError):
    """A data function got an argument it does not accept (split, max_images, k, seed, index)."""


class DatasetKindError(DatasetArgumentError):
    """``load_dataset`` got a dataset kind it does not know; the message lists the accepted kinds."""


def data_error(message: str, name: str) -> DatasetArgumentError:
    """The :data:`auditkit._validation.ErrorFactory` of the data package."""
    return DatasetArgumentError(message)
