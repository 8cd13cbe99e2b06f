"""Stratified, seeded k-fold partition of a dataset."""

from __future__ import annotations

import torch

from auditkit._validation import check_int
from auditkit.data._args import check_labels
from auditkit.data._strata import class_major_order
from auditkit.data.errors import DatasetArgumentError, data_error


def make_folds(labels: torch.Tensor, k: int, seed: int) -> list[torch.Tensor]:
    """Split the indices ``0..N-1`` into ``k`` disjoint folds, stratified by label.

    Indices are shuffled within each class with ``torch.Generator().manual_seed(seed)``, the classes are
    concatenated, and position ``j`` of that sequence goes to fold ``j % k``. Each class thus occupies a
    run of consecutive positions, so its count per fold differs by at most one between folds, and so do
    the fold sizes (``k`` need not divide ``N``; the first ``N % k`` folds get one more). Same seed, same
    folds.

    Args:
        labels: ``Tensor[N]`` integer class indices.
        k: number of folds, ``2 <= k <= N``.
        seed: int >= 0.

    Returns:
        ``k`` sorted int64 tensors of dataset indices, together covering ``0..N-1`` once.

    Raises:
        DatasetArgumentError: bad ``k`` or ``seed``, or a class with fewer than ``k`` images (some fold
            would hold none of it, and a model trained without it cannot be compared with the others).

    >>> folds = make_folds(torch.tensor([0, 0, 1, 1, 1]), 2, seed=0)
    >>> sorted(torch.cat(folds).tolist()), [len(f) for f in folds]
    ([0, 1, 2, 3, 4], [3, 2])
    """
    labels = check_labels(labels)
    n = labels.numel()
    k = check_int(k, "k", minimum=2, error=data_error)
    if k > n:
        raise DatasetArgumentError(f"k must be <= the number of images ({n}), got {k}")
    seed = check_int(seed, "seed", minimum=0, error=data_error)
    counts = torch.bincount(labels)
    small = ((counts > 0) & (counts < k)).nonzero().flatten()
    if small.numel():
        c = int(small[0])
        raise DatasetArgumentError(
            f"class {c} has {int(counts[c])} image(s), fewer than k={k}: some fold would miss it entirely; "
            f"lower k or add images of that class ({small.numel()} class(es) affected)"
        )
    order, _ = class_major_order(labels, torch.Generator().manual_seed(seed))
    fold_of = torch.arange(n) % k
    return [torch.sort(order[fold_of == i]).values for i in range(k)]
