"""``examples/transformers`` end to end at a tiny size: the ViT and the Swin of ``models.py`` on
digits resized to 28 x 28 (k = 2, 40 images, 1 epoch: the mechanics; the example's own
scores are in benchmarks/RESULTS.md), Grad-CAM on the default transformer block and
the four captum-family methods, the weight-randomisation check graded over every weight."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from auditkit.engine import AuditOptions, run_audit
from auditkit.policy import load_policy
from auditkit.results import AuditDocument

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "transformers"
LAYERS = {"vit": "encoder.layers.encoder_layer_1.ln_1", "swin": "features.3.1.norm1"}


@pytest.mark.parametrize("stem", ["vit", "swin"])
def test_validate_names_the_transformer_block_it_explains(stem: str) -> None:
    done = subprocess.run([sys.executable, "-m", "auditkit", "validate", str(EXAMPLE / f"{stem}.yaml")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert f"Grad-CAM layer: {LAYERS[stem]} (the last " in done.stdout


@pytest.mark.parametrize("stem", ["vit", "swin"])
def test_a_transformer_is_audited_with_gradcam_on_a_block_and_degraded_gradually(
        stem: str, tmp_path: Path) -> None:
    folder = tmp_path / "transformers"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("__pycache__"))
    policy_path = folder / f"{stem}.yaml"
    text = yaml.safe_load(policy_path.read_text(encoding="utf-8"))
    text["dataset"]["max_images"] = 40
    text["training"]["epochs"] = 1
    text["cross_validation"] = {"k": 2, "max_accuracy_spread": 1.0}
    text["explainers"] = [{"name": "gradcam"}, {"name": "occlusion", "window": 7, "stride": 7},
                          {"name": "kernel_shap", "samples": 16}, {"name": "lime", "samples": 16},
                          {"name": "expected_gradients", "samples": 2}, {"name": "random"}]
    text["metrics"] = {"explain_batch_size": 64, "mu_fidelity": {"samples": 8, "n_subsets": 4},
                       "bootstrap": {"resamples": 20}, "reco_chance": {"permutations": 99}}
    text["thresholds"] = [{"id": "T1", "metric": "mege", "op": ">=", "value": 0.0,
                           "explainers": ["gradcam"]}]
    text["requirements"] = [{"id": "R1", "title": "t", "articles": ["EU AI Act Art. 13"],
                             "evidence": ["T1"]}]
    text["sanity_checks"]["max_images"] = 40
    text["sanity_checks"]["weight_randomisation"]["levels"] = [0.5]
    text["properties"]["completeness"]["enabled"] = False
    policy_path.write_text(yaml.safe_dump(text, sort_keys=False), encoding="utf-8")

    sys.modules.pop("models", None)
    try:
        run_audit(AuditOptions(load_policy(policy_path), folder / "out", device="cpu", progress=False))
    finally:
        sys.modules.pop("models", None)

    results = AuditDocument.from_json((folder / "out" / "results.json").read_bytes())
    assert results.model.target_layer == LAYERS[stem]
    assert set(results.explainers) == {"gradcam", "occlusion", "kernel_shap", "lime", "expected_gradients",
                                       "random"}
    for name, entry in results.explainers.items():  # models at chance: few S= pairs, and said so
        mege = entry.scores["mege"]
        assert mege.value is not None or mege.undefined.startswith("not enough pairs"), name
    pairs = {pair.name: pair for pair in results.agreement.pairs}
    for other in ("occlusion", "kernel_shap", "lime", "expected_gradients"):  # every map was made
        rank = pairs[f"gradcam vs {other}"].scores["rank_agreement"]
        assert rank.value is not None and 0.0 <= rank.value <= 1.0, other
    check = results.sanity_checks["weight_randomisation"]
    assert check.settings["layers"] == "all"
    (level,) = check.calibration
    assert level.level == 0.5
    for fold in level.folds:  # found by the bisection on the fold's held-out images, or said
        assert fold.steps >= 1 and fold.scale > 0
        assert fold.reached == (abs(fold.accuracy - fold.target) <= check.settings["tolerance"])
        assert fold.target == pytest.approx(fold.clean - 0.5 * (fold.clean - fold.chance))
