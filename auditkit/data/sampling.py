"""Seeded stratified subsampling of a dataset."""

from __future__ import annotations

import torch

from auditkit.data._strata import class_major_order


def stratified_subsample(labels: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """Indices of ``n`` images drawn without replacement, stratified by label, in ascending order.

    Every class present gets at least one image (``n`` must be >= the number of classes present; the
    caller checks). The remaining places go to classes in proportion to their size: within a class the
    images are shuffled with ``torch.Generator().manual_seed(seed)`` and image number ``r`` (0-based) gets
    priority ``(r + 0.5) / class_size``; the ``n`` lowest priorities win (Sainte-Laguë apportionment).
    Ties (equal class sizes) go by the random shuffle, since the sort is stable over a shuffled order.

    Args:
        labels: ``Tensor[N]`` int64, non-negative.
        n: number of images to keep, ``1 <= n``; ``n >= N`` keeps every index.

    Returns:
        ``Tensor[min(n, N)]`` int64, sorted, so the kept images stay in their original order.
    """
    if n >= labels.numel():
        return torch.arange(labels.numel())
    order, rank = class_major_order(labels, torch.Generator().manual_seed(seed))
    sizes = torch.bincount(labels)[labels[order]].to(torch.float64)
    priority = torch.where(rank == 0, torch.full_like(sizes, -1.0), (rank + 0.5) / sizes)
    keep = order[torch.argsort(priority, stable=True)[:n]]
    return torch.sort(keep).values
