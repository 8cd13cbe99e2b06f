"""Hooks for the whole suite: a missing system library is named with the make target that installs it.

WeasyPrint (the PDF report) loads Pango and its companions with ``dlopen`` when it is imported; when
one is missing, every test, doctest and conftest that imports :mod:`auditkit.report` fails with cffi's
``OSError: cannot load library 'pango-1.0-0': ...``, and a conftest that does stops the run before any
hook can add to its error. So this file, loaded first, tries the import itself: when it fails it says
at once, in the header, under each such failure and at the end of the run that ``make pango`` installs
the libraries. The other system packages (poppler-utils, chromium, the real Fashion-MNIST) are
checked by the tests that need them, which fail naming their make target.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator

import pytest

MISSING_LIBRARY = re.compile(r"cannot load library '[^']*(gobject|pango|harfbuzz|fontconfig)")
"""cffi's error for the libraries WeasyPrint loads at import time (``weasyprint/text/ffi.py``)."""

PANGO_HINT = ("WeasyPrint could not load a system library: `make pango` installs Debian's libpango-1.0-0 "
              "and libpangoft2-1.0-0 (`make test` does it first)")


def _pango_error() -> str | None:
    try:
        import weasyprint  # noqa: F401
    except OSError as error:
        if MISSING_LIBRARY.search(str(error)):
            return str(error)
        raise
    return None


PANGO_ERROR = _pango_error()
if PANGO_ERROR is not None:
    print(f"auditkit tests: {PANGO_HINT} ({PANGO_ERROR})", file=sys.stderr)

_failed: list[str] = []


def pytest_report_header() -> list[str]:
    return [f"missing system package: {PANGO_HINT}"] if PANGO_ERROR is not None else []


def _note(report: pytest.TestReport | pytest.CollectReport) -> None:
    if report.failed and MISSING_LIBRARY.search(report.longreprtext):
        report.sections.append(("missing system package", PANGO_HINT))
        _failed.append(report.nodeid)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    report = yield
    _note(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    report = yield
    _note(report)
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if PANGO_ERROR is not None or _failed:
        terminalreporter.section("missing system package", red=True)
        terminalreporter.line(f"{PANGO_HINT}.")
        if _failed:
            terminalreporter.line(f"It failed {len(_failed)} test(s) or file(s): {', '.join(_failed[:5])}"
                                  + (", ..." if len(_failed) > 5 else ""))
