"""What auditkit measures: one :class:`Metric` descriptor per score, the one home of its facts.

The policy schema (which metrics a threshold may test, their ranges, which way is better), the
scoring (which scores each explainer gets), the sanity gate (which scores it gates and which score
gates a threshold), the report and the history (labels, which scores a trend shows) all derive their
tables from :data:`METRICS`; adding a metric means adding one descriptor here and computing it.
Torch-free, so the CLI and the history read it without loading torch. The explainers' own facts
(label, settings, completeness, control) are class attributes of :mod:`auditkit.explainers`.

>>> METRICS["mege"].higher_is_better, METRICS["robustness_distance"].higher_is_better
(True, False)
>>> names(scope="explainer")
('mege', 'reco', 'reco_corrected', 'reco_auc', 'mu_fidelity')
>>> METRICS["reco"].gate
'reco_corrected'
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

Scope = Literal["explainer", "property", "model", "pair"]


@dataclass(frozen=True)
class Metric:
    """One score auditkit reports.

    Attributes:
        name: key in results.json and in policy thresholds.
        label: how a reader sees it (``"MeGe"``).
        short: a compact label for one-line summaries (``"ReCo_c"``).
        higher_is_better: the direction of a good score; a threshold on a lower-is-better metric is an
            upper limit (``<=``/``<``).
        range: the closed range of meaningful values (and of threshold values).
        scope: ``explainer`` (every explainer at every sanity level), ``property`` (every explainer on
            the clean audit only), ``model`` (the fold models, no explainer) or ``pair`` (every pair of
            explainers on the clean audit: their agreement, :mod:`auditkit.metrics.agreement`; a
            threshold on it is checked for each pair of the explainers it names).
        section: for a property, the ``properties`` section of the policy that measures it.
        gate: the sanity-gated metric whose verdict decides whether this score of a method is
            admissible evidence; ``None`` where no sanity check speaks to it.
        trend: listed level by level in the sanity checks' trend tables.
        headline: one of the paper's three key scores (MeGe, ReCo, μF), shown in one-line views: the
            history listing and the trend plots over audits.
        deployed: also measured on the deployed checkpoint's maps (:mod:`auditkit.engine.deployed`).
        shown_with: the metric in whose cell of the report's scores table this one is printed (the
            chance-corrected ReCo beside ReCo); ``None``: a column of its own.
    """

    name: str
    label: str
    short: str
    higher_is_better: bool
    range: tuple[float, float]
    scope: Scope
    section: str | None = None
    gate: str | None = None
    trend: bool = False
    headline: bool = False
    deployed: bool = False
    shown_with: str | None = None

    @property
    def gated(self) -> bool:
        """Whether this metric is one the sanity checks gate on (its own gate)."""
        return self.gate == self.name


_ALL = (
    Metric("mege", "MeGe", "MeGe", True, (0, 1), "explainer", gate="mege", trend=True, headline=True),
    Metric("reco", "ReCo", "ReCo", True, (0, 1), "explainer", gate="reco_corrected", trend=True,
           headline=True),
    Metric("reco_corrected", "chance-corrected ReCo", "ReCo_c", True, (-1, 1), "explainer",
           gate="reco_corrected", trend=True, shown_with="reco"),
    Metric("reco_auc", "ReCo_AUC", "ReCo_AUC", True, (0, 1), "explainer", gate="reco_corrected",
           trend=True),
    Metric("mu_fidelity", "μF", "muF", True, (-1, 1), "explainer", trend=True, headline=True,
           deployed=True),
    Metric("sensitivity_max", "SENS_max", "SENS_max", False, (0, math.inf), "property",
           section="robustness", deployed=True),
    Metric("robustness_distance", "distance under noise", "rob_dist", False, (0, 1), "property",
           section="robustness", deployed=True),
    Metric("invariance_distance", "distance under transformations", "inv_dist", False, (0, 1), "property",
           section="invariance", deployed=True),
    Metric("completeness_error", "completeness error", "compl_err", False, (0, math.inf), "property",
           section="completeness"),
    Metric("accuracy", "held-out accuracy", "acc", True, (0, 1), "model"),
    Metric("accuracy_spread", "spread of the fold accuracies", "spread", False, (0, 1), "model"),
    Metric("rank_agreement", "rank agreement", "rank_agr", True, (0, 1), "pair"),
    Metric("agreement", "top-k agreement", "topk_agr", True, (0, 1), "pair"),
)

METRICS: Mapping[str, Metric] = MappingProxyType({m.name: m for m in _ALL})
"""Every metric by name, in report order."""


def names(*, scope: Scope | None = None, gated: bool | None = None, trend: bool | None = None,
          headline: bool | None = None, deployed: bool | None = None) -> tuple[str, ...]:
    """The names of the metrics with the given facts, in report order.

    >>> names(gated=True)
    ('mege', 'reco_corrected')
    >>> names(headline=True)
    ('mege', 'reco', 'mu_fidelity')
    >>> names(scope="property")
    ('sensitivity_max', 'robustness_distance', 'invariance_distance', 'completeness_error')
    """
    return tuple(m.name for m in _ALL if (scope is None or m.scope == scope)
                 and (gated is None or m.gated == gated) and (trend is None or m.trend == trend)
                 and (headline is None or m.headline == headline)
                 and (deployed is None or m.deployed == deployed))


def label(name: str) -> str:
    """The reader's label of metric ``name`` (the name itself for one not in the catalog)."""
    metric = METRICS.get(name)
    return name if metric is None else metric.label


__all__ = ["METRICS", "Metric", "Scope", "label", "names"]


@dataclass(frozen=True)
class Comparison:
    """How a policy threshold compares a score with its value: the test and how a reader sees it."""

    test: Callable[[float, float], bool]
    symbol: str


COMPARISONS: Mapping[str, Comparison] = MappingProxyType({
    ">=": Comparison(operator.ge, "≥"), ">": Comparison(operator.gt, ">"),
    "<=": Comparison(operator.le, "≤"), "<": Comparison(operator.lt, "<"),
})
"""A threshold's ``op`` -> its :class:`Comparison`; the policy schema accepts exactly these keys.

>>> COMPARISONS[">="].test(0.5, 0.5), COMPARISONS["<"].symbol
(True, '<')
"""
