"""ReCo's chance level against scipy's KS statistic, a slow loop over permutations, and known cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import ks_2samp

from auditkit.errors import MetricInputError
from auditkit.metrics import reco
from auditkit.metrics.chance import (
    corrected_reco,
    image_permutations,
    reco_chance,
    reco_null,
)


def _table(n: int, p: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random distances (with ties) and categories of n images with p pairs each."""
    g = torch.Generator().manual_seed(seed)
    d = torch.randint(0, 12, (n, p), generator=g).double() / 12
    c = torch.randint(0, 3, (n, p), generator=g)
    c[0, 0], c[1, 0] = 1, 2  # both sets non-empty
    return d, c


@pytest.mark.parametrize("seed", range(5))
def test_youden_reco_is_the_one_sided_ks_statistic(seed: int) -> None:
    rng = np.random.default_rng(seed)
    s_eq, s_neq = rng.random(300), rng.random(17) * 1.3
    expected = ks_2samp(s_eq, s_neq, alternative="greater").statistic
    assert reco(s_eq, s_neq) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("form", ["youden", "as_printed"])
@pytest.mark.parametrize("seed", range(4))
def test_null_matches_a_slow_loop_over_permutations(seed: int, form: str) -> None:
    d, c = _table(9, 3, seed)
    perms = image_permutations(9, 40, torch.Generator().manual_seed(seed))
    fast = reco_null(d, c, perms, form)
    for r in range(perms.shape[0]):
        permuted = c[perms[r]]  # image n gets the category row of image perms[r, n]
        slow = reco(d[permuted == 1], d[permuted == 2], form=form)
        assert fast[r].item() == pytest.approx(slow, abs=1e-12)


def test_identity_gives_the_observed_reco_and_ignored_pairs_do_not_count() -> None:
    d, c = _table(30, 4, 7)
    d[c == 0] = 5.0  # ignored pairs do not enter the observed ReCo
    observed = reco_null(d, c, torch.arange(30)[None, :])[0].item()
    assert observed == pytest.approx(reco(d[c == 1], d[c == 2]), abs=1e-12)


def test_permutation_p_value_is_the_monte_carlo_p_value() -> None:
    d, c = _table(40, 2, 3)
    result = reco_chance(d, c, 300, torch.Generator().manual_seed(5))
    null = reco_null(d, c, image_permutations(40, 300, torch.Generator().manual_seed(5)))
    assert result.p_value == pytest.approx((1 + int((null >= result.observed - 1e-12).sum())) / 301)
    assert result.null_mean == pytest.approx(float(null.mean()))
    assert result.null_q95 == pytest.approx(float(torch.quantile(null, 0.95)))


def _identical(n_eq: int, n_neq: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One pair per image, S= and S≠ drawn from the same distribution."""
    g = torch.Generator().manual_seed(seed)
    d = torch.rand((n_eq + n_neq, 1), generator=g, dtype=torch.float64)
    c = torch.cat([torch.ones(n_eq, 1), torch.full((n_neq, 1), 2.0)]).long()
    return d, c


@pytest.mark.parametrize(("n_eq", "n_neq"), [(300, 300), (700, 10)])
def test_identical_distributions_give_a_corrected_reco_near_zero(n_eq: int, n_neq: int) -> None:
    raw, corrected = [], []
    for seed in range(40):
        r = reco_chance(*_identical(n_eq, n_neq, seed), 100, torch.Generator().manual_seed(seed))
        raw.append(r.observed)
        corrected.append(r.corrected)
    assert abs(np.mean(corrected)) < 0.03
    if n_neq == 10:  # the raw ReCo is far from 0 there: the chance level is what corrects it
        assert np.mean(raw) > 0.15


def test_p_values_are_uniform_enough_under_the_null() -> None:
    ps = [reco_chance(*_identical(200, 20, s), 99, torch.Generator().manual_seed(100 + s)).p_value
          for s in range(80)]
    assert np.mean(np.array(ps) <= 0.05) <= 0.1  # a valid test: not rejecting far more than 5%
    assert 0.4 < np.mean(ps) < 0.6


def test_a_separable_case_gives_one() -> None:
    d = torch.tensor([[0.1, 0.2], [0.15, 0.8], [0.9, 0.05]])
    c = torch.tensor([[1, 1], [1, 2], [2, 1]])
    r = reco_chance(d, c, 500, torch.Generator().manual_seed(0))
    assert r.observed == 1.0 and r.corrected == 1.0
    assert r.null_mean < 1.0


def test_errors() -> None:
    d, c = _identical(5, 0, 0)
    with pytest.raises(MetricInputError, match="S≠"):
        reco_chance(d, c, 10)
    d, c = _identical(5, 3, 0)
    with pytest.raises(MetricInputError, match="permutations"):
        reco_chance(d, c, 0)
    with pytest.raises(MetricInputError, match=r"\[R, 8\]"):
        reco_null(d, c, torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(MetricInputError, match="chance level"):
        corrected_reco(0.5, 1.0)
    d[0, 0] = -1.0
    with pytest.raises(MetricInputError, match=">= 0"):
        reco_chance(d, c, 10)
