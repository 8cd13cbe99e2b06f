"""End-to-end audits of a tiny digits policy: determinism, resume after kill -9, exit codes.

One audit of the tiny policy (:func:`tiny_run` of conftest.py) is shared: the determinism and the
kill -9 tests compare against it, and the tests of the exit codes and outputs start from a copy of
its work files (what they check does not depend on training the folds again).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from auditkit.cli import main
from auditkit.results import SCHEMA_VERSION, AuditDocument, Reused

from .conftest import TinyRun, write_tiny_policy


def load(results: Path) -> AuditDocument:
    return AuditDocument.from_json(results.read_bytes())


def scores(results: Path) -> dict:
    doc = load(results)
    return {"folds": doc.folds, "accuracy": doc.accuracy, "explainers": doc.explainers,
            "thresholds": doc.thresholds}


NOTHING_REUSED = Reused(folds=(), explainers=(), sanity=())


def test_two_runs_give_identical_numbers(tiny_run: TinyRun, tmp_path: Path) -> None:
    assert main(["run", str(tiny_run.policy), "--out", str(tmp_path / "b"), "--quiet"]) == 0
    a, b = scores(tiny_run.out / "results.json"), scores(tmp_path / "b" / "results.json")
    assert a == b
    doc = load(tiny_run.out / "results.json")
    assert doc.schema_version == SCHEMA_VERSION == 2
    assert doc.dataset.n_images == 360
    assert set(doc.explainers) == {"saliency", "gradcam", "random"}
    sal = doc.explainers["saliency"]
    assert sal.scores["mege"].low <= sal.scores["mege"].value <= sal.scores["mege"].high
    assert sal.n_s_eq > 0
    for run in (tiny_run.out, tmp_path / "b"):
        doc = load(run / "results.json")
        assert doc.reused_from_earlier_run == NOTHING_REUSED
        assert doc.sanity_checks == {}  # both disabled in the tiny policy


def test_rerun_reuses_finished_work(tiny_run: TinyRun, tmp_path: Path) -> None:
    out = Path(shutil.copytree(tiny_run.out, tmp_path / "out"))  # a finished run, history and all
    first = scores(out / "results.json")
    assert main(["run", str(tiny_run.policy), "--out", str(out), "--quiet"]) == 0
    assert load(out / "results.json").reused_from_earlier_run == Reused(
        folds=(0, 1, 2), explainers=("saliency", "gradcam", "random"), sanity=())
    assert scores(out / "results.json") == first


def test_an_upgrade_redoes_the_work_instead_of_reusing_it(tiny_run: TinyRun, tmp_path: Path,
                                                         monkeypatch) -> None:
    from auditkit import _version
    from auditkit.engine import keys

    out = Path(shutil.copytree(tiny_run.out, tmp_path / "out"))  # a finished run's work files
    first = scores(out / "results.json")
    before = keys.producers()
    monkeypatch.setattr(_version, "__version__", _version.__version__ + ".post1")  # a faked upgrade
    assert keys.producers() != before
    assert main(["run", str(tiny_run.policy), "--out", str(out), "--quiet"]) == 0
    doc = load(out / "results.json")
    assert doc.reused_from_earlier_run == NOTHING_REUSED
    assert doc.auditkit_version.endswith(".post1")
    again = scores(out / "results.json")
    # Redone, and the same numbers; the checkpoint files differ only by the key they store.
    assert [f.accuracy for f in again.pop("folds")] == [f.accuracy for f in first.pop("folds")]
    assert again == first


def test_killed_run_resumes_and_matches(tiny_run: TinyRun, tmp_path: Path) -> None:
    policy, reference = tiny_run.policy, tiny_run.out
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "auditkit", "run", str(policy), "--out", str(out), "--quiet"]
    proc = subprocess.Popen(cmd, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + 900  # a guard against a hang, not a speed target
    try:
        while not (out / "work" / "fold_0.pt").exists():
            assert proc.poll() is None, "the audit ended before its first fold was saved"
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert not (out / "results.json").exists()
    assert main(["run", str(policy), "--out", str(out), "--quiet"]) == 0
    assert 0 in load(out / "results.json").reused_from_earlier_run.folds
    assert scores(out / "results.json") == scores(reference / "results.json")
    assert not list((out / "work").glob("*.tmp")), "temp files of the killed run are cleaned up"


def test_failed_threshold_exits_1_and_still_writes(tiny_run: TinyRun, tmp_path: Path, capsys) -> None:
    policy = write_tiny_policy(tmp_path, mege=0.999)  # the thresholds are in no work file's key
    out = tiny_run.work_into(tmp_path / "o")
    assert main(["run", str(policy), "--out", str(out), "--quiet"]) == 1
    doc = load(out / "results.json")
    assert doc.verdict == "fail" and not doc.passed
    assert doc.requirements[0].met is False
    failed = tuple(c.subject for c in doc.thresholds if c.threshold == "T1")
    assert doc.requirements[0].failed_checks == failed
    assert "FAIL T1" in capsys.readouterr().out
    assert (out / "report.pdf").exists() and (out / "report.html").exists()


def test_json_output(tiny_run: TinyRun, tmp_path: Path, capsys) -> None:
    work = tiny_run.work_into(tmp_path / "o")
    assert main(["run", str(tiny_run.policy), "--out", str(work), "--json"]) == 0
    out = capsys.readouterr().out
    printed = AuditDocument.from_json(out)
    assert printed.verdict == "pass"
    # Exactly the bytes of the results.json that is recorded (and signed): one `created`, not two.
    assert out.encode("utf-8") == (work / "results.json").read_bytes()


def test_bad_policy_exits_2_naming_file(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: x\ndataset:\n  kind: digits\n  colour: red\n")
    assert main(["run", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and ":5:" in err and "colour" in err
