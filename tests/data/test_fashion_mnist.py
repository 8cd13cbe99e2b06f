"""Fashion-MNIST idx files (gzipped and plain) written in tmp_path with real headers."""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from auditkit.data import load_dataset
from auditkit.errors import DataError

CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    return struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_fmnist(folder: Path, *, gz: bool, n_train: int = 5, n_test: int = 3) -> dict[str, np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for stem, a in arrays.items():
        raw = idx_bytes(a, 2051 if a.ndim == 3 else 2049)
        if gz:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / stem).write_bytes(raw)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_all_split_round_trips(tmp_path: Path, gz: bool) -> None:
    a = write_fmnist(tmp_path, gz=gz)
    ds = load_dataset("fashion_mnist", tmp_path)
    assert ds.images.shape == (8, 1, 28, 28) and ds.images.dtype == torch.uint8
    assert ds.classes == CLASSES and ds.name == "fashion_mnist"
    images = np.concatenate([a["train-images-idx3-ubyte"], a["t10k-images-idx3-ubyte"]])
    labels = np.concatenate([a["train-labels-idx1-ubyte"], a["t10k-labels-idx1-ubyte"]]).astype("<i8")
    assert np.array_equal(ds.images[:, 0].numpy(), images)
    assert ds.labels.tolist() == labels.tolist()
    expected = hashlib.sha256(images.tobytes() + labels.tobytes() + "\n".join(CLASSES).encode()).hexdigest()
    assert ds.fingerprint == expected


def test_splits_and_torchvision_layout(tmp_path: Path) -> None:
    a = write_fmnist(tmp_path / "FashionMNIST" / "raw", gz=True)
    test = load_dataset("fashion_mnist", tmp_path, split="test")
    assert np.array_equal(test.images[:, 0].numpy(), a["t10k-images-idx3-ubyte"])
    assert len(load_dataset("fashion_mnist", tmp_path, split="train")) == 5


def test_missing_folder_and_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"Fashion-MNIST folder .*absent not found: expected the idx files"):
        load_dataset("fashion_mnist", tmp_path / "absent")
    write_fmnist(tmp_path, gz=False)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\[\.gz\] not found"):
        load_dataset("fashion_mnist", tmp_path)


def test_bad_magic_truncation_and_count_mismatch(tmp_path: Path) -> None:
    a = write_fmnist(tmp_path, gz=False)
    images = tmp_path / "train-images-idx3-ubyte"
    raw = idx_bytes(a["train-images-idx3-ubyte"], 2051)
    images.write_bytes(struct.pack(">I", 2049) + raw[4:])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte: bad idx magic number 2049, expected 2051"):
        load_dataset("fashion_mnist", tmp_path, split="train")
    images.write_bytes(raw[:-10])
    with pytest.raises(DataError, match=r"header promises 3920 data bytes .* holds 3910 \(truncated"):
        load_dataset("fashion_mnist", tmp_path, split="train")
    images.write_bytes(raw[:6])
    with pytest.raises(DataError, match="truncated idx header"):
        load_dataset("fashion_mnist", tmp_path, split="train")
    images.write_bytes(gzip.compress(raw)[:-12])
    with pytest.raises(DataError, match="train-images-idx3-ubyte: corrupt or truncated gzip"):
        load_dataset("fashion_mnist", tmp_path, split="train")
    images.write_bytes(idx_bytes(a["train-images-idx3-ubyte"][:4], 2051))
    with pytest.raises(DataError, match=r"holds 4 images but .* holds 5 labels"):
        load_dataset("fashion_mnist", tmp_path, split="train")
