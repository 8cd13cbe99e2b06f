"""The audit history: every ``auditkit run`` recorded in one SQLite file, hash-chained.

The database is ``<out>/history.sqlite`` unless ``--db`` names another; it is the one file to back
up (``sqlite3 history.sqlite ".backup copy.sqlite"`` is safe while a run writes; a plain copy is
safe when no run is active, as the last connection folds the WAL back into the file).

- :mod:`~auditkit.history.schema`: tables, ``user_version`` migrations, connection settings.
- :mod:`~auditkit.history.chain`: the canonical JSON and SHA-256 of the ``audits`` chain.
- :mod:`~auditkit.history.store`: :class:`HistoryStore`, reading and appending in transactions.
- :mod:`~auditkit.history.lock`: one run at a time per database; a second exits instead of waiting.
- :mod:`~auditkit.history.record`: :func:`record_audit`, what ``auditkit run`` wraps the audit in.
- :mod:`~auditkit.history.verify`: :func:`check_history`, behind ``auditkit history --check``
  (recorded decision sheets included).
- :mod:`~auditkit.history.compare`: score changes, significance and regressions (``auditkit diff``).
- :mod:`~auditkit.history.report`: :func:`report_data`, the report's "Since the last audit" input.
"""

from auditkit.history.compare import ScoreChange, regressions, score_changes
from auditkit.history.errors import HistoryError, HistoryLockedError
from auditkit.history.lock import hold_lock, lock_path
from auditkit.history.record import Recording, record_audit
from auditkit.history.report import report_data
from auditkit.history.schema import MIGRATIONS, SCHEMA_VERSION, connect, migrate
from auditkit.history.store import DB_FILE_NAME, AuditRow, DecisionRow, HistoryStore, RunRow
from auditkit.history.verify import CheckReport, Problem, check_history

__all__ = [
    "DB_FILE_NAME", "MIGRATIONS", "SCHEMA_VERSION", "AuditRow", "CheckReport", "DecisionRow",
    "HistoryError", "HistoryLockedError", "HistoryStore", "Problem", "Recording", "RunRow",
    "ScoreChange", "check_history", "connect", "hold_lock", "lock_path", "migrate", "record_audit",
    "regressions", "report_data", "score_changes",
]
