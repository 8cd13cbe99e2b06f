"""The policy's requirements in the report: page one's list and one table per cited article.

A requirement's verdict is :attr:`Requirement.met` and a threshold's is :attr:`ThresholdCheck.status`,
both decided by the engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from auditkit.report.thresholds import check_score, condition, failed_line, is_inadmissible
from auditkit.report.words import and_list, compact_score, explainer_label, status
from auditkit.results import AuditDocument, Requirement, ThresholdCheck

LISTED_FAILURES = 2
"""Failed conditions spelled out per requirement on page one; the rest are counted."""


def _page_one_lines(failed: Mapping[str, list[ThresholdCheck]], listed: dict[str, str], req: str,
                    confidence: str) -> list[str]:
    """The lines of an unmet requirement; records in ``listed`` the thresholds it lists first."""
    new = [t for t in failed if t not in listed]
    details = [failed_line(t, failed[t], confidence) for t in new[:LISTED_FAILURES]]
    if len(new) > LISTED_FAILURES:
        details.append(f"and {and_list(new[LISTED_FAILURES:])} (see the requirements table)")
    earlier: dict[str, list[str]] = {}
    for t in failed:
        if t in listed:
            earlier.setdefault(listed[t], []).append(t)
    if earlier:
        details.append("; ".join(f"{and_list(ts)} as under {r}" for r, ts in earlier.items()))
    listed.update((t, req) for t in new)
    return details


def requirements(doc: AuditDocument, confidence: str) -> list[dict[str, Any]]:
    """Every requirement, for page one and the requirements table.

    Page one gives a met requirement one line, and an unmet one a line per failed threshold: at most
    :data:`LISTED_FAILURES` (the requirements table has them all), and a threshold already listed
    under an earlier requirement only by reference ("T4 as under R3"), so that eight requirements fit.
    """
    listed: dict[str, str] = {}  # failed threshold -> the requirement whose lines list it
    out = []
    for req in doc.requirements:
        own = [c for c in doc.thresholds if c.threshold in req.evidence]
        failed: dict[str, list[ThresholdCheck]] = {}
        for c in own:
            if not c.passed:
                failed.setdefault(c.threshold, []).append(c)
        if failed:
            summary = f"{sum(len(f) for f in failed.values())} of {len(own)} not met"
            details = _page_one_lines(failed, listed, req.id, confidence)
        elif own:
            summary, details = ("its one condition met" if len(own) == 1
                                else f"all {len(own)} conditions met"), []
        else:
            summary, details = "no measured condition is attached to this requirement", []
        out.append({"id": req.id, "title": req.title, "articles": "; ".join(req.articles),
                    "evidence": ", ".join(req.evidence), "met": req.met, "status": status(req.met),
                    "summary": summary, "details": details})
    return out


def _rows(doc: AuditDocument, req: Requirement, article: str, shown: dict[str, str],
          confidence: str) -> list[dict[str, Any]]:
    """One row per threshold of ``req``; its values only where no earlier table showed them."""
    rows = []
    for threshold in req.evidence:
        own = [c for c in doc.thresholds if c.threshold == threshold]
        if not own:
            continue
        met = all(c.passed for c in own)
        if threshold in shown:
            measured = [{"text": f"values under {shown[threshold]}", "met": met,
                         "status": status(met), "inadmissible": False, "reference": True}]
        else:
            shown[threshold] = article
            measured = [{"text": (f"{explainer_label(c.explainer)} " if c.explainer else "")
                         + compact_score(check_score(doc, c)),
                         "met": c.passed, "status": status(c.passed),
                         "inadmissible": is_inadmissible(c), "reference": False}
                        for c in own]
        rows.append({"condition": f"{threshold}: {condition(own[0], confidence)}",
                     "measured": measured, "met": met, "status": status(met)})
    return rows


def articles(doc: AuditDocument, confidence: str) -> list[dict[str, Any]]:
    """One table per article cited, in order of first citation: its requirements, a row per threshold.

    A threshold's values per method are shown once, in the first table that has it; a later row of
    the same threshold keeps its condition and verdict and names where the values are, so that a
    requirement citing many thresholds and articles does not repeat pages of numbers.
    """
    cited: dict[str, list[Requirement]] = {}
    for req in doc.requirements:
        for article in req.articles:
            cited.setdefault(article, []).append(req)
    shown: dict[str, str] = {}  # threshold -> the article whose table shows its values
    out = []
    for article, reqs in cited.items():
        groups = [{"id": req.id, "title": req.title, "met": req.met, "status": status(req.met),
                   "rows": _rows(doc, req, article, shown, confidence)} for req in reqs]
        met = all(g["met"] for g in groups)
        out.append({"article": article, "requirements": ", ".join(g["id"] for g in groups),
                    "groups": groups, "met": met, "status": status(met),
                    "headline": article_headline(article, groups)})
    return out


def article_headline(article: str, groups: Sequence[Mapping[str, Any]]) -> str:
    """What was measured against the declared thresholds of the requirements citing ``article``,
    never a legal finding on the article itself.

    >>> article_headline("Art. 15", [{"rows": [{"condition": "T1", "met": True},
    ...                                         {"condition": "T2", "met": False}]}])
    'Requirements citing Art. 15: 1 of 2 conditions not met'
    """
    rows = {r["condition"]: r["met"] for g in groups for r in g["rows"]}
    unmet = sum(not met for met in rows.values())
    if not rows:
        return f"Requirements citing {article}: no condition"
    if not unmet:
        return (f"Requirements citing {article}: " +
                ("its one condition met" if len(rows) == 1 else f"all {len(rows)} conditions met"))
    return f"Requirements citing {article}: {unmet} of {len(rows)} conditions not met"


__all__ = ["LISTED_FAILURES", "article_headline", "articles", "requirements"]
