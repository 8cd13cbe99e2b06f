"""The errors of :mod:`auditkit.history`: an unusable history database or a run already holding it."""

from __future__ import annotations

from pathlib import Path

from auditkit.errors import AuditError


class HistoryError(AuditError, RuntimeError):
    """The audit history cannot be read or written: not a database, unknown schema, missing audit.

    Attributes:
        path: the history database concerned.
    """

    def __init__(self, message: str, *, path: str | Path) -> None:
        super().__init__(message)
        self.path = Path(path)


class HistoryLockedError(HistoryError):
    """Another ``auditkit run`` holds the lock of this history database.

    Attributes:
        path: the history database.
        pid: process id of the holder as it wrote it into the lock file; ``None`` when it has not
            written it yet.
    """

    def __init__(self, path: str | Path, pid: int | None) -> None:
        holder = "pid unknown" if pid is None else f"pid {pid}"
        super().__init__(f"another audit is running on {path} ({holder}); try again later", path=path)
        self.pid = pid
