"""The smooth random control: :class:`RandomSmooth`, white noise low-pass filtered to a given width,
and :func:`smoothness_width`, the width of a method's own maps.

Smooth maps agree with each other more by chance than pixel noise does (Binder et al., CVPR 2023,
https://arxiv.org/abs/2211.12486): two independent smooth random maps have a Spearman distance
spread wider than that of two white-noise maps, so a smooth method (Grad-CAM, RISE, SmoothGrad)
beating the white-noise ``random`` control says little. The fair yardstick is random maps of the
method's own smoothness.

Width. Gaussian-filtered white noise with kernel standard deviation sigma (pixels) has the
normalised autocorrelation ``rho(d) = exp(-d^2 / (4 sigma^2))`` at lag ``d`` pixels (continuous
kernel). auditkit samples the kernel at integer offsets (truncated at 4 sigma, normalised to sum 1),
so the autocorrelation at lag 1 of its maps is exactly

.. math::

    \\rho_1(\\sigma) = \\frac{\\sum_i g_i g_{i+1}}{\\sum_i g_i^2}, \\qquad
    g_i \\propto \\exp(-i^2 / (2\\sigma^2)),

(:func:`lag1_of_width`; ``rho_1(0) = 0``: the kernel is a single tap). The width of a set of maps
is the sigma whose expected estimate equals their mean normalised lag-1 autocorrelation
(:func:`lag1_correlation`, mean of the horizontal and vertical lags): ``rho_1`` corrected for each
map's own mean on maps of that size (:func:`expected_lag1`), found by bisection (it is monotone
in sigma); 0 where that autocorrelation is 0 or negative (white noise), capped at ``max(H, W)``
pixels.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import ClassVar

import torch
from scipy.optimize import brentq
from torch import Tensor, nn

from auditkit.constraints import Constraint, Interval, must
from auditkit.errors import ExplainerError
from auditkit.explainers.base import GENERATOR_SEED, Explainer

TRUNCATE = 4.0
"""The Gaussian kernel reaches ``ceil(TRUNCATE * sigma)`` pixels either side (scipy's default)."""
SIGMA = Interval(float, 0, 1024)
"""What ``sigma`` accepts: a kernel standard deviation in pixels (0: white Gaussian noise)."""


def gaussian_kernel(sigma: float) -> Tensor:
    """The 1-D kernel ``g_i ∝ exp(-i^2 / (2 sigma^2))``, ``|i| <= ceil(4 sigma)``, summing to 1,
    float64; ``[1.]`` for ``sigma = 0``.

    >>> gaussian_kernel(0.0).tolist(), gaussian_kernel(1.0).shape
    ([1.0], torch.Size([9]))
    """
    if sigma == 0:
        return torch.ones(1, dtype=torch.float64)
    radius = math.ceil(TRUNCATE * sigma)
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    g = torch.exp(-offsets**2 / (2 * sigma**2))
    return g / g.sum()


def lag1_of_width(sigma: float) -> float:
    """``rho_1(sigma)``: the lag-1 normalised autocorrelation of white noise filtered by
    :func:`gaussian_kernel` (module docstring); ``exp(-1 / (4 sigma^2))`` for a wide kernel.

    >>> lag1_of_width(0.0), round(lag1_of_width(3.0), 4), round(math.exp(-1 / 36), 4)
    (0.0, 0.9726, 0.9726)
    """
    g = gaussian_kernel(sigma)
    return float((g[:-1] * g[1:]).sum() / (g * g).sum())


def lag1_correlation(maps: Tensor) -> float:
    """Mean normalised autocorrelation at lag 1 of ``maps`` ``[N, C, H, W]`` (channels summed).

    Per map, ``R(dy, dx)`` is the sum of ``(m_p - mean)(m_q - mean)`` over the pixel pairs ``q = p +
    (dy, dx)`` divided by their number ``(H - |dy|)(W - |dx|)`` (computed for every map at once with a
    zero-padded FFT); the map's value is ``(R(0, 1) + R(1, 0)) / (2 R(0, 0))``. Constant maps (R(0, 0)
    = 0) are left out; NaN when every map is constant or a side is 1 pixel.

    A ramp along rows: centred columns -1.5, -0.5, 0.5, 1.5 give R(0, 0) = 1.25, R(0, 1) = 1.25 / 3
    and R(1, 0) = 1.25, so (1 / 3 + 1) / 2:

    >>> ramp = torch.arange(4.0).expand(4, 4)[None, None]
    >>> round(lag1_correlation(ramp), 4)
    0.6667
    """
    m = maps.detach().double().sum(dim=1)
    h, w = m.shape[-2:]
    if h < 2 or w < 2:
        return math.nan
    centred = m - m.mean(dim=(-2, -1), keepdim=True)
    power = torch.fft.rfft2(centred, s=(2 * h, 2 * w)).abs() ** 2
    r = torch.fft.irfft2(power, s=(2 * h, 2 * w))
    r00, r01, r10 = r[:, 0, 0] / (h * w), r[:, 0, 1] / (h * (w - 1)), r[:, 1, 0] / ((h - 1) * w)
    scale = m.abs().amax(dim=(-2, -1)).clamp_min(1e-300) ** 2
    kept = r00 > 1e-12 * scale  # a constant map's variance is rounding noise
    if not bool(kept.any()):
        return math.nan
    return float(((r01 + r10)[kept] / (2 * r00[kept])).mean())


def _mean_pair_correlation(sigma: float, side: int) -> float:
    """Mean of the autocorrelation of :func:`gaussian_kernel` ``(sigma)``-filtered noise over every
    ordered pixel pair of a line of ``side`` pixels: ``sum_d (side - |d|) a(d) / side^2``."""
    g = gaussian_kernel(sigma)
    a = torch.nn.functional.conv1d(g.view(1, 1, -1), g.view(1, 1, -1), padding=g.numel() - 1).flatten()
    a = a[a.numel() // 2:] / a.max()  # a(0), a(1), ...
    lags = torch.arange(min(side, a.numel()), dtype=torch.float64)
    weights = (side - lags) * torch.where(lags == 0, 1.0, 2.0)
    return float((weights * a[:lags.numel()]).sum() / side**2)


def expected_lag1(sigma: float, h: int, w: int) -> float:
    """What :func:`lag1_correlation` gives, to first order, on ``h x w`` maps of width ``sigma``:
    ``(rho_1 - c) / (1 - c)``, ``c = c_h c_w`` the mean autocorrelation of the pixel pairs (the
    kernel is separable), which subtracting each map's own mean takes off every lag.

    >>> round(expected_lag1(2.0, 8, 8), 3), round(expected_lag1(2.0, 256, 256), 3)
    (0.898, 0.939)
    """
    c = _mean_pair_correlation(sigma, h) * _mean_pair_correlation(sigma, w)
    return (lag1_of_width(sigma) - c) / (1 - c)


def smoothness_width(maps: Tensor) -> float:
    """The Gaussian width in pixels of ``maps`` ``[N, C, H, W]``: the sigma whose
    :func:`expected_lag1` on maps of this size equals :func:`lag1_correlation` ``(maps)``.

    0 for white noise (lag-1 autocorrelation <= 0; a chance positive one gives under 0.4 px, whose
    kernel's neighbour taps are under 4 % of its centre: ``rho_1`` is flat near 0, so widths below
    about 0.4 px are not told apart) and for constant maps; at most ``max(H, W)``.
    Recovers sigma within 5 % from 64 filtered-noise maps of 48 x 48 (tested). The correction is to
    first order: on 8 x 8 maps sigma = 0.5 and 1 come back as 0.48 and 0.92, sigma = 2 as about 1.4
    (a field that smooth is nearly a plane on 64 pixels).

    >>> x = torch.randn(64, 1, 48, 48, generator=torch.Generator().manual_seed(0))
    >>> smoothness_width(x)
    0.0
    """
    rho = lag1_correlation(maps)
    h, w = maps.shape[-2:]
    cap = float(max(h, w))
    if math.isnan(rho) or rho <= 0:
        return 0.0
    if rho >= expected_lag1(cap, h, w):
        return cap
    return float(brentq(lambda s: expected_lag1(s, h, w) - rho, 0.0, cap, xtol=1e-6))


def image_seed(image: Tensor, generator_seed: int) -> int:
    """A 63-bit seed of one image's bytes (as float32 on the CPU) and ``generator_seed``: the same
    image gets the same draw whatever batch, device or process it is explained in."""
    data = image.detach().to("cpu", torch.float32).contiguous().numpy().tobytes()
    digest = hashlib.blake2b(data, digest_size=8, key=generator_seed.to_bytes(8, "little")).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


class RandomSmooth(Explainer):
    """Gaussian-filtered white noise ``Tensor[N, 1, H, W]`` of width ``sigma`` pixels, independent of
    the model, drawn per image.

    Each image's map is standard normal noise on an ``(H + 2r) x (W + 2r)`` grid (``r = ceil(4
    sigma)``) from a CPU generator seeded with :func:`image_seed` (the image's bytes and
    ``generator_seed``), convolved without padding with the separable :func:`gaussian_kernel` (two
    products with banded matrices, in float64): a
    stationary field whose lag-1 autocorrelation is :func:`lag1_of_width` ``(sigma)``, even at the
    border. The map depends on nothing but the image and the seed, so it does not depend on the batch
    it is drawn in, nor on serial or Ray execution; the audit seeds each fold model's instance
    differently (``generator_seed``), so the k maps of one image are independent, as ``random``'s are.

    In an audit, listing ``random_smooth`` scores this control at the declared ``sigma`` and, for
    every method audited beside it, once more at that method's own width (:func:`smoothness_width`
    of its example maps): the control each method's yardstick compares it with. Random maps need
    no model evaluation, only their distances (and muF's score drops, shared with the methods).

    Args:
        model: classifier in eval mode (checked as for every method, never evaluated but once for
            its number of classes).
        batch_size: images per chunk.
        sigma: kernel standard deviation in pixels; 0 gives white Gaussian noise.
        generator_seed: seed combined with each image's bytes.
    """

    name: ClassVar[str] = "random_smooth"
    label: ClassVar[str] = "Smooth random control"
    settings: ClassVar[Mapping[str, Constraint]] = {"sigma": SIGMA}
    control: ClassVar[bool] = True
    pixel_wise: ClassVar[bool] = False
    seeded: ClassVar[bool] = True

    def __init__(self, model: nn.Module, *, batch_size: int = 256, sigma: float = 1.0,
                 generator_seed: int = 0) -> None:
        super().__init__(model, batch_size=batch_size)
        self.sigma = float(self._setting("sigma", sigma))
        self.generator_seed = must(generator_seed, "generator_seed", GENERATOR_SEED, ExplainerError)
        self._kernel = gaussian_kernel(self.sigma)

    def _attribute(self, x: Tensor, targets: Tensor) -> Tensor:
        pad = (self._kernel.numel() - 1) // 2
        h, w = x.shape[-2:]
        noise = torch.stack([
            torch.randn(h + 2 * pad, w + 2 * pad, dtype=torch.float64,
                        generator=torch.Generator().manual_seed(image_seed(image, self.generator_seed)))
            for image in x
        ]).to(x.device)
        # float64: the float32 maps do not depend on the batch's size
        rows, cols = self._band(h, x.device), self._band(w, x.device)
        return (rows @ noise @ cols.T)[:, None].float()

    def _band(self, size: int, device: torch.device) -> Tensor:
        """``[size, size + 2r]`` float64: row i holds the kernel at columns i .. i + 2r, so that
        ``band @ v`` is the valid convolution of ``v`` with it (separable filtering as two products)."""
        g = self._kernel.to(device)
        band = torch.zeros(size, size + g.numel() - 1, dtype=torch.float64, device=device)
        index = torch.arange(size, device=device)[:, None] + torch.arange(g.numel(), device=device)
        return band.scatter_(1, index, g.expand(size, -1))
