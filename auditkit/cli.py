"""The ``auditkit`` command line.

Exit codes (one place, :func:`main`): 0 the audit ran and every threshold is met; 1 the audit ran
and a threshold (or the fold-accuracy spread) is not met; 2 the audit could not run: bad policy,
missing data, any error. 130 after Ctrl-C (rerun the same command to resume).
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

import auditkit
from auditkit.errors import AuditError

EXIT_OK, EXIT_FAILED, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; argparse's own exit code for a usage error is 2, as auditkit's."""
    parser = argparse.ArgumentParser(
        prog="auditkit",
        description="Certify the quality of an image classifier's explanations "
        "(MeGe, ReCo, muF; Fel et al., WACV 2022).",
        epilog="Exit codes: 0 all thresholds met, 1 a threshold not met, 2 error.",
    )
    parser.add_argument("--version", action="version", version=f"auditkit {auditkit.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the audit a policy describes",
                              description="Run the audit a policy describes and write results.json.")
    run.add_argument("policy", type=Path, metavar="POLICY", help="policy YAML file")
    run.add_argument("--out", type=Path, help="output folder (default: the policy's run.out)")
    run.add_argument("--device", help="auto (default: the policy's run.device), cpu, cuda or cuda:N")
    run.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    run.add_argument("--quiet", action="store_true", help="print nothing on success")

    validate = commands.add_parser("validate", help="check a policy without running it",
                                   description="Check a policy (keys, types, ranges, paths).")
    validate.add_argument("policy", type=Path, metavar="POLICY", help="policy YAML file")
    validate.add_argument("--json", action="store_true", help="print the resolved policy as JSON")
    validate.add_argument("--quiet", action="store_true", help="print nothing when valid")
    return parser


def _err(message: str) -> None:
    print(f"auditkit: error: {message}", file=sys.stderr)


def _validate(args: argparse.Namespace) -> int:
    from auditkit.policy import check_paths, load_policy

    policy = load_policy(args.policy)
    check_paths(policy)
    if args.json:
        print(json.dumps({"valid": True, "sha256": policy.sha256, "policy": policy.to_dict()},
                         indent=2))
    elif not args.quiet:
        print(f"{args.policy}: valid policy '{policy.name}' (sha256 {policy.sha256})")
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from auditkit.engine import AuditOptions, run_audit
    from auditkit.policy import load_policy

    policy = load_policy(args.policy)
    talk = not args.quiet and not args.json

    def log(line: str) -> None:
        if talk:
            print(line, file=sys.stderr)

    # The policy's digest is fixed and shown before any score exists.
    log(f"policy '{policy.name}' sha256 {policy.sha256}")
    out = args.out if args.out is not None else policy.run.out
    options = AuditOptions(policy, Path(out), device=args.device or policy.run.device,
                           progress=talk)
    result = run_audit(options, log=log)
    from auditkit.report import render_report

    for path in render_report(Path(out)):
        log(f"report written to {path}")
    if args.json:
        print(json.dumps(result.summary(), indent=2))
    elif not args.quiet or not result.passed:
        from auditkit.engine.audit import summary_text

        print(summary_text(result), end="")
        print(f"results written to {Path(out) / 'results.json'}")
    return EXIT_OK if result.passed else EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return {"run": _run, "validate": _validate}[args.command](args)
    except AuditError as exc:
        _err(str(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        _err("interrupted; run the same command again to resume from the finished work")
        return EXIT_INTERRUPTED
    except Exception as exc:  # the audit could not run: one line, exit 2, details for a bug report
        _err(f"unexpected {type(exc).__name__}: {exc}")
        traceback.print_exc(file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
