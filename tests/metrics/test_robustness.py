"""Robustness, invariance and completeness against slow loops and cases with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from torch import nn

from auditkit.errors import MetricInputError
from auditkit.metrics.robustness import completeness_error, invariance_distance, sensitivity


def cnn() -> nn.Module:
    torch.manual_seed(0)
    return (
        nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.Tanh(), nn.Flatten(), nn.Linear(3 * 5 * 5, 4))
        .double()
        .eval()
    )


def gradient(model: nn.Module):
    def explain(x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        x = x.clone().requires_grad_(True)
        out = model(x).gather(1, targets[:, None]).sum()
        return torch.autograd.grad(out, x)[0]

    return explain


def test_sensitivity_matches_slow_loop() -> None:
    model = cnn()
    explain = gradient(model)
    x = torch.rand(4, 1, 5, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    targets = torch.tensor([0, 1, 2, 3])
    sens, dist = sensitivity(
        explain, x, targets, radius=0.1, n_perturbations=5, generator=torch.Generator().manual_seed(2)
    )
    u = torch.rand((4, 5, 1, 5, 5), generator=torch.Generator().manual_seed(2))
    for i in range(4):
        base = explain(x[i : i + 1], targets[i : i + 1])[0].numpy().ravel()
        ratios, dists = [], []
        for t in range(5):
            xp = x[i] + (2 * u[i, t].double() - 1) * 0.1
            phi = explain(xp[None], targets[i : i + 1])[0].numpy().ravel()
            ratios.append(np.linalg.norm(phi - base) / np.linalg.norm(base))
            dists.append(1 - abs(spearmanr(phi, base).statistic))
        assert sens[i].item() == pytest.approx(max(ratios), rel=1e-9)
        assert dist[i].item() == pytest.approx(np.mean(dists), abs=1e-9)


def test_sensitivity_max_equals_captum_on_the_same_draws() -> None:
    from captum.metrics import sensitivity_max

    model = cnn()
    explain = gradient(model)
    x = torch.rand(3, 1, 5, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    targets = torch.tensor([0, 2, 3])
    sens, _ = sensitivity(explain, x, targets, 0.2, 7, generator=torch.Generator().manual_seed(7))
    u = torch.rand((3, 7, 1, 5, 5), generator=torch.Generator().manual_seed(7)).double()

    def perturb(expanded: torch.Tensor, radius: float) -> torch.Tensor:  # image-major, as captum expands
        return expanded + (2 * u.flatten(0, 1) - 1) * radius

    def explanation(inputs, target: torch.Tensor) -> tuple[torch.Tensor]:
        with torch.enable_grad():  # captum calls it under no_grad, and wants a tuple back
            return (explain(inputs[0] if isinstance(inputs, tuple) else inputs, target),)

    theirs = sensitivity_max(explanation, x, perturb_func=perturb, perturb_radius=0.2,
                             n_perturb_samples=7, target=targets)
    assert torch.allclose(sens, theirs.double(), rtol=1e-9, atol=0)


def test_sensitivity_does_not_depend_on_chunks() -> None:
    model = cnn()
    x = torch.rand(6, 1, 5, 5, dtype=torch.float64)
    targets = torch.tensor([0, 1, 2, 3, 0, 1])
    whole = sensitivity(gradient(model), x, targets, 0.1, 3, generator=torch.Generator().manual_seed(8))
    gen = torch.Generator().manual_seed(8)
    parts = [sensitivity(gradient(model), x[s], targets[s], 0.1, 3, generator=gen)
             for s in (slice(0, 4), slice(4, 6))]
    for k in range(2):
        assert torch.allclose(whole[k], torch.cat([p[k] for p in parts]), rtol=1e-12, atol=0)


def test_random_maps_are_far_from_robust() -> None:
    gen = torch.Generator().manual_seed(9)

    def random_maps(x, targets):
        return torch.rand(x.shape, generator=gen, dtype=x.dtype)

    x = torch.rand(50, 1, 8, 8)
    sens, dist = sensitivity(random_maps, x, torch.zeros(50, dtype=torch.long), 0.05, 4)
    # independent U[0, 1) maps: |rho| ~ 0, and ||u - v|| / ||u|| ~ sqrt((1/6) / (1/3)) (max of 4 a bit more)
    assert dist.mean().item() > 0.85
    assert math.sqrt(0.5) < sens.mean().item() < 1.0


def test_linear_model_gradient_is_perfectly_robust() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3)).eval()
    x = torch.rand(6, 1, 4, 4)
    sens, dist = sensitivity(gradient(model), x, torch.zeros(6, dtype=torch.long), 0.3, 4)
    assert torch.all(sens == 0) and torch.all(dist == 0)


def test_zero_explanation_gives_nan_sensitivity() -> None:
    def explain(x, targets):
        return torch.zeros_like(x)

    sens, _ = sensitivity(explain, torch.rand(2, 1, 3, 3), torch.zeros(2, dtype=torch.long), 0.1, 2)
    assert torch.isnan(sens).all()


def flip(batch: torch.Tensor) -> torch.Tensor:
    return batch.flip(-1)


def symmetric_linear() -> nn.Module:
    torch.manual_seed(3)
    lin = nn.Linear(36, 2)
    with torch.no_grad():
        w = lin.weight.view(2, 6, 6)
        lin.weight.copy_(((w + w.flip(-1)) / 2).view(2, 36))
    return nn.Sequential(nn.Flatten(), lin).double().eval()


@pytest.mark.parametrize("method", ["gradient", "gradient_x_input"])
def test_flip_symmetric_model_is_exactly_equivariant(method: str) -> None:
    model = symmetric_linear()

    def explain(x, targets):
        g = gradient(model)(x, targets)
        return g if method == "gradient" else g * x

    x = torch.rand(8, 1, 6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    targets = model(x).argmax(dim=1)
    got = invariance_distance(model, explain, x, targets, flip, geometric=True)
    assert not torch.isnan(got).any()
    assert torch.allclose(got, torch.zeros(8, dtype=torch.float64), atol=1e-9)


def test_photometric_brightness_leaves_linear_gradient_unchanged() -> None:
    model = symmetric_linear()
    x = torch.rand(5, 1, 6, 6, dtype=torch.float64)
    got = invariance_distance(
        model, gradient(model), x, torch.zeros(5, dtype=torch.long), lambda b: b * 1.3, geometric=False
    )
    kept = ~torch.isnan(got)
    assert torch.all(got[kept] < 1e-9)


def test_images_whose_prediction_changes_are_left_out() -> None:
    torch.manual_seed(5)
    model = nn.Sequential(nn.Flatten(), nn.Linear(36, 2)).double().eval()
    x = torch.rand(40, 1, 6, 6, dtype=torch.float64)
    got = invariance_distance(model, gradient(model), x, torch.zeros(40, dtype=torch.long), flip, True)
    changed = model(x).argmax(1) != model(flip(x)).argmax(1)
    assert changed.any() and torch.equal(torch.isnan(got), changed)


def test_completeness_exact_for_linear_model_and_by_formula() -> None:
    torch.manual_seed(0)
    linear = nn.Sequential(nn.Flatten(), nn.Linear(9, 2)).double().eval()
    x = torch.rand(3, 1, 3, 3, dtype=torch.float64)
    targets = torch.tensor([0, 1, 0])
    ig = x * linear[1].weight.view(2, 1, 3, 3)[targets]  # exact IG for a linear model, zero baseline
    assert torch.allclose(completeness_error(linear, x, ig, targets), torch.zeros(3, dtype=torch.float64))
    model = cnn()
    x = torch.rand(2, 1, 5, 5, dtype=torch.float64)
    phi = torch.randn(2, 1, 5, 5, dtype=torch.float64)
    got = completeness_error(model, x, phi, torch.tensor([1, 2]), baseline=0.5)
    for i, c in enumerate([1, 2]):
        delta = (model(x[i : i + 1])[0, c] - model(torch.full_like(x[i : i + 1], 0.5))[0, c]).item()
        assert got[i].item() == pytest.approx(abs(phi[i].sum().item() - delta) / abs(delta))


def test_completeness_undefined_when_no_score_change() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2)).eval()
    with torch.no_grad():
        model[1].weight.zero_()
    got = completeness_error(
        model, torch.rand(2, 1, 2, 2), torch.rand(2, 1, 2, 2), torch.zeros(2, dtype=torch.long)
    )
    assert all(math.isnan(v) for v in got.tolist())


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: sensitivity(
                lambda x, t: x, torch.rand(2, 1, 3, 3), torch.zeros(2, dtype=torch.long), 0.0
            ),
            "radius",
        ),
        (
            lambda: sensitivity(
                lambda x, t: x, torch.rand(2, 1, 3, 3), torch.zeros(2, dtype=torch.long), 0.1, 0
            ),
            "n_perturbations",
        ),
        (
            lambda: sensitivity(lambda x, t: x, torch.rand(2, 9), torch.zeros(2, dtype=torch.long), 0.1),
            "x must be",
        ),
        (
            lambda: sensitivity(
                lambda x, t: x, torch.rand(2, 1, 3, 3), torch.zeros(3, dtype=torch.long), 0.1
            ),
            "targets",
        ),
        (
            lambda: invariance_distance(
                lambda x: x.flatten(1),
                lambda x, t: x,
                torch.rand(2, 1, 3, 3),
                torch.zeros(2, dtype=torch.long),
                lambda b: b[..., :2],
                True,
            ),
            "keep the image shape",
        ),
    ],
)
def test_errors(call, match: str) -> None:
    with pytest.raises(MetricInputError, match=match):
        call()
