"""``auditkit verify SHEET_FOLDER``: a decision sheet (:func:`auditkit.decision.dossier.verify_sheet`)
and the audit it names, printed as ``verify`` prints an audit, then what the history says.

Printed: one line per sheet file (status and reason) and the sheet's signature summary; the decision
and the audit it names; one line per file of that audit's dossier and its summary; one line per
figure of the sheet the audit contradicts; the history, where checked (the audit as ``verify``
holds it, and the sheet's row: recorded, each file as recorded); then the overall line. Exit codes
as ``verify``'s: 0 everything verifies, 1 a check failed, 2 nothing could be checked.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from auditkit.cli.output import EXIT_FAILED, EXIT_OK


def verify_sheet_command(args: argparse.Namespace) -> int:
    """``auditkit verify`` of a sheet's folder; 0 all ok, 1 a check failed."""
    from auditkit.decision.dossier import verify_sheet

    found = verify_sheet(args.path, trust=args.trust, audit=args.audit)
    db = _db(args, found)
    checked = found.audit_folder is not None and not args.no_history and (
        args.strict or args.db is not None or db.exists())
    problems = _history_problems(db, args, found) if checked else None
    ok = found.bottom_line and not problems
    if args.json:
        summary = found.summary()
        summary["ok"] = ok
        summary["history"] = None if problems is None else {"db": str(db), "ok": not problems, "problems": [
            {"audit_id": p.audit_id, "file": p.file, "message": p.message} for p in problems]}
        print(json.dumps(summary, indent=2))
    elif not (args.quiet and ok):
        _print(found, db, problems, args)
    return EXIT_OK if ok else EXIT_FAILED


def _print(found: Any, db: Path, problems: list[Any] | None, args: argparse.Namespace) -> None:
    for verdict in found.signatures.files:
        print(f"{verdict.path}: {verdict.status.value}: {verdict.reason}")
    print(f"sheet: {found.signatures.summary_line()}")
    if found.head is not None:
        print(f"sheet: {found.head.text()}")
    if found.audit is not None:
        for verdict in found.audit.files:
            print(f"{verdict.path}: {verdict.status.value}: {verdict.reason}")
        print(f"audit: {found.audit.summary_line()}")
        if found.audit.audit is not None:
            print(f"audit: verified: {found.audit.audit.text()}")
    for problem in found.problems:
        print(f"audit: {problem}")
    if found.audit_folder is not None and not found.problems:
        print(f"audit: {found.audit_folder} is the audit the sheet names (results.json, report.pdf and "
              "deployed checkpoint digests, id, history, policy and verdict)")
    for problem in problems or ():
        print(f"{problem.file}: not as recorded: {problem}" if problem.file else f"history: {problem}")
    if problems == []:
        print(f"history: the audit and the sheet are in {db}, the chain verified, every file as recorded")
    elif problems is None:
        why = "--no-history" if args.no_history else "the audit was not found" \
            if found.audit_folder is None else f"no database at {db}; give --db"
        print(f"history: not checked ({why})")
    line = found.summary_line()
    if problems:
        line = line + ", the history" if line.startswith("FAILED") else "FAILED: the history"
    print(line)


def _db(args: argparse.Namespace, found: Any) -> Path:
    """``--db``, else the history.sqlite of the out folder holding the audit's kept dossier (or the
    sheet's out folder)."""
    from auditkit.history import DB_FILE_NAME
    from auditkit.history.archive import AUDITS

    if args.db is not None:
        return Path(args.db)
    audit = found.audit_folder
    if audit is not None and audit.parent.name == AUDITS:
        return audit.parent.parent / DB_FILE_NAME
    if audit is not None:
        return audit / DB_FILE_NAME
    return Path(args.path).parent.parent / DB_FILE_NAME


def _history_problems(db: Path, args: argparse.Namespace, found: Any) -> list[Any]:
    """What the history ``db`` says of the audit (as ``verify`` of its dossier) and of the sheet."""
    from auditkit.history import HistoryStore
    from auditkit.history.verify import check_decision, check_dossier

    signers = {f.signer_fingerprint for f in found.audit.files if f.ok}
    with HistoryStore.open(db, create=False) as store:
        return [*check_dossier(store, found.audit_folder, trust=args.trust,
                               signer_fingerprint=signers.pop() if len(signers) == 1 else None),
                *check_decision(store, Path(args.path))]
