"""The report's "Agreement between the methods" section and its line on page one.

Krishna et al. (2022) find that explanation methods often disagree on the same input. The section
shows, for every pair of audited methods (controls included, as a yardstick), their rank and top-k
agreement (:mod:`auditkit.metrics.agreement`) as a matrix and a table, and names the pairs of
methods that agree no better than one of them agrees with the random control. Page one gets a line
for each pair of evidenced methods (no control, no failed or inconclusive sanity check) whose
agreement's whole interval fails a threshold of the policy: those two methods disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from auditkit.catalog import COMPARISONS, METRICS, names
from auditkit.report import plots
from auditkit.report.sanity import inadmissible, not_evidenced
from auditkit.report.scores import is_control
from auditkit.report.words import and_list, compact_score, format_score, number
from auditkit.results import Agreement, AgreementPair, AuditDocument, Estimate, pair_name

PAIR_METRICS = names(scope="pair")
"""The pair scores, in report order (:data:`~auditkit.catalog.METRICS`)."""
TOP_K = "agreement"
"""The top-k agreement, the score the controls are compared on."""

__all__ = ["PAIR_METRICS", "agreement_section", "disagreement_lines"]


def agreement_section(doc: AuditDocument, label: Callable[[str], str]) -> dict[str, Any] | None:
    """The section's strings and figure, or None when the audit compared no pair."""
    a = doc.agreement
    if a is None or not a.pairs:
        return None
    rows = [{"pair": f"{label(p.first)} and {label(p.second)}",
             "scores": [compact_score(p.scores.get(m, Estimate(None))) for m in PAIR_METRICS],
             "degenerate": f"{p.degenerate:,}"} for p in a.pairs]
    return {
        "columns": [_title(m, a) for m in PAIR_METRICS], "rows": rows, "images": f"{a.images:,}",
        "k": f"{a.k:,}", "features": f"{a.features:,}", "top_k": _percent(a),
        "chance": number(a.chance_top_k),
        "figure": plots.data_uri(plots.agreement_matrix([label(n) for n in _methods(a)],
                                                        _panels(a))),
        "no_better": _no_better_than_control(a, label),
    }


def disagreement_lines(doc: AuditDocument, label: Callable[[str], str], confidence: str) -> list[str]:
    """Page one's lines: each check of a pair threshold whose pair are both evidenced methods and
    whose interval (the point without one) lies wholly on the failing side of the threshold."""
    if doc.agreement is None:
        return []
    doubtful = {*inadmissible(doc.sanity_checks), *not_evidenced(doc.sanity_checks)}
    lines = []
    for check in doc.thresholds:
        pair = doc.agreement.pair(check.explainer or "") if METRICS[check.metric].scope == "pair" else None
        if pair is None or any(is_control(n) or n in doubtful for n in (pair.first, pair.second)):
            continue
        score = pair.scores[check.metric]
        best = score.high if score.high is not None else score.value
        if best is None or COMPARISONS[check.op].test(best, check.value):
            continue
        lines.append(f"{label(pair.first)} and {label(pair.second)} disagree: their "
                     f"{_title(check.metric, doc.agreement)} is {format_score(score, confidence)}, "
                     f"below the {number(check.value)} of threshold {check.threshold}.")
    return lines


def _title(metric: str, a: Agreement) -> str:
    """``rank agreement`` or ``top-10% agreement``."""
    return f"top-{_percent(a)} agreement" if metric == TOP_K else METRICS[metric].label


def _percent(a: Agreement) -> str:
    """k as a percentage of the features, as the policy gives it (``10%``, ``2.5%``)."""
    return f"{a.top_k * 100:g}%"


def _methods(a: Agreement) -> list[str]:
    """The methods of the pairs, in the policy's order."""
    return list(dict.fromkeys(n for p in a.pairs for n in (p.first, p.second)))


def _panels(a: Agreement) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Title -> symmetric ``(value, low, high)`` matrices of each pair score (NaN where none)."""
    index = {n: i for i, n in enumerate(_methods(a))}
    panels = {}
    for metric in PAIR_METRICS:
        cube = np.full((3, len(index), len(index)), np.nan)
        for p in a.pairs:
            s = p.scores.get(metric, Estimate(None))
            i, j = index[p.first], index[p.second]
            cube[:, i, j] = cube[:, j, i] = [np.nan if v is None else v for v in (s.value, s.low, s.high)]
        panels[_title(metric, a)] = (cube[0], cube[1], cube[2])
    return panels


def _no_better_than_control(a: Agreement, label: Callable[[str], str]) -> str:
    """A sentence naming the pairs of audited methods whose top-k agreement's interval does not rise
    above how well one of the two agrees with a control (point estimate); "" when there is none."""
    methods = _methods(a)
    controls = [n for n in methods if is_control(n)]
    weak = []
    for p in a.pairs:
        if is_control(p.first) or is_control(p.second) or not controls:
            continue
        yardstick = [_value(a.pair(pair_name(m, c))) for m in (p.first, p.second) for c in controls]
        best = max((v for v in yardstick if v is not None), default=None)
        score = p.scores.get(TOP_K, Estimate(None))
        top = score.high if score.high is not None else score.value
        if best is not None and top is not None and top <= best:
            weak.append(f"{label(p.first)} and {label(p.second)}")
    if not weak:
        return ""
    return (f"{'; '.join(weak)}: no better than one of the two agrees with the "
            f"{and_list([label(c) for c in controls])} control (top-{_percent(a)} agreement: the upper "
            "end of the pair's interval is not above it).")


def _value(pair: AgreementPair | None) -> float | None:
    return None if pair is None else pair.scores.get(TOP_K, Estimate(None)).value
