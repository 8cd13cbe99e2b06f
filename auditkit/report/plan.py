"""The annex's cost plan: each stage's estimated and measured time (results.json's ``plan``)."""

from __future__ import annotations

from typing import Any

from auditkit._format import duration
from auditkit.results import AuditDocument

KINDS = (("train_images", "training"), ("forward", "forward"), ("grad", "with input gradient"))
"""The model evaluations a stage records, and their words."""


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _ratio(estimated: float | None, measured: float | None) -> str:
    """``measured / estimated``; "-" where either is missing or the estimate is under 0.1 s."""
    if estimated is None or measured is None or estimated < 0.1:
        return "-"
    return f"{measured / estimated:.2f}x"


def _work(stage: Any) -> str:
    parts = [f"{getattr(stage, field):,} {words}" for field, words in KINDS if getattr(stage, field)]
    return ", ".join(parts) or "-"


def plan_section(doc: AuditDocument) -> dict[str, Any] | None:
    """The rows of the cost plan's table, the totals and the rates; None without a plan."""
    plan = doc.plan
    if plan is None:
        return None
    rates = plan.rates
    return {
        "device": plan.device,
        "estimated": duration(plan.estimated_seconds),
        "measured": "-" if plan.measured_seconds is None else duration(plan.measured_seconds),
        "ratio": _ratio(plan.estimated_seconds, plan.measured_seconds),
        "rates": (f"training {rates.get('train', 0):,.0f}, forward {rates.get('forward', 0):,.0f}, with "
                  f"input gradient {rates.get('grad', 0):,.0f} images/s; "
                  f"{rates.get('scoring_seconds', 0):.2f} s per scoring"),
        "rows": [{"stage": s.stage, "work": _work(s), "estimated": _seconds(s.estimated_seconds),
                  "measured": _seconds(s.measured_seconds),
                  "ratio": _ratio(s.estimated_seconds, s.measured_seconds)} for s in plan.stages],
    }


__all__ = ["plan_section"]
