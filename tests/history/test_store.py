"""The history database without an audit: schema migrations, the chain, runs, the lock, crashes."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from auditkit.history import (
    MIGRATIONS,
    SCHEMA_VERSION,
    HistoryError,
    HistoryLockedError,
    HistoryStore,
    check_history,
    hold_lock,
    migrate,
    record_audit,
)
from auditkit.history.chain import GENESIS
from auditkit.results import AuditDocument

WRITER = Path(__file__).with_name("_writer.py")


def append(store: HistoryStore, summary: str, policy: str = "p") -> int:
    """Record one finished audit (results.json ``summary``) of policy ``policy``; return its id."""
    return store.finish_run(store.start_run(policy, "f" * 64, store.path.parent), summary, {}).id


def raw(db: Path) -> sqlite3.Connection:
    """A plain connection, as an operator (or a tamperer) would open the file."""
    return sqlite3.connect(db, isolation_level=None)


def test_new_database_settings(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    with HistoryStore.open(db):
        pass
    conn = raw(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"audits", "runs", "history"} <= tables


def test_each_database_draws_its_own_history_id_and_keeps_it(tmp_path: Path) -> None:
    ids = []
    for name in ("a.sqlite", "b.sqlite"):
        with HistoryStore.open(tmp_path / name) as store:
            ids.append(store.history_id)
        with HistoryStore.open(tmp_path / name) as store:
            assert store.history_id == ids[-1]  # drawn once, when the table is created
    assert ids[0] != ids[1] and all(len(i or "") == 32 and int(i or "", 16) >= 0 for i in ids)
    conn = raw(tmp_path / "a.sqlite")
    for statement in ("UPDATE history SET history_id = 'x'", "DELETE FROM history"):
        with pytest.raises(sqlite3.IntegrityError, match="the history id is never"):
            conn.execute(statement)


def test_version_0_database_is_upgraded(tmp_path: Path, summary_json: str) -> None:
    db = tmp_path / "old.sqlite"
    conn = raw(db)
    conn.execute("CREATE TABLE notes (text TEXT)")  # a SQLite file at version 0 with other content
    conn.close()
    with HistoryStore.open(db) as store:
        assert append(store, summary_json) == 1
    conn = raw(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 4
    assert conn.execute("SELECT count(*) FROM notes").fetchone()[0] == 0


def test_each_migration_is_applied_in_its_own_transaction(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    broken = [*MIGRATIONS, ("CREATE TABLE extra (x)", "INSERT INTO missing VALUES (1)")]
    conn = raw(db)
    with pytest.raises(HistoryError, match="from version 4 to 5: no such table: missing"):
        migrate(conn, db, broken)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 4  # migrations 0 to 3 kept
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'extra'").fetchone() is None
    assert migrate(conn, db, [*MIGRATIONS, ("CREATE TABLE extra (x)",)]) == 5
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 5


def test_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    raw(db).execute("PRAGMA user_version = 7")
    with pytest.raises(HistoryError, match=r"schema version 7, but this auditkit knows versions "
                                           r"up to 4; use a newer auditkit") as info:
        HistoryStore.open(db)
    assert info.value.path == db
    conn = raw(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 7
    assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0


def test_not_a_database(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    db.write_text("this is not SQLite, but long enough to have a header " * 4)
    with pytest.raises(HistoryError, match=f"{db} is not a usable history database"):
        HistoryStore.open(db)


def test_missing_database_is_not_created_for_reading(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match=r"no audit history at .*nowhere\.sqlite; run `auditkit run`"):
        HistoryStore.open(tmp_path / "nowhere.sqlite", create=False)
    assert not (tmp_path / "nowhere.sqlite").exists()


def test_audits_are_append_only(tmp_path: Path, summary_json: str) -> None:
    db = tmp_path / "h.sqlite"
    with HistoryStore.open(db) as store:
        append(store, summary_json)
    conn = raw(db)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audits SET verdict = 'fail'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audits")


def test_chain_links_and_columns(tmp_path: Path, summary_json: str) -> None:
    with HistoryStore.open(tmp_path / "h.sqlite") as store:
        ids = [append(store, summary_json), append(store, summary_json, "q"), append(store, summary_json)]
        chain = store.chain()
        assert [row.id for row in chain] == ids == [1, 2, 3]
        assert chain[0].prev_hash == GENESIS
        assert [row.prev_hash for row in chain[1:]] == [row.row_hash for row in chain[:-1]]
        assert json.loads(chain[0].model_digests_json or "") == ["a" * 64, "b" * 64]
        assert chain[0].dataset_fingerprint == "d" * 64 and chain[0].signer_fingerprint is None
        assert [row.id for row in store.audits("q")] == [2]
        assert [row.id for row in store.audits("fff")] == [3, 2, 1]  # SHA-256 prefix
        assert store.previous_finished(chain[2]) == chain[0]  # same policy name, skipping "q"
        report = check_history(store)
    assert report.ok and report.audits == 3 and report.head == chain[2]


def test_removed_row_breaks_the_link_of_the_next(tmp_path: Path, summary_json: str) -> None:
    db = tmp_path / "h.sqlite"
    with HistoryStore.open(db) as store:
        for _ in range(3):
            append(store, summary_json)
    conn = raw(db)
    conn.execute("DROP TRIGGER audits_no_delete")
    conn.execute("DELETE FROM audits WHERE id = 2")
    with HistoryStore.open(db) as store:
        problems = [str(p) for p in check_history(store).problems]
    assert problems == ["database: runs row 2 refers to a missing audits row",
                        "audit #3: prev_hash does not link to audit #1: an audit was removed or "
                        "inserted before this one"]


@pytest.mark.parametrize(("summary", "problem"), [
    ({"schema_version": 2, "verdict": "pass"}, "results.json: missing key 'auditkit_version'"),
    ({"schema_version": 1, "thresholds": "x"}, "results.json: not a readable schema-1 document"),
    ({"schema_version": 9}, "results.json: schema_version 9 is not one this auditkit reads"),
])
def test_finish_run_needs_a_results_json(tmp_path: Path, summary: dict, problem: str) -> None:
    with HistoryStore.open(tmp_path / "h.sqlite") as store:
        run = store.start_run("p", "f" * 64, tmp_path)
        with pytest.raises(HistoryError) as info:
            store.finish_run(run, json.dumps(summary), {})
        assert str(info.value).startswith(f"cannot record run 1: its results.json is not one this "
                                          f"auditkit reads ({problem}")
        assert store.audits() == [] and store.runs()[0].status == "running"


def test_dead_runs_of_this_host_are_marked_failed(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    with HistoryStore.open(db) as store:
        dead = store.start_run("p", "f" * 64, tmp_path)
        alive = store.start_run("p", "f" * 64, tmp_path)
    conn = raw(db)
    conn.execute("UPDATE runs SET pid = 999999 WHERE run_id = ?", (dead.run_id,))
    conn.execute("INSERT INTO runs (pid, hostname, started_at, policy_name, policy_sha256, "
                 "auditkit_version, out_dir, status) SELECT 999999, 'elsewhere', started_at, "
                 "policy_name, policy_sha256, auditkit_version, out_dir, 'running' FROM runs LIMIT 1")
    with HistoryStore.open(db) as store:
        failed = store.recover_stale_runs(alive=lambda pid: pid != 999999)
        runs = {run.run_id: run for run in store.runs()}
    assert [row.status for row in failed] == ["failed"]
    assert failed[0].error == (f"process 999999 on {socket.gethostname()} ended before the audit "
                               "finished (killed or crashed)")
    assert failed[0].started_at == dead.started_at and failed[0].summary_json is None
    assert (runs[dead.run_id].status, runs[dead.run_id].audit_id) == ("failed", failed[0].id)
    assert runs[alive.run_id].status == "running"  # its process (this one) lives
    assert runs[3].status == "running"  # another host's run is left alone


@pytest.mark.parametrize(("raised", "reason"), [
    (ValueError("boom"), "ValueError: boom"),
    (KeyboardInterrupt(), "interrupted (Ctrl-C)"),
])
def test_an_exception_in_the_run_records_a_failed_audit(tmp_path: Path, raised: BaseException,
                                                        reason: str) -> None:
    db = tmp_path / "h.sqlite"
    with pytest.raises(type(raised)), record_audit(db, "p", "f" * 64, tmp_path):
        raise raised
    with HistoryStore.open(db) as store:
        (audit,), (run,) = store.audits(), store.runs()
    assert (audit.status, audit.error, audit.verdict) == ("failed", reason, None)
    assert (run.status, run.audit_id) == ("failed", audit.id)


def test_a_run_that_records_nothing_is_failed_loudly(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    with pytest.raises(HistoryError, match="audit #1 ended without recording its results"), \
            record_audit(db, "p", "f" * 64, tmp_path):
        pass
    with HistoryStore.open(db) as store:
        assert [row.status for row in store.audits()] == ["failed"]


def test_lock_refuses_a_second_holder_naming_the_first(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    with hold_lock(db):
        with pytest.raises(HistoryLockedError) as info, hold_lock(db):
            pass
        assert str(info.value) == (f"another audit is running on {db} (pid {os.getpid()}); "
                                   "try again later")
        assert info.value.pid == os.getpid()
    with hold_lock(db):  # released on exit
        pass


def _count_audits(db: Path) -> int:
    try:
        return int(raw(db).execute("SELECT count(*) FROM audits").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


def _padded(folder: Path, document: Callable[..., AuditDocument]) -> str:
    """A results.json padded to ~64 KiB, so a write takes a while, for ``_writer.py``; its path."""
    path = folder / "results.json"
    path.write_bytes(document(folds=("c" * 64,), environment={"padding": "x" * 65536}).to_json())
    return str(path)


def test_kill_9_while_writing_leaves_a_sound_database(tmp_path: Path, document) -> None:
    db = tmp_path / "h.sqlite"
    writer = subprocess.Popen([sys.executable, str(WRITER), str(db), _padded(tmp_path, document)])
    deadline = time.monotonic() + 60
    while _count_audits(db) < 30:
        assert writer.poll() is None, "the writer died on its own"
        assert time.monotonic() < deadline, "the writer is too slow"
        time.sleep(0.02)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    conn = raw(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    with HistoryStore.open(db) as store:
        assert check_history(store).ok
        runs = store.runs()
        recorded = {row.id for row in store.audits()}
        assert {run.audit_id for run in runs if run.status == "finished"} == recorded
        assert len([run for run in runs if run.status == "running"]) <= 1
        store.recover_stale_runs()
        assert check_history(store).ok
        assert all(run.status != "running" for run in store.runs())


def test_concurrent_writers_serialise(tmp_path: Path, document) -> None:
    db = tmp_path / "h.sqlite"
    with HistoryStore.open(db):  # created once, so the writers do not race to migrate
        pass
    summary = _padded(tmp_path, document)
    writers = [subprocess.Popen([sys.executable, str(WRITER), str(db), summary, "15"]) for _ in range(2)]
    assert [writer.wait(timeout=120) for writer in writers] == [0, 0]
    with HistoryStore.open(db) as store:
        report = check_history(store)
        assert report.ok and report.audits == 30
        assert all(run.status == "finished" for run in store.runs())


def test_a_version_2_database_gets_a_history_id_and_its_old_stamps_still_check(
        tmp_path: Path, document: Callable[..., AuditDocument]) -> None:
    """Audits recorded before history ids carry stamps without one; they still sit in their place."""
    from auditkit.history import check_history, connect

    db = tmp_path / "v2.sqlite"
    connect(db, MIGRATIONS[:2]).close()
    assert raw(db).execute("PRAGMA user_version").fetchone()[0] == 2
    with HistoryStore.open(db) as store:
        assert len(store.history_id or "") == 32
        stamp = {"audit_id": 1, "previous_audits": 0, "previous_row_hash": GENESIS}
        append(store, document(history=stamp).to_json().decode())
        assert check_history(store).ok
        moved = {**stamp, "history_id": "0" * 32}  # a stamp naming another database
        append(store, document(history={**moved, "audit_id": 2, "previous_audits": 1,
                                        "previous_row_hash": store.head().row_hash}).to_json().decode())
        assert [str(p) for p in check_history(store).problems] == [
            f"audit #2: its results.json says it is {{'audit_id': 2, 'previous_audits': 1, "
            f"'previous_row_hash': '{store.audit(1).row_hash}', 'history_id': '{'0' * 32}'}}, not its "
            f"place in the chain {{'audit_id': 2, 'previous_audits': 1, 'previous_row_hash': "
            f"'{store.audit(1).row_hash}', 'history_id': '{store.history_id}'}}"]
