"""The agreement between the audited explainers, from the maps the explanation passes kept.

Each pass of the clean audit keeps, for a seeded sample of images
(:func:`~auditkit.engine.explain.input_sample`), the map of each image by its own fold model
(``DistanceRecord.own_maps``). Here the maps of every method are stacked and compared pair by pair
(:func:`~auditkit.metrics.agreement.pairwise_agreement`), with no new explanation: image i by
method a under fold model m(i) against image i by method b under the same model. Each pair's scores
are means over the sampled images, with a percentile bootstrap interval from the audit's shared
resamples restricted to the sample (as muF's), all pairs in one product.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from auditkit.catalog import names
from auditkit.engine.scoring import ExplainerScores
from auditkit.errors import MetricInputError
from auditkit.metrics.agreement import chance_top_k, pairwise_agreement, top_k_count
from auditkit.metrics.bootstrap import bootstrap_mean, percentile_interval
from auditkit.metrics.spearman import constant_maps
from auditkit.results import Agreement, AgreementPair, Estimate

PAIR_SCORES: tuple[str, ...] = names(scope="pair")
"""The pair metrics of the catalog, in report order: ``rank_agreement``, ``agreement`` (top-k)."""

__all__ = ["PAIR_SCORES", "agreement_scores"]


def agreement_scores(
    explainers: Mapping[str, ExplainerScores],
    sample: torch.Tensor,
    weights: torch.Tensor | None,
    *,
    top_k: float,
    confidence: float,
) -> Agreement | None:
    """Rank and top-k agreement of every pair of ``explainers`` (in their order), or None for fewer
    than two or no kept maps.

    Args:
        explainers: the clean audit's scores, each holding its ``own_maps`` ``[M, H, W]``.
        sample: ``[M]`` the audited images the maps are of (:func:`~auditkit.engine.explain.input_sample`).
        weights: ``[R, N]`` the audit's bootstrap resamples (None: no intervals).
        top_k: k as a fraction of the features (``metrics.agreement.top_k``).
    """
    order = list(explainers)
    if len(order) < 2 or any(explainers[n].own_maps.numel() == 0 for n in order):
        return None
    maps = torch.stack([explainers[n].own_maps for n in order], dim=1)  # [M, m, H, W]
    images, features = maps.shape[0], maps[0, 0].numel()
    k = top_k_count(top_k, features)
    rank, top = pairwise_agreement(maps, k)
    first, second = torch.triu_indices(len(order), len(order), offset=1)
    values = {"rank_agreement": rank[:, first, second], "agreement": top[:, first, second]}  # [M, P]
    resampled = {m: None if weights is None else bootstrap_mean(v, weights[:, sample])
                 for m, v in values.items()}
    constant = constant_maps(maps, sample_dims=2)
    degenerate = (constant[:, first] | constant[:, second]).sum(dim=0)
    pairs = tuple(
        AgreementPair(order[a], order[b], {
            m: _estimate(values[m][:, p], None if resampled[m] is None else resampled[m][:, p], confidence)
            for m in PAIR_SCORES}, int(degenerate[p]))
        for p, (a, b) in enumerate(zip(first.tolist(), second.tolist(), strict=True)))
    return Agreement(top_k, k, features, chance_top_k(k, features), images, pairs)


def _estimate(values: torch.Tensor, resampled: torch.Tensor | None, confidence: float) -> Estimate:
    """The mean of per-image ``values`` ``[M]`` (never NaN) with the percentile interval of its
    ``resampled`` means ``[R]`` (NaN where a resample drew none of the M images)."""
    value = float(values.double().mean())
    if resampled is None:
        return Estimate(value)
    try:
        interval = percentile_interval(resampled, confidence)
    except MetricInputError:  # no resample drew a sampled image: the point without interval
        return Estimate(value)
    return Estimate(value, interval.low, interval.high)
