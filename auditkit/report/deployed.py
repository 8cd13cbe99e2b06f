"""The "Deployed model" section: the checkpoint the operator runs, beside the k fold models.

Reads results.json's ``deployed`` (:mod:`auditkit.engine.deployed`) and the fold models' scores and
returns template context of formatted strings, as :mod:`auditkit.report.context`; ``None`` when the
audit measured no deployed checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from auditkit.results import Estimate, explainer_entry

COLUMNS: tuple[tuple[str, str], ...] = (
    ("mu_fidelity", "μF (higher is better)"),
    ("robustness_distance", "robustness: Spearman distance under noise (lower is better)"),
    ("invariance_distance", "invariance: Spearman distance, worst transformation (lower is better)"),
)
"""The deployed model's scores per method, in table order, with their headers."""


def _text(score: Mapping[str, Any] | None) -> str:
    """
    >>> _text({"value": 0.5, "ci_low": 0.25, "ci_high": 0.75}), _text(None)
    ('0.500 [0.250, 0.750]', 'not measured')
    """
    if score is None:
        return "not measured"
    return Estimate.from_summary(score).text() if score.get("value") is not None else "undefined"


def accuracy_line(deployed: Mapping[str, Any]) -> str:
    """The deployed model's accuracy in words, saying whether it is held out.

    >>> accuracy_line({"accuracy": {"value": 0.9, "images": 40, "on": "the audited images",
    ...                             "held_out": False}})
    'accuracy 0.900 on the audited images (40 images; not a held-out accuracy)'
    """
    acc = deployed["accuracy"]
    return (f"accuracy {_text(acc)} on {acc['on']} ({acc['images']:,} images; "
            + ("held out from its training, as the policy declares)" if acc["held_out"]
               else "not a held-out accuracy)"))


def deployed_section(results: Mapping[str, Any], label: Callable[[str], str]) -> dict[str, Any] | None:
    """Template context of the section, or ``None`` when results.json records no deployed model."""
    deployed = results.get("deployed")
    if not deployed or "explainers" not in deployed:
        return None
    rows = []
    for name, figures in deployed["explainers"].items():
        folds = results["explainers"].get(name, {})
        rows.append({"label": label(name), "cells": [
            {"deployed": _text(figures.get(metric)), "folds": _text(explainer_entry(folds, metric))}
            for metric, _ in COLUMNS]})
    return {"scope": deployed["scope"], "accuracy": accuracy_line(deployed),
            "note": deployed["accuracy"]["note"], "columns": [header for _, header in COLUMNS],
            "rows": rows}


__all__ = ["COLUMNS", "accuracy_line", "deployed_section"]
