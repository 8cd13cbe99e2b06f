"""The trend test of the sanity checks against a slow per-resample loop with numpy.polyfit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from auditkit.errors import MetricInputError
from auditkit.metrics.trend import least_squares_slopes, trend_test

LEVELS = torch.tensor([0.0, 0.05, 0.1, 0.3], dtype=torch.float64)


def _scores(resamples: int, seed: int) -> torch.Tensor:
    """Scores that fall with the level on most resamples, plus noise: ``[R, 4]``."""
    g = torch.Generator().manual_seed(seed)
    drop = torch.randn(resamples, 1, generator=g, dtype=torch.float64) * 0.3 - 0.2
    return 0.8 + drop * LEVELS + 0.02 * torch.randn(resamples, 4, generator=g, dtype=torch.float64)


def test_slopes_match_polyfit_row_by_row() -> None:
    scores = _scores(200, 0)
    expected = [np.polyfit(LEVELS.numpy(), row, 1)[0] for row in scores.numpy()]
    np.testing.assert_allclose(least_squares_slopes(scores, LEVELS).numpy(), expected, rtol=1e-10)


def test_a_nan_score_leaves_its_resample_without_slope() -> None:
    scores = _scores(5, 1)
    scores[2, 3] = torch.nan
    slopes = least_squares_slopes(scores, LEVELS)
    assert torch.isnan(slopes[2]) and not torch.isnan(slopes[[0, 1, 3, 4]]).any()


@pytest.mark.parametrize("seed", [2, 3])
def test_trend_test_matches_a_slow_loop(seed: int) -> None:
    scores = _scores(300, seed)
    scores[7, 1] = torch.nan  # one undefined resample: left out of R_defined
    point = scores[0].clone()
    levels = LEVELS.numpy()
    slow = [np.polyfit(levels, row, 1)[0] for row in scores.numpy() if not np.isnan(row).any()]
    t = trend_test(point, scores, LEVELS, confidence=0.9)
    assert t.resamples == len(slow) == 299
    assert t.slope == pytest.approx(np.polyfit(levels, point.numpy(), 1)[0], rel=1e-10)
    assert t.p_value == (1 + sum(b >= 0 for b in slow)) / (1 + len(slow))
    assert t.low == pytest.approx(np.percentile(slow, 5), rel=1e-10)
    assert t.high == pytest.approx(np.percentile(slow, 95), rel=1e-10)
    assert 0 < t.p_value < 1


def test_p_value_floor_and_ceiling() -> None:
    falling = torch.tensor([[0.9, 0.8, 0.7, 0.1]] * 9, dtype=torch.float64)
    assert trend_test(falling[0], falling, LEVELS, 0.95).p_value == pytest.approx(1 / 10)
    flat = torch.full((9, 4), 0.5, dtype=torch.float64)  # slope 0 counts as "not falling"
    assert trend_test(flat[0], flat, LEVELS, 0.95).p_value == 1.0


def test_without_resamples_only_the_slope() -> None:
    t = trend_test(torch.tensor([0.9, 0.9, 0.8, 0.6]), None, LEVELS, 0.95)
    assert t.slope is not None and t.slope < 0
    assert (t.low, t.high, t.p_value, t.resamples) == (None, None, None, 0)
    undefined = torch.full((3, 4), torch.nan, dtype=torch.float64)
    assert trend_test(torch.tensor([0.9, 0.9, 0.8, 0.6]), undefined, LEVELS, 0.95).p_value is None


def test_undefined_point_has_no_slope() -> None:
    point = torch.tensor([0.9, torch.nan, 0.8, 0.6], dtype=torch.float64)
    assert trend_test(point, None, LEVELS, 0.95).slope is None


@pytest.mark.parametrize(
    ("scores", "levels", "match"),
    [
        (torch.zeros(3, 4), torch.tensor([0.0, 0.1, 0.1, 0.3]), r"levels must be strictly increasing"),
        (torch.zeros(3, 4), torch.tensor([0.0]), r"levels must be a 1-D tensor of at least 2 levels"),
        (torch.zeros(3, 3), LEVELS,
         r"scores must be \[resamples, 4\] \(one column per level\), got \(3, 3\)"),
        (torch.zeros(4), LEVELS, r"scores must be \[resamples, 4\]"),
    ],
)
def test_invalid_input_is_named(scores: torch.Tensor, levels: torch.Tensor, match: str) -> None:
    with pytest.raises(MetricInputError, match=match):
        least_squares_slopes(scores, levels)
