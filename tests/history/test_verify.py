"""``auditkit history --check``: a tampered row, a changed or missing report file, a moved folder."""

from __future__ import annotations

import json
import sqlite3

import pytest

from auditkit.cli import main


def check(history, *extra: str) -> int:
    return main(["history", "--check", "--db", str(history.db), *extra])


def test_a_moved_history_verifies(history_copy, capsys: pytest.CaptureFixture[str]) -> None:
    assert check(history_copy) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{history_copy.db}: hash chain verified, 2 audit(s), head audit #2 ")
    assert out.endswith("12 report file(s) match their digests (4 superseded by later audits); 2 kept "
                        "dossier(s) listed by the chain\n")


def test_a_changed_score_names_the_audit(history_copy, capsys: pytest.CaptureFixture[str]) -> None:
    conn = sqlite3.connect(history_copy.db, isolation_level=None)
    summary = json.loads(conn.execute("SELECT summary_json FROM audits WHERE id = 1").fetchone()[0])
    summary["explainers"]["saliency"]["scores"]["mu_fidelity"]["value"] = 0.99
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audits SET summary_json = ? WHERE id = 1", (json.dumps(summary),))
    conn.execute("DROP TRIGGER audits_no_update")  # as a tamperer would
    conn.execute("UPDATE audits SET summary_json = ? WHERE id = 1", (json.dumps(summary),))
    conn.close()
    capsys.readouterr()
    assert check(history_copy) == 2
    captured = capsys.readouterr()
    # ... and audit #1's kept dossier (audits/0001-<digest>/) no longer matches what its row stores
    kept = next((history_copy.out / "audits").glob("0001-*")).name
    assert captured.out == ("audit #1: row_hash does not match the row: it was changed after it "
                            "was recorded\n"
                            f"database: audits/{kept}/results.json on disk is audit #1's, but the history's "
                            "audit #1 stores another results.json: the database was replaced or rewritten\n")
    assert captured.err == (f"auditkit: error: history check of {history_copy.db} found 2 "
                            "problem(s)\n")


def test_changed_and_missing_report_files(history_copy, capsys: pytest.CaptureFixture[str]) -> None:
    with (history_copy.out / "results.json").open("a") as results:
        results.write(" ")
    (history_copy.out / "summary.txt").unlink()
    capsys.readouterr()
    assert check(history_copy, "--json") == 2
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["audits"] == 2
    problems = {(p["audit_id"], p["file"]): p["message"] for p in report["problems"]}
    assert set(problems) == {(2, "results.json"), (2, "summary.txt")}
    assert problems[(2, "results.json")].startswith("report file results.json was changed (sha256 "
                                                    "recorded ")
    assert problems[(2, "summary.txt")] == \
        f"report file summary.txt is missing ({history_copy.out / 'summary.txt'})"
