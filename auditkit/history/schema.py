"""The history database's schema, its migrations and how a connection is opened.

``PRAGMA user_version`` is the schema version: ``n`` means the first ``n`` entries of
:data:`MIGRATIONS` have been applied. A new file (or any SQLite file at version 0) is brought up to
date when it is opened; each migration runs in its own ``BEGIN IMMEDIATE`` transaction together with
its ``user_version`` bump, so a crash or a failing statement leaves the previous version intact. A
file at a version this code does not know is refused rather than guessed at.

Version 1:

``audits``
    Append-only and hash-chained (see :mod:`auditkit.history.chain`); triggers refuse ``UPDATE`` and
    ``DELETE`` so a slip in a SQL shell cannot change history, while the chain detects a deliberate
    change made after dropping them. A ``finished`` row carries the full results.json text and is
    inserted only once the audit has finished; a ``failed`` row carries the reason instead.
``runs``
    Mutable bookkeeping of started ``auditkit run`` processes (pid, host), outside the chain: a row
    is ``running`` until its audit row is appended, which is how a killed run is found later.

Version 2:

``audits.chain_signature``
    The detached CMS signature (DER) of a signed run's row (:func:`auditkit.history.chain.signed_message`),
    outside the hash it signs; NULL for unsigned runs, failed audits and rows recorded before.

Version 3:

``history``
    One row: ``history_id``, 128 random bits (hex) drawn when the table is created, which every
    audit's results.json names from then on (:class:`auditkit.results.HistoryLink`), so the kept
    dossiers of two databases sharing an out folder are told apart. Outside the chain, but each
    stamped results.json under it names the id, so changing it is found as a stamp out of place.

Version 4:

``decisions``
    One row per decision sheet (``auditkit explain``; :func:`auditkit.decision.dossier.record_sheet`):
    the decision's id, the audit it was explained under (its row), the SHA-256 of the sheet's
    ``sheet.json``, the sheet's ``created`` time, when it was recorded, its folder (as report files
    are recorded: relative to the database's folder when inside it) and the SHA-256 of every file
    of the folder. Append-only (triggers refuse ``UPDATE`` and ``DELETE``), outside the chain: a
    sheet names its audit, not the other way round, and sheets are recorded while a later audit
    may hold the run lock.

Reading (``create=False``: ``history``, ``diff``, ``verify --strict``) never turns a file without a
history into one: a file at version 0 (empty, truncated to zero bytes, or some other SQLite file)
is refused as "holds no audit history" instead of being migrated.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

from auditkit.history.errors import HistoryError

Migration = Sequence[str]
"""The SQL statements of one migration, executed in order inside one transaction."""

MIGRATIONS: tuple[Migration, ...] = (
    (
        """CREATE TABLE audits (
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            finished_at TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('finished', 'failed')),
            policy_name TEXT NOT NULL,
            policy_sha256 TEXT NOT NULL,
            dataset_fingerprint TEXT,
            model_digests_json TEXT,
            auditkit_version TEXT NOT NULL,
            verdict TEXT CHECK (verdict IN ('pass', 'fail')),
            summary_json TEXT,
            report_files_json TEXT NOT NULL,
            error TEXT,
            signer_fingerprint TEXT,
            prev_hash TEXT NOT NULL,
            row_hash TEXT NOT NULL UNIQUE,
            CHECK ((status = 'finished') = (summary_json IS NOT NULL AND verdict IS NOT NULL))
        )""",
        "CREATE INDEX audits_by_policy ON audits (policy_name, id)",
        """CREATE TRIGGER audits_no_update BEFORE UPDATE ON audits
           BEGIN SELECT RAISE(ABORT, 'audits is append-only: recorded audits are never changed'); END""",
        """CREATE TRIGGER audits_no_delete BEFORE DELETE ON audits
           BEGIN SELECT RAISE(ABORT, 'audits is append-only: recorded audits are never deleted'); END""",
        """CREATE TABLE runs (
            run_id INTEGER PRIMARY KEY,
            pid INTEGER NOT NULL CHECK (pid > 0),
            hostname TEXT NOT NULL,
            started_at TEXT NOT NULL,
            policy_name TEXT NOT NULL,
            policy_sha256 TEXT NOT NULL,
            auditkit_version TEXT NOT NULL,
            out_dir TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
            audit_id INTEGER REFERENCES audits (id),
            CHECK ((status = 'running') = (audit_id IS NULL))
        )""",
        "CREATE INDEX runs_by_status ON runs (status, hostname)",
    ),
    (
        "ALTER TABLE audits ADD COLUMN chain_signature BLOB",
    ),
    (
        """CREATE TABLE history (
            only INTEGER PRIMARY KEY CHECK (only = 1),
            history_id TEXT NOT NULL CHECK (length(history_id) = 32)
        )""",
        "INSERT INTO history (only, history_id) VALUES (1, lower(hex(randomblob(16))))",
        """CREATE TRIGGER history_no_update BEFORE UPDATE ON history
           BEGIN SELECT RAISE(ABORT, 'the history id is never changed'); END""",
        """CREATE TRIGGER history_no_delete BEFORE DELETE ON history
           BEGIN SELECT RAISE(ABORT, 'the history id is never deleted'); END""",
    ),
    (
        """CREATE TABLE decisions (
            id INTEGER PRIMARY KEY,
            decision_id TEXT NOT NULL,
            audit_id INTEGER NOT NULL REFERENCES audits (id),
            sheet_sha256 TEXT NOT NULL CHECK (length(sheet_sha256) = 64),
            created TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            folder TEXT NOT NULL UNIQUE,
            files_json TEXT NOT NULL
        )""",
        "CREATE INDEX decisions_by_audit ON decisions (audit_id, id)",
        """CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions
           BEGIN SELECT RAISE(ABORT, 'decisions is append-only: recorded sheets are never changed'); END""",
        """CREATE TRIGGER decisions_no_delete BEFORE DELETE ON decisions
           BEGIN SELECT RAISE(ABORT, 'decisions is append-only: recorded sheets are never deleted'); END""",
    ),
)
"""Migration ``i`` takes the schema from version ``i`` to ``i + 1``; never edit a released entry."""

SCHEMA_VERSION = len(MIGRATIONS)
"""The schema version this code writes."""

BUSY_TIMEOUT_S = 30.0
"""How long a statement waits for another connection's write transaction before failing. Writers
are serialised by the run lock, so this only covers short overlaps (a ``history`` reader migrating,
the moment a run commits)."""


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection, *, write: bool = True) -> Iterator[None]:
    """An explicit transaction, committed at the end and rolled back on any exception (Ctrl-C too).

    ``write=True`` is ``BEGIN IMMEDIATE``: the write lock is taken up front, never upgraded from a
    read lock midway (the upgrade is what fails with "database is locked"). ``write=False`` is a
    plain ``BEGIN``: a consistent snapshot for several reads, which WAL serves during a write.
    SQLite itself ends the transaction after some errors (disk full, I/O), so the rollback is only
    issued while one is still open.
    """
    conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def user_version(conn: sqlite3.Connection) -> int:
    """The schema version recorded in the database header."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, path: Path, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Apply the migrations the database lacks, each in its own transaction; return the new version.

    An up-to-date file is only read. Otherwise the version is read again inside each transaction,
    so two processes opening an old file at once apply each migration exactly once.

    Raises:
        HistoryError: the file is at a newer version than ``len(migrations)``, or a migration
            failed (the file then stays at the last version that was fully applied).
    """
    known = len(migrations)
    if user_version(conn) == known:  # the common case: no write lock taken
        return known
    while True:
        with transaction(conn):
            version = user_version(conn)
            if version > known:
                raise HistoryError(
                    f"{path} has history schema version {version}, but this auditkit knows versions "
                    f"up to {known}; use a newer auditkit to read it", path=path)
            if version == known:
                return version
            try:
                for statement in migrations[version]:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version + 1}")
            except sqlite3.Error as exc:
                raise HistoryError(f"{path}: cannot upgrade the history schema from version "
                                   f"{version} to {version + 1}: {exc}", path=path) from exc


def connect(path: Path, migrations: Sequence[Migration] = MIGRATIONS, *,
            create: bool = True) -> sqlite3.Connection:
    """Open (creating if needed) the history database at ``path`` and migrate it.

    With ``create=False`` a file at version 0 (no history in it) is refused rather than migrated.

    The connection is in autocommit mode (``isolation_level=None``): every write happens in an
    explicit :func:`transaction`. WAL lets readers run during a write; ``synchronous=FULL`` syncs
    the WAL on every commit, so a committed audit survives a power cut; foreign keys are checked.

    Raises:
        HistoryError: the file is not a SQLite database, cannot be opened, is not in WAL mode
            afterwards (e.g. a file system without shared memory), has an unknown schema version,
            or (``create=False``) holds no history.
    """
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    except sqlite3.Error as exc:
        raise HistoryError(f"cannot open the history database {path}: {exc}", path=path) from exc
    try:
        if not create and user_version(conn) == 0:
            size = path.stat().st_size
            what = "an empty file (0 bytes)" if size == 0 else f"a SQLite file without auditkit tables " \
                                                                f"({size} bytes)"
            raise HistoryError(f"{path} holds no audit history: it is {what}; it was emptied or "
                               "replaced, restore it from a backup (it was left as it is)", path=path)
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            raise HistoryError(f"{path}: SQLite refused WAL mode (journal mode {mode!r}); keep the "
                               "history on a local file system", path=path)
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn, path, migrations)
    except sqlite3.Error as exc:
        conn.close()
        raise HistoryError(f"{path} is not a usable history database: {exc}", path=path) from exc
    except BaseException:
        conn.close()
        raise
    return conn
