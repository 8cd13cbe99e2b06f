"""The annex table "Are the sampling budgets enough?" (policy section ``convergence``).

One row per budget and score (:class:`~auditkit.results.BudgetCheck` grouped by setting and score):
the budget b and what it was compared with, the method whose score moved most relative to its
tolerance, how far it moved, the tolerance, and how many of the methods' checks converged; under
the table, one sentence per budget that did not converge. The verdicts are the engine's
(:mod:`auditkit.engine.convergence`); this module only words them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from auditkit.report.words import METRIC_LABELS, number
from auditkit.results import AuditDocument, BudgetCheck, ConvergenceStatus

SCORE_LABELS = {**METRIC_LABELS, "reco_chance.p_value": "ReCo’s p-value"}
"""The printed name of each score a check can be of."""
UNITS = {"steps": "steps", "samples": "samples", "masks": "masks", "n_subsets": "subsets",
         "perturbations": "noise draws", "resamples": "resamples", "permutations": "permutations"}
"""What a budget counts, by the last part of its setting's key."""
VERDICTS = {ConvergenceStatus.CONVERGED: ("converged", "met"),
            ConvergenceStatus.NOT_CONVERGED: ("not converged", "unmet"),
            ConvergenceStatus.UNDETERMINED: ("undetermined", "inconclusive")}
"""The words and the table cell's style of each verdict."""

__all__ = ["convergence_section", "sentence"]


def _ratio(check: BudgetCheck) -> float:
    """change / tolerance; an undetermined check sorts above every judged one."""
    if check.change is None or not check.tolerance:
        return math.inf
    return check.change / check.tolerance


def _unit(setting: str) -> str:
    return UNITS.get(setting.rsplit(".", 1)[-1], "")


def sentence(check: BudgetCheck, label: Callable[[str], str], share: str = "half") -> str:
    """The verdict of one check in words; ``share``: the criterion's share of the interval's width,
    in words.

    >>> from auditkit.results import ConvergenceStatus as S
    >>> c = BudgetCheck("explainers[rise].masks", "rise", "mege", 250, 500, "change", 0.62, 0.002, 0.01,
    ...                 S.CONVERGED)
    >>> sentence(c, str)
    'converged: MeGe of rise moves 0.002 from 250 to 500 masks, within 0.010 (half its interval’s width)'
    """
    words, _ = VERDICTS[check.status]
    score = SCORE_LABELS.get(check.score, check.score)
    score += f" of {label(check.explainer)}" if check.explainer else ""
    unit = _unit(check.setting)
    if check.status is ConvergenceStatus.UNDETERMINED:
        return f"{words}: {score} with {check.budget:,} {unit}: {check.reason}"
    moved = number(check.change or 0.0, 3 if (check.change or 0.0) >= 0.001 else 5)
    what = {"change": f"{score} moves {moved} from {check.budget:,} to {check.doubled:,} {unit}",
            "ends": f"the interval of {score} moves its ends by up to {moved} from {check.budget:,} to "
                    f"{check.doubled:,} {unit}",
            "standard_error": f"{score} has a Monte-Carlo standard error of {moved} with "
                              f"{check.budget:,} {unit}"}[check.measure]
    within = "within" if check.status is ConvergenceStatus.CONVERGED else "more than"
    of = ("half its distance to the 0.05 level" if check.score == "reco_chance.p_value"
          else f"{share} its interval’s width")
    return f"{words}: {what}, {within} {number(check.tolerance or 0.0)} ({of})"


def convergence_section(doc: AuditDocument, label: Callable[[str], str]) -> dict[str, Any] | None:
    """The table's rows and the sentences under it, or None when the audit ran no check."""
    c = doc.convergence
    if c is None:
        return None
    groups: dict[tuple[str, str], list[BudgetCheck]] = {}
    for check in c.checks:
        groups.setdefault((check.setting, check.score), []).append(check)
    rows, sentences = [], []
    share = "half" if c.share == 0.5 else f"{c.share:g} times"
    for (setting, score), checks in groups.items():
        worst = max(checks, key=_ratio)
        words, css = VERDICTS[worst.status]
        converged = sum(x.status is ConvergenceStatus.CONVERGED for x in checks)
        rows.append({
            "setting": setting, "score": SCORE_LABELS.get(score, score),
            "budgets": (f"{worst.budget:,}" if worst.measure == "standard_error"
                        else f"{worst.budget:,} → {worst.doubled:,}"),
            "worst": label(worst.explainer) if worst.explainer else "the models",
            "moved": "–" if worst.change is None else number(worst.change, 4),
            "tolerance": "–" if worst.tolerance is None else number(worst.tolerance, 4),
            "verdict": words, "css": css, "count": f"{converged} of {len(checks)}",
        })
        if worst.status is not ConvergenceStatus.CONVERGED:
            sentences.append(sentence(worst, label, share))
    return {"images": f"{c.images:,}", "share": share, "rows": rows, "sentences": sentences}
