"""The pairs the plan expects: the closed form against a brute-force count, and its inverses."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from auditkit.cost.measurable import (
    ERROR_CORRELATION,
    expected_pairs,
    highest_accuracy,
    images_needed,
    measurability,
    pair_shares,
)
from auditkit.policy import policy_from_dict


def test_pair_shares_by_hand() -> None:
    assert pair_shares(0.9, 0.0) == pytest.approx((0.81, 0.18))
    assert pair_shares(0.9, 1.0) == pytest.approx((0.9, 0.0))  # models right on the same images
    assert pair_shares(1.0) == (1.0, 0.0) and pair_shares(0.0) == (0.0, 0.0)


def test_the_shares_are_those_of_two_correlated_bernoullis() -> None:
    """Brute force: the joint law of two Bernoulli(a) variables with correlation rho, its four cells
    summed over (both right) and (exactly one right)."""
    for a, rho in itertools.product((0.3, 0.7, 0.95), (0.0, 0.25, 0.5)):
        cov = rho * a * (1 - a)
        joint = {(1, 1): a * a + cov, (0, 0): (1 - a) ** 2 + cov, (1, 0): a * (1 - a) - cov,
                 (0, 1): a * (1 - a) - cov}
        assert sum(joint.values()) == pytest.approx(1.0)
        both = joint[(1, 1)]
        one = joint[(1, 0)] + joint[(0, 1)]
        assert pair_shares(a, rho) == pytest.approx((both, one))


def test_the_independent_case_matches_a_simulation() -> None:
    """With rho = 0, fold models right at random with probability a: the S≠ pairs of a simulated
    audit (each image's own model against each other one) average the closed form."""
    gen = torch.Generator().manual_seed(0)
    n, k, a = 4000, 4, 0.9
    right = torch.rand((n, k), generator=gen) < a
    own = right[:, 0:1]
    s_neq = int((own ^ right[:, 1:]).sum())
    assert s_neq == pytest.approx(n * (k - 1) * pair_shares(a, 0.0)[1], rel=0.05)


def test_images_needed_and_highest_accuracy_invert_the_expected_pairs() -> None:
    n = images_needed(30, 5, 0.99)
    assert expected_pairs(n, 5, 0.99)[1] >= 30 > expected_pairs(n - 1, 5, 0.99)[1]
    top = highest_accuracy(1797, 5, 30)
    assert expected_pairs(1797, 5, top)[1] == pytest.approx(30)
    assert images_needed(30, 5, 1.0) is None  # every model right: no pair disagrees
    assert highest_accuracy(20, 2, 30) is None  # 20 pairs can never hold 30
    # The demo: 52 S≠ pairs of 7,188 at accuracy 0.9928.
    assert 1 - ERROR_CORRELATION == pytest.approx(52 / (7188 * 2 * 0.9928 * 0.0072), abs=0.02)


def test_an_accurate_small_audit_is_warned_about() -> None:
    """The issue's case: 200 images of two classes, every fold right on all of them."""
    policy = policy_from_dict({"version": 1, "name": "small", "dataset": {"kind": "digits"},
                               "cross_validation": {"k": 5},
                               "explainers": [{"name": "saliency"}]})
    m = measurability(policy, 200, 0.5, accuracy=1.0)
    clean = m.levels[0]
    assert (clean.check, clean.s_eq, clean.s_neq) == ("clean", 800, 0)
    assert any(w.startswith("clean 0: about 0 S≠") for w in m.warnings())
    assert m.needed == ((1.0, None, 0.0),)
    text = "\n".join(m.lines())
    assert "no number of images gives S≠ pairs" in text
    # The weight-randomisation levels target a fraction of the way to chance: 1 - 0.25 x 0.5.
    wr = [p for p in m.levels if p.check == "weight_randomisation"]
    assert [p.accuracy for p in wr] == pytest.approx([0.875, 0.75, 0.625])
    assert not math.isnan(wr[0].s_neq) and wr[0].s_neq > 30
