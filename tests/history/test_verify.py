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


def test_kept_dossiers_are_held_to_the_chain(tmp_path, document) -> None:
    """A kept dossier the chain does not list is one problem naming its audit: beyond the chain's
    end, extending another head, or stored otherwise; another database's is counted, not judged."""
    from auditkit.history import HistoryStore, check_history

    with HistoryStore.open(tmp_path / "history.sqlite") as store:
        for _ in range(2):
            stamp = store.head().stamp()
            store.finish_run(store.start_run("p", "f" * 64, tmp_path),
                             document(history=stamp).to_json().decode(), {})
        first, second = store.chain()
        ours = store.history_id

        def keep(name: str, **stamp: object) -> None:
            folder = tmp_path / "audits" / name
            folder.mkdir(parents=True)
            data = document(created="2026-05-01T00:00:00+00:00", history=stamp).to_json()
            (folder / "results.json").write_bytes(data)

        keep("0002-listed", audit_id=2, previous_audits=1, previous_row_hash=first.row_hash, history_id=ours)
        (tmp_path / "audits" / "0002-listed" / "results.json").write_text(second.summary_json or "")
        keep("0003-beyond", audit_id=3, previous_audits=2, previous_row_hash=second.row_hash, history_id=ours)
        keep("0002-rewritten", audit_id=2, previous_audits=1, previous_row_hash="ab" * 32, history_id=ours)
        keep("0002-other", audit_id=2, previous_audits=1, previous_row_hash=first.row_hash, history_id=ours)
        keep("0001-foreign", audit_id=1, previous_audits=0, previous_row_hash="0" * 64, history_id="c" * 32)
        report = check_history(store)
    claim = "its kept dossier audits/{} says it was appended to a history of {} audit(s) with head {}..."
    assert [str(p) for p in report.problems] == [
        "audit #2: " + claim.format("0002-other/", 1, first.row_hash[:16])
        + ", but the history's audit #2 stores another results.json",
        "audit #2: " + claim.format("0002-rewritten/", 1, "ab" * 8)
        + f", but the history's head there is {first.row_hash[:16]}...: the history was rewritten",
        "audit #3: " + claim.format("0003-beyond/", 2, second.row_hash[:16])
        + ", but the history ends at audit #2: audits were removed from its end, or the database was "
          "replaced"]
    assert (report.kept_listed, report.kept_foreign) == (1, 1)
