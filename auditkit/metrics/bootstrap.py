"""Bootstrap confidence intervals for the audit's scores, resampling the audited images.

A resample draws N images with replacement; every distance of an image (all its k - 1 pairs) goes
with it, so the dependence between the pairs of one image is kept. A resample is a vector of
multiplicities ``w[n]`` (how many times image n was drawn), and each score is written as a
weighted version of its formula, evaluated for a block of resamples at once:

- MeGe: ``1 / (1 + Σ_n w_n s_n / Σ_n w_n c_n)`` with s_n, c_n the sum and count of image n's S=
  distances;
- ReCo and ReCo_AUC: the distances are sorted once; the weighted cumulative counts of S= and S≠
  along that order give TPR and TNR at every threshold for all resamples of a block;
- a mean of per-image values (muF, accuracy): ``Σ w_n v_n / Σ w_n``, NaN values skipped.

A resample on which a score is undefined (no S= or no S≠ distance drawn) is dropped and counted.
The interval is the percentile interval of the resampled values.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from auditkit._batching import batch_slices
from auditkit._validation import check_int
from auditkit.errors import MetricInputError
from auditkit.metrics.stability import RECO_FORMS

__all__ = [
    "Interval",
    "bootstrap_mean",
    "bootstrap_mege",
    "bootstrap_reco",
    "percentile_interval",
    "resample_weights",
]

# Resamples evaluated together: bounds the [block, n_distances] work arrays.
_BLOCK_ELEMENTS = 1 << 24


@dataclass(frozen=True)
class Interval:
    """A percentile bootstrap interval.

    Attributes:
        low: lower bound.
        high: upper bound.
        confidence: nominal coverage, e.g. 0.95.
        resamples: resamples on which the score was defined and that entered the interval.
        dropped: resamples on which the score was undefined.
    """

    low: float
    high: float
    confidence: float
    resamples: int
    dropped: int


def resample_weights(
    n_images: int, resamples: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Multiplicities ``Tensor[resamples, n_images]`` (float64): each row draws n_images images
    with replacement, ``torch.randint`` in row order from ``generator``."""
    check_int(n_images, "n_images", minimum=1)
    check_int(resamples, "resamples", minimum=1)
    draws = torch.randint(0, n_images, (resamples, n_images), generator=generator)
    weights = torch.zeros((resamples, n_images), dtype=torch.float64)
    return weights.scatter_add_(1, draws, torch.ones_like(weights))


def percentile_interval(values: torch.Tensor, confidence: float, dropped: int = 0) -> Interval:
    """Percentile interval of the defined (non-NaN) resampled ``values``."""
    if not 0.0 < confidence < 1.0:
        raise MetricInputError(f"confidence must be in (0, 1), got {confidence}")
    defined = values[~torch.isnan(values)]
    dropped += int(values.numel() - defined.numel())
    if defined.numel() == 0:
        raise MetricInputError("the score is undefined on every bootstrap resample")
    alpha = (1.0 - confidence) / 2.0
    q = torch.quantile(defined.double(), torch.tensor([alpha, 1.0 - alpha], dtype=torch.float64))
    return Interval(float(q[0]), float(q[1]), confidence, int(defined.numel()), dropped)


def _check_weights(weights: torch.Tensor, n_images: int) -> torch.Tensor:
    if weights.dim() != 2 or weights.shape[1] != n_images:
        raise MetricInputError(
            f"weights must be [resamples, {n_images}] multiplicities, got {tuple(weights.shape)}"
        )
    return weights.double()


def bootstrap_mean(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Weighted mean of per-image ``values[N]`` for each resample; NaN values are skipped.

    ``values`` may also be ``[N, P]``: P per-image quantities averaged at once (one product).

    Returns ``Tensor[R]`` (``[R, P]``); NaN where a resample drew no image with a defined value.
    """
    weights = _check_weights(weights, values.shape[0] if values.dim() else 1)
    v = values.double().reshape(weights.shape[1], -1)
    defined = ~torch.isnan(v)
    num = weights @ torch.where(defined, v, 0.0)
    den = weights @ defined.double()
    mean = torch.where(den > 0, num / den.clamp_min(1e-300), torch.nan)
    return mean.reshape(weights.shape[0], *values.shape[1:])


def bootstrap_mege(
    distances: torch.Tensor, in_s_eq: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """MeGe (eq. 5) on each resample.

    Args:
        distances: ``[N, P]``: the P distances of each image (P = k - 1 pairs).
        in_s_eq: bool ``[N, P]``: which distances belong to S=.
        weights: ``[R, N]`` image multiplicities from :func:`resample_weights`.
    Returns:
        ``Tensor[R]``; NaN where a resample holds no S= distance.
    """
    weights = _check_weights(weights, distances.shape[0])
    member = in_s_eq.double()
    total = weights @ (distances.double() * member).sum(dim=1)
    count = weights @ member.sum(dim=1)
    return torch.where(count > 0, 1.0 / (1.0 + total / count.clamp_min(1e-300)), torch.nan)


def bootstrap_reco(
    distances: torch.Tensor, category: torch.Tensor, weights: torch.Tensor, form: str = "youden"
) -> tuple[torch.Tensor, torch.Tensor]:
    """ReCo (eq. 6) and ReCo_AUC (appendix D) on each resample, in either form of :func:`reco`.

    Args:
        distances: ``[N, P]`` distances of each image's pairs.
        category: int ``[N, P]``: 1 for S=, 2 for S≠, 0 for ignored pairs (both predictions wrong).
        weights: ``[R, N]`` image multiplicities.
        form: ``"youden"`` or ``"as_printed"``.
    Returns:
        ``(reco[R], reco_auc[R])``; NaN where a resample holds no S= or no S≠ distance.
    """
    if form not in RECO_FORMS:
        raise MetricInputError(f"form must be one of {RECO_FORMS}, got {form!r}")
    weights = _check_weights(weights, distances.shape[0])
    keep = category > 0
    image = torch.arange(distances.shape[0]).unsqueeze(1).expand_as(distances)[keep]
    values = distances[keep].double()
    is_eq = (category[keep] == 1).double()
    values, order = torch.sort(values, stable=True)
    image, is_eq = image[order], is_eq[order]
    _, counts = torch.unique_consecutive(values, return_counts=True)
    last = torch.cumsum(counts, 0) - 1
    reco_out = torch.empty(weights.shape[0], dtype=torch.float64)
    auc_out = torch.empty(weights.shape[0], dtype=torch.float64)
    block = max(1, _BLOCK_ELEMENTS // max(1, values.numel()))
    for rows in batch_slices(weights.shape[0], block):
        w = weights[rows][:, image]  # [r, M] weight of each sorted distance
        w_eq = w * is_eq
        cum_all = torch.cumsum(w, dim=1)[:, last]
        cum_eq = torch.cumsum(w_eq, dim=1)[:, last]
        n_eq = w_eq.sum(dim=1, keepdim=True)
        n_neq = w.sum(dim=1, keepdim=True) - n_eq
        defined = (n_eq[:, 0] > 0) & (n_neq[:, 0] > 0)
        neq_above = n_neq - (cum_all - cum_eq)
        if form == "youden":
            tpr = cum_eq / n_eq.clamp_min(1e-300)
            tnr = neq_above / n_neq.clamp_min(1e-300)
        else:
            all_above = cum_all[:, -1:] - cum_all
            tpr = cum_eq / cum_all.clamp_min(1e-300)
            tnr = torch.where(all_above > 0, neq_above / all_above.clamp_min(1e-300), 0.0)
        j = tpr + tnr - 1.0
        group_weight = torch.diff(cum_all, dim=1, prepend=torch.zeros_like(cum_all[:, :1]))
        auc = (j * group_weight).sum(dim=1) / cum_all[:, -1].clamp_min(1e-300)
        # Only thresholds drawn in this resample are candidates for the maximum.
        best = torch.where(group_weight > 0, j, -torch.inf).amax(dim=1)
        reco_out[rows] = torch.where(defined, best, torch.nan)
        auc_out[rows] = torch.where(defined, auc, torch.nan)
    return reco_out, auc_out
