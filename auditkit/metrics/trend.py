"""Does a score fall as a degradation grows? A one-sided bootstrap test on the least-squares slope.

For degradation levels ``x_1 < ... < x_L`` (``x_1 = 0``: the undegraded models) and a score measured
at each level, the trend is the ordinary least-squares slope

.. math::

    b = \\frac{\\sum_l (x_l - \\bar x)(y_l - \\bar y)}{\\sum_l (x_l - \\bar x)^2},

in score units per unit of degradation (the levels are fractions, so ``b = -1`` means one point of
score lost per percent of weights or labels degraded, times 100). The same slope is computed on every
bootstrap resample ``r`` (``y_{r,l}``: the score on resample r of level l; the resamples of all
levels draw the same images, so the slopes are paired), vectorised over the resamples. The
one-sided p-value of "the score does not fall" is

.. math::

    p = \\frac{1 + \\#\\{r : b_r \\ge 0\\}}{1 + R_{defined}},

with the +1 in numerator and denominator so that p is never 0 with finitely many resamples (the
usual Monte-Carlo p-value); a resample on which the score is undefined at some level (NaN) has no
slope and is left out of ``R_defined``. The interval is the percentile interval of the defined
``b_r``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from auditkit.errors import MetricInputError
from auditkit.metrics.bootstrap import percentile_interval

__all__ = ["Trend", "least_squares_slopes", "trend_test"]


@dataclass(frozen=True)
class Trend:
    """The slope of a score over the degradation levels, with its bootstrap interval and p-value.

    Attributes:
        slope: least-squares slope of the point estimates; None if a level's estimate is undefined.
        low, high: percentile interval of the resampled slopes (None without defined resamples).
        p_value: one-sided p-value of "the slope is not negative" (None without defined resamples).
        resamples: resamples with a slope (the score defined at every level).
        sd: standard deviation of the resampled slopes, the slope's standard error (None without
            defined resamples).
    """

    slope: float | None
    low: float | None
    high: float | None
    p_value: float | None
    resamples: int
    sd: float | None = None


def _check(scores: torch.Tensor, levels: torch.Tensor) -> None:
    if levels.dim() != 1 or levels.numel() < 2:
        raise MetricInputError(f"levels must be a 1-D tensor of at least 2 levels, got shape "
                               f"{tuple(levels.shape)}")
    if bool((levels.diff() <= 0).any()):
        raise MetricInputError(f"levels must be strictly increasing, got {levels.tolist()}")
    if scores.dim() != 2 or scores.shape[1] != levels.numel():
        raise MetricInputError(f"scores must be [resamples, {levels.numel()}] (one column per "
                               f"level), got {tuple(scores.shape)}")


def _slopes(scores: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    x = levels.double() - levels.double().mean()
    y = scores.double() - scores.double().mean(dim=1, keepdim=True)
    return (y @ x) / (x @ x)


def least_squares_slopes(scores: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Least-squares slope of each row of ``scores`` against ``levels``.

    Args:
        scores: ``[R, L]``: a score at each of L levels, for R resamples.
        levels: ``[L]`` strictly increasing levels.
    Returns:
        ``Tensor[R]`` float64; NaN for a row with a NaN score.

    >>> slopes = least_squares_slopes(torch.tensor([[1.0, 0.8, 0.6], [0.5, 0.5, 0.8]]),
    ...                               torch.tensor([0.0, 0.1, 0.2]))
    >>> [round(b, 4) for b in slopes.tolist()]
    [-2.0, 1.5]
    """
    _check(scores, levels)
    return _slopes(scores, levels)


def trend_test(
    point: torch.Tensor, resampled: torch.Tensor | None, levels: torch.Tensor, confidence: float
) -> Trend:
    """Slope of ``point [L]`` over ``levels [L]``; interval and p-value from ``resampled [R, L]``.

    ``resampled`` is None (no bootstrap) or has no row defined at every level: the slope alone is
    returned, with no interval and no p-value.

    >>> levels = torch.tensor([0.0, 0.1, 0.3])
    >>> boot = torch.tensor([[0.9, 0.8, 0.5], [0.9, 0.9, 0.6], [0.8, 0.8, 0.9]])
    >>> t = trend_test(torch.tensor([0.9, 0.85, 0.6]), boot, levels, 0.9)
    >>> round(t.slope, 4), t.p_value, t.resamples
    (-1.0357, 0.5, 3)
    """
    _check(point[None, :], levels)
    slope = float(_slopes(point[None, :], levels)[0])
    value = None if slope != slope else slope
    if resampled is None:
        return Trend(value, None, None, None, 0)
    _check(resampled, levels)
    slopes = _slopes(resampled, levels)
    defined = slopes[~torch.isnan(slopes)]
    if defined.numel() == 0:
        return Trend(value, None, None, None, 0)
    interval = percentile_interval(defined, confidence)
    p_value = (1.0 + float((defined >= 0).sum())) / (1.0 + defined.numel())
    sd = float(defined.std()) if defined.numel() > 1 else 0.0
    return Trend(value, interval.low, interval.high, p_value, int(defined.numel()), sd)
