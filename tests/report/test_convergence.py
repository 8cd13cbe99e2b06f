"""The annex table "Are the sampling budgets enough?"."""

from __future__ import annotations

import json
import re
from pathlib import Path

from auditkit.report import build_context
from auditkit.report.html import render_html
from auditkit.report.inputs import load_document


def _check(setting: str, explainer: str | None, score: str, change: float | None, tolerance: float | None,
           status: str, measure: str = "change", reason: str | None = None) -> dict:
    return {"setting": setting, "explainer": explainer, "score": score, "budget": 60, "doubled": 120,
            "measure": measure, "value": 0.6, "change": change, "tolerance": tolerance, "status": status,
            "reason": reason}


CONVERGENCE = {"images": 40, "seed": 0, "share": 0.5, "checks": [
    _check("metrics.mu_fidelity.n_subsets", "saliency", "mu_fidelity", 0.002, 0.01, "converged"),
    _check("metrics.mu_fidelity.n_subsets", "gradcam", "mu_fidelity", 0.03, 0.01, "not_converged"),
    _check("metrics.bootstrap.resamples", None, "accuracy", 0.001, 0.02, "converged", "ends"),
    _check("metrics.reco_chance.permutations", "gradcam", "reco_chance.p_value", None, None, "undetermined",
           "standard_error", "the score is undefined at b or 2b"),
]}


def _render(out: Path) -> tuple[dict, str]:
    results = json.loads((out / "results.json").read_text())
    (out / "results.json").write_text(json.dumps({**results, "convergence": CONVERGENCE}))
    context = build_context(load_document(out), out)
    return context, render_html(context)


def test_one_row_per_budget_and_score_naming_the_worst_method(out_copy: Path) -> None:
    context, html = _render(out_copy)
    rows = context["convergence"]["rows"]
    assert [(r["setting"], r["score"], r["worst"], r["verdict"], r["count"]) for r in rows] == [
        ("metrics.mu_fidelity.n_subsets", "μF", "Grad-CAM", "not converged", "1 of 2"),
        ("metrics.bootstrap.resamples", "held-out accuracy", "the models", "converged", "1 of 1"),
        ("metrics.reco_chance.permutations", "ReCo’s p-value", "Grad-CAM", "undetermined", "0 of 1"),
    ]
    assert context["convergence"]["sentences"] == [
        "not converged: μF of Grad-CAM moves 0.030 from 60 to 120 subsets, more than 0.010 "
        "(half its interval’s width)",
        "undetermined: ReCo’s p-value of Grad-CAM with 60 permutations: the score is undefined at b or 2b"]
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "Are the sampling budgets enough?" in text
    assert "metrics.mu_fidelity.n_subsets 60 → 120 μF Grad-CAM 0.0300 0.0100 not converged 1 of 2" in text
    assert "metrics.bootstrap.resamples 60 → 120 held-out accuracy the models 0.0010 0.0200 converged" in text


def test_no_table_without_the_checks(rendered) -> None:
    assert "Are the sampling budgets enough?" not in rendered.html
