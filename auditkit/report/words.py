"""How the report writes names, numbers, scores and verdicts: the small helpers every section shares.

A score's text comes from :meth:`auditkit.results.Estimate.text`, given a typographic minus; the labels
of methods and metrics come from their owners (``Explainer.label``, ``Metric.label``).
"""

from __future__ import annotations

from collections.abc import Sequence

from auditkit.catalog import METRICS
from auditkit.explainers import EXPLAINERS
from auditkit.results import PAIR_SEPARATOR, Estimate

EXPLAINER_LABELS = {name: cls.label for name, cls in EXPLAINERS.items()}
"""Names the report prints (``Explainer.label``); an explainer not registered is printed under its name."""
METRIC_LABELS = {name: metric.label for name, metric in METRICS.items()}
"""Names the report prints for the metrics (``Metric.label``)."""


def explainer_label(name: str) -> str:
    """The printed name of explainer ``name``, or of both explainers of a pair
    (:func:`~auditkit.results.pair_name`).

    >>> explainer_label("gradcam"), explainer_label("my_method"), explainer_label("saliency vs gradcam")
    ('Grad-CAM', 'my_method', 'Saliency vs Grad-CAM')
    """
    if PAIR_SEPARATOR in name:
        return PAIR_SEPARATOR.join(map(explainer_label, name.split(PAIR_SEPARATOR, 1)))
    return EXPLAINER_LABELS.get(name, name)


def minus(text: str) -> str:
    """``text`` with a typographic minus for each hyphen of a number."""
    return text.replace("-", "−")


def number(value: float, digits: int = 3) -> str:
    """``value`` with ``digits`` decimals and a typographic minus.

    >>> number(0.71234), number(-0.0876)
    ('0.712', '−0.088')
    """
    return minus(Estimate(value).text(digits))


def compact_score(score: Estimate) -> str:
    """A score for a table whose header names the interval (:meth:`Estimate.text`).

    >>> compact_score(Estimate(0.71, 0.7, 0.72)), compact_score(Estimate(-0.5)), compact_score(Estimate(None))
    ('0.710 [0.700, 0.720]', '−0.500', 'undefined')
    """
    return minus(score.text())


def format_score(score: Estimate, confidence: str) -> str:
    """A score in words: estimate, interval, or why it is undefined.

    >>> format_score(Estimate(0.71, 0.7, 0.72), "95%")
    '0.710 (95% CI 0.700–0.720)'
    >>> format_score(Estimate(None, undefined="S≠ is empty"), "95%")
    'undefined (S≠ is empty)'
    """
    if score.value is None:
        return f"undefined ({score.undefined})"
    if score.interval is None:
        return f"{number(score.value)} (no confidence interval)"
    low, high = score.interval
    return f"{number(score.value)} ({confidence} CI {number(low)}–{number(high)})"


def status(met: bool) -> str:
    """``met`` or ``not met``."""
    return "met" if met else "not met"


def and_list(items: Sequence[str]) -> str:
    """
    >>> and_list(["a"]), and_list(["a", "b", "c"])
    ('a', 'a, b and c')
    """
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


__all__ = ["EXPLAINER_LABELS", "METRIC_LABELS", "and_list", "compact_score", "explainer_label",
           "format_score", "minus", "number", "status"]
