"""The limits section: how far the audit's numbers carry (the size of S≠, the μF subsets)."""

from __future__ import annotations

from typing import Any

from auditkit.results import AuditDocument

SMALL_S_NEQ = 100
"""Below this many S≠ pairs the limits section warns that ReCo is noisy."""


def limits(doc: AuditDocument) -> dict[str, Any]:
    """The sizes of S≠ over the methods and the μF settings, as the limits section states them."""
    sizes = sorted({e.n_s_neq for e in doc.explainers.values()})
    mu = doc.policy.resolved["metrics"]["mu_fidelity"]
    return {
        "s_neq": f"{sizes[0]:,}" if len(sizes) == 1 else f"between {sizes[0]:,} and {sizes[-1]:,}",
        "s_neq_small": sizes[0] < SMALL_S_NEQ,
        "small_threshold": f"{SMALL_S_NEQ:,}",
        "mu_fraction": f"{mu['subset_fraction']:.0%}",
        "mu_baseline": f"{mu['baseline']:g}",
    }


__all__ = ["SMALL_S_NEQ", "limits"]
