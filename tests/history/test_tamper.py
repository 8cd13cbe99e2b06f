"""The tamper tables of the history: ``history --check`` and ``verify --trust --strict`` against
someone who can write every file but lacks the signing key (or signs with a key of their own).

The fixture is three signed audits into one folder (:func:`signed_history`); each attack changes a
private copy. Rewrites recompute the hash chain, as anyone who reads :mod:`auditkit.history.chain`
can; only the chain signatures cannot be recomputed without the key.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from auditkit.cli import main
from auditkit.history import HistoryStore
from auditkit.history.chain import GENESIS, row_hash, signed_message
from auditkit.signing import signer_fingerprint
from auditkit.signing.cms import sign_detached

Row = dict[str, Any]


def rewrite(db: Path, change: Callable[[list[Row]], list[Row]], *, recompute: bool = True) -> None:
    """Apply ``change`` to the rows of ``audits`` (oldest first) and write them back, renumbered and
    with the chain recomputed unless ``recompute`` is false; the chain signatures are kept as they are."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("DROP TRIGGER audits_no_update")
    conn.execute("DROP TRIGGER audits_no_delete")
    rows = change([dict(row) for row in conn.execute("SELECT * FROM audits ORDER BY id")])
    if recompute:
        previous = GENESIS
        for index, row in enumerate(rows):
            row["id"], row["prev_hash"] = index + 1, previous
            row["row_hash"] = previous = row_hash(
                {k: v for k, v in row.items() if k not in ("row_hash", "chain_signature")})
    conn.execute("DELETE FROM audits")
    for row in rows:
        conn.execute(f"INSERT INTO audits ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                     tuple(row.values()))
    conn.close()


def _summary(row: Row, **changes: Any) -> Row:
    summary = json.loads(row["summary_json"])
    summary["explainers"]["saliency"]["scores"]["mu_fidelity"].update(changes)
    return {**row, "summary_json": json.dumps(summary, indent=2) + "\n"}


def _sign_as(signer: Any) -> Callable[[list[Row]], list[Row]]:
    """Recompute the chain and sign every row with ``signer``, as a forger with a key of their own."""
    def change(rows: list[Row]) -> list[Row]:
        previous = GENESIS
        for row in rows:
            row["prev_hash"], row["signer_fingerprint"] = previous, signer_fingerprint(signer)
            row["row_hash"] = previous = row_hash(
                {k: v for k, v in row.items() if k not in ("row_hash", "chain_signature")})
            row["chain_signature"] = sign_detached(signed_message(row["id"], row["row_hash"]), signer)
        return rows
    return change


def _forged_row(signer: Any = None) -> Callable[[list[Row]], list[Row]]:
    """Append a 'pass' audit copied from the newest, its scores raised; signed by ``signer`` if given."""
    def change(rows: list[Row]) -> list[Row]:
        forged = {**_summary(rows[-1], value=0.99), "id": len(rows) + 1, "chain_signature": None,
                  "prev_hash": rows[-1]["row_hash"], "signer_fingerprint": None}
        if signer is not None:
            forged["signer_fingerprint"] = signer_fingerprint(signer)
        forged["row_hash"] = row_hash({k: v for k, v in forged.items()
                                       if k not in ("row_hash", "chain_signature")})
        if signer is not None:
            forged["chain_signature"] = sign_detached(signed_message(forged["id"], forged["row_hash"]),
                                                      signer)
        return [*rows, forged]
    return change


def _files(row: Row, **digests: str) -> Row:
    return {**row, "report_files_json": json.dumps({**json.loads(row["report_files_json"]), **digests},
                                                   sort_keys=True)}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _swap_pdf_and_record_it(h: Any, _: Any) -> None:
    shutil.copy(h.previous / "report.pdf", h.out / "report.pdf")
    digest = _sha(h.out / "report.pdf")
    rewrite(h.db, lambda rows: [*rows[:-1], _files(rows[-1], **{"report.pdf": digest})])


def _empty_file(h: Any, _: Any) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{h.db}{suffix}").unlink(missing_ok=True)
    h.db.write_bytes(b"")


def _other_sqlite(h: Any, _: Any) -> None:
    _empty_file(h, _)
    sqlite3.connect(h.db).execute("CREATE TABLE notes (text TEXT)").connection.close()


def _older_copy(h: Any, _: Any) -> None:
    _empty_file(h, _)
    shutil.copy(h.previous / "history.sqlite", h.db)


def _set_signature(index: int, value: Callable[[list[Row]], Any]) -> Callable[[Any, Any], None]:
    def attack(h: Any, _: Any) -> None:
        def change(rows: list[Row]) -> list[Row]:
            rows[index] = {**rows[index], "chain_signature": value(rows)}
            return rows
        rewrite(h.db, change, recompute=False)
    return attack


def _delete_newest_and_restore_top(h: Any, _: Any) -> None:
    """Remove audit #3's row (triggers dropped and restored) and put audit #2's dossier back at the
    top, as it was before #3 ran: only #3's kept dossier in audits/ is left to tell."""
    rewrite(h.db, lambda rows: rows[:-1])
    _restore_triggers_and_top(h)


def _restore_triggers_and_top(h: Any) -> None:
    conn = sqlite3.connect(h.db, isolation_level=None)
    for kind in ("update", "delete"):
        conn.execute(f"CREATE TRIGGER audits_no_{kind} BEFORE {kind.upper()} ON audits BEGIN SELECT "
                     f"RAISE(ABORT, 'audits is append-only'); END")
    conn.close()
    for name in ("report.pdf", "report.html", "results.json", "report.html.p7s", "results.json.p7s",
                 "summary.txt"):
        shutil.copy(h.previous / name, h.out / name)


def _replace_newest(h: Any, _: Any) -> None:
    """Audit #3's row replaced by an unsigned one storing another results.json, chain recomputed."""
    rewrite(h.db, lambda rows: [*rows[:-1], {**_summary(rows[-1], value=0.99), "chain_signature": None,
                                             "report_files_json": "{}"}])
    _restore_triggers_and_top(h)


Attack = Callable[[Any, Any], None]
"""``attack(signed_copy, mallory)``: changes the copy in place."""

CHECK_ATTACKS: dict[str, tuple[Attack, str]] = {
    "the newest audit deleted": (
        lambda h, _: rewrite(h.db, lambda rows: rows[:-1]),
        "results.json on disk is audit #3's, which the history lacks (its newest is #2)"),
    "the newest audit deleted, audit #2's dossier put back at the top": (
        _delete_newest_and_restore_top,
        "audit #3: its kept dossier audits/0003-"),
    "the newest audit's row replaced, audit #2's dossier put back at the top": (
        _replace_newest, "but the history's audit #3 stores another results.json"),
    "the middle audit deleted, the chain recomputed": (
        lambda h, _: rewrite(h.db, lambda rows: [rows[0], rows[2]]),
        "audit #2: chain signature modified: the chain hash of audit #2 changed after signing"),
    "a forged unsigned 'pass' audit appended": (
        lambda h, _: rewrite(h.db, _forged_row()),
        "audit #4: is not signed although audit #1 before it is"),
    "a forged audit signed by another key appended": (
        lambda h, m: rewrite(h.db, _forged_row(m)),
        "the audit before it by"),
    "every audit re-signed by another key": (
        lambda h, m: rewrite(h.db, _sign_as(m), recompute=False),
        "results.json.p7s on disk is signed by certificate"),
    "a score of an old audit changed, the chain recomputed": (
        lambda h, _: rewrite(h.db, lambda rows: [_summary(rows[0], value=0.99), *rows[1:]]),
        "audit #1: chain signature modified"),
    "a verdict changed, the chain recomputed": (
        lambda h, _: rewrite(h.db, lambda rows: [{**rows[0], "verdict": "fail"}, *rows[1:]]),
        "audit #1: chain signature modified"),
    "a report digest changed with the file, the chain recomputed": (
        _swap_pdf_and_record_it, "audit #3: chain signature modified"),
    "the signer fingerprint changed, the chain recomputed": (
        lambda h, m: rewrite(h.db, lambda rows: [{**rows[0], "signer_fingerprint": signer_fingerprint(m)},
                                                 *rows[1:]]),
        "audit #1: chain signature modified"),
    "summary_json made invalid, the chain recomputed": (
        lambda h, _: rewrite(h.db, lambda rows: [{**rows[0], "summary_json": "{not json"}, *rows[1:]]),
        "audit #1: summary_json is not valid JSON"),
    "report_files_json made invalid, the chain recomputed": (
        lambda h, _: rewrite(h.db, lambda rows: [{**rows[0], "report_files_json": "[1, 2"}, *rows[1:]]),
        "audit #1: report_files_json is not valid JSON"),
    "summary_json made a JSON list, the chain recomputed": (
        lambda h, _: rewrite(h.db, lambda rows: [{**rows[0], "summary_json": "[1]"}, *rows[1:]]),
        "audit #1: summary_json holds a JSON list, not a object"),
    "a score changed, the chain left as it was": (
        lambda h, _: rewrite(h.db, lambda rows: [_summary(rows[0], value=0.99), *rows[1:]], recompute=False),
        "audit #1: row_hash does not match the row"),
    "the newest chain signature removed": (
        _set_signature(2, lambda rows: None), "audit #3: is not signed although audit #1 before it is"),
    "two chain signatures swapped": (
        _set_signature(2, lambda rows: rows[1]["chain_signature"]), "audit #3: chain signature modified"),
    "a chain signature replaced by garbage": (
        _set_signature(0, lambda rows: b"\x30\x03\x02\x01\x01"), "audit #1: chain signature invalid"),
    "the database replaced by an older copy of itself": (
        _older_copy, "results.json on disk is audit #3's, which the history lacks (its newest is #2)"),
    "the database replaced by an empty file": (
        _empty_file, "holds no audit history: it is an empty file (0 bytes)"),
    "the database replaced by another SQLite file": (
        _other_sqlite, "holds no audit history: it is a SQLite file without auditkit tables"),
}


def test_the_untouched_signed_history_verifies(signed_copy: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "--check", "--db", str(signed_copy.db)]) == 0
    out = capsys.readouterr().out
    assert ", 3 audit(s), head audit #3 " in out
    assert "; 3 signed by certificate(s) " in out and "not checked against a trust anchor" in out
    assert main(["history", "--check", "--db", str(signed_copy.db), "--trust", str(signed_copy.ca)]) == 0
    assert "signed by certificate(s) " in (out := capsys.readouterr().out) and ", trusted;" in out


@pytest.mark.parametrize("name", list(CHECK_ATTACKS))
def test_history_check_catches(name: str, signed_copy: Any, mallory: Any,
                               capsys: pytest.CaptureFixture[str]) -> None:
    attack, expected = CHECK_ATTACKS[name]
    attack(signed_copy, mallory)
    size = signed_copy.db.stat().st_size
    capsys.readouterr()
    assert main(["history", "--check", "--db", str(signed_copy.db)]) == 2
    captured = capsys.readouterr()
    assert expected in captured.out + captured.err
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert signed_copy.db.stat().st_size == size  # never migrated or repaired on the way


def test_with_trust_a_history_resigned_by_another_key_is_untrusted(signed_copy: Any, mallory: Any,
                                                                   capsys: pytest.CaptureFixture[str]
                                                                   ) -> None:
    rewrite(signed_copy.db, _sign_as(mallory), recompute=False)
    (signed_copy.out / "results.json.p7s").unlink()  # no file at hand to compare the signer with
    capsys.readouterr()
    assert main(["history", "--check", "--db", str(signed_copy.db)]) == 2  # the p7s is missing
    assert main(["history", "--check", "--db", str(signed_copy.db), "--trust", str(signed_copy.ca)]) == 2
    out = capsys.readouterr().out
    assert "audit #1: chain signature untrusted: signer 'Mallory' does not validate" in out


def test_history_check_keeps_pyhanko_off_stderr(signed_copy: Any, mallory: Any) -> None:
    """In a fresh process (pytest captures logging itself): pyHanko logs a warning with a traceback
    for each signer that does not validate; stderr holds auditkit's one line only."""
    import os
    import subprocess
    import sys

    rewrite(signed_copy.db, _sign_as(mallory), recompute=False)
    done = subprocess.run([sys.executable, "-c", "import sys; from auditkit.cli import main; "
                           "sys.exit(main(sys.argv[1:]))", "history", "--check", "--db",
                           str(signed_copy.db), "--trust", str(signed_copy.ca)],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert done.returncode == 2
    assert "chain signature untrusted" in done.stdout
    assert done.stderr.startswith(f"auditkit: error: history check of {signed_copy.db} found ")
    assert done.stderr.count("\n") == 1


@pytest.mark.parametrize("argv", [["history"], ["history", "--json"], ["diff", "1", "2"],
                                  ["diff", "1", "2", "--json"]])
def test_invalid_stored_json_is_one_line_not_a_traceback(argv: list[str], signed_copy: Any,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    rewrite(signed_copy.db, lambda rows: [{**rows[0], "summary_json": "{not json"}, *rows[1:]])
    capsys.readouterr()
    assert main([*argv, "--db", str(signed_copy.db)]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("auditkit: error: audit #1: summary_json is not valid JSON (")
    assert captured.err.count("\n") == 1


@pytest.mark.parametrize("argv", [["history"], ["diff", "1", "2"], ["verify", "{out}", "--strict"]])
def test_readers_never_migrate_an_empty_database(argv: list[str], signed_copy: Any,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    _empty_file(signed_copy, None)
    argv = [a.format(out=signed_copy.out) for a in argv]
    assert main([*argv, "--db", str(signed_copy.db)]) == 2
    assert "holds no audit history: it is an empty file (0 bytes)" in capsys.readouterr().err
    assert signed_copy.db.stat().st_size == 0


def test_a_run_stamps_results_with_its_place_and_signs_its_row(signed_history: Any) -> None:
    results = json.loads((signed_history.out / "results.json").read_text())
    with HistoryStore.open(signed_history.db, create=False) as store:
        rows = store.chain()
    with HistoryStore.open(signed_history.db, create=False) as store:
        history_id = store.history_id
    assert results["history"] == {"audit_id": 3, "previous_audits": 2,
                                  "previous_row_hash": rows[1].row_hash, "history_id": history_id}
    assert history_id is not None and len(history_id) == 32
    assert all(row.chain_signature for row in rows)
    assert rows[2].summary_json == (signed_history.out / "results.json").read_text()


def _incremental_update(h: Any, _: Any) -> None:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    with (h.out / "report.pdf").open("rb+") as handle:
        writer = IncrementalPdfFileWriter(handle)
        writer.set_info(None)
        writer.write_in_place()


def _dossier_of(folder: str) -> Attack:
    def attack(h: Any, _: Any) -> None:
        for name in ("report.pdf", "report.html", "results.json", "report.html.p7s", "results.json.p7s"):
            shutil.copy(getattr(h, folder) / name, h.out / name)
    return attack


STRICT_ATTACKS: dict[str, tuple[Attack, int, tuple[str, ...]]] = {
    # name: (attack, exit code, what the output must say)
    "none (the dossier as signed)": (lambda h, _: None, 0, ("history: the dossier's audit is in",)),
    "none (audit #2's whole dossier, a genuine older one)": (_dossier_of("previous"), 0,
                                                             ("history: the dossier's audit is in",)),
    "report.pdf of audit #2, the history rewritten to record it": (
        _swap_pdf_and_record_it, 1, ("report.html: not of this dossier",
                                     "history: audit #3: chain signature modified")),
    "the newest audit deleted": (
        lambda h, _: rewrite(h.db, lambda rows: rows[:-1]), 1,
        ("history: audit #3: this dossier's audit is not in the history (its newest is #2)",)),
    "the database replaced by an older copy of itself": (
        _older_copy, 1, ("this dossier's audit is not in the history",)),
    "the dossier's stored results.json changed, the chain recomputed": (
        lambda h, _: rewrite(h.db, lambda rows: [*rows[:-1], _summary(rows[-1], value=0.99)]), 1,
        ("the history stores another results.json for this audit", "chain signature modified")),
    "an old audit's score changed, the chain recomputed": (
        lambda h, _: rewrite(h.db, lambda rows: [_summary(rows[0], value=0.99), *rows[1:]]), 1,
        ("history: audit #1: chain signature modified",)),
    "the dossier's chain signature removed": (
        _set_signature(2, lambda rows: None), 1, ("its row is not signed",)),
    "every audit re-signed by another key": (
        lambda h, m: rewrite(h.db, _sign_as(m), recompute=False), 1,
        ("chain signature untrusted: signer 'Mallory'", "its row is signed by certificate")),
    "a metadata-only update of report.pdf": (
        _incremental_update, 1, ("report.pdf: appended", "report.pdf: not as recorded")),
}


@pytest.mark.parametrize("name", list(STRICT_ATTACKS))
def test_verify_strict(name: str, signed_copy: Any, mallory: Any, capsys: pytest.CaptureFixture[str]) -> None:
    attack, code, expected = STRICT_ATTACKS[name]
    attack(signed_copy, mallory)
    capsys.readouterr()
    assert main(["verify", str(signed_copy.out), "--trust", str(signed_copy.ca), "--strict"]) == code
    captured = capsys.readouterr()
    for text in expected:
        assert text in captured.out, captured.out
    assert captured.err == ""


def test_verify_strict_without_a_database_is_exit_2(signed_copy: Any,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    signed_copy.db.unlink()
    assert main(["verify", str(signed_copy.out), "--trust", str(signed_copy.ca), "--strict"]) == 2
    assert capsys.readouterr().err.startswith("auditkit: error: no audit history at ")


def test_verify_names_the_audit_of_a_swapped_dossier(signed_copy: Any, mallory: Any,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Audit #2's whole dossier put at the top where #3's was: every signature holds and the history
    holds #2, so it verifies, and says it is audit #2 (text and --json), not the newest."""
    _dossier_of("previous")(signed_copy, mallory)
    capsys.readouterr()
    assert main(["verify", str(signed_copy.out), "--trust", str(signed_copy.ca)]) == 0
    lines = capsys.readouterr().out.splitlines()
    sha = hashlib.sha256(b"version: 1\nname: signed-tiny\n").hexdigest()
    assert lines[-2] == (f"verified: audit #2 of policy 'signed-tiny' (sha256 {sha[:12]}), created "
                         "2026-02-01T02:00:00+00:00")
    assert lines[-1].startswith("history: the dossier's audit is in ")
    assert main(["verify", str(signed_copy.out), "--trust", str(signed_copy.ca), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    with HistoryStore.open(signed_copy.db, create=False) as store:
        history_id = store.history_id
    assert summary["audit"] == {"id": 2, "policy": "signed-tiny", "policy_sha256": sha,
                                "created": "2026-02-01T02:00:00+00:00", "history_id": history_id}
    assert summary["history"] == {"db": str(signed_copy.db), "ok": True, "problems": []}


def test_verify_checks_the_history_beside_it_unless_told_not_to(signed_copy: Any,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """The newest audit deleted: plain ``verify`` finds the database beside the dossier and fails;
    ``--no-history`` checks the signatures only."""
    rewrite(signed_copy.db, lambda rows: rows[:-1])
    capsys.readouterr()
    assert main(["verify", str(signed_copy.out), "--trust", str(signed_copy.ca)]) == 1
    assert "history: audit #3: this dossier's audit is not in the history (its newest is #2)" in \
        capsys.readouterr().out
    assert main(["verify", str(signed_copy.out), "--trust", str(signed_copy.ca), "--no-history"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "history: not checked (--no-history)"
