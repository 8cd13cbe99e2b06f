"""Thresholds and requirements of the policy, checked against the measured scores.

A threshold ``on: point`` compares the point estimate; ``on: lower_bound`` compares the bound of
the bootstrap interval that is least favourable to passing: the lower bound for ``>=`` and ``>``,
the upper bound for ``<=`` and ``<``. An undefined score, or a missing interval when a bound is
asked for, fails the threshold and says why. A requirement is met when all its evidence passes.

Inadmissible evidence: an explainer whose sanity check failed (its MeGe or ReCo did not fall when the
models were degraded, :mod:`auditkit.engine.sanity`) gives scores that are no evidence of anything.
Every threshold check on such an explainer's score is recorded as not met, whatever the value, with
the reason ``inadmissible: sanity check <name> failed``, so no requirement can be met on it. The
``random`` control (:data:`~auditkit.engine.sanity.UNGATED_EXPLAINERS`) is never judged by a sanity
check, so it is never inadmissible.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from auditkit.engine.sanity import SanityCheck
from auditkit.engine.scoring import ExplainerScores, Score
from auditkit.policy import Policy, ThresholdSpec

_OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
AUDIT_METRICS = ("accuracy", "accuracy_spread")


@dataclass(frozen=True)
class ThresholdCheck:
    """One threshold applied to one explainer (or to the models, for accuracy metrics).

    ``inadmissible`` names the failed sanity checks that void the explainer's scores (empty when
    the score is admissible); such a check never passes, whatever ``measured`` is.
    """

    threshold: str
    metric: str
    op: str
    value: float
    on: str
    explainer: str | None
    measured: float | None
    passed: bool
    reason: str
    inadmissible: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "inadmissible": list(self.inadmissible)}


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


def inadmissible_explainers(sanity: Iterable[SanityCheck]) -> dict[str, tuple[str, ...]]:
    """Explainer -> the names of its failed sanity checks, for every explainer with one.

    An explainer outside the verdict of the checks (the ``random`` control) is never listed.
    """
    failed: dict[str, tuple[str, ...]] = {}
    for check in sanity:
        for name in check.trends:
            if check.explainer_passed(name) is False:
                failed[name] = (*failed.get(name, ()), check.name)
    return failed


def inadmissible_reason(checks: Sequence[str]) -> str:
    """The reason of a threshold check voided by failed sanity checks.

    >>> inadmissible_reason(["weight_randomisation"])
    'inadmissible: sanity check weight_randomisation failed'
    >>> inadmissible_reason(["weight_randomisation", "label_shuffling"])
    'inadmissible: sanity checks weight_randomisation, label_shuffling failed'
    """
    return (f"inadmissible: sanity check{'s' if len(checks) > 1 else ''} "
            f"{', '.join(checks)} failed")


def _check(spec: ThresholdSpec, score: Score, explainer: str | None,
           inadmissible: Sequence[str] = ()) -> ThresholdCheck:
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
    if inadmissible:
        passed, reason = False, inadmissible_reason(inadmissible)
    return ThresholdCheck(spec.id, spec.metric, spec.op, spec.value, spec.on, explainer,
                          measured, passed, reason, tuple(inadmissible))


def check_thresholds(
    policy: Policy,
    explainers: Mapping[str, ExplainerScores],
    accuracy: Score,
    accuracy_spread: float,
    inadmissible: Mapping[str, Sequence[str]] | None = None,
) -> list[ThresholdCheck]:
    """Every threshold of the policy against every explainer it names (or the models).

    Args:
        inadmissible: explainer -> its failed sanity checks (:func:`inadmissible_explainers`); a
            check on such an explainer's score is not met, with reason :func:`inadmissible_reason`.
    """
    inadmissible = inadmissible or {}
    checks = []
    for spec in policy.thresholds:
        if spec.metric == "accuracy":
            checks.append(_check(spec, accuracy, None))
        elif spec.metric == "accuracy_spread":
            checks.append(_check(spec, Score(accuracy_spread, accuracy_spread, accuracy_spread), None))
        else:
            names = list(explainers) if spec.explainers == "all" else list(spec.explainers)
            checks.extend(_check(spec, explainers[name].score(spec.metric), name,
                                 inadmissible.get(name, ())) for name in names)
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
