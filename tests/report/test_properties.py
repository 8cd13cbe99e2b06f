"""The "Properties of the explanations" table and its limits paragraph."""

from __future__ import annotations

import json
import re
from pathlib import Path

from auditkit.report import build_context, render_report
from auditkit.report.inputs import load_document
from auditkit.report.properties import PROPERTY_ROWS


def table(html: str) -> str:
    return html.split("<h3>Properties of the explanations</h3>", 1)[1].split("</table>", 1)[0]


def test_table_has_a_row_per_method_and_a_column_per_property(rendered) -> None:
    body = table(rendered.html)
    assert re.findall(r"<th>([a-zA-Z]+)(?:<br>|</th>)", body) == [
        "Method", "generalisable", "consistent", "faithful", "robust", "invariant", "complete"]
    rows = re.findall(r"<tr><td><b>([^<]+)</b></td>(.*?)</tr>", body, flags=re.S)
    assert [name for name, _ in rows] == ["Saliency", "Grad-CAM"]
    results = json.loads((rendered.out / "results.json").read_text())
    mege = results["explainers"]["saliency"]["scores"]["mege"]
    assert f"{mege['value']:.3f} [{mege['ci_low']:.3f}, {mege['ci_high']:.3f}]" in rows[0][1]
    robust = results["explainers"]["gradcam"]["properties"]["scores"]["robustness_distance"]
    assert f"{robust['value']:.3f} [{robust['ci_low']:.3f}, {robust['ci_high']:.3f}]" in rows[1][1]
    for _, cells in rows:  # the last column, complete: neither method claims completeness
        last = re.findall(r"<td[^>]*>(.*?)</td>", cells, flags=re.S)[-1]
        assert last.startswith('<span class="value">n/a<')
    assert "required ≥ 0.1 (T1): met" in rows[0][1] and "required ≥ 0.1 (T1): met" in rows[1][1]
    assert "the random control" not in rendered.html.split("Properties of the explanations")[1].split(
        "Agreement between the methods")[0]  # no random explainer in this audit: nothing to say
    assert "Fokkema, de Heide and van Erven" in rendered.html
    assert [r["property"] for r in rendered.context["properties"]["rows"]] == [r[0] for r in PROPERTY_ROWS]


def test_cells_carry_the_verdict_of_property_thresholds(audit_dir: Path, tmp_path: Path) -> None:
    import shutil

    out = Path(shutil.copytree(audit_dir, tmp_path / "out"))
    results = json.loads((out / "results.json").read_text())
    measured = results["explainers"]["gradcam"]["properties"]["scores"]["invariance_distance"]["value"]
    results["thresholds"].append({
        "threshold": "P1", "metric": "invariance_distance", "op": "<=", "value": 0.0, "estimate": "point",
        "explainer": "gradcam", "measured": measured, "status": "not_met", "passed": False,
        "reason": "not met", "inadmissible": [], "not_evidenced": []})
    results["property_checks"] = {"random_scores_worst": {
        "robustness": {"metric": "robustness_distance", "held": False, "random": 0.5,
                       "not_beating_random": ["saliency"]},
        "invariance": {"metric": "invariance_distance", "held": True, "random": 0.9,
                       "not_beating_random": []}}}
    (out / "results.json").write_text(json.dumps(results))
    context = build_context(load_document(out), out)
    invariant = next(r for r in context["properties"]["rows"] if r["property"] == "invariant")
    assert [c["status"] for c in invariant["cells"]] == ["", "not met"]
    assert "Robustness: NOT as it should: Saliency did not beat the random control" in context["properties"][
        "random_check"]
    html = render_report(load_document(out), out, formats=("html",))[0].read_text(encoding="utf-8")
    assert "required ≤ 0 (P1): not met" in table(html)
