"""A decision sheet's folder: written whole or not at all and never over other bytes, signed as an
audit's report is, recorded in the history, and verified with the audit it names
(``auditkit/decision/dossier.py``, ``auditkit verify SHEET``, ``auditkit history --decisions``)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
from pathlib import Path
from unittest import mock

import pytest

from auditkit.cli import main
from auditkit.decision import dossier
from auditkit.decision.dossier import SheetError, SheetExistsError, record_sheet, verify_sheet, write_sheet
from auditkit.history import HistoryError
from auditkit.signing.options import SigningOptions

from .conftest import CHECKPOINT, Audited, sheet_files, sheet_json

UNSIGNED = ["sheet.json", "sheet.html", "sheet.pdf"]
SIGNED = [*UNSIGNED, "sheet.json.p7s", "sheet.html.p7s"]


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def signed_sheet(audited: Audited, decision_id: str = "d-1", **changes: object) -> Path:
    """A sheet of ``audited``'s audit written, signed by its signer, and recorded; its folder."""
    data = sheet_json(audited.out, decision_id, **changes)
    folder = audited.out / "decisions" / decision_id
    write_sheet(folder, sheet_files(data), SigningOptions(key=audited.key))
    record_sheet(audited.db, data)
    return folder


def verify(folder: Path, audited: Audited, *extra: str) -> int:
    return main(["verify", str(folder), "--trust", str(audited.ca), *extra])


# Writing -----------------------------------------------------------------------------------------

def test_an_unsigned_sheet_is_written_in_order_and_again_only_as_it_is(tmp_path: Path,
                                                                       audited: Audited) -> None:
    files = sheet_files(sheet_json(audited.out, "d-1"))
    folder = tmp_path / "decisions" / "d-1"
    written = write_sheet(folder, files)
    assert written == [folder / name for name in UNSIGNED]
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == files
    assert sorted(p.name for p in folder.parent.iterdir()) == ["d-1"]  # no staging folder left
    assert write_sheet(folder, files) == written  # the same sheet again: left as it is
    other = sheet_files(sheet_json(audited.out, "d-1", created="2026-04-02T09:00:00+00:00"))
    with pytest.raises(SheetExistsError, match=r"d-1 holds another decision sheet \(sheet.json holds "
                                               r"other bytes\): auditkit never overwrites a sheet"):
        write_sheet(folder, other)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == files
    (folder / "notes.txt").write_text("x")
    with pytest.raises(SheetExistsError, match=r"notes.txt is not a file of this sheet"):
        write_sheet(folder, files)


def test_an_empty_folder_is_filled_and_a_partial_one_refused(tmp_path: Path, audited: Audited) -> None:
    files = sheet_files(sheet_json(audited.out, "d-1"))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert [p.name for p in write_sheet(empty, files)] == UNSIGNED
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "sheet.json").write_bytes(files["sheet.json"])
    with pytest.raises(SheetExistsError, match=r"sheet.html is missing"):
        write_sheet(partial, files)
    assert [p.name for p in partial.iterdir()] == ["sheet.json"]


@pytest.mark.parametrize(("files", "message"), [
    ({"sheet.html": b"x", "sheet.json": b"{}"},
     r"a sheet's files begin with sheet.json, got \['sheet.html'\]"),
    ({}, r"a sheet's files begin with sheet.json, got none"),
    ({"sheet.json": None, "../x": b""}, r"'../x' is not a plain file name"),
    ({"sheet.json": None, ".hidden": b""}, r"'.hidden' is not a plain file name"),
    ({"sheet.json": None, "a\nb": b""}, r"'a\\nb' is not a plain file name"),
    ({"sheet.json": None, "sheet.html": "text"}, r"sheet.html must be bytes, got str"),
    ({"sheet.json": b"[1]"}, r"sheet.json is not a decision sheet's sheet.json: its kind is not "),
    ({"sheet.json": b"not json"}, r"sheet.json is not a decision sheet's sheet.json: Expecting value"),
])
def test_bad_files_are_refused_before_anything_is_written(tmp_path: Path, audited: Audited, files: dict,
                                                          message: str) -> None:
    files = {k: sheet_json(audited.out, "d-1") if v is None else v for k, v in files.items()}
    with pytest.raises(SheetError, match=message):
        write_sheet(tmp_path / "decisions" / "d-1", files)
    assert not (tmp_path / "decisions").exists()


@pytest.mark.parametrize(("change", "message"), [
    ({"audit_audit_id": "1"}, "audit.audit_id is of the wrong type"),
    ({"checkpoint_sha256": None}, "checkpoint_sha256 is of the wrong type"),
    ({"audit": {}}, "no 'audit_id'"),
])
def test_a_sheet_json_without_the_contract_keys_is_refused(tmp_path: Path, audited: Audited, change: dict,
                                                           message: str) -> None:
    files = sheet_files(sheet_json(audited.out, "d-1", **change))
    with pytest.raises(SheetError, match=message):
        write_sheet(tmp_path / "d-1", files)


def test_signing_needs_the_pdf_and_a_failure_writes_nothing(tmp_path: Path, audited: Audited) -> None:
    files = sheet_files(sheet_json(audited.out, "d-1"))
    del files["sheet.pdf"]
    with pytest.raises(SheetError, match=r"a signed sheet needs sheet.pdf, sheet.html, sheet.json; "
                                         r"sheet.pdf is missing"):
        write_sheet(tmp_path / "d-1", files, SigningOptions(key=audited.key))
    files = sheet_files(sheet_json(audited.out, "d-1"))
    real = dossier._atomic.write_bytes
    calls = []

    def dies_on_the_third(path: Path, data: bytes) -> None:
        calls.append(path.name)
        if len(calls) == 3:
            raise OSError(28, "No space left on device", str(path))
        real(path, data)

    with mock.patch.object(dossier._atomic, "write_bytes", dies_on_the_third), \
            pytest.raises(OSError, match="No space left"):
        write_sheet(tmp_path / "decisions" / "d-1", files, SigningOptions(key=audited.key))
    assert calls[0] == "sheet.json" and list((tmp_path / "decisions").iterdir()) == []  # nor staging


# Verifying ---------------------------------------------------------------------------------------

def test_a_signed_sheet_and_its_audit_verify(audited: Audited, capsys: pytest.CaptureFixture[str]) -> None:
    folder = signed_sheet(audited)
    assert sorted(p.name for p in folder.iterdir()) == sorted(SIGNED)
    assert verify(folder, audited) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == [f"{folder / name}: ok: " + lines[i].split(": ok: ")[1]
                         for i, name in enumerate(["sheet.pdf", "sheet.html", "sheet.json"])]
    assert lines[3] == ("sheet: OK: 3 of 3 signatures valid, trusted and covering their whole file; the "
                        "files are one decision sheet's (sheet.pdf embeds sheet.json and sheet.html)")
    assert lines[4].startswith("sheet: decision 'd-1' of 2026-04-01T09:00:00+00:00, under audit #1 of "
                               "policy 'sheets' (pass)")
    kept = next((audited.out / "audits").iterdir())
    assert lines[8].startswith("audit: OK: 3 of 3 signatures valid") and str(kept) in lines[5]
    assert lines[-3] == (f"audit: {kept} is the audit the sheet names (results.json, report.pdf and "
                         "deployed checkpoint digests, id, history, policy and verdict)")
    assert lines[-2].startswith("history: the audit and the sheet are in ")
    assert lines[-1].startswith("OK: ")
    assert verify(folder, audited, "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["ok"] and summary["sheet"]["checkpoint_sha256"] == CHECKPOINT
    assert summary["audit"]["folder"] == str(kept) and summary["history"]["ok"]


@pytest.mark.parametrize("name", ["sheet.json", "sheet.html", "sheet.pdf"])
def test_a_changed_byte_fails_naming_the_file(audited: Audited, name: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    folder = signed_sheet(audited)
    _flip(folder / name)
    assert verify(folder, audited, "--no-history") == 1
    out = capsys.readouterr().out
    status = "modified" if name != "sheet.pdf" else "(modified|invalid)"
    assert any(re.fullmatch(f"{folder / name}: {status}: .*", line) for line in out.splitlines()), out
    assert out.splitlines()[-1].startswith("FAILED: the sheet's signatures")


def test_files_of_two_sheets_are_not_one_sheet(audited: Audited, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = signed_sheet(audited, "d-1"), signed_sheet(audited, "d-2")
    for name in ("sheet.html", "sheet.html.p7s"):
        shutil.copy(second / name, first / name)
    assert verify(first, audited, "--no-history") == 1
    out = capsys.readouterr().out
    assert (f"{first / 'sheet.html'}: not of this dossier: sheet.html is not the copy sheet.pdf embeds: "
            "both are signed, but they are two sheets") in out


def test_without_a_trust_anchor_the_sheet_does_not_verify(audited: Audited,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    folder = signed_sheet(audited)
    assert main(["verify", str(folder)]) == 1
    assert "sheet: NOT VERIFIED: checked: 3 of 3 signatures intact, the files are one decision sheet's; " \
           "not checked: who signed" in capsys.readouterr().out


def test_a_sheet_naming_an_audit_that_does_not_verify_fails(audited: Audited,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    folder = signed_sheet(audited)
    kept = next((audited.out / "audits").iterdir())
    _flip(kept / "report.html")
    assert verify(folder, audited) == 1
    out = capsys.readouterr().out
    assert f"{kept / 'report.html'}: modified: " in out
    assert "audit: FAILED: 1 of 3 signature checks failed (modified)" in out
    assert out.splitlines()[-1] == "FAILED: the audit's signatures, the history"


def test_a_sheet_whose_audit_is_gone_fails(audited: Audited, capsys: pytest.CaptureFixture[str]) -> None:
    folder = signed_sheet(audited)
    shutil.rmtree(audited.out / "audits")
    assert verify(folder, audited) == 1
    out = capsys.readouterr().out
    assert f"audit: no kept dossier in {audited.out / 'audits'} has the results.json the sheet names" in out
    assert "history: not checked (the audit was not found)" in out
    moved = audited.out.parent / "elsewhere"
    shutil.copytree(folder, moved)
    assert verify(moved, audited, "--no-history") == 1
    assert f"{moved} is not in an out folder's decisions/: give the audit's dossier (--audit DIR)" in \
        capsys.readouterr().out
    assert verify(moved, audited, "--no-history", "--audit", str(audited.out)) == 0  # the top: that audit


@pytest.mark.parametrize(("change", "line"), [
    ({"audit_verdict": "fail"}, "the sheet names verdict 'fail', the audit's is 'pass'"),
    ({"checkpoint_sha256": "0" * 64}, f"the sheet names deployed checkpoint sha256 '{'0' * 64}', the "
                                      f"audit's is '{CHECKPOINT}'"),
    ({"audit_report_sha256": "1" * 64}, "the sheet names report.pdf sha256 '" + "1" * 64 + "'"),
    ({"audit_audit_id": 2}, "the sheet names audit id 2, the audit's is 1"),
])
def test_a_sheet_whose_figures_are_not_its_audits_fails(audited: Audited, change: dict, line: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    data = sheet_json(audited.out, "d-1", **change)
    folder = audited.out / "decisions" / "d-1"
    write_sheet(folder, sheet_files(data), SigningOptions(key=audited.key))
    found = verify_sheet(folder, [audited.ca])
    assert found.signatures.bottom_line and found.audit is not None and found.audit.bottom_line
    assert not found.bottom_line and any(p.startswith(line) for p in found.problems), found.problems
    assert verify(folder, audited, "--no-history") == 1
    assert f"audit: {line}" in capsys.readouterr().out


def test_verify_of_a_sheet_holds_it_to_its_history_row(audited: Audited,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    data = sheet_json(audited.out, "d-1")
    folder = audited.out / "decisions" / "d-1"
    write_sheet(folder, sheet_files(data), SigningOptions(key=audited.key))
    assert verify(folder, audited) == 1  # written, not recorded
    assert f"history: database: no decision sheet is recorded in {audited.db} for decisions/d-1/" in \
        capsys.readouterr().out
    record_sheet(audited.db, data)
    assert verify(folder, audited, "--strict", "--quiet") == 0
    assert capsys.readouterr().out == ""
    audited.db.rename(audited.out / "moved.sqlite")
    assert verify(folder, audited, "--strict") == 2
    assert f"auditkit: error: no audit history at {audited.db}" in capsys.readouterr().err


def test_verify_of_a_folder_that_is_no_sheet(audited: Audited, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(audited.out), "--audit", str(audited.out), "--trust", str(audited.ca)]) == 2
    assert "--audit is for a decision sheet's folder" in capsys.readouterr().err
    from auditkit.signing import VerificationInputError

    with pytest.raises(VerificationInputError, match=r"holds no sheet\.json: give a decision sheet's folder"):
        verify_sheet(tmp_path)


# The history ---------------------------------------------------------------------------------------

def test_sheets_are_listed_by_audit(audited: Audited, capsys: pytest.CaptureFixture[str]) -> None:
    signed_sheet(audited, "d-1")
    signed_sheet(audited, "d-2")
    assert main(["history", "--decisions", "--db", str(audited.out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["row", "audit", "decision", "created", "(UTC)", "sheet.json", "sha256",
                                "folder"]
    sha = hashlib.sha256((audited.out / "decisions" / "d-2" / "sheet.json").read_bytes()).hexdigest()
    assert lines[2].split() == ["2", "#1", "d-2", "2026-04-01", "09:00:00", sha[:16], "decisions/d-2"]
    assert main(["history", "--decisions", "1", "--db", str(audited.out), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["decision_id"] for row in rows] == ["d-1", "d-2"] and rows[1]["sheet_sha256"] == sha
    assert set(rows[1]["files"]) == set(SIGNED) and rows[1]["files"]["sheet.json"] == sha
    assert main(["history", "--decisions", "7", "--db", str(audited.out)]) == 2
    assert "no audit #7 in " in capsys.readouterr().err


def test_recording_the_same_sheet_again_returns_its_row(audited: Audited) -> None:
    folder = signed_sheet(audited)
    data = (folder / "sheet.json").read_bytes()
    assert record_sheet(audited.db, data) == record_sheet(audited.db, data, folder) == 1
    conn = sqlite3.connect(audited.db, isolation_level=None)
    assert conn.execute("SELECT count(*) FROM decisions").fetchone()[0] == 1
    for statement in ("UPDATE decisions SET sheet_sha256 = ''", "DELETE FROM decisions"):
        with pytest.raises(sqlite3.IntegrityError, match="decisions is append-only"):
            conn.execute(statement)


@pytest.mark.parametrize(("change", "error", "message"), [
    ({"audit_audit_id": 5}, HistoryError, r"cannot record decision 'd-1': its audit #5 is not in "),
    ({"audit_audit_id": None}, SheetError, r"names an audit recorded in no history"),
    ({"audit_history_id": "0" * 32}, HistoryError, r"its audit is of another history \(id 0{32}\)"),
    ({"audit_results_sha256": "2" * 64}, HistoryError, r"audit #1 in .* stores another results.json"),
])
def test_a_sheet_is_recorded_only_under_its_own_audit(audited: Audited, change: dict, error: type,
                                                      message: str) -> None:
    data = sheet_json(audited.out, "d-1", **change)
    write_sheet(audited.out / "decisions" / "d-1", sheet_files(data))
    with pytest.raises(error, match=message):
        record_sheet(audited.db, data)


def test_recording_needs_the_written_sheet(audited: Audited) -> None:
    data = sheet_json(audited.out, "d-1")
    with pytest.raises(SheetError, match=r"decisions/d-1/sheet.json cannot be read .*: write the sheet"):
        record_sheet(audited.db, data)
    write_sheet(audited.out / "decisions" / "d-1", sheet_files(data))
    other = sheet_json(audited.out, "d-1", created="2026-05-01T00:00:00+00:00")
    with pytest.raises(SheetError, match=r"is another sheet.json than the one to record"):
        record_sheet(audited.db, other)
    with pytest.raises(HistoryError, match="no audit history at "):
        record_sheet(audited.out / "nowhere.sqlite", data, audited.out / "decisions" / "d-1")


def test_history_check_covers_recorded_sheets(audited: Audited, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = signed_sheet(audited, "d-1"), signed_sheet(audited, "d-2")
    check = ["history", "--check", "--db", str(audited.out), "--trust", str(audited.ca)]
    assert main(check) == 0
    assert capsys.readouterr().out.endswith("; 2 decision sheet(s) as recorded\n")
    _flip(second / "sheet.pdf")
    shutil.rmtree(first)
    assert main(check) == 2
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("audit #1: decision 'd-1': sheet file decisions/d-1/sheet.html is missing ")
    assert sum("decision 'd-1'" in line for line in out) == len(SIGNED)
    assert out[-1].startswith("audit #1: decision 'd-2': sheet file decisions/d-2/sheet.pdf was changed "
                              "(sha256 recorded ")


def test_history_check_finds_a_sheet_no_row_records(audited: Audited,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    data = sheet_json(audited.out, "d-1")
    write_sheet(audited.out / "decisions" / "d-1", sheet_files(data))
    write_sheet(audited.out / "decisions" / "other", sheet_files(sheet_json(
        audited.out, "other", audit_history_id="0" * 32)))  # another history's: not judged
    assert main(["history", "--check", "--db", str(audited.out)]) == 2
    assert capsys.readouterr().out == ("audit #1: the decision sheet decisions/d-1/ names this audit but no "
                                       "row records it: its row was removed, or it was never recorded\n")
    record_sheet(audited.db, data)
    assert main(["history", "--check", "--db", str(audited.out)]) == 0


def test_a_version_3_database_gains_the_decisions_table(tmp_path: Path, audited: Audited) -> None:
    """An out folder whose history was written before decisions were recorded: opening it migrates."""
    from auditkit.history import MIGRATIONS, SCHEMA_VERSION, HistoryStore, check_history

    conn = sqlite3.connect(audited.db, isolation_level=None)
    for statement in ("DROP TRIGGER decisions_no_update", "DROP TRIGGER decisions_no_delete",
                      "DROP TABLE decisions", "PRAGMA user_version = 3"):
        conn.execute(statement)  # the file as auditkit with schema 3 left it
    conn.close()
    assert SCHEMA_VERSION == len(MIGRATIONS) == 4
    with HistoryStore.open(audited.db) as store:
        assert store.decisions() == [] and check_history(store).ok
    assert sqlite3.connect(audited.db).execute("PRAGMA user_version").fetchone()[0] == 4
    folder = signed_sheet(audited)
    with HistoryStore.open(audited.db, create=False) as store:
        (row,) = store.decisions(1)
        assert (row.decision_id, row.audit_id, row.folder) == ("d-1", 1, "decisions/d-1")
        assert row.sheet_sha256 == hashlib.sha256((folder / "sheet.json").read_bytes()).hexdigest()
        assert store.decisions(2) == []
