"""Significance (disjoint CIs), regressions and n/a cases of the score comparison."""

from __future__ import annotations

import pytest

from auditkit.history import ScoreChange, regressions, score_changes
from auditkit.results import Estimate


def summary(mege: tuple[float | None, float | None, float | None],
            explainer: str = "saliency") -> dict:
    value, low, high = mege
    return {"accuracy": {"value": 0.9, "ci_low": 0.8, "ci_high": 1.0},
            "explainers": {explainer: {"mege": {"value": value, "ci_low": low, "ci_high": high}}}}


@pytest.mark.parametrize(("a", "b", "significant", "regression"), [
    ((0.8, 0.7, 0.9), (0.5, 0.4, 0.6), True, True),     # disjoint, lower: a regression
    ((0.5, 0.4, 0.6), (0.8, 0.7, 0.9), True, False),    # disjoint, higher: an improvement
    ((0.8, 0.7, 0.9), (0.7, 0.6, 0.75), False, False),  # overlapping: not significant
    ((0.8, 0.7, 0.9), (0.6, 0.5, 0.7), False, False),   # touching bounds overlap
    ((0.8, None, None), (0.5, 0.4, 0.6), None, False),  # no CI on one side: n/a
    ((None, None, None), (0.5, 0.4, 0.6), None, False),  # undefined score: n/a
])
def test_significance_is_disjoint_intervals(a, b, significant, regression) -> None:
    change = score_changes(summary(a), summary(b))[1]
    assert change.label == "saliency mege"
    assert change.significant is significant
    assert change.regression is regression
    assert [c.label for c in regressions(summary(a), summary(b))] == \
        (["saliency mege"] if regression else [])


def test_scores_of_one_side_only_are_listed_without_change() -> None:
    changes = score_changes(summary((0.8, 0.7, 0.9)), summary((0.5, 0.4, 0.6), explainer="gradcam"))
    assert [(c.label, c.a is None, c.b is None) for c in changes] == [
        ("accuracy", False, False), ("saliency mege", False, True), ("gradcam mege", True, False)]
    assert changes[1].change is None and changes[1].significant is None


def test_to_dict() -> None:
    change = ScoreChange("saliency", "reco", Estimate(0.8, 0.7, 0.9), Estimate(0.5, 0.4, 0.6))
    assert change.to_dict() == {
        "explainer": "saliency", "metric": "reco",
        "a": {"value": 0.8, "ci_low": 0.7, "ci_high": 0.9},
        "b": {"value": 0.5, "ci_low": 0.4, "ci_high": 0.6},
        "change": pytest.approx(-0.3), "significant": True, "regression": True}
