"""The smooth random control and the width estimator (auditkit/explainers/random_smooth.py)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from scipy import ndimage
from scipy.optimize import brentq

from auditkit.errors import ExplainerError
from auditkit.explainers import EXPLAINERS, make_explainer
from auditkit.explainers.random_smooth import (
    expected_lag1,
    gaussian_kernel,
    image_seed,
    lag1_correlation,
    lag1_of_width,
    smoothness_width,
)


def _linear(h: int, w: int, c: int = 1) -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(c * h * w, 3)).eval()


def _control(sigma: float, h: int = 48, w: int = 48, n: int = 64, seed: int = 0,
             batch_size: int = 256) -> torch.Tensor:
    x = torch.rand(n, 1, h, w, generator=torch.Generator().manual_seed(seed))
    return make_explainer("random_smooth", _linear(h, w), sigma=sigma, generator_seed=seed,
                          batch_size=batch_size).explain(x, torch.zeros(n, dtype=torch.long))


def _scipy_filtered(sigma: float, n: int = 64, side: int = 48, seed: int = 1) -> torch.Tensor:
    """Filtered noise made independently of auditkit: scipy's gaussian_filter, border cropped."""
    rng = torch.Generator().manual_seed(seed)
    pad = math.ceil(4 * sigma)
    noise = torch.randn(n, side + 2 * pad, side + 2 * pad, generator=rng).numpy()
    out = ndimage.gaussian_filter(noise, sigma=(0, sigma, sigma), mode="constant")
    return torch.from_numpy(out[:, pad:pad + side, pad:pad + side].copy())[:, None]


def test_a_registered_control_with_a_width_setting() -> None:
    cls = EXPLAINERS["random_smooth"]
    assert cls.control and cls.seeded and not cls.pixel_wise and set(cls.settings) == {"sigma"}
    with pytest.raises(ExplainerError, match=r"sigma must be a number in \[0, 1024\], got -1"):
        make_explainer("random_smooth", _linear(4, 4), sigma=-1)


def test_kernel_and_its_lag1_against_closed_forms() -> None:
    g = gaussian_kernel(1.5)
    assert g.numel() == 2 * 6 + 1 and float(g.sum()) == pytest.approx(1.0)
    # hand sum for a truncated kernel: sum g_i g_{i+1} / sum g_i^2 with g_i = exp(-i^2 / 2 sigma^2)
    raw = [math.exp(-i * i / (2 * 1.5**2)) for i in range(-6, 7)]
    by_hand = sum(a * b for a, b in itertools.pairwise(raw)) / sum(a * a for a in raw)
    assert lag1_of_width(1.5) == pytest.approx(by_hand, rel=1e-12)
    assert lag1_of_width(4.0) == pytest.approx(math.exp(-1 / 64), rel=1e-6)  # continuous limit
    assert lag1_of_width(0.0) == 0.0


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.0, 3.0])
def test_width_recovered_from_independently_filtered_noise(sigma: float) -> None:
    """scipy-filtered noise, 64 maps of 48 x 48: sigma back within 5 % (3.0 gives 2.92). The
    estimate's spread over seeds is about 1 % here, and what is left of the map-mean bias after the
    first-order correction under 3 %; a wrong formula is far outside: taking the autocorrelation's
    width for the kernel's (exp(-d^2 / 2 sigma^2)) gives sigma sqrt 2, 41 % off."""
    assert smoothness_width(_scipy_filtered(sigma)) == pytest.approx(sigma, rel=0.05)


def test_the_map_mean_correction_on_small_maps() -> None:
    """On 8 x 8 maps (the digits) subtracting each map's mean lowers its lag-1 autocorrelation: the
    plain inversion of rho_1 reads sigma = 1 as 0.85, the corrected one as 0.92 (1024 maps)."""
    maps = _scipy_filtered(1.0, n=1024, side=8)
    rho = lag1_correlation(maps)
    plain = brentq(lambda s: lag1_of_width(s) - rho, 0.0, 8.0)
    assert abs(smoothness_width(maps) - 1.0) < 0.1 < abs(plain - 1.0)


def test_white_noise_has_no_width() -> None:
    for side in (8, 16, 48):
        noise = torch.randn(64, 1, side, side, generator=torch.Generator().manual_seed(side))
        # a chance positive lag-1 gives a fraction of a pixel: below 0.4 px the kernel's neighbour
        # taps are under exp(-1 / (2 * 0.4^2)) = 4 % of its centre (rho_1 < 0.05), near-white noise
        assert smoothness_width(noise) < 0.4
        assert abs(lag1_correlation(noise)) < 0.05
    assert smoothness_width(torch.ones(3, 1, 8, 8)) == 0.0  # constant maps: nothing to measure
    assert math.isnan(lag1_correlation(torch.ones(3, 1, 8, 8)))


def test_lag1_correlation_by_brute_force() -> None:
    maps = torch.rand(5, 2, 6, 7, generator=torch.Generator().manual_seed(3)).double()
    m = maps.sum(1)
    c = m - m.mean(dim=(1, 2), keepdim=True)
    r00 = (c * c).mean(dim=(1, 2))
    r01 = (c[:, :, :-1] * c[:, :, 1:]).mean(dim=(1, 2))
    r10 = (c[:, :-1, :] * c[:, 1:, :]).mean(dim=(1, 2))
    assert lag1_correlation(maps) == pytest.approx(float(((r01 + r10) / (2 * r00)).mean()), rel=1e-10)


@pytest.mark.parametrize("sigma", [0.0, 1.0, 2.5])
def test_the_controls_maps_have_the_declared_autocorrelation(sigma: float) -> None:
    """Pooled over 256 maps of 64 x 64 the lag-1 autocorrelation is rho_1(sigma) corrected for the map
    mean (``expected_lag1``) within 0.01 (its standard error here is below 0.003)."""
    maps = _control(sigma, 64, 64, n=256)
    assert lag1_correlation(maps) == pytest.approx(expected_lag1(sigma, 64, 64), abs=0.01)
    # sigma is ill-conditioned near 0 (rho_1 is flat there), so white noise gets the bound above
    assert abs(smoothness_width(maps) - sigma) < (0.05 * sigma if sigma else 0.4)


def test_deterministic_per_image_and_independent_of_the_batch() -> None:
    x = torch.rand(10, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    model, y = _linear(8, 8), torch.zeros(10, dtype=torch.long)
    whole = make_explainer("random_smooth", model, sigma=1.0, generator_seed=5).explain(x, y)
    chunks = make_explainer("random_smooth", model, sigma=1.0, generator_seed=5, batch_size=3)
    torch.testing.assert_close(chunks.explain(x, y), whole, rtol=0, atol=0)
    order = torch.tensor([7, 2, 9, 0])  # the same images in another company and order: same maps
    again = make_explainer("random_smooth", model, sigma=1.0, generator_seed=5).explain(x[order], y[:4])
    torch.testing.assert_close(again, whole[order], rtol=0, atol=0)
    other = make_explainer("random_smooth", model, sigma=1.0, generator_seed=6).explain(x, y)
    assert not torch.equal(other, whole)  # another fold's seed: another map
    assert image_seed(x[0], 5) == image_seed(x[0].clone(), 5) != image_seed(x[1], 5)


def test_an_upsampled_7x7_map_is_wider_than_a_saliency_map(cnn, images) -> None:
    """Grad-CAM's maps are a coarse grid upsampled; Saliency's follow single pixels."""
    coarse = torch.rand(32, 1, 7, 7, generator=torch.Generator().manual_seed(0))
    upsampled = torch.nn.functional.interpolate(coarse, size=(28, 28), mode="bilinear",
                                                align_corners=False)
    pixelwise = torch.rand(32, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    assert smoothness_width(upsampled) > 1.0 > smoothness_width(pixelwise)
    x, y = images  # the tiny CNN: Grad-CAM at half resolution, upsampled, against Saliency
    gradcam = make_explainer("gradcam", cnn, layer=cnn.target_layer).explain(x, y)
    saliency = make_explainer("saliency", cnn).explain(x, y)
    assert smoothness_width(gradcam) > smoothness_width(saliency)
