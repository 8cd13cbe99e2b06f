"""The explainers' scores in the report: the scores table and page one's sentences on the controls.

Columns come from the catalog (``names(scope="explainer")``), the controls from the registry
(``Explainer.control``); a cell's verdict is the status of the checks on its score.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from auditkit.catalog import COMPARISONS, METRICS, names
from auditkit.explainers import EXPLAINERS
from auditkit.report.sanity import inadmissible, reco_chance_text
from auditkit.report.words import METRIC_LABELS, and_list, compact_score, explainer_label, number, status
from auditkit.report.yardstick import CONTROL, INPUT_CONTROL, LOWER_IS_BETTER, behind, marks
from auditkit.results import AuditDocument, Correlation, ExplainerEntry

EXPLAINER_METRICS = tuple(m for m in names(scope="explainer") if METRICS[m].shown_with is None)
"""Columns of the scores table; the corrected ReCo is shown in the ReCo cell, beside its chance level."""
INPUT_LIKE = 0.5
"""Mean |rho| with the input above which page one names a method as ranking pixels like the image."""


def is_control(name: str) -> bool:
    """Whether explainer ``name`` is a control (``Explainer.control``); an unregistered one is not."""
    return name in EXPLAINERS and EXPLAINERS[name].control


def _cell(doc: AuditDocument, name: str, metric: str) -> dict[str, Any]:
    e = doc.explainers[name]
    both = metric == "reco" and "reco_corrected" in e.scores
    shown = (metric, "reco_corrected") if both else (metric,)
    own = [c for c in doc.thresholds if c.explainer == name and c.metric in shown]
    return {
        "text": compact_score(e.scores[metric]),
        "marks": marks(doc.explainers, name, shown),
        "extra": [reco_chance_text(e.reco_chance), f"corrected {compact_score(e.scores['reco_corrected'])}"]
        if both else [],
        "rule": "; ".join(f"{'corrected ' if c.metric == 'reco_corrected' else ''}"
                          f"{COMPARISONS[c.op].symbol} {c.value:g} ({c.threshold})" for c in own),
        "status": "" if not own else status(all(c.passed for c in own)),
    }


def _settings(settings: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} = {v}" for k, v in settings.items()) or "defaults of the profile"


def _rho(found: Correlation | None) -> str:
    """Mean |rho| of a method's maps with a control's, and over how many images."""
    if found is None or found.mean_abs_rho is None:
        return "–"
    return f"{number(found.mean_abs_rho)} ({found.images:,} images)"


def explainer_rows(doc: AuditDocument) -> list[dict[str, Any]]:
    """The scores table: one row per explainer, one cell per score of :data:`EXPLAINER_METRICS`."""
    failed = inadmissible(doc.sanity_checks)
    rows = []
    for name, e in doc.explainers.items():
        rows.append({
            "name": name,
            "label": explainer_label(name),
            "inadmissible": name in failed,
            "inadmissible_because": ", ".join(failed.get(name, [])).lower(),
            "settings": _settings(e.settings),
            "scores": [_cell(doc, name, metric) for metric in EXPLAINER_METRICS],
            "n_s_eq": f"{e.n_s_eq:,}",
            "n_s_neq": f"{e.n_s_neq:,}",
            "n_ignored": f"{e.n_ignored:,}",
            "n_degenerate": f"{e.n_degenerate_pairs:,}",
            "input_rho": _rho(e.input_correlation),
            "coverage_rho": _rho(e.coverage_correlation) if e.coverage_correlation else "",
            "mu_images": f"{e.mu_fidelity_images:,}",
            "mu_undefined": f"{e.mu_fidelity_undefined:,}",
        })
    return rows


def yardstick(explainers: Mapping[str, ExplainerEntry]) -> str:
    """One sentence naming, per score, the methods that do not beat the random control ("" when
    every method beats it on every score, or no random control was audited)."""
    parts = []
    for metric, below in behind(explainers).items():
        control = explainers[CONTROL].score(metric)
        parts.append(f"on {METRIC_LABELS[metric]} (random {number(control.value)}"  # type: ignore[union-attr,arg-type]
                     f"{', lower is better' if metric in LOWER_IS_BETTER else ''}): "
                     f"{and_list([explainer_label(n) for n in below])}")
    if not parts:
        return ""
    return ("Methods that score no better than the random control, whose maps ignore the model, "
            + "; ".join(parts) + ".")


def input_yardstick(explainers: Mapping[str, ExplainerEntry]) -> str:
    """What the input control says ("" when it was not audited).

    Its maps are the image itself, the same for every fold model, so its MeGe is 1 by construction:
    no method can beat it, and comparing MeGe with it would flag every method. What it does tell is
    that MeGe alone cannot separate a method from a map that ignores the model; the sentence says so
    and names the methods whose maps rank pixels like the input (mean |rho| > :data:`INPUT_LIKE`).
    Where its MeGe is undefined (no S= pair: no two models right on one image) the sentence says so.
    """
    if INPUT_CONTROL not in explainers:
        return ""
    mege = explainers[INPUT_CONTROL].scores["mege"]
    like = sorted(((e.input_correlation.mean_abs_rho, n) for n, e in explainers.items()
                   if not EXPLAINERS.get(n, EXPLAINERS[CONTROL]).control
                   and e.input_correlation.mean_abs_rho is not None
                   and e.input_correlation.mean_abs_rho > INPUT_LIKE), reverse=True)
    if mege.value is None:
        text = f"The image itself as a map has no MeGe here ({mege.undefined})."
    else:
        text = (f"The image itself as a map (the same for every model) has MeGe {number(mege.value)}, "
                "so MeGe alone does not tell a method from a map that ignores the models.")
    if like:
        text += (" Maps that rank pixels like the input (mean |ρ|): "
                 + and_list([f"{explainer_label(n)} {number(rho)}" for rho, n in like]) + ".")
    return text


__all__ = ["EXPLAINER_METRICS", "INPUT_LIKE", "explainer_rows", "input_yardstick", "is_control",
           "yardstick"]
