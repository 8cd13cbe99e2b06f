"""ReCo's chance level: its permutation null distribution given the actual S= and S≠.

ReCo in its Youden form (:func:`~auditkit.metrics.reco`) is the one-sided two-sample
Kolmogorov-Smirnov statistic between S= and S≠,

.. math::

    \\mathrm{ReCo} = \\max_\\gamma \\; F_{S=}(\\gamma) - F_{S≠}(\\gamma) = D^+(S=, S≠),

so it is positive even when the two sets come from one distribution: the maximum over thresholds
picks up noise, the more so the smaller the smaller set. A ReCo is evidence of consistency only
when it stands above what this noise gives for the same set sizes.

The null hypothesis is "an explanation's distance says nothing about whether the two predictions
agree". Under it the S=/S≠/ignored labels of the pairs are exchangeable between images, so the null
draws permute the *rows* of the category table ``[N, k - 1]`` among the N images: the k - 1 pairs of an
image stay together (their distances share a map and are not independent), and |S=| and |S≠| are
exactly those observed. With R permutations (seeded),

.. math::

    E_0 = \\frac1R \\sum_r \\mathrm{ReCo}_r, \\qquad
    p = \\frac{1 + \\#\\{r : \\mathrm{ReCo}_r \\ge \\mathrm{ReCo}\\}}{1 + R}, \\qquad
    \\mathrm{ReCo}_{corrected} = \\frac{\\mathrm{ReCo} - E_0}{1 - E_0},

so the corrected ReCo is 0 at chance and 1 for perfect separation (every S= distance below every
S≠ distance), and negative below chance. The correction is the same affine map for the point
estimate and every bootstrap resample (:func:`corrected_reco`): E_0 is a property of the observed
set sizes, not re-estimated per resample.

All permutations of a block are evaluated at once: the distances are sorted once, and each
permutation only gathers the category of every sorted distance and takes cumulative counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from auditkit._batching import batch_slices
from auditkit._validation import check_int
from auditkit.errors import MetricInputError
from auditkit.metrics.stability import RECO_FORMS

__all__ = ["RecoChance", "corrected_reco", "image_permutations", "reco_chance", "reco_null"]

# Permutations evaluated together: bounds the [block, n_distances] work arrays.
_BLOCK_ELEMENTS = 1 << 23
# Permutations drawn together by reco_chance: bounds the [block, n_images] draws. It depends on the
# number of images only, so the same seed gives the same permutations for every explainer.
_DRAW_ELEMENTS = 1 << 22


@dataclass(frozen=True)
class RecoChance:
    """ReCo against its permutation null.

    Attributes:
        observed: ReCo on the actual sets.
        null_mean: E_0, the mean ReCo over the permutations (the chance level).
        null_sd: standard deviation of the null draws; the Monte-Carlo error of ``null_mean`` is
            ``null_sd / sqrt(permutations)``.
        null_q95: 95% quantile of the null draws: a ReCo below it is not distinguishable from chance
            at the 5% level.
        p_value: one-sided permutation p-value of "S= and S≠ are not separated".
        corrected: ``(observed - null_mean) / (1 - null_mean)``.
        permutations: R.
    """

    observed: float
    null_mean: float
    null_sd: float
    null_q95: float
    p_value: float
    corrected: float
    permutations: int


def image_permutations(n_images: int, permutations: int, generator: torch.Generator | None = None
                       ) -> torch.Tensor:
    """``Tensor[permutations, n_images]`` (int32): each row a uniform random permutation of the
    images, the ``argsort`` of ``torch.rand`` rows drawn from ``generator`` in blocks of
    ``2^22 // n_images`` rows (so the draws depend on the seed and the sizes only).

    Draw them once and pass them to every :func:`reco_chance` of an audit: the same permutations
    for every explainer and level, and no sort repeated."""
    check_int(n_images, "n_images", minimum=1)
    check_int(permutations, "permutations", minimum=1)
    return torch.cat([
        torch.argsort(torch.rand((rows.stop - rows.start, n_images), generator=generator), dim=1)
        .to(torch.int32)
        for rows in batch_slices(permutations, max(1, _DRAW_ELEMENTS // n_images))
    ])


def _check(distances: torch.Tensor, category: torch.Tensor, form: str) -> None:
    if form not in RECO_FORMS:
        raise MetricInputError(f"form must be one of {RECO_FORMS}, got {form!r}")
    if distances.dim() != 2 or category.shape != distances.shape:
        raise MetricInputError(f"distances and category must both be [N, P], got "
                               f"{tuple(distances.shape)} and {tuple(category.shape)}")
    if not bool(torch.isfinite(distances).all()) or bool((distances < 0).any()):
        raise MetricInputError("distances must be finite and >= 0 (every pair's, ignored ones "
                               "included: a permutation may move any pair into S= or S≠)")
    n_eq, n_neq = int((category == 1).sum()), int((category == 2).sum())
    if n_eq == 0 or n_neq == 0:
        raise MetricInputError(f"ReCo's chance level needs S= and S≠ non-empty, got |S=| = {n_eq}, "
                               f"|S≠| = {n_neq}")


def reco_null(distances: torch.Tensor, category: torch.Tensor, perms: torch.Tensor,
              form: str = "youden") -> torch.Tensor:
    """ReCo (eq. 6) after giving image n the category row of image ``perms[r, n]``, for every r.

    Args:
        distances: ``[N, P]`` distances of each image's P = k - 1 pairs.
        category: int ``[N, P]``: 1 for S=, 2 for S≠, 0 for ignored pairs.
        perms: ``[R, N]`` permutations of the images (:func:`image_permutations`); the identity
            gives the observed ReCo.
        form: ``"youden"`` or ``"as_printed"``, as :func:`~auditkit.metrics.reco`.
    Returns:
        ``Tensor[R]`` float64.

    >>> d = torch.tensor([[0.1], [0.2], [0.8], [0.9]])
    >>> c = torch.tensor([[1], [1], [2], [2]])
    >>> reco_null(d, c, torch.tensor([[0, 1, 2, 3], [2, 3, 0, 1]])).tolist()
    [1.0, 0.0]
    """
    _check(distances, category, form)
    n, p = distances.shape
    if perms.dim() != 2 or perms.shape[1] != n:
        raise MetricInputError(f"perms must be [R, {n}], got {tuple(perms.shape)}")
    values, order = torch.sort(distances.reshape(-1).double(), stable=True)
    _, counts = torch.unique_consecutive(values, return_counts=True)
    last = torch.cumsum(counts, 0) - 1
    n_eq, n_neq = float((category == 1).sum()), float((category == 2).sum())
    # Youden: J(γ) = |S= <= γ| / |S=| - |S≠ <= γ| / |S≠|, one cumulative sum of per-pair weights.
    # Taking the maximum over every tie group, not only those holding an S or S≠ distance, changes
    # nothing: a group of ignored pairs repeats the J of the group before it (0 before the first).
    weight = torch.tensor([0.0, 1.0 / n_eq, -1.0 / n_neq], dtype=torch.float64)[category.long()]
    inside_tie = torch.ones(values.numel(), dtype=torch.bool)
    inside_tie[last] = False  # J is read at the end of each tie group only
    ties = bool(inside_tie.any())
    out = torch.empty(perms.shape[0], dtype=torch.float64)
    for rows in batch_slices(perms.shape[0], max(1, _BLOCK_ELEMENTS // max(1, values.numel()))):
        # Image n takes the category row of image perms[r, n]: gather whole rows, then put the
        # pairs in the sorted order of the distances (the same column order for every r).
        block = perms[rows].long()
        if form == "youden":
            j = torch.cumsum(weight[block].reshape(block.shape[0], n * p).index_select(1, order), dim=1)
            if ties:
                j.masked_fill_(inside_tie, -torch.inf)
            out[rows] = j.amax(dim=1)
            continue
        cat = category.long()[block].reshape(block.shape[0], n * p).index_select(1, order)
        eq_below = torch.cumsum(cat == 1, dim=1, dtype=torch.int32)[:, last].double()
        neq_below = torch.cumsum(cat == 2, dim=1, dtype=torch.int32)[:, last].double()
        in_s = torch.diff(eq_below + neq_below, dim=1, prepend=torch.zeros_like(eq_below[:, :1])) > 0
        below = eq_below + neq_below
        above = (n_eq + n_neq) - below
        tnr = torch.where(above > 0, (n_neq - neq_below) / above.clamp_min(1.0), 0.0)
        j = eq_below / below.clamp_min(1.0) + tnr - 1.0
        # Thresholds are the values of S = S= ∪ S≠ only, as in reco().
        out[rows] = torch.where(in_s, j, -torch.inf).amax(dim=1)
    return out


def corrected_reco(value: torch.Tensor | float, null_mean: float) -> torch.Tensor | float:
    """``(value - null_mean) / (1 - null_mean)``: 0 at chance, 1 for perfect separation.

    >>> round(corrected_reco(0.55, 0.1), 12)
    0.5
    """
    if not null_mean < 1.0:
        raise MetricInputError(f"the chance level of ReCo is {null_mean}: every permutation separates "
                               "S= from S≠ perfectly, so no ReCo can stand above chance")
    return (value - null_mean) / (1.0 - null_mean)


def reco_chance(distances: torch.Tensor, category: torch.Tensor, permutations: int,
                generator: torch.Generator | None = None, form: str = "youden", *,
                perms: torch.Tensor | None = None) -> RecoChance:
    """ReCo of ``(distances, category)`` against ``permutations`` seeded image-level permutations.

    ``perms`` (from :func:`image_permutations`, ``[permutations, N]``) are used when given;
    otherwise they are drawn from ``generator``: the same seed gives the same draws.

    Raises:
        MetricInputError: S= or S≠ empty, NaN or negative distances in them, ``permutations < 1``.

    >>> d = torch.tensor([[0.1], [0.2], [0.8], [0.9]])
    >>> c = torch.tensor([[1], [1], [2], [2]])
    >>> r = reco_chance(d, c, 200, torch.Generator().manual_seed(0))
    >>> r.observed, r.corrected == 1.0, r.p_value < 0.3
    (1.0, True, True)
    """
    _check(distances, category, form)
    check_int(permutations, "permutations", minimum=1)
    n = distances.shape[0]
    identity = torch.arange(n)[None, :]
    observed = float(reco_null(distances, category, identity, form)[0])
    if perms is None:
        perms = image_permutations(n, permutations, generator)
    elif tuple(perms.shape) != (permutations, n):
        raise MetricInputError(f"perms must be [{permutations}, {n}], got {tuple(perms.shape)}")
    null = reco_null(distances, category, perms, form)
    null_mean = float(null.mean())
    return RecoChance(
        observed=observed,
        null_mean=null_mean,
        null_sd=float(null.std()) if permutations > 1 else 0.0,
        null_q95=float(torch.quantile(null, 0.95)),
        p_value=(1.0 + float((null >= observed - 1e-12).sum())) / (1.0 + permutations),
        corrected=float(corrected_reco(observed, null_mean)),
        permutations=permutations,
    )
