"""Errors raised by :mod:`auditkit.models`, rooted in :class:`auditkit.errors.AuditError`."""

from __future__ import annotations

from pathlib import Path

from auditkit.errors import AuditError


class ModelError(AuditError, ValueError):
    """A model or its training was configured with a value it cannot honour.

    Attributes:
        parameter: name of the offending argument or field, e.g. ``"dropout"``.
    """

    def __init__(self, message: str, *, parameter: str = "") -> None:
        super().__init__(message)
        self.parameter = parameter


def model_error(message: str, name: str) -> ModelError:
    """The :data:`auditkit._validation.ErrorFactory` of the models: a ModelError naming ``name``."""
    return ModelError(message, parameter=name)


class CheckpointError(AuditError, OSError):
    """A checkpoint file is missing, unreadable, malformed or made for another architecture.

    Attributes:
        path: the checkpoint file.
        reason: short machine-readable cause: ``"missing"``, ``"corrupt"``, ``"malformed"`` or
            ``"mismatch"``.
    """

    def __init__(self, message: str, *, path: str | Path, reason: str) -> None:
        super().__init__(message)
        self.path = Path(path)
        self.reason = reason
