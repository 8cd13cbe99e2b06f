"""The policy's thresholds in the report: each condition in words, the thresholds table, and why a
threshold failed, as page one lists it.

The verdict of a check is :attr:`ThresholdCheck.status`, decided by the engine; nothing here compares
a score with a threshold again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from auditkit.catalog import COMPARISONS
from auditkit.report.words import METRIC_LABELS, compact_score, explainer_label, number, status
from auditkit.results import AuditDocument, CheckStatus, Estimate, ThresholdCheck

FAILURE_WORDS = {CheckStatus.NOT_MET: "not met", CheckStatus.INADMISSIBLE: "inadmissible",
                 CheckStatus.NOT_EVIDENCED: "not evidenced", CheckStatus.UNDEFINED: "undefined"}
"""How page one says why a check failed."""


def _end(check: ThresholdCheck) -> str:
    """The end of the interval a threshold tests: ``lower`` for ``>=`` and ``>``, else ``upper``."""
    return "lower" if check.op in (">=", ">") else "upper"


def rule(check: ThresholdCheck) -> str:
    """``MeGe ≥ 0.5``: the metric, the comparison and the threshold's value."""
    return f"{METRIC_LABELS[check.metric]} {COMPARISONS[check.op].symbol} {check.value:g}"


def condition(check: ThresholdCheck, confidence: str) -> str:
    """The condition a check tests, with the end of the interval it is tested on."""
    basis = "" if check.estimate == "point" else f", tested on the {_end(check)} end of the {confidence} CI"
    return rule(check) + basis


def check_score(doc: AuditDocument, check: ThresholdCheck) -> Estimate:
    """The score a check tests (the spread of the fold accuracies as a point).

    Raises:
        KeyError: the document has no such score.
    """
    found = doc.score(check.explainer, check.metric)
    if found is None:
        raise KeyError(f"results.json has no {check.metric} for {check.explainer}")
    return found


def is_inadmissible(check: ThresholdCheck) -> bool:
    """A sanity check of the metric failed for the method."""
    return check.status is CheckStatus.INADMISSIBLE


def _failure(check: ThresholdCheck) -> tuple[str, str]:
    """Why one check is not met (:attr:`ThresholdCheck.status` in words) and who failed it, with the
    tested value when the value itself fails."""
    subject = explainer_label(check.explainer) if check.explainer else ""
    if check.status is CheckStatus.NOT_MET and check.measured is not None:
        subject = f"{subject} {number(check.measured)}".strip()
    return FAILURE_WORDS[check.status], subject


def failed_line(threshold: str, failed: Sequence[ThresholdCheck], confidence: str) -> str:
    """One line of page one for a threshold some checks failed, its checks grouped by why."""
    groups: dict[str, list[str]] = {}
    for check in failed:
        reason, subject = _failure(check)
        groups.setdefault(reason, []).append(subject)
    check = failed[0]
    if check.explainer is None:  # the models' own score: one check, its value in brackets
        parts = [f"{reason} ({subjects[0]})" if subjects[0] else reason
                 for reason, subjects in groups.items()]
    else:
        parts = [f"{reason} {'by' if reason == 'not met' else 'for'} {', '.join(subjects)}"
                 for reason, subjects in groups.items()]
    basis = "" if check.estimate == "point" else f" ({_end(check)} end of the {confidence} CI)"
    return f"{threshold}, {rule(check)}{basis}: {'; '.join(parts)}"


def threshold_rows(doc: AuditDocument, confidence: str) -> list[dict[str, Any]]:
    """The thresholds table: one row per check."""
    return [{
        "threshold": c.threshold,
        "target": explainer_label(c.explainer) if c.explainer else "fold models",
        "condition": condition(c, confidence),
        "compared": "undefined" if c.measured is None else number(c.measured),
        "score": compact_score(check_score(doc, c)),
        "reason": c.reason,
        "met": c.passed,
        "status": status(c.passed),
        "inadmissible": is_inadmissible(c),
    } for c in doc.thresholds]


__all__ = ["FAILURE_WORDS", "check_score", "condition", "failed_line", "is_inadmissible", "rule",
           "threshold_rows"]
