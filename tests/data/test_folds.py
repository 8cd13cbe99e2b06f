"""make_folds: a partition, stratified, balanced, seeded; and its argument errors."""

from __future__ import annotations

import pytest
import torch

from auditkit.data import DatasetArgumentError, make_folds


def _labels(n: int, classes: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, classes, (n,), generator=torch.Generator().manual_seed(seed))


CASES = [(10, 2, 2), (37, 3, 5), (100, 10, 3), (101, 4, 7), (8, 1, 8)]


@pytest.mark.parametrize(("n", "classes", "k"), CASES)
def test_partition_balanced_and_stratified(n: int, classes: int, k: int) -> None:
    labels = _labels(n, classes)
    folds = make_folds(labels, k, seed=3)
    assert len(folds) == k
    everything = torch.cat(folds)
    assert everything.dtype == torch.int64
    assert sorted(everything.tolist()) == list(range(n))  # disjoint and covering
    for f in folds:
        assert torch.equal(f, torch.sort(f).values)
    sizes = [len(f) for f in folds]
    assert max(sizes) - min(sizes) <= 1 and sum(sizes) == n
    per_class = torch.stack([torch.bincount(labels[f], minlength=classes) for f in folds])  # [k, classes]
    assert int((per_class.max(0).values - per_class.min(0).values).max()) <= 1


def test_seed_determinism() -> None:
    labels = _labels(60, 3)
    a, b, c = make_folds(labels, 4, 0), make_folds(labels, 4, 0), make_folds(labels, 4, 1)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(a, c, strict=True))


def test_known_answer_for_one_class() -> None:
    # One class: the shuffled order is randperm(N) with the same generator, dealt round-robin.
    perm = torch.randperm(7, generator=torch.Generator().manual_seed(5))
    expected = [torch.sort(perm[i::3]).values for i in range(3)]
    got = make_folds(torch.zeros(7, dtype=torch.int64), 3, 5)
    assert all(torch.equal(x, y) for x, y in zip(got, expected, strict=True))


@pytest.mark.parametrize(
    ("labels", "k", "seed", "match"),
    [
        (torch.zeros(5, dtype=torch.int64), 1, 0, "k must be >= 2, got 1"),
        (torch.zeros(5, dtype=torch.int64), 6, 0, r"k must be <= the number of images \(5\), got 6"),
        (torch.zeros(5, dtype=torch.int64), 2.0, 0, "k must be an int, got float"),
        (torch.zeros(5, dtype=torch.int64), 2, -1, "seed must be >= 0, got -1"),
        (torch.tensor([0, 0, 0, 1, 1, 2, 2, 2]), 3, 0, r"class 1 has 2 image\(s\), fewer than k=3"),
        (torch.zeros(5), 2, 0, "labels must be a 1-D integer tensor"),
        (torch.zeros(2, 3, dtype=torch.int64), 2, 0, "labels must be a 1-D integer tensor"),
        (torch.tensor([0, -1, 0, 1]), 2, 0, "labels must be >= 0"),
        ([0, 1, 0, 1], 2, 0, "labels must be a torch.Tensor"),
    ],
)
def test_errors(labels: object, k: object, seed: object, match: str) -> None:
    with pytest.raises(DatasetArgumentError, match=match):
        make_folds(labels, k, seed)  # type: ignore[arg-type]
