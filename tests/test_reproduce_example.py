"""examples/reproduce_paper.py: its policies validate and its claims follow the statistics given."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from auditkit.policy import load_policy

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("reproduce_paper", ROOT / "examples" / "reproduce_paper.py")
assert _spec is not None and _spec.loader is not None
reproduce = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(reproduce)


@pytest.mark.parametrize("dataset", ["digits", "fashion_mnist", "cifar10"])
def test_policies_validate(dataset: str, tmp_path: Path) -> None:
    data = None if dataset == "digits" else tmp_path / "data"
    for variant, family in (("standard", None), ("lipschitz", "lipschitz_cnn")):
        policy = load_policy(reproduce.build_policy(dataset, variant, data, 500, tmp_path))
        assert policy.dataset.max_images == 500
        assert policy.sanity_checks.label_shuffling.enabled is (variant == "standard")
        assert policy.sanity_checks.weight_randomisation.enabled is (variant == "standard")
        weights = policy.sanity_checks.weight_randomisation  # the paper's protocol, not graded
        assert (weights.levels_by, weights.levels, weights.layers) == ("noise", (0.05, 0.1, 0.3), ("conv",))
        assert policy.thresholds == () and policy.requirements == ()
        if family:
            assert policy.model.family == family
        if data is not None:
            assert policy.dataset.path == data.resolve()
        assert {"random", "input"} <= {e.name for e in policy.explainers}  # both controls, always
        assert {e.name for e in policy.explainers} <= set(reproduce.SHORT)  # the paper's methods only


def test_the_graded_weight_randomisation_is_chosen_by_a_flag(tmp_path: Path) -> None:
    policy = load_policy(reproduce.build_policy("digits", "standard", None, 500, tmp_path, weights="graded"))
    weights = policy.sanity_checks.weight_randomisation
    shipped = load_policy(reproduce.ROOT / "policies" / "digits.yaml").sanity_checks.weight_randomisation
    assert weights.levels_by == "accuracy" and weights == shipped


def test_the_cpu_sized_model_and_rise_masks_are_chosen_by_flags(tmp_path: Path) -> None:
    path = reproduce.build_policy("fashion_mnist", "standard", tmp_path / "data", 500, tmp_path,
                                  model="small_cnn", rise_masks=250)
    policy = load_policy(path)
    assert (policy.model.family, policy.model.base_filters) == ("small_cnn", 16)
    training = policy.training
    assert (training.optimizer, training.learning_rate, training.epochs) == ("adam", 0.01, 30)
    assert next(e for e in policy.explainers if e.name == "rise").settings["masks"] == 250
    lipschitz = load_policy(reproduce.build_policy("fashion_mnist", "lipschitz", tmp_path / "data", 500,
                                                   tmp_path, model="small_cnn"))
    assert lipschitz.model.family == "lipschitz_cnn"  # the comparison model is the paper's


def _score(value: float, half: float = 0.01) -> dict[str, Any]:
    return {"value": value, "ci_low": value - half, "ci_high": value + half, "undefined": None}


def _results(mege: dict[str, float], reco: dict[str, float], mu: dict[str, float],
             p_values: dict[str, float], mu_slope_ci: tuple[float, float]) -> dict[str, Any]:
    methods = [*reproduce.METHODS, "random"]
    explainers = {m: {"scores": {"mege": _score(mege[m]), "reco": _score(reco[m]), "reco_auc": _score(0.1),
                                 "mu_fidelity": _score(mu[m])}} for m in methods}
    trend = {m: {"mege": {"slope": -1.0, "ci_low": -2.0, "ci_high": -0.5, "p_value": p_values[m],
                          "passed": p_values[m] < 0.05},
                 "reco": {"slope": -1.0, "ci_low": -2.0, "ci_high": -0.5, "p_value": 0.001,
                          "passed": True},
                 "mu_fidelity": {"slope": 0.0, "ci_low": mu_slope_ci[0], "ci_high": mu_slope_ci[1],
                                 "p_value": 0.5, "passed": None}}
             for m in methods}
    check = {"levels": [0.0, 0.1], "passed": True,
             "explainers": {m: {"trend": trend[m], "levels": []} for m in methods}}
    return {"explainers": explainers, "accuracy": {"value": 0.98},
            "sanity_checks": {"weight_randomisation": check, "label_shuffling": check}}


def test_claims_follow_the_statistics() -> None:
    methods = [*reproduce.METHODS, "random"]
    base = dict.fromkeys(methods, 0.5)
    mu = {**dict.fromkeys(methods, 0.2), "gradcam": 0.8, "gradcam_pp": 0.8, "rise": 0.8}
    p_values = {**dict.fromkeys(methods, 0.01), "saliency": 0.2}
    std = _results({**base, "gradient_input": 0.9, "integrated_gradients": 0.8, "random": 0.4},
                   base, mu, p_values, (-0.1, 0.1))
    # 1-Lipschitz: higher MeGe for all but Grad-CAM++; lower ReCo everywhere.
    lip = _results({**base, "gradient_input": 0.95, "integrated_gradients": 0.85,
                    **{m: 0.7 for m in reproduce.METHODS if m not in ("gradient_input",
                                                                      "integrated_gradients")},
                    "gradcam_pp": 0.3}, dict.fromkeys(methods, 0.1), mu, p_values, (-0.1, 0.1))
    claims = {c["claim"]: c for c in reproduce.judge_claims(std, lip)}
    mege_weights = claims["MeGe falls as the predictor is degraded by weight randomisation"]
    assert (mege_weights["held"], mege_weights["verdict"]) == (6, "partly")
    assert "SA p=0.200" in mege_weights["evidence"]
    assert claims["ReCo falls as the predictor is degraded by label shuffling"]["verdict"] == "held"
    assert claims["muF does not react to weight randomisation"]["verdict"] == "held"
    lip_mege = claims["1-Lipschitz CNNs give higher MeGe than standard CNNs of comparable accuracy"]
    assert lip_mege["held"] == 6 and lip_mege["verdict"].startswith("held as in the paper")
    lip_reco = claims["1-Lipschitz CNNs give higher ReCo than standard CNNs of comparable accuracy"]
    assert (lip_reco["held"], lip_reco["verdict"]) == (0, "did not hold")
    faithful = claims["Grad-CAM, Grad-CAM++ and RISE are more faithful (muF) than the gradient methods"]
    assert faithful["verdict"] == "held"
    product = next(c for name, c in claims.items() if name.startswith("Gradient x Input"))
    assert product["held"] == 2


def test_muf_reacting_is_reported_as_not_holding() -> None:
    methods = [*reproduce.METHODS, "random"]
    values = dict.fromkeys(methods, 0.5)
    std = _results(values, values, values, dict.fromkeys(methods, 0.01), (-0.9, -0.2))
    claims = {c["claim"]: c for c in reproduce.judge_claims(std, std)}
    assert claims["muF does not react to label shuffling"]["verdict"] == "did not hold"
    # Equal scores are not higher: the Lipschitz claim does not hold.
    assert claims["1-Lipschitz CNNs give higher MeGe than standard CNNs of comparable accuracy"][
        "held"] == 0
