"""``auditkit keygen`` (:func:`auditkit.signing.keygen`), ``auditkit verify``
(:func:`auditkit.signing.verify_report`, and :func:`auditkit.history.verify.check_dossier` where a
history database is found), and the signing options of ``run``
(:class:`~auditkit.signing.options.SigningOptions`).

``verify`` of a decision sheet's folder (``<out>/decisions/<id>/``, holding sheet.json) checks the
sheet and the audit it names instead (:mod:`auditkit.cli.sheets`).

``verify`` names the audit it verified (number, policy, time) and holds the report to the history
database beside it (``<folder>/history.sqlite``, or the out folder's for a kept dossier
``<out>/audits/<id>-<digest>/``) when there is one, or the one ``--db`` names; ``--strict`` requires
one, ``--no-history`` skips it.

Exit codes of ``verify``: 0 every signature is intact, valid, trusted and covers its whole file, the
files are one audit's (and the history, where checked, holds that audit as signed); 1 a check
failed (each file's status and reason on stdout, then a one-line summary); 2 nothing
could be checked (a missing path, an unreadable trust anchor, ``--strict`` without a history
database, an unreadable one): these are raised as
:class:`~auditkit.errors.AuditError`, which :func:`auditkit.cli.main` turns into one line and exit 2.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditkit.cli.output import EXIT_FAILED, EXIT_OK

if TYPE_CHECKING:
    from auditkit.signing.options import SigningOptions


def add_parsers(commands: Any) -> None:
    """Add ``keygen`` and ``verify`` to ``commands`` (``parser.add_subparsers()``)."""
    _add_keygen(commands)
    _add_verify(commands)


def _add_keygen(commands: Any) -> None:
    parser = commands.add_parser(
        "keygen", help="create a demo CA and signer certificate for signing reports",
        description="Create a demo CA (ca.pem) and a signer key and certificate it issued (signer.p12, "
                    "signer-key.pem, signer-cert.pem). For trying the workflow: regulators should "
                    "trust a certificate from your organisation's PKI.")
    parser.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="folder to write the files into")
    parser.add_argument("--name", default="auditkit signer",
                        help="the signer's common name: the responsible person or role")
    parser.add_argument("--days", type=int, default=365, help="certificate validity in days (default 365)")
    parser.add_argument("--passphrase-env", metavar="VAR",
                        help="environment variable holding the passphrase that encrypts the key files")
    parser.add_argument("--force", action="store_true", help="overwrite existing files")
    parser.set_defaults(handler=keygen)


def _add_verify(commands: Any) -> None:
    parser = commands.add_parser(
        "verify", help="verify the signatures of a report",
        description="Verify the PAdES signature of report.pdf and the detached .p7s signatures of "
                    "report.html and results.json, offline. Exit 0 only when every signature is "
                    "intact, valid, trusted and covers its whole file.")
    parser.add_argument("path", type=Path, metavar="REPORT_DIR_OR_FILE",
                        help="the out folder of `auditkit run`, or one of its files, or a decision "
                        "sheet's folder (OUT/decisions/ID/: the sheet and the audit it names)")
    parser.add_argument("--trust", type=Path, action="append", default=[], metavar="CA_CERT",
                        help="CA certificate (PEM or DER) to trust; repeat for several. Without it "
                             "only integrity is checked and the verdict fails")
    parser.add_argument("--json", action="store_true", help="print the verdicts as JSON")
    parser.add_argument("--quiet", action="store_true", help="print nothing when every signature is ok")
    history = parser.add_mutually_exclusive_group()
    history.add_argument("--strict", action="store_true",
                         help="require the history database (exit 2 without one); by default it is "
                         "checked when there is one")
    history.add_argument("--no-history", action="store_true",
                         help="check the signatures only, not the history database beside the report")
    parser.add_argument("--db", type=Path,
                        help="history database to hold the report to (default: the report folder's "
                        "history.sqlite, or for a kept dossier <out>/audits/<id>-<digest>/ the out "
                        "folder's): "
                        "its audit's row is there, stores this results.json, is signed by the "
                        "report's signer, the chain verifies, and each file's bytes are those the "
                        "row recorded (catches edits a PDF signature tolerates, such as a "
                        "metadata-only update)")
    parser.add_argument("--audit", type=Path, metavar="AUDIT_DIR",
                        help="with a decision sheet: the dossier of the audit it names (default: the "
                        "kept dossier in OUT/audits/ whose results.json has the digest the sheet names)")
    parser.set_defaults(handler=verify)


def add_signing_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options that sign the report written by ``run``."""
    group = parser.add_argument_group("signing (report.pdf with PAdES, report.html and results.json "
                                      "with detached CMS .p7s)")
    group.add_argument("--sign-key", type=Path, metavar="PATH",
                       help="PKCS#12 file, or PEM/DER private key with --sign-cert; signs the report")
    group.add_argument("--sign-cert", type=Path, metavar="PATH", help="signer certificate for a PEM key")
    group.add_argument("--sign-chain", type=Path, action="append", default=[], metavar="PATH",
                       help="issuing CA certificate(s); repeat for several")
    group.add_argument("--sign-passphrase-env", metavar="VAR",
                       help="environment variable holding the passphrase of the key or PKCS#12 file")
    group.add_argument("--tsa", metavar="URL", help="RFC 3161 timestamp authority (PAdES B-T)")
    group.add_argument("--tsa-root", type=Path, action="append", default=[], metavar="PATH",
                       help="root CA certificate of the timestamp authority, needed for B-LT")
    group.add_argument("--pades-level", choices=("B-B", "B-T", "B-LT"),
                       help="PAdES level (default: B-T with --tsa, else B-B); B-T and B-LT need --tsa")


def signing_options(args: argparse.Namespace) -> SigningOptions:
    """The :class:`~auditkit.signing.options.SigningOptions` of :func:`add_signing_arguments`' flags."""
    from auditkit.signing.options import SigningOptions  # imported by the command that signs, so
    # building the parser loads no signing library (whose imports may warn before --debug is read)

    return SigningOptions(key=args.sign_key, cert=args.sign_cert, chain=tuple(args.sign_chain),
                          passphrase_env=args.sign_passphrase_env, tsa=args.tsa,
                          tsa_roots=tuple(args.tsa_root), level=args.pades_level)


def keygen(args: argparse.Namespace) -> int:
    """``auditkit keygen``: write the demo CA and signer files, print their paths; exit 0."""
    from auditkit.signing import keygen as write_keys
    from auditkit.signing.options import passphrase

    keys = write_keys(args.out_dir, name=args.name, days=args.days,
                  passphrase=passphrase(args.passphrase_env), overwrite=args.force)
    print(f"trust anchor (give to verifiers): {keys.ca_cert}")
    print(f"signer key and certificate:       {keys.pkcs12} (also {keys.key.name}, {keys.cert.name})")
    print(f"signer fingerprint (SHA-256):     {keys.fingerprint}")
    return EXIT_OK


def verify(args: argparse.Namespace) -> int:
    """``auditkit verify``: print each file's verdict, a summary, the audit verified and what the
    history beside it says (unless ``--no-history``); 0 all ok, 1 a check failed."""
    from auditkit.decision.dossier import is_sheet
    from auditkit.signing import verify_report

    if is_sheet(args.path):
        from auditkit.cli.sheets import verify_sheet_command

        return verify_sheet_command(args)
    if args.audit is not None:
        from auditkit.signing import VerificationInputError

        raise VerificationInputError(f"--audit is for a decision sheet's folder; {args.path} holds no "
                                     "sheet.json", path=args.path)
    report = verify_report(args.path, trust=args.trust)
    db = _db(args)
    checked = not args.no_history and (args.strict or args.db is not None or db.exists())
    problems = _history_problems(db, args, report) if checked else None
    if args.json:
        summary = report.summary()
        summary["history"] = None if problems is None else {"db": str(db), "ok": not problems, "problems": [
            {"audit_id": p.audit_id, "file": p.file, "message": p.message} for p in problems]}
        print(json.dumps(summary, indent=2))
    elif not (args.quiet and report.bottom_line and not problems):
        for verdict in (*report.files, *report.checkpoints):
            if not (args.quiet and verdict.ok):
                print(f"{verdict.path}: {verdict.status.value}: {verdict.reason}")
        print(report.summary_line())
        if not args.quiet:
            print("verified: " + ("no readable results.json names the audit" if report.audit is None
                                  else report.audit.text()))
        for problem in problems or ():
            print(f"{problem.file}: not as recorded: {problem}" if problem.file else f"history: {problem}")
        if problems == [] and not args.quiet:
            print(f"history: the dossier's audit is in {db}, signed, its chain verified, every "
                  "file as recorded")
        elif problems is None and not args.quiet:
            print("history: not checked (" + ("--no-history" if args.no_history
                                              else f"no database at {db}; give --db") + ")")
    return EXIT_OK if report.bottom_line and not problems else EXIT_FAILED


def _db(args: argparse.Namespace) -> Path:
    from auditkit.history import DB_FILE_NAME
    from auditkit.history.archive import AUDITS

    if args.db is not None:
        return Path(args.db)
    folder = args.path if args.path.is_dir() else args.path.parent
    if folder.parent.name == AUDITS and not (folder / DB_FILE_NAME).exists():
        return folder.parent.parent / DB_FILE_NAME  # a kept dossier, <out>/audits/<id>/
    return folder / DB_FILE_NAME


def _history_problems(db: Path, args: argparse.Namespace, report: Any) -> list[Any]:
    """What :func:`auditkit.history.verify.check_dossier` finds in the history ``db``."""
    from auditkit.history import HistoryStore
    from auditkit.history.verify import check_dossier

    signers = {f.signer_fingerprint for f in report.files if f.ok}
    with HistoryStore.open(db, create=False) as store:
        return check_dossier(store, Path(args.path), trust=args.trust,
                             signer_fingerprint=signers.pop() if len(signers) == 1 else None)
