"""Seeded within-class shuffling shared by stratified subsampling and fold making."""

from __future__ import annotations

import torch


def class_major_order(labels: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices grouped by class (ascending label), in random order within each class, and their ranks.

    Args:
        labels: ``Tensor[N]`` int64, non-negative.
        generator: the only source of randomness.

    Returns:
        ``(order, rank)``, both ``Tensor[N]`` int64: ``order`` lists dataset indices class by class;
        ``rank[j]`` is the position of ``order[j]`` within its class (0-based).
    """
    n = labels.numel()
    perm = torch.randperm(n, generator=generator)
    order = perm[torch.argsort(labels[perm], stable=True)]
    sorted_labels = labels[order]
    counts = torch.bincount(sorted_labels)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(n) - starts[sorted_labels]
    return order, rank
