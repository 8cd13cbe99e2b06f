"""``auditkit history`` and ``auditkit diff``: what the history database (:mod:`auditkit.history`)
holds, and whether its hash chain and recorded files check out."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from auditkit.cli.output import EXIT_ERROR, EXIT_OK, err
from auditkit.errors import AuditError

DEFAULT_DB = Path("out") / "history.sqlite"
"""Database of ``history`` and ``diff`` without ``--db``, in the current folder: where ``run`` puts
it for a policy of this folder with the default ``run.out``."""
ALL = 0
"""``--decisions`` without an audit id: every recorded sheet (audit ids start at 1)."""
DB_HELP = f"history database, or the out folder holding it (default: ./{DEFAULT_DB})"
POLICY_FILE_HELP = ("the database `auditkit run POLICY` writes: the policy's run.out/"
                    "history.sqlite (a run with --out or --db wrote elsewhere: give --db)")


def add_parsers(commands: Any) -> None:
    """Add ``history`` and ``diff`` to ``commands`` (``parser.add_subparsers()``)."""
    _add_history(commands)
    _add_diff(commands)


def _add_history(commands: Any) -> None:
    parser = commands.add_parser(
        "history", help="list recorded audits, or verify the history",
        description="List the recorded audits, newest first, or the decision sheets explained under "
        "them (--decisions), or verify the hash chain, the recorded report files and decision sheets "
        "(--check; exit 2 on any problem).")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--policy", metavar="NAME_OR_SHA",
                      help="only audits of this policy name or SHA-256 prefix")
    what.add_argument("--check", action="store_true",
                      help="verify the hash chain and every recorded report file's and decision "
                      "sheet's digest")
    what.add_argument("--decisions", nargs="?", type=int, const=ALL, default=None, metavar="AUDIT_ID",
                      help="list the recorded decision sheets (auditkit explain), oldest first; "
                      "with AUDIT_ID only those explained under that audit")
    parser.add_argument("--db", type=Path, help=DB_HELP)
    parser.add_argument("--policy-file", type=Path, metavar="POLICY", help=POLICY_FILE_HELP)
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--trust", type=Path, action="append", default=[], metavar="CA_CERT",
                        help="with --check: CA certificate the signers of signed audits must "
                        "chain to; repeat for several")
    parser.set_defaults(handler=history)


def _add_diff(commands: Any) -> None:
    parser = commands.add_parser(
        "diff", help="compare the scores of two recorded audits",
        description="Every score and the verdict of two audits side by side, with the change and "
        "whether it is significant (the two CIs are disjoint; n/a without CIs).")
    parser.add_argument("audit_a", type=int, metavar="AUDIT_A", help="id of the first audit")
    parser.add_argument("audit_b", type=int, metavar="AUDIT_B", help="id of the second audit")
    parser.add_argument("--db", type=Path, help=DB_HELP)
    parser.add_argument("--policy-file", type=Path, metavar="POLICY", help=POLICY_FILE_HELP)
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=diff)


def database(args: argparse.Namespace) -> Path:
    """The database of ``history`` and ``diff``: ``--db`` (a folder: its history.sqlite), else where
    ``run`` wrote it for ``--policy-file``, else :data:`DEFAULT_DB`."""
    from auditkit.history import DB_FILE_NAME

    if args.db is not None and args.policy_file is not None:
        raise AuditError("give --db or --policy-file, not both")
    if args.db is not None:
        return args.db / DB_FILE_NAME if args.db.is_dir() else args.db
    if args.policy_file is not None:
        from auditkit.policy import load_policy

        return load_policy(args.policy_file, on_paper=True).run.out / DB_FILE_NAME  # no torch needed
    return DEFAULT_DB


def history(args: argparse.Namespace) -> int:
    """``auditkit history``: the audits as a table or JSON; with ``--check``, what
    :func:`~auditkit.history.check_history` found, exit 2 on a problem."""
    from auditkit.history import HistoryStore, check_history
    from auditkit.history.text import check_text, history_table

    db = database(args)
    with HistoryStore.open(db, create=False) as store:
        if args.check:
            report = check_history(store, trust=args.trust)
            if args.json:
                print(json.dumps(report.to_dict(), indent=2))
            else:
                print(check_text(report), end="")
            if not report.ok:
                err(f"history check of {db} found {len(report.problems)} problem(s)")
            return EXIT_OK if report.ok else EXIT_ERROR
        if args.decisions is not None:
            return _decisions(store, args)
        rows = store.audits(args.policy)
    if args.json:
        print(json.dumps([row.to_dict() for row in rows], indent=2))
    elif rows:
        print(history_table(rows), end="")
    else:
        print(f"no audits{'' if args.policy is None else f' of policy {args.policy!r}'} in {db}")
    return EXIT_OK


def _decisions(store: Any, args: argparse.Namespace) -> int:
    """``history --decisions [AUDIT_ID]``: the recorded sheets as a table or JSON; exit 0 (2 for an
    audit the history lacks)."""
    from auditkit.history.text import decisions_table

    audit_id = None if args.decisions == ALL else args.decisions
    if audit_id is not None:
        store.audit(audit_id)  # an audit the history lacks is an error, not an empty list
    rows = store.decisions(audit_id)
    if args.json:
        print(json.dumps([row.to_dict() for row in rows], indent=2))
    elif rows:
        print(decisions_table(rows), end="")
    else:
        print(f"no decision sheets{'' if audit_id is None else f' of audit #{audit_id}'} in {store.path}")
    return EXIT_OK


def diff(args: argparse.Namespace) -> int:
    """``auditkit diff``: the two audits' scores side by side, as a table or JSON; exit 0."""
    from auditkit.history import HistoryStore
    from auditkit.history.text import diff_table

    with HistoryStore.open(database(args), create=False) as store:
        a, b = store.audit(args.audit_a), store.audit(args.audit_b)
        changes = store.changes(a, b)
    if args.json:
        print(json.dumps({"a": a.to_dict(), "b": b.to_dict(),
                          "verdict": {"a": a.verdict, "b": b.verdict, "changed": a.verdict != b.verdict},
                          "scores": [change.to_dict() for change in changes]}, indent=2))
    else:
        print(diff_table(a, b, changes), end="")
    return EXIT_OK
