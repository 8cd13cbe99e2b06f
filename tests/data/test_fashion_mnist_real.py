"""The loader on the real Fashion-MNIST that Debian's dataset-fashion-mnist installs (`make
fashion-mnist`, which `make test` runs first). These facts of the published data set are checked, not
our own output. Without the files the test fails and says how to get them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from auditkit.data import load_dataset

ROOT = Path(os.environ.get("AUDITKIT_FASHION_MNIST", "/usr/share/datasets/fashion-mnist"))
FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
         "t10k-labels-idx1-ubyte")


def need_the_real_files() -> None:
    """Fails the test, naming the make target that installs them, when the idx files are absent."""
    missing = [name for name in FILES if not (ROOT / name).exists() and not (ROOT / f"{name}.gz").exists()]
    if missing:
        pytest.fail(f"the real Fashion-MNIST is not in {ROOT} (no {', '.join(missing)}[.gz]): `make "
                    "fashion-mnist` installs Debian's dataset-fashion-mnist there (`make test` does it "
                    "first), or set AUDITKIT_FASHION_MNIST to a folder holding the four idx files",
                    pytrace=False)


def test_real_fashion_mnist_splits() -> None:
    need_the_real_files()
    train = load_dataset("fashion_mnist", ROOT, split="train")
    test = load_dataset("fashion_mnist", ROOT, split="test")
    assert train.images.shape == (60_000, 1, 28, 28) and train.images.dtype == torch.uint8
    assert test.images.shape == (10_000, 1, 28, 28)
    assert torch.bincount(train.labels).tolist() == [6_000] * 10
    assert torch.bincount(test.labels).tolist() == [1_000] * 10
    # The first training labels of the published files: ankle boot, T-shirt, T-shirt, dress, ...
    assert train.labels[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert train.classes[9] == "Ankle boot" and train.classes[0] == "T-shirt/top"
    assert int(train.images.max()) == 255 and int(train.images.min()) == 0
    sub = load_dataset("fashion_mnist", ROOT, split="test", max_images=1_000, seed=0)
    assert torch.bincount(sub.labels).tolist() == [100] * 10
