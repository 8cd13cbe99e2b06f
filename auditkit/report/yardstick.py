"""The random controls as yardsticks: whether each method scores better than them, score by score.

The random baseline's maps ignore the model, so a score on which a method does no better than the
control does not tell that method's explanations from noise. A method *beats* the control on a score
when its estimate is strictly better (higher, or lower for the scores in :data:`LOWER_IS_BETTER`); the
comparison is of the point estimates, as in the paper's tables, and says nothing when either score is
undefined.

Smooth maps agree with each other more by chance than pixel noise does (Binder et al., CVPR 2023), so
where the policy lists ``random_smooth`` each method is also compared with random maps of its own
smoothness (``ExplainerEntry.smooth_control``, :mod:`auditkit.engine.smooth`), on the scores that
control has (:data:`SMOOTH_SCORES`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from auditkit.catalog import METRICS, names
from auditkit.explainers import EXPLAINERS, RandomBaseline
from auditkit.explainers.input_control import InputControl
from auditkit.report.words import METRIC_LABELS, and_list, explainer_label, number
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
SMOOTH_BEATS, SMOOTH_BEHIND = "✓ beats smooth random", "✗ no better than smooth random"
"""The marks against the method's own smooth control."""
SMOOTH_SCORES = names(scope="explainer")
"""The scores the smooth control is compared on: those measured at every level (no properties)."""


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


def smooth_control(entry: ExplainerEntry, metric: str) -> float | None:
    """The score ``metric`` of ``entry``'s own smooth control; None where it has none."""
    control = entry.smooth_control
    score = None if control is None else control.scores.get(metric)
    return None if score is None else score.value


def smooth_mark(entry: ExplainerEntry, metric: str) -> str:
    """The table mark of a method against its own smooth control: :data:`SMOOTH_BEATS`,
    :data:`SMOOTH_BEHIND`, or "" (no smooth control, or a score undefined)."""
    verdict = beats(metric, _value(entry, metric), smooth_control(entry, metric))
    return {True: SMOOTH_BEATS, False: SMOOTH_BEHIND, None: ""}[verdict]


def marks(explainers: Mapping[str, ExplainerEntry], name: str,
          metrics: Sequence[str]) -> list[dict[str, Any]]:
    """The marks of ``name`` on ``metrics`` for a table cell, against ``random`` then against its
    smooth control: ``text`` ("corrected ReCo ..." for the second score of several) and ``behind``
    (the method does not beat that control); unmarked ones left out."""
    out = []
    for i, metric in enumerate(metrics):
        for text in (mark(explainers, name, metric), smooth_mark(explainers[name], metric)):
            if text:
                out.append({"text": (f"{LABELS.get(metric, metric)}: " if i else "") + text,
                            "behind": text in (BEHIND, SMOOTH_BEHIND)})
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



def smooth_behind(explainers: Mapping[str, ExplainerEntry],
                  metrics: Sequence[str] = SMOOTH_SCORES) -> dict[str, list[str]]:
    """Score -> the methods that do not beat their own smooth control on it, for every score on
    which some method does not; empty where no method has a smooth control."""
    out = {}
    for metric in metrics:
        below = [n for n, e in explainers.items() if n not in CONTROLS
                 and beats(metric, _value(e, metric), smooth_control(e, metric)) is False]
        if below:
            out[metric] = below
    return out


def smooth_yardstick(explainers: Mapping[str, ExplainerEntry]) -> str:
    """Page one's sentence naming, per score, the methods that do no better than random maps of their
    own smoothness, each with its width and both scores ("" when every method beats its control, or
    none has one).

    >>> from dataclasses import replace
    >>> from auditkit.results import Estimate, SmoothControl, _example
    >>> entry = _example().explainers["saliency"]
    >>> control = SmoothControl(1.25, {"mege": Estimate(0.8)})
    >>> smooth_yardstick({"gradcam": replace(entry, scores={"mege": Estimate(0.7)},
    ...                                      smooth_control=control)}).split(": ", 1)[1]
    'on MeGe: Grad-CAM 0.700 (width 1.25 px: control 0.800).'
    """
    parts = []
    for metric, below in smooth_behind(explainers).items():
        lower = ", lower is better" if metric in LOWER_IS_BETTER else ""
        named = [f"{explainer_label(n)} {number(_value(explainers[n], metric))}"  # type: ignore[arg-type]
                 f" (width {explainers[n].smooth_control.sigma:.2f} px: control "  # type: ignore[union-attr]
                 f"{number(smooth_control(explainers[n], metric))})" for n in below]  # type: ignore[arg-type]
        parts.append(f"on {METRIC_LABELS[metric]}{lower}: {and_list(named)}")
    if not parts:
        return ""
    return ("Methods that score no better than random maps of their own smoothness (Gaussian-filtered "
            "noise of the width measured on their maps), whose agreement is chance: "
            + "; ".join(parts) + ".")
