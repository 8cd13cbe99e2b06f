"""The plan: calibration, estimates, its record in results.json and the annex, the ``plan`` command."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import auditkit
from auditkit.cost.calibrate import CalibrationError, Rates, calibrate
from auditkit.data import load_dataset
from auditkit.policy import policy_from_dict
from auditkit.report.plan import plan_section
from auditkit.results import AuditDocument, CostPlan, PlanStage, _example

POLICY = {
    "version": 1, "name": "plan-test",
    "dataset": {"kind": "digits", "max_images": 60},
    "training": {"epochs": 2, "batch_size": 16},
    "cross_validation": {"k": 3, "max_accuracy_spread": 1.0},
    "explainers": [{"name": "saliency"}, {"name": "rise", "masks": 20}, {"name": "random"}],
    "metrics": {"explain_batch_size": 32, "mu_fidelity": {"samples": 10, "n_subsets": 8},
                "bootstrap": {"resamples": 20}, "reco_chance": {"permutations": 99}},
    "sanity_checks": {"weight_randomisation": {"enabled": False}, "label_shuffling": {"levels": [0.3]}},
}


def test_rates_give_seconds_by_hand() -> None:
    rates = Rates("cpu", train=100.0, forward=1000.0, grad=500.0, scoring=0.5, train_batch=8,
                  explain_batch=32)
    assert rates.seconds(200, 3000, 1000, 4) == pytest.approx(2 + 3 + 2 + 2)
    assert Rates("cpu", 0.0, 0.0, 0.0, 0.0, 8, 32).seconds(0, 0, 0, 0) == 0.0  # a kind not timed, unused


def test_calibration_times_the_kinds_asked_for_and_keeps_the_random_state() -> None:
    policy = policy_from_dict(POLICY)
    dataset = load_dataset("digits", max_images=60)
    torch.manual_seed(5)
    before = torch.rand(3)
    torch.manual_seed(5)
    rates = calibrate(policy, dataset, torch.device("cpu"), frozenset({"forward", "grad"}))
    assert torch.equal(torch.rand(3), before)
    assert rates.forward > 0 and rates.grad > 0 and rates.train == 0 and rates.scoring == 0
    assert (rates.train_batch, rates.explain_batch) == (16, 32)


def test_a_stalled_call_does_not_set_the_rate(monkeypatch) -> None:
    """Calls of 0.1 s but one of 2 s (another process's burst): the median's 0.1 s, not the mean's."""
    import auditkit.cost.calibrate as module

    ticks = iter([0.0, 0.1, 0.1, 0.2, 0.2, 2.2, 2.2, 2.3, 2.3, 2.4, 2.4, 2.5])  # warm-up, then 5 calls
    monkeypatch.setattr(module.time, "perf_counter", lambda: next(ticks))
    monkeypatch.setattr(module, "SECONDS_PER_KIND", 10.0)
    seconds = module._timed(lambda: None, "forward", 32, torch.device("cpu"), "")
    assert seconds == pytest.approx(0.1)
    assert next(ticks, None) is None  # exactly MAX_CALLS = 5 timed calls after the warm-up


def test_a_batch_that_does_not_fit_names_the_kind_the_batch_and_the_setting(monkeypatch) -> None:
    import auditkit.cost.calibrate as module

    def out_of_memory(*_: object) -> object:
        def call() -> None:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return call

    monkeypatch.setattr(module, "_call", out_of_memory)
    with pytest.raises(CalibrationError) as caught:
        calibrate(policy_from_dict(POLICY), load_dataset("digits", max_images=60), torch.device("cpu"),
                  frozenset({"grad"}), {"grad": "clean.saliency, properties.robustness.saliency"})
    assert str(caught.value) == (
        "calibration ran out of memory on cpu at a batch of 32 images for grad evaluations (the phases "
        "clean.saliency, properties.robustness.saliency): lower metrics.explain_batch_size")
    assert (caught.value.kind, caught.value.batch_size, caught.value.setting) == (
        "grad", 32, "metrics.explain_batch_size")


def test_the_api_plan_sorts_the_phases_and_records_them_by_stage() -> None:
    made = auditkit.plan(POLICY, device="cpu", accuracy=0.9)
    seconds = [e.seconds for e in made.estimates]
    assert seconds == sorted(seconds, reverse=True) and made.seconds == pytest.approx(sum(seconds))
    top = made.estimates[0]
    assert made.headline()[1] == (f"  {top.phase.name}: {top.seconds / made.seconds:.0%} of the audit; "
                                  f"{top.phase.drivers}")
    record = made.record()
    assert record.estimated_seconds == pytest.approx(made.seconds, abs=1e-2)
    assert sum(s.estimated_seconds for s in record.stages) == pytest.approx(made.seconds, abs=1e-2)
    assert {s.stage for s in record.stages} >= {"training", "clean.rise", "label_shuffling.retraining",
                                                "properties.rise", "scoring"}
    plain = made.to_dict()
    assert plain["measurability"]["levels"][0]["check"] == "clean"
    assert [p["phase"] for p in plain["phases"]] == [e.phase.name for e in made.estimates]


def test_the_record_round_trips_and_the_annex_shows_it() -> None:
    plan = CostPlan("cpu", {"train": 10.0, "forward": 100.0, "grad": 50.0, "scoring_seconds": 0.1}, 3.0,
                    None, (PlanStage("training", 2.0, None, 20, 2, 0),
                           PlanStage("clean.saliency", 1.0, None, 0, 0, 50)))
    done = plan.measured({"training": 2.4, "clean.saliency": 0.5, "tasks": 0.1}, 3.5)
    doc = replace(_example(), plan=done)
    assert AuditDocument.from_json(doc.to_json()) == doc
    assert AuditDocument.from_json(_example().to_json()).plan is None  # absent: an older document reads
    section = plan_section(doc)
    assert [(r["stage"], r["estimated"], r["measured"], r["ratio"]) for r in section["rows"]] == [
        ("training", "2.0", "2.4", "1.20x"), ("clean.saliency", "1.0", "0.5", "0.50x"),
        ("tasks", "-", "0.1", "-"), ("other", "-", "0.5", "-")]
    assert section["rows"][0]["work"] == "20 training, 2 forward"
    assert plan_section(_example()) is None


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "auditkit", *args], capture_output=True, text=True,
                          cwd=cwd, check=False, timeout=300)


def test_the_plan_command_prints_json(tmp_path: Path) -> None:
    import yaml

    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(POLICY), encoding="utf-8")
    done = _cli("plan", "policy.yaml", "--json", "--device", "cpu", "--accuracy", "0.95", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    plain = json.loads(done.stdout)
    assert set(plain) == {"policy", "images", "image_shape", "classes", "k", "device", "estimated_seconds",
                          "rates", "phases", "measurability"}
    assert (plain["images"], plain["image_shape"], plain["k"]) == (60, [1, 8, 8], 3)
    assert set(plain["phases"][0]) == {"phase", "stage", "seconds", "share", "drivers", "train_images",
                                       "forward", "grad", "scorings"}
    assert plain["measurability"]["accuracy"] == 0.95


def test_a_bad_policy_or_accuracy_is_one_line_as_validate_says_it(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("version: 1\nname: bad\ndataset:\n  kind: digits\nexplainers:\n"
                                       "  - name: saliency\ntraining:\n  epochs: 0\n", encoding="utf-8")
    validate, plan = _cli("validate", "bad.yaml", cwd=tmp_path), _cli("plan", "bad.yaml", cwd=tmp_path)
    assert plan.returncode == validate.returncode == 2
    assert plan.stderr == validate.stderr and plan.stderr.count("\n") == 1
    assert "training.epochs" in plan.stderr and plan.stdout == ""
    import yaml

    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(POLICY), encoding="utf-8")
    wrong = _cli("plan", "policy.yaml", "--accuracy", "1.5", cwd=tmp_path)
    assert wrong.returncode == 2 and wrong.stderr.count("\n") == 1
    assert "accuracy must be" in wrong.stderr and "got 1.5" in wrong.stderr
