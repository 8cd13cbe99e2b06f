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

import copy
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

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


V1_SCORES = ("mege", "reco", "reco_corrected", "reco_auc", "mu_fidelity", "sensitivity_max",
             "robustness_distance", "invariance_distance", "completeness_error")
"""The scores schema 1 of results.json had (a metric added since is absent from a schema-1 document)."""


def _to_schema_1(plain: dict[str, Any]) -> dict[str, Any]:
    """A schema-2 document as schema 1 wrote it: ``on`` for ``estimate`` and no ``status`` in a
    threshold check, the scores flat in each entry (only those schema 1 had), a sanity check's
    settings beside its results."""

    def flat(entry: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in entry.items():
            if key == "scores":
                out.update({m: v for m, v in value.items() if m in V1_SCORES})
            else:
                out[key] = value
        return out

    plain = copy.deepcopy(plain)  # nothing of the result shares an object with the argument
    v1 = copy.deepcopy(plain)
    v1["schema_version"] = 1
    v1["thresholds"] = [{("on" if k == "estimate" else k): v for k, v in c.items() if k != "status"}
                        for c in plain["thresholds"]]
    for name, entry in plain["explainers"].items():
        v1["explainers"][name] = flat(entry)
        if "properties" in entry:
            v1["explainers"][name]["properties"] = flat(entry["properties"])
    for name, check in plain["sanity_checks"].items():
        old = {"levels": check["levels"], **check["settings"]}
        old.update({k: v for k, v in check.items() if k not in ("levels", "settings")})
        old["explainers"] = {e: {**x, "levels": [flat(level) for level in x["levels"]]}
                             for e, x in check["explainers"].items()}
        v1["sanity_checks"][name] = old
    if "deployed" in plain:
        v1["deployed"]["explainers"] = {e: flat(x) for e, x in plain["deployed"]["explainers"].items()}
    return v1


@pytest.fixture
def to_schema_1() -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Turns a schema-2 results.json (parsed) into the schema-1 document that recorded the same audit."""
    return _to_schema_1


@pytest.fixture(scope="session")
def shipped_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``policies/digits.yaml`` as shipped, in a folder of its own beside a deployed checkpoint of its
    architecture where its ``deployed.checkpoint`` looks (``make demo`` trains it; an untrained model's
    state dict here: validating checks it fits, not what it learnt)."""
    import torch

    from auditkit.models import build_model

    root = Path(__file__).resolve().parents[1]
    folder = tmp_path_factory.mktemp("shipped") / "policies"
    folder.mkdir()
    policy = folder / "digits.yaml"
    policy.write_bytes((root / "policies" / "digits.yaml").read_bytes())
    checkpoint = folder.parent / "out" / "deployed" / "digits.pt"
    checkpoint.parent.mkdir(parents=True)
    settings = yaml.safe_load(policy.read_text(encoding="utf-8"))["model"]  # the shipped width
    model = build_model(settings["family"], in_channels=1, num_classes=10, image_size=(8, 8),
                        base_filters=settings.get("base_filters"), dropout=settings.get("dropout"))
    torch.save(model.state_dict(), checkpoint)
    return policy
