"""The agreement between methods against scipy.stats.spearmanr and hand-computed top-k overlaps."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from auditkit.errors import MetricInputError
from auditkit.metrics.agreement import chance_top_k, pairwise_agreement, top_k_count, top_k_sets
from auditkit.metrics.bootstrap import bootstrap_mean, percentile_interval, resample_weights


def _maps(kind: str, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    if kind == "ties":  # few distinct values, signs mixed: ties in the ranks and in |map|
        return torch.randint(-3, 4, shape, generator=gen).to(torch.float64)
    if kind == "relu":  # plateaus of exact zeros, as Grad-CAM maps have
        return torch.relu(torch.randn(shape, generator=gen, dtype=torch.float64) - 0.4)
    return torch.randn(shape, generator=gen, dtype=torch.float64)


def _brute_top_k(row: np.ndarray, k: int) -> set[int]:
    """The k features of largest |value|, ties to the lower index, by a plain sort."""
    return set(sorted(range(row.size), key=lambda i: (-abs(row[i]), i))[:k])


@pytest.mark.parametrize("kind", ["random", "ties", "relu"])
def test_rank_agreement_is_abs_spearman_of_scipy(kind: str) -> None:
    maps = _maps(kind, (6, 4, 3, 5), seed=1)  # 6 images, 4 methods, 3 x 5 pixels
    rank, _ = pairwise_agreement(maps, 3)
    for n, a, b in itertools.product(range(6), range(4), range(4)):
        x, y = maps[n, a].numpy().ravel(), maps[n, b].numpy().ravel()
        if a == b:
            expected = 1.0
        elif np.ptp(x) == 0 or np.ptp(y) == 0:  # a constant map: the audit's convention
            expected = float(np.array_equal(x, y))
        else:
            expected = abs(spearmanr(x, y).statistic)
        assert float(rank[n, a, b]) == pytest.approx(expected, abs=1e-9), (n, a, b)


@pytest.mark.parametrize("kind", ["random", "ties", "relu"])
@pytest.mark.parametrize("k", [1, 4, 15])
def test_top_k_agreement_is_the_brute_force_overlap(kind: str, k: int) -> None:
    maps = _maps(kind, (5, 3, 15), seed=2)
    _, top = pairwise_agreement(maps, k)
    for n, a, b in itertools.product(range(5), range(3), range(3)):
        x, y = maps[n, a].numpy(), maps[n, b].numpy()
        if np.ptp(x) == 0 or np.ptp(y) == 0:
            expected = float(np.array_equal(x, y))
        else:
            expected = len(_brute_top_k(x, k) & _brute_top_k(y, k)) / k
        assert float(top[n, a, b]) == pytest.approx(expected), (n, a, b, k)


def test_top_k_by_hand_with_ties_k1_and_all() -> None:
    a = torch.tensor([[0.0, -5.0, 2.0, 2.0, 1.0]])
    b = torch.tensor([[2.0, 0.0, -2.0, 1.0, 3.0]])
    # |a| = 0 5 2 2 1 -> top 1 {1}, top 2 {1, 2} (the tie 2 = 2 goes to index 2), top 3 {1, 2, 3}
    # |b| = 2 0 2 1 3 -> top 1 {4}, top 2 {4, 0} (tie 2 = 2 goes to index 0), top 3 {4, 0, 2}
    assert top_k_sets(a, 2).nonzero()[:, 1].tolist() == [1, 2]
    assert top_k_sets(b, 2).nonzero()[:, 1].tolist() == [0, 4]
    maps = torch.stack([a, b], dim=1)  # [1, 2, 5]
    expected = {1: 0.0, 2: 0.0, 3: 1 / 3, 4: 3 / 4, 5: 1.0}  # top 4: {1,2,3,4} & {4,0,2,3} = {2,3,4}
    for k, value in expected.items():
        assert float(pairwise_agreement(maps, k)[1][0, 0, 1]) == pytest.approx(value), k


def test_identical_maps_agree_fully_and_a_constant_map_follows_the_convention() -> None:
    maps = _maps("ties", (4, 1, 2, 6), seed=3).expand(4, 3, 2, 6).clone()
    rank, top = pairwise_agreement(maps, 5)
    assert torch.allclose(rank, torch.ones_like(rank)) and torch.equal(top, torch.ones_like(top))
    maps[:, 2] = 0.0  # a blank map: agreement 0 with a non-constant one, 1 with another blank one
    maps[0, 0] = 0.0
    rank, top = pairwise_agreement(maps, 5)
    assert top[1, 0, 2] == 0 and rank[1, 0, 2] == 0
    assert top[0, 0, 2] == 1 and rank[0, 0, 2] == 1


def test_a_negated_map_ranks_the_same_features() -> None:
    a = _maps("random", (3, 1, 40), seed=4)
    rank, top = pairwise_agreement(torch.cat([a, -a], dim=1), 7)
    assert torch.allclose(rank[:, 0, 1], torch.ones(3, dtype=rank.dtype)) and torch.all(top[:, 0, 1] == 1)


def test_top_k_of_independent_random_maps_is_near_chance() -> None:
    maps = _maps("random", (4000, 2, 50), seed=5)
    k = top_k_count(0.1, 50)
    _, top = pairwise_agreement(maps, k)
    # Mean overlap k/D; the sd of the mean of 4000 hypergeometric overlaps / k is about 0.003.
    assert float(top[:, 0, 1].mean()) == pytest.approx(chance_top_k(k, 50), abs=0.012)


def test_k_from_a_fraction() -> None:
    assert [top_k_count(f, 64) for f in (0.001, 0.1, 0.5, 1.0)] == [1, 6, 32, 64]
    assert top_k_count(0.1, 784) == 78 and top_k_count(0.25, 10) == 3  # 2.5 rounds half up


@pytest.mark.parametrize(("call", "message"), [
    (lambda: top_k_count(0.0, 10), "fraction must be in"),
    (lambda: top_k_count(1.5, 10), "fraction must be in"),
    (lambda: top_k_sets(torch.ones(2, 4), 5), r"k must be in \[1, 4\]"),
    (lambda: pairwise_agreement(torch.ones(2, 3), 1), "at least 3 dimensions"),
    (lambda: pairwise_agreement(torch.full((1, 2, 3), float("nan")), 1), "NaN"),
])
def test_nonsense_is_refused(call, message: str) -> None:
    with pytest.raises(MetricInputError, match=message):
        call()


def test_all_pairs_bootstrap_at_once_is_seeded_and_holds_the_point() -> None:
    values = _maps("random", (30, 3), seed=6).abs()  # 3 pairs' per-image agreement
    weights = resample_weights(30, 500, torch.Generator().manual_seed(7))
    boot = bootstrap_mean(values, weights)
    assert boot.shape == (500, 3)
    for p in range(3):  # one product for all pairs equals one per pair
        assert torch.allclose(boot[:, p], bootstrap_mean(values[:, p], weights))
        interval = percentile_interval(boot[:, p], 0.95)
        assert interval.low <= float(values[:, p].mean()) <= interval.high
    again = bootstrap_mean(values, resample_weights(30, 500, torch.Generator().manual_seed(7)))
    assert torch.equal(boot, again)
