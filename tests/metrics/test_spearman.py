"""spearman_distance and pairwise_spearman_distance against scipy.stats.spearmanr, pair by pair."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import rankdata, spearmanr

from auditkit.errors import MetricInputError
from auditkit.metrics import (
    average_ranks,
    constant_maps,
    pairwise_spearman_distance,
    spearman_distance,
)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def scipy_distance(a: np.ndarray, b: np.ndarray) -> float:
    rho = spearmanr(a.ravel(), b.ravel()).statistic
    return 1.0 - abs(rho)


def make_maps(kind: str, shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    if kind == "random":
        return torch.randn(shape, generator=gen, dtype=torch.float64)
    if kind == "ties":  # few distinct values: ties everywhere
        return torch.randint(0, 4, shape, generator=gen).to(torch.float64)
    if kind == "relu":  # a third or more of exact zeros, as Grad-CAM / ReLU maps have
        return torch.relu(torch.randn(shape, generator=gen, dtype=torch.float64) - 0.4)
    raise ValueError(kind)


def test_average_ranks_match_scipy_rankdata() -> None:
    gen = torch.Generator().manual_seed(0)
    values = torch.randint(0, 5, (20, 33), generator=gen).to(torch.float64)
    expected = np.stack([rankdata(row) - 1 for row in values.numpy()])
    np.testing.assert_allclose(average_ranks(values).numpy(), expected)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("kind", ["random", "ties", "relu"])
def test_spearman_distance_matches_scipy(kind: str, channels: int, dtype, device: str) -> None:
    # A fixed seed per case (``hash`` of a str changes with every process): a failure reproduces.
    seed = 100 * ["random", "ties", "relu"].index(kind) + channels
    gen = torch.Generator().manual_seed(seed)
    a = make_maps(kind, (25, channels, 7, 6), gen)
    b = make_maps(kind, (25, channels, 7, 6), gen)
    b[:5] = a[:5] * 2.0 + 1.0  # monotone transform: distance 0
    b[5:8] = -a[5:8]  # reversed ranking: |rho| = 1, distance 0
    got = spearman_distance(a.to(dtype).to(device), b.to(dtype).to(device))
    assert got.device.type == device
    assert got.shape == (25,)
    expected = [scipy_distance(x, y) for x, y in zip(a.numpy(), b.numpy(), strict=True)]
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    np.testing.assert_allclose(got.cpu().double().numpy(), expected, atol=tol)


def test_ordinal_ranks_would_be_wrong_on_plateaus() -> None:
    """The reason for average ranks: on ReLU maps ordinal ranks give a visibly different value."""
    gen = torch.Generator().manual_seed(3)
    a = make_maps("relu", (1, 64), gen)
    b = make_maps("relu", (1, 64), gen)
    ordinal = [np.argsort(np.argsort(m.numpy().ravel(), kind="stable")) for m in (a, b)]
    wrong = 1 - abs(np.corrcoef(*ordinal)[0, 1])
    right = spearman_distance(a, b).item()
    assert right == pytest.approx(scipy_distance(a.numpy(), b.numpy()), abs=1e-12)
    assert abs(wrong - right) > 0.01


def test_constant_maps_rule() -> None:
    a = torch.tensor([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0], [1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    b = torch.tensor([[1.0, 1.0, 1.0], [3.0, 3.0, 3.0], [5.0, 5.0, 5.0], [0.0, 1.0, 0.0]])
    got = spearman_distance(a, b)
    torch.testing.assert_close(got, torch.tensor([0.0, 1.0, 1.0, 1.0]))
    assert not torch.isnan(got).any()
    assert constant_maps(a).tolist() == [True, True, False, True]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", ["random", "ties", "relu"])
def test_pairwise_matches_scipy_every_pair(kind: str, device: str) -> None:
    gen = torch.Generator().manual_seed(7)
    maps = make_maps(kind, (6, 4, 3, 5, 5), gen)
    maps[0, 2] = maps[0, 0] * 3.0  # identical ranking
    maps[1, 1] = 0.5  # a constant map
    maps[1, 3] = 0.5  # the same constant map: identical
    maps[2, 0] = 0.0  # another constant map
    got = pairwise_spearman_distance(maps.float().to(device)).cpu().double().numpy()
    assert got.shape == (6, 4, 4)
    for n in range(6):
        for i in range(4):
            for j in range(4):
                x, y = maps[n, i].numpy(), maps[n, j].numpy()
                if i == j or np.array_equal(x, y):
                    expected = 0.0
                elif np.ptp(x) == 0 or np.ptp(y) == 0:
                    expected = 1.0
                else:
                    expected = scipy_distance(x, y)
                assert got[n, i, j] == pytest.approx(expected, abs=1e-5), (n, i, j)


def test_pairwise_agrees_with_pair_function() -> None:
    gen = torch.Generator().manual_seed(11)
    maps = make_maps("relu", (10, 5, 1, 8, 8), gen)
    pairwise = pairwise_spearman_distance(maps)
    for i in range(5):
        for j in range(5):
            if i != j:
                torch.testing.assert_close(pairwise[:, i, j], spearman_distance(maps[:, i], maps[:, j]))


@pytest.mark.parametrize(
    ("a", "b", "match"),
    [
        (torch.zeros(3, 4), torch.zeros(3, 5), "same shape"),
        (torch.zeros(0, 4), torch.zeros(0, 4), "empty"),
        (torch.tensor([[1.0, float("nan")]]), torch.ones(1, 2), "NaN"),
        (torch.tensor([[1.0, float("inf")]]), torch.ones(1, 2), "NaN or infinite"),
        ([[1.0, 2.0]], torch.ones(1, 2), "torch.Tensor"),
    ],
)
def test_spearman_distance_errors(a, b, match: str) -> None:
    with pytest.raises(MetricInputError, match=match):
        spearman_distance(a, b)


@pytest.mark.parametrize(
    ("maps", "match"),
    [
        (torch.zeros(3, 4), "at least 3 dimensions"),
        (torch.full((2, 3, 4), float("nan")), "NaN"),
        (torch.zeros(0, 3, 4), "empty"),
    ],
)
def test_pairwise_errors(maps, match: str) -> None:
    with pytest.raises(MetricInputError, match=match):
        pairwise_spearman_distance(maps)
