""":func:`main`, the one place where errors become one-line messages and exit codes."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Sequence

from auditkit.cli.output import EXIT_ERROR, EXIT_INTERRUPTED, err
from auditkit.cli.parser import build_parser
from auditkit.errors import AuditError

DEBUG_HINT = "run with --debug for the traceback"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code.

    The one place errors become exit codes: an :class:`~auditkit.errors.AuditError` is one line
    and exit 2, and so is an :class:`OSError` (a file where a folder is expected, a permission, a
    full disk: the environment's, named with its path, not a bug); any other exception is one line
    naming its type, exit 2, and its traceback only with ``--debug``. Other libraries' log records
    and Python warnings, those their imports raise among them (:mod:`auditkit._imports`), reach
    stderr only with ``--debug``.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    _quiet_libraries("--debug" in argv)  # before the parser imports the commands' libraries
    args = build_parser().parse_args(argv)
    debug = getattr(args, "debug", False)
    try:
        return args.handler(args)
    except AuditError as exc:
        err(str(exc))
        return EXIT_ERROR
    except OSError as exc:
        if debug:
            traceback.print_exc(file=sys.stderr)
        err(os_error_text(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        err("interrupted; run the same command again to resume from the finished work")
        return EXIT_INTERRUPTED
    except Exception as exc:  # the audit could not run: one line, exit 2, the traceback on request
        if debug:
            traceback.print_exc(file=sys.stderr)
        err(f"unexpected {type(exc).__name__}: {exc}" + ("" if debug else f" ({DEBUG_HINT})"))
        return EXIT_ERROR


def os_error_text(exc: OSError) -> str:
    """``<path>: <reason>`` (``<path> -> <other path>`` for a rename) of a failed file operation.

    >>> os_error_text(FileExistsError(17, "File exists", "keys"))
    'keys: File exists'
    """
    reason = exc.strerror or str(exc)
    if exc.filename is None:
        return reason
    where = str(exc.filename) + ("" if exc.filename2 is None else f" -> {exc.filename2}")
    return f"{where}: {reason}"


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
