"""The convergence criterion and its closed forms against estimators whose error is known."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import integrate, stats

from auditkit.errors import MetricInputError
from auditkit.metrics.chance import reco_chance
from auditkit.metrics.convergence import budget_verdict, chance_level_error, ends_change, p_value_error


@pytest.mark.parametrize(("width", "expected"), [(0.4, 0.9545), (0.2, 0.6827)])
def test_the_criterion_on_a_mean_of_b_draws(width: float, expected: float) -> None:
    """S(b) = mean of b N(0, 1) draws, S(2b) extends them: S(2b) - S(b) ~ N(0, 1 / (2b)), so with
    share 0.5 the verdict is "converged" with probability 2 Phi(0.5 width sqrt(2b)) - 1."""
    b, trials = 50, 4000
    assert 2 * stats.norm.cdf(0.5 * width * math.sqrt(2 * b)) - 1 == pytest.approx(expected, abs=1e-4)
    draws = torch.randn(trials, 2 * b, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    change = (draws.mean(dim=1) - draws[:, :b].mean(dim=1)).abs()
    converged = [budget_verdict(float(c), (0.3, 0.3 + width), 0.5).converged for c in change]
    share = sum(converged) / trials
    assert abs(share - expected) < 4 * math.sqrt(expected * (1 - expected) / trials)


def test_the_criterion_on_a_systematic_error() -> None:
    """A quadrature-like error c / b: the change b -> 2b is c / (2b), converged once below the tolerance."""
    c, interval = 0.3, (0.5, 0.52)  # tolerance 0.01: converged from b = 15 on
    verdicts = {b: budget_verdict(abs(c / (2 * b) - c / b), interval, 0.5) for b in (10, 14, 15, 60)}
    assert [v.converged for v in verdicts.values()] == [False, False, True, True]
    assert verdicts[15].tolerance == pytest.approx(0.01) and verdicts[15].change == pytest.approx(0.01)


def test_undetermined_and_refused() -> None:
    assert budget_verdict(None, (0.0, 1.0), 0.5).converged is None
    assert budget_verdict(math.nan, (0.0, 1.0), 0.5) == budget_verdict(None, (0.0, 1.0), 0.5)
    assert budget_verdict(0.1, None, 0.5).tolerance is None
    with pytest.raises(MetricInputError, match="share must be in"):
        budget_verdict(0.1, (0.0, 1.0), 0.0)
    with pytest.raises(MetricInputError, match="change must be >= 0"):
        budget_verdict(-0.1, (0.0, 1.0), 0.5)
    with pytest.raises(MetricInputError, match="budget must be in"):
        ends_change(torch.zeros(4), 5, 0.9)
    with pytest.raises(MetricInputError, match="p in"):
        p_value_error(1.5, 10)


@pytest.fixture(scope="module")
def reco_data() -> tuple[torch.Tensor, torch.Tensor]:
    """40 images, one pair each: S= distances slightly below S≠ ones (p about 0.1)."""
    gen = torch.Generator().manual_seed(1)
    category = torch.tensor([1] * 25 + [2] * 15)[:, None]
    distances = torch.rand(40, 1, generator=gen, dtype=torch.float64) + 0.12 * (category == 2)
    return distances, category


def test_p_value_and_chance_level_errors_are_those_of_repeated_permutations(reco_data) -> None:
    """Over 300 seeds of R = 100 permutations, the spread of ReCo's p-value and of its corrected
    value is the closed forms' sqrt(p (1 - p) / R) and sd_0 / sqrt(R) (1 - ReCo) / (1 - E0)^2, p,
    sd_0 and E0 taken from 20,000 permutations."""
    distances, category = reco_data
    truth = reco_chance(distances, category, 20000, torch.Generator().manual_seed(0))
    assert 0.03 < truth.p_value < 0.3
    runs = [reco_chance(distances, category, 100, torch.Generator().manual_seed(s)) for s in range(1, 301)]
    p_sd = float(torch.tensor([r.p_value for r in runs]).std())
    corrected_sd = float(torch.tensor([r.corrected for r in runs]).std())
    assert p_sd == pytest.approx(p_value_error(truth.p_value, 100), rel=0.15)
    assert corrected_sd == pytest.approx(
        chance_level_error(truth.null_sd, 100, truth.observed, truth.null_mean), rel=0.15)


def test_ends_change_is_the_monte_carlo_error_of_a_percentile() -> None:
    """For B normal resampled values, the alpha-quantile's standard error is sqrt(a (1 - a) / B) /
    phi(z_a); with 2B values extending the B, each end moves by N(0, se^2 / 2), and the largest of
    the two (independent) ends has mean se / sqrt(2) E[max(|Z1|, |Z2|)]."""
    b, trials, alpha = 400, 400, 0.025
    se = math.sqrt(alpha * (1 - alpha) / b) / stats.norm.pdf(stats.norm.ppf(alpha))
    max_abs, _ = integrate.quad(lambda t: 1 - (2 * stats.norm.cdf(t) - 1) ** 2, 0, math.inf)
    values = torch.randn(trials, 2 * b, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    moves = [ends_change(v, b, 1 - 2 * alpha) for v in values]
    assert sum(moves) / trials == pytest.approx(se / math.sqrt(2) * max_abs, rel=0.12)
