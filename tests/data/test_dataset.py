"""ImageDataset, the digits loader, fingerprints, subsampling and load_dataset's argument errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from auditkit.data import DATASET_KINDS, DatasetArgumentError, DatasetKindError, ImageDataset, load_dataset
from auditkit.data.sampling import stratified_subsample
from auditkit.errors import AuditError, DataError


def _toy(images: torch.Tensor, labels: list[int], classes: tuple[str, ...] = ("a", "b", "c")) -> ImageDataset:
    return ImageDataset.from_tensors("toy", images, torch.tensor(labels), classes, "test")


def test_digits_values_and_fingerprint() -> None:
    ds = load_dataset("digits")
    ref = load_digits()
    assert len(ds) == 1797 and ds.num_classes == 10 and ds.classes == tuple("0123456789")
    assert ds.images.shape == (1797, 1, 8, 8) and ds.images.dtype == torch.float32
    assert float(ds.images.min()) == 0.0 and float(ds.images.max()) == 1.0
    assert np.array_equal(ds.images[:, 0].numpy() * 16, ref.images)
    assert ds.labels.dtype == torch.int64 and ds.labels.tolist() == ref.target.tolist()
    assert ds.source == "sklearn bundled digits" and ds.in_channels == 1 and ds.image_size == (8, 8)
    expected = hashlib.sha256(
        (ref.images / 16).astype("<f4").tobytes()
        + ref.target.astype("<i8").tobytes()
        + b"0\n1\n2\n3\n4\n5\n6\n7\n8\n9"
    ).hexdigest()
    assert ds.fingerprint == expected


def test_fingerprint_covers_pixels_labels_and_names() -> None:
    images = torch.arange(2 * 3 * 2 * 2, dtype=torch.uint8).view(2, 3, 2, 2)
    base = _toy(images, [0, 2])
    expected = hashlib.sha256(
        bytes(range(24)) + (0).to_bytes(8, "little") + (2).to_bytes(8, "little") + b"a\nb\nc"
    ).hexdigest()
    assert base.fingerprint == expected
    changed = images.clone()
    changed[1, 2, 1, 0] += 1
    assert _toy(changed, [0, 2]).fingerprint != base.fingerprint
    assert _toy(images, [0, 1]).fingerprint != base.fingerprint
    assert _toy(images, [0, 2], ("a", "b", "d")).fingerprint != base.fingerprint
    # A non-contiguous view hashes as its contiguous copy.
    assert _toy(images.permute(0, 1, 3, 2).contiguous().permute(0, 1, 3, 2), [0, 2]).fingerprint == expected


def test_x_and_subset() -> None:
    images = torch.tensor([0, 51, 255, 102], dtype=torch.uint8).view(4, 1, 1, 1)
    ds = _toy(images, [0, 1, 2, 1])
    x = ds.x(torch.tensor([2, 1]))
    assert x.dtype == torch.float32
    assert torch.equal(x.flatten(), torch.tensor([1.0, 0.2], dtype=torch.float32))
    sub = ds.subset(torch.tensor([3, 0]))
    assert sub.images.flatten().tolist() == [102, 0] and sub.labels.tolist() == [1, 0]
    assert sub.classes == ds.classes and sub.name == "toy"
    assert sub.fingerprint == _toy(images[[3, 0]], [1, 0]).fingerprint != ds.fingerprint
    assert ds.subset(torch.tensor([True, False, True, False])).labels.tolist() == [0, 2]
    digits = load_dataset("digits")
    view = digits.x(slice(0, 2))
    view.zero_()  # x never hands out a view of the dataset
    assert float(digits.images[:2].sum()) > 0


@pytest.mark.parametrize(
    ("index", "match"),
    [
        (torch.tensor([0.0]), "1-D integer or bool tensor"),
        ([0, 1], "1-D integer or bool tensor, got list"),
        (torch.tensor([4]), r"index values must lie in \[0, 4\)"),
        (torch.tensor([-1]), r"index values must lie in \[0, 4\)"),
        (torch.tensor([True]), "a bool index must have length 4"),
    ],
)
def test_subset_errors(index: object, match: str) -> None:
    ds = _toy(torch.zeros(4, 1, 1, 1, dtype=torch.uint8), [0, 1, 2, 1])
    with pytest.raises(DatasetArgumentError, match=match):
        ds.subset(index)  # type: ignore[arg-type]


def test_from_tensors_checks() -> None:
    with pytest.raises(DatasetArgumentError, match=r"labels must lie in \[0, 3\)"):
        _toy(torch.zeros(2, 1, 1, 1, dtype=torch.uint8), [0, 3])
    with pytest.raises(DatasetArgumentError, match="images must be a uint8 or float32 tensor"):
        _toy(torch.zeros(2, 1, 1, dtype=torch.uint8), [0, 1])


def test_max_images_is_stratified_seeded_and_ordered() -> None:
    full = load_dataset("digits")
    ds = load_dataset("digits", max_images=100, seed=4)
    assert len(ds) == 100
    counts = torch.bincount(ds.labels, minlength=10)
    assert int(counts.min()) >= 9 and int(counts.max()) <= 11
    again = load_dataset("digits", max_images=100, seed=4)
    other = load_dataset("digits", max_images=100, seed=5)
    assert again.fingerprint == ds.fingerprint != other.fingerprint
    # Kept images are rows of the full set, in their original order.
    flat_full = full.images.flatten(1)
    rows = [int(torch.nonzero((flat_full == r).all(1))[0]) for r in ds.images.flatten(1)]
    assert rows == sorted(rows)
    assert load_dataset("digits", max_images=5000).fingerprint == full.fingerprint
    tiny = load_dataset("digits", max_images=10, seed=0)
    assert sorted(tiny.labels.tolist()) == list(range(10))


def test_small_class_keeps_one_image() -> None:
    labels = torch.tensor([0] * 50 + [1])
    keep = stratified_subsample(labels, 3, seed=0)
    assert sorted(labels[keep].tolist()) == [0, 0, 1] and torch.equal(keep, torch.sort(keep).values)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"kind": "mnist"}, DatasetKindError, "kind must be one of digits, cifar10, fashion_mnist, eurosat"),
        ({"kind": "digits", "path": "/data"}, DataError, "digits is bundled with scikit-learn and takes no"),
        ({"kind": "cifar10"}, DataError, "cifar10 needs a path"),
        ({"kind": "digits", "split": "train"}, DatasetArgumentError, "split for digits must be one of all"),
        (
            {"kind": "cifar10", "path": "/x", "split": "val"},
            DatasetArgumentError,
            "split for cifar10 must be one of train, test, all, got 'val'",
        ),
        (
            {"kind": "digits", "max_images": 9},
            DatasetArgumentError,
            r"max_images must be >= the number of classes \(10\)",
        ),
        ({"kind": "digits", "max_images": 0}, DatasetArgumentError, "max_images must be >= 1, got 0"),
        ({"kind": "digits", "max_images": "50"}, DatasetArgumentError, "max_images must be an int, got str"),
        ({"kind": "digits", "seed": -2}, DatasetArgumentError, "seed must be >= 0"),
    ],
)
def test_load_dataset_argument_errors(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match) as info:
        load_dataset(**kwargs)
    assert isinstance(info.value, AuditError)


def test_kinds_and_error_types() -> None:
    assert DATASET_KINDS == ("digits", "cifar10", "fashion_mnist", "eurosat", "imagefolder", "python")
    assert issubclass(DatasetKindError, ValueError) and issubclass(DatasetArgumentError, ValueError)
    with pytest.raises(DataError) as info:
        load_dataset("digits", Path("/data"))
    assert info.value.path == Path("/data")
    with pytest.raises(DataError, match="kind 'python'"):  # its images come from auditkit.audit(data=)
        load_dataset("python")
