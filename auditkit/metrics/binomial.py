"""Accuracy against chance: the Wilson interval of a proportion and the spread fold size alone gives.

A fold model's held-out accuracy is a proportion of ``n`` test images. Its interval is the Wilson
score interval (Wilson 1927), which, unlike the normal ("Wald") interval, stays inside [0, 1] and
keeps close to its nominal coverage for small ``n`` and for proportions near 0 or 1:

.. math::

    \\frac{\\hat p + \\frac{z^2}{2n} \\pm z \\sqrt{\\frac{\\hat p (1 - \\hat p)}{n} + \\frac{z^2}{4n^2}}}
         {1 + \\frac{z^2}{n}}, \\qquad z = \\Phi^{-1}\\left(\\tfrac{1 + \\mathrm{confidence}}{2}\\right).

It equals ``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")`` (tested).

k fold models of the same true accuracy p still differ, from the sampling of their test folds
alone: fold i's accuracy has sd ``sigma_i = sqrt(p (1 - p) / n_i)``. The expected range (max - min)
of k independent normals of common mean and sds sigma_i is

.. math::

    E[\\max - \\min] = \\int_{-\\infty}^{\\infty}
        \\Big(1 - \\prod_i F_i(x) - \\prod_i (1 - F_i(x))\\Big)\\,dx,

(from ``E[X] = ∫_0^∞ P(X > x) dx - ∫_{-∞}^0 P(X ≤ x) dx`` applied to the max and the min), which for
equal sds is Tippett's ``d_2(k) sigma`` (``d_2(2) = 2 / sqrt(pi) ≈ 1.128``, ``d_2(5) ≈ 2.326``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np

_GRID = 4001
"""Points of the trapezoid rule over ±10 of the largest sd (relative error below 1e-6)."""


def wilson_interval(successes: int, n: int, confidence: float) -> tuple[float, float]:
    """The Wilson score interval of ``successes / n`` at ``confidence`` (in (0, 1)).

    >>> low, high = wilson_interval(8, 10, 0.95)
    >>> round(low, 4), round(high, 4)
    (0.4902, 0.9433)
    """
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(f"successes must be in [0, n] with n >= 1, got {successes} of {n}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    z = NormalDist().inv_cdf((1 + confidence) / 2)
    p = successes / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    scale = 1 + z * z / n
    return max(0.0, (centre - half) / scale), min(1.0, (centre + half) / scale)


def binomial_sd(p: float, n: int) -> float:
    """The sd ``sqrt(p (1 - p) / n)`` of a proportion of ``n`` trials of true rate ``p``."""
    return math.sqrt(p * (1 - p) / n)


def expected_range(sds: Sequence[float]) -> float:
    """``E[max - min]`` of independent normals of one mean and sds ``sds`` (module docstring).

    >>> round(expected_range([1.0, 1.0]), 4), round(expected_range([1.0] * 5), 3)
    (1.1284, 2.326)
    """
    sd = np.asarray(sds, dtype=np.float64)
    if sd.size < 2 or float(sd.max()) == 0.0:
        return 0.0
    x = np.linspace(-10 * sd.max(), 10 * sd.max(), _GRID)
    cdf = np.ones((sd.size, x.size))
    live = sd > 0
    cdf[live] = 0.5 * (1 + _erf(x[None, :] / (sd[live, None] * math.sqrt(2))))
    cdf[~live] = (x >= 0)[None, :]
    integrand = 1 - cdf.prod(axis=0) - (1 - cdf).prod(axis=0)
    return float(np.trapezoid(integrand, x))


def _erf(values: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf, otypes=[np.float64])(values)


__all__ = ["binomial_sd", "expected_range", "wilson_interval"]
