"""Score-by-score comparison of two audits' results.json, and which changes are regressions.

Compared scores: the accuracy and, per explainer, ``mege``, ``reco``, ``reco_corrected``, ``reco_auc``
and ``mu_fidelity`` (:data:`COMPARED`, the catalog's per-explainer metrics). Every one of them is
higher-is-better (Fel et al., WACV 2022; the accuracy of the fold models), so a negative change is a
drop.

A change is *significant* when the two bootstrap intervals do not overlap: a conservative test
(non-overlap implies a difference at least at the intervals' level, overlap does not rule one out)
that needs nothing but what results.json stores. Without an interval on either side (no bootstrap,
an undefined score, an explainer in one audit only) significance is ``None``, shown "n/a". A
*regression* is a significant change with ``b < a``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from auditkit.catalog import names
from auditkit.results import AuditDocument, Estimate

COMPARED = names(scope="explainer")
"""The per-explainer scores compared (with the accuracy)."""


def estimate_dict(estimate: Estimate) -> dict[str, float | None]:
    """``{"value", "ci_low", "ci_high"}``: how the history writes a score (``history --json``,
    ``diff --json``, the report's since-last-audit input).

    >>> estimate_dict(Estimate(0.5, 0.25, 0.75, undefined=""))
    {'value': 0.5, 'ci_low': 0.25, 'ci_high': 0.75}
    """
    return {"value": estimate.value, "ci_low": estimate.low, "ci_high": estimate.high}


@dataclass(frozen=True)
class ScoreChange:
    """One score in audits A and B; ``a`` or ``b`` is ``None`` where that audit lacks it.

    >>> change = ScoreChange(None, "accuracy", Estimate(0.9, 0.85, 0.95), Estimate(0.7, 0.65, 0.75))
    >>> change.label, round(change.change, 2), change.significant, change.regression
    ('accuracy', -0.2, True, True)
    """

    explainer: str | None
    metric: str
    a: Estimate | None
    b: Estimate | None

    @property
    def label(self) -> str:
        """``accuracy`` or ``<explainer> <metric>``."""
        return self.metric if self.explainer is None else f"{self.explainer} {self.metric}"

    @property
    def change(self) -> float | None:
        """``b - a``; ``None`` unless both values exist."""
        if self.a is None or self.b is None or self.a.value is None or self.b.value is None:
            return None
        return self.b.value - self.a.value

    @property
    def significant(self) -> bool | None:
        """Whether the intervals are disjoint; ``None`` without an interval on both sides."""
        a = None if self.a is None else self.a.interval
        b = None if self.b is None else self.b.interval
        if a is None or b is None:
            return None
        return a[1] < b[0] or b[1] < a[0]

    @property
    def regression(self) -> bool:
        """A significant drop from A to B."""
        return bool(self.significant) and (self.change or 0.0) < 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "explainer": self.explainer,
            "metric": self.metric,
            "a": None if self.a is None else estimate_dict(self.a),
            "b": None if self.b is None else estimate_dict(self.b),
            "change": self.change,
            "significant": self.significant,
            "regression": self.regression,
        }


def score_changes(a: AuditDocument, b: AuditDocument) -> list[ScoreChange]:
    """Every score of either audit (:data:`COMPARED` and the accuracy), A's order first, then scores
    only B has."""
    ea, eb = a.estimates(COMPARED), b.estimates(COMPARED)
    keys = [*ea, *(k for k in eb if k not in ea)]
    return [ScoreChange(explainer, metric, ea.get((explainer, metric)), eb.get((explainer, metric)))
            for explainer, metric in keys]


def regressions(a: AuditDocument, b: AuditDocument) -> list[ScoreChange]:
    """The scores that dropped significantly from audit ``a`` to ``b``."""
    return [change for change in score_changes(a, b) if change.regression]
