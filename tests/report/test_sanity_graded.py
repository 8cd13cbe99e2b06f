"""The report's weight-randomisation section: what a level means under ``levels_by``, the target,
reached accuracy and noise scale per level, and a doubt about the degradation in words."""

from __future__ import annotations

import copy
import json
import shutil
from html import unescape
from pathlib import Path

import pytest

from auditkit.report import render_report
from auditkit.report.inputs import load_document

from .conftest import fabricate_sanity


def _fold(fold: int, target: float, accuracy: float, scale: float, steps: int, reached: bool) -> dict:
    return {"fold": fold, "clean": 0.95, "chance": 0.1, "target": target, "accuracy": accuracy,
            "scale": scale, "steps": steps, "reached": reached}


def _html(audit_dir: Path, tmp_path: Path, levels_by: str) -> str:
    out = Path(shutil.copytree(audit_dir, tmp_path / "out"))
    results = fabricate_sanity(json.loads((out / "results.json").read_text()), failing=None)
    weights = copy.deepcopy(results["sanity_checks"]["label_shuffling"])
    if levels_by == "accuracy":
        weights["settings"] = {"levels_by": "accuracy", "layers": ["conv", "attention"], "seed": 0,
                               "tolerance": 0.02, "max_steps": 30, "scale_bounds": [0.001, 100.0]}
        weights["calibration"] = [{"level": 0.3, "folds": [
            _fold(0, 0.695, 0.7, 0.312, 9, True), _fold(1, 0.695, 0.52, 100.0, 2, False)]}]
        weights["degradation"] = ("target accuracy not reached within tolerance (level 0.3 fold 1: "
                                  "0.520 for 0.695 at scale 100 after 2 steps)")
    else:
        weights["settings"] = {"levels_by": "noise", "layers": ["conv"], "seed": 0, "std": 0.5,
                               "scale": "absolute"}
    results["sanity_checks"] = {"weight_randomisation": weights, **results["sanity_checks"]}
    (out / "results.json").write_text(json.dumps(results))
    (path,) = render_report(load_document(out), out, formats=("html",))
    html = path.read_text(encoding="utf-8")
    return unescape(html.split("<h4>Weight randomisation", 1)[1].split("<h4>Label shuffling", 1)[0])


@pytest.mark.parametrize("levels_by", ["accuracy", "noise"])
def test_the_weight_randomisation_section_says_what_a_level_means(audit_dir: Path, tmp_path: Path,
                                                                  levels_by: str) -> None:
    part = _html(audit_dir, tmp_path, levels_by)
    if levels_by == "noise":
        assert ("Every trained model is damaged on purpose: a share of its convolution weights receives "
                "random Gaussian noise of standard deviation 0.5, without retraining") in part
        assert '<table class="calibration">' not in part
        return
    assert ("Every trained model is damaged on purpose, without retraining: Gaussian noise scaled to "
            "each weight tensor's own spread is added to its convolution weights and attention "
            "projections, just enough for its held-out accuracy to reach a target a fraction of the "
            "way from its clean accuracy to chance; levels 0, 0.3") in part
    table = part.split('<table class="calibration">', 1)[1].split("</table>", 1)[0]
    assert "<th>Within 0.02</th>" in table
    assert ("<tr><td>0.3</td><td>0.695</td><td>0.520–0.700</td><td>0.312–100</td><td>2–9</td>"
            "<td>1 of 2</td></tr>") in table
    assert ('<p class="inconclusive">Target accuracy not reached within tolerance (level 0.3 fold 1: '
            "0.520 for 0.695 at scale 100 after 2 steps).</p>") in part
