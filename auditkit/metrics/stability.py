"""MeGe and ReCo: the algorithmic-stability measures of Fel et al. (WACV 2022), eq. 5 and 6.

Both take the two sets of distances that the k-fold cross-training of Algorithm 1 produces:
``s_eq`` (S=, both predictors right) and ``s_neq`` (S≠, exactly one predictor right).
"""

from __future__ import annotations

from typing import Any, Literal

import torch

from auditkit._validation import as_distance_vector
from auditkit.errors import MetricInputError

__all__ = ["balanced_accuracy_curve", "mege", "reco", "reco_auc"]

RecoForm = Literal["youden", "as_printed"]
RECO_FORMS: tuple[str, ...] = ("youden", "as_printed")


def mege(s_eq: Any) -> float:
    """Mean generalisability, eq. 5: ``MeGe = 1 / (1 + mean(S=))``.

    Args:
        s_eq: 1-D distances of S= (finite, >= 0).
    Returns:
        MeGe in (0, 1]; 1 when every pair of correct predictions has identical explanations.
    Raises:
        MetricInputError: S= empty (no pair of correct predictions: MeGe is undefined), or a
            NaN, infinite or negative distance.

    >>> mege([0.0, 0.5, 1.0])
    0.6666666666666666
    """
    s = as_distance_vector(s_eq, "s_eq")
    return float(1.0 / (1.0 + s.to(torch.float64).mean()))


def balanced_accuracy_curve(
    s_eq: Any, s_neq: Any, form: RecoForm = "youden"
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """TPR(γ) + TNR(γ) - 1 at every distinct threshold γ of S = S= ∪ S≠.

    One sort of S, cumulative counts, and ties at γ grouped (a threshold counts every distance
    ``<= γ`` as "below"), so the cost is O(|S| log |S|).

    Args:
        s_eq: 1-D distances of S=.
        s_neq: 1-D distances of S≠.
        form: ``"youden"`` (default) or ``"as_printed"``, see :func:`reco`.
    Returns:
        ``(thresholds, j, multiplicity)``: the distinct values γ of S in increasing order, the
        value of TPR + TNR - 1 at each, and how many elements of S equal each γ (float64).
    """
    eq = as_distance_vector(s_eq, "s_eq").to(torch.float64)
    neq = as_distance_vector(s_neq, "s_neq", allow_empty=True).to(device=eq.device, dtype=torch.float64)
    if neq.numel() == 0:
        raise MetricInputError(
            "s_neq is empty: no image has exactly one correct prediction among its pairs, so "
            "there is nothing to separate S= from and ReCo is undefined (not 0, not 1). "
            "Audit more images or a model that makes mistakes on held-out data."
        )
    if form not in RECO_FORMS:
        raise MetricInputError(f"form must be one of {RECO_FORMS}, got {form!r}")
    values = torch.cat([eq, neq])
    is_eq = torch.cat([torch.ones_like(eq), torch.zeros_like(neq)])
    values, order = torch.sort(values, stable=True)
    is_eq = is_eq[order]
    thresholds, counts = torch.unique_consecutive(values, return_counts=True)
    last = torch.cumsum(counts, 0) - 1  # index of the last element of each tie group
    eq_below = torch.cumsum(is_eq, 0)[last]  # |{S= <= γ}|
    all_below = (last + 1).to(torch.float64)  # |{S <= γ}|
    neq_below = all_below - eq_below
    n_eq, n_neq = float(eq.numel()), float(neq.numel())
    neq_above = n_neq - neq_below  # |{S≠ > γ}|
    if form == "youden":
        tpr = eq_below / n_eq
        tnr = neq_above / n_neq
    else:
        all_above = (n_eq + n_neq) - all_below
        tpr = eq_below / all_below
        # 0/0 above the largest threshold: nothing lies above it, so no negative is found.
        tnr = torch.where(all_above > 0, neq_above / all_above.clamp_min(1.0), 0.0)
    return thresholds, tpr + tnr - 1.0, counts.to(torch.float64)


def reco(s_eq: Any, s_neq: Any, form: RecoForm = "youden") -> float:
    """Relative consistency, eq. 6: ``ReCo = max over γ in S of TPR(γ) + TNR(γ) - 1``.

    With the default ``form="youden"``, the rates are class-conditional (Youden's J, the maximal
    balanced accuracy the paper's text names, and what its authors' library computes)::

        TPR(γ) = |{δ in S= : δ <= γ}| / |S=|      TNR(γ) = |{δ in S≠ : δ > γ}| / |S≠|

    Eq. 6 as printed divides by the number of distances below and above γ instead,
    ``TPR = |{S= <= γ}| / |{S <= γ}|`` and ``TNR = |{S≠ > γ}| / |{S > γ}|``: precisions rather than
    rates, which depend on the share of S= in S and therefore on the predictors' accuracy, the very
    thing ReCo is meant to be independent of. ``form="as_printed"`` computes it for comparison;
    above the largest γ nothing remains, and that 0/0 TNR is taken as 0.

    The maximum is exact over every threshold γ in S (ties grouped), computed in O(|S| log |S|).

    Args:
        s_eq: 1-D distances of S= (both predictors right).
        s_neq: 1-D distances of S≠ (exactly one right).
        form: ``"youden"`` or ``"as_printed"``.
    Returns:
        ReCo in [0, 1] for ``"youden"`` (γ = max S gives J = 0, so ReCo >= 0; 1 iff every S=
        distance lies below every S≠ distance).
    Raises:
        MetricInputError: S= or S≠ empty (ReCo has nothing to separate), NaN, infinite or
            negative distances, or an unknown form.

    >>> reco([0.1, 0.2], [0.8, 0.9])
    1.0
    """
    _, j, _ = balanced_accuracy_curve(s_eq, s_neq, form)
    return float(j.max())


def reco_auc(s_eq: Any, s_neq: Any, form: RecoForm = "youden") -> float:
    """Area under the balanced-accuracy curve, appendix D: ``mean over γ in S of TPR + TNR - 1``.

    S is taken as the multiset of all |S| = |S=| + |S≠| distances, as the formula's ``1/|S|``
    says: a value that occurs several times is counted that many times (ties share one J).

    >>> reco_auc([0.1, 0.2], [0.8, 0.9])
    0.5
    """
    _, j, counts = balanced_accuracy_curve(s_eq, s_neq, form)
    return float((j * counts).sum() / counts.sum())
