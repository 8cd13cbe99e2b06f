"""``auditkit history --check``: the hash chain, the recorded report files and SQLite's own checks.

What is checked:

- every ``row_hash`` recomputed from its row (a changed row names its audit id);
- every ``prev_hash`` equal to the ``row_hash`` of the row before (a removed or inserted row names
  the audit after the gap); the stored hash is what the next row is linked to, so one changed row
  is reported once, not for every row after it;
- every report file recorded by an audit still exists with the recorded SHA-256. Only the newest
  audit that recorded a given path is held to it: reruns into the same output folder overwrite
  results.json by design, and an older audit's results.json stays in the database
  (``summary_json``, under the chain). Such files are counted as *superseded*;
- ``PRAGMA integrity_check`` and ``foreign_key_check``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditkit.history.chain import GENESIS, row_hash
from auditkit.history.store import AuditRow, HistoryStore


@dataclass(frozen=True)
class Problem:
    """One finding; ``audit_id`` is ``None`` for a problem of the database as a whole."""

    audit_id: int | None
    message: str
    file: str | None = None

    def __str__(self) -> str:
        return ("database" if self.audit_id is None else f"audit #{self.audit_id}") + \
            f": {self.message}"


@dataclass(frozen=True)
class CheckReport:
    """The outcome of :func:`check_history`; ``head`` is the newest audit (``None`` when empty)."""

    path: Path
    audits: int
    head: AuditRow | None
    files_checked: int
    files_superseded: int
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "db": str(self.path),
            "ok": self.ok,
            "audits": self.audits,
            "head": None if self.head is None else {"id": self.head.id,
                                                    "row_hash": self.head.row_hash},
            "files_checked": self.files_checked,
            "files_superseded": self.files_superseded,
            "problems": [{"audit_id": p.audit_id, "file": p.file, "message": p.message}
                         for p in self.problems],
        }


def check_history(store: HistoryStore) -> CheckReport:
    """Verify the whole history in ``store`` (see the module)."""
    problems = [Problem(None, message) for message in store.integrity_problems()]
    chain = store.chain()
    expected, before = GENESIS, "the start of the chain"
    newest_owner: dict[str, int] = {}
    for row in chain:
        if row_hash(row.hashed_columns()) != row.row_hash:
            problems.append(Problem(row.id, "row_hash does not match the row: it was changed after "
                                            "it was recorded"))
        if row.prev_hash != expected:
            problems.append(Problem(row.id, f"prev_hash does not link to {before}: an audit was "
                                            "removed or inserted before this one"))
        expected, before = row.row_hash, f"audit #{row.id}"
        for key in row.report_files:
            newest_owner[key] = row.id
    checked = superseded = 0
    for row in chain:
        for key, recorded in row.report_files.items():
            if newest_owner[key] != row.id:
                superseded += 1
                continue
            checked += 1
            problem = _file_problem(store.file_path(key), recorded)
            if problem:
                problems.append(Problem(row.id, f"report file {key} {problem}", key))
    return CheckReport(store.path, len(chain), chain[-1] if chain else None, checked, superseded,
                       tuple(problems))


def check_recorded_files(store: HistoryStore, paths: list[Path]) -> list[Problem]:
    """Hold each of ``paths`` to the SHA-256 the newest audit that recorded it wrote down.

    This is ``auditkit verify --strict``: a signature proves who signed and that the signed bytes
    are intact, but a PDF may legally grow by incremental updates that a validator tolerates; the
    recorded digest admits only the exact bytes written by the audit. A file no audit recorded is a
    problem too (``audit_id`` None).
    """
    newest: dict[str, tuple[int, str]] = {}
    for row in store.chain():
        for key, digest in row.report_files.items():
            newest[key] = (row.id, digest)
    problems = []
    for path in paths:
        key = store.file_key(path)
        if key not in newest:
            problems.append(Problem(None, f"no audit in {store.path} recorded {key}", key))
            continue
        audit_id, recorded = newest[key]
        problem = _file_problem(store.file_path(key), recorded)
        if problem:
            problems.append(Problem(audit_id, f"{key} {problem}", key))
    return problems


def _file_problem(path: Path, recorded: str) -> str:
    """Why ``path`` does not hold the file with SHA-256 ``recorded``; ``""`` when it does."""
    try:
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return f"is missing ({path})"
    except OSError as exc:
        return f"cannot be read ({path}: {exc.strerror})"
    if actual != recorded:
        return f"was changed (sha256 recorded {recorded[:16]}..., now {actual[:16]}...)"
    return ""

