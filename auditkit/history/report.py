"""What the report's "Since the last audit" section needs from the history, as one plain mapping.

:func:`report_data` reads the earlier finished audits of a policy and compares the newest with the audit
being reported (:func:`~auditkit.history.compare.score_changes`). The result holds only JSON types, so
:func:`auditkit.report.render_report` takes it without importing this package (imports flow one way).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from auditkit.catalog import names
from auditkit.history.compare import score_changes
from auditkit.history.store import AuditRow, HistoryStore
from auditkit.results import Results

TREND_METRICS = names(headline=True)
"""Per-explainer scores of the trend plots (with the accuracy): the key scores of the listing."""


def _scores(summary: Mapping[str, Any]) -> dict[str, Any]:
    """``{"accuracy": {...}, "explainers": {name: {metric: {...}}}}`` of a results.json."""
    found = Results(summary).estimates()
    out: dict[str, Any] = {"accuracy": found[(None, "accuracy")].to_dict(), "explainers": {}}
    for (explainer, metric), estimate in found.items():
        if explainer is not None and metric in TREND_METRICS:
            out["explainers"].setdefault(explainer, {})[metric] = estimate.to_dict()
    return out


def _point(row: AuditRow | None, summary: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": None if row is None else row.id,
        "finished_at": summary.get("created") if row is None else row.finished_at,
        "verdict": summary.get("verdict") if row is None else row.verdict,
        "policy_sha256": summary.get("policy", {}).get("sha256") if row is None else row.policy_sha256,
        "scores": _scores(summary),
    }


def report_data(store: HistoryStore, policy_name: str,
                current: Mapping[str, Any]) -> dict[str, Any] | None:
    """The history of ``policy_name`` as the report shows it, or None without an earlier finished audit.

    Args:
        store: the open history.
        policy_name: the policy's name (audits are matched by name, as ``--fail-on-regression`` does,
            so an edited policy file keeps its history; the SHA-256 of each is reported).
        current: the results.json of the audit being reported (not yet in the history).

    Returns:
        ``{"previous": point, "audits": [point, ...] (oldest first, the current audit last, its
        "id" None), "changes": [ScoreChange.to_dict(), ...] (previous -> current)}``, where a point
        is ``{"id", "finished_at", "verdict", "policy_sha256", "scores"}`` and "scores" holds the
        accuracy and MeGe, ReCo and muF per explainer as ``{"value", "ci_low", "ci_high"}``.
    """
    rows = [row for row in reversed(store.audits(policy_name))
            if row.policy_name == policy_name and row.status == "finished" and row.summary is not None]
    if not rows:
        return None
    points = [_point(row, row.summary or {}) for row in rows]
    return {
        "previous": points[-1],
        "audits": [*points, _point(None, current)],
        "changes": [change.to_dict() for change in score_changes(rows[-1].summary or {}, current)],
    }
