"""Thresholds and requirements of the policy, checked against the measured scores.

A threshold ``estimate: point`` compares the point estimate; ``estimate: lower_bound`` compares the bound of
the bootstrap interval that is least favourable to passing: the lower bound for ``>=`` and ``>``,
the upper bound for ``<=`` and ``<``. An undefined score, or a missing interval when a bound is
asked for, fails the threshold and says why. A requirement is met when all its evidence passes.

Admissibility follows the metric (:data:`GATES`): a threshold on MeGe is evidence when MeGe passed
every sanity check for that explainer, a threshold on ReCo, its corrected form or ReCo_AUC when the
chance-corrected ReCo passed (:mod:`auditkit.engine.sanity`). Where a check *failed* for that metric,
the threshold check is not met, whatever the value, with the reason ``inadmissible: sanity check
<name> failed (<metric> did not fall)``; where one was *inconclusive*, it is not met with the reason
``not evidenced: sanity check <name> inconclusive (<why>)``. muF and the properties have no sanity
metric and are never gated. The ``random`` control (:data:`~auditkit.engine.sanity.UNGATED_EXPLAINERS`)
is never judged by a sanity check, so it is never inadmissible.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from auditkit.catalog import COMPARISONS, METRICS, names
from auditkit.engine.sanity import SanityCheck
from auditkit.engine.scoring import ExplainerScores
from auditkit.policy import PAIR_METRICS, Policy, ThresholdSpec, pair_members
from auditkit.results import Agreement, CheckStatus, Estimate, Requirement, ThresholdCheck, pair_name

AUDIT_METRICS = names(scope="model")

GATES: Mapping[str, str] = {name: m.gate for name, m in METRICS.items() if m.gate is not None}
"""Threshold metric -> the sanity metric whose verdict makes it evidence (``Metric.gate``); absent:
never gated."""


@dataclass(frozen=True)
class Gate:
    """What the sanity checks say against one explainer's sanity metric.

    Attributes:
        failed: the checks in which it failed.
        inconclusive: ``(check, reason)`` of the checks in which it was inconclusive.
    """

    failed: tuple[str, ...] = ()
    inconclusive: tuple[tuple[str, str], ...] = ()


def sanity_gates(sanity: Iterable[SanityCheck]) -> dict[tuple[str, str], Gate]:
    """``(explainer, sanity metric)`` -> its :class:`Gate`, for every pair some check did not pass.

    An explainer outside the verdict of the checks (the ``random`` control) is never listed.
    """
    gates: dict[tuple[str, str], Gate] = {}
    for check in sanity:
        for name, trends in check.trends.items():
            for metric, t in trends.items():
                if t.verdict in (None, "pass"):
                    continue
                g = gates.get((name, metric), Gate())
                gates[name, metric] = (Gate((*g.failed, check.name), g.inconclusive)
                                       if t.verdict == "fail" else
                                       Gate(g.failed, (*g.inconclusive, (check.name, t.reason))))
    return gates


def inadmissible_explainers(sanity: Iterable[SanityCheck]) -> dict[str, tuple[str, ...]]:
    """Explainer -> the names of the checks in which one of its gated metrics failed."""
    failed: dict[str, tuple[str, ...]] = {}
    for (name, _), gate in sanity_gates(sanity).items():
        failed[name] = tuple(dict.fromkeys((*failed.get(name, ()), *gate.failed)))
    return {name: checks for name, checks in failed.items() if checks}


def inadmissible_reason(checks: Sequence[str], metric: str | None = None) -> str:
    """The reason of a threshold check voided by failed sanity checks.

    >>> inadmissible_reason(["weight_randomisation"])
    'inadmissible: sanity check weight_randomisation failed'
    >>> inadmissible_reason(["weight_randomisation", "label_shuffling"], "MeGe")
    'inadmissible: sanity checks weight_randomisation, label_shuffling failed (MeGe did not fall)'
    """
    return (f"inadmissible: sanity check{'s' if len(checks) > 1 else ''} "
            f"{', '.join(checks)} failed" + (f" ({metric} did not fall)" if metric else ""))


def not_evidenced_reason(inconclusive: Sequence[tuple[str, str]]) -> str:
    """The reason of a threshold check on a metric whose sanity checks were inconclusive.

    >>> not_evidenced_reason([("label_shuffling", "MeGe is undefined at level 0.3")])
    'not evidenced: sanity check label_shuffling inconclusive (MeGe is undefined at level 0.3)'
    """
    return "not evidenced: " + "; ".join(f"sanity check {name} inconclusive ({why})"
                                         for name, why in inconclusive)


def _check(spec: ThresholdSpec, score: Estimate, explainer: str | None,
           gate: Gate | None = None) -> ThresholdCheck:
    side = "point" if spec.estimate == "point" else ("low" if spec.op in (">=", ">") else "high")
    measured = score.bound(side)
    if score.value is None:
        status, reason = CheckStatus.UNDEFINED, f"undefined: {score.undefined}"
    elif measured is None:
        status, reason = CheckStatus.UNDEFINED, "no confidence interval (bootstrap resamples = 0)"
    else:
        passed = bool(COMPARISONS[spec.op].test(measured, spec.value))
        status = CheckStatus.MET if passed else CheckStatus.NOT_MET
        label = "estimate" if side == "point" else f"CI {'lower' if side == 'low' else 'upper'} bound"
        reason = f"{label} {measured:.4f} {spec.op} {spec.value}: {'met' if passed else 'not met'}"
    gate = gate or Gate()
    if gate.failed:
        status = CheckStatus.INADMISSIBLE
        reason = inadmissible_reason(gate.failed, METRICS[GATES[spec.metric]].label)
    elif gate.inconclusive:
        status, reason = CheckStatus.NOT_EVIDENCED, not_evidenced_reason(gate.inconclusive)
    return ThresholdCheck(spec.id, spec.metric, spec.op, spec.value, spec.estimate, explainer,
                          measured, status, status is CheckStatus.MET, reason, gate.failed,
                          tuple(name for name, _ in gate.inconclusive))


def check_thresholds(
    policy: Policy,
    explainers: Mapping[str, ExplainerScores],
    accuracy: Estimate,
    accuracy_spread: float,
    gates: Mapping[tuple[str, str], Gate] | None = None,
    agreement: Agreement | None = None,
) -> list[ThresholdCheck]:
    """Every threshold of the policy against every explainer it names (or the models).

    Args:
        gates: :func:`sanity_gates`; a check on a gated metric (:data:`GATES`) whose sanity metric
            failed or was inconclusive for the explainer is not met, with reason
            :func:`inadmissible_reason` or :func:`not_evidenced_reason`.
        agreement: the agreement between the explainers; a threshold on a pair metric is checked
            once for every pair of the explainers it names (:func:`pair_checks`).
    """
    gates = gates or {}
    checks = []
    for spec in policy.thresholds:
        if spec.metric in PAIR_METRICS:
            checks.extend(pair_checks(spec, [e.name for e in policy.explainers], agreement))
        elif spec.metric == "accuracy":
            checks.append(_check(spec, accuracy, None))
        elif spec.metric == "accuracy_spread":
            checks.append(_check(spec, Estimate(accuracy_spread, accuracy_spread, accuracy_spread), None))
        else:
            names = list(explainers) if spec.explainers == "all" else list(spec.explainers)
            gate_metric = GATES.get(spec.metric)
            checks.extend(_check(spec, explainers[name].score(spec.metric), name,
                                 gates.get((name, gate_metric)) if gate_metric else None)
                          for name in names)
    return checks


def pair_checks(spec: ThresholdSpec, explainers: Sequence[str],
                agreement: Agreement | None) -> list[ThresholdCheck]:
    """The checks of a threshold on a pair metric: one per pair of the explainers it names
    (:func:`~auditkit.policy.pair_members`: ``all`` pairs every explainer but the controls), in the
    policy's order, each with the pair's :func:`~auditkit.results.pair_name` as its explainer. An
    agreement has no sanity metric, so these checks are never gated."""
    named = set(pair_members(spec.explainers, list(explainers)))
    members = [n for n in explainers if n in named]
    checks = []
    for i, first in enumerate(members):
        for second in members[i + 1:]:
            pair = None if agreement is None else agreement.pair(pair_name(first, second))
            score = pair.scores[spec.metric] if pair is not None else Estimate(
                None, undefined="the agreement between the explainers was not measured")
            checks.append(_check(spec, score, pair_name(first, second)))
    return checks


def judge_requirements(policy: Policy, checks: list[ThresholdCheck]) -> list[Requirement]:
    """A requirement is met when every check of every threshold it cites passed."""
    verdicts = []
    for req in policy.requirements:
        failed = tuple(c.subject for c in checks if c.threshold in req.evidence and not c.passed)
        verdicts.append(Requirement(req.id, req.title, tuple(req.articles), tuple(req.evidence),
                                    not failed, failed))
    return verdicts
