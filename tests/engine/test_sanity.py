"""The sanity checks end to end on the tiny digits audit, and their verdict on synthetic scores."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from auditkit.cli import main
from auditkit.engine.distances import DistanceRecord
from auditkit.engine.sanity import ALPHA, LevelScores, assess_levels
from auditkit.engine.scoring import Score, explainer_scores
from auditkit.metrics.bootstrap import resample_weights

CHECKS = ("weight_randomisation", "label_shuffling")
METRICS = ("mege", "reco", "reco_auc", "mu_fidelity")


def _load(out: Path) -> dict:
    return json.loads((out / "results.json").read_text())


def test_results_json_has_the_sanity_section(sanity_audit: Path) -> None:
    data = _load(sanity_audit)
    section = data["sanity_checks"]
    assert list(section) == list(CHECKS)
    for name in CHECKS:
        check = section[name]
        assert check["levels"] == [0.0, 0.3]
        assert check["alpha"] == ALPHA
        assert list(check["explainers"]) == ["saliency", "gradient_input", "integrated_gradients",
                                             "random"]
        gated = []
        for explainer, entry in check["explainers"].items():
            clean, degraded = entry["levels"]
            for metric in METRICS:  # level 0 is the clean audit, number for number
                assert clean[metric] == data["explainers"][explainer][metric]
            assert clean["accuracy"]["value"] == data["accuracy"]["value"]
            assert clean["accuracy"]["ci_low"] == data["accuracy"]["ci_low"]
            for metric in METRICS:
                trend = entry["trend"][metric]
                slope = (degraded[metric]["value"] - clean[metric]["value"]) / 0.3  # two levels
                assert trend["slope"] == pytest.approx(slope, rel=1e-9)
                assert trend["ci_low"] <= trend["ci_high"]
                assert 1 / 51 <= trend["p_value"] <= 1  # 50 resamples: p >= 1 / (1 + 50)
                assert trend["resamples"] == 50
                if metric in ("mege", "reco") and explainer != "random":
                    assert trend["passed"] is (trend["p_value"] < ALPHA)
                else:
                    assert trend["passed"] is None
            assert entry["in_verdict"] is (explainer != "random")
            if explainer == "random":
                assert entry["passed"] is None
            else:
                assert entry["passed"] is (entry["trend"]["mege"]["passed"]
                                           and entry["trend"]["reco"]["passed"])
                gated.append(entry["passed"])
        assert check["passed"] is all(gated)
    assert section["weight_randomisation"]["std"] == 0.5
    thresholds_ok = all(t["passed"] for t in data["thresholds"]) and data["accuracy"]["comparable"]
    sanity_ok = all(c["passed"] for c in section.values())
    assert data["verdict"] == ("pass" if thresholds_ok and sanity_ok else "fail")
    summary = (sanity_audit / "summary.txt").read_text()
    for name in CHECKS:
        status = "PASS" if section[name]["passed"] else "FAIL"
        assert f"sanity check {name}: {status} (levels 0 0.3;" in summary


def test_degraded_models_are_less_accurate(sanity_audit: Path) -> None:
    checks = _load(sanity_audit)["sanity_checks"]
    clean, noisy = checks["weight_randomisation"]["explainers"]["saliency"]["levels"]
    assert noisy["accuracy"]["value"] < clean["accuracy"]["value"] - 0.2  # measured 0.939 -> 0.478
    clean, shuffled = checks["label_shuffling"]["explainers"]["saliency"]["levels"]
    assert shuffled["accuracy"]["ci_high"] < clean["accuracy"]["value"]  # measured 0.939 -> 0.861


@pytest.mark.parametrize("explainer", ["saliency", "gradient_input", "integrated_gradients"])
def test_label_noise_lowers_mege_of_gradient_methods(sanity_audit: Path, explainer: str) -> None:
    clean, noisy = _load(sanity_audit)["sanity_checks"]["label_shuffling"]["explainers"][explainer][
        "levels"]
    assert noisy["mege"]["value"] < clean["mege"]["value"]


def test_rerun_reuses_the_degraded_work(sanity_audit: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(sanity_audit, out)
    policy = next(sanity_audit.parent.glob("*.yaml"))
    before = _load(out)
    assert before["reused_from_earlier_run"]["sanity"] == []
    assert main(["run", str(policy), "--out", str(out), "--quiet"]) in (0, 1)
    after = _load(out)
    names = ["saliency", "gradient_input", "integrated_gradients", "random"]
    assert after["reused_from_earlier_run"] == {
        "folds": [0, 1, 2],
        "explainers": names,
        "sanity": [f"weight_randomisation 0.3 {n}" for n in names]
        + [f"label_shuffling 0.3 fold {i}" for i in range(3)]
        + [f"label_shuffling 0.3 {n}" for n in names],
    }
    assert after["sanity_checks"] == before["sanity_checks"]
    work = sorted(p.name for p in (out / "work").glob("*.pt"))
    assert work == sorted(
        [f"fold_{i}.pt" for i in range(3)] + [f"shuffle_0.3_{i}.pt" for i in range(3)]
        + [f"explainer_{n}.pt" for n in names]
        + [f"explainer_{c}_0.3_{n}.pt" for c in CHECKS for n in names]
    )


def _synthetic(level: float, mege_shift: float, generator: torch.Generator) -> LevelScores:
    """Scores of one level from random distances whose S= part is shifted by ``mege_shift``."""
    n, k = 200, 3
    category = torch.randint(1, 3, (n, k - 1), generator=generator, dtype=torch.uint8)
    distances = torch.rand(n, k - 1, generator=generator) * 0.5 + 0.25
    distances = torch.where(category == 1, (distances + mege_shift).clamp(0, 1), distances)
    record = DistanceRecord(distances, category, torch.zeros(n, k - 1, dtype=torch.bool),
                            torch.zeros(0, k, 8, 8))
    weights = resample_weights(n, 40, generator)
    mu = torch.rand(20, generator=generator, dtype=torch.float64)
    scores = {name: explainer_scores(name, record, mu, torch.arange(20), reco_form="youden",
                                     weights=weights, confidence=0.95)
              for name in ("saliency", "random")}
    return LevelScores(level, Score(0.9), scores)


def test_verdict_gates_mege_and_reco_but_not_random() -> None:
    g = torch.Generator().manual_seed(0)
    # S= distances grow with the level: MeGe falls and ReCo (S= vs S≠ separation) falls too.
    falling = tuple(_synthetic(level, -0.2 + shift, g) for level, shift in
                    ((0.0, 0.0), (0.1, 0.1), (0.3, 0.2)))
    check = assess_levels("weight_randomisation", falling, 0.95, {})
    assert check.trends["saliency"]["mege"].trend.slope < 0
    assert check.trends["saliency"]["mege"].passed and check.trends["saliency"]["reco"].passed
    assert check.explainer_passed("random") is None and check.passed
    assert check.trends["saliency"]["mu_fidelity"].passed is None
    rising = tuple(_synthetic(level, 0.2 - shift, g) for level, shift in
                   ((0.0, 0.0), (0.1, 0.1), (0.3, 0.2)))
    failed = assess_levels("label_shuffling", rising, 0.95, {})
    assert failed.trends["saliency"]["mege"].passed is False
    assert failed.explainer_passed("saliency") is False and not failed.passed


def test_without_bootstrap_the_check_cannot_pass() -> None:
    g = torch.Generator().manual_seed(1)
    levels = tuple(_synthetic(level, -0.2 + level, g) for level in (0.0, 0.1, 0.3))
    stripped = tuple(
        LevelScores(s.level, s.accuracy, {n: replace(e, resampled={}) for n, e in s.explainers.items()})
        for s in levels
    )
    check = assess_levels("weight_randomisation", stripped, 0.95, {})
    assert check.trends["saliency"]["mege"].trend.p_value is None
    assert check.trends["saliency"]["mege"].passed is False and not check.passed
