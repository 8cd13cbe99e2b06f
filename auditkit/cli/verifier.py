"""``auditkit-verify``: a regulator's two checks of a dossier, from the light distribution
(``verifier/pyproject.toml``, no torch): ``auditkit-verify verify ARGS`` is ``auditkit verify ARGS`` and
``auditkit-verify history-check ARGS`` is ``auditkit history --check ARGS``.

Each runs through :func:`auditkit.cli.main`, the ``auditkit`` command's own parser, handlers, messages
and exit codes, so both print exactly what the full install prints (``COMMAND --help`` shows that
command's options). The rest of ``auditkit`` (``run``, ``diff``, ...) needs the audit stack: install
``auditkit``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from auditkit._version import __version__
from auditkit.cli.runtime import main as auditkit_main

COMMANDS = {"verify": ("verify",), "history-check": ("history", "--check")}
"""Each command of ``auditkit-verify`` and the ``auditkit`` command line it runs."""


def build_parser() -> argparse.ArgumentParser:
    """The top level of ``auditkit-verify``: the command, then its arguments passed on untouched."""
    parser = argparse.ArgumentParser(
        prog="auditkit-verify",
        description="Check an auditkit dossier offline without the audit stack: the signatures of "
        "report.pdf, report.html and results.json (verify), the history's hash chain and recorded "
        "files (history-check). Each prints what `auditkit verify` / `auditkit history --check` print.",
        epilog="Exit codes: verify 0 every signature ok, 1 not, 2 error; history-check 0 ok, 2 a "
        "problem or an error. `auditkit-verify COMMAND --help` lists the command's options.")
    parser.add_argument("--version", action="version", version=f"auditkit-verify {__version__}")
    parser.add_argument("command", choices=COMMANDS, metavar="{verify,history-check}",
                        help="verify: `auditkit verify`; history-check: `auditkit history --check`")
    parser.add_argument("arguments", nargs=argparse.REMAINDER, metavar="...",
                        help="the command's arguments, as `auditkit` takes them")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``auditkit-verify`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    return auditkit_main([*COMMANDS[args.command], *args.arguments])


__all__ = ["COMMANDS", "build_parser", "main"]
