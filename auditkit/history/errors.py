"""The errors of :mod:`auditkit.history`: an unusable database, a run already holding it, a damaged row."""

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


class RowDataError(AuditError, ValueError):
    """A column of a recorded audit does not hold what was written there (e.g. invalid JSON).

    Attributes:
        audit_id: the audit whose row is damaged.
        column: the column at fault, e.g. ``"summary_json"``.
        problem: what is wrong with it, e.g. ``"is not valid JSON (...)"``.
    """

    def __init__(self, audit_id: int, column: str, problem: str) -> None:
        super().__init__(f"audit #{audit_id}: {column} {problem}; the history was damaged "
                         "(`auditkit history --check` lists what else is wrong)")
        self.audit_id = audit_id
        self.column = column
        self.problem = problem


class DossierExistsError(HistoryError, FileExistsError):
    """A kept dossier's file would be overwritten with other bytes; nothing was written.

    Attributes:
        path: the kept file, left as it is.
        source: the file that was to be kept there (``None``: bytes written by the run itself).
    """

    def __init__(self, path: str | Path, source: str | Path | None = None) -> None:
        what = f"{path} holds other bytes" if source is None else \
            f"{source} differs from its kept copy {path}"
        super().__init__(f"{what}: auditkit never overwrites a kept dossier; move the one that is "
                         "not an audit's away and run again", path=path)
        self.source = None if source is None else Path(source)
