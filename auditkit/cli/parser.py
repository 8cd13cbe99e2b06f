"""The argument parser of ``auditkit``: its top level, then each command group's commands."""

from __future__ import annotations

import argparse

from auditkit._version import __version__
from auditkit.cli import explain, history, plan, run, signing

DEBUG_HELP = ("show the traceback of an unexpected error, and other libraries' warnings and log "
              "records, on stderr")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; argparse's own exit code for a usage error is 2, as auditkit's.

    Each command's namespace carries ``handler``, the function that runs it with the namespace."""
    parser = argparse.ArgumentParser(
        prog="auditkit",
        description="Certify the quality of an image classifier's explanations "
        "(MeGe, ReCo, muF; Fel et al., WACV 2022).",
        epilog="Exit codes of run: 0 every threshold and sanity check met; 1 one not met, or a "
        "significant drop with --fail-on-regression (the report is still written); 2 error; 130 "
        "interrupted (rerun to resume). verify: 0 every signature ok, 1 not, 2 error.",
    )
    parser.add_argument("--version", action="version", version=f"auditkit {__version__}")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in (run, plan, signing, history, explain):  # the order of --help
        group.add_parsers(commands)
    for command in commands.choices.values():  # also after the command: auditkit run P --debug
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    return parser
