"""The "Agreement between the methods" section and its line on page one."""

from __future__ import annotations

import json
import re
from pathlib import Path

from auditkit.report import build_context
from auditkit.report.agreement import disagreement_lines
from auditkit.report.html import render_html
from auditkit.report.inputs import load_document
from auditkit.report.words import explainer_label

from .conftest import fabricate_sanity
from .test_sections import images, section


def _pair(first: str, second: str, rank: float, top: tuple[float, float, float]) -> dict:
    def score(value: float, low: float, high: float) -> dict:
        return {"value": value, "ci_low": low, "ci_high": high, "undefined": None}
    return {"first": first, "second": second, "degenerate": 1,
            "scores": {"rank_agreement": score(rank, rank - 0.02, rank + 0.02), "agreement": score(*top)}}


def _with_agreement(results: dict, top: tuple[float, float, float]) -> dict:
    """``results`` with Saliency-Grad-CAM agreeing ``top`` (top-k) and a threshold A1 (>= 0.5) on it."""
    results = dict(results)
    results["agreement"] = {"top_k": 0.1, "k": 6, "features": 64, "chance_top_k": 0.09375, "images": 40,
                            "pairs": [_pair("saliency", "gradcam", 0.3, top),
                                      _pair("saliency", "random", 0.1, (0.4, 0.35, 0.45)),
                                      _pair("gradcam", "random", 0.1, (0.1, 0.08, 0.12))]}
    passed = top[1] >= 0.5
    results["thresholds"] = [*results["thresholds"], {
        "threshold": "A1", "metric": "agreement", "op": ">=", "value": 0.5, "estimate": "lower_bound",
        "explainer": "saliency vs gradcam", "measured": top[1], "status": "met" if passed else "not_met",
        "passed": passed, "reason": "CI lower bound", "inadmissible": [], "not_evidenced": []}]
    return results


def _render(out: Path, results: dict) -> tuple[dict, str]:
    (out / "results.json").write_text(json.dumps(results))
    context = build_context(load_document(out), out)
    return context, render_html(context)


def test_the_audit_renders_the_matrix_of_its_two_methods(rendered) -> None:
    doc = load_document(rendered.out)
    (pair,) = doc.agreement.pairs
    assert (pair.first, pair.second) == ("saliency", "gradcam")
    part = section(rendered.html, '<div class="keep" id="agreement">', "</div>")
    assert "<h3>Agreement between the methods</h3>" in part
    assert re.findall(r"<th>([^<]+)</th>", part) == ["Pair", "rank agreement", "top-10% agreement",
                                                     "images with a constant map"]
    row = re.search(r"<tr><td>Saliency and Grad-CAM</td><td>([^<]+)</td><td>([^<]+)</td>", part)
    assert row.groups() == (pair.scores["rank_agreement"].text(), pair.scores["agreement"].text())
    (figure,) = images(part)
    assert figure.startswith(b"\x89PNG\r\n\x1a\n")
    assert f"the {doc.agreement.k} pixels of largest |attribution| (of 64" in part
    assert "Disagreement:" not in rendered.html and rendered.context["disagreements"] == []


def test_two_evidenced_methods_below_the_threshold_disagree_on_page_one(out_copy: Path) -> None:
    results = json.loads((out_copy / "results.json").read_text())
    context, html = _render(out_copy, _with_agreement(results, (0.2, 0.15, 0.25)))
    summary = section(html, '<section id="summary">')
    assert ("<b>Disagreement:</b> Saliency and Grad-CAM disagree: their top-10% agreement is 0.200 "
            "(95% CI 0.150–0.250), below the 0.500 of threshold A1.") in summary
    part = section(html, '<div class="keep" id="agreement">', "</div>")
    assert "<b>No better than the control:</b> Saliency and Grad-CAM: no better than" in part
    assert "Random baseline control" in part
    thresholds = [t for t in context["thresholds"] if t["threshold"] == "A1"]
    assert thresholds[0]["target"] == "Saliency vs Grad-CAM"


def test_no_line_when_the_interval_reaches_the_threshold_or_a_method_is_not_evidenced(out_copy: Path) -> None:
    results = json.loads((out_copy / "results.json").read_text())
    context, html = _render(out_copy, _with_agreement(results, (0.45, 0.4, 0.5)))
    assert context["disagreements"] == [] and "Disagreement:" not in html  # 0.5 reaches 0.5
    assert "No better than the control" not in html  # 0.5 is above Saliency-random's 0.4
    failed = fabricate_sanity(_with_agreement(results, (0.2, 0.15, 0.25)), failing="gradcam")
    doc_context, _ = _render(out_copy, failed)
    assert doc_context["disagreements"] == []  # Grad-CAM failed a sanity check: no evidence
    assert disagreement_lines(load_document(out_copy), explainer_label, "95%") == []
