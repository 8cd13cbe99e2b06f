"""Whether a sampling budget suffices: the criterion of the audit's convergence checks.

A score S fed by a sampling estimator with budget b (integration steps, noisy copies, masks,
subsets, noise draws, resamples, permutations) carries a Monte-Carlo error that shrinks as b grows.
The check doubles the budget and measures how far the score moves,

.. math::

    \\Delta = |S(2b) - S(b)|,

and calls b *converged* when

.. math::

    \\Delta \\le \\mathrm{share} \\times (\\mathrm{high} - \\mathrm{low}),

``[low, high]`` the score's bootstrap interval over the audited images: the budget's own error is then
small beside the uncertainty the audit reports (``share = 0.5``: within half the interval's width).
For an estimator whose error is pure Monte-Carlo noise of variance ``sigma^2 / b``, with nested draws
(the 2b draws extend the b ones), ``S(2b) - S(b) = (S'(b) - S(b)) / 2`` has standard deviation
``sigma / sqrt(2 b)``: the probability of "converged" is ``2 Phi(share w sqrt(2 b) / sigma) - 1``
(tested). A systematic change with b (a smoother map with more samples, a smaller quadrature error)
moves Delta the same way and is caught alike.

Two budgets have closed forms instead of a second run:

- a permutation p-value from R draws is a binomial proportion: its standard error is
  ``sqrt(p (1 - p) / R)`` (:func:`p_value_error`); the decision it feeds, ``p < alpha``, is stable
  when that error is at most half of ``|p - alpha|``;
- the chance level E0 (mean of the R null draws) has standard error ``sd_0 / sqrt(R)``, which moves
  the corrected ReCo ``(ReCo - E0) / (1 - E0)`` by ``sd_0 / sqrt(R) (1 - ReCo) / (1 - E0)^2``
  (:func:`chance_level_error`).

The percentile interval's ends at B and 2B resamples are compared directly (:func:`ends_change`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from auditkit.errors import MetricInputError
from auditkit.metrics.bootstrap import percentile_interval

__all__ = ["BudgetVerdict", "budget_verdict", "chance_level_error", "ends_change", "p_value_error"]


@dataclass(frozen=True)
class BudgetVerdict:
    """The criterion applied to one score.

    Attributes:
        change: ``|S(2b) - S(b)|`` (or a closed-form error), score units; None where undefined.
        tolerance: ``share x (high - low)``; None without an interval.
        converged: ``change <= tolerance``; None where either is missing.
    """

    change: float | None
    tolerance: float | None
    converged: bool | None


def budget_verdict(change: float | None, interval: tuple[float, float] | None,
                   share: float) -> BudgetVerdict:
    """Whether ``change`` (score units) is within ``share`` of the width of ``interval`` ``(low, high)``.

    >>> budget_verdict(0.002, (0.60, 0.62), 0.5)
    BudgetVerdict(change=0.002, tolerance=0.01, converged=True)
    >>> budget_verdict(0.02, (0.60, 0.62), 0.5).converged, budget_verdict(0.02, None, 0.5).converged
    (False, None)
    """
    if not 0.0 < share <= 1.0:
        raise MetricInputError(f"share must be in (0, 1], got {share}")
    if change is not None and math.isnan(change):  # a score undefined at b or 2b
        change = None
    if change is not None and change < 0:
        raise MetricInputError(f"change must be >= 0, got {change}")
    tolerance = None if interval is None else round(share * (interval[1] - interval[0]), 15)
    judged = None if change is None or tolerance is None else change <= tolerance
    return BudgetVerdict(change, tolerance, judged)


def p_value_error(p_value: float, permutations: int) -> float:
    """Binomial standard error ``sqrt(p (1 - p) / R)`` of a permutation p-value from R draws.

    >>> round(p_value_error(0.05, 1000), 5)
    0.00689
    """
    if not 0.0 <= p_value <= 1.0 or permutations < 1:
        raise MetricInputError(f"need p in [0, 1] and permutations >= 1, got {p_value}, {permutations}")
    return math.sqrt(p_value * (1.0 - p_value) / permutations)


def chance_level_error(null_sd: float, permutations: int, observed: float, null_mean: float) -> float:
    """Standard error of the corrected ReCo due to its chance level E0 estimated from R draws:
    ``null_sd / sqrt(R) x (1 - ReCo) / (1 - E0)^2``.

    >>> round(chance_level_error(0.05, 100, 0.5, 0.2), 6)
    0.003906
    """
    if permutations < 1 or not null_mean < 1.0:
        raise MetricInputError(f"need permutations >= 1 and E0 < 1, got {permutations}, {null_mean}")
    return null_sd / math.sqrt(permutations) * abs(1.0 - observed) / (1.0 - null_mean) ** 2


def ends_change(resampled: torch.Tensor, budget: int, confidence: float) -> float:
    """Largest move of the percentile interval's ends from the first ``budget`` resampled values to
    all of them (``resampled``: ``Tensor[R]``, the first ``budget`` the audit's own, NaN undefined).

    >>> values = torch.tensor([0.0, 1.0, 2.0, 3.0, 10.0, 11.0, 12.0, 13.0])
    >>> ends_change(values, 4, 0.5)  # [0.75, 2.25] -> [1.75, 11.25]
    9.0
    """
    if not 0 < budget <= resampled.numel():
        raise MetricInputError(f"budget must be in [1, {resampled.numel()}], got {budget}")
    first = percentile_interval(resampled[:budget], confidence)
    every = percentile_interval(resampled, confidence)
    return max(abs(every.low - first.low), abs(every.high - first.high))
