"""Closed forms: linear and power-sum models, and a model that only looks at one image region."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from auditkit.explainers import (
    EXPLAINERS,
    GradientInput,
    IntegratedGradients,
    Saliency,
    SmoothGrad,
    make_explainer,
)


@pytest.fixture
def data():
    gen = torch.Generator().manual_seed(3)
    return torch.randn(5, 2, 3, 3, generator=gen), torch.tensor([0, 3, 1, 2, 3])


def test_linear_saliency_is_abs_weights(linear, data):
    (model, w), (x, y) = linear, data
    torch.testing.assert_close(Saliency(model).explain(x, y), w[y].abs())
    torch.testing.assert_close(Saliency(model, absolute=False).explain(x, y), w[y])


def test_linear_gradient_input(linear, data):
    (model, w), (x, y) = linear, data
    torch.testing.assert_close(GradientInput(model).explain(x, y), x * w[y].abs())
    torch.testing.assert_close(GradientInput(model, convention="signed").explain(x, y), x * w[y])


def test_linear_integrated_gradients_is_exact(linear, data):
    (model, w), (x, y) = linear, data
    torch.testing.assert_close(IntegratedGradients(model, steps=3).explain(x, y), x * w[y])


def test_linear_smoothgrad_is_weights(linear, data):
    (model, w), (x, y) = linear, data
    torch.testing.assert_close(SmoothGrad(model, samples=7).explain(x, y), w[y].abs())
    signed = SmoothGrad(model, samples=7, absolute=False, sigma=3.0, sigma_convention="absolute")
    torch.testing.assert_close(signed.explain(x, y), w[y])


class PowerSum(nn.Module):
    """Logits ``[sum(x^p) / p, 0]``; its gradient is ``x^(p-1)``."""

    def __init__(self, p: int) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.pow(self.p).sum(dim=(1, 2, 3)) / self.p
        return torch.stack([s, torch.zeros_like(s)], dim=1)


def test_integrated_gradients_trapezoid_closed_forms(data):
    x, _ = data
    y = torch.zeros(len(x), dtype=torch.int64)
    # grad of sum(x^2)/2 along a*x is a*x, linear in a: every rule is exact, IG = x^2 / 2.
    torch.testing.assert_close(IntegratedGradients(PowerSum(2).eval(), steps=4).explain(x, y), x**2 / 2)
    # sum(x^3)/3: grad a^2 x^2; trapezoid on m points gives int_0^1 a^2 + h^2/6 with h = 1/(m-1),
    # so IG = x^3 (1/3 + 1/(6 (m-1)^2)); left Riemann would give x^3 (m-2)(2m-3)/(6 (m-1)^2).
    for m in (2, 5, 60):
        expected = x**3 * (1 / 3 + 1 / (6 * (m - 1) ** 2))
        got = IntegratedGradients(PowerSum(3).eval(), steps=m, batch_size=2).explain(x, y)
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_integrated_gradients_gauss_legendre_is_exact_to_its_degree(data):
    """n Gauss-Legendre nodes integrate polynomials of degree 2n - 1 exactly: PowerSum(p)'s path
    gradient is a^(p-1) x^(p-1), so IG = x^p / p with 2 nodes up to p = 4, not at p = 6."""
    x = data[0].double()
    y = torch.zeros(len(x), dtype=torch.int64)
    for p, nodes in ((4, 2), (6, 3)):
        got = IntegratedGradients(PowerSum(p).eval(), steps=nodes, method="gausslegendre").explain(x, y)
        torch.testing.assert_close(got, (x**p / p).float(), rtol=1e-5, atol=1e-6)
    coarse = IntegratedGradients(PowerSum(6).eval(), steps=2, method="gausslegendre").explain(x, y)
    assert (coarse - (x**6 / 6).float()).abs().max() > 1e-2


class SoftplusSum(nn.Module):
    """Logits ``[sum softplus(x), 0]``: IG from 0 is ``softplus(x) - log 2`` per feature (closed form)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = nn.functional.softplus(x).sum(dim=(1, 2, 3))
        return torch.stack([s, torch.zeros_like(s)], dim=1)


def test_integrated_gradients_gauss_legendre_reaches_the_completeness_gap_with_fewer_steps(data):
    """The completeness gap |sum phi - (f(x) - f(0))| / |f(x) - f(0)| (mean over the images, as the
    audit's completeness_error) against the closed form: the trapezoid's falls as (steps - 1)^-2
    (about 3e-3 at 8 points, 4e-5 at 60); Gauss-Legendre's faster than any power: 3 nodes give the
    trapezoid's 60-point gap, 4 nodes a tenth of it."""
    from auditkit.metrics import completeness_error

    x = data[0].double()
    y = torch.zeros(len(x), dtype=torch.int64)
    model = SoftplusSum().eval()
    exact = nn.functional.softplus(x) - math.log(2.0)

    def gap(method: str, steps: int) -> float:
        maps = IntegratedGradients(model, steps=steps, method=method).explain(x, y).double()
        assert (maps - exact).abs().max() < 0.1  # both rules approximate the same integral
        return float(completeness_error(model, x, maps, y, baseline=0.0).mean())

    trapezoid = {m: gap("riemann_trapezoid", m) for m in (8, 60)}
    assert 2e-5 < trapezoid[60] < 6e-5 and 2e-3 < trapezoid[8] < 4e-3
    assert trapezoid[8] / trapezoid[60] == pytest.approx((59 / 7) ** 2, rel=0.05)  # h^2 scaling
    assert trapezoid[60] / 2 < gap("gausslegendre", 3) < trapezoid[60] * 2
    assert gap("gausslegendre", 4) < trapezoid[60] / 10
    assert gap("gausslegendre", 2) > trapezoid[60] * 10  # 2 nodes are not enough


@pytest.mark.parametrize("convention", ["range", "absolute"])
def test_smoothgrad_folded_normal(convention):
    """Gradient of sum(x^2)/2 is x, so SmoothGrad = E|x + std Z| (folded normal), per image std."""
    x = torch.tensor([[[[0.0, 0.5], [1.0, -1.0]]], [[[0.2, 0.0], [0.1, 0.3]]]])
    y = torch.zeros(2, dtype=torch.int64)
    m, sigma = 4000, 0.3
    got = SmoothGrad(PowerSum(2).eval(), samples=m, sigma=sigma, sigma_convention=convention).explain(x, y)
    std = (
        sigma * (x.flatten(1).amax(1) - x.flatten(1).amin(1))
        if convention == "range"
        else torch.full((2,), sigma)
    )
    s = std[:, None, None, None]
    normal = torch.distributions.Normal(0.0, 1.0)
    expected = s * math.sqrt(2 / math.pi) * torch.exp(-(x**2) / (2 * s**2)) + x * (1 - 2 * normal.cdf(-x / s))
    torch.testing.assert_close(got, expected, rtol=0, atol=float(4 * std.max() / math.sqrt(m)))
    signed = SmoothGrad(
        PowerSum(2).eval(), samples=m, sigma=sigma, sigma_convention=convention, absolute=False
    )
    torch.testing.assert_close(signed.explain(x, y), x, rtol=0, atol=float(4 * std.max() / math.sqrt(m)))


class Gate(nn.Module):
    """Multiplies by a fixed 0/1 mask ``[1, 1, H, W]``."""

    def __init__(self, mask: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mask", mask)

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return a * self.mask


class RegionModel(nn.Module):
    """Logits depend on the top-left 4x4 quadrant of 3x8x8 images only.

    A positive 1x1 conv and ReLU, gated to the quadrant, average-pooled to 4x4 (the Grad-CAM layer:
    upsampling back to 8x8 has to be bilinear), summed and mapped to 2 classes with positive weights.
    """

    def __init__(self) -> None:
        super().__init__()
        mask = torch.zeros(1, 1, 8, 8)
        mask[..., :4, :4] = 1
        self.conv = nn.Conv2d(3, 4, 1)
        self.gate = Gate(mask)
        self.pool = nn.AvgPool2d(2)
        self.fc = nn.Linear(4, 2)
        with torch.no_grad():
            self.conv.weight.uniform_(0.2, 1.0)
            self.conv.bias.zero_()
            self.fc.weight.uniform_(0.5, 1.0)

    @property
    def target_layer(self) -> nn.Module:
        return self.pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.pool(self.gate(torch.relu(self.conv(x))))
        return self.fc(a.sum(dim=(2, 3)))


def region_share(maps: torch.Tensor) -> torch.Tensor:
    """Share of each map's mass (sum of |values| over channels and pixels) in the top-left quadrant."""
    mass = maps.abs().sum(dim=1)
    return mass[:, :4, :4].sum(dim=(1, 2)) / mass.sum(dim=(1, 2))


def top_share(maps: torch.Tensor, k: int = 16) -> torch.Tensor:
    """Share of each map's ``k`` highest pixels (|values| summed over channels) in the quadrant."""
    top = maps.abs().sum(dim=1).flatten(1).topk(k).indices
    return ((top // maps.shape[-1] < 4) & (top % maps.shape[-1] < 4)).float().mean(dim=1)


ALIGNED = {name: {"groups": "grid", "segments": 16} for name in ("kernel_shap", "lime")}
"""Group methods give a group's whole effect to each of its pixels: a superpixel across the quadrant's
edge would carry mass outside it, so they are given 2 x 2 cells aligned with it."""


@pytest.mark.parametrize("name", list(EXPLAINERS))
def test_attribution_in_the_only_region_that_matters(name):
    torch.manual_seed(0)
    model = RegionModel().eval()
    x = 0.1 + 0.9 * torch.rand(6, 3, 8, 8, generator=torch.Generator().manual_seed(4))
    y = torch.tensor([0, 1, 0, 1, 0, 1])
    maps = make_explainer(name, model, layer=model.target_layer, background=torch.rand(4, 3, 8, 8),
                          **ALIGNED.get(name, {})).explain(x, y)
    if EXPLAINERS[name].control:  # random, input: maps that ignore the model
        assert (region_share(maps) < 0.5).all()  # about 1/4, the region's area
        assert (top_share(maps) < 0.75).all()
    elif name == "rise":
        # RISE maps are E[f_c | pixel kept] - E[f_c]; the masks' cells (2 x 2 pixels, upsampled and
        # shifted) spread that excess past the quadrant's edges, so the check is on the order the
        # rank-based metrics see: the 16 top pixels are there.
        assert (top_share(maps) >= 0.75).all(), top_share(maps)
    else:
        assert (region_share(maps) > 0.7).all(), region_share(maps)
        assert (top_share(maps) >= 0.75).all(), top_share(maps)


@pytest.mark.parametrize("baseline", ["zero", "mean", "blur"])
def test_integrated_gradients_is_complete_against_its_own_baseline(linear, data, baseline):
    from auditkit.metrics import completeness_error

    (model, w), (x, y) = linear, data
    ig = IntegratedGradients(model, steps=3, baseline=baseline)
    x0 = ig.reference(x)
    torch.testing.assert_close(ig.explain(x, y), (x - x0) * w[y])
    assert completeness_error(model, x, ig.explain(x, y), y, baseline=x0).max() < 1e-5
    if baseline != "zero":  # another baseline's maps are not complete against x0 = 0
        assert completeness_error(model, x, ig.explain(x, y), y, baseline=0.0).max() > 1e-3


def test_integrated_gradients_baselines_have_their_formulas(data):
    x, _ = data
    model = nn.Sequential(nn.Flatten(), nn.Linear(18, 4)).eval()
    torch.testing.assert_close(IntegratedGradients(model).reference(x), torch.zeros_like(x))
    mean = IntegratedGradients(model, baseline="mean").reference(x)
    torch.testing.assert_close(mean, x.mean(dim=(2, 3), keepdim=True).expand_as(x))
    big = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    blur = IntegratedGradients(model, baseline="blur").reference(big)
    # sigma = 16 / 8 = 2 px: the blur keeps the mean roughly and removes most pixel-to-pixel variance.
    assert blur.shape == big.shape and abs(float(blur.mean() - big.mean())) < 0.02
    assert float(blur.diff(dim=-1).abs().mean()) < 0.3 * float(big.diff(dim=-1).abs().mean())


@pytest.mark.parametrize("absolute", [True, False])
def test_saliency_equals_captums_to_the_bit(cnn, images, absolute: bool) -> None:
    from captum.attr import Saliency as CaptumSaliency

    from auditkit.explainers.saliency import Saliency

    x, targets = images
    expected = CaptumSaliency(cnn).attribute(x.clone().requires_grad_(), target=targets, abs=absolute)
    assert torch.equal(Saliency(cnn, absolute=absolute).explain(x, targets), expected)  # the same batch


@pytest.mark.parametrize("batch_size", [1, 3, 256])  # 1 and 3: captum's chunks of one image, several steps
def test_integrated_gradients_equals_captums_own_gradients_to_the_bit(cnn, images, batch_size: int) -> None:
    from captum._utils.gradient import compute_gradients

    from auditkit.explainers.integrated_gradients import IntegratedGradients

    x, targets = images
    ours = IntegratedGradients(cnn, steps=9, batch_size=batch_size)
    theirs = IntegratedGradients(cnn, steps=9, batch_size=batch_size)
    theirs._captum.gradient_func = compute_gradients  # captum's own, as installed by captum
    assert torch.equal(ours.explain(x, targets), theirs.explain(x, targets))
