"""MeGe, ReCo and ReCo_AUC against hand-computed values and a brute-force loop over thresholds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from auditkit.errors import MetricInputError
from auditkit.metrics import mege, reco, reco_auc


def brute_force_j(s_eq: np.ndarray, s_neq: np.ndarray, form: str) -> list[float]:
    """TPR + TNR - 1 at every element of S (a multiset), one threshold at a time."""
    s = np.concatenate([s_eq, s_neq])
    out = []
    for gamma in s:
        eq_below = sum(1 for d in s_eq if d <= gamma)
        neq_above = sum(1 for d in s_neq if d > gamma)
        if form == "youden":
            tpr = eq_below / len(s_eq)
            tnr = neq_above / len(s_neq)
        else:
            below = sum(1 for d in s if d <= gamma)
            above = sum(1 for d in s if d > gamma)
            tpr = eq_below / below
            tnr = neq_above / above if above else 0.0
        out.append(tpr + tnr - 1.0)
    return out


def test_mege_by_hand() -> None:
    assert mege([0.2, 0.4]) == pytest.approx(1 / 1.3)
    assert mege(torch.zeros(5)) == 1.0
    assert mege(np.ones(3)) == pytest.approx(0.5)


@pytest.mark.parametrize("form", ["youden", "as_printed"])
@pytest.mark.parametrize("seed", range(6))
def test_reco_and_auc_match_brute_force(seed: int, form: str) -> None:
    rng = np.random.default_rng(seed)
    n_eq, n_neq = rng.integers(1, 60, size=2)
    # Rounded to 1 decimal: many ties inside and across the two sets.
    s_eq = np.round(rng.beta(2, 5, n_eq), 1)
    s_neq = np.round(rng.beta(5, 2, n_neq), 1)
    j = brute_force_j(s_eq, s_neq, form)
    assert reco(s_eq, s_neq, form=form) == pytest.approx(max(j), abs=1e-12)
    assert reco_auc(s_eq, s_neq, form=form) == pytest.approx(np.mean(j), abs=1e-12)


def test_reco_perfect_separation_is_one() -> None:
    assert reco([0.0, 0.1, 0.2], [0.3, 0.9]) == 1.0


def test_reco_same_distribution_is_about_zero() -> None:
    gen = torch.Generator().manual_seed(0)
    s = torch.rand(40_000, generator=gen, dtype=torch.float64)
    value = reco(s[:20_000], s[20_000:])
    assert 0.0 <= value < 0.03


def test_reco_inverted_separation_is_zero() -> None:
    """S= all above S≠: no threshold helps; the best is γ = max S with J = 0."""
    assert reco([0.8, 0.9], [0.1, 0.2]) == 0.0


def test_reco_ties_across_sets() -> None:
    # γ=0.5 counts both 0.5s below: TPR = 1, TNR = 1/2 -> J = 0.5; γ=0.1: TPR 1/2, TNR 1 -> 0.5
    assert reco([0.1, 0.5], [0.5, 0.9]) == pytest.approx(0.5)
    assert reco_auc([0.1, 0.5], [0.5, 0.9]) == pytest.approx((0.5 + 0.5 + 0.5 + 0.0) / 4)


def test_printed_form_depends_on_accuracy_youden_does_not() -> None:
    """Duplicating S= (a more accurate predictor, same explanations) moves only the printed form."""
    s_eq = np.array([0.1, 0.3, 0.5, 0.7])
    s_neq = np.array([0.4, 0.6, 0.8])
    more_eq = np.tile(s_eq, 10)
    assert reco(s_eq, s_neq) == pytest.approx(reco(more_eq, s_neq))
    assert reco(s_eq, s_neq, form="as_printed") != pytest.approx(
        reco(more_eq, s_neq, form="as_printed")
    )


def test_reco_scale_one_million_runs() -> None:
    gen = torch.Generator().manual_seed(1)
    s_eq = torch.rand(500_000, generator=gen) * 0.8
    s_neq = torch.rand(500_000, generator=gen) * 0.8 + 0.2
    # Uniform on [0, .8] vs [.2, 1]: best γ = 0.2 gives TPR .25, TNR 1 -> J = .25... at γ in
    # [.2, .8] J = γ/.8 + (1 - (γ - .2)/.8) - 1 = .25 constant, so ReCo ≈ 0.25.
    assert reco(s_eq, s_neq) == pytest.approx(0.25, abs=0.01)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: mege([]), "s_eq is empty"),
        (lambda: mege([0.1, float("nan")]), "NaN"),
        (lambda: mege([0.1, -0.2]), "negative"),
        (lambda: mege([[0.1]]), "1-D"),
        (lambda: mege(["a"]), "1-D array of distances"),
        (lambda: reco([], [0.1]), "s_eq is empty"),
        (lambda: reco([0.1], []), "s_neq is empty.*ReCo is undefined"),
        (lambda: reco_auc([0.1], []), "s_neq is empty"),
        (lambda: reco([0.1], [float("inf")]), "infinite"),
        (lambda: reco([0.1], [-1.0]), "negative"),
        (lambda: reco([0.1], [0.2], form="printed"), "form must be one of"),
    ],
)
def test_errors(call, match: str) -> None:
    with pytest.raises(MetricInputError, match=match):
        call()
