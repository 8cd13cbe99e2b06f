"""The error of :mod:`auditkit.report`: an out folder a report cannot be written from."""

from __future__ import annotations

from pathlib import Path

from auditkit.errors import AuditError


class ReportError(AuditError, ValueError):
    """The report cannot be rendered: missing or malformed results, stale work files, unknown format.

    Attributes:
        path: the file or folder at fault, or ``None`` when the problem is an argument.
    """

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        super().__init__(message)
        self.path = None if path is None else Path(path)
