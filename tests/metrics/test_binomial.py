"""The Wilson interval against scipy's, and the expected range of k fold accuracies."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from auditkit.metrics.binomial import binomial_sd, expected_range, wilson_interval


@pytest.mark.parametrize(("k", "n", "confidence"), [(8, 10, 0.95), (0, 40, 0.95), (40, 40, 0.9),
                                                     (5, 40, 0.99), (117, 1000, 0.95)])
def test_wilson_interval_is_scipys(k: int, n: int, confidence: float) -> None:
    ci = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    assert wilson_interval(k, n, confidence) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_wilson_interval_refuses_impossible_counts() -> None:
    with pytest.raises(ValueError, match="successes must be in"):
        wilson_interval(11, 10, 0.95)


def test_expected_range_matches_tippetts_constants_and_a_simulation() -> None:
    # d_2(k) of Tippett (1925) for k = 2..6, the expected range of k standard normals.
    for k, d2 in zip(range(2, 7), (1.1284, 1.6926, 2.0588, 2.3259, 2.5344), strict=True):
        assert expected_range([1.0] * k) == pytest.approx(d2, abs=1e-4)
    sds = [0.05, 0.07, 0.1]
    draws = np.random.default_rng(0).normal(0, sds, size=(200_000, 3))
    simulated = float((draws.max(axis=1) - draws.min(axis=1)).mean())
    assert expected_range(sds) == pytest.approx(simulated, rel=0.01)


def test_forty_image_folds_spread_by_more_than_a_tight_limit() -> None:
    # The case: 40-image folds of a 0.5-accurate model, sd about 0.079 each.
    sd = binomial_sd(0.5, 40)
    assert sd == pytest.approx(0.0791, abs=1e-4)
    assert expected_range([sd] * 4) == pytest.approx(2.0588 * sd, abs=1e-4)
