"""The "Deployed model" section: the checkpoint the operator runs, beside the k fold models.

Reads the document's ``deployed`` (:class:`auditkit.results.Deployed`, written by
:mod:`auditkit.engine.deployed`) and the fold models' scores and returns template context of formatted
strings, as :mod:`auditkit.report.context`; ``None`` when the audit measured no deployed checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from auditkit.catalog import METRICS, names
from auditkit.report.properties import PROPERTY_ROWS, direction, measure
from auditkit.results import AuditDocument, Deployed, Estimate

MEASURED = names(deployed=True)
"""The scores :mod:`auditkit.engine.deployed` measures on the deployed checkpoint (``Metric.deployed``)."""


def _header(metric: str) -> str:
    """
    >>> _header("mu_fidelity"), _header("invariance_distance")
    ('μF (higher is better)', 'invariance: Spearman distance, worst transformation (lower is better)')
    """
    section = METRICS[metric].section
    return f"{section + ': ' if section else ''}{measure(metric)} ({direction(metric)})"


_IN_ROWS = frozenset(metric for _, _, metrics, _ in PROPERTY_ROWS for metric in metrics)
COLUMNS: tuple[tuple[str, str], ...] = tuple(
    (metric, _header(metric)) for metric in (
        *(metrics[0] for _, _, metrics, _ in PROPERTY_ROWS if metrics[0] in MEASURED),
        *(metric for metric in MEASURED if metric not in _IN_ROWS)))
"""The deployed model's scores per method with their headers: the value of each row of the properties
table (:data:`~auditkit.report.properties.PROPERTY_ROWS`) that the deployed checkpoint is measured on,
in that order, then each other metric of :data:`MEASURED` (``Metric.deployed``) that no row names, in
the catalog's order."""


def _text(score: Estimate | None) -> str:
    """
    >>> _text(Estimate(0.5, 0.25, 0.75)), _text(Estimate(None)), _text(None)
    ('0.500 [0.250, 0.750]', 'undefined', 'not measured')
    """
    if score is None:
        return "not measured"
    return score.text() if score.value is not None else "undefined"


def accuracy_line(deployed: Deployed) -> str:
    """The deployed model's accuracy in words, saying whether it is held out.

    >>> from auditkit.results import DeployedAccuracy
    >>> accuracy_line(Deployed("m.pt", "", DeployedAccuracy(0.9, images=40, on="the audited images"),
    ...                        {}, ""))
    'accuracy 0.900 on the audited images (40 images; not a held-out accuracy)'
    """
    acc = deployed.accuracy
    return (f"accuracy {_text(acc)} on {acc.on} ({acc.images:,} images; "
            + ("held out from its training, as the policy declares)" if acc.held_out
               else "not a held-out accuracy)"))


def deployed_section(doc: AuditDocument, label: Callable[[str], str]) -> dict[str, Any] | None:
    """Template context of the section, or ``None`` when the document records no deployed model."""
    deployed = doc.deployed
    if deployed is None:
        return None
    rows = []
    for name, figures in deployed.explainers.items():
        folds = doc.explainers.get(name)
        rows.append({"label": label(name), "cells": [
            {"deployed": _text(figures.score(metric)),
             "folds": _text(None if folds is None else folds.score(metric))}
            for metric, _ in COLUMNS]})
    return {"scope": deployed.scope, "accuracy": accuracy_line(deployed),
            "note": deployed.accuracy.note, "columns": [header for _, header in COLUMNS],
            "rows": rows}


__all__ = ["COLUMNS", "MEASURED", "accuracy_line", "deployed_section"]
