"""What the report's "Since the last audit" section needs from the history, as one plain mapping.

:func:`report_data` reads the earlier finished audits of a policy and compares the newest with the audit
being reported (:func:`~auditkit.history.compare.score_changes`). The result holds only JSON types, so
:func:`auditkit.report.render_report` takes it without importing this package (imports flow one way).
"""

from __future__ import annotations

from typing import Any

from auditkit.catalog import names
from auditkit.history.compare import COMPARED, estimate_dict, score_changes
from auditkit.history.store import AuditRow, HistoryStore
from auditkit.results import AuditDocument

TREND_METRICS = names(headline=True)
"""Per-explainer scores of the trend plots (with the accuracy): the key scores of the listing."""


def _scores(document: AuditDocument) -> dict[str, Any]:
    """``{"accuracy": {...}, "explainers": {name: {metric: {...}}}}`` of an audit."""
    found = document.estimates(COMPARED)
    explainers: dict[str, dict[str, Any]] = {}
    for (explainer, metric), estimate in found.items():
        if explainer is not None and metric in TREND_METRICS:
            explainers.setdefault(explainer, {})[metric] = estimate_dict(estimate)
    return {"accuracy": estimate_dict(document.accuracy), "explainers": explainers}


def _point(row: AuditRow | None, document: AuditDocument) -> dict[str, Any]:
    return {
        "id": None if row is None else row.id,
        "finished_at": document.created if row is None else row.finished_at,
        "verdict": document.verdict if row is None else row.verdict,
        "policy_sha256": document.policy.sha256 if row is None else row.policy_sha256,
        "scores": _scores(document),
    }


def report_data(store: HistoryStore, policy_name: str, current: AuditDocument) -> dict[str, Any] | None:
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
    found = [(row, row.document) for row in reversed(store.audits(policy_name))
             if row.policy_name == policy_name and row.status == "finished"]
    earlier = [(row, document) for row, document in found if document is not None]
    if not earlier:
        return None
    points = [_point(row, document) for row, document in earlier]
    return {
        "previous": points[-1],
        "audits": [*points, _point(None, current)],
        "changes": [change.to_dict() for change in score_changes(earlier[-1][1], current)],
    }
