"""The scenario of ``tests/test_one_home.py``, run in a fresh interpreter: a scratch metric and a scratch
explainer added to their registries as a developer adds them, before any reader is imported.

``python tests/_one_home_scenario.py audit POLICY OUT``: register the scratch explainer and run the
audit of ``POLICY`` into ``OUT``. The scratch metric is left out here: the engine computes only the
metrics it has code for (a new metric's ``metrics/`` function and its call in ``engine/scoring.py``
are the documented part of adding one).

``python tests/_one_home_scenario.py read OUT [--without]``: register both (``--without``: neither),
give every explainer of ``OUT/results.json`` its scratch-metric score as the engine would, write
results.json, and print as JSON what each reader shows: results.json, summary.txt, the report's
context and HTML, the history's comparison. Only the registries are touched; every reader runs as
shipped.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

SCRATCH_METRIC, SCRATCH_EXPLAINER = "scratch_score", "scratch_method"
METRIC_LABEL, METRIC_SHORT, EXPLAINER_LABEL = "Scratch metric", "Scratch_m", "Scratch method"
SCORES = {"saliency": 0.95, "random": 0.9, SCRATCH_EXPLAINER: 0.5}
"""The scratch metric's value per explainer: the scratch method does no better than random on it."""


def register_metric() -> None:
    """Add the scratch metric to the catalog, as a developer adds a line to ``_ALL``."""
    from auditkit import catalog

    catalog._ALL = (*catalog._ALL, catalog.Metric(
        SCRATCH_METRIC, METRIC_LABEL, METRIC_SHORT, True, (0, 1), "explainer", trend=True,
        headline=True, deployed=True))
    catalog.METRICS = type(catalog.METRICS)({m.name: m for m in catalog._ALL})


def register_explainer() -> None:
    """Add the scratch explainer to the registry, as a developer adds a class to ``EXPLAINERS``."""
    from typing import ClassVar

    from auditkit.explainers.registry import EXPLAINERS
    from auditkit.explainers.saliency import Saliency

    class ScratchMethod(Saliency):
        name: ClassVar[str] = SCRATCH_EXPLAINER
        label: ClassVar[str] = EXPLAINER_LABEL

    EXPLAINERS[ScratchMethod.name] = ScratchMethod


def audit(policy: Path, out: Path) -> None:
    register_explainer()
    from auditkit.engine import AuditOptions, run_audit
    from auditkit.policy import load_policy

    run_audit(AuditOptions(load_policy(policy), out, device="cpu", progress=False))


def _scored(doc, values):
    """``doc`` with the scratch metric's estimate ``values[name]`` in every explainer's scores."""
    from auditkit.results import Estimate

    def estimate(value: float) -> Estimate:
        return Estimate(value, value - 0.01, value + 0.01)

    return replace(doc, explainers={
        name: replace(e, scores={**e.scores, SCRATCH_METRIC: estimate(values[name])})
        for name, e in doc.explainers.items()})


def read(out: Path, registered: bool) -> dict:
    if registered:
        register_metric()
        register_explainer()
    import auditkit
    from auditkit.history.compare import score_changes
    from auditkit.report import deployed, plots, sanity, since, yardstick
    from auditkit.report.context import build_context
    from auditkit.report.render import render_report
    from auditkit.report.text import summary_text
    from auditkit.results import AuditDocument

    path = out / "results.json"
    doc = _scored(AuditDocument.from_json(path.read_bytes()), SCORES)
    path.write_bytes(doc.to_json())
    doc = AuditDocument.from_json(path.read_bytes())
    plain = json.loads(path.read_bytes())
    context = build_context(doc, out)
    (html,) = render_report(doc, out, formats=("html",))
    later = _scored(doc, {name: value - 0.2 for name, value in SCORES.items()})
    return {
        "auditkit": auditkit.__file__,
        "work_files": sorted(p.name for p in (out / "work").glob("explainer_*.pt")),
        "results_json": {name: sorted(e["scores"]) for name, e in plain["explainers"].items()},
        "summary": summary_text(doc),
        "score_columns": context["score_columns"],
        "rows": {row["label"]: len(row["scores"]) for row in context["explainers"]},
        "explainer_names": context["explainer_names"],
        "yardstick": context["yardstick"],
        "trend_columns": [*sanity.TREND_COLUMNS],
        "curve_metrics": [*sanity.CURVE_METRICS],
        "since_panels": [*since.TREND_PANELS],
        "deployed_columns": [metric for metric, _ in deployed.COLUMNS],
        "colours": {**plots.METHOD_COLOURS},
        "controls": sorted(yardstick.CONTROLS),
        "html": html.read_text(encoding="utf-8"),
        "changes": [[c.explainer, c.metric, c.change] for c in score_changes(doc, later)],
    }


if __name__ == "__main__":
    if sys.argv[1] == "audit":
        audit(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        json.dump(read(Path(sys.argv[2]), "--without" not in sys.argv), sys.stdout)
