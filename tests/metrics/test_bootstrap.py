"""Bootstrap scores against a slow loop that rebuilds each resample and calls the plain metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from auditkit.errors import MetricInputError
from auditkit.metrics import mege, reco, reco_auc
from auditkit.metrics.bootstrap import (
    bootstrap_mean,
    bootstrap_mege,
    bootstrap_reco,
    percentile_interval,
    resample_weights,
)


def fake_audit(n: int = 40, pairs: int = 4, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    distances = torch.round(torch.rand(n, pairs, generator=gen) * 20) / 20  # ties
    category = torch.randint(0, 3, (n, pairs), generator=gen)
    return distances, category


def resampled_sets(distances, category, w_row):
    reps = w_row.long()
    d = distances.repeat_interleave(reps, dim=0)
    c = category.repeat_interleave(reps, dim=0)
    return d[c == 1], d[c == 2]


def test_weights_are_multiplicities() -> None:
    w = resample_weights(30, 50, torch.Generator().manual_seed(0))
    assert w.shape == (50, 30)
    assert (w.sum(dim=1) == 30).all()
    assert (w == w.round()).all()


@pytest.mark.parametrize("form", ["youden", "as_printed"])
@pytest.mark.parametrize("seed", range(3))
def test_against_slow_loop(seed: int, form: str) -> None:
    distances, category = fake_audit(seed=seed)
    w = resample_weights(distances.shape[0], 25, torch.Generator().manual_seed(seed))
    got_mege = bootstrap_mege(distances, category == 1, w)
    got_reco, got_auc = bootstrap_reco(distances, category, w, form=form)
    for r in range(w.shape[0]):
        s_eq, s_neq = resampled_sets(distances, category, w[r])
        assert got_mege[r].item() == pytest.approx(mege(s_eq), abs=1e-12)
        assert got_reco[r].item() == pytest.approx(reco(s_eq, s_neq, form=form), abs=1e-12)
        assert got_auc[r].item() == pytest.approx(reco_auc(s_eq, s_neq, form=form), abs=1e-12)


def test_undefined_resamples_are_nan_and_dropped() -> None:
    distances = torch.tensor([[0.1], [0.9]])
    category = torch.tensor([[1], [2]])
    w = torch.tensor([[2.0, 0.0], [1.0, 1.0], [0.0, 2.0]])
    reco_r, _ = bootstrap_reco(distances, category, w)
    assert math.isnan(reco_r[0]) and reco_r[1] == 1.0 and math.isnan(reco_r[2])
    mege_r = bootstrap_mege(distances, category == 1, w)
    assert math.isnan(mege_r[2]) and mege_r[0] == pytest.approx(1 / 1.1)
    interval = percentile_interval(reco_r, 0.95)
    assert (interval.low, interval.high, interval.resamples, interval.dropped) == (1.0, 1.0, 1, 2)


def test_mean_skips_nan() -> None:
    values = torch.tensor([1.0, float("nan"), 3.0])
    w = torch.tensor([[1.0, 1.0, 1.0], [0.0, 3.0, 0.0], [0.0, 1.0, 2.0]])
    got = bootstrap_mean(values, w)
    assert got[0] == 2.0 and math.isnan(got[1]) and got[2] == 3.0


def test_percentile_matches_numpy() -> None:
    values = torch.randn(1001, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    interval = percentile_interval(values, 0.9)
    low, high = np.quantile(values.numpy(), [0.05, 0.95])
    assert (interval.low, interval.high) == pytest.approx((low, high))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: percentile_interval(torch.tensor([float("nan")]), 0.95), "undefined on every"),
        (lambda: percentile_interval(torch.tensor([1.0]), 1.5), "confidence"),
        (lambda: bootstrap_mean(torch.ones(3), torch.ones(2, 4)), "weights must be"),
        (lambda: resample_weights(0, 5), "n_images must be >= 1"),
    ],
)
def test_errors(call, match: str) -> None:
    with pytest.raises(MetricInputError, match=match):
        call()
