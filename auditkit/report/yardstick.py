"""The random control as a yardstick: whether each method scores better than it, score by score.

The random baseline's maps ignore the model, so a score on which a method does no better than the
control does not tell that method's explanations from noise. A method *beats* the control on a score
when its estimate is strictly better (higher, or lower for the scores in :data:`LOWER_IS_BETTER`); the
comparison is of the point estimates, as in the paper's tables, and says nothing when either score is
undefined.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from auditkit.catalog import METRICS, names
from auditkit.explainers import EXPLAINERS, RandomBaseline
from auditkit.explainers.input_control import InputControl
from auditkit.results import ExplainerEntry

CONTROL = RandomBaseline.name
"""Registry name of the control explainer."""
INPUT_CONTROL = InputControl.name
"""Registry name of the input control (maps ``sum_c |x_c|``, the same for every model)."""
CONTROLS = frozenset(name for name, cls in EXPLAINERS.items() if cls.control)
"""The controls: compared with nothing, only compared against."""
SCORES = (*names(scope="explainer"), *names(scope="property"))
"""Every score the control is compared on: every score of a method in the catalog, in its order."""
LOWER_IS_BETTER = frozenset(name for name, metric in METRICS.items() if not metric.higher_is_better)
"""Scores where lower is better (distances, sensitivities, errors; ``Metric.higher_is_better``)."""
LABELS = {"reco_corrected": "corrected", "sensitivity_max": "SENS_max"}
"""How a cell's second score is named in front of its mark."""
BEATS, BEHIND = "✓ beats random", "✗ no better than random"
"""The marks in the tables."""


def _value(explainer: ExplainerEntry | None, metric: str) -> float | None:
    score = None if explainer is None else explainer.score(metric)
    return None if score is None else score.value


def beats(metric: str, value: float | None, control: float | None) -> bool | None:
    """Whether ``value`` is strictly better than the control's; None when either is undefined.

    >>> beats("mege", 0.7, 0.6), beats("invariance_distance", 0.7, 0.6), beats("mege", None, 0.6)
    (True, False, None)
    """
    if value is None or control is None:
        return None
    return value < control if metric in LOWER_IS_BETTER else value > control


def mark(explainers: Mapping[str, ExplainerEntry], name: str, metric: str) -> str:
    """The table mark of explainer ``name`` on ``metric``: :data:`BEATS`, :data:`BEHIND`, or "" (no
    control audited, ``name`` is the control, or a score undefined)."""
    if name == CONTROL or CONTROL not in explainers:
        return ""
    verdict = beats(metric, _value(explainers[name], metric), _value(explainers[CONTROL], metric))
    return {True: BEATS, False: BEHIND, None: ""}[verdict]


def marks(explainers: Mapping[str, ExplainerEntry], name: str,
          metrics: Sequence[str]) -> list[dict[str, Any]]:
    """The marks of ``name`` on ``metrics`` for a table cell: ``text`` ("corrected ReCo ..." for the
    second of several) and ``behind`` (the method does not beat the control); unmarked ones left out."""
    out = []
    for i, metric in enumerate(metrics):
        text = mark(explainers, name, metric)
        if text:
            out.append({"text": (f"{LABELS.get(metric, metric)}: " if i else "") + text,
                        "behind": text == BEHIND})
    return out


def behind(explainers: Mapping[str, ExplainerEntry], metrics: Sequence[str] = SCORES) -> dict[str, list[str]]:
    """Score -> the methods (registry names) that do not beat the control on it, for every score on
    which some method does not; empty without a control.

    >>> from dataclasses import replace
    >>> from auditkit.results import Estimate, _example
    >>> entry = _example().explainers["saliency"]
    >>> behind({"a": replace(entry, scores={"mege": Estimate(0.5)}),
    ...         "random": replace(entry, scores={"mege": Estimate(0.6)})})
    {'mege': ['a']}
    """
    if CONTROL not in explainers:
        return {}
    out = {}
    for metric in metrics:
        control = _value(explainers[CONTROL], metric)
        names = [n for n in explainers if n not in CONTROLS
                 and beats(metric, _value(explainers[n], metric), control) is False]
        if names:
            out[metric] = names
    return out

