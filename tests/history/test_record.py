"""``auditkit run`` records every audit: finished, failed, killed, refused while another runs."""

from __future__ import annotations

import hashlib
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
    kept = f"audits/0002-{hashlib.sha256(results.read_bytes()).hexdigest()[:12]}"
    assert set(second.report_files) == top | {f"{kept}/{name}" for name in top}  # and its kept copy
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


def test_a_second_run_into_the_same_out_folder_exits_2_whatever_its_database(
        tmp_path: Path, history_policy: Path) -> None:
    """Two runs at once into one out folder with two databases: the second is refused before it
    writes anything, as they would mix their dossiers at the top of the folder."""
    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, str(HOLDER), str(tmp_path / "first.sqlite"), str(out)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdin is not None
    assert holder.stdout.readline() == "locked\n"
    second = subprocess.run([sys.executable, "-m", "auditkit", "run", str(history_policy), "--out",
                             str(out), "--db", str(tmp_path / "second.sqlite")],
                            capture_output=True, text=True, timeout=120)
    holder.stdin.close()
    assert holder.wait(timeout=60) == 0
    assert (second.returncode, second.stdout) == (2, "")
    assert second.stderr.endswith(f"auditkit: error: another audit is running on {out} "
                                  f"(pid {holder.pid}); try again later\n")
    assert second.stderr.count("auditkit: error:") == 1  # after the policy's digest, logged first
    assert not (out / "work").exists() and not (out / "audits").exists()
    assert not (tmp_path / "second.sqlite").exists()


def _kept(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in (out / "audits").rglob("*")
            if p.is_file()}


def test_two_databases_keep_their_dossiers_apart(history_copy, capsys: pytest.CaptureFixture[str]) -> None:
    """A run with a second database into an out folder the first one's two audits wrote: both have
    an audit #1, each kept in its own folder, nothing of the first overwritten; each history checks
    clean and counts the other's dossiers without judging them."""
    out, second = history_copy.out, history_copy.folder / "second.sqlite"
    before = _kept(out)
    assert history_copy.run("--db", str(second)) == 0
    after = _kept(out)
    assert {k: v for k, v in after.items() if k in before} == before
    ones = sorted(p.name for p in (out / "audits").glob("0001-*"))
    assert len(ones) == 2 and len(after) == len(before) * 3 // 2
    capsys.readouterr()
    assert main(["history", "--check", "--db", str(history_copy.db)]) == 0
    assert capsys.readouterr().out.endswith("; 2 kept dossier(s) listed by the chain, 1 of other "
                                            "histories\n")
    assert main(["history", "--check", "--db", str(second)]) == 0
    assert capsys.readouterr().out.endswith("; 1 kept dossier(s) listed by the chain, 2 of other "
                                            "histories\n")
    with HistoryStore.open(second) as store:
        (row,) = store.audits()
    mine = out / "audits" / next(name for name in ones if f"audits/{name}/results.json" not in before)
    assert row.summary_json == (mine / "results.json").read_text()
    assert main(["verify", str(mine), "--db", str(second)]) == 1  # unsigned, but in its history
    said = [line for line in capsys.readouterr().out.splitlines() if line.startswith("history: ")]
    assert said == ["history: audit #1: its row is not signed, so its chain hash does not prove the "
                    "signer recorded it"]
    assert main(["verify", str(mine)]) == 1  # the out folder's database is the other history
    assert "history: audit #1: this dossier is of another history (id " in capsys.readouterr().out


def test_a_run_refuses_to_overwrite_a_dossier_it_cannot_keep(history_copy,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """The report at the top is not the one kept for its audit (changed, or another run's): the run
    stops with one line before overwriting it, and nothing kept is touched."""
    (history_copy.out / "report.html").write_text("<p>not audit #2's</p>")
    before = _kept(history_copy.out)
    capsys.readouterr()
    assert history_copy.run() == 2
    err = capsys.readouterr().err
    assert err.startswith(f"auditkit: error: {history_copy.out / 'report.html'} differs from its kept "
                          f"copy {history_copy.out / 'audits'}/0002-")
    assert err.endswith(": auditkit never overwrites a kept dossier; move the one that is not an "
                        "audit's away and run again\n") and err.count("\n") == 1
    assert _kept(history_copy.out) == before
    assert (history_copy.out / "report.html").read_text() == "<p>not audit #2's</p>"
