"""Agreement between explanation methods on the same images, batched on the maps' device.

Krishna et al. ("The Disagreement Problem in Explainable Machine Learning", 2022) compare two methods
a and b by the maps they give for the same input and the same model. For one image, with
:math:`\\phi_a, \\phi_b` the two maps flattened to their D features:

.. math::

    \\mathrm{rank}(\\phi_a, \\phi_b) = |\\rho(\\phi_a, \\phi_b)| = 1 - d(\\phi_a, \\phi_b)

    \\mathrm{top}_k(\\phi_a, \\phi_b) = |T_k(\\phi_a) \\cap T_k(\\phi_b)| \\, / \\, k

- rank agreement: Spearman's correlation exactly as the audit's distance d uses it
  (:mod:`auditkit.metrics.spearman`): tied values get their average rank (``scipy.stats.spearmanr``'s
  convention), the sign is dropped (a map and its negation rank the features alike), and a pair with a
  constant map gets 1 when both maps are identical, 0 otherwise.
- top-k feature agreement: :math:`T_k(\\phi)` is the set of the k features of largest
  :math:`|\\phi|`. Ties at the k-th place go to the feature of lower index (row-major order), so
  :math:`T_k` is a deterministic function of the map: a plateau of equal values (the zeros of a
  Grad-CAM map) fills :math:`T_k` in index order. A pair with a constant map follows the rank
  agreement's convention (1 when identical, 0 otherwise); both scores are then the same fixed value.
  Two independent random rankings share :math:`k / D` on average (:func:`chance_top_k`).

k is a fraction of the features (:func:`top_k_count`): ``round(fraction * D)``, at least 1.
"""

from __future__ import annotations

import torch

from auditkit.errors import MetricInputError
from auditkit.metrics.spearman import _check_maps, constant_maps, pairwise_spearman_distance

__all__ = ["chance_top_k", "pairwise_agreement", "top_k_count", "top_k_sets"]


def top_k_count(fraction: float, features: int) -> int:
    """k of the top-k agreement: ``fraction`` of ``features``, rounded half up, at least 1.

    >>> top_k_count(0.1, 64), top_k_count(0.1, 4), top_k_count(1.0, 64)
    (6, 1, 64)
    """
    if not 0.0 < fraction <= 1.0:
        raise MetricInputError(f"fraction must be in (0, 1], got {fraction}")
    if features < 1:
        raise MetricInputError(f"features must be >= 1, got {features}")
    return max(1, min(features, int(fraction * features + 0.5)))


def chance_top_k(k: int, features: int) -> float:
    """Expected top-k agreement of two independent uniformly random rankings of ``features``: k / D
    (the overlap of two random k-subsets is hypergeometric with mean k^2 / D).

    >>> chance_top_k(6, 64)
    0.09375
    """
    return k / features


def top_k_sets(maps: torch.Tensor, k: int) -> torch.Tensor:
    """Membership of the k features of largest ``|map|``, ties to the lower index.

    Args:
        maps: ``[M, D]`` maps, one per row.
        k: the set size, in [1, D].
    Returns:
        bool ``[M, D]``, k true values per row.

    >>> top_k_sets(torch.tensor([[0.0, -3.0, 1.0, 3.0]]), 2).tolist()
    [[False, True, False, True]]
    >>> top_k_sets(torch.tensor([[1.0, 1.0, 1.0, 0.5]]), 2).tolist()
    [[True, True, False, False]]
    """
    m, d = maps.shape
    if not 1 <= k <= d:
        raise MetricInputError(f"k must be in [1, {d}] (the number of features), got {k}")
    # A stable descending sort keeps equal values in index order.
    order = torch.sort(maps.abs(), dim=1, descending=True, stable=True).indices[:, :k]
    member = torch.zeros((m, d), dtype=torch.bool, device=maps.device)
    return member.scatter_(1, order, True)


def pairwise_agreement(maps: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rank and top-k agreement of every pair of the m methods' maps of each of N images.

    Every map is ranked and its top-k set taken once; each image's m x m matrices then come from
    one batched product each, so there is no loop over pairs.

    Args:
        maps: ``[N, m, ...]``: the maps of m methods for the same N images (trailing dimensions
            flattened into the D features).
        k: the top-k set size, in [1, D] (:func:`top_k_count`).
    Returns:
        ``(rank, top)``, each ``Tensor[N, m, m]`` in [0, 1], symmetric, 1 on the diagonal.

    A reversed ranking has rank agreement 1 (the sign is dropped) but shares none of the top 2:

    >>> maps = torch.tensor([[[1.0, 2.0, 3.0, 4.0], [4.0, 3.0, 2.0, 1.0], [1.0, 3.0, 2.0, 4.0]]])
    >>> rank, top = pairwise_agreement(maps.double(), 2)
    >>> rank[0].tolist(), top[0].tolist()
    ([[1.0, 1.0, 0.8], [1.0, 1.0, 0.8], [0.8, 0.8, 1.0]], [[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.5, 0.5, 1.0]])
    """
    maps = _check_maps(maps, "maps", 3)
    n, m = maps.shape[:2]
    flat = maps.reshape(n, m, -1)
    rank = 1.0 - pairwise_spearman_distance(flat)
    member = top_k_sets(flat.reshape(n * m, -1), k).view(n, m, -1).to(rank.dtype)
    top = torch.bmm(member, member.transpose(1, 2)) / k
    constant = constant_maps(flat, sample_dims=2)
    degenerate = constant.unsqueeze(2) | constant.unsqueeze(1)
    return rank, torch.where(degenerate, rank, top)
