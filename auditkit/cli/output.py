"""The exit codes of the commands and the printing they share."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

EXIT_OK, EXIT_FAILED, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


def printable(text: str) -> str:
    r"""``text`` on one line that any terminal shows as it is: line breaks become spaces, other control
    characters and lone surrogates their escapes.

    >>> printable("a\nb \x1b[31m \ud800")
    'a b \\x1b[31m \\ud800'
    """
    text = " ".join(text.splitlines())
    return "".join(c if c.isprintable() else c.encode("unicode_escape", "backslashreplace").decode("ascii")
                   for c in text)


def err(message: str) -> None:
    """Each line of ``message`` (one per problem) as ``auditkit: error: <line>`` on stderr, made
    :func:`printable`."""
    for line in str(message).splitlines() or [""]:
        print(f"auditkit: error: {printable(line)}", file=sys.stderr)


def talks(args: argparse.Namespace) -> bool:
    """Whether a command prints its progress: not under ``--quiet`` or ``--json``."""
    return not args.quiet and not args.json


def progress_log(talk: bool) -> Callable[[str], None]:
    """A command's ``log=``: each line of a message on stderr, made :func:`printable`; nothing when
    ``talk`` is false."""
    def log(message: str) -> None:
        if talk:
            for line in message.splitlines() or [""]:
                print(printable(line), file=sys.stderr)

    return log
