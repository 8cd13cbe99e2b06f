"""Reading and appending the audit history: :class:`HistoryStore` over one SQLite file.

Every write is one ``BEGIN IMMEDIATE`` transaction that appends to the chain and updates ``runs``
together, so a crash leaves either both changes or neither: never a finished audit row without its
run marked finished, never a half-written row. Writers are expected to hold the run lock
(:mod:`auditkit.history.lock`); the transaction alone already keeps two writers from reading the same
chain head.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import socket
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from auditkit import _version
from auditkit.history.chain import GENESIS, ChainHead, row_hash, signed_message
from auditkit.history.compare import COMPARED, ScoreChange, estimate_dict, score_changes
from auditkit.history.errors import HistoryError, RowDataError
from auditkit.history.schema import connect, transaction
from auditkit.results import AuditDocument, ResultsError

if TYPE_CHECKING:
    from auditkit.signing import Signer

DB_FILE_NAME = "history.sqlite"
"""The database's name inside the output folder when ``--db`` is not given."""


def now() -> str:
    """The current UTC time as ISO 8601 with seconds, the format of every timestamp stored."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (a process of another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class AuditRow:
    """One row of ``audits``; field names are the column names (see :mod:`auditkit.history.schema`)."""

    id: int
    started_at: str
    finished_at: str
    status: str
    policy_name: str
    policy_sha256: str
    dataset_fingerprint: str | None
    model_digests_json: str | None
    auditkit_version: str
    verdict: str | None
    summary_json: str | None
    report_files_json: str
    error: str | None
    signer_fingerprint: str | None
    prev_hash: str
    row_hash: str
    chain_signature: bytes | None = None

    def hashed_columns(self) -> dict[str, Any]:
        """Every column but ``row_hash`` and ``chain_signature`` (which signs ``row_hash``): what
        :func:`auditkit.history.chain.row_hash` digests."""
        columns = dataclasses.asdict(self)
        del columns["row_hash"], columns["chain_signature"]
        return columns

    def _json(self, column: str, text: str, kind: type) -> Any:
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise RowDataError(self.id, column, f"is not valid JSON ({exc})") from None
        if not isinstance(value, kind):
            raise RowDataError(self.id, column, f"holds a JSON {type(value).__name__}, not a "
                                                f"{'list' if kind is list else 'object'}")
        return value

    @functools.cached_property
    def document(self) -> AuditDocument | None:
        """The audit's results.json (``summary_json``) read once, older schema versions upgraded;
        ``None`` for a failed audit.

        Raises:
            RowDataError: the stored text is not JSON, or not a results.json this auditkit reads.
        """
        if self.summary_json is None:
            return None
        try:
            return AuditDocument.from_plain(self._json("summary_json", self.summary_json, dict))
        except ResultsError as exc:
            raise RowDataError(self.id, "summary_json",
                               f"is not a results.json this auditkit reads ({exc})") from None

    @property
    def report_files(self) -> dict[str, str]:
        """Recorded file (relative to the database's folder when inside it) -> SHA-256.

        Raises:
            RowDataError: the stored text is not a JSON object of strings.
        """
        files: dict[str, str] = self._json("report_files_json", self.report_files_json, dict)
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
            raise RowDataError(self.id, "report_files_json", "maps files to something other than digests")
        return files

    @property
    def model_digests(self) -> list[str] | None:
        """The fold checkpoints' SHA-256, ``None`` for a failed audit.

        Raises:
            RowDataError: the stored text is not a JSON list.
        """
        if self.model_digests_json is None:
            return None
        digests: list[str] = self._json("model_digests_json", self.model_digests_json, list)
        return digests

    def to_dict(self) -> dict[str, Any]:
        """The row for ``auditkit history --json``: columns decoded, scores instead of the summary."""
        document = self.document
        scores: dict[str, Any] = {}
        for (explainer, metric), estimate in (document.estimates(COMPARED) if document else {}).items():
            if explainer is None:
                scores[metric] = estimate_dict(estimate)
            else:
                scores.setdefault("explainers", {}).setdefault(explainer, {})[metric] = \
                    estimate_dict(estimate)
        return {
            "id": self.id,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "status": self.status,
            "verdict": self.verdict,
            "error": self.error,
            "policy": {"name": self.policy_name, "sha256": self.policy_sha256},
            "dataset_fingerprint": self.dataset_fingerprint,
            "model_digests": self.model_digests,
            "auditkit_version": self.auditkit_version,
            "scores": scores,
            "report_files": self.report_files,
            "signer_fingerprint": self.signer_fingerprint,
            "row_hash": self.row_hash,
            "chain_signed": self.chain_signature is not None,
        }


@dataclass(frozen=True)
class RunRow:
    """One row of ``runs``: a started ``auditkit run`` process."""

    run_id: int
    pid: int
    hostname: str
    started_at: str
    policy_name: str
    policy_sha256: str
    auditkit_version: str
    out_dir: str
    status: str
    audit_id: int | None


@dataclass(frozen=True)
class DecisionRow:
    """One row of ``decisions``: a decision sheet recorded under an audit (schema version 4).

    Attributes:
        id: the row's number; decision_id: the decision's id (the sheet's folder name).
        audit_id: the audit it was explained under; sheet_sha256: SHA-256 of its ``sheet.json``.
        created: the sheet's own time; recorded_at: when it was recorded (both ISO 8601).
        folder: the sheet's folder as :meth:`HistoryStore.file_key` records a file.
        files_json: JSON object, each file of the folder -> its SHA-256 when recorded.
    """

    id: int
    decision_id: str
    audit_id: int
    sheet_sha256: str
    created: str
    recorded_at: str
    folder: str
    files_json: str

    @property
    def files(self) -> dict[str, str]:
        """File name -> SHA-256 (empty when the stored JSON is damaged: the check names the files)."""
        try:
            files = json.loads(self.files_json)
        except ValueError:
            return {}
        return files if isinstance(files, dict) else {}

    def to_dict(self) -> dict[str, Any]:
        """The row for ``auditkit history --decisions --json``."""
        return {"id": self.id, "decision_id": self.decision_id, "audit_id": self.audit_id,
                "sheet_sha256": self.sheet_sha256, "created": self.created,
                "recorded_at": self.recorded_at, "folder": self.folder, "files": self.files}


_AUDIT_COLUMNS = ", ".join(f.name for f in dataclasses.fields(AuditRow))
_RUN_COLUMNS = ", ".join(f.name for f in dataclasses.fields(RunRow))
_DECISION_COLUMNS = ", ".join(f.name for f in dataclasses.fields(DecisionRow))


class HistoryStore:
    """The audit history in one SQLite file; open with :meth:`open`, use as a context manager."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path

    @classmethod
    def open(cls, path: str | Path, *, create: bool = True) -> HistoryStore:
        """Open the history at ``path``, creating it when ``create``; migrate an older schema.

        Raises:
            HistoryError: ``path`` does not exist and ``create`` is false, or is not a usable
                history database (see :func:`auditkit.history.schema.connect`).
        """
        path = Path(path)
        if not create and not path.is_file():
            raise HistoryError(f"no audit history at {path}; run `auditkit run` first, or pass --db (the "
                               "database or its out folder) or --policy-file (the policy that ran)",
                               path=path)
        conn = connect(path, create=create)
        conn.row_factory = sqlite3.Row
        return cls(conn, path)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self, doing: str, *, write: bool) -> Iterator[sqlite3.Connection]:
        """:func:`~auditkit.history.schema.transaction` with SQLite errors as :class:`HistoryError`."""
        try:
            with transaction(self._conn, write=write):
                yield self._conn
        except sqlite3.Error as exc:
            raise HistoryError(f"{self.path}: cannot {doing}: {exc}", path=self.path) from exc

    # Reading -----------------------------------------------------------------------------------

    def audits(self, policy: str | None = None) -> list[AuditRow]:
        """Recorded audits, newest first; ``policy``: a policy name, or a prefix of its SHA-256."""
        query = f"SELECT {_AUDIT_COLUMNS} FROM audits"
        params: tuple[str, ...] = ()
        if policy is not None:
            query += " WHERE policy_name = ? OR substr(policy_sha256, 1, length(?)) = lower(?)"
            params = (policy, policy, policy)
        with self._transaction("read the audits", write=False) as conn:
            rows = conn.execute(query + " ORDER BY id DESC", params).fetchall()
        return [AuditRow(**dict(row)) for row in rows]

    def chain(self) -> list[AuditRow]:
        """Every audit, oldest first: the order of the hash chain."""
        return self.audits()[::-1]

    def head(self) -> ChainHead:
        """The chain's newest row: how many audits there are and its ``row_hash``."""
        with self._transaction("read the chain head", write=False) as conn:
            return self._head(conn)

    @staticmethod
    def _head(conn: sqlite3.Connection) -> ChainHead:
        row = conn.execute("SELECT id, row_hash FROM audits ORDER BY id DESC LIMIT 1").fetchone()
        ident = conn.execute("SELECT history_id FROM history").fetchone()
        history_id = None if ident is None else str(ident[0])
        return ChainHead(0, GENESIS, history_id) if row is None else \
            ChainHead(row["id"], row["row_hash"], history_id)

    @property
    def history_id(self) -> str | None:
        """The database's random id, which its audits' results.json name (``None`` if removed)."""
        return self.head().history_id

    def audit(self, audit_id: int) -> AuditRow:
        """The audit with id ``audit_id``.

        Raises:
            HistoryError: there is no such audit.
        """
        with self._transaction("read an audit", write=False) as conn:
            row = conn.execute(f"SELECT {_AUDIT_COLUMNS} FROM audits WHERE id = ?",
                               (audit_id,)).fetchone()
        if row is None:
            raise HistoryError(f"no audit #{audit_id} in {self.path}; `auditkit history` lists them",
                               path=self.path)
        return AuditRow(**dict(row))

    def previous_finished(self, audit: AuditRow) -> AuditRow | None:
        """The newest finished audit of the same policy name recorded before ``audit``, if any."""
        with self._transaction("read the audits", write=False) as conn:
            row = conn.execute(
                f"SELECT {_AUDIT_COLUMNS} FROM audits WHERE policy_name = ? AND id < ? "
                "AND status = 'finished' ORDER BY id DESC LIMIT 1",
                (audit.policy_name, audit.id)).fetchone()
        return None if row is None else AuditRow(**dict(row))

    def changes(self, a: AuditRow, b: AuditRow) -> list[ScoreChange]:
        """Every score of finished audits ``a`` and ``b`` compared (:func:`score_changes`).

        Raises:
            HistoryError: either audit failed, so it has no scores.
        """
        documents = []
        for row in (a, b):
            document = row.document
            if document is None:
                raise HistoryError(f"audit #{row.id} failed ({row.error}); it has no scores to "
                                   "compare", path=self.path)
            documents.append(document)
        return score_changes(*documents)

    def decisions(self, audit_id: int | None = None) -> list[DecisionRow]:
        """Recorded decision sheets, oldest first; ``audit_id``: only those of that audit."""
        query = f"SELECT {_DECISION_COLUMNS} FROM decisions"
        params: tuple[int, ...] = ()
        if audit_id is not None:
            query, params = query + " WHERE audit_id = ?", (audit_id,)
        with self._transaction("read the decisions", write=False) as conn:
            rows = conn.execute(query + " ORDER BY id", params).fetchall()
        return [DecisionRow(**dict(row)) for row in rows]

    def runs(self) -> list[RunRow]:
        """Every recorded run, oldest first."""
        with self._transaction("read the runs", write=False) as conn:
            rows = conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY run_id").fetchall()
        return [RunRow(**dict(row)) for row in rows]

    def integrity_problems(self) -> list[str]:
        """What SQLite's ``integrity_check`` and ``foreign_key_check`` report; empty when sound."""
        with self._transaction("check the database", write=False) as conn:
            found = [row[0] for row in conn.execute("PRAGMA integrity_check")]
            broken = conn.execute("PRAGMA foreign_key_check").fetchall()
        problems = [] if found == ["ok"] else found
        return problems + [f"{row[0]} row {row[1]} refers to a missing {row[2]} row" for row in broken]

    def file_key(self, path: Path) -> str:
        """How a report file is recorded: relative to the database's folder when inside it (so a
        moved or restored output folder with its database still verifies), else absolute."""
        path = path.resolve()
        try:
            return path.relative_to(self.path.resolve().parent).as_posix()
        except ValueError:
            return str(path)

    def file_path(self, key: str) -> Path:
        """The file a :meth:`file_key` names."""
        return self.path.resolve().parent / key

    # Writing -----------------------------------------------------------------------------------

    def start_run(self, policy_name: str, policy_sha256: str, out_dir: Path) -> RunRow:
        """Register this process as running an audit; committed at once, so a kill leaves it."""
        with self._transaction("register the run", write=True) as conn:
            cursor = conn.execute(
                "INSERT INTO runs (pid, hostname, started_at, policy_name, policy_sha256, "
                "auditkit_version, out_dir, status) VALUES (?, ?, ?, ?, ?, ?, ?, 'running')",
                (os.getpid(), socket.gethostname(), now(), policy_name, policy_sha256,
                 _version.__version__, str(Path(out_dir).resolve())))
            row = conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?",
                               (cursor.lastrowid,)).fetchone()
        return RunRow(**dict(row))

    def finish_run(self, run: RunRow, summary_json: str, report_files: Mapping[str, str], *,
                   signer_fingerprint: str | None = None, signer: Signer | None = None,
                   head: ChainHead | None = None) -> AuditRow:
        """Append the finished audit of ``run`` and mark the run finished, in one transaction.

        Args:
            summary_json: the text of results.json, stored as is.
            report_files: :meth:`file_key` -> SHA-256 of every file the audit wrote.
            signer_fingerprint: SHA-256 (hex) of the signer certificate's DER bytes; None unsigned.
            signer: the key that signed the report; it also signs the row's chain hash
                (``chain_signature``), and its certificate's fingerprint is recorded.
            head: the head the run started from, whose :meth:`ChainHead.stamp` its results.json
                carries; the row must be appended right after it.

        Raises:
            HistoryError: ``summary_json`` is not a results.json this auditkit reads (its verdict,
                dataset fingerprint and fold digests are recorded beside it), the chain's head is
                no longer ``head``, ``signer_fingerprint`` is not ``signer``'s, or the run is no
                longer ``running``.
        """
        try:
            document = AuditDocument.from_json(summary_json)
        except ResultsError as exc:
            raise HistoryError(f"cannot record run {run.run_id}: its results.json is not one this "
                               f"auditkit reads ({exc})", path=self.path) from exc
        if signer is not None:
            from auditkit.signing import signer_fingerprint as fingerprint_of

            if signer_fingerprint not in (None, fingerprint_of(signer)):
                raise HistoryError(f"cannot record run {run.run_id}: signer_fingerprint "
                                   f"{signer_fingerprint} is not the signer's certificate",
                                   path=self.path)
            signer_fingerprint = fingerprint_of(signer)
        models = [fold.checkpoint_sha256 for fold in document.folds]
        return self._append(run, "finished", summary_json=summary_json, verdict=document.verdict,
                            dataset_fingerprint=document.dataset.fingerprint_sha256,
                            model_digests_json=json.dumps(models),
                            report_files_json=json.dumps(dict(report_files), sort_keys=True),
                            signer_fingerprint=signer_fingerprint,
                            _head=head, _signer=signer)

    def record_decision(self, decision_id: str, created: str, folder: Path, files: Mapping[str, str], *,
                        sheet_sha256: str, audit_id: int, results_sha256: str,
                        history_id: str | None) -> DecisionRow:
        """Append the decision sheet in ``folder`` (``files``: each file's name -> SHA-256; its
        ``sheet.json`` has SHA-256 ``sheet_sha256``) explained under audit ``audit_id``; recording
        the same sheet again returns its row. Needs no run lock: one transaction, outside the chain.

        Args:
            results_sha256: SHA-256 of the results.json the sheet names: the row must store it.
            history_id: the history the sheet's audit was recorded in (``None``: not named).

        Raises:
            HistoryError: the history lacks that audit, stores another results.json for it or is
                another history, or ``folder`` was recorded with another ``sheet.json``.
        """
        key = self.file_key(folder)
        with self._transaction("record the decision", write=True) as conn:
            problem = self._audit_problem(conn, audit_id, results_sha256, history_id)
            if problem:
                raise HistoryError(f"cannot record decision {decision_id!r}: {problem}", path=self.path)
            old = conn.execute(f"SELECT {_DECISION_COLUMNS} FROM decisions WHERE folder = ?",
                               (key,)).fetchone()
            if old is not None:
                if old["sheet_sha256"] != sheet_sha256:
                    raise HistoryError(f"cannot record decision {decision_id!r}: its folder {key} is "
                                       f"recorded with another sheet.json (row {old['id']})", path=self.path)
                return DecisionRow(**dict(old))
            cursor = conn.execute(
                "INSERT INTO decisions (decision_id, audit_id, sheet_sha256, created, recorded_at, "
                "folder, files_json) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (decision_id, audit_id, sheet_sha256, created, now(), key,
                 json.dumps(dict(files), sort_keys=True)))
            row = conn.execute(f"SELECT {_DECISION_COLUMNS} FROM decisions WHERE id = ?",
                               (cursor.lastrowid,)).fetchone()
        return DecisionRow(**dict(row))

    def _audit_problem(self, conn: sqlite3.Connection, audit_id: int, results_sha256: str,
                       history_id: str | None) -> str:
        """Why audit ``audit_id`` of this history is not the audit whose results.json has SHA-256
        ``results_sha256`` in history ``history_id``; ``""`` when it is."""
        ident = self._head(conn).history_id
        if history_id is not None and history_id != ident:
            return f"its audit is of another history (id {history_id}), not of {self.path} (id {ident})"
        row = conn.execute("SELECT summary_json FROM audits WHERE id = ?", (audit_id,)).fetchone()
        if row is None:
            return f"its audit #{audit_id} is not in {self.path}"
        stored = hashlib.sha256((row["summary_json"] or "").encode("utf-8")).hexdigest()
        if stored != results_sha256:
            return (f"audit #{audit_id} in {self.path} stores another results.json (sha256 "
                    f"{stored[:16]}...) than the sheet names ({results_sha256[:16]}...)")
        return ""

    def fail_run(self, run: RunRow, reason: str) -> AuditRow:
        """Append a failed audit for ``run`` (``reason`` in its ``error``) and mark the run failed."""
        return self._append(run, "failed", error=reason)

    def recover_stale_runs(self, alive: Callable[[int], bool] = pid_alive) -> list[AuditRow]:
        """Mark every ``running`` run of this host whose process is gone as failed; return the
        failed audits appended for them, oldest run first.

        A failed audit's ``started_at`` is the run's, its ``finished_at`` the time the failure was
        found. Runs of other hosts are left alone: whether their process lives cannot be told from
        here. A reused pid keeps a dead run ``running`` until that pid is free again.
        """
        host = socket.gethostname()
        with self._transaction("read the runs", write=False) as conn:
            rows = conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE status = 'running' AND "
                                "hostname = ? ORDER BY run_id", (host,)).fetchall()
        stale = [run for run in (RunRow(**dict(row)) for row in rows) if not alive(run.pid)]
        return [self.fail_run(run, f"process {run.pid} on {host} ended before the audit finished "
                                   "(killed or crashed)") for run in stale]

    def _append(self, run: RunRow, status: str, *, _head: ChainHead | None = None,
                _signer: Signer | None = None, **columns: str | None) -> AuditRow:
        """Append one audit row to the chain for ``run`` and close the run, in one transaction;
        ``_head``: the head expected (see :meth:`finish_run`); ``_signer`` signs the row."""
        with self._transaction("record the audit", write=True) as conn:
            head = self._head(conn)
            if _head is not None and _head != head:
                raise HistoryError(f"run {run.run_id} cannot be recorded: it started at audit "
                                   f"#{_head.audits} of the chain, whose head is now audit "
                                   f"#{head.audits}; the history changed during the run", path=self.path)
            values: dict[str, Any] = {
                "id": head.audits + 1,
                "started_at": run.started_at,
                "finished_at": now(),
                "status": status,
                "policy_name": run.policy_name,
                "policy_sha256": run.policy_sha256,
                "dataset_fingerprint": None,
                "model_digests_json": None,
                "auditkit_version": run.auditkit_version,
                "verdict": None,
                "summary_json": None,
                "report_files_json": "{}",
                "error": None,
                "signer_fingerprint": None,
                "prev_hash": head.row_hash,
                **columns,
            }
            digest = row_hash(values)
            signature = None
            if _signer is not None:
                from auditkit.signing.cms import sign_detached

                signature = sign_detached(signed_message(values["id"], digest), _signer)
            row = AuditRow(**values, row_hash=digest, chain_signature=signature)
            conn.execute(f"INSERT INTO audits ({_AUDIT_COLUMNS}) VALUES "
                         f"({', '.join('?' * len(dataclasses.fields(AuditRow)))})",
                         dataclasses.astuple(row))
            closed = conn.execute(
                "UPDATE runs SET status = ?, audit_id = ? WHERE run_id = ? AND status = 'running'",
                (status, row.id, run.run_id)).rowcount
            if closed != 1:
                raise HistoryError(f"run {run.run_id} in {self.path} is no longer running; its "
                                   "audit was not recorded", path=self.path)
        return row
