"""Spearman rank distance between attribution maps, batched on the maps' device.

The distance of Fel et al. (WACV 2022, section 4.1 and appendix F) between two explanations of the
same image is

.. math::

    d(\\phi, \\phi') = 1 - |\\rho(\\phi, \\phi')|

where :math:`\\rho` is Spearman's rank correlation: Pearson's correlation of the ranks, with tied
values given the average of the ranks they span (the convention of ``scipy.stats.spearmanr``).
Average ranks matter: Grad-CAM and ReLU maps have large plateaus of exact zeros, and ordinal ranks
(an argsort of an argsort) break those ties arbitrarily, which moves the distance by up to ~0.1.

A constant map has no ranking, and :math:`\\rho` is 0/0 for any pair that contains one. auditkit
defines the distance of such a *degenerate* pair as 0 when both maps are element-wise identical
(two identical constant maps) and 1 otherwise (nothing in common can be measured), so the result
is never NaN. :func:`constant_maps` tells callers which maps are constant, so they can count the
degenerate pairs.
"""

from __future__ import annotations

import torch

from auditkit._batching import batch_slices
from auditkit.errors import MetricInputError

__all__ = ["average_ranks", "constant_maps", "pairwise_spearman_distance", "spearman_distance"]


def _check_maps(maps: torch.Tensor, name: str, min_dim: int) -> torch.Tensor:
    if not isinstance(maps, torch.Tensor):
        raise MetricInputError(f"{name} must be a torch.Tensor, got {type(maps).__name__}")
    if maps.dim() < min_dim:
        raise MetricInputError(
            f"{name} must have at least {min_dim} dimensions, got shape {tuple(maps.shape)}"
        )
    if not maps.is_floating_point():
        maps = maps.to(torch.float32)
    if maps.numel() == 0:
        raise MetricInputError(f"{name} is empty (shape {tuple(maps.shape)})")
    if not bool(torch.isfinite(maps).all()):
        raise MetricInputError(f"{name} contains NaN or infinite values")
    return maps


def average_ranks(values: torch.Tensor) -> torch.Tensor:
    """Rank each row of ``values`` [M, D], ties given their average rank (0-based).

    One sort per row; then each run of equal values gets a group id (a cumulative sum of the run
    starts), the start position of every group is scattered into a table, and an element's rank is
    the mean of its group's first and last positions. No Python loop. Equal to
    ``scipy.stats.rankdata(row) - 1`` per row.

    >>> average_ranks(torch.tensor([[3.0, 1.0, 3.0, 2.0]]))
    tensor([[2.5000, 0.0000, 2.5000, 1.0000]])
    """
    m, d = values.shape
    sorted_vals, order = torch.sort(values, dim=1)
    starts = torch.ones((m, d), dtype=torch.bool, device=values.device)
    torch.ne(sorted_vals[:, 1:], sorted_vals[:, :-1], out=starts[:, 1:])
    group = starts.cumsum(dim=1) - 1  # group id of each sorted element
    pos = torch.arange(d, device=values.device).expand(m, d)
    # first[g] = position where group g starts; first[n_groups] = d; column d + 1 absorbs
    # the writes of non-start elements.
    first = torch.full((m, d + 2), d, dtype=torch.long, device=values.device)
    first.scatter_(1, torch.where(starts, group, d + 1), pos)
    dtype = values.dtype if values.dtype == torch.float64 else torch.float32
    group_rank = (first[:, :-2] + first[:, 1:-1] - 1).to(dtype) * 0.5  # (first + last) / 2
    avg = group_rank.gather(1, group)
    return torch.empty_like(avg).scatter_(1, order, avg)


_CHUNK_ELEMENTS = 1 << 20  # rows are ranked in chunks of about 1M values: cache-sized, ~2x faster


def _standardised_ranks(flat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Ranks of each row [M, D] centred and scaled to unit norm, and which rows are constant."""
    m, d = flat.shape
    dtype = flat.dtype if flat.dtype == torch.float64 else torch.float32
    z = torch.empty((m, d), dtype=dtype, device=flat.device)
    constant = torch.empty(m, dtype=torch.bool, device=flat.device)
    for rows in batch_slices(m, max(1, _CHUNK_ELEMENTS // d)):
        ranks = average_ranks(flat[rows])
        ranks -= ranks.mean(dim=1, keepdim=True)
        norm = ranks.norm(dim=1, keepdim=True)
        constant[rows] = norm.squeeze(1) == 0
        torch.div(ranks, norm.clamp_min(torch.finfo(dtype).tiny), out=z[rows])
    return z, constant


def constant_maps(maps: torch.Tensor, sample_dims: int = 1) -> torch.Tensor:
    """Which maps are constant (and so have no ranking).

    Args:
        maps: tensor whose first ``sample_dims`` dimensions index maps, e.g. ``[N, ...]`` with
            ``sample_dims=1`` or ``[N, k, ...]`` with ``sample_dims=2``.
    Returns:
        bool tensor of shape ``maps.shape[:sample_dims]``.

    >>> constant_maps(torch.tensor([[1.0, 1.0], [0.0, 2.0]]))
    tensor([ True, False])
    """
    flat = maps.flatten(start_dim=sample_dims)
    return flat.amax(dim=-1) == flat.amin(dim=-1)


def spearman_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Distance ``1 - |rho|`` between N pairs of maps, rho = Spearman with average ranks.

    Args:
        a: maps of shape ``[N, ...]`` (any trailing shape, flattened per sample).
        b: maps of the same shape as ``a``.
    Returns:
        ``Tensor[N]`` of distances in [0, 1], on the maps' device. A pair with a constant map
        gets 0 if both maps are identical and 1 otherwise (see the module docstring).

    >>> a = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    >>> spearman_distance(a, torch.tensor([[3.0, 2.0, 1.0], [1.0, 3.0, 2.0]])).round(decimals=6)
    tensor([0.0000, 0.5000])
    """
    a = _check_maps(a, "a", 1)
    b = _check_maps(b, "b", 1)
    if a.shape != b.shape:
        raise MetricInputError(
            f"a and b must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    n = a.shape[0]
    flat = torch.cat([a.reshape(n, -1), b.reshape(n, -1)]).to(torch.promote_types(a.dtype, b.dtype))
    z, constant = _standardised_ranks(flat)
    rho = (z[:n] * z[n:]).sum(dim=1)
    dist = (1.0 - rho.abs()).clamp_(0.0, 1.0)
    degenerate = constant[:n] | constant[n:]
    identical = (flat[:n] == flat[n:]).all(dim=1)
    fallback = torch.where(identical, 0.0, 1.0).to(dist.dtype)
    return torch.where(degenerate, fallback, dist)


def pairwise_spearman_distance(maps: torch.Tensor) -> torch.Tensor:
    """All k x k distances ``1 - |rho|`` between the k explanations of each of N images.

    Each map is ranked exactly once, its ranks are standardised, and an image's k x k Spearman
    correlations come from one batched Gram product, so the cost is N * k sorts plus one ``bmm``.

    Args:
        maps: ``[N, k, ...]``: the k fold models' explanations of the same N images.
    Returns:
        ``Tensor[N, k, k]`` of distances in [0, 1], symmetric, with a zero diagonal; degenerate
        (constant-map) pairs follow :func:`spearman_distance`.

    >>> maps = torch.tensor([[[1.0, 2.0, 3.0], [3.0, 2.0, 1.0], [1.0, 3.0, 2.0]]])
    >>> pairwise_spearman_distance(maps).round(decimals=6)
    tensor([[[0.0000, 0.0000, 0.5000],
             [0.0000, 0.0000, 0.5000],
             [0.5000, 0.5000, 0.0000]]])
    """
    maps = _check_maps(maps, "maps", 3)
    n, k = maps.shape[:2]
    flat = maps.reshape(n * k, -1)
    z, constant = _standardised_ranks(flat)
    z = z.view(n, k, -1)
    dist = (1.0 - torch.bmm(z, z.transpose(1, 2)).abs()).clamp_(0.0, 1.0)
    constant = constant.view(n, k)
    if bool(constant.any()):
        flat = flat.view(n, k, -1)
        degenerate = constant.unsqueeze(2) | constant.unsqueeze(1)
        # Two maps are identical only if both are constant with the same value, or neither is.
        first = flat[:, :, 0]
        identical = constant.unsqueeze(2) & constant.unsqueeze(1) & (first.unsqueeze(2) == first.unsqueeze(1))
        fallback = torch.where(identical, 0.0, 1.0).to(dist.dtype)
        dist = torch.where(degenerate, fallback, dist)
    dist.diagonal(dim1=1, dim2=2).zero_()
    return dist
