"""``auditkit run`` records every audit: finished, failed, killed, refused while another runs."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auditkit.cli import main
from auditkit.errors import AuditError
from auditkit.history import HistoryStore, check_history

HOLDER = Path(__file__).with_name("_hold_lock.py")


def test_each_run_is_recorded_with_its_files(recorded) -> None:
    results = recorded.out / "results.json"
    with HistoryStore.open(recorded.db) as store:
        second, first = store.audits()
        runs = store.runs()
    summary = json.loads(results.read_text())
    assert (second.id, first.id) == (2, 1)
    assert second.summary_json == results.read_text()
    assert second.status == "finished" and second.verdict == summary["verdict"] == "pass"
    assert second.policy_name == "history-tiny"
    assert second.policy_sha256 == summary["policy"]["sha256"]
    assert second.dataset_fingerprint == summary["dataset"]["fingerprint_sha256"]
    assert json.loads(second.model_digests_json or "") == \
        [fold["checkpoint_sha256"] for fold in summary["folds"]]
    top = {"results.json", "summary.txt", "report.html", "report.pdf"}
    assert set(second.report_files) == top | {f"audits/0002/{name}" for name in top}  # and its kept copy
    assert [(run.status, run.audit_id, run.pid) for run in runs] == \
        [("finished", 1, os.getpid()), ("finished", 2, os.getpid())]
    assert first.started_at <= first.finished_at <= second.started_at


@pytest.mark.parametrize(("raised", "code", "reason"), [
    (AuditError("the data vanished"), 2, "AuditError: the data vanished"),
    (KeyboardInterrupt(), 130, "interrupted (Ctrl-C)"),
])
def test_a_run_that_raises_is_recorded_as_failed(
    tmp_path: Path, history_policy: Path, monkeypatch: pytest.MonkeyPatch, raised: BaseException,
    code: int, reason: str,
) -> None:
    def run_audit(*_: object, **__: object) -> None:
        raise raised

    monkeypatch.setattr("auditkit.engine.run_audit", run_audit)
    assert main(["run", str(history_policy), "--out", str(tmp_path / "out"), "--quiet"]) == code
    with HistoryStore.open(tmp_path / "out" / "history.sqlite") as store:
        (audit,) = store.audits()
        assert (audit.status, audit.error, audit.summary_json) == ("failed", reason, None)
        assert check_history(store).ok


def test_db_option_places_the_history(tmp_path: Path, history_policy: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def run_audit(*_: object, **__: object) -> None:
        raise AuditError("stop")

    monkeypatch.setattr("auditkit.engine.run_audit", run_audit)
    db = tmp_path / "elsewhere" / "audits.sqlite"
    assert main(["run", str(history_policy), "--out", str(tmp_path / "out"), "--db", str(db)]) == 2
    assert db.is_file() and not (tmp_path / "out" / "history.sqlite").exists()


def test_a_second_run_exits_2_while_one_holds_the_lock(tmp_path: Path, history_policy: Path) -> None:
    out = tmp_path / "out"
    db = out / "history.sqlite"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, str(HOLDER), str(db)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdin is not None
    assert holder.stdout.readline() == "locked\n"
    second = subprocess.run([sys.executable, "-m", "auditkit", "run", str(history_policy),
                             "--out", str(out)], capture_output=True, text=True, timeout=120)
    holder.stdin.close()
    assert holder.wait(timeout=60) == 0
    assert (second.returncode, second.stdout) == (2, "")
    assert second.stderr.endswith(f"auditkit: error: another audit is running on {db} "
                                  f"(pid {holder.pid}); try again later\n")
    assert not db.exists() and not (out / "work").exists()  # refused before anything was written


def _running_pid(db: Path) -> int | None:
    conn = sqlite3.connect(db)
    try:
        row = conn.execute("SELECT pid FROM runs WHERE status = 'running'").fetchone()
    finally:
        conn.close()
    return None if row is None else int(row[0])


def test_a_killed_run_is_marked_failed_by_the_next(history_copy,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "auditkit", "run", str(history_copy.policy),
                             "--out", str(history_copy.out), "--quiet"])
    deadline = time.monotonic() + 120
    while _running_pid(history_copy.db) != proc.pid:
        assert proc.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert history_copy.run() == 0
    assert capsys.readouterr() == ("", "")  # --quiet: nothing on success
    with HistoryStore.open(history_copy.db) as store:
        newest, killed, *_ = store.audits()
        runs = store.runs()
        assert check_history(store).ok
    assert (newest.id, newest.status) == (4, "finished")
    assert (killed.id, killed.status, killed.summary_json) == (3, "failed", None)
    assert f"process {proc.pid} on " in (killed.error or "")
    assert [(run.pid, run.status, run.audit_id) for run in runs[2:]] == \
        [(proc.pid, "failed", 3), (os.getpid(), "finished", 4)]


def test_fail_on_regression(history_copy, capsys: pytest.CaptureFixture[str]) -> None:
    summary = json.loads((history_copy.out / "results.json").read_text())
    fidelity = summary["explainers"]["saliency"]["scores"]["mu_fidelity"]
    for bound in ("value", "ci_low", "ci_high"):
        fidelity[bound] += 1.0  # far above this audit's interval
    with HistoryStore.open(history_copy.db) as store:
        run = store.start_run("history-tiny", summary["policy"]["sha256"], history_copy.out)
        better = store.finish_run(run, json.dumps(summary), {})
    capsys.readouterr()
    assert history_copy.run("--fail-on-regression") == 1
    printed = capsys.readouterr().out
    assert printed.startswith(f"REGRESSION since audit #{better.id} (")
    assert "1 score(s) of audit #4 dropped with disjoint CIs" in printed
    assert "\n  saliency mu_fidelity: " in printed and "(-1.000)" in printed
    with HistoryStore.open(history_copy.db) as store:
        assert store.audit(4).verdict == "pass"  # exit 1 for the regression alone
