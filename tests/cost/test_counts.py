"""The cost plan's counts: against hand-computed ones on tiny policies, each explainer's own cost, and
against the model evaluations a real tiny audit makes (counted by the profiler's module hooks)."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from auditkit.cost.counts import EXPECTED_BISECTION_STEPS, Count, MethodCost, count_phases
from auditkit.cost.plan import method_cost
from auditkit.explainers import EXPLAINERS
from auditkit.explainers.registry import explainer_settings
from auditkit.policy import ExplainerSpec, policy_from_dict

ROOT = Path(__file__).resolve().parents[2]

COSTS = {"saliency": MethodCost(grad=1),
         "integrated_gradients": MethodCost(grad=4, driver="steps", complete=True),
         "rise": MethodCost(forward=10, driver="masks"), "random": MethodCost(control=True)}
"""Per-image costs given by hand (the counts take them as data; the classes' own are tested below)."""


def tiny(**sections: Any) -> Any:
    """A policy of the four explainers of :data:`COSTS`, k = 3, 2 epochs, small budgets."""
    base = {
        "version": 1, "name": "tiny",
        "dataset": {"kind": "digits", "max_images": 30},
        "training": {"epochs": 2, "batch_size": 8},
        "cross_validation": {"k": 3, "max_accuracy_spread": 1.0},
        "explainers": [{"name": "saliency"}, {"name": "integrated_gradients", "steps": 4},
                       {"name": "rise", "masks": 10}, {"name": "random"}],
        "metrics": {"mu_fidelity": {"samples": 5, "n_subsets": 4}, "bootstrap": {"resamples": 10}},
        "properties": {"robustness": {"enabled": True, "samples": 6, "perturbations": 2},
                       "invariance": {"enabled": True, "samples": 6,
                                      "transformations": [{"name": "brightness", "delta": 0.1}]},
                       "completeness": {"enabled": True, "samples": 6}},
        "sanity_checks": {"weight_randomisation": {"enabled": False}, "label_shuffling": {"enabled": False}},
    }
    return policy_from_dict({**base, **sections})


def by_name(policy: Any, n: int = 30, **kw: Any) -> dict[str, Count]:
    return {p.name: p.count for p in count_phases(policy, n, COSTS, **kw)}


def test_the_clean_audit_counts_by_hand() -> None:
    got = by_name(tiny())
    # 30 images, k = 3: each fold trains on the 20 others, 2 epochs; 30 held-out predictions.
    assert got["training"] == Count(train=3 * 20 * 2, forward=30)
    # saliency: 30 images x 3 models + 5 muF maps, 1 gradient each; muF's drops 5 x (1 + 4) forwards.
    assert got["clean.saliency"] == Count(grad=30 * 3 + 5, forward=5 * 5)
    assert got["clean.integrated_gradients"] == Count(grad=(30 * 3 + 5) * 4)  # the drops are shared
    assert got["clean.rise"] == Count(forward=(30 * 3 + 5) * 10)
    assert "clean.random" not in got  # no model evaluation
    assert got["predictions"] == Count(forward=3 * 30)
    assert got["scoring"] == Count(scorings=4)
    # robustness: 6 images x (2 + 1) maps; invariance: 6 x 1 transformation x 2 maps and 2 predictions;
    # completeness (IG only): 6 maps and 2 predictions each.
    assert got["properties.robustness.rise"] == Count(forward=6 * 3 * 10)
    assert got["properties.invariance.integrated_gradients"] == Count(grad=6 * 2 * 4, forward=6 * 2)
    assert got["properties.invariance.random"] == Count(forward=6 * 2)
    assert got["properties.completeness.integrated_gradients"] == Count(grad=6 * 4, forward=6 * 2)
    assert "properties.completeness.saliency" not in got
    stages = {p.name: p.stage for p in count_phases(tiny(), 30, COSTS)}
    assert stages["properties.robustness.rise"] == stages["properties.invariance.rise"] == "properties.rise"


def test_the_sanity_checks_count_by_hand() -> None:
    policy = tiny(sanity_checks={"max_images": 24,
                                 "weight_randomisation": {"enabled": True, "levels": [0.25, 0.5],
                                                          "max_steps": 4},
                                 "label_shuffling": {"enabled": True, "levels": [0.1, 0.2, 0.3]}})
    got = by_name(policy)
    # The clean models re-scored on the 24-image subsample, then 2 + 3 levels on it.
    assert got["sanity_images.saliency"] == Count(grad=24 * 3 + 5, forward=5 * 5)
    assert got["weight_randomisation.rise"] == Count(forward=2 * (24 * 3 + 5) * 10)
    assert got["label_shuffling.integrated_gradients"] == Count(grad=3 * (24 * 3 + 5) * 4)
    # The bisection: at most max_steps (4 < the expected 9) evaluations of all 30 held-out images.
    assert got["weight_randomisation.calibration"] == Count(forward=2 * 4 * 30)
    # Each label-shuffling level retrains the k folds on every training image.
    assert got["label_shuffling.retraining"] == Count(train=3 * 3 * 20 * 2, forward=3 * 30)
    # Predictions: 30 clean, then 24 for the subsample and each of the 5 levels, by 3 models.
    assert got["predictions"] == Count(forward=3 * (30 + 24 * 6))
    assert got["scoring"] == Count(scorings=4 * 7)
    noise = tiny(sanity_checks={"weight_randomisation": {"enabled": True, "levels_by": "noise"}})
    assert "weight_randomisation.calibration" not in by_name(noise)
    steps = tiny(sanity_checks={"weight_randomisation": {"enabled": True, "levels": [0.5]}})
    assert by_name(steps)["weight_randomisation.calibration"] == Count(forward=EXPECTED_BISECTION_STEPS * 30)


def test_the_smooth_controls_add_one_scoring_per_method() -> None:
    assert by_name(tiny(), smooth_control=True)["scoring"] == Count(scorings=4 + 3)  # not random's


def test_samples_are_capped_by_the_images() -> None:
    got = by_name(tiny(), n=4)  # 4 images: muF and the properties take all 4, not 5 or 6
    assert got["clean.saliency"] == Count(grad=4 * 3 + 4, forward=4 * 5)
    assert got["properties.robustness.saliency"] == Count(grad=4 * 3)


@pytest.mark.parametrize(("name", "settings", "size", "expected"), [
    ("saliency", {}, (8, 8), (0, 1)),
    ("gradcam", {}, (8, 8), (0, 1)),
    ("integrated_gradients", {"steps": 7}, (8, 8), (0, 7)),
    ("smoothgrad", {"samples": 11}, (8, 8), (0, 11)),
    ("expected_gradients", {"samples": 3}, (8, 8), (0, 3)),
    ("rise", {"masks": 250}, (8, 8), (250, 0)),
    ("kernel_shap", {"samples": 50}, (8, 8), (50, 0)),
    ("lime", {"samples": 9}, (8, 8), (9, 0)),
    ("occlusion", {"window": 2, "stride": 1}, (8, 8), (1 + 7 * 7, 0)),  # the docs' table: 50
    ("occlusion", {"window": 4, "stride": 2}, (8, 8), (1 + 3 * 3, 0)),  # 10
    ("occlusion", {"window": 4, "stride": 2}, (32, 32), (1 + 15 * 15, 0)),  # 226
    ("occlusion", {"window": 3, "stride": 2}, (8, 5), (1 + 4 * 2, 0)),  # last window cut at the edge
    ("random", {}, (8, 8), (0, 0)),
    ("input", {}, (8, 8), (0, 0)),
])
def test_each_method_declares_its_cost(name: str, settings: dict[str, Any], size: tuple[int, int],
                                       expected: tuple[int, int]) -> None:
    cls = EXPLAINERS[name]
    e = cls.evaluations_per_image({**explainer_settings(cls), **settings}, size)
    assert (e.forward, e.grad) == expected


def test_every_registered_method_has_a_cost_and_the_controls_none() -> None:
    for name, cls in EXPLAINERS.items():
        cost = method_cost(ExplainerSpec(name, explainer_settings(cls)), (8, 8))
        assert (cost.forward + cost.grad == 0) == cls.control, name
        assert cost.complete == (cls.completeness_baseline is not None)


def _profiler() -> Any:
    spec = importlib.util.spec_from_file_location("profile_demo", ROOT / "benchmarks" / "profile_demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_counts_match_the_evaluations_of_a_real_audit(tmp_path: Path, monkeypatch) -> None:
    """Every stage's model evaluations, counted by the profiler's global module hooks while a tiny
    audit with both sanity checks runs, are the plan's within 3 % (the explainers' one-image probe
    of the number of classes aside)."""
    from auditkit.engine import AuditOptions, run_audit
    from auditkit.engine.timing import Timings

    policy = tiny(sanity_checks={"max_images": 24,
                                 "weight_randomisation": {"enabled": True, "levels": [0.5]},
                                 "label_shuffling": {"enabled": True, "levels": [0.3]}})
    counter = _profiler().EvaluationCounter()
    seen: dict[str, Counter[str]] = {}
    enter = Timings.stage

    def stage(self: Timings, name: str) -> Any:
        counter.take()  # what ran before the stage is not its

        class Counted:
            def __enter__(self_inner) -> None:
                self_inner.inner = enter(self, name)
                self_inner.inner.__enter__()

            def __exit__(self_inner, *exc: Any) -> None:
                self_inner.inner.__exit__(*exc)
                images = seen.setdefault(name, Counter())
                for (kind, _, shape), calls in counter.take().items():
                    images[kind] += calls * shape[0]
        return Counted()

    monkeypatch.setattr(Timings, "stage", stage)
    try:
        result = run_audit(AuditOptions(policy, tmp_path / "out", device="cpu", progress=False))
    finally:
        counter.close()
    costs = {s.name: method_cost(s, (8, 8)) for s in policy.explainers}
    planned: dict[str, Count] = {}
    for p in count_phases(policy, len(result.dataset), costs):
        planned[p.stage] = planned.get(p.stage, Count()) + p.count
    assert set(planned) - {"scoring"} <= set(seen)
    # The bisection's steps are the plan's guess (EXPECTED_BISECTION_STEPS): check the count per step.
    sizes = {f.index: f.n_test for f in result.folds}
    steps = [c for check in result.sanity for level in check.levels for c in level.calibration]
    planned["weight_randomisation.calibration"] = Count(forward=sum(c.steps * sizes[c.fold] for c in steps))
    probes = 3 * 2  # at most one 1-image forward per explainer instance (k of them) and pass
    for stage, count in planned.items():
        images = seen.get(stage, Counter())
        for kind, expected in (("train", count.train), ("forward", count.forward), ("grad", count.grad)):
            assert abs(images[kind] - expected) <= 0.03 * expected + probes, (stage, kind, images, count)
