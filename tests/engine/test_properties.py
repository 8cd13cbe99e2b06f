"""Robustness, invariance and completeness in the audit: results.json, thresholds, resume."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from torch import nn

from auditkit.catalog import names
from auditkit.cli import main
from auditkit.engine.properties import transformation
from auditkit.metrics import invariance_distance
from auditkit.policy import TransformationSpec
from auditkit.results import AuditDocument, CheckStatus

from .conftest import TinyRun

PROPERTY_THRESHOLD = """\
  - id: P1
    metric: robustness_distance
    op: "<="
    value: 0.5
    explainers: [saliency, random]
  - id: P2
    metric: completeness_error
    op: "<="
    value: 1.0
    explainers: [integrated_gradients]
"""


def gradient(model: nn.Module):
    def explain(x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        x = x.clone().requires_grad_(True)
        return torch.autograd.grad(model(x).gather(1, targets[:, None]).sum(), x)[0]

    return explain


def test_flip_symmetric_linear_model_is_exactly_equivariant_under_the_policy_hflip() -> None:
    torch.manual_seed(0)
    lin = nn.Linear(64, 3)
    with torch.no_grad():
        w = lin.weight.view(3, 8, 8)
        lin.weight.copy_(((w + w.flip(-1)) / 2).view(3, 64))
    model = nn.Sequential(nn.Flatten(), lin).double().eval()
    fn, geometric = transformation(TransformationSpec(name="hflip"))
    x = torch.rand(10, 1, 8, 8, dtype=torch.float64)
    got = invariance_distance(model, gradient(model), x, model(x).argmax(1), fn, geometric)
    assert geometric and torch.allclose(got, torch.zeros(10, dtype=torch.float64), rtol=0, atol=1e-12)


@pytest.mark.parametrize(("spec", "geometric"), [
    (TransformationSpec(name="rotate", degrees=15.0), True),
    (TransformationSpec(name="translate", pixels=2), True),
    (TransformationSpec(name="brightness", delta=0.3), False),
])
def test_invariance_matches_a_slow_loop(spec: TransformationSpec, geometric: bool) -> None:
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Tanh(), nn.Flatten(),
                          nn.Linear(2 * 8 * 8, 3)).double().eval()
    fn, is_geometric = transformation(spec)
    assert is_geometric == geometric
    x = torch.rand(12, 1, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    y = model(x).argmax(1)
    got = invariance_distance(model, gradient(model), x, y, fn, geometric)
    for i in range(12):
        xi, ti = x[i : i + 1], fn(x[i : i + 1])
        if model(xi).argmax(1) != model(ti).argmax(1):
            assert np.isnan(got[i].item())
            continue
        phi = gradient(model)(xi, y[i : i + 1])
        expected = (fn(phi) if geometric else phi).numpy().ravel()
        moved = gradient(model)(ti, y[i : i + 1]).numpy().ravel()
        assert got[i].item() == pytest.approx(1 - abs(spearmanr(moved, expected).statistic), abs=1e-9)


def test_translate_and_rotate_move_pixels_as_declared() -> None:
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 1] = 1.0
    shift, _ = transformation(TransformationSpec(name="translate", pixels=2))
    assert shift(x)[0, 0, 2, 3] == 1.0 and shift(x).sum() == 1.0
    turn, _ = transformation(TransformationSpec(name="rotate", degrees=90.0))
    assert turn(x)[0, 0, 3, 2] == pytest.approx(1.0)  # counter-clockwise: left of centre goes down
    bright, geometric = transformation(TransformationSpec(name="brightness", delta=0.5))
    assert not geometric and bright(torch.full((1, 1, 2, 2), 0.8)).max() == 1.0  # clipped


def _load(out: Path) -> AuditDocument:
    return AuditDocument.from_json((out / "results.json").read_bytes())


def test_audit_records_properties_with_intervals_and_resumes(tiny_policy, tmp_path: Path,
                                                             tiny_run: TinyRun) -> None:
    policy = tiny_policy(explainers=("saliency", "integrated_gradients", "random"),
                         settings={"integrated_gradients": {"steps": 8}})
    policy.write_text(policy.read_text().replace("thresholds:\n", "thresholds:\n" + PROPERTY_THRESHOLD)
                      + "properties:\n  robustness:\n    samples: 60\n    perturbations: 3\n"
                        "  invariance:\n    samples: 80\n    transformations:\n      - name: hflip\n"
                        "      - name: brightness\n  completeness:\n    samples: 40\n")
    out = tmp_path / "out"
    (out / "work").mkdir(parents=True)
    for fold in (tiny_run.out / "work").glob("fold_*.pt"):  # the same training: only the folds reused
        shutil.copy2(fold, out / "work" / fold.name)
    assert main(["run", str(policy), "--out", str(out), "--quiet"]) == 1  # P1 fails on random
    data = _load(out)
    assert data.reused_from_earlier_run.folds == (0, 1, 2)
    assert data.reused_from_earlier_run.explainers == ()
    for name, e in data.explainers.items():
        p = e.properties
        assert set(p.scores) == set(names(scope="property")), name
        for metric in ("sensitivity_max", "robustness_distance", "invariance_distance"):
            s = p.scores[metric]
            assert s.low <= s.value <= s.high, (name, metric)
            assert data.score(name, metric) == s
        assert p.robustness_images == 60 and p.invariance_images == 80
        flips, bright = p.invariance_transformations
        assert (flips.name, flips.setting, bright.setting) == ("hflip", {}, {"delta": 0.1})
        assert flips.compared + flips.left_out == 80 and flips.left_out > 0  # a mirrored 3 is no 3
        assert p.invariance_left_out == flips.left_out + bright.left_out
        worst = max(flips.distance.value, bright.distance.value)
        assert p.scores["invariance_distance"].value == pytest.approx(worst)
        if name == "integrated_gradients":
            assert p.completeness_images == 40 and p.scores["completeness_error"].value >= 0
        else:
            assert p.completeness_images == 0 and p.scores["completeness_error"].value is None
            assert p.scores["completeness_error"].undefined.startswith("not applicable")
    worst_checks = data.property_checks.random_scores_worst
    assert worst_checks["robustness"].held is True
    assert worst_checks["invariance"].held is True
    checks = {(c.threshold, c.explainer): c.passed for c in data.thresholds}
    assert checks[("P1", "saliency")] and not checks[("P1", "random")]
    assert checks[("P2", "integrated_gradients")]
    statuses = {c.subject: c.status for c in data.thresholds}
    assert statuses["P1[random]"] is CheckStatus.NOT_MET and statuses["P1[saliency]"] is CheckStatus.MET

    assert main(["run", str(policy), "--out", str(out), "--quiet"]) == 1
    again = _load(out)
    assert again.reused_from_earlier_run.explainers == ("saliency", "integrated_gradients", "random")
    assert {n: e.properties for n, e in again.explainers.items()} == {
        n: e.properties for n, e in data.explainers.items()}

    policy.write_text(policy.read_text().replace("    perturbations: 3\n", "    perturbations: 3\n"
                                                 "    radius: 0.1\n"))
    assert main(["run", str(policy), "--out", str(out), "--quiet"]) == 1
    changed = _load(out)
    assert changed.reused_from_earlier_run.explainers == ()  # their properties were recomputed
    for name, e in changed.explainers.items():
        before = data.explainers[name]
        assert e.scores["mege"] == before.scores["mege"]  # the distances were reused, not recomputed
        assert (e.properties.scores["invariance_distance"]
                == before.properties.scores["invariance_distance"])
        if name != "random":
            assert (e.properties.scores["sensitivity_max"].value
                    > before.properties.scores["sensitivity_max"].value)  # five times the noise
