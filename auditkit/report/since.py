"""The "Since the last audit" section: score changes with their intervals, and trend plots.

Its input is the plain mapping of :func:`auditkit.history.report_data` (the report package does not
import the history package); its output is template context: formatted strings, flags and one PNG data
URI. A change is significant when the two intervals do not overlap (:mod:`auditkit.history.compare`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from auditkit.catalog import COMPARISONS, METRICS, names
from auditkit.catalog import label as metric_label
from auditkit.report import plots
from auditkit.report.yardstick import CONTROL, INPUT_CONTROL
from auditkit.results import ThresholdCheck

TREND_PANELS = names(headline=True)
"""Per-explainer panels of the trend plot, after the accuracy's."""


def _num(value: float | None, digits: int = 3, sign: bool = False) -> str:
    """
    >>> _num(-0.0876), _num(0.01, sign=True), _num(None)
    ('−0.088', '+0.010', 'n/a')
    """
    if value is None:
        return "n/a"
    return f"{value:{'+' if sign else ''}.{digits}f}".replace("-", "−")


def _estimate(e: Mapping[str, Any] | None) -> str:
    if e is None:
        return "not measured"
    if e.get("value") is None:
        return "undefined"
    if e.get("ci_low") is None or e.get("ci_high") is None:
        return _num(e["value"])
    return f"{_num(e['value'])} [{_num(e['ci_low'])}, {_num(e['ci_high'])}]"


def _when(iso: str | None) -> str:
    if not iso:
        return "an unknown date"
    moment = datetime.fromisoformat(iso).astimezone(timezone.utc)
    return f"{moment.day} {moment:%B %Y}, {moment:%H:%M} UTC"


def _change_row(change: Mapping[str, Any], label: Callable[[str], str]) -> dict[str, Any]:
    significant, delta = change["significant"], change["change"]
    if significant is None:
        verdict = "n/a"
    elif not significant:
        verdict = "no"
    else:
        verdict = "yes: dropped" if (delta or 0.0) < 0 else "yes: rose"
    explainer = change["explainer"]
    return {
        "score": metric_label(change["metric"]) if explainer is None
        else f"{label(explainer)}: {metric_label(change['metric'])}",
        "before": _estimate(change["a"]),
        "now": _estimate(change["b"]),
        "change": _num(delta, sign=True),
        "significant": verdict,
        "drop": bool(change["regression"]),
        "rise": bool(significant) and (delta or 0.0) > 0,
    }


def _ticks(finished: Sequence[str | None], ids: Sequence[int | None]) -> list[str]:
    """Tick labels of the audits on a time axis: their dates, with the time when two share a day;
    ``#id`` (or ``this``) where the time is unknown.

    >>> _ticks(["2026-03-01T10:00:00+00:00", "2026-04-01T09:00:00+00:00"], [1, 2])
    ['2026-03-01', '2026-04-01']
    >>> _ticks(["2026-03-01T10:00:00+00:00", "2026-03-01T11:30:00+00:00", None], [1, 2, None])
    ['2026-03-01 10:00', '2026-03-01 11:30', 'this']
    """
    days = [_day(iso) for iso in finished]
    known = [d for d in days if d]
    clash = len(set(known)) < len(known)
    out = []
    for iso, day, audit_id in zip(finished, days, ids, strict=True):
        if not day:
            out.append(f"#{audit_id}" if audit_id is not None else "this")
        elif clash:
            out.append(f"{day} {datetime.fromisoformat(iso).astimezone(timezone.utc):%H:%M}")
        else:
            out.append(day)
    return out


def _day(iso: str | None) -> str:
    """The date of an ISO 8601 time stamp, as a tick label.

    >>> _day("2026-03-01T10:00:00+00:00"), _day(None), _day("garbage")
    ('2026-03-01', '', '')
    """
    try:
        return datetime.fromisoformat(iso).date().isoformat() if iso else ""
    except ValueError:
        return ""


def _threshold_lines(checks: Sequence[ThresholdCheck]) -> dict[str, list[tuple[float, str]]]:
    """Panel -> ``(value, "T1 ≥ 0.5")`` per threshold of this audit's policy on the panel's score
    (whichever methods it applies to; the tables say which).

    >>> from auditkit.results import CheckStatus
    >>> _threshold_lines([ThresholdCheck("T1", "mege", ">=", 0.5, "point", None, 0.6, CheckStatus.MET,
    ...                                  True, "")])
    {'MeGe': [(0.5, 'T1 ≥ 0.5')]}
    """
    lines: dict[str, dict[str, float]] = {}
    for c in checks:
        panel = "held-out accuracy" if c.metric == "accuracy" else (
            METRICS[c.metric].label if c.metric in TREND_PANELS else None)
        if panel is not None:
            lines.setdefault(panel, {})[f"{c.threshold} {COMPARISONS[c.op].symbol} {c.value:g}"] = \
                float(c.value)
    return {panel: [(value, name) for name, value in found.items()] for panel, found in lines.items()}


def _trend_figure(audits: list[Mapping[str, Any]], label: Callable[[str], str],
                  checks: Sequence[ThresholdCheck]) -> str:
    def triple(e: Mapping[str, Any] | None) -> tuple[float | None, float | None, float | None]:
        return (None, None, None) if e is None else (e.get("value"), e.get("ci_low"), e.get("ci_high"))

    panels: dict[str, dict[str, list[tuple[float | None, float | None, float | None]]]] = {
        "held-out accuracy": {"fold models": [triple(a["scores"]["accuracy"]) for a in audits]},
    }
    names = list(dict.fromkeys(n for a in audits for n in a["scores"]["explainers"]))
    for metric in TREND_PANELS:
        panels[METRICS[metric].label] = {
            label(n): [triple(a["scores"]["explainers"].get(n, {}).get(metric)) for a in audits]
            for n in names
        }
    ticks = _ticks([a.get("finished_at") for a in audits], [a["id"] for a in audits])
    controls = [label(n) for n in names if n in (CONTROL, INPUT_CONTROL)]
    png = plots.score_curves(list(range(len(audits))), panels, xlabel="date of the audit",
                             controls=controls, tick_labels=ticks, columns=2,
                             colours={"fold models": "#1b1f24", **plots.method_colours(names, label)},
                             thresholds=_threshold_lines(checks))
    return plots.data_uri(png)


def since_section(history: Mapping[str, Any] | None, label: Callable[[str], str],
                  confidence: str, checks: Sequence[ThresholdCheck] = ()) -> dict[str, Any] | None:
    """The section's context, or None when the history holds no earlier finished audit of the policy.

    Args:
        history: the mapping of :func:`auditkit.history.report_data`, or None.
        label: explainer registry name -> printed name.
        confidence: the interval level as printed, e.g. ``"95%"``.
        checks: this audit's threshold checks (:attr:`AuditDocument.thresholds`), drawn as lines.
    """
    if not history:
        return None
    previous, audits = history["previous"], history["audits"]
    current = audits[-1]
    rows = [_change_row(c, label) for c in history["changes"]]
    drops = sum(r["drop"] for r in rows)
    rises = sum(r["rise"] for r in rows)
    tested = sum(r["significant"] != "n/a" for r in rows)
    if drops or rises:
        summary = (f"{drops + rises} of {tested} scores changed significantly (their {confidence} "
                   f"intervals do not overlap): {drops} dropped and {rises} rose.")
    else:
        summary = (f"None of the {tested} scores with intervals changed significantly (their "
                   f"{confidence} intervals overlap).")
    same_policy = previous["policy_sha256"] == current["policy_sha256"]
    return {
        "previous_id": str(previous["id"]),
        "previous_date": _when(previous["finished_at"]),
        "previous_verdict": (previous["verdict"] or "?").upper(),
        "current_verdict": (current["verdict"] or "?").upper(),
        "same_policy": same_policy,
        "policy_note": "The policy file is the same (same SHA-256)." if same_policy else
        "The policy file has changed since then (another SHA-256): thresholds or settings may differ.",
        "summary": summary,
        "audit_count": str(len(audits)),
        "rows": rows,
        "figure": _trend_figure(audits, label, checks),
        "control_note": " The random baseline is dashed." if any(
            "random" in a["scores"]["explainers"] for a in audits) else "",
    }
