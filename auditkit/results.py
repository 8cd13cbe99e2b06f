"""The contract of results.json: its schema version, its codes, and typed readers of its scores.

The engine writes results.json (:meth:`auditkit.engine.AuditResult.summary`); the report, the history
and ``verify`` read it. What they share lives here, torch-free: :data:`SCHEMA_VERSION`, the pair
categories of the distance records (:data:`IGNORED`, :data:`S_EQ`, :data:`S_NEQ`), :class:`Estimate`
(one score with its interval) and :class:`Results`, which finds any score of the catalog
(:data:`~auditkit.catalog.METRICS`) where results.json keeps it, so no reader re-implements that.
The schema only gains fields; a field that moves bumps :data:`SCHEMA_VERSION`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from auditkit._format import interval_text
from auditkit.catalog import METRICS, names

SCHEMA_VERSION = 1
"""results.json's ``schema_version``."""

IGNORED, S_EQ, S_NEQ = 0, 1, 2
"""Category of a pair of fold models on one image in a distance record: ignored (neither model is
right), S= (both right) or S≠ (exactly one right)."""


def explainer_entry(entry: Mapping[str, Any], metric: str) -> Mapping[str, Any] | None:
    """Score ``metric`` as results.json keeps it in one explainer's ``entry``: at the top for a
    per-explainer score, under ``properties`` for a property; ``None`` where not measured.

    >>> explainer_entry({"mege": {"value": 0.7}, "properties": {"sensitivity_max": {"value": 0.2}}},
    ...                 "sensitivity_max")
    {'value': 0.2}
    """
    if METRICS[metric].scope == "property":
        entry = entry.get("properties") or {}
    return entry.get(metric)


@dataclass(frozen=True)
class Estimate:
    """A score of results.json: ``value`` with its interval ``[low, high]``; ``None`` where absent.

    ``undefined`` says why a score has no value (results.json's ``undefined``), or is ``""``.
    """

    value: float | None
    low: float | None = None
    high: float | None = None
    undefined: str = ""

    @classmethod
    def from_summary(cls, score: Mapping[str, Any]) -> Estimate:
        """From results.json's ``{"value", "ci_low", "ci_high", "undefined"?}``."""
        return cls(score.get("value"), score.get("ci_low"), score.get("ci_high"),
                   score.get("undefined") or "")

    @property
    def interval(self) -> tuple[float, float] | None:
        """``(low, high)``, or ``None`` when the score or either bound is missing."""
        if self.value is None or self.low is None or self.high is None:
            return None
        return self.low, self.high

    def text(self, digits: int = 3) -> str:
        """``value [low, high]``, the value alone, or ``undefined``.

        >>> Estimate(0.5, 0.25, 0.75).text(2), Estimate(0.5).text(1), Estimate(None).text()
        ('0.50 [0.25, 0.75]', '0.5', 'undefined')
        """
        return interval_text(self.value, self.low, self.high, digits)

    def to_dict(self) -> dict[str, float | None]:
        return {"value": self.value, "ci_low": self.low, "ci_high": self.high}


@dataclass(frozen=True)
class Results:
    """A typed view of one results.json (``data``, as parsed).

    >>> r = Results({"accuracy": {"value": 0.9}, "explainers": {"saliency": {
    ...     "mege": {"value": 0.7, "ci_low": 0.6, "ci_high": 0.8},
    ...     "properties": {"robustness_distance": {"value": 0.1}}}}})
    >>> r.score("saliency", "mege").text(1), r.score("saliency", "robustness_distance").text(1)
    ('0.7 [0.6, 0.8]', '0.1')
    >>> r.score(None, "accuracy").text(1), r.score("saliency", "completeness_error")
    ('0.9', None)
    """

    data: Mapping[str, Any]

    @property
    def explainers(self) -> tuple[str, ...]:
        """The audited explainers' names, in the policy's order."""
        return tuple(self.data.get("explainers", {}))

    def entry(self, explainer: str | None, metric: str) -> Mapping[str, Any] | None:
        """Score ``metric`` of ``explainer`` (``None`` for a model metric) as results.json keeps it
        (``{"value", "ci_low", "ci_high", "undefined"}``): a per-explainer score at the explainer, a
        property under its ``properties``, the accuracy and its spread at the top; ``None`` when this
        audit did not measure it."""
        if METRICS[metric].scope != "model":
            return explainer_entry(self.data.get("explainers", {}).get(explainer, {}), metric)
        accuracy = self.data.get("accuracy")
        if accuracy is None or metric == "accuracy":
            return accuracy
        return {"value": accuracy.get("spread"), "ci_low": None, "ci_high": None, "undefined": None}

    def score(self, explainer: str | None, metric: str) -> Estimate | None:
        """:meth:`entry` as an :class:`Estimate`."""
        found = self.entry(explainer, metric)
        return None if found is None else Estimate.from_summary(found)

    def estimates(self, metrics: tuple[str, ...] = names(scope="explainer")
                  ) -> dict[tuple[str | None, str], Estimate]:
        """``(explainer, metric) -> Estimate`` of every measured score of ``metrics``, the accuracy
        first under ``(None, "accuracy")``."""
        found = {(None, "accuracy"): self.score(None, "accuracy") or Estimate(None)}
        for name in self.explainers:
            for metric in metrics:
                estimate = self.score(name, metric)
                if estimate is not None:
                    found[(name, metric)] = estimate
        return found


__all__ = ["IGNORED", "SCHEMA_VERSION", "S_EQ", "S_NEQ", "Estimate", "Results", "explainer_entry"]
