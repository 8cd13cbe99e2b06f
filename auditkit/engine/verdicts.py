"""Thresholds and requirements of the policy, checked against the measured scores.

A threshold ``on: point`` compares the point estimate; ``on: lower_bound`` compares the bound of
the bootstrap interval that is least favourable to passing: the lower bound for ``>=`` and ``>``,
the upper bound for ``<=`` and ``<``. An undefined score, or a missing interval when a bound is
asked for, fails the threshold and says why. A requirement is met when all its evidence passes.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from auditkit.engine.scoring import ExplainerScores, Score
from auditkit.policy import Policy, ThresholdSpec

_OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
AUDIT_METRICS = ("accuracy", "accuracy_spread")


@dataclass(frozen=True)
class ThresholdCheck:
    """One threshold applied to one explainer (or to the models, for accuracy metrics)."""

    threshold: str
    metric: str
    op: str
    value: float
    on: str
    explainer: str | None
    measured: float | None
    passed: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class RequirementVerdict:
    """A requirement of the policy and whether its evidence holds."""

    id: str
    title: str
    articles: tuple[str, ...]
    evidence: tuple[str, ...]
    met: bool
    failed_checks: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "articles": list(self.articles),
                "evidence": list(self.evidence), "met": self.met,
                "failed_checks": list(self.failed_checks)}


def _check(spec: ThresholdSpec, score: Score, explainer: str | None) -> ThresholdCheck:
    side = "point" if spec.on == "point" else ("low" if spec.op in (">=", ">") else "high")
    measured = score.bound(side)
    if score.value is None:
        passed, reason = False, f"undefined: {score.undefined}"
    elif measured is None:
        passed, reason = False, "no confidence interval (bootstrap resamples = 0)"
    else:
        passed = bool(_OPS[spec.op](measured, spec.value))
        label = "estimate" if side == "point" else f"CI {'lower' if side == 'low' else 'upper'} bound"
        reason = f"{label} {measured:.4f} {spec.op} {spec.value}: {'met' if passed else 'not met'}"
    return ThresholdCheck(spec.id, spec.metric, spec.op, spec.value, spec.on, explainer,
                          measured, passed, reason)


def check_thresholds(
    policy: Policy,
    explainers: Mapping[str, ExplainerScores],
    accuracy: Score,
    accuracy_spread: float,
) -> list[ThresholdCheck]:
    """Every threshold of the policy against every explainer it names (or the models)."""
    checks = []
    for spec in policy.thresholds:
        if spec.metric == "accuracy":
            checks.append(_check(spec, accuracy, None))
        elif spec.metric == "accuracy_spread":
            checks.append(_check(spec, Score(accuracy_spread, accuracy_spread, accuracy_spread), None))
        else:
            names = list(explainers) if spec.explainers == "all" else list(spec.explainers)
            checks.extend(_check(spec, explainers[name].score(spec.metric), name) for name in names)
    return checks


def judge_requirements(policy: Policy, checks: list[ThresholdCheck]) -> list[RequirementVerdict]:
    """A requirement is met when every check of every threshold it cites passed."""
    verdicts = []
    for req in policy.requirements:
        failed = tuple(
            f"{c.threshold}" + (f"[{c.explainer}]" if c.explainer else "")
            for c in checks
            if c.threshold in req.evidence and not c.passed
        )
        verdicts.append(RequirementVerdict(req.id, req.title, tuple(req.articles),
                                           tuple(req.evidence), not failed, failed))
    return verdicts
