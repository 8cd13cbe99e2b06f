"""The "Properties of the explanations" table: one row per property, one column per method.

Reads the document (the explainers' scores, their properties and the threshold checks) and returns
template context of formatted strings and flags, as :mod:`auditkit.report.context`. A cell holds the
estimate with its interval and the verdict of the policy's thresholds on that method and metric
("no threshold" where none applies); a property a method makes no claim to reads "n/a".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from auditkit.catalog import COMPARISONS, METRICS
from auditkit.report.yardstick import LOWER_IS_BETTER, marks
from auditkit.results import AuditDocument, Estimate, ExplainerEntry, PropertyChecks, ThresholdCheck

_MEASURES = {
    "robustness_distance": "Spearman distance under noise",
    "invariance_distance": "Spearman distance, worst transformation",
    "completeness_error": "relative completeness error",
}
"""How the report names a measure where its catalog label (``Metric.label``) is too short."""


def measure(metric: str) -> str:
    """How the report names ``metric``'s measure.

    >>> measure("mu_fidelity"), measure("invariance_distance")
    ('μF', 'Spearman distance, worst transformation')
    """
    return _MEASURES.get(metric, METRICS[metric].label)


def direction(metric: str) -> str:
    """``higher is better`` or ``lower is better`` (``Metric.higher_is_better``)."""
    return "lower is better" if metric in LOWER_IS_BETTER else "higher is better"


_ROWS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("generalisable", ("mege",)),
    ("consistent", ("reco",)),
    ("faithful", ("mu_fidelity",)),
    ("robust", ("robustness_distance", "sensitivity_max")),
    ("invariant", ("invariance_distance",)),
    ("complete", ("completeness_error",)),
)
PROPERTY_ROWS: tuple[tuple[str, str, tuple[str, ...], str], ...] = tuple(
    (prop, "; ".join(map(measure, metrics)), metrics, direction(metrics[0])) for prop, metrics in _ROWS)
"""(property, how it is measured, its metrics (the first is the cell's value), direction)."""


def _num(value: float) -> str:
    """
    >>> _num(-0.0876)
    '−0.088'
    """
    return f"{value:.3f}".replace("-", "−")


def _text(score: Estimate | None) -> str:
    """
    >>> _text(Estimate(0.1, 0.05, 0.2))
    '0.100 [0.050, 0.200]'
    >>> _text(Estimate(None, undefined="not applicable: no claim"))
    'n/a'
    """
    if score is None or score.value is None:
        return "n/a" if score is None or score.undefined.startswith("not applicable") \
            else "not measured" if score.undefined.startswith("not measured") else "undefined"
    if score.low is None or score.high is None:
        return _num(score.value)
    return f"{_num(score.value)} [{_num(score.low)}, {_num(score.high)}]"


def _cell(name: str, explainers: Mapping[str, ExplainerEntry], metrics: Sequence[str],
          checks: Sequence[ThresholdCheck]) -> dict[str, Any]:
    own = [c for c in checks if c.explainer == name and c.metric in metrics]
    explainer = explainers[name]
    extra = [f"SENS_max {_text(explainer.score(m))}" for m in metrics[1:]]
    props = explainer.properties
    if metrics[0] == "invariance_distance" and props is not None and props.invariance_left_out:
        extra.append(f"{props.invariance_left_out:,} image-transformation pairs left out "
                     "(prediction changed)")
    met = all(c.passed for c in own)
    return {
        "text": _text(explainer.score(metrics[0])),
        "extra": extra,
        "marks": marks(explainers, name, metrics),
        "rule": "; ".join(f"{COMPARISONS[c.op].symbol} {c.value:g} ({c.threshold})" for c in own),
        "status": ("met" if met else "not met") if own else "",
        "css": ("met" if met else "unmet") if own else "",
    }


def _what(name: str, setting: Mapping[str, Any]) -> str:
    """A declared transformation in words.

    >>> _what("translate", {"pixels": 1}), _what("rotate", {"degrees": 10.0})
    ('shift right by 1 pixel', 'rotation by 10°')
    >>> _what("brightness", {"delta": -0.2})
    'brightness ×0.8'
    """
    if name == "hflip":
        return "horizontal flip"
    if name == "translate":
        n = setting["pixels"]
        return f"shift right by {n} pixel{'s' if n != 1 else ''}"
    if name == "rotate":
        return f"rotation by {setting['degrees']:g}°"
    if name == "brightness":
        return f"brightness ×{1 + setting['delta']:g}"
    return name + "".join(f" {k} {v}" for k, v in setting.items())


def _transformations(doc: AuditDocument, label: Callable[[str], str]) -> list[dict[str, Any]]:
    """One row per method: each transformation's distance, compared and left-out counts."""
    rows = []
    for name, e in doc.explainers.items():
        done = () if e.properties is None else e.properties.invariance_transformations
        cells = [{"what": _what(t.name, t.setting),
                  "text": _text(t.distance),
                  "counts": f"{t.compared:,} compared, {t.left_out:,} left out"}
                 for t in done]
        if cells:
            rows.append({"label": label(name), "cells": cells})
    return rows


def _random_sentence(checks: PropertyChecks, label: Callable[[str], str]) -> str:
    """The sanity expectation of the properties in words."""
    worst = checks.random_scores_worst
    if not worst or all(c.random is None for c in worst.values()):  # no random control audited
        return ""
    parts = []
    for prop, c in worst.items():
        name = prop[0].upper() + prop[1:]
        if c.held is None:
            parts.append(f"{name}: not checked (no random control, or its score is undefined).")
        elif c.held:
            parts.append(f"{name}: the random control scores worst, as it should.")
        else:
            others = ", ".join(label(n) for n in c.not_beating_random)
            parts.append(f"{name}: NOT as it should: {others} did not beat the random control, so this "
                         "score does not tell the methods from noise here.")
    return ("A score that tells the methods from noise gives the random control the worst value. "
            + " ".join(parts))


def properties_section(doc: AuditDocument, label: Callable[[str], str],
                       confidence: str) -> dict[str, Any] | None:
    """Context of the properties table; None when the audit measured no property."""
    explainers = doc.explainers
    if not any(e.properties for e in explainers.values()):
        return None
    resolved = doc.policy.resolved.get("properties") or {}
    robustness = resolved.get("robustness") or {}
    rows = [{"property": prop, "measure": how, "direction": better,
             "cells": [_cell(name, explainers, metrics, doc.thresholds) for name in explainers]}
            for prop, how, metrics, better in PROPERTY_ROWS]
    return {
        "columns": [label(n) for n in explainers],
        "rows": rows,
        "confidence": confidence,
        "radius": f"{robustness.get('radius', 0):g}",
        "perturbations": str(robustness.get("perturbations", "")),
        "transformations": _transformations(doc, label),
        "random_check": _random_sentence(doc.property_checks, label),
    }
