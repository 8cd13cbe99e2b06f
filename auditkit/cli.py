"""The ``auditkit`` command line.

Exit codes (one place, :func:`main`): 0 the audit ran and every threshold is met; 1 the audit ran
and a threshold, the fold-accuracy spread or a sanity check is not met (the report is still written,
signed and recorded), or with ``--fail-on-regression`` a score
dropped significantly since the previous audit of the policy; 2 the audit could not run: bad
policy, missing data, another run holding the history database, any error (``history --check``:
a problem found). 130 after Ctrl-C (rerun the same command to resume).

Every ``run`` is recorded in the history database (:mod:`auditkit.history`), ``<out>/history.sqlite``
unless ``--db``, and keeps its dossier in ``<out>/audits/<id>/`` (:mod:`auditkit.history.archive`);
``history`` and ``diff`` read it (``--db``, or ``--policy-file`` for where ``run`` wrote it).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

import auditkit
from auditkit.errors import AuditError
from auditkit.signing import commands as signing_cli

EXIT_OK, EXIT_FAILED, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130
DEBUG_HINT = "run with --debug for the traceback"
DEBUG_HELP = ("show the traceback of an unexpected error, and other libraries' warnings and log "
              "records, on stderr")
DEFAULT_DB = Path("out") / "history.sqlite"
"""Database of ``history`` and ``diff`` without ``--db``, in the current folder: where ``run`` puts
it for a policy of this folder with the default ``run.out``."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; argparse's own exit code for a usage error is 2, as auditkit's."""
    parser = argparse.ArgumentParser(
        prog="auditkit",
        description="Certify the quality of an image classifier's explanations "
        "(MeGe, ReCo, muF; Fel et al., WACV 2022).",
        epilog="Exit codes of run: 0 every threshold and sanity check met; 1 one not met, or a "
        "significant drop with --fail-on-regression (the report is still written); 2 error; 130 "
        "interrupted (rerun to resume). verify: 0 every signature ok, 1 not, 2 error.",
    )
    parser.add_argument("--version", action="version", version=f"auditkit {auditkit.__version__}")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the audit a policy describes",
                              description="Run the audit a policy describes and write results.json.")
    run.add_argument("policy", type=Path, metavar="POLICY", help="policy YAML file")
    run.add_argument("--out", type=Path, help="output folder (default: the policy's run.out)")
    run.add_argument("--device", help="auto (default: the policy's run.device), cpu, cuda or cuda:N")
    run.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    run.add_argument("--quiet", action="store_true", help="print nothing on success")
    run.add_argument("--db", type=Path, help="history database (default: OUT/history.sqlite)")
    run.add_argument("--fresh", action="store_true",
                     help="redo all work from nothing (OUT/work is emptied first) instead of reusing it")
    run.add_argument("--fail-on-regression", action="store_true",
                     help="exit 1 if a score dropped significantly (disjoint CIs) since the "
                     "previous finished audit of the same policy name")
    signing_cli.add_signing_arguments(run)
    run.add_argument("--ray", action="store_true",
                     help="run the fold trainings and explanation passes as Ray tasks (the policy's "
                     "ray section says where; default a local instance); same numbers")

    validate = commands.add_parser("validate", help="check a policy without running it",
                                   description="Check a policy (keys, types, ranges, paths, image "
                                   "sizes, and the operator's model, layer and training function, built "
                                   "once on a dummy batch).")
    validate.add_argument("policy", type=Path, metavar="POLICY", help="policy YAML file")
    validate.add_argument("--json", action="store_true", help="print the resolved policy as JSON")
    validate.add_argument("--quiet", action="store_true", help="print nothing when valid")

    signing_cli.add_arguments(commands)
    db_help = f"history database, or the out folder holding it (default: ./{DEFAULT_DB})"
    policy_file_help = ("the database `auditkit run POLICY` writes: the policy's run.out/"
                        "history.sqlite (a run with --out or --db wrote elsewhere: give --db)")
    history = commands.add_parser(
        "history", help="list recorded audits, or verify the history",
        description="List the recorded audits, newest first, or verify the hash chain and the "
        "recorded report files (--check; exit 2 on any problem).")
    what = history.add_mutually_exclusive_group()
    what.add_argument("--policy", metavar="NAME_OR_SHA",
                      help="only audits of this policy name or SHA-256 prefix")
    what.add_argument("--check", action="store_true",
                      help="verify the hash chain and every recorded report file's digest")
    history.add_argument("--db", type=Path, help=db_help)
    history.add_argument("--policy-file", type=Path, metavar="POLICY", help=policy_file_help)
    history.add_argument("--json", action="store_true", help="print JSON")
    history.add_argument("--trust", type=Path, action="append", default=[], metavar="CA_CERT",
                         help="with --check: CA certificate the signers of signed audits must "
                         "chain to; repeat for several")

    diff = commands.add_parser(
        "diff", help="compare the scores of two recorded audits",
        description="Every score and the verdict of two audits side by side, with the change and "
        "whether it is significant (the two CIs are disjoint; n/a without CIs).")
    diff.add_argument("audit_a", type=int, metavar="AUDIT_A", help="id of the first audit")
    diff.add_argument("audit_b", type=int, metavar="AUDIT_B", help="id of the second audit")
    diff.add_argument("--db", type=Path, help=db_help)
    diff.add_argument("--policy-file", type=Path, metavar="POLICY", help=policy_file_help)
    diff.add_argument("--json", action="store_true", help="print JSON")
    for command in commands.choices.values():  # also after the command: auditkit run P --debug
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    return parser


def printable(text: str) -> str:
    r"""``text`` on one line that any terminal shows as it is: line breaks become spaces, other control
    characters and lone surrogates their escapes.

    >>> printable("a\nb \x1b[31m \ud800")
    'a b \\x1b[31m \\ud800'
    """
    text = " ".join(text.splitlines())
    return "".join(c if c.isprintable() else c.encode("unicode_escape", "backslashreplace").decode("ascii")
                   for c in text)


def _err(message: str) -> None:
    """Each line of ``message`` (one per problem) as ``auditkit: error: <line>`` on stderr, made
    :func:`printable`."""
    for line in str(message).splitlines() or [""]:
        print(f"auditkit: error: {printable(line)}", file=sys.stderr)


def _validate(args: argparse.Namespace) -> int:
    from auditkit.policy import load_policy

    policy = load_policy(args.policy)
    from auditkit.engine.preflight import check_setup

    check_setup(policy)
    if args.json:
        print(json.dumps({"valid": True, "sha256": policy.sha256, "policy": policy.to_dict()},
                         indent=2))
    elif not args.quiet:
        print(printable(f"{args.policy}: valid policy '{policy.name}' (sha256 {policy.sha256})"))
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from auditkit.api import certify

    talk = not args.quiet and not args.json

    def log(line: str) -> None:
        if talk:
            print(line, file=sys.stderr)

    done = certify(args.policy, out=args.out, device=args.device,
                   signing=signing_cli.signing_options(args), db=args.db, fresh=args.fresh, ray=args.ray,
                   compare=args.fail_on_regression, progress=talk and sys.stderr.isatty(), log=log)
    if args.json:  # the bytes that were signed and recorded, not a second rendering
        sys.stdout.write((done.out / "results.json").read_text(encoding="utf-8"))
    elif not args.quiet or not done.result.passed:
        from auditkit.report.text import summary_text

        print(summary_text(done.result), end="")
        print(f"results written to {done.out / 'results.json'}")
    if done.regressions:
        from auditkit.history.text import regression_lines

        print(regression_lines(done.previous, done.record, list(done.regressions)), end="",
              file=sys.stderr if args.json else sys.stdout)
    return EXIT_OK if done.passed else EXIT_FAILED


def _history_db(args: argparse.Namespace) -> Path:
    """The database of ``history`` and ``diff``: ``--db`` (a folder: its history.sqlite), else where
    ``run`` wrote it for ``--policy-file``, else :data:`DEFAULT_DB`."""
    from auditkit.history import DB_FILE_NAME

    if args.db is not None and args.policy_file is not None:
        raise AuditError("give --db or --policy-file, not both")
    if args.db is not None:
        return args.db / DB_FILE_NAME if args.db.is_dir() else args.db
    if args.policy_file is not None:
        from auditkit.policy import load_policy

        return load_policy(args.policy_file).run.out / DB_FILE_NAME
    return DEFAULT_DB


def _history(args: argparse.Namespace) -> int:
    from auditkit.history import HistoryStore, check_history
    from auditkit.history.text import check_text, history_table

    db = _history_db(args)
    with HistoryStore.open(db, create=False) as store:
        if args.check:
            report = check_history(store, trust=args.trust)
            if args.json:
                print(json.dumps(report.to_dict(), indent=2))
            else:
                print(check_text(report), end="")
            if not report.ok:
                _err(f"history check of {db} found {len(report.problems)} problem(s)")
            return EXIT_OK if report.ok else EXIT_ERROR
        rows = store.audits(args.policy)
    if args.json:
        print(json.dumps([row.to_dict() for row in rows], indent=2))
    elif rows:
        print(history_table(rows), end="")
    else:
        print(f"no audits{'' if args.policy is None else f' of policy {args.policy!r}'} in {db}")
    return EXIT_OK


def _diff(args: argparse.Namespace) -> int:
    from auditkit.history import HistoryStore
    from auditkit.history.text import diff_table

    with HistoryStore.open(_history_db(args), create=False) as store:
        a, b = store.audit(args.audit_a), store.audit(args.audit_b)
        changes = store.changes(a, b)
    if args.json:
        print(json.dumps({"a": a.to_dict(), "b": b.to_dict(),
                          "verdict": {"a": a.verdict, "b": b.verdict, "changed": a.verdict != b.verdict},
                          "scores": [change.to_dict() for change in changes]}, indent=2))
    else:
        print(diff_table(a, b, changes), end="")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code.

    The one place errors become exit codes: an :class:`~auditkit.errors.AuditError` is one line
    and exit 2; any other exception is one line naming its type, exit 2, and its traceback only with
    ``--debug``. Other libraries' log records and Python warnings reach stderr only with ``--debug``.
    """
    args = build_parser().parse_args(argv)
    debug = getattr(args, "debug", False)
    _quiet_libraries(debug)
    try:
        return {"run": _run, "validate": _validate, "history": _history, "diff": _diff,
                "keygen": signing_cli.run_keygen, "verify": signing_cli.run_verify}[args.command](args)
    except AuditError as exc:
        _err(str(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        _err("interrupted; run the same command again to resume from the finished work")
        return EXIT_INTERRUPTED
    except Exception as exc:  # the audit could not run: one line, exit 2, the traceback on request
        if debug:
            traceback.print_exc(file=sys.stderr)
        _err(f"unexpected {type(exc).__name__}: {exc}" + ("" if debug else f" ({DEBUG_HINT})"))
        return EXIT_ERROR


_LOG_HANDLERS: list[logging.Handler] = []
"""The handler :func:`_quiet_libraries` put on the root logger, replaced on each call of :func:`main`."""


def _quiet_libraries(debug: bool) -> None:
    """Keep third-party log records (pyHanko logs caught errors with tracebacks) and Python warnings
    off stderr, or show them from WARNING up with ``debug``."""
    root = logging.getLogger()
    while _LOG_HANDLERS:
        root.removeHandler(_LOG_HANDLERS.pop())
    # Without any handler, logging's last resort would print to stderr.
    handler = logging.StreamHandler(sys.stderr) if debug else logging.NullHandler()
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(name)s: %(levelname)s: %(message)s"))
    root.addHandler(handler)
    _LOG_HANDLERS.append(handler)
    logging.captureWarnings(not debug)


if __name__ == "__main__":
    sys.exit(main())
